-- lunet.distributed: the world of one (no mpirun), the error without MPI, and, when
-- lunet was built with MPI, known answers of the collectives under mpirun -n 2 and -n 3.
local lunet = require "lunet"
local lfs = require "lfs"
local dist = require "lunet.distributed"

local here = debug.getinfo(1, "S").source:match("^@(.*)/spec/[^/]*$") or "."
local ROOT = here:sub(1, 1) == "/" and here or lfs.currentdir() .. "/" .. here

-- Run a command; returns its output (stdout and stderr) and exit code.
local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
end

-- Run spec/mpi/<script> on n ranks (one thread each, at most two minutes).
local function mpirun(n, script, ...)
  local args = table.concat({...}, " ")
  return sh(("LUNET_NUM_THREADS=1 timeout 120 mpirun --allow-run-as-root --oversubscribe -n %d %s/bin/lunet %s/spec/mpi/%s %s")
    :format(n, ROOT, ROOT, script, args))
end

local function tmpname()
  local name = os.tmpname()
  os.remove(name)
  return name
end

-- The module as loaded where lunet.mpi cannot be found (a build without MPI).
local function withoutMPI(fn)
  local saved = {package.loaded["lunet.mpi"], package.loaded["lunet.distributed"], package.cpath}
  package.loaded["lunet.mpi"], package.loaded["lunet.distributed"], package.cpath = nil, nil, ""
  local ok, err = pcall(function() fn(require "lunet.distributed") end)
  package.loaded["lunet.mpi"], package.loaded["lunet.distributed"], package.cpath = saved[1], saved[2], saved[3]
  if not ok then error(err, 0) end
end

-- Call fn with dist.rank/dist.size pretending to be rank `rank` of `size`.
local function asRank(rank, size, fn)
  local r, s = dist.rank, dist.size
  dist.rank, dist.size = function() return rank end, function() return size end
  local ok, err = pcall(fn)
  dist.rank, dist.size = r, s
  if not ok then error(err, 0) end
end

local function list(n)
  local t = {}
  for i = 1, n do t[i] = i end
  return t
end

describe("lunet.distributed in a world of one (no mpirun)", function()
  it("is rank 0 of 1, and the collectives return at once", function()
    assert.is_false(dist.launched())
    assert.are.equal(0, dist.rank())
    assert.are.equal(1, dist.size())
    assert.are.same({0, 1}, {dist.start()})
    dist.barrier()
    local t = lunet.tensor({1, 2, 3})
    assert.are.equal(t, dist.allreduce(t, "sum"))
    dist.allreduce(t, "mean")
    dist.broadcast(t, 0)
    assert.are.same({1, 2, 3}, t:totable())
    assert.are.equal("localhost", (dist.host()))
  end)

  it("gathers a copy of a value, floats exact", function()
    local v = {name = "adam", lr = 1e-3, third = 1 / 3, n = 7, inf = math.huge, ok = true,
      hist = {0.1, 0.25, {deep = "x\n\"y\""}}, [3] = "three", [2.5] = false}
    local got = dist.gather(v)
    assert.are.equal(1, #got)
    assert.are.same(v, got[1])
    assert.are_not.equal(v, got[1])
    assert.are.equal("integer", math.type(got[1].n))
    assert.are.same({"text"}, dist.gather("text"))
    local nan = dist.gather(0 / 0)[1]
    assert.is_true(nan ~= nan)
  end)

  it("broadcasts a copy of a value", function()
    local v = {seed = 3, state = "\0\1binary\255", x = 0.1}
    local got = dist.broadcastValue(v)
    assert.are.same(v, got)
    assert.are_not.equal(v, got)
    assert.has_error(function() dist.broadcastValue(print) end,
      "lunet.distributed: broadcastValue: value is a function, which cannot be sent (send numbers, strings, booleans and tables)")
    assert.has_error(function() dist.broadcastValue(1, 2) end,
      "lunet.distributed: broadcastValue: root must be a rank in 0..0, got 2")
  end)

  it("rejects values gather cannot send", function()
    assert.has_error(function() dist.gather({f = print}) end,
      "lunet.distributed: gather: value[\"f\"] is a function, which cannot be sent (send numbers, strings, booleans and tables)")
    assert.has_error(function() dist.gather({lunet.ones(2)}) end,
      "lunet.distributed: gather: value[1] is a userdata, which cannot be sent (send numbers, strings, booleans and tables)")
    assert.has_error(function() dist.gather(setmetatable({}, {})) end,
      "lunet.distributed: gather: value is a table with a metatable (an object); send its fields instead")
    local cyc = {}
    cyc.self = cyc
    assert.has_error(function() dist.gather(cyc) end, "lunet.distributed: gather: value[\"self\"] contains itself")
    assert.has_error(function() dist.gather(1, 1) end, "lunet.distributed: gather: root must be a rank in 0..0, got 1")
  end)

  it("checks the tensors and arguments of allreduce and broadcast", function()
    assert.has_error(function() dist.allreduce({1, 2}) end, "lunet.distributed: allreduce: expected a tensor, got table")
    assert.has_error(function() dist.allreduce(lunet.zeros({3}, "int")) end,
      "lunet.distributed: allreduce: tensor must be float, got int")
    assert.has_error(function() dist.allreduce(lunet.zeros(3, 4):t()) end,
      "lunet.distributed: allreduce: tensor must be contiguous (use t:contiguous() and copy back)")
    assert.has_error(function() dist.allreduce(lunet.zeros(3), "max") end,
      "lunet.distributed: allreduce: op must be \"sum\" or \"mean\", got max")
    assert.has_error(function() dist.broadcast(lunet.zeros(3), 1) end,
      "lunet.distributed: broadcast: root must be a rank in 0..0, got 1")
    assert.has_error(function() dist.broadcast(lunet.zeros(3), 0.5) end,
      "lunet.distributed: broadcast: root must be a rank in 0..0, got 0.5")
  end)

  it("shards a list round-robin: every item on exactly one rank", function()
    assert.are.same(list(7), dist.shard(list(7)))
    local want = {[3] = {{1, 4, 7}, {2, 5}, {3, 6}}, [2] = {{1, 3, 5, 7}, {2, 4, 6}}, [8] = {{1}, {2}, {3}, {4}, {5}, {6}, {7}, {}}}
    for size, shards in pairs(want) do
      for rank = 0, size - 1 do
        asRank(rank, size, function() assert.are.same(shards[rank + 1], dist.shard(list(7))) end)
      end
    end
    assert.has_error(function() dist.shard("abc") end, "lunet.distributed: shard: expected a list, got string")
  end)

  it("deals a list by cost, the longest first, to the least loaded rank", function()
    local costs = {2, 10, 2, 2, 2, 2, 2, 2}
    local function cost(i) return costs[i] end
    assert.are.same({list(8), list(8)}, {dist.shard(list(8), cost)})
    -- 10 to rank 0; the 2s to rank 1 until it has 10, then alternately from rank 0
    local want = {{2, 7}, {1, 3, 4, 5, 6, 8}}
    local deal = {}
    for rank = 0, 1 do
      asRank(rank, 2, function()
        local mine, at = dist.shard(list(8), cost)
        assert.are.same(want[rank + 1], mine)
        assert.are.same(want[rank + 1], at)
        for _, i in ipairs(at) do deal[i] = (deal[i] or 0) + 1 end
      end)
    end
    assert.are.same({1, 1, 1, 1, 1, 1, 1, 1}, deal)
    asRank(1, 3, function() assert.are.same({{"b"}, {2}}, {dist.shard({"a", "b", "c"}, function() return 1 end)}) end)
    assert.has_error(function() dist.shard(list(2), "x") end,
      "lunet.distributed: shard: expected a cost function, got string")
    assert.has_error(function() dist.shard(list(2), function(i) return i == 2 and -1 or 0 end) end,
      "lunet.distributed: shard: the cost of item 2 is -1, not a number >= 0")
    assert.has_error(function() dist.shard(list(2), function() return "1" end) end,
      "lunet.distributed: shard: the cost of item 1 is 1, not a number >= 0")
  end)

  it("gatherShards puts each rank's results back in the list's order", function()
    assert.are.same({"a", "b"}, dist.gatherShards({"a", "b"}))
    assert.are.same({"a", "b"}, dist.gatherShards({"a", "b"}, 0, {1, 2}))
    local gather = dist.gather
    local function sent(...)
      local lists = {}
      for r, l in ipairs({...}) do lists[r] = {results = l[1], at = l[2]} end
      return function() return lists end
    end
    local ok, err = pcall(function()
      dist.gather = sent({{"1", "4", "7"}}, {{"2", "5"}}, {{"3", "6"}})
      assert.are.same({"1", "2", "3", "4", "5", "6", "7"}, dist.gatherShards({}))
      dist.gather = sent({{"1", "4"}}, {{"2", "5"}}, {{"3", "6"}})
      assert.are.same({"1", "2", "3", "4", "5", "6"}, dist.gatherShards({}))
      dist.gather = sent({{"1"}}, {{"2", "5"}}, {{"3"}})
      assert.has_error(function() dist.gatherShards({}) end,
        "lunet.distributed: gatherShards: rank 0 sent 1 results for the 2 items of its shard")
      dist.gather = sent({{"b", "d"}, {2, 4}}, {{"a", "c"}, {1, 3}})
      assert.are.same({"a", "b", "c", "d"}, dist.gatherShards({"b", "d"}, 0, {2, 4}))
      dist.gather = sent({{"b", "d"}, {2, 4}}, {{"a", "c"}, {1, 4}})
      assert.has_error(function() dist.gatherShards({"b", "d"}, 0, {2, 4}) end,
        "lunet.distributed: gatherShards: rank 1 sent position 4, outside 1..4 or sent twice")
      dist.gather = function() return nil end
      assert.is_nil(dist.gatherShards({}))
    end)
    dist.gather = gather
    assert(ok, err)
    assert.has_error(function() dist.gatherShards({"a"}, 0, {1, 2}) end,
      "lunet.distributed: gatherShards: expected the 1 positions of this rank's shard, got 2 positions")
    assert.has_error(function() dist.gatherShards({"a"}, 0, "1") end,
      "lunet.distributed: gatherShards: expected the 1 positions of this rank's shard, got string")
  end)

  it("runs rootFirst's function and keeps files in rank folders until one is promoted", function()
    assert.are.same({1, nil, 3}, {dist.rootFirst(function(a, b, c) return a, b, c end, 1, nil, 3)})
    local out = tmpname()
    lunet.data.mkdirs(out)
    assert.are.equal(out, dist.rankDir(out))
    dist.promoteRankDir(out, 0) -- a world of one: nothing to do
    local function write(path, text)
      local f = assert(io.open(path, "w"))
      f:write(text)
      f:close()
    end
    for r = 0, 2 do
      asRank(r, 3, function()
        local dir = dist.rankDir(out)
        assert.are.equal(("%s/rank%d"):format(out, r), dir)
        write(dir .. "/best.txt", "rank " .. r)
        if r == 1 then write(dir .. "/only1.txt", "x") end
      end)
    end
    write(out .. "/best.txt", "old")
    asRank(0, 3, function() dist.promoteRankDir(out, 1) end)
    local f = assert(io.open(out .. "/best.txt"))
    assert.are.equal("rank 1", f:read("a"))
    f:close()
    assert.are.equal("file", lfs.attributes(out .. "/only1.txt", "mode"))
    for r = 0, 2 do assert.is_nil(lfs.attributes(("%s/rank%d"):format(out, r))) end
    asRank(0, 3, function()
      assert.has_error(function() dist.promoteRankDir(out, 2) end, ("lunet.distributed: promoteRankDir: %s/rank2 "
        .. "is not a folder (is --out on a file system every rank shares?)"):format(out))
    end)
    os.execute("rm -rf '" .. out .. "'")
  end)

  it("flattens a model's gradients into one buffer and back", function()
    local nn = lunet.nn
    local model = nn.Sequential():add(nn.Linear(3, 4)):add(nn.ReLU()):add(nn.Linear(4, 2))
    local _, grads = model:parameters()
    for i, g in ipairs(grads) do g:copy(lunet.randn(g:size()):add(i)) end
    local flat = dist.flatGradients(model)
    assert.are.equal(model:numParameters(), flat.buffer:numel())
    local before = {}
    for i, g in ipairs(grads) do before[i] = g:clone() end
    flat:pack()
    local at = 1
    for i, g in ipairs(grads) do
      assert.are.same(before[i]:view(-1):totable(), flat.buffer:narrow(1, at, g:numel()):totable())
      at = at + g:numel()
    end
    for _, g in ipairs(grads) do g:zero() end
    flat:unpack()
    for i, g in ipairs(grads) do assert.are.same(before[i]:totable(), g:totable()) end
    flat:allreduce(0.5) -- one rank: the gradients are scaled, the allreduce changes nothing
    for i, g in ipairs(grads) do assert.are.same(before[i]:mul(0.5):totable(), g:totable()) end
    assert.has_error(function() dist.flatGradients({}) end, "lunet.distributed: flatGradients: expected an nn module")
  end)

  it("flatTensors packs any list of float tensors into one buffer and back", function()
    local tensors = {lunet.tensor({{1, 2}, {3, 4}}), lunet.tensor({5, 6, 7})}
    local flat = dist.flatTensors(tensors)
    assert.are.same({1, 2, 3, 4, 5, 6, 7}, flat:pack():totable())
    flat:allreduce(2)
    assert.are.same({{2, 4}, {6, 8}}, tensors[1]:totable())
    assert.are.same({10, 12, 14}, tensors[2]:totable())
    assert.are.equal(0, dist.flatTensors({}).buffer:numel())
    for _, bad in ipairs({"x", {lunet.zeros(2, "int")}, {1}}) do
      assert.has_error(function() dist.flatTensors(bad) end, "lunet.distributed: flatTensors: expected a list of float tensors")
    end
  end)

  it("dataParallel on one rank trains on the whole batch", function()
    local nn, optim, data = lunet.nn, lunet.optim, lunet.data
    lunet.manualSeed(3)
    local ds = {inputs = lunet.randn(20, 3), labels = lunet.tensor({1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2}):int()}
    local model = nn.Sequential():add(nn.Linear(3, 2))
    local loader, opt, info = dist.dataParallel(model, optim.SGD(model, {lr = 0.1}), data.Loader(ds, {batchSize = 10}))
    assert.are.same({batch = 10, shards = {10}}, info)
    local x, y = loader:next()
    assert.are.same({10, 3}, x:size())
    assert.are.equal(10, y:size(1))
    local w = model:parameters()[1]:clone()
    model:zeroGrad()
    local crit = nn.CrossEntropyLoss()
    local out = model:forward(x)
    crit:forward(out, y)
    model:backward(x, crit:backward(out, y))
    opt:step()
    assert.is_true((model:parameters()[1] - w):abs():max() > 0)
    assert.has_error(function() dist.dataParallel(model, opt, {batchSize = 0}) end,
      "lunet.distributed: dataParallel: the global batch (0) must have at least one example per rank (1 ranks)")
  end)

  it("finalize is harmless when MPI never started", function()
    dist.finalize()
    dist.finalize()
    assert.are.equal(0, dist.rank())
  end)
end)

describe("lunet.distributed without MPI", function()
  it("says it is unavailable and why; init raises that; the world of one still works", function()
    withoutMPI(function(d)
      local ok, why = d.available()
      assert.is_false(ok)
      assert.are.equal("lunet was built without MPI: install libopenmpi-dev and rebuild", why)
      assert.has_error(function() d.init() end,
        "lunet.distributed: unavailable (lunet was built without MPI: install libopenmpi-dev and rebuild)")
      assert.are.same({0, 1}, {d.rank(), d.size()})
      assert.are.same({7}, d.gather(7))
    end)
  end)
end)

if not dist.available() then
  describe("lunet.distributed in this build (without MPI)", function()
    it("raises the clear error from init", function()
      assert.has_error(function() dist.init() end,
        "lunet.distributed: unavailable (lunet was built without MPI: install libopenmpi-dev and rebuild)")
    end)
  end)
  return
end

describe("lunet.distributed under mpirun", function()
  it("finds mpirun", function()
    local _, code = sh("command -v mpirun")
    assert.are.equal(0, code, "lunet was built with MPI but mpirun is not on PATH (apt-get install openmpi-bin)")
  end)

  for _, n in ipairs{2, 3} do
    it(("gives known answers on %d ranks"):format(n), function()
      local file = tmpname()
      local out, code = mpirun(n, "collectives.lua", file)
      assert(code == 0, out)
      local got = lunet.load(file)
      os.remove(file)
      assert.are.equal(n, #got.ranks)
      local tri = n * (n + 1) // 2
      for r, v in ipairs(got.ranks) do
        assert.are.equal(r - 1, v.rank)
        assert.are.equal(n, v.size)
        assert.are.same({tri, 2 * tri, 3 * tri, 4 * tri, 5 * tri}, v.sum)
        for _, m in ipairs(v.mean) do assert.are.equal((n - 1) / 2, m) end
        assert.are.same({10 * (n - 1), 10 * (n - 1) + 1, 10 * (n - 1) + 2, 10 * (n - 1) + 3}, v.bcast)
      end
      local items = {"a", "b", "c", "d", "e", "f", "g"}
      assert.are.equal(#items, #got.swept)
      for i, s in ipairs(got.swept) do
        assert.are.same({item = items[i], rank = (i - 1) % n}, s)
      end
    end)
  end

  -- The reference: the same steps in one process on the whole batch of 50.
  local function plainRun(variant)
    local file = tmpname()
    local out, code = sh(("LUNET_NUM_THREADS=1 %s/bin/lunet %s/spec/mpi/data_parallel.lua plain %s %s"):format(ROOT,
      ROOT, file, variant or ""))
    assert(code == 0, out)
    local got = lunet.load(file)
    os.remove(file)
    return got.ranks[1].values, got.ranks[1].stateValues
  end

  it("keeps a batch norm's running statistics identical on every rank, the mean as one process's", function()
    local file = tmpname()
    local out, code = mpirun(3, "data_parallel.lua", "parallel", file, "bn", 1)
    assert(code == 0, out)
    local ranks = lunet.load(file).ranks
    os.remove(file)
    assert.are.equal(2, #ranks[1].stateBytes) -- running mean and variance
    for r = 2, 3 do
      for i, b in ipairs(ranks[1].stateBytes) do
        assert(ranks[r].stateBytes[i] == b, ("rank %d's running statistic %d differs from rank 0's"):format(r - 1, i))
      end
      for i, b in ipairs(ranks[1].bytes) do
        assert(ranks[r].bytes[i] == b, ("rank %d's parameter %d differs from rank 0's"):format(r - 1, i))
      end
    end
    -- after one step the running mean is (1 - m) 0 + m (the global batch's mean): the
    -- blocks' means weighted by their shares (17, 17 and 16 of 50) give it (later steps
    -- differ: each block normalizes with its own statistics)
    local _, plain = plainRun("bn 1")
    local worst = 0
    for j, v in ipairs(plain[1]) do worst = math.max(worst, math.abs(v - ranks[1].stateValues[1][j])) end
    assert(worst < 1e-6, ("running means differ from one process's by up to %g"):format(worst))
  end)

  for _, n in ipairs{2, 3} do
    it(("trains data-parallel on %d ranks as one process on the same batches of 50"):format(n), function()
      local file = tmpname()
      local out, code = mpirun(n, "data_parallel.lua", "parallel", file)
      assert(code == 0, out)
      local ranks = lunet.load(file).ranks
      os.remove(file)
      assert.are.equal(n, #ranks)
      for r = 2, n do
        for i, b in ipairs(ranks[1].bytes) do
          assert(ranks[r].bytes[i] == b, ("rank %d's parameter %d differs from rank 0's"):format(r - 1, i))
        end
      end
      local ref, worst = plainRun(), 0
      for i, p in ipairs(ref) do
        assert.are.equal(#p, #ranks[1].values[i])
        for j, v in ipairs(p) do worst = math.max(worst, math.abs(v - ranks[1].values[i][j])) end
      end
      assert(worst < 1e-5, ("parameters differ from one process's by up to %g"):format(worst))
    end)
  end

  describe("experiments/cifar10_lenet.lua on a tiny CIFAR10", function()
    local base, fake
    setup(function()
      base = tmpname()
      fake = base .. "/CIFAR10"
      lunet.manualSeed(5)
      for split, n in pairs{Train = 3, Test = 2} do
        for c = 0, 9 do
          local dir = lunet.data.mkdirs(("%s/%s/%d"):format(fake, split, c))
          for i = 1, n do lunet.image.save(("%s/%d.png"):format(dir, i), lunet.rand(1, 28, 28)) end
        end
      end
    end)
    teardown(function() os.execute("rm -rf '" .. base .. "'") end)

    local function sweep(launcher, out, ...)
      local log, code = sh(("cd %s && LUNET_NUM_THREADS=1 timeout 300 %s bin/lunet experiments/cifar10_lenet.lua "
        .. "--quick --iterations 3 --batch 10 --data %s --out %s %s"):format(ROOT, launcher, fake, out,
        table.concat({...}, " ")))
      assert(code == 0, log)
      local f = assert(io.open(out .. "/summary.md"))
      local summary = f:read("a")
      f:close()
      return summary
    end

    -- The results table (results.csv) without its timing column, and each run's metrics without theirs.
    local function results(out)
      local rows, runs = {}, {}
      for line in io.lines(out .. "/results.csv") do rows[#rows + 1] = line:match("^(.*),[^,]*$") end
      for e in lfs.dir(out) do
        local f = io.open(out .. "/" .. e .. "/metrics.csv")
        if f then
          local csv = {}
          for line in f:lines() do csv[#csv + 1] = line:match("^(.*),[^,]*$") end
          f:close()
          runs[e] = csv
        end
      end
      return rows, runs
    end

    it("writes the same summary from 2 ranks as from one process", function()
      local one, two = base .. "/one", base .. "/two"
      sweep("", one)
      local rows1, runs1 = results(one)
      local summary2 = sweep("mpirun --allow-run-as-root --oversubscribe -n 2", two)
      assert.truthy(summary2:find("on each of 2 MPI ranks, runs dealt by length", 1, true), summary2)
      local rows2, runs2 = results(two)
      assert.are.equal(10, #rows1) -- the header and nine settings (--iterations merges Adam 1e-3's three rows)
      assert.are.same(rows1, rows2)
      assert.are.same(runs1, runs2)
      local n = 0
      for _ in pairs(runs2) do n = n + 1 end
      assert.are.equal(9, n)
      for _, file in ipairs{"best.ckpt", "filters_conv1.png", "activation_stats.md", "curves_test_acc.png", "summary.html"} do
        assert.are.equal("file", lfs.attributes(two .. "/" .. file, "mode"), file)
      end
      assert.is_nil(lfs.attributes(two .. "/rank0"))
      assert.is_nil(lfs.attributes(two .. "/rank1"))
      local a, b = io.open(one .. "/activation_stats.md"), io.open(two .. "/activation_stats.md")
      assert.are.equal(a:read("a"), b:read("a"))
      a:close()
      b:close()
    end)

    it("trains data-parallel on 2 ranks with --data-parallel", function()
      local out = base .. "/dp"
      local summary = sweep("mpirun --allow-run-as-root --oversubscribe -n 2", out, "--data-parallel")
      assert.truthy(summary:find("on each of 2 MPI ranks, data-parallel", 1, true), summary)
      local rows, runs = results(out)
      assert.are.equal(10, #rows)
      for name, csv in pairs(runs) do assert.are.equal(2, #csv, name) end
      assert.are.equal("file", lfs.attributes(out .. "/best.ckpt", "mode"))
    end)
  end)

  it("ends the job when a rank fails while the others wait in a collective", function()
    local out, code = mpirun(2, "failing_rank.lua")
    assert.are_not.equal(124, code, "the job hung (killed by timeout)")
    assert.are_not.equal(0, code)
    assert.truthy(out:find("rank 1 fails on purpose", 1, true), out)
    assert.falsy(out:find("rank 0 was not stopped", 1, true), out)
  end)

  it("refuses rank() in a process mpirun started that skipped init()", function()
    local out, code = sh(("OMPI_COMM_WORLD_SIZE=2 %s/bin/lunet -e 'print(lunet.distributed.rank())'"):format(ROOT))
    assert.are_not.equal(0, code)
    assert.truthy(out:find("lunet.distributed: rank: this process was started by mpirun; call init() first", 1, true), out)
  end)

  it("finalizes at exit, also through os.exit", function()
    local out, code = mpirun(2, "exit_codes.lua")
    assert(code == 0, out)
    assert.falsy(out:find("finalize", 1, true), out)
  end)
end)
