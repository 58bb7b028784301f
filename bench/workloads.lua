-- bench/workloads.lua — what the benchmark suite measures: the workloads (name,
-- description, FLOPs per iteration), and build(name), the function one iteration of a
-- workload calls in a worker process. Orchestration is bench/run.lua, the report
-- bench/report.lua.
local lunet = require "lunet"
local nn = lunet.nn
local optim = lunet.optim
local train = lunet.train
local models = require "lunet.models"
local core = lunet.core

local workloads = {}

--- The median of a list of numbers (NaN for none): every figure of the suite is one.
function workloads.median(t)
  local s = table.move(t, 1, #t, 1, {})
  table.sort(s)
  local n = #s
  if n == 0 then return 0 / 0 end
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end
local median = workloads.median

-- The workloads. FLOPs are counted per layer: 2 per multiply-add of every product
-- (convolutions, linear layers, recurrent projections); elementwise work is not counted.

local function convFlops(n, c, hw, oc, k) return 2 * n * oc * hw * hw * c * k * k end -- 'same' padding
local function linearFlops(n, i, o) return 2 * n * i * o end

-- LeNet-5 of MISSION.md at batch n: per-layer forward FLOPs.
local function lenetForward(n)
  return { conv1 = convFlops(n, 1, 28, 32, 5), conv2 = convFlops(n, 32, 14, 64, 5),
           fc1 = linearFlops(n, 3136, 1024), fc2 = linearFlops(n, 1024, 10) }
end

local function lenetFlops(n, training)
  local f = lenetForward(n)
  local fwd = f.conv1 + f.conv2 + f.fc1 + f.fc2
  if not training then return fwd end
  -- backward: weight and input gradients (2x the forward) except conv1, whose input
  -- needs no gradient
  return fwd + f.conv1 + 2 * (f.conv2 + f.fc1 + f.fc2)
end

-- A recurrent training step: forward input projections (x) and recurrent products (h)
-- over T steps plus the linear layer; backward the recurrent products again, dW_x, dW_h
-- and the linear layer's two gradients (no gradient w.r.t. the input sequence).
local function rnnFlops(gates, n, hidden)
  local T, D, H = 28, 28, hidden or 64
  local x, h, lin = 2 * n * T * D * gates * H, 2 * n * T * H * gates * H, linearFlops(n, H, 10)
  return 2 * x + 3 * h + 3 * lin
end

local SGEMM = { ["1024"] = { 1024, 1024, 1024 }, conv1 = { 32, 25, 50 * 784 }, conv2 = { 64, 800, 50 * 196 },
                fc1 = { 50, 3136, 1024 }, fc2 = { 50, 1024, 10 } }

-- name, description, FLOPs per iteration; `against`: a workload of the module path measured
-- in the same rounds (its side labelled "module"), for the autograd targets; `elements`: the
-- count is the elements written or read, not FLOPs (no floor, see bench/report.lua).
workloads.list = {
  { "lenet_train_b50", "LeNet-5 training step, batch 50", lenetFlops(50, true) },
  -- Part 3's CNN (experiments/mnist_rnn.lua): the same LeNet-5 and Adam at minibatches of 10
  { "lenet_train_b10", "LeNet-5 training step, batch 10 (Part 3's CNN)", lenetFlops(10, true) },
  { "autograd_lenet_train_b50", "LeNet-5 training step, batch 50, written with lunet.autograd", lenetFlops(50, true),
    against = "lenet_train_b50" },
  { "autograd_lstm_cell_train_b10", "LSTM cell from autograd's elementwise ops, training step, batch 10 "
    .. "(T=28, D=28, H=128)", rnnFlops(4, 10, 128), against = "lstm128_train_b10" },
  { "lenet_infer_b50", "LeNet-5 inference, batch 50", lenetFlops(50) },
  { "lenet_infer_b1", "LeNet-5 inference, batch 1 (latency)", lenetFlops(1) },
  { "lenet_infer_b256", "LeNet-5 inference, batch 256 (throughput)", lenetFlops(256) },
  { "conv1_fwd", "conv2d 1->32 5x5, 50x28x28, forward", lenetForward(50).conv1 },
  { "conv1_bwd", "conv2d 1->32, backward (input+weight)", 2 * lenetForward(50).conv1 },
  { "conv2_fwd", "conv2d 32->64 5x5, 50x14x14, forward", lenetForward(50).conv2 },
  { "conv2_bwd", "conv2d 32->64, backward (input+weight)", 2 * lenetForward(50).conv2 },
}
local WORKLOADS = workloads.list
for _, c in ipairs({ { "rnn", "RNN", 1 }, { "lstm", "LSTM", 4 }, { "gru", "GRU", 3 } }) do
  for _, n in ipairs({ 10, 128 }) do
    WORKLOADS[#WORKLOADS + 1] = { ("%s_train_b%d"):format(c[1], n),
      ("%s training step, batch %d (T=28, D=28, H=64)"):format(c[2], n), rnnFlops(c[3], n) }
  end
end
for _, s in ipairs({ "1024", "conv1", "conv2", "fc1", "fc2" }) do
  local m, k, n = table.unpack(SGEMM[s])
  WORKLOADS[#WORKLOADS + 1] = { "sgemm_" .. s,
    ("sgemm %dx%d . %dx%d%s"):format(m, k, k, n, s == "1024" and "" or (" (%s, batch 50)"):format(s)),
    2 * m * k * n }
end

-- LeNet-5's parameter count, from the shapes of lenetForward (3136x1024 of it fc1's
-- weights): counted, not built, so that no worker process holds a model it does not use
-- (a 13 MB heap changes when Lua's collector runs, and with it the cost of fresh results)
local LENET_PARAMETERS = (32 * 1 * 25 + 32) + (64 * 32 * 25 + 64) + (3136 * 1024 + 1024) + (1024 * 10 + 10)

-- The tensor operations that move data rather than compute: their "FLOPs" are the
-- elements they write, so that the GFLOP/s column reads as elements per nanosecond.
for _, w in ipairs({
  { "cat_b50", "cat of four (50,256) along dim 2", 50 * 1024 },
  { "indexselect_b50", "indexSelect of 50 rows of (10000,784)", 50 * 784 },
  { "gather_b256", "gather along dim 2 of (256,1000), 4 per row", 256 * 4 },
  { "sort_65536", "sort of 65536 floats (values and indices)", 65536 },
  -- the optimizer's part of both LeNet-5 steps: each parameter's value, gradient and two
  -- moments read, three of them written; counted in parameters
  { "adam_lenet", ("Adam's update of LeNet-5's %.2f M parameters (the optimizer in its steps)"):format(
    LENET_PARAMETERS / 1e6), LENET_PARAMETERS },
}) do
  w.elements = true
  WORKLOADS[#WORKLOADS + 1] = w
end

-- The convolutions beyond LeNet-5's, forward and backward (input, weight and bias) per
-- iteration, 3x the forward's FLOPs: a ResNet body's 3x3 convolution (Winograd's F(4x4, 3x3)
-- under convAlgorithm "auto"), a depthwise 3x3 convolution (MobileNet's) and a transposed
-- convolution that doubles the resolution (DCGAN's generator).
local CONV_EXTRA = {
  resconv_b50 = { c = 64, hw = 16, fwd = 2 * 50 * 64 * 16 * 16 * 64 * 9 },
  dwconv_b50 = { c = 64, hw = 28, fwd = 2 * 50 * 64 * 28 * 28 * 9 },
  convtranspose_b50 = { c = 64, oc = 32, hw = 14, fwd = 2 * 50 * 64 * 14 * 14 * 32 * 16 },
}
for _, w in ipairs({
  { "resconv_b50", "conv2d 64->64 3x3 (a ResNet body's), 50x16x16, forward+backward", 3 * CONV_EXTRA.resconv_b50.fwd },
  { "dwconv_b50", "depthwise conv2d 64ch 3x3, 50x28x28, forward+backward", 3 * CONV_EXTRA.dwconv_b50.fwd },
  { "convtranspose_b50", "conv_transpose2d 64->32 4x4 stride 2, 50x14x14 -> 28x28, forward+backward",
    3 * CONV_EXTRA.convtranspose_b50.fwd },
}) do
  WORKLOADS[#WORKLOADS + 1] = w
end

--- The buffer of the read-bandwidth probe (core.bench_read): 256 MB, far beyond the 32 MB L3
-- of the machines lunet is measured on, so that every pass reads memory.
workloads.READ_BYTES = 256 << 20

--- The bytes of LeNet-5's parameters (float32): what an inference at batch 1 reads at least
-- once, fc1's 3136x1024 weights most of it.
function workloads.lenetParameterBytes() return 4 * LENET_PARAMETERS end

--- The same with the Linear weights in `format` ("bf16" or "int8", nn.quantize): their
-- compact bytes (with int8's row scales), the rest float32.
function workloads.lenetQuantizedBytes(format)
  local model = nn.quantize(models.lenet5(), format)
  local bytes = 0
  for _, m in ipairs(model.modules) do
    if m.qweight then
      bytes = bytes + m.qweight:nbytes() + 4 * m.bias:numel()
    else
      for _, p in ipairs(m:parameters()) do bytes = bytes + 4 * p:numel() end
    end
  end
  return bytes
end

local function labels(n)
  local y = lunet.zeros(n, "int")
  for i = 1, n do y[i] = (i - 1) % 10 + 1 end
  return y
end

-- One training step as train.classifier takes it: train.step, with denormals flushed
-- and no gradient w.r.t. the input, as there.
local function trainStep(model, x, y)
  local crit, opt = nn.CrossEntropyLoss(), optim.Adam(model, { lr = 1e-3 })
  lunet.setFlushDenormals(true)
  model.needInputGrad = false
  return function() train.step(model, crit, opt, x, y) end
end

-- An LSTM written step by step from autograd's elementwise ops (not the fused kernel), its
-- last hidden state into a linear layer: the cost of recording ~16 small ops a step. The
-- input side of the gates is one product for all steps, as the fused kernel computes it.
local function autogradLSTM(hidden)
  local ag, ref = require "lunet.autograd", nn.Sequential():add(nn.LSTM(28, hidden)):add(nn.Linear(hidden, 10))
  local lstm, fc, H = ref.modules[1], ref.modules[2], hidden
  return nn.Function(function(p, x)
    local n, steps = x:size(1), x:size(2)
    local h, c = lunet.zeros(n, H), lunet.zeros(n, H)
    local xg = ag.linear(x:reshape(n * steps, -1), p.wIH, p.b):view(n, steps, 4 * H)
    for t = 1, steps do
      local gates = xg:select(2, t) + ag.linear(h, p.wHH)
      local i, f = gates:narrow(2, 1, H):sigmoid(), gates:narrow(2, H + 1, H):sigmoid()
      local g, o = gates:narrow(2, 2 * H + 1, H):tanh(), gates:narrow(2, 3 * H + 1, H):sigmoid()
      c = f * c + i * g
      h = o * c:tanh()
    end
    return ag.linear(h, p.fcW, p.fcB)
  end, { wIH = lstm.weightIH1, wHH = lstm.weightHH1, b = lstm.bias1, fcW = fc.weight, fcB = fc.bias })
end

-- LeNet-5 written by its forward alone with lunet.autograd's ops (no backward), with the
-- course's initialization: the autograd path's cost against the module path's.
local function autogradLenet()
  local ag, ref = require "lunet.autograd", models.lenet5()
  local p = {}
  for _, l in ipairs({ "conv1", "conv2", "fc1", "fc2" }) do
    p[l .. "Weight"], p[l .. "Bias"] = ref:find(l).weight:clone(), ref:find(l).bias:clone()
  end
  return nn.Function(function(q, x)
    local h = ag.maxpool2d(ag.conv2d(x, q.conv1Weight, q.conv1Bias, { padding = 2 }):relu(), 2)
    h = ag.maxpool2d(ag.conv2d(h, q.conv2Weight, q.conv2Bias, { padding = 2 }):relu(), 2)
    h = ag.dropout(ag.linear(h:view(x:size(1), -1), q.fc1Weight, q.fc1Bias):relu(), 0.5)
    return ag.linear(h, q.fc2Weight, q.fc2Bias)
  end, p)
end

-- Per-layer medians (ms) of forward and backward over k training steps, as
-- Sequential:forward and :backward run them.
local function layerTimes(model, x, y, k)
  local crit, mods = nn.CrossEntropyLoss(), model.modules
  local fwd, bwd = {}, {}
  for i = 1, #mods do fwd[i], bwd[i] = {}, {} end
  for it = 1, k do
    model:zeroGrad()
    local h = x
    for i, m in ipairs(mods) do
      local t = lunet.wallclock()
      h = m:forward(h)
      fwd[i][it] = lunet.wallclock() - t
    end
    crit:forward(h, y)
    local g = crit:backward(h, y)
    mods[1].needInputGrad = model.needInputGrad
    for i = #mods, 1, -1 do
      local t = lunet.wallclock()
      g = mods[i]:backward(i > 1 and mods[i - 1].output or x, g)
      bwd[i][it] = lunet.wallclock() - t
    end
  end
  local parts = {}
  for i = 1, #mods do
    parts[i] = ("%s=%.4f,%.4f"):format(model.names[i] or ("m" .. i), median(fwd[i]) * 1e3, median(bwd[i]) * 1e3)
  end
  return table.concat(parts, " ")
end

-- The function one iteration of workload `name` calls, and an optional per-layer
-- report function.
function workloads.build(name)
  lunet.manualSeed(1)
  local batch = tonumber(name:match("_b(%d+)$"))
  if name:match("^lenet_") then
    local model, x = models.lenet5(), lunet.rand(batch, 1, 28, 28)
    if name:match("^lenet_train") then
      local y = labels(batch)
      return trainStep(model, x, y), function(k) return layerTimes(model, x, y, k) end
    end
    model:evaluate()
    -- lenet_infer_bf16_b1, lenet_infer_int8_b1: the Linear weights quantized (nn.quantize)
    local format = name:match("^lenet_infer_(%a%w*)_b%d+$")
    if format then nn.quantize(model, format) end
    return function() model:forward(x) end
  end
  if name:match("^autograd_lenet_train") then
    return trainStep(autogradLenet(), lunet.rand(batch, 1, 28, 28), labels(batch))
  end
  if name:match("^autograd_lstm_cell_train") then
    return trainStep(autogradLSTM(128), lunet.rand(batch, 28, 28), labels(batch))
  end
  local conv = name:match("^(conv%d)_")
  if conv then
    local c, oc, hw = table.unpack(({ conv1 = { 1, 32, 28 }, conv2 = { 32, 64, 14 } })[conv])
    local m, x = nn.Conv2d(c, oc, 5, { padding = "same" }), lunet.rand(50, c, hw, hw)
    if name:match("_fwd$") then return function() m:forward(x) end end
    local g = lunet.rand(table.unpack(m:forward(x):size()))
    return function()
      m:updateGradInput(x, g)
      m:accGradParameters(x, g)
    end
  end
  local cell, hidden = name:match("^(%a+)(%d*)_train")
  if cell then
    hidden = tonumber(hidden) or 64
    local model = nn.Sequential():add(nn[cell:upper()](28, hidden)):add(nn.LastStep()):add(nn.Linear(hidden, 10))
    return trainStep(model, lunet.rand(batch, 28, 28), labels(batch))
  end
  if name == "cat_b50" then
    local parts = { lunet.rand(50, 256), lunet.rand(50, 256), lunet.rand(50, 256), lunet.rand(50, 256) }
    return function() return lunet.cat(parts, 2) end
  end
  if name == "indexselect_b50" then
    local x, idx = lunet.rand(10000, 784), lunet.randperm(10000):narrow(1, 1, 50)
    return function() return x:indexSelect(1, idx) end
  end
  if name == "gather_b256" then
    local x, idx = lunet.rand(256, 1000), lunet.rand(256, 4):mul(1000):floor():add(1):int()
    return function() return x:gather(2, idx) end
  end
  if name == "adam_lenet" then
    local model = models.lenet5()
    assert(model:numParameters() == LENET_PARAMETERS, "bench/workloads.lua: LENET_PARAMETERS is not LeNet-5's count")
    local opt = optim.Adam(model, { lr = 1e-3 })
    for _, g in ipairs(select(2, model:parameters())) do g:copy(lunet.randn(table.unpack(g:size())):mul(1e-2)) end
    lunet.setFlushDenormals(true)
    return function() opt:step() end
  end
  if name == "sort_65536" then
    local x = lunet.rand(65536)
    return function() return x:sort() end
  end
  local shape = name:match("^sgemm_(.*)$")
  if shape then
    local m, k, n = table.unpack(SGEMM[shape])
    local a, b, c = lunet.rand(m, k), lunet.rand(k, n), lunet.zeros(m, n)
    return function() c:addmm_(a, b, 0, 1) end
  end
  local n = tonumber(name:match("^matmul_(%d+)$"))
  if n then
    local a, b = lunet.rand(n, n), lunet.rand(n, n)
    return function() return a:matmul(b) end
  end
  n = tonumber(name:match("^addmm_(%d+)$"))
  if n then
    local a, b, c = lunet.rand(n, n), lunet.rand(n, n), lunet.zeros(n, n)
    return function() c:addmm_(a, b, 0, 1) end
  end
  n = tonumber(name:match("^cblas_(%d+)$"))
  if n then return nil, nil, function() return core.bench_sgemm(n, 1) end end
  n = tonumber(name:match("^gemm_(%d+)$"))
  if n then return nil, nil, function() return core.bench_sgemm(n, 1, "lunet") end end
  -- seconds per pass over the buffer
  if name == "read_memory" then
    return nil, nil, function() return workloads.READ_BYTES / core.bench_read(workloads.READ_BYTES) end
  end
  local extra = CONV_EXTRA[name]
  if extra then
    local m = name == "resconv_b50" and nn.Conv2d(extra.c, extra.c, 3, { padding = 1 })
      or name == "dwconv_b50" and nn.Conv2d(extra.c, extra.c, 3, { padding = 1, groups = extra.c })
      or nn.ConvTranspose2d(extra.c, extra.oc, 4, { stride = 2, padding = 1 })
    local x = lunet.rand(50, extra.c, extra.hw, extra.hw)
    local g = lunet.rand(table.unpack(m:forward(x):size()))
    return function()
      m:forward(x)
      m:updateGradInput(x, g)
      m:accGradParameters(x, g)
    end
  end
  error("unknown workload " .. name)
end

-- The layers of nn/norm.lua and nn/activation.lua: one iteration is a forward and a
-- backward (the gradients w.r.t. the input and the parameters; the weight's alone for
-- Embedding). Their "FLOPs" are the input's elements (the indices' for Embedding), so the
-- GFLOP/s column reads as elements per nanosecond.
local NORM = {
  { "batchnorm2d_train_b50", "BatchNorm2d(32) training forward+backward, (50,32,16,16)", 50 * 32 * 16 * 16,
    function() return nn.BatchNorm2d(32), lunet.randn(50, 32, 16, 16) end },
  { "layernorm_b50", "LayerNorm(256) forward+backward, (50,64,256)", 50 * 64 * 256,
    function() return nn.LayerNorm(256), lunet.randn(50, 64, 256) end },
  { "avgpool2d_b50", "AvgPool2d(2) forward+backward, (50,32,32,32)", 50 * 32 * 32 * 32,
    function() return nn.AvgPool2d(2), lunet.randn(50, 32, 32, 32) end },
  { "adaptive_avgpool2d_b50", "AdaptiveAvgPool2d(1) (global) forward+backward, (50,64,16,16)", 50 * 64 * 16 * 16,
    function() return nn.AdaptiveAvgPool2d(1), lunet.randn(50, 64, 16, 16) end },
  { "embedding_b50", "Embedding(10000, 128) forward+backward, (50,35) indices", 50 * 35,
    function() return nn.Embedding(10000, 128), lunet.rand(50, 35):mul(10000):floor():add(1):int() end },
  { "gelu_b50", "GELU forward+backward, (50,64,16,16)", 50 * 64 * 16 * 16,
    function() return nn.GELU(), lunet.randn(50, 64, 16, 16) end },
  { "silu_b50", "SiLU forward+backward, (50,64,16,16)", 50 * 64 * 16 * 16,
    function() return nn.SiLU(), lunet.randn(50, 64, 16, 16) end },
  { "tanh_b50", "Tanh forward+backward, (50,64,16,16)", 50 * 64 * 16 * 16,
    function() return nn.Tanh(), lunet.randn(50, 64, 16, 16) end },
  { "augment_b128", "RandomCrop(28, padding 2) + RandomHorizontalFlip of a (128,1,28,28) batch", 128 * 28 * 28,
    function()
      local T = lunet.data.transforms
      return T.Compose{T.RandomCrop(28, {padding = 2}), T.RandomHorizontalFlip()}, lunet.rand(128, 1, 28, 28)
    end },
}
local normBuilders = {}
for _, w in ipairs(NORM) do
  WORKLOADS[#WORKLOADS + 1] = { w[1], w[2], w[3], elements = true }
  normBuilders[w[1]] = w[4]
end
local buildOthers = workloads.build
function workloads.build(name)
  local make = normBuilders[name]
  if not make then return buildOthers(name) end
  lunet.manualSeed(1)
  local m, x = make()
  if type(m) == "function" then return function() m(x) end end -- a transform: no backward
  local g = lunet.rand(m:forward(x):size())
  return function()
    m:forward(x)
    m:backward(x, g)
  end
end

return workloads
