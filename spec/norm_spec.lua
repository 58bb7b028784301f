-- The layers of lunet/nn/norm.lua and their kernels (csrc/kernels/norm.c, pool.c,
-- embedding.c through csrc/lua/nn.c): PyTorch parity on fixed inputs
-- (spec/fixtures/norm/torch.lua, written by spec/parity/norm_torch.py), finite-difference
-- gradient checks, training against evaluation, the running statistics and their
-- checkpoint round trip, results independent of the thread count, and the errors.
local lunet = require "lunet"
local H = require "spec.helper"
local checkpoint = require "lunet.checkpoint"
local nn = lunet.nn
local core = lunet.core

local function empty(dtype) return lunet.zeros(0, dtype) end

-- A fixture tensor {shape, data[, dtype]} as a lunet tensor.
local function fromFixture(f)
  local t = lunet.tensor(f.data):view(f.shape)
  return f.dtype == "int" and t:int() or t
end

-- The output and the gradients of sum(module(x) * r), each cloned, in a fresh backward.
local function run(m, x, r)
  m:zeroGrad()
  local out = m:forward(x):clone()
  local gin = m:backward(x, r)
  return {output = out, gradInput = gin and gin:clone(), gradWeight = m.gradWeight and m.gradWeight:clone(),
          gradBias = m.gradBias and m.gradBias:clone()}
end

-- |a - b| <= tol * max(|a|, |b|, 1e-2), element by element at the largest.
local function close(a, b, tol, what)
  assert(a and b, what .. " missing")
  assert.are.same(b:size(), a:size(), what .. " shape")
  local err = H.relerr(a, b)
  assert(err <= tol, ("%s: relative error %g"):format(what, err))
end

describe("norm layers: parity with PyTorch", function()
  local fixture = dofile("spec/fixtures/norm/torch.lua")
  for _, case in ipairs(fixture) do
    it(case.name, function()
      local args = {}
      for i, a in ipairs(case.args) do args[i] = a end
      args[#args + 1] = case.opts
      local m = nn[case.module](table.unpack(args, 1, #case.args + 1))
      if case.weight then m.weight:copy(fromFixture(case.weight)) end
      if case.bias then m.bias:copy(fromFixture(case.bias)) end
      m:train()
      for _, s in ipairs(case.steps or {}) do m:forward(fromFixture(s)) end
      local x, r = fromFixture(case.x), fromFixture(case.r)
      local got = run(m, x, r)
      for _, k in ipairs({"output", "gradInput", "gradWeight", "gradBias"}) do
        if case[k] then close(got[k], fromFixture(case[k]), 1e-5, k) end
      end
      if case.runningMean then
        close(m.runningMean, fromFixture(case.runningMean), 1e-5, "runningMean")
        close(m.runningVar, fromFixture(case.runningVar), 1e-5, "runningVar")
      end
      if case.evalOutput then
        m:evaluate()
        local ev = run(m, x, r)
        for _, k in ipairs({"output", "gradInput", "gradWeight", "gradBias"}) do
          local want = case["eval" .. k:sub(1, 1):upper() .. k:sub(2)]
          if want then close(ev[k], fromFixture(want), 1e-5, "eval " .. k) end
        end
      end
    end)
  end
end)

-- Centered finite differences of sum(module(x) * r) against the module's backward, for
-- the input (unless it holds indices) and every parameter.
local function gradcheck(m, x, eps, tol)
  local out = m:forward(x)
  local r = lunet.randn(out:size())
  local got = run(m, x, r)
  local function f() return m:forward(x):mul(r):sum() end
  if x:dtype() == "float" then close(got.gradInput, H.numgrad(f, x, eps), tol, "gradInput") end
  if m.weight then close(got.gradWeight, H.numgrad(f, m.weight, eps), tol, "gradWeight") end
  if m.bias then close(got.gradBias, H.numgrad(f, m.bias, eps), tol, "gradBias") end
end

-- A module with a random weight and bias (the defaults, ones and zeros, hide mistakes).
local function randomized(m)
  if m.weight then m.weight:copy(lunet.randn(m.weight:size())) end
  if m.bias then m.bias:copy(lunet.randn(m.bias:size())) end
  return m
end

describe("norm layers: gradients match finite differences", function()
  before_each(function() lunet.manualSeed(11) end)

  local bnCases = {
    {"BatchNorm1d (N,C)", function() return nn.BatchNorm1d(3) end, {5, 3}},
    {"BatchNorm1d (N,C,L)", function() return nn.BatchNorm1d(3) end, {4, 3, 5}},
    {"BatchNorm2d", function() return nn.BatchNorm2d(2) end, {3, 2, 4, 3}},
    {"BatchNorm2d without affine", function() return nn.BatchNorm2d(2, {affine = false}) end, {3, 2, 3, 3}},
  }
  for _, c in ipairs(bnCases) do
    it(c[1] .. ", training (through the batch statistics) and evaluation", function()
      local m = randomized(c[2]())
      local x = lunet.randn(c[3]):mul(2):add(1)
      gradcheck(m, x, 1e-2, 2e-3)
      m.runningMean:copy(lunet.randn(m.runningMean:size()))
      m.runningVar:copy(lunet.rand(m.runningVar:size()):add(0.5))
      m:evaluate()
      gradcheck(m, x, 1e-2, 2e-3)
    end)
  end

  it("LayerNorm over one and over two trailing dimensions, with and without affine", function()
    gradcheck(randomized(nn.LayerNorm(6)), lunet.randn(4, 6):mul(2), 1e-2, 2e-3)
    gradcheck(randomized(nn.LayerNorm({3, 4})), lunet.randn(2, 5, 3, 4), 1e-2, 2e-3)
    gradcheck(nn.LayerNorm(5, {elementwiseAffine = false}), lunet.randn(3, 5), 1e-2, 2e-3)
  end)

  -- Pooling is linear: a large step is exact and keeps rounding small.
  local poolCases = {
    {"AvgPool2d 2x2", function() return nn.AvgPool2d(2) end, {2, 2, 6, 5}},
    {"AvgPool2d 3x3 stride 2 padding 1", function() return nn.AvgPool2d(3, {stride = 2, padding = 1}) end,
     {2, 2, 7, 6}},
    {"AvgPool2d padding not counted", function()
      return nn.AvgPool2d(3, {stride = 2, padding = 1, countIncludePad = false}) end, {1, 2, 7, 6}},
    {"AvgPool2d ceil mode, overlapping windows", function()
      return nn.AvgPool2d({3, 2}, {stride = {2, 1}, padding = {1, 0}, ceilMode = true}) end, {1, 2, 8, 5}},
    {"AdaptiveAvgPool2d 1 (global)", function() return nn.AdaptiveAvgPool2d(1) end, {2, 3, 5, 4}},
    {"AdaptiveAvgPool2d 3x2 (overlapping windows)", function() return nn.AdaptiveAvgPool2d({3, 2}) end,
     {2, 2, 7, 5}},
    {"AdaptiveAvgPool2d 6x7 (larger than the input)", function() return nn.AdaptiveAvgPool2d({6, 7}) end,
     {1, 2, 4, 5}},
  }
  for _, c in ipairs(poolCases) do
    it(c[1], function() gradcheck(c[2](), lunet.randn(c[3]), 0.5, 1e-4) end)
  end

  it("Embedding: the weight's gradient, with repeated indices; none for the padding row", function()
    local idx = lunet.tensor({{2, 5, 2, 1}, {3, 2, 6, 6}}):int()
    gradcheck(nn.Embedding(6, 3), idx, 0.5, 1e-4)
    local m = nn.Embedding(6, 3, {paddingIdx = 6})
    local r = lunet.randn(2, 4, 3)
    local got = run(m, idx, r).gradWeight
    local want = H.numgrad(function() return m:forward(idx):mul(r):sum() end, m.weight, 0.5)
    close(got:narrow(1, 1, 5), want:narrow(1, 1, 5), 1e-4, "gradWeight")
    assert.are.same({0, 0, 0}, got[6]:totable())
  end)
end)

-- Per-channel mean and biased variance of an (N,C,...) tensor, in Lua, as lists.
local function channelStats(x)
  local c = x:size(2)
  local flat = x:transpose(1, 2):contiguous():view(c, -1)
  local mean, var = flat:mean(2):view(-1):totable(), flat:var(2):view(-1):totable()
  local m = flat:size(2)
  for i = 1, c do var[i] = var[i] * (m - 1) / m end
  return mean, var, m
end

describe("BatchNorm: training, evaluation and the running statistics", function()
  before_each(function() lunet.manualSeed(12) end)

  it("normalizes with the batch's statistics in training and updates the running ones with momentum", function()
    local m = nn.BatchNorm2d(3, {momentum = 0.25})
    local x = lunet.randn(4, 3, 5, 2):mul(3):add(2)
    local y = m:forward(x)
    local mean, var, n = channelStats(x)
    local ym, yv = channelStats(y)
    for c = 1, 3 do
      assert.is_true(math.abs(ym[c]) < 1e-5 and math.abs(yv[c] - var[c] / (var[c] + 1e-5)) < 1e-4)
      assert.is_true(math.abs(m.runningMean[c] - 0.25 * mean[c]) < 1e-5)
      -- the running variance moves towards the unbiased variance
      assert.is_true(math.abs(m.runningVar[c] - (0.75 + 0.25 * var[c] * n / (n - 1))) < 1e-4)
    end
  end)

  it("normalizes with the running statistics in evaluation, which leaves them as they are", function()
    local m = randomized(nn.BatchNorm1d(2))
    m.runningMean:copy(lunet.tensor({0.5, -1}))
    m.runningVar:copy(lunet.tensor({4, 0.25}))
    m:evaluate()
    local x = lunet.randn(3, 2)
    local y = m:forward(x)
    for i = 1, 3 do
      for c = 1, 2 do
        local want = (x[i][c] - m.runningMean[c]) / math.sqrt(m.runningVar[c] + 1e-5) * m.weight[c] + m.bias[c]
        assert.is_true(math.abs(y[i][c] - want) < 1e-5)
      end
    end
    assert.are.same({0.5, -1}, m.runningMean:totable())
    assert.are.same({4, 0.25}, m.runningVar:totable())
    -- one sample is fine in evaluation
    assert.are.same({1, 2}, m:forward(lunet.randn(1, 2)):size())
  end)

  it("without running statistics normalizes with the batch's in evaluation too", function()
    local m = nn.BatchNorm2d(2, {trackRunningStats = false})
    assert.is_nil(m.runningMean)
    local x = lunet.randn(2, 2, 3, 3)
    local train = m:forward(x):clone()
    m:evaluate()
    close(m:forward(x), train, 0, "evaluation output")
    assert.are.equal(0, #m:stateTensors())
  end)

  it("reuses its buffers between calls and keeps the running statistics through clearState", function()
    local m = nn.BatchNorm2d(2)
    local x = lunet.randn(2, 2, 3, 3)
    local out = m:forward(x)
    local gin = m:backward(x, lunet.randn(2, 2, 3, 3))
    assert.are.equal(out, m:forward(x))
    assert.are.equal(gin, m:backward(x, lunet.randn(2, 2, 3, 3)))
    local rm = m.runningMean:clone()
    m:clearState()
    close(m.runningMean, rm, 0, "runningMean")
    assert.are.equal(0, m.output:numel())
  end)

  it("with needInputGrad = false, accumulates the parameter gradients alone", function()
    local m = randomized(nn.BatchNorm1d(3))
    local x, r = lunet.randn(4, 3), lunet.randn(4, 3)
    local full = run(m, x, r)
    m.needInputGrad = false
    m:zeroGrad()
    m:forward(x)
    assert.is_nil(m:backward(x, r))
    close(m.gradWeight, full.gradWeight, 1e-6, "gradWeight")
    m:backward(x, r)
    close(m.gradBias, full.gradBias:mul(2), 1e-6, "accumulated gradBias")
    -- and updateGradInput alone is the input's gradient
    close(m:updateGradInput(x, r), full.gradInput, 1e-6, "updateGradInput")
  end)

  it("used twice in a model, computes what two copies of it would", function()
    local shared, linear = randomized(nn.BatchNorm1d(4)), nn.Linear(4, 4)
    local twice = nn.Sequential():add(shared):add(linear):add(shared)
    local first, second = nn.BatchNorm1d(4), nn.BatchNorm1d(4)
    for _, m in ipairs({first, second}) do
      m.weight:copy(shared.weight)
      m.bias:copy(shared.bias)
    end
    local copies = nn.Sequential():add(first):add(linear):add(second)
    local x, r = lunet.randn(5, 4), lunet.randn(5, 4)
    local a, b = run(twice, x, r), run(copies, x, r)
    close(a.output, b.output, 1e-6, "output")
    close(a.gradInput, b.gradInput, 1e-5, "gradInput")
    close(shared.gradWeight, first.gradWeight:add(second.gradWeight), 1e-5, "gradWeight")
  end)

  it("saves its running statistics in a checkpoint and gets them back", function()
    local function net()
      return nn.Sequential():add(nn.Conv2d(1, 2, 3)):add(nn.BatchNorm2d(2)):add(nn.ReLU())
        :add(nn.Flatten()):add(nn.Linear(8, 2)):add(nn.BatchNorm1d(2))
    end
    local a = net()
    for _ = 1, 3 do a:forward(lunet.randn(4, 1, 4, 4)) end
    local states = a:stateTensors()
    assert.are.equal(4, #states)
    local path = os.tmpname()
    checkpoint.save(path, {model = a})
    local b = net()
    checkpoint.load(path, b)
    for i, t in ipairs(b:stateTensors()) do close(t, states[i], 0, "state " .. i) end
    a:evaluate()
    b:evaluate()
    local x = lunet.randn(2, 1, 4, 4)
    close(b:forward(x), a:forward(x), 0, "evaluation output")
    -- a model without the running statistics is another model
    local c = nn.Sequential():add(nn.Conv2d(1, 2, 3)):add(nn.BatchNorm2d(2, {trackRunningStats = false}))
      :add(nn.ReLU()):add(nn.Flatten()):add(nn.Linear(8, 2)):add(nn.BatchNorm1d(2, {trackRunningStats = false}))
    assert.has_error(function() checkpoint.load(path, c) end,
      ("checkpoint.load: %s holds 4 state tensors but the model has 0 (another model?)"):format(path))
    os.remove(path)
  end)

  it("prints its settings", function()
    assert.are.equal("BatchNorm2d(16, eps 1e-05, momentum 0.1)", tostring(nn.BatchNorm2d(16)))
    assert.are.equal("BatchNorm1d(4, eps 0.001, momentum 0.2, no affine, no running stats)",
      tostring(nn.BatchNorm1d(4, {eps = 1e-3, momentum = 0.2, affine = false, trackRunningStats = false})))
    assert.are.equal("LayerNorm((3,4), eps 1e-05)", tostring(nn.LayerNorm({3, 4})))
    assert.are.equal("AvgPool2d(3x3, stride 2, padding 1, ceil mode, padding not counted)",
      tostring(nn.AvgPool2d(3, {stride = 2, padding = 1, ceilMode = true, countIncludePad = false})))
    assert.are.equal("AdaptiveAvgPool2d(1x1)", tostring(nn.AdaptiveAvgPool2d(1)))
    assert.are.equal("Embedding(10, 4, paddingIdx 10)", tostring(nn.Embedding(10, 4, {paddingIdx = -1})))
  end)
end)

describe("LayerNorm, pooling and Embedding", function()
  before_each(function() lunet.manualSeed(13) end)

  it("LayerNorm normalizes each slice, the same in training and evaluation", function()
    local m = randomized(nn.LayerNorm({2, 3}))
    local x = lunet.randn(4, 2, 3):mul(5):add(3)
    local y = m:forward(x):clone()
    local plain = nn.LayerNorm({2, 3}, {elementwiseAffine = false}):forward(x)
    local flat = plain:view(4, 6)
    for i = 1, 4 do
      assert.is_true(math.abs(flat[i]:mean()) < 1e-5)
      assert.is_true(math.abs(flat[i]:var() * 5 / 6 - 1) < 1e-3)
    end
    close(y, plain:mul(m.weight:view(1, 2, 3):expand(4, 2, 3)):add(m.bias:view(1, 2, 3):expand(4, 2, 3)), 1e-6,
      "affine")
    m:evaluate()
    close(m:forward(x), y, 0, "evaluation")
  end)

  it("AvgPool2d with the padding counted or not, by hand", function()
    local x = lunet.arange(1, 10):view(1, 1, 3, 3)
    local with = nn.AvgPool2d(2, {stride = 2, padding = 1}):forward(x)
    assert.are.same({{{{1 / 4, 5 / 4}, {11 / 4, 7}}}}, with:totable())
    local without = nn.AvgPool2d(2, {stride = 2, padding = 1, countIncludePad = false}):forward(x)
    assert.are.same({{{{1, 2.5}, {5.5, 7}}}}, without:totable())
    assert.are.same({1, 1, 2, 2}, nn.AvgPool2d(2, {ceilMode = true}):forward(x):size())
    assert.are.same({1, 1, 1, 1}, nn.AvgPool2d(2):forward(x):size())
  end)

  it("AdaptiveAvgPool2d(1) is the mean of each plane", function()
    local x = lunet.randn(2, 3, 5, 7)
    local y = nn.AdaptiveAvgPool2d(1):forward(x)
    close(y:view(6), x:view(6, 35):mean(2):view(6), 1e-6, "global pooling")
  end)

  it("Embedding looks rows up for indices of any shape and adds gradients into the rows used alone", function()
    local m = nn.Embedding(5, 3, {paddingIdx = 2})
    assert.are.same({0, 0, 0}, m.weight[2]:totable())
    local idx = lunet.tensor({{{1, 2}, {4, 1}}}):int()
    local y = m:forward(idx)
    assert.are.same({1, 2, 2, 3}, y:size())
    close(y[1][2][1], m.weight[4], 0, "row 4")
    m:zeroGrad()
    assert.is_nil(m:backward(idx, lunet.ones(1, 2, 2, 3)))
    assert.are.same({{2, 2, 2}, {0, 0, 0}, {0, 0, 0}, {1, 1, 1}, {0, 0, 0}}, m.gradWeight:totable())
    -- a scalar index gives one vector
    assert.are.same({3}, m:forward(lunet.tensor(3):int()):size())
    assert.are.same({0, 3}, m:forward(lunet.zeros(0, "int")):size())
  end)
end)

describe("norm kernels: the results do not depend on the thread count", function()
  it("batchnorm, layernorm, the poolings and embedding's gradient, bit for bit", function()
    -- sizes that make several chunks of every loop
    local function once()
      lunet.manualSeed(14)
      local x = lunet.randn(64, 16, 12, 12):mul(2):add(1)
      local res = {}
      for _, m in ipairs({randomized(nn.BatchNorm2d(16)), randomized(nn.LayerNorm({12, 12})),
                          nn.AvgPool2d(3, {stride = 2, padding = 1}), nn.AdaptiveAvgPool2d({5, 7})}) do
        local got = run(m, x, lunet.randn(m:forward(x):size()))
        for _, k in ipairs({"output", "gradInput", "gradWeight", "gradBias"}) do res[#res + 1] = got[k] end
        res[#res + 1] = m.runningMean
      end
      local e = nn.Embedding(50, 40)
      local idx = lunet.rand(5000):mul(50):floor():add(1):int()
      e:backward(idx, lunet.randn(5000, 40))
      res[#res + 1] = e.gradWeight
      return res
    end
    local saved = core.getNumThreads()
    core.setNumThreads(1)
    local one = once()
    core.setNumThreads(2)
    local two = once()
    core.setNumThreads(saved)
    for i = 1, #one do
      if one[i] then assert.are.equal(0, (one[i] - two[i]):abs():max()) end
    end
  end)
end)

describe("norm layers: errors", function()
  it("refuse bad constructor arguments and options", function()
    assert.has_error(function() nn.BatchNorm2d(0) end, "BatchNorm2d: numFeatures must be an integer >= 1, got 0")
    assert.has_error(function() nn.BatchNorm2d(3, {foo = 1}) end,
      'BatchNorm2d: unknown option "foo" (known: affine, eps, momentum, trackRunningStats)')
    assert.has_error(function() nn.BatchNorm1d(3, {momentum = 1.5}) end,
      "BatchNorm1d: momentum must be a number in [0, 1], got 1.5")
    assert.has_error(function() nn.BatchNorm1d(3, {eps = 0}) end, "BatchNorm1d: eps must be a positive number, got 0")
    assert.has_error(function() nn.BatchNorm1d(3, {affine = "yes"}) end,
      "BatchNorm1d: option affine must be true or false, got yes")
    assert.has_error(function() nn.LayerNorm({}) end,
      "LayerNorm: normalizedShape must be a positive integer or a list of 1 to 7 of them, got a list of 0")
    assert.has_error(function() nn.LayerNorm({3, 0}) end, "LayerNorm: normalizedShape[2] must be an integer >= 1, got 0")
    assert.has_error(function() nn.AvgPool2d(3, {padding = 2}) end,
      "AvgPool2d: padding must be between 0 and half the kernel, got 2 for kernel 3x3")
    assert.has_error(function() nn.AvgPool2d(2, {ceil = true}) end,
      'AvgPool2d: unknown option "ceil" (known: ceilMode, countIncludePad, padding, stride)')
    assert.has_error(function() nn.AdaptiveAvgPool2d({0, 2}) end, "AdaptiveAvgPool2d: output size must be >= 1, got 0x2")
    assert.has_error(function() nn.Embedding(5, 0) end, "Embedding: dim must be an integer >= 1, got 0")
    assert.has_error(function() nn.Embedding(5, 2, {paddingIdx = 6}) end,
      "Embedding: paddingIdx must be an integer in -5..5, got 6")
    assert.has_error(function() nn.Embedding(5, 2, {paddingIdx = 0}) end,
      "Embedding: paddingIdx must be a row, 1..5 or -5..-1, got 0")
  end)

  it("refuse inputs of the wrong rank, channel count, dtype or shape", function()
    assert.has_error(function() nn.BatchNorm2d(3):forward(lunet.randn(2, 3, 4)) end,
      "BatchNorm2d: input must be 4-D (N,C,H,W), got 3-D (2,3,4)")
    assert.has_error(function() nn.BatchNorm1d(3):forward(lunet.randn(2, 3, 4, 4)) end,
      "BatchNorm1d: input must be 2-D (N,C) or 3-D (N,C,L), got 4-D (2,3,4,4)")
    assert.has_error(function() nn.BatchNorm2d(3):forward(lunet.randn(2, 4, 3, 3)) end,
      "BatchNorm2d: input (2,4,3,3) has 4 channels (dimension 2), the module expects 3")
    assert.has_error(function() nn.BatchNorm1d(3):forward(lunet.randn(1, 3)) end,
      "BatchNorm1d: training needs more than 1 value per channel, got input (1,3)")
    assert.has_error(function() nn.LayerNorm({3, 4}):forward(lunet.randn(2, 4, 3)) end,
      "LayerNorm: input (2,4,3) must end with the normalized shape (3,4)")
    assert.has_error(function() nn.AvgPool2d(2):forward(lunet.randn(2, 3, 4)) end,
      "avgpool2d: input must be 4-D (N,C,H,W), got 3-D (2,3,4)")
    assert.has_error(function() nn.AvgPool2d(5):forward(lunet.randn(1, 1, 3, 3)) end,
      "avgpool2d: a 5x5 window with padding 0x0 does not fit the 3x3 input")
    assert.has_error(function() nn.AdaptiveAvgPool2d(2):forward(lunet.randn(1, 1, 0, 3)) end,
      "adaptive_avgpool2d: input (1,1,0,3) has empty planes")
    assert.has_error(function() nn.Embedding(5, 2):forward(lunet.tensor({1, 2})) end,
      "Embedding: indices must be a int tensor, got float")
  end)

  it("Embedding refuses an index out of range, in the forward and the backward", function()
    local m = nn.Embedding(5, 2)
    assert.has_error(function() m:forward(lunet.tensor({1, 6}):int()) end,
      "embedding: index 6 is out of range 1..5 (the number of embeddings)")
    assert.has_error(function() m:forward(lunet.tensor({{0, 2}}):int()) end,
      "embedding: index 0 is out of range 1..5 (the number of embeddings)")
    assert.has_error(function() m:backward(lunet.tensor({1, 6}):int(), lunet.zeros(2, 2)) end,
      "embedding: index 6 is out of range 1..5 (the number of embeddings)")
    assert.has_error(function() m:backward(lunet.tensor({1, 2}):int(), lunet.zeros(2, 3)) end,
      "embedding: grad_output must be (indices..., dim) = (2,2), got (2,3)")
  end)

  it("the kernels check their arguments before touching memory", function()
    local x = lunet.randn(4, 3)
    assert.has_error(function()
      core.batchnorm_forward(x, lunet.ones(4), nil, nil, nil, empty(), empty(), empty(), true, 0.1, 1e-5)
    end, "batchnorm: weight must be (C) = (3), got (4)")
    assert.has_error(function()
      core.batchnorm_forward(x, nil, nil, lunet.zeros(3), nil, empty(), empty(), empty(), true, 0.1, 1e-5)
    end, "batchnorm: give both running_mean and running_var, or neither")
    local rm = lunet.zeros(6)
    assert.has_error(function()
      core.batchnorm_forward(x, nil, nil, rm:narrow(1, 1, 3), rm:narrow(1, 2, 3), empty(), empty(), empty(), true,
        0.1, 1e-5)
    end, "batchnorm: argument #4 (running_mean), which the kernel writes, overlaps argument #5, which it reads "
      .. "or writes at the same time (pass a separate tensor)")
    assert.has_error(function()
      core.batchnorm_forward(x, nil, nil, nil, nil, empty(), empty(), empty(), true, 2, 1e-5)
    end, "batchnorm: momentum must be in [0.0, 1.0], got 2.0")
    local ok, err = pcall(core.batchnorm_forward, x, nil, nil, nil, nil, empty(), empty(), empty(), true, 0 / 0, 1e-5)
    assert.is_false(ok)
    assert.truthy(err:find("batchnorm: momentum must be in [0.0, 1.0], got ", 1, true))
    assert.has_error(function()
      core.batchnorm_backward(x, lunet.zeros(4, 2), nil, lunet.zeros(3), lunet.ones(3), empty(), nil, nil, true)
    end, "batchnorm: input (4,3) and grad_output (4,2) differ in shape")
    assert.has_error(function()
      core.layernorm_forward(x, lunet.ones(4), nil, empty(), empty(), empty(), 1, 1e-5)
    end, "layernorm: weight must be (normalized shape) = (3), got (4)")
    assert.has_error(function()
      core.layernorm_forward(x, nil, nil, empty(), empty(), empty(), 3, 1e-5)
    end, "layernorm: input (4,3) has fewer than the 3 normalized dimensions")
    assert.has_error(function()
      core.avgpool2d_backward(lunet.zeros(1, 1, 4, 4), lunet.zeros(1, 1, 3, 3), empty(), 2, 2, 2, 2, 0, 0, false, true)
    end, "avgpool2d: grad_output must be (N,C,H,W) = (1,1,2,2), got (1,1,3,3)")
    assert.has_error(function()
      core.embedding_backward(lunet.tensor({1}):int(), lunet.zeros(1, 2), lunet.zeros(3, 2), empty("int"), 4)
    end, "embedding: padding_idx must be in 0..3, got 4")
  end)
end)
