-- Specs of the recurrent modules (lua/lunet/nn/rnn.lua) and their kernels (csrc/kernels/rnn.c):
-- known answers against a float64 reference written from the cells' equations,
-- finite-difference gradient checks over multi-step sequences, errors, and a task
-- that only memory solves.
local lunet = require "lunet"
local nn = require "lunet.nn"
local optim = require "lunet.optim"
local train = require "lunet.train"
local core = require "lunet.core"
local H = require "spec.helper"

local CELLS = { "RNN", "LSTM", "GRU" }
local GATES = { RNN = 1, LSTM = 4, GRU = 3 }

---------------------------------------------------------------------------------
-- The reference: the equations of csrc/kernels/rnn.c, in float64, on plain tables.
local function sigmoid(v) return 1 / (1 + math.exp(-v)) end
local function tanh(v) return 1 - 2 / (math.exp(2 * v) + 1) end

-- W (K, D) times v (D) -> (K)
local function matvec(W, v)
  local out = {}
  for k = 1, #W do
    local s = 0
    for d = 1, #v do s = s + W[k][d] * v[d] end
    out[k] = s
  end
  return out
end

-- One step of a cell: returns h', c' (c' for the LSTM only).
local function refStep(cell, x, h, c, weightIH, weightHH, biasIH, biasHH)
  local px, ph, Hn = matvec(weightIH, x), matvec(weightHH, h), #h
  local h2, c2 = {}, {}
  for j = 1, Hn do
    if cell == "RNN" then
      h2[j] = tanh(px[j] + ph[j] + biasIH[j])
    elseif cell == "LSTM" then
      local i = sigmoid(px[j] + ph[j] + biasIH[j])
      local f = sigmoid(px[Hn + j] + ph[Hn + j] + biasIH[Hn + j])
      local g = tanh(px[2 * Hn + j] + ph[2 * Hn + j] + biasIH[2 * Hn + j])
      local o = sigmoid(px[3 * Hn + j] + ph[3 * Hn + j] + biasIH[3 * Hn + j])
      c2[j] = f * c[j] + i * g
      h2[j] = o * tanh(c2[j])
    else
      local r = sigmoid(px[j] + biasIH[j] + ph[j] + biasHH[j])
      local z = sigmoid(px[Hn + j] + biasIH[Hn + j] + ph[Hn + j] + biasHH[Hn + j])
      local n = tanh(px[2 * Hn + j] + biasIH[2 * Hn + j] + r * (ph[2 * Hn + j] + biasHH[2 * Hn + j]))
      h2[j] = (1 - z) * n + z * h[j]
    end
  end
  return h2, c2
end

-- A one-layer module's forward on x (N,T,D) from h0, c0 (N,H tables or nil):
-- y as nested tables (N,T,H) and the last cell state (N,H).
local function reference(m, x, h0, c0)
  local cell, Hn = m.typename, m.hiddenSize
  local weightIH, weightHH = m.weightIH1:totable(), m.weightHH1:totable()
  local biasIH = (m.bias1 or m.biasIH1):totable()
  local biasHH = m.biasHH1 and m.biasHH1:totable()
  local xs = x:totable()
  local y, cN = {}, {}
  for n = 1, #xs do
    local h, c = {}, {}
    for j = 1, Hn do
      h[j] = h0 and h0[n][j] or 0
      c[j] = c0 and c0[n][j] or 0
    end
    y[n] = {}
    for t = 1, #xs[n] do
      h, c = refStep(cell, xs[n][t], h, c, weightIH, weightHH, biasIH, biasHH)
      y[n][t] = h
    end
    cN[n] = c
  end
  return y, cN
end

local function maxdiff(a, b)
  if type(a) == "number" then return math.abs(a - b) end
  assert.equal(#a, #b)
  local m = 0
  for i = 1, #a do m = math.max(m, maxdiff(a[i], b[i])) end
  return m
end

---------------------------------------------------------------------------------
describe("recurrent cells, known answers", function()
  -- One step by hand, hidden size 1, input size 2: x = (0.3, 0.4), h0 = 0.2, c0 = -0.5.
  local x = lunet.tensor({ { { 0.3, 0.4 } } })
  local h0, c0 = lunet.tensor({ { 0.2 } }), lunet.tensor({ { -0.5 } })

  it("RNN: h = tanh(Wx x + Wh h0 + b)", function()
    local m = nn.RNN(2, 1)
    m.weightIH1:copy(lunet.tensor({ { 1, -2 } }))
    m.weightHH1:fill(0.5)
    m.bias1:fill(0.1)
    m:setInitialState(h0)
    local want = tanh(0.3 - 0.8 + 0.5 * 0.2 + 0.1)
    assert.near(want, m:forward(x)[1][1][1], 1e-6)
  end)

  it("LSTM: gates in the order i, f, g, o", function()
    local m = nn.LSTM(2, 1)
    m.weightIH1:copy(lunet.tensor({ { 1, 0 }, { 0, 1 }, { -1, 1 }, { 2, 0 } }))
    m.weightHH1:copy(lunet.tensor({ { 0.5 }, { -0.5 }, { 1 }, { 0 } }))
    m.bias1:copy(lunet.tensor({ 0.1, 0.2, 0.3, -0.4 }))
    m:setInitialState(h0, c0)
    local i = sigmoid(0.3 + 0.5 * 0.2 + 0.1)
    local f = sigmoid(0.4 - 0.5 * 0.2 + 0.2)
    local g = tanh(-0.3 + 0.4 + 0.2 + 0.3)
    local o = sigmoid(0.6 - 0.4)
    local c = f * -0.5 + i * g
    assert.near(o * tanh(c), m:forward(x)[1][1][1], 1e-6)
    assert.near(c, m.cN[1][1], 1e-6)
  end)

  it("GRU: the reset gate scales Wh_n h + b_hn (PyTorch's formulation)", function()
    local m = nn.GRU(2, 1)
    m.weightIH1:copy(lunet.tensor({ { 1, 0 }, { 0, 1 }, { -1, 1 } }))
    m.weightHH1:copy(lunet.tensor({ { 0.5 }, { -0.5 }, { 2 } }))
    m.biasIH1:copy(lunet.tensor({ 0.1, 0.2, 0.3 }))
    m.biasHH1:copy(lunet.tensor({ -0.1, 0.05, 0.7 }))
    m:setInitialState(h0)
    local r = sigmoid(0.3 + 0.1 + 0.5 * 0.2 - 0.1)
    local z = sigmoid(0.4 + 0.2 - 0.5 * 0.2 + 0.05)
    local n = tanh(0.1 + 0.3 + r * (2 * 0.2 + 0.7))
    assert.near((1 - z) * n + z * 0.2, m:forward(x)[1][1][1], 1e-6)
  end)

  for _, cell in ipairs(CELLS) do
    it(cell .. " matches the float64 reference over 5 steps, with and without an initial state", function()
      lunet.manualSeed(11)
      local m = nn[cell](3, 4)
      local x5 = lunet.randn(2, 5, 3)
      local y = reference(m, x5)
      assert.is_true(maxdiff(y, m:forward(x5):totable()) < 2e-6)
      local s0, sc = lunet.randn(2, 4), lunet.randn(2, 4)
      m:setInitialState(s0, cell == "LSTM" and sc or nil)
      local cN
      y, cN = reference(m, x5, s0:totable(), sc:totable())
      assert.is_true(maxdiff(y, m:forward(x5):totable()) < 2e-6)
      assert.same(m.output:select(2, 5):totable(), m.hN:totable())
      if cell == "LSTM" then assert.is_true(maxdiff(cN, m.cN:totable()) < 2e-6) end
    end)
  end

  it("saturated gates stay finite and exact at the limits", function()
    local m = nn.LSTM(1, 2)
    m.weightIH1:fill(100)
    m.weightHH1:zero()
    m.bias1:zero()
    local y = m:forward(lunet.tensor({ { { 50 }, { -50 } } }))
    -- step 1: i = f = g = o = 1: c = 1, h = tanh(1); step 2: i = f = o = 0, g = -1: c = 0
    assert.near(tanh(1), y[1][1][1], 1e-6)
    assert.equal(0, y[1][2][1])
  end)

  it("a NaN input gives NaN outputs, not saturated values", function()
    local m = nn.GRU(1, 2)
    local y = m:forward(lunet.tensor({ { { 0 / 0 } } }))
    assert.is_true(y[1][1][1] ~= y[1][1][1])
  end)
end)

---------------------------------------------------------------------------------
-- Loss = sum(y * R): the analytic gradients of a module against centered differences.
local function gradcheck(m, x, R)
  local function f() return m:forward(x):dot(R) end
  m:zeroGrad()
  m:forward(x)
  m:backward(x, R)
  local checks = { { x, m.gradInput:clone(), "input" } }
  local ws, gs = m:parameters()
  for i, w in ipairs(ws) do checks[#checks + 1] = { w, gs[i]:clone(), m.paramNames[i] } end
  local gh0, gc0 = m.gradH0:clone(), m.gradC0 and m.gradC0:clone()
  if m.h0 then checks[#checks + 1] = { m.h0, gh0, "h0" } end
  if m.c0 then checks[#checks + 1] = { m.c0, gc0, "c0" } end
  for _, c in ipairs(checks) do
    local err = H.relerr(H.numgrad(f, c[1], 1e-2), c[2])
    assert(err < 1e-2, ("%s: gradient w.r.t. %s is off by %.3g (relative)"):format(tostring(m), c[3], err))
  end
end

describe("recurrent cells, gradients against finite differences", function()
  for _, cell in ipairs(CELLS) do
    it(cell .. " over 4 steps: input, weights, biases, initial state", function()
      lunet.manualSeed(3)
      local m = nn[cell](3, 4)
      m:setInitialState(lunet.randn(2, 4) * 0.5, cell == "LSTM" and lunet.randn(2, 4) * 0.5 or nil)
      gradcheck(m, lunet.randn(2, 4, 3), lunet.randn(2, 4, 4))
    end)

    it(cell .. " from a zero initial state still has the gradient w.r.t. it", function()
      lunet.manualSeed(4)
      local m = nn[cell](2, 3)
      local x, R = lunet.randn(3, 3, 2), lunet.randn(3, 3, 3)
      m:forward(x)
      m:backward(x, R)
      local g = m.gradH0:clone()
      m:setInitialState(lunet.zeros(3, 3), cell == "LSTM" and lunet.zeros(3, 3) or nil)
      assert.is_true(H.relerr(H.numgrad(function() return m:forward(x):dot(R) end, m.h0, 1e-2), g) < 1e-2)
    end)
  end

  it("stacked two-layer LSTM with a (layers,N,H) initial state", function()
    lunet.manualSeed(5)
    local m = nn.LSTM(3, 4, { layers = 2 })
    m:setInitialState(lunet.randn(2, 2, 4) * 0.5, lunet.randn(2, 2, 4) * 0.5)
    gradcheck(m, lunet.randn(2, 3, 3), lunet.randn(2, 3, 4))
    assert.same({ 2, 2, 4 }, m.gradH0:size())
    assert.same({ 2, 2, 4 }, m.gradC0:size())
  end)

  it("stacked three-layer GRU", function()
    lunet.manualSeed(6)
    local m = nn.GRU(2, 3, { layers = 3 })
    gradcheck(m, lunet.randn(2, 3, 2), lunet.randn(2, 3, 3))
  end)

  it("Sequential{LSTM, LastStep, Linear} with CrossEntropyLoss", function()
    lunet.manualSeed(8)
    local model = nn.Sequential():add(nn.LSTM(3, 5)):add(nn.LastStep()):add(nn.Linear(5, 4))
    local crit = nn.CrossEntropyLoss()
    local x, labels = lunet.randn(3, 4, 3), lunet.tensor({ 1, 4, 2 }, "int")
    local function f() return crit:forward(model:forward(x), labels) end
    model:zeroGrad()
    f()
    model:backward(x, crit:backward(model.output, labels))
    local ws, gs = model:parameters()
    for i, w in ipairs(ws) do
      local g = gs[i]:clone()
      assert.is_true(H.relerr(H.numgrad(f, w, 1e-2), g) < 1e-2)
    end
  end)

  it("threaded gate passes (large batch and width) give the single-thread results", function()
    local threads = lunet.getNumThreads()
    for _, cell in ipairs({ "LSTM", "GRU" }) do
      lunet.manualSeed(12)
      local m = nn[cell](8, 256)
      local x, R = lunet.randn(64, 3, 8), lunet.randn(64, 3, 256)
      local got = {}
      for _, n in ipairs({ 1, 2 }) do
        lunet.setNumThreads(n)
        m:zeroGrad()
        got[n] = { m:forward(x):clone(), m:backward(x, R):clone(), m.gradH0:clone(), m.gradWeightHH1:clone() }
      end
      lunet.setNumThreads(threads)
      for k = 1, 4 do assert.is_true(H.relerr(got[1][k], got[2][k]) < 1e-5) end
    end
  end)

  it("parameter gradients accumulate, scaled by accGradParameters' scale", function()
    lunet.manualSeed(9)
    local m = nn.GRU(2, 3)
    local x, R = lunet.randn(2, 3, 2), lunet.randn(2, 3, 3)
    m:zeroGrad()
    m:forward(x)
    m:backward(x, R)
    local once = m.gradWeightHH1:clone()
    m:backward(x, R)
    assert.is_true(H.relerr(m.gradWeightHH1, once * 2) < 1e-6)
    m:accGradParameters(x, R, 0.5)
    assert.is_true(H.relerr(m.gradWeightHH1, once * 2.5) < 1e-6)
    m:zeroGrad()
    assert.equal(0, m.gradBiasHH1:abs():sum())
  end)

  it("accGradParameters alone runs backpropagation through time first", function()
    lunet.manualSeed(10)
    local m = nn.RNN(2, 3)
    local x, R = lunet.randn(2, 3, 2), lunet.randn(2, 3, 3)
    m:forward(x)
    m:backward(x, R)
    local want = m.gradWeightIH1:clone()
    m:zeroGrad()
    m:forward(x)
    m:accGradParameters(x, R)
    assert.is_true(H.relerr(m.gradWeightIH1, want) < 1e-6)
  end)
end)

---------------------------------------------------------------------------------
describe("recurrent modules", function()
  it("have PyTorch's parameter shapes, uniform +-1/sqrt(H) init and the forget bias", function()
    lunet.manualSeed(1)
    for _, cell in ipairs(CELLS) do
      local G, Hs = GATES[cell], 16
      local m = nn[cell](5, Hs, { layers = 2 })
      assert.same({ G * Hs, 5 }, m.weightIH1:size())
      assert.same({ G * Hs, Hs }, m.weightIH2:size())
      assert.same({ G * Hs, Hs }, m.weightHH2:size())
      local ws = m:parameters()
      assert.equal(cell == "GRU" and 8 or 6, #ws)
      local bound = 1 / math.sqrt(Hs)
      for i, w in ipairs(ws) do
        local v = w
        if cell == "LSTM" and m.paramNames[i]:match("^bias") then
          assert.same({ 1, 1 }, { w:narrow(1, Hs + 1, Hs):min(), w:narrow(1, Hs + 1, Hs):max() })
          v = w:narrow(1, 1, Hs)
        end
        assert.is_true(v:max() <= bound and v:min() >= -bound and v:std() > bound / 4)
      end
    end
    local m = nn.LSTM(2, 4, { forgetBias = false })
    assert.is_true(m.bias1:narrow(1, 5, 4):max() < 0.5)
    assert.equal(3, nn.LSTM(2, 4, { forgetBias = 3 }).bias1[5])
  end)

  it("return all hidden states, the last as hN, and take non-contiguous input", function()
    lunet.manualSeed(2)
    local m = nn.GRU(3, 4)
    local xt = lunet.randn(5, 2, 3):transpose(1, 2) -- (2,5,3), not contiguous
    local y = m:forward(xt)
    assert.same({ 2, 5, 4 }, y:size())
    assert.same(y:select(2, 5):totable(), m.hN:totable())
    assert.is_true(maxdiff(y:totable(), m:forward(xt:contiguous()):totable()) == 0)
  end)

  it("reuse their buffers across calls and follow changes of batch and length", function()
    lunet.manualSeed(3)
    local m = nn.LSTM(2, 3)
    local y1 = m:forward(lunet.randn(4, 6, 2))
    local state = m.layer[1].state
    m:backward(m.x, lunet.randn(4, 6, 3))
    m:forward(lunet.randn(4, 6, 2))
    assert.equal(y1, m.output)
    assert.equal(state, m.layer[1].state)
    local x2 = lunet.randn(2, 3, 2)
    assert.same({ 2, 3, 3 }, m:forward(x2):size())
    assert.same({ 2, 3, 2 }, m:backward(x2, lunet.randn(2, 3, 3)):size())
  end)

  it("print themselves", function()
    assert.equal("LSTM(28 -> 64, forgetBias 1)", tostring(nn.LSTM(28, 64)))
    assert.equal("GRU(28 -> 64, 2 layers)", tostring(nn.GRU(28, 64, { layers = 2 })))
    assert.equal("RNN(3 -> 4)", tostring(nn.RNN(3, 4)))
    assert.equal("LastStep", tostring(nn.LastStep()))
    assert.equal("SelectTime(2)", tostring(nn.SelectTime(2)))
  end)

  it("SelectTime picks a step and routes the gradient back to it alone", function()
    local x = lunet.randn(2, 4, 3)
    local s = nn.SelectTime(2)
    assert.same(x:select(2, 2):totable(), s:forward(x):totable())
    local g = s:backward(x, lunet.ones(2, 3))
    assert.equal(6, g:sum())
    assert.equal(6, g:select(2, 2):sum())
    assert.same(x:select(2, 4):totable(), nn.LastStep():forward(x):totable())
    assert.same(x:select(2, 3):totable(), nn.SelectTime(-2):forward(x):totable())
  end)
end)

---------------------------------------------------------------------------------
describe("recurrent errors", function()
  it("name the module and what was expected", function()
    local m = nn.LSTM(28, 8)
    assert.has_error(function() m:forward(lunet.zeros(10, 28)) end,
      "LSTM: input must be 3-D (N,T,D), got 2-D (10,28)")
    assert.has_error(function() m:forward(lunet.zeros(10, 28, 10)) end,
      "LSTM: input must be (N,T,28), got (10,28,10)")
    assert.has_error(function() m:forward("x") end, "LSTM: input must be a tensor (N,T,D), got string")
    assert.has_error(function() nn.GRU(0, 3) end, "GRU: inputSize and hiddenSize must be positive integers, got 0 and 3")
    assert.has_error(function() nn.RNN(2, 3, { layers = 0 }) end, "RNN: layers must be a positive integer, got 0")
    assert.has_error(function() nn.GRU(2, 3, { forgetBias = 1 }) end, "GRU: unknown option \"forgetBias\" (known: layers, bidirectional, dropout, batchFirst)")
    assert.has_error(function() nn.LSTM(2, 3, { forgetBias = "1" }) end, "LSTM: forgetBias must be a number or false, got 1")
    assert.has_error(function() nn.SelectTime(0) end,
      "SelectTime: the time step must be a non-zero integer (negative counts from the end), got 0")
    assert.has_error(function() nn.SelectTime(5):forward(lunet.zeros(2, 4, 3)) end,
      "SelectTime: time step 5 is out of range for a sequence of 4 steps")
    assert.has_error(function() nn.LastStep():forward(lunet.zeros(2, 4)) end,
      "LastStep: input must be 3-D (N,T,H), got 2-D (2,4)")
  end)

  it("check the initial state", function()
    local m = nn.LSTM(2, 3, { layers = 2 })
    assert.has_error(function() m:setInitialState(lunet.zeros(4, 3)) end,
      "LSTM:setInitialState: h0 must be (layers,N,H) = (2,N,3), got (4,3)")
    assert.has_error(function() nn.GRU(2, 3):setInitialState(lunet.zeros(4, 3), lunet.zeros(4, 3)) end,
      "GRU:setInitialState: only the LSTM has a cell state c0")
    m:setInitialState(lunet.zeros(2, 4, 3))
    assert.has_error(function() m:forward(lunet.zeros(5, 2, 2)) end,
      "LSTM: the initial state h0 (2,4,3) is for a batch of 4, the input (5,2,2) has 5")
  end)

  it("backward needs the forward on the same input", function()
    local m = nn.GRU(2, 3)
    assert.has_error(function() m:backward(lunet.zeros(1, 2, 2), lunet.zeros(1, 2, 3)) end,
      "GRU:backward: call forward(input) with this same input first")
    m:forward(lunet.zeros(1, 2, 2))
    assert.has_error(function() m:backward(m.x, lunet.zeros(1, 3, 3)) end,
      "gru_backward_input: grad_output must be (N,T,H) = (1,2,3), got (1,3,3)")
  end)

  it("in the kernels: shapes, nil slots, aliasing and stale state", function()
    local x, y, st = lunet.zeros(2, 3, 4), lunet.zeros(0), lunet.zeros(0)
    local wx, wh, b = lunet.zeros(8, 4), lunet.zeros(8, 2), lunet.zeros(8)
    assert.has_error(function() core.lstm_forward(x, lunet.zeros(6, 4), wh, b, nil, nil, nil, y, lunet.zeros(0), st) end,
      "lstm_forward: weight_ih must have 4*H rows (the lstm gates stacked), got (6,4)")
    assert.has_error(function() core.rnn_forward(x, wx, lunet.zeros(8, 8), b, b, nil, nil, y, nil, st) end,
      "rnn_forward: argument #5 (bias_hh) must be nil for this cell, got a tensor")
    assert.has_error(function() core.rnn_forward(x, wx, lunet.zeros(8, 3), b, nil, nil, nil, y, nil, st) end,
      "rnn_forward: weight_hh must be (G*H,H) = (8,8), got (8,3)")
    assert.has_error(function() core.gru_forward(x, lunet.zeros(6, 4), lunet.zeros(6, 2), lunet.zeros(6), nil, nil, nil, y, nil, st) end,
      "gru_forward: argument #5 must be a tensor, got nil")
    assert.has_error(function() core.rnn_forward(x, wx, lunet.zeros(8, 8), b, nil, nil, nil, x, nil, st) end,
      "rnn_forward: argument #8 (y) is an output and must not be the same tensor as argument #1")
    assert.has_error(function() core.rnn_forward(x:transpose(1, 2), wx, lunet.zeros(8, 8), b, nil, nil, nil, y, nil, st) end,
      "rnn_forward: input must be contiguous (call :contiguous())")
    assert.has_error(function() core.rnn_forward(lunet.zeros(2, 0, 4), wx, lunet.zeros(8, 8), b, nil, nil, nil, y, nil, st) end,
      "rnn_forward: input must have N, T, D >= 1, got (2,0,4)")
    assert.has_error(function() core.rnn_forward(lunet.zeros(2, 3, 4, "int"), wx, lunet.zeros(8, 8), b, nil, nil, nil, y, nil, st) end)
    core.rnn_forward(x, wx, lunet.zeros(8, 8), b, nil, nil, nil, y, nil, st)
    assert.has_error(function()
      core.rnn_backward_input(lunet.zeros(2, 4, 4), wx, lunet.zeros(8, 8), st, lunet.zeros(2, 4, 8), lunet.zeros(0),
        lunet.zeros(0), nil, lunet.zeros(0))
    end, "rnn_backward_input: state must be the (128) floats that rnn_forward left for these shapes, got (96)")
    assert.has_error(function()
      core.rnn_backward_params(x, st, lunet.zeros(5), lunet.zeros(8, 4), lunet.zeros(8, 8), lunet.zeros(8), nil)
    end, "rnn_backward_params: scratch must be the (48) floats that rnn_backward_input left for these shapes, got (5)")
  end)
end)

---------------------------------------------------------------------------------
describe("recurrent learning", function()
  -- The class is the one-hot first step; every later step is noise as large as the
  -- signal, so only what the cell carried through time tells the classes apart.
  local K, T = 3, 8
  local function batch(n)
    local labels, onehot = {}, {}
    for i = 1, n do
      labels[i] = math.random(K)
      onehot[i] = {}
      for k = 1, K do onehot[i][k] = k == labels[i] and 1 or 0 end
    end
    local x = lunet.randn(n, T, K)
    x:select(2, 1):copy(lunet.tensor(onehot))
    return x, lunet.tensor(labels, "int")
  end

  for _, cell in ipairs(CELLS) do
    it(cell .. " remembers the first of 8 steps through the noise", function()
      lunet.manualSeed(1)
      math.randomseed(1)
      local model = nn.Sequential():add(nn[cell](K, 16)):add(nn.LastStep()):add(nn.Linear(16, K))
      local crit = nn.CrossEntropyLoss()
      local opt = optim.Adam(model, { lr = 0.02 })
      for _ = 1, 300 do
        local x, y = batch(32)
        train.step(model, crit, opt, x, y)
      end
      local x, y = batch(500)
      local pred = model:evaluate():forward(x):argmax(2)
      local correct = 0
      for i = 1, 500 do
        if pred[i] == y[i] then correct = correct + 1 end
      end
      assert(correct / 500 > 0.9, ("%s: test accuracy %.3f"):format(cell, correct / 500))
    end)
  end
end)
