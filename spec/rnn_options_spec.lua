-- The recurrent modules' options bidirectional, dropout and batchFirst (nn/rnn.lua):
-- parity with PyTorch (spec/fixtures/rnn/torch.lua, written by spec/parity/rnn_torch.py)
-- for 2-layer bidirectional time-first cells, gradients against finite differences with
-- dropout, and the options' errors.
local lunet = require "lunet"
local H = require "spec.helper"
local nn = lunet.nn

local function fromFixture(t) return lunet.tensor(t.data):view(t.shape) end

describe("bidirectional, stacked, time-first recurrent modules against PyTorch", function()
  for _, c in ipairs(dofile("spec/fixtures/rnn/torch.lua")) do
    it(c.name, function()
      local x = fromFixture(c.input)
      local m = nn[c.name](x:size(3), c.hN.shape[3], {layers = 2, bidirectional = true, batchFirst = false})
      for p, t in pairs(c.params) do m[p]:copy(fromFixture(t)) end
      local out = m:forward(x)
      assert.are.same(c.output.shape, out:size())
      assert.is_true(H.relerr(out, fromFixture(c.output)) < 1e-5, "output")
      -- PyTorch's h_n (layers*2, N, H): the top layer's forward and reverse units are the last two
      local hn = fromFixture(c.hN)
      assert.is_true(H.relerr(m.hN, lunet.cat({hn:select(1, 3), hn:select(1, 4)}, 2)) < 1e-5, "hN")
      m:zeroGrad()
      local g = m:backward(x, fromFixture(c.gradOutput))
      assert.is_true(H.relerr(g, fromFixture(c.gradInput)) < 1e-5, "gradInput")
      for p, t in pairs(c.gradParams) do
        local gname = "grad" .. p:sub(1, 1):upper() .. p:sub(2)
        assert.is_true(H.relerr(m[gname], fromFixture(t)) < 1e-5, gname)
      end
    end)
  end
end)

describe("recurrent options", function()
  it("batchFirst = false reads (T,N,D) as batchFirst reads (N,T,D)", function()
    lunet.manualSeed(2)
    local a = nn.GRU(3, 4, {layers = 2})
    local b = nn.GRU(3, 4, {layers = 2, batchFirst = false})
    for _, p in ipairs(a.paramNames) do b[p]:copy(a[p]) end
    local x = lunet.randn(2, 5, 3)
    local ya = a:forward(x)
    local xt = x:transpose(1, 2):contiguous()
    local yb = b:forward(xt)
    assert.are.same(ya:totable(), yb:transpose(1, 2):contiguous():totable())
    local r = lunet.randn(2, 5, 4)
    local ga = a:backward(x, r)
    local gb = b:backward(xt, r:transpose(1, 2):contiguous())
    assert.is_true(H.relerr(ga, gb:transpose(1, 2):contiguous()) < 1e-6)
  end)

  it("the reverse unit reads the sequence backwards", function()
    lunet.manualSeed(3)
    local m = nn.RNN(2, 3, {bidirectional = true})
    local fwd = nn.RNN(2, 3)
    for _, p in ipairs({"weightIH1", "weightHH1", "bias1"}) do fwd[p]:copy(m[p .. "Reverse"]) end
    local x = lunet.randn(2, 4, 2)
    local y = m:forward(x)
    local rev = lunet.tensor({4, 3, 2, 1}, "int")
    local yr = fwd:forward(x:indexSelect(2, rev)):indexSelect(2, rev)
    assert.are.same(yr:totable(), y:narrow(3, 4, 3):contiguous():totable())
  end)

  it("dropout: between layers in training only, with gradients that match finite differences", function()
    lunet.manualSeed(4)
    local m = nn.LSTM(2, 3, {layers = 2, dropout = 0.4, bidirectional = true})
    local x, r = lunet.randn(2, 3, 2), lunet.randn(2, 3, 6)
    m:evaluate()
    local e1 = m:forward(x):clone()
    assert.are.same(e1:totable(), m:forward(x):totable())
    m:train()
    local function f() lunet.manualSeed(9); return m:forward(x):mul(r):sum() end
    f()
    local dropped = m.output:clone()
    assert.is_true(H.relerr(dropped, e1) > 1e-3) -- a mask was drawn
    m:zeroGrad()
    local g = m:backward(x, r):clone()
    assert.is_true(H.relerr(g, H.numgrad(f, x, 1e-3)) < 1e-2)
    local gw = m.gradWeightIH2:clone()
    assert.is_true(H.relerr(gw, H.numgrad(f, m.weightIH2, 1e-3)) < 1e-2)
  end)

  it("a 1-layer module takes dropout and ignores it, as PyTorch (which warns)", function()
    lunet.manualSeed(5)
    local m = nn.GRU(2, 3, {dropout = 0.5})
    local x = lunet.randn(1, 3, 2)
    assert.are.same(m:forward(x):totable(), m:evaluate():forward(x):totable())
  end)

  it("initial states take the layers * 2 units of a bidirectional module", function()
    local m = nn.GRU(2, 3, {layers = 2, bidirectional = true})
    m:setInitialState(lunet.randn(4, 1, 3))
    local x = lunet.randn(1, 2, 2)
    m:forward(x)
    m:backward(x, lunet.ones(1, 2, 6))
    assert.are.same({4, 1, 3}, m.gradH0:size())
    assert.has_error(function() m:setInitialState(lunet.randn(2, 1, 3)) end,
      "GRU:setInitialState: h0 must be (2*layers,N,H) = (4,N,3), got (2,1,3)")
  end)

  it("print, save and load with their options", function()
    local m = nn.LSTM(2, 3, {layers = 2, bidirectional = true, dropout = 0.1, batchFirst = false})
    assert.are.equal("LSTM(2 -> 3, 2 layers, forgetBias 1, bidirectional, dropout 0.1, time first)", tostring(m))
    local path = os.tmpname()
    lunet.save(path, m)
    local m2 = lunet.load(path)
    os.remove(path)
    assert.are.equal(tostring(m), tostring(m2))
    assert.are.same(m.weightHH2Reverse:totable(), m2.weightHH2Reverse:totable())
  end)

  it("refuse bad options", function()
    assert.has_error(function() nn.LSTM(2, 3, {dropout = 1}) end, "LSTM: dropout must be a number in [0, 1), got 1")
    assert.has_error(function() nn.GRU(2, 3, {bidirectional = "yes"}) end, "GRU: bidirectional must be a boolean, got yes")
    assert.has_error(function() nn.RNN(2, 3, {batchFirst = 0}) end, "RNN: batchFirst must be a boolean, got 0")
    assert.has_error(function() nn.RNN(2, 3, {batchFirst = false}):forward(lunet.zeros(4, 1, 3)) end,
      "RNN: input must be (T,N,2), time first (batchFirst = false), got (4,1,3)")
  end)
end)
