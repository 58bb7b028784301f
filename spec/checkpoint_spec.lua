-- lunet.checkpoint: what a checkpoint holds, and that saving one survives a crash.
local lunet = require "lunet"
local nn = require "lunet.nn"
local optim = require "lunet.optim"
local train = require "lunet.train"
local checkpoint = require "lunet.checkpoint"
local IO = require "spec.io_helper"

local tmp
before_each(function() tmp = IO.tmpdir() end)
after_each(function() IO.rmtree(tmp) end)

local function mlp()
  return nn.Sequential():add(nn.Linear(4, 5)):add(nn.ReLU()):add(nn.Linear(5, 3))
end

-- A few Adam steps on random data, so that every buffer holds something.
local function trained(model, opt, steps)
  local crit = nn.CrossEntropyLoss()
  for _ = 1, steps do
    local x, y = lunet.randn(6, 4), lunet.tensor{1, 2, 3, 1, 2, 3}:int()
    train.step(model, crit, opt, x, y)
  end
end

describe("checkpoint.save / checkpoint.load", function()
  it("restores parameters, optimizer state and the generator, and returns iteration and config", function()
    lunet.manualSeed(3)
    local model = mlp()
    local opt = optim.Adam(model, {lr = 1e-2})
    trained(model, opt, 3)
    local p = tmp .. "/run.ckpt"
    local config = {lr = 1e-2, batchSize = 6, label = "tiny", layers = {4, 5, 3}}
    checkpoint.save(p, {model = model, optimizer = opt, iteration = 3, config = config})
    local params = {}
    for i, t in ipairs(model:parameters()) do params[i] = t:clone() end
    local m1, v1 = opt.buffers.m[1]:clone(), opt.buffers.v[1]:clone()
    local nextDraw = lunet.randn(5)

    -- a fresh model and optimizer, and a generator moved on
    lunet.manualSeed(99)
    local model2 = mlp()
    local opt2 = optim.Adam(model2, {lr = 1e-3})
    local info = checkpoint.load(p, model2, opt2)
    assert.equal(3, info.iteration)
    assert.same(config, info.config)
    for i, t in ipairs(model2:parameters()) do assert.same(params[i]:totable(), t:totable()) end
    assert.same(m1:totable(), opt2.buffers.m[1]:totable())
    assert.same(v1:totable(), opt2.buffers.v[1]:totable())
    assert.equal(3, opt2.t)
    assert.equal(1e-2, opt2.lr)
    assert.same(nextDraw:totable(), lunet.randn(5):totable())
  end)

  it("is a versioned lunet.save container whose checksum catches any flipped byte", function()
    local model = mlp()
    local p = tmp .. "/run.ckpt"
    checkpoint.save(p, {model = model, iteration = 1})
    local data = IO.read(p)
    assert.equal("LUNET\0" .. string.pack("<I4", 2), data:sub(1, 10))
    assert.equal("lunet.checkpoint/1", lunet.load(p).format)
    for _, at in ipairs{11, #data // 3, #data // 2, #data - 5} do
      IO.write(p, data:sub(1, at - 1) .. string.char(data:byte(at) ~ 0x10) .. data:sub(at + 1))
      local msg = IO.errmsg(checkpoint.load, p, mlp())
      assert.truthy(msg:find("lunet.load: '" .. p .. "': checksum mismatch, the file is corrupt", 1, true), msg)
    end
  end)
end)

describe("a save killed at any moment", function()
  -- The child saves a ~8 MB table over and over, each version consistent with itself
  -- (every element of w equals i), until it is killed with SIGKILL at a random moment.
  local child = [[
local lunet = require "lunet"
local path, i = arg[1], tonumber(arg[2])
local w, parts = lunet.zeros(2000000), {lunet.zeros(1000), s = string.rep("x", 100000)}
while true do
  w:fill(i)
  parts[1]:fill(-i)
  lunet.save(path, {i = i, w = w, parts = parts})
  i = i + 1
end
]]

  it("leaves the previous checkpoint intact, every time", function()
    local script = IO.write(tmp .. "/saver.lua", child)
    local p = tmp .. "/big.lunet"
    lunet.save(p, {i = 0, w = lunet.zeros(2000000), parts = {lunet.zeros(1000), s = string.rep("x", 100000)}})
    local seed = os.time()
    math.randomseed(seed)
    local last, killedMidSave = 0, 0
    for run = 1, 6 do
      local delay = (0.2 + math.random()) * (last == 0 and run or 1) -- longer while no save has completed (a slow machine)
      local errFile = tmp .. "/child.err"
      local ok, how, code = os.execute(("{ timeout -s KILL %.3f bin/lunet %s %s %d; } 2>%s"):format(
        delay, script, p, last + 1, errFile))
      local where = ("run %d, killed after %.3f s (math.randomseed(%d))"):format(run, delay, seed)
      assert.is_true(not ok and how == "exit" and code == 137, ("%s: the child was not killed (%s %s): %s")
        :format(where, tostring(how), tostring(code), IO.read(errFile)))
      local temps = IO.glob(tmp, "^big%.lunet%..*%.tmp$")
      if #temps > 0 then killedMidSave = killedMidSave + 1 end
      local v = lunet.load(p)
      assert.is_true(v.i >= last, where)
      assert.equal(v.i, v.w:min(), where)
      assert.equal(v.i, v.w:max(), where)
      assert.same({2000000}, v.w:size())
      assert.equal(-v.i, v.parts[1]:max(), where)
      assert.equal(-v.i, v.parts[1]:min(), where)
      assert.equal(100000, #v.parts.s)
      last = v.i
      for _, t in ipairs(temps) do os.remove(tmp .. "/" .. t) end
    end
    assert.is_true(last > 0, "no save completed in any run")
    assert.is_true(killedMidSave > 0, "no kill landed during a save")
  end)
end)
