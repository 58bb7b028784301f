-- Run by spec/distributed_spec.lua under `mpirun -n K`: every collective of
-- lunet.distributed on known inputs; rank 0 saves what each rank saw to arg[1].
local lunet = require "lunet"
local dist = lunet.distributed

local rank, size = dist.init()
assert(dist.rank() == rank and dist.size() == size)

-- allreduce "sum": rank r holds (r+1)·(1, 2, 3, 4, 5) and a 2x3 tensor filled with r.
local sum = lunet.arange(1, 6):mul(rank + 1)
dist.allreduce(sum, "sum")
local mean = lunet.full({2, 3}, rank)
dist.allreduce(mean, "mean")
-- broadcast from the last rank: rank r holds 10r + (0, 1, 2, 3).
local bcast = lunet.arange(0, 4):add(10 * rank)
dist.broadcast(bcast, size - 1)
dist.barrier()

-- A sweep of 7 items, round-robin over the ranks, results gathered back in order.
local items = {"a", "b", "c", "d", "e", "f", "g"}
local mine = {}
for _, it in ipairs(dist.shard(items)) do mine[#mine + 1] = {item = it, rank = rank} end
local swept = dist.gatherShards(mine)

local all = dist.gather({rank = rank, size = size, sum = sum:totable(), mean = mean:view(-1):totable(),
  bcast = bcast:totable(), host = (dist.host())})
assert((rank == 0) == (all ~= nil), "gather: only rank 0 receives")
assert((rank == 0) == (swept ~= nil), "gatherShards: only rank 0 receives")
if rank == 0 then lunet.save(arg[1], {ranks = all, swept = swept}) end

-- The binding checks its arguments itself (for code that uses lunet.mpi directly).
local mpi = require "lunet.mpi"
local function fails(msg, fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok and err:find(msg, 1, true), ("expected %q, got %s"):format(msg, tostring(err)))
end
fails("allreduce: tensor must be contiguous", mpi.allreduce, lunet.zeros(3, 4):t())
fails("allreduce: tensor must be contiguous", mpi.allreduce, lunet.zeros(1, 4):expand(3, 4))
fails("allreduce: argument #1 must be a float tensor, got an int tensor", mpi.allreduce, lunet.zeros({3}, "int"))
local closed = lunet.zeros(3)
getmetatable(closed).__close(closed)
fails("allreduce: argument #1 was released (closed)", mpi.allreduce, closed)
fails("broadcast: argument #1 was released (closed)", mpi.broadcast, closed, 0)
fails("(invalid option 'max')", mpi.allreduce, lunet.zeros(3), "max")
fails("broadcast: argument #1 must be a tensor, got table", mpi.broadcast, {})
fails(("broadcast: root must be a rank in 0..%d, got %d"):format(size - 1, size), mpi.broadcast, lunet.zeros(3), size)
fails(("gather: root must be a rank in 0..%d, got -1"):format(size - 1), mpi.gather, "x", -1)

-- Tensors of different sizes on different ranks (issue 12: rank 1's heap overflowed,
-- allreduce crashed then hung): every rank raises, naming both counts, and the
-- collectives still work afterwards.
local big = lunet.ones(rank == 0 and 1000000 or 4)
local counts = ("from 4 to 1000000; this rank %d"):format(big:numel())
fails("broadcast: the ranks' tensors differ in element count (" .. counts, dist.broadcast, big, 0)
fails("allreduce: the ranks' tensors differ in element count (" .. counts, dist.allreduce, big, "sum")
local after = lunet.ones(3)
dist.allreduce(after, "sum")
assert(after[1] == size, "allreduce after a refused call")

dist.finalize()
dist.finalize() -- a second call is harmless
fails("lunet.distributed: rank: MPI was already finalized", dist.rank)
fails("init: MPI was finalized and cannot be started again", dist.init)
