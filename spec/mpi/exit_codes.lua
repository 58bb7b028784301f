-- Run by spec/distributed_spec.lua under `mpirun -n 2`: os.exit(0) without closing
-- the Lua state still finalizes MPI (mpirun then reports success).
local lunet = require "lunet"
local dist = lunet.distributed
dist.init()
dist.barrier()
os.exit(0)
