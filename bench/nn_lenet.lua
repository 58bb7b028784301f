-- bench/nn_lenet.lua — milliseconds per LeNet-5 training step (batch 50, 28x28x1, the
-- model of MISSION.md) and per layer, forward and backward, for the CNN kernels.
--   bin/lunet bench/nn_lenet.lua [iterations=30] [threads]
-- The threads default to LUNET_NUM_THREADS (or the core count). Each figure is the
-- median over the iterations, after one warm-up step that sizes every buffer.
local lunet = require "lunet"
local nn = lunet.nn
local core = lunet.core

local iters = tonumber(arg[1]) or 30
if arg[2] then core.setNumThreads(assert(math.tointeger(tonumber(arg[2])), "threads must be an integer")) end

lunet.manualSeed(1)
local model = nn.Sequential()
  :add(nn.Conv2d(1, 32, 5, { padding = "same" }), "conv1"):add(nn.ReLU(), "relu1")
  :add(nn.MaxPool2d(2), "pool1")
  :add(nn.Conv2d(32, 64, 5, { padding = "same" }), "conv2"):add(nn.ReLU(), "relu2")
  :add(nn.MaxPool2d(2), "pool2")
  :add(nn.Flatten(), "flatten"):add(nn.Linear(7 * 7 * 64, 1024), "fc1"):add(nn.ReLU(), "relu3")
  :add(nn.Dropout(0.5), "dropout"):add(nn.Linear(1024, 10), "fc2")
model:init("course")
local crit = nn.CrossEntropyLoss()
local x = lunet.rand(50, 1, 28, 28)
local labels = lunet.zeros(50, "int")
for i = 1, 50 do labels[i] = (i % 10) + 1 end

local function median(t)
  local s = { table.unpack(t) }
  table.sort(s)
  return s[(#s + 1) // 2]
end

local n = #model.modules
local fwd, bwd, step = {}, {}, {}
for i = 1, n do fwd[i], bwd[i] = {}, {} end
for it = 0, iters do
  local t0 = core.wallclock()
  model:zeroGrad()
  local h = x
  for i, m in ipairs(model.modules) do
    local t = core.wallclock()
    h = m:forward(h)
    if it > 0 then fwd[i][it] = core.wallclock() - t end
  end
  crit:forward(h, labels)
  local g = crit:backward(h, labels)
  for i = n, 1, -1 do
    local m, t = model.modules[i], core.wallclock()
    g = m:backward(i > 1 and model.modules[i - 1].output or x, g)
    if it > 0 then bwd[i][it] = core.wallclock() - t end
  end
  if it > 0 then step[it] = core.wallclock() - t0 end
end

local blasConfig, blasCore = core.blasInfo()
print(("LeNet-5 training step, batch 50: %.1f ms (median of %d; %d thread(s); OpenBLAS %s, %s kernels)")
  :format(median(step) * 1e3, iters, core.getNumThreads(), blasConfig, blasCore))
print(("  %-8s %-52s %9s %9s"):format("layer", "", "fwd ms", "bwd ms"))
for i, m in ipairs(model.modules) do
  print(("  %-8s %-52s %9.2f %9.2f"):format(model.names[i] or "", tostring(m), median(fwd[i]) * 1e3,
    median(bwd[i]) * 1e3))
end
