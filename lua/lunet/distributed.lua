--- lunet.distributed: sweeps and data-parallel training over MPI (Open MPI).
--
--   local dist = require "lunet.distributed"       -- or lunet.distributed
--   local rank, size = dist.start()                -- init() under mpirun, else a world of one
--   for _, cfg in ipairs(dist.shard(SWEEP)) do ... end   -- this rank's configurations
--   local all = dist.gatherShards(results)         -- rank 0: every result, in SWEEP's order
--
--   mpirun -n 4 lunet experiments/x.lua ...        -- (as root: mpirun --allow-run-as-root)
--
-- Ranks are 0-based, as in MPI: rank() is in 0..size()-1 and rank 0 is the root that
-- collects results. A process that mpirun did not start is a world of one: rank() is 0,
-- size() is 1, the collectives return at once, so a script runs the same way with and
-- without mpirun. A process that mpirun did start must call init() (or start()) before
-- rank() and size(), lest every rank believe it is rank 0.
--
-- The binding, lunet.mpi, is built only when CMake finds MPI; available() says whether it
-- loaded and, if not, why. init() divides the host's cores among the ranks on it (one
-- thread pool per rank) unless LUNET_NUM_THREADS is set, and registers MPI's finalization
-- for the process's exit: a clean exit finalizes, a failing one (an uncaught error)
-- aborts the whole job instead of leaving the other ranks waiting in a collective.
-- finalize() may also be called by hand; calling it twice is harmless.
--
-- The functions:
--   available() launched() init() start() finalize() rank() size() host()
--   collectives: barrier() allreduce(t, "sum"|"mean") broadcast(t, root)
--                gather(value, root) broadcastValue(value, root) rootFirst(fn, ...)
--   sweeps:      shard(list, cost) gatherShards(results, root, at) rankDir(out) promoteRankDir(out, rank)
--   data-parallel training: flatGradients(model) flatTensors(list) broadcastParameters(model, root)
--                dataParallel(model, optimizer, loader)
-- Collectives must be called by every rank in the same order, with tensors of the same
-- number of elements.
local lunet = require "lunet"

local distributed = {}

local PREFIX = "lunet.distributed: "
local BUILT_WITHOUT = "lunet was built without MPI: install libopenmpi-dev and rebuild"

local mpi, reason
do
  local ok, m = pcall(require, "lunet.mpi")
  if ok then
    mpi = m
  elseif tostring(m):find("module 'lunet.mpi' not found", 1, true) then
    reason = BUILT_WITHOUT
  else
    reason = "lunet.mpi failed to load: " .. tostring(m):match("[^\n]*")
  end
end

--- true when MPI can be used; else false and the reason.
function distributed.available()
  if mpi then return true end
  return false, reason
end

--- Was this process started by an MPI launcher (mpirun, mpiexec, srun)?
function distributed.launched()
  return os.getenv("OMPI_COMM_WORLD_SIZE") ~= nil or os.getenv("PMI_SIZE") ~= nil
    or os.getenv("PMIX_RANK") ~= nil
end

--- Start MPI. Returns rank, size. Raises an error naming the reason when MPI is unavailable.
function distributed.init()
  if not mpi then error(PREFIX .. "unavailable (" .. reason .. ")", 2) end
  local wasRunning = mpi.state() == "running"
  local rank, size = mpi.init()
  if not wasRunning and not os.getenv("LUNET_NUM_THREADS") then
    local _, onHost = mpi.localRank()
    lunet.setNumThreads(math.max(1, lunet.getNumThreads() // onHost))
  end
  return rank, size
end

--- init() when an MPI launcher started this process; otherwise stay a world of one.
-- Returns rank, size.
function distributed.start()
  if distributed.launched() then return distributed.init() end
  return 0, 1
end

--- Finalize MPI now (it otherwise happens at exit). Harmless when MPI never started
-- or was finalized already.
function distributed.finalize()
  if mpi then mpi.finalize() end
end

-- Is MPI running? false means a world of one; a launched process that skipped init(),
-- or one that already finalized, gets an error naming fname.
local function running(fname)
  local state = mpi and mpi.state() or "uninitialized"
  if state == "running" then return true end
  if state == "finalized" then error(PREFIX .. fname .. ": MPI was already finalized", 3) end
  if distributed.launched() then
    error(PREFIX .. fname .. ": this process was started by mpirun; call init() first", 3)
  end
  return false
end

--- This process's rank, 0-based (0 in a world of one).
function distributed.rank()
  return running("rank") and mpi.rank() or 0
end

--- The number of ranks (1 in a world of one).
function distributed.size()
  return running("size") and mpi.size() or 1
end

--- Host name and local rank/size (ranks on this host), for logs.
function distributed.host()
  if running("host") then
    local localRank, onHost = mpi.localRank()
    return mpi.host(), localRank, onHost
  end
  return "localhost", 0, 1
end

--- Wait until every rank gets here.
function distributed.barrier()
  if running("barrier") then mpi.barrier() end
end

local function checkBuffer(fname, t)
  if not lunet.isTensor(t) then
    error(("%s%s: expected a tensor, got %s"):format(PREFIX, fname, type(t)), 3)
  end
  if t:dtype() ~= "float" then
    error(("%s%s: tensor must be float, got %s"):format(PREFIX, fname, t:dtype()), 3)
  end
  if not t:isContiguous() then
    error(("%s%s: tensor must be contiguous (use t:contiguous() and copy back)"):format(PREFIX, fname), 3)
  end
end

local function checkRoot(fname, root, size)
  if math.type(root) ~= "integer" or root < 0 or root >= size then
    error(("%s%s: root must be a rank in 0..%d, got %s"):format(PREFIX, fname, size - 1, tostring(root)), 3)
  end
end

--- Replace t, on every rank, by the sum (op "sum", the default) or the mean (op "mean")
-- of t over the ranks; in place. t: a contiguous float tensor. Returns t.
function distributed.allreduce(t, op)
  checkBuffer("allreduce", t)
  op = op or "sum"
  if op ~= "sum" and op ~= "mean" then
    error(PREFIX .. "allreduce: op must be \"sum\" or \"mean\", got " .. tostring(op), 2)
  end
  if running("allreduce") then mpi.allreduce(t, op) end
  return t
end

--- Copy rank root's t (default 0) into t on every rank; t is a contiguous float tensor.
function distributed.broadcast(t, root)
  checkBuffer("broadcast", t)
  root = root or 0
  local on = running("broadcast")
  checkRoot("broadcast", root, on and mpi.size() or 1)
  if on then mpi.broadcast(t, root) end
  return t
end

-- ------------------------------------------------------------- sending Lua values

-- A Lua value as the text of a Lua expression: nil, booleans, numbers (%q keeps floats
-- exact, as hexadecimal), strings and tables of these (no cycles, no metatables).
-- Errors name fname and where in the value the problem is.
local function encode(v, fname, where, out, visiting)
  local ty = type(v)
  if ty == "table" then
    if getmetatable(v) ~= nil and not lunet.isSize(v) then -- a size goes as its plain list
      error(("%s%s: %s is a table with a metatable (an object); send its fields instead")
        :format(PREFIX, fname, where), 0)
    end
    if visiting[v] then error(("%s%s: %s contains itself"):format(PREFIX, fname, where), 0) end
    visiting[v] = true
    out[#out + 1] = "{"
    for k, x in pairs(v) do
      local kt = type(k)
      if kt ~= "string" and kt ~= "number" and kt ~= "boolean" then
        error(("%s%s: %s has a %s key"):format(PREFIX, fname, where, kt), 0)
      end
      out[#out + 1] = ("[%q]="):format(k)
      encode(x, fname, ("%s[%q]"):format(where, k), out, visiting)
      out[#out + 1] = ","
    end
    out[#out + 1] = "}"
    visiting[v] = nil
  elseif ty == "nil" or ty == "boolean" or ty == "number" or ty == "string" then
    out[#out + 1] = ("%q"):format(v)
  else
    error(("%s%s: %s is a %s, which cannot be sent (send numbers, strings, booleans and tables)")
      :format(PREFIX, fname, where, ty), 0)
  end
  return out
end

-- encode's text, or the error raised at the caller's caller.
local function encoded(value, fname)
  local ok, text = pcall(function() return table.concat(encode(value, fname, "value", {}, {})) end)
  if not ok then error(text, 3) end
  return text
end

local function decode(s)
  return assert(load("return " .. s, "=sent value", "t", {}))()
end

--- Every rank's value, on rank root (default 0), as a list indexed by rank + 1; other
-- ranks get nil. Values: nil, booleans, numbers, strings and tables of these (copied,
-- metatables not allowed; send tensors as :totable()). For summaries, not bulk data.
function distributed.gather(value, root)
  local text = encoded(value, "gather")
  root = root or 0
  if not running("gather") then
    checkRoot("gather", root, 1)
    return {decode(text)}
  end
  checkRoot("gather", root, mpi.size())
  local texts = mpi.gather(text, root)
  if not texts then return nil end
  local values = {}
  for r = 1, #texts do values[r] = decode(texts[r]) end
  return values
end

--- Rank root's (default 0) value, on every rank (a copy; values as for gather). The
-- other ranks' value argument is ignored.
function distributed.broadcastValue(value, root)
  root = root or 0
  local on = running("broadcastValue")
  checkRoot("broadcastValue", root, on and mpi.size() or 1)
  if not on then return decode(encoded(value, "broadcastValue")) end
  local text = mpi.rank() == root and encoded(value, "broadcastValue") or ""
  return decode(mpi.broadcastBytes(text, root))
end

-- ------------------------------------------------------------- sweeps

--- This rank's share of a list (all of it in a world of one).
-- Without `cost`, round-robin: the items at positions rank+1, rank+1+size, ...
-- With `cost` (a function of an item returning its expected work, a number >= 0), the
-- longest first: the items in decreasing cost (ties in list order), each to the rank
-- with the least work so far (ties to the lower rank), so that a sweep with one long
-- run and many short ones ends on every rank at about the same time. Every rank
-- computes the same deal. A rank's share comes in list order.
-- @tparam table list the items
-- @tparam[opt] function cost item -> expected work
-- @treturn table this rank's items
-- @treturn table their positions in list (for gatherShards)
-- @usage local mine, at = dist.shard(runs, function(r) return r.iterations end)
function distributed.shard(list, cost)
  if type(list) ~= "table" then
    error(PREFIX .. "shard: expected a list, got " .. type(list), 2)
  end
  if cost ~= nil and type(cost) ~= "function" then
    error(PREFIX .. "shard: expected a cost function, got " .. type(cost), 2)
  end
  local rank, size = distributed.rank(), distributed.size()
  local owner = {}
  if cost then
    local order, costs = {}, {}
    for i, item in ipairs(list) do
      local c = cost(item)
      if math.type(c) == nil or c < 0 or c ~= c then
        error(("%sshard: the cost of item %d is %s, not a number >= 0"):format(PREFIX, i, tostring(c)), 2)
      end
      order[i], costs[i] = i, c
    end
    table.sort(order, function(a, b)
      if costs[a] ~= costs[b] then return costs[a] > costs[b] end
      return a < b
    end)
    local load = {}
    for r = 1, size do load[r] = 0 end
    for _, i in ipairs(order) do
      local least = 1
      for r = 2, size do
        if load[r] < load[least] then least = r end
      end
      owner[i], load[least] = least - 1, load[least] + costs[i]
    end
  else
    for i = 1, #list do owner[i] = (i - 1) % size end
  end
  local mine, at = {}, {}
  for i = 1, #list do
    if owner[i] == rank then mine[#mine + 1], at[#at + 1] = list[i], i end
  end
  return mine, at
end

--- The inverse of shard: each rank passes the list of results of its shard (one per
-- item, in order) and, when its shard was dealt by cost, the positions shard returned;
-- rank root (default 0) gets one list in the original order, the others nil. Results
-- are copied as gather() copies them.
-- @tparam table results this rank's results, one per item of its shard
-- @tparam[opt=0] int root the rank that gets them all
-- @tparam[opt] table at the positions shard returned (required after a shard by cost)
-- @treturn ?table on root, every result in the list's order
-- @usage local all = dist.gatherShards(results, 0, at)
function distributed.gatherShards(results, root, at)
  if type(results) ~= "table" then
    error(PREFIX .. "gatherShards: expected a list of results, got " .. type(results), 2)
  end
  if at ~= nil and (type(at) ~= "table" or #at ~= #results) then
    error(("%sgatherShards: expected the %d positions of this rank's shard, got %s"):format(PREFIX, #results,
      type(at) == "table" and #at .. " positions" or type(at)), 2)
  end
  local lists = distributed.gather({results = results, at = at}, root)
  if not lists then return nil end
  local size, n = #lists, 0
  for _, l in ipairs(lists) do n = n + #l.results end
  local all = {}
  for r = 0, size - 1 do
    local l = lists[r + 1]
    if l.at then
      for k, i in ipairs(l.at) do
        if math.type(i) ~= "integer" or i < 1 or i > n or all[i] ~= nil then
          error(("%sgatherShards: rank %d sent position %s, outside 1..%d or sent twice"):format(PREFIX, r,
            tostring(i), n), 2)
        end
        all[i] = l.results[k]
      end
    else
      local want = r < n and (n - r - 1) // size + 1 or 0
      if #l.results ~= want then
        error(("%sgatherShards: rank %d sent %d results for the %d items of its shard"):format(PREFIX, r,
          #l.results, want), 2)
      end
      for k, v in ipairs(l.results) do all[r + 1 + (k - 1) * size] = v end
    end
  end
  return all
end

--- Call fn(...) on rank 0 first, then on the other ranks; returns what fn returns. For
-- work whose first run leaves something the others can reuse, such as a data cache.
function distributed.rootFirst(fn, ...)
  local rank = distributed.rank()
  if rank ~= 0 then distributed.barrier() end
  local out = table.pack(fn(...))
  if rank == 0 then distributed.barrier() end
  return table.unpack(out, 1, out.n)
end

--- A folder of this rank's own under out (out/rank<r>, created), for files that ranks
-- would otherwise write under the same name at once; out itself in a world of one.
function distributed.rankDir(out)
  if distributed.size() == 1 then return out end
  return require("lunet.data").mkdirs(("%s/rank%d"):format(out, distributed.rank()))
end

--- After every rank is done with its rankDir: move the entries of rank's folder up
-- into out (replacing what is there) and remove every rank's folder. Nothing to do in
-- a world of one.
function distributed.promoteRankDir(out, rank)
  local size = distributed.size()
  if size == 1 then return end
  local lfs = require "lfs"
  local function entries(dir)
    local list = {}
    for e in lfs.dir(dir) do
      if e ~= "." and e ~= ".." then list[#list + 1] = e end
    end
    return list
  end
  local function must(ok, err)
    if not ok then error(PREFIX .. "promoteRankDir: " .. tostring(err), 3) end
  end
  local from = ("%s/rank%d"):format(out, rank)
  if lfs.attributes(from, "mode") ~= "directory" then
    error(("%spromoteRankDir: %s is not a folder (is --out on a file system every rank shares?)")
      :format(PREFIX, from), 2)
  end
  for _, e in ipairs(entries(from)) do must(os.rename(from .. "/" .. e, out .. "/" .. e)) end
  for r = 0, size - 1 do
    local dir = ("%s/rank%d"):format(out, r)
    if lfs.attributes(dir, "mode") == "directory" then
      for _, e in ipairs(entries(dir)) do must(os.remove(dir .. "/" .. e)) end
      must(lfs.rmdir(dir))
    end
  end
end

-- ------------------------------------------------------------- data-parallel training

local Flat = {}
Flat.__index = Flat

--- One contiguous float buffer for all of a model's gradients, so that a data-parallel
-- step is one allreduce: flat:pack() copies the gradients into flat.buffer,
-- flat:unpack() copies it back, flat:allreduce(scale) does pack, buffer *= scale
-- (default 1), allreduce "sum", unpack.
function distributed.flatGradients(model)
  if type(model) ~= "table" or type(model.parameters) ~= "function" then
    error(PREFIX .. "flatGradients: expected an nn module", 2)
  end
  local _, grads = model:parameters()
  return distributed.flatTensors(grads)
end

--- The same for any list of float tensors (flatGradients' is the model's gradients; a
-- data-parallel step also keeps its model's running statistics, model:stateTensors(), so).
function distributed.flatTensors(tensors)
  local ok = type(tensors) == "table"
  for _, t in ipairs(ok and tensors or {}) do ok = ok and lunet.isTensor(t) and t:dtype() == "float" end
  if not ok then error(PREFIX .. "flatTensors: expected a list of float tensors", 2) end
  local n = 0
  for _, t in ipairs(tensors) do n = n + t:numel() end
  local buffer, views, at = lunet.zeros(n), {}, 1
  for i, t in ipairs(tensors) do
    views[i] = buffer:narrow(1, at, t:numel()):view(t:size())
    at = at + t:numel()
  end
  return setmetatable({buffer = buffer, tensors = tensors, views = views}, Flat)
end

function Flat:pack()
  for i, t in ipairs(self.tensors) do self.views[i]:copy(t) end
  return self.buffer
end

function Flat:unpack()
  for i, t in ipairs(self.tensors) do t:copy(self.views[i]) end
end

function Flat:allreduce(scale)
  self:pack()
  if scale and scale ~= 1 then self.buffer:mul_(scale) end
  distributed.allreduce(self.buffer, "sum")
  self:unpack()
end

--- Copy rank root's (default 0) parameters into every rank's model.
function distributed.broadcastParameters(model, root)
  for _, p in ipairs((model:parameters())) do distributed.broadcast(p, root) end
end

-- Rows [first, first + count) of n split as evenly as possible over size ranks.
local function blockOf(n, rank, size)
  local base, extra = n // size, n % size
  return rank * base + math.min(rank, extra) + 1, base + (rank < extra and 1 or 0)
end

--- Data-parallel training of model with optimizer over minibatches from loader.
-- Returns a loader and the optimizer to train with instead:
--  * the loader's next() draws the global minibatch (the same on every rank: its
--    shuffles use a random stream shared by the ranks) and returns this rank's block
--    of rows, sized as evenly as possible;
--  * optimizer:step() first sums over the ranks, in one allreduce of one flat buffer,
--    each rank's gradient weighted by its share of the batch, which gives every rank
--    the gradient of the global batch's mean loss; then it steps as before;
--  * after the step, the model's running statistics (BatchNorm's, model:stateTensors())
--    are likewise averaged over the ranks, each weighted by its share: the running mean
--    follows the global batch's mean, as in one process (the running variance the mean
--    of the blocks' variances). A batch-norm layer normalizes with its own block's
--    statistics while training, as PyTorch's BatchNorm under DistributedDataParallel.
-- The parameters and the running statistics start as rank 0's (broadcast) and stay
-- bit-identical across ranks.
-- Dropout and other randomness in the model draw from a stream of each rank's own.
-- The global batch size is the loader's; the learning rate is the optimizer's, as
-- with one process on that batch. Returns loader, optimizer and
-- {batch = global batch, shards = {rows of rank 0, rank 1, ...}}.
function distributed.dataParallel(model, optimizer, loader)
  local rank, size = distributed.rank(), distributed.size()
  local batch = loader.batchSize
  if math.type(batch) ~= "integer" or batch < size then
    error(("%sdataParallel: the global batch (%s) must have at least one example per rank (%d ranks)")
      :format(PREFIX, tostring(batch), size), 2)
  end
  distributed.broadcastParameters(model, 0)
  local flat, states = distributed.flatGradients(model), model:stateTensors()
  for _, t in ipairs(states) do distributed.broadcast(t, 0) end
  local stateFlat = #states > 0 and distributed.flatTensors(states) or nil
  local first, count = blockOf(batch, rank, size)
  -- The stream of the loader's shuffles: rank 0's, so that all draw the same batches.
  local shared = distributed.broadcastValue(lunet.getRNGState(), 0)
  lunet.setRNGState(shared)
  -- This rank's own stream: a seed drawn from the shared one, offset by the rank.
  lunet.manualSeed(math.floor(lunet.rand(1)[1] * 2 ^ 40) + rank)
  local shardLoader = {batchSize = count}
  function shardLoader.next()
    local own = lunet.getRNGState()
    lunet.setRNGState(shared)
    local x, y = loader:next()
    shared = lunet.getRNGState()
    lunet.setRNGState(own)
    return x:narrow(1, first, count), y:narrow(1, first, count)
  end
  local step = optimizer.step
  function optimizer.step(self)
    flat:allreduce(count / batch)
    local result = step(self)
    if stateFlat then stateFlat:allreduce(count / batch) end
    return result
  end
  local shards = {}
  for r = 0, size - 1 do shards[r + 1] = select(2, blockOf(batch, r, size)) end
  return shardLoader, optimizer, {batch = batch, shards = shards}
end

return distributed
