-- Run by spec/distributed_spec.lua under `mpirun -n 2`: rank 1 fails while rank 0
-- waits in an allreduce; the job must end (aborted), not hang.
local lunet = require "lunet"
local dist = lunet.distributed
local rank = dist.init()
if rank == 1 then error("rank 1 fails on purpose") end
dist.allreduce(lunet.ones(4))
print("rank 0 was not stopped")
