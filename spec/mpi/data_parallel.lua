-- Run by spec/distributed_spec.lua: a small CNN trained for a few SGD steps on fixed
-- data with a global batch of 50, either in one process (`plain`) or data-parallel
-- under mpirun (`parallel`: each rank a block of every batch), with a batch norm when
-- arg[3] is `bn`, for arg[4] steps (default 6). Saves to arg[2] the final parameters and running statistics as every
-- rank holds them (their exact bytes and their values).
local lunet = require "lunet"
local nn, optim, data, dist, train = lunet.nn, lunet.optim, lunet.data, lunet.distributed, lunet.train

local mode, out = arg[1], arg[2]
local rank = mode == "parallel" and dist.init() or 0

lunet.manualSeed(7)
local labels = {}
for i = 1, 200 do labels[i] = (i * 7) % 10 + 1 end
local ds = {images = lunet.rand(200, 1, 8, 8), labels = lunet.tensor(labels):int()}
local model = nn.Sequential():add(nn.Conv2d(1, 4, 3, {padding = "same"}))
-- `bn`: with a batch norm, whose running statistics dataParallel keeps in step
if arg[3] == "bn" then model:add(nn.BatchNorm2d(4)) end
model:add(nn.ReLU()):add(nn.MaxPool2d(2, 2)):add(nn.Flatten()):add(nn.Linear(4 * 4 * 4, 10))
if rank ~= 0 then
  -- Other starting parameters and statistics: dataParallel must replace them by rank 0's.
  for _, p in ipairs((model:parameters())) do p:uniform_(-1, 1) end
  for _, t in ipairs(model:stateTensors()) do t:uniform_(1, 2) end
end
local loader, opt = data.Loader(ds, {batchSize = 50}), optim.SGD(model, {lr = 0.5})
if mode == "parallel" then loader, opt = dist.dataParallel(model, opt, loader) end

local crit = nn.CrossEntropyLoss()
for _ = 1, tonumber(arg[4]) or 6 do
  local x, y = loader:next()
  train.step(model, crit, opt, x, y)
end

local bytes, values = {}, {}
for i, p in ipairs((model:parameters())) do
  bytes[i], values[i] = p:tobytes(), p:view(-1):totable()
end
local stateBytes, stateValues = {}, {}
for i, t in ipairs(model:stateTensors()) do
  stateBytes[i], stateValues[i] = t:tobytes(), t:view(-1):totable()
end
local all = dist.gather({bytes = bytes, values = values, stateBytes = stateBytes, stateValues = stateValues})
if rank == 0 then lunet.save(out, {ranks = all}) end
