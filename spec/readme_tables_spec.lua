-- experiments/readme_tables.lua: the README's results tables come from a run's results.csv files.
local lfs = require "lfs"

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. d .. "/cifar10_lenet " .. d .. "/cifar10_deconvnet " .. d .. "/mnist_rnn"))
  return d
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- Runs the script; returns whether it exited 0, and its output.
local function run(...)
  local words = {"bin/lunet", "experiments/readme_tables.lua", ...}
  local p = assert(io.popen(table.concat(words, " ") .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  return ok, out
end

local PART1 = [[
optimizer,lr,momentum,iterations,test_acc,acc_lo,acc_hi,seeds,reported,ms_per_iter
gradient descent,0.001,0,2000,0.260,0.260,0.260,1,0.212,30.1
Adam,0.001,0,2000,0.525,0.509,0.538,3,0.491,31.0
SGD with momentum 0.9,0.001,0.9,2000,0.400,0.390,0.410,3,,30.5
]]
local PART3 = [[
group,model,cell,hidden,optimizer,lr,iterations,parameters,test_acc,test_digits,seconds,ms_per_iter
hidden,"RNN, 64 units",RNN,64,"Adam, lr 1e-3",0.001,30000,6602,0.9410,10000,30,1.00
hidden,"LSTM, 64 units",LSTM,64,"Adam, lr 1e-3",0.001,30000,24458,0.9860,10000,60,2.00
optimizer,"LSTM, 64 units",LSTM,64,"Adam, lr 1e-2",0.01,10000,24458,0.9700,10000,20,2.00
optimizer,"LSTM, 64 units",LSTM,64,"Adam, lr 1e-3",0.001,10000,24458,0.9750,1000,20,2.00
cnn,LeNet-5 CNN,CNN,0,"Adam, lr 1e-3",0.001,30000,3274634,0.9900,10000,300,10.00
]]
local README = "# x\n\nbefore\n<!-- results:part1 -->\nold\n<!-- /results:part1 -->\nmiddle\n"
  .. "<!-- results:part3 -->\nold\n<!-- /results:part3 -->\nafter\n"
  .. "<!-- results:time -->\nold\n<!-- /results:time -->\n<!-- results:speed -->\nold\n<!-- /results:speed -->\n"
local BENCH = "# lunet benchmark — 2026-12-01 20:00\n\n- CPU: x\n\n## Targets\n\n| target | measured | met |\n"
  .. "|---|---|---|\n| step ≤ 1.25× floor | 1.31× | **no** |\n\nSuite wall time: 9 s.\n"

describe("experiments/readme_tables.lua", function()
  it("replaces the marked blocks with tables generated from results.csv, and --check compares", function()
    local d = tmpdir()
    write(d .. "/cifar10_lenet/results.csv", PART1)
    write(d .. "/mnist_rnn/results.csv", PART3)
    write(d .. "/README.md", README)
    write(d .. "/bench.md", BENCH)
    write(d .. "/cifar10_lenet/summary.md", "Seed 1, 1 thread(s); wall time of the whole sweep 1200 s.\n")
    write(d .. "/cifar10_deconvnet/summary.md", "# Part 2\n\n2 threads, wall time 90 s.\n")
    write(d .. "/mnist_rnn/summary.md", "runs dealt by length; wall time 600 s, all told 700 s.\n")
    local ok, out = run("--check", "--results", d, "--bench", d .. "/bench.md", "--readme", d .. "/README.md")
    assert.is_falsy(ok)
    assert.truthy(out:find("differ", 1, true))
    ok, out = run("--results", d, "--bench", d .. "/bench.md", "--readme", d .. "/README.md")
    assert.is_truthy(ok, out)
    local text = read(d .. "/README.md")
    assert.truthy(text:find("before\n<!-- results:part1 -->\n", 1, true))
    assert.truthy(text:find("| Adam                  |          1e-3 |       2000 | 0.525 (0.509–0.538, 3 seeds) |  0.491 |",
      1, true), text)
    assert.truthy(text:find("| SGD with momentum 0.9 |          1e-3 |       2000 | 0.400 (0.390–0.410, 3 seeds) |      - |",
      1, true), text)
    assert.truthy(text:find("|     64 | 0.941 | 0.986 |   - |", 1, true), text)
    assert.truthy(text:find("| Adam, lr 1e-3 |   - | 0.975 † |   - |", 1, true), text)
    assert.truthy(text:find("The LeNet-5 CNN on the same digits: 0.990, with 3274634 parameters.", 1, true))
    assert.truthy(text:find("<!-- /results:part3 -->\nafter\n", 1, true))
    assert.truthy(text:find("| Part 1 (the optimizer sweep)         |    1200 |    20.0 |", 1, true), text)
    assert.truthy(text:find("| Part 2 (deconvnet methods)           |      90 |     1.5 |", 1, true), text)
    assert.truthy(text:find("| Part 3 (recurrent cells and the CNN) |     600 |    10.0 |", 1, true), text)
    assert.truthy(text:find("| all three                            |    1890 |    31.5 |", 1, true), text)
    assert.truthy(text:find("(run on 2026-12-01 20:00) measured them:\n\n| target | measured | met |\n|---|---|---|\n"
      .. "| step ≤ 1.25× floor | 1.31× | **no** |\n", 1, true), text)
    assert.is_nil(text:find("old", 1, true))
    ok = run("--check", "--results", d, "--bench", d .. "/bench.md", "--readme", d .. "/README.md")
    assert.is_truthy(ok)
    write(d .. "/mnist_rnn/summary.md", "no time here\n")
    ok, out = run("--check", "--results", d, "--bench", d .. "/bench.md", "--readme", d .. "/README.md")
    assert.is_falsy(ok)
    assert.truthy(out:find("mnist_rnn/summary.md records no wall time", 1, true), out)
    write(d .. "/mnist_rnn/summary.md", "wall time 600 s\n")
    write(d .. "/bench.md", "# no targets\n")
    ok, out = run("--check", "--results", d, "--bench", d .. "/bench.md", "--readme", d .. "/README.md")
    assert.is_falsy(ok)
    assert.truthy(out:find("bench.md has no dated title or no targets table", 1, true), out)
    os.execute("rm -r " .. d)
  end)

  it("fails naming the missing block", function()
    local d = tmpdir()
    write(d .. "/README.md", "# no markers\n")
    local ok, out = run("--check", "--results", d, "--readme", d .. "/README.md")
    assert.is_falsy(ok)
    assert.truthy(out:find("no <!-- results:", 1, true))
    os.execute("rm -r " .. d)
  end)

  it("the README's tables equal those generated from the committed docs/results", function()
    if not lfs.attributes("docs/results/cifar10_lenet/results.csv") then
      pending("docs/results holds no committed run yet")
      return
    end
    local ok, out = run("--check")
    assert.is_truthy(ok, out)
  end)
end)
