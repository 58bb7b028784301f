-- The activations (nn/activation.lua) and the losses beyond the course's (nn/loss.lua):
-- parity with PyTorch (spec/fixtures/nn/torch.lua, written by spec/parity/nn_torch.py),
-- gradients against finite differences, and the error cases.
local lunet = require "lunet"
local H = require "spec.helper"
local nn = lunet.nn

local function fromFixture(t)
  if t == nil then return nil end
  local x = lunet.tensor(t.data, t.dtype or "float")
  return #t.shape == 0 and x:view({}) or x:view(t.shape)
end

local function build(c)
  return assert(load("local lunet = ...; return lunet.nn." .. c.name .. "(" .. c.args .. ")"))(lunet)
end

local function value(v) return lunet.isTensor(v) and v or lunet.full({}, v) end

describe("nn activations and losses against PyTorch", function()
  local cases = dofile("spec/fixtures/nn/torch.lua")
  it("has the fixture's cases", function() assert.is_true(#cases >= 40) end)
  for i, c in ipairs(cases) do
    it(("%d %s(%s)"):format(i, c.name, c.args), function()
      local m, x = build(c), fromFixture(c.input)
      local out, g
      if c.kind == "activation" then
        out = m:forward(x)
        g = m:backward(x, fromFixture(c.gradOutput))
      else
        local y = fromFixture(c.target)
        out = m:forward(x, y)
        g = m:backward(x, y, fromFixture(c.gradOutput))
      end
      assert.is_true(H.relerr(value(out), fromFixture(c.output)) < 1e-5, "output")
      assert.is_true(H.relerr(g, fromFixture(c.gradInput)) < 1e-5, "gradient")
    end)
  end
end)

describe("nn activations", function()
  local function jittered(n)
    lunet.manualSeed(7)
    local x = lunet.randn(n)
    return x:add_(x:sign():mul_(0.1)) -- away from the kinks at 0
  end

  for _, m in ipairs({nn.Tanh(), nn.Sigmoid(), nn.LeakyReLU(0.3), nn.ELU(0.7), nn.GELU(),
                       nn.GELU{approximate = "tanh"}, nn.SiLU(), nn.Softplus(1.5, 2), nn.Identity()}) do
    it(tostring(m) .. ": the gradient matches finite differences", function()
      local x, r = jittered(40), lunet.randn(40)
      m:forward(x)
      local g = m:backward(x, r):clone()
      local num = H.numgrad(function() return m:forward(x):mul(r):sum() end, x, 1e-3)
      assert.is_true(H.relerr(g, num) < 1e-2)
    end)
  end

  it("keep the shape, take non-contiguous-free batches of any rank and empty tensors", function()
    local x = lunet.randn(2, 3, 4, 5)
    assert.are.same({2, 3, 4, 5}, nn.GELU():forward(x):size())
    assert.are.equal(0, nn.Tanh():forward(lunet.zeros(0, 3)):numel())
  end)

  it("saturate without overflow: sigmoid, softplus and SiLU far from 0", function()
    local x = lunet.tensor{-200, -90, 90, 200}
    local s = nn.Sigmoid():forward(x)
    assert.is_true(s[1] == 0 and s[2] < 1e-38 and s[3] == 1 and s[4] == 1)
    assert.are.same({0, 90, 200}, {nn.Softplus():forward(x)[1], nn.Softplus():forward(x)[3],
      nn.Softplus():forward(x)[4]})
    assert.is_true(nn.SiLU():forward(x):sub(x:relu()):abs():max() < 1e-30)
  end)

  -- the vectorized exp writes 2^n into a float's exponent bits: a NaN input must not make
  -- that arithmetic overflow (undefined behaviour, which ./run.sh asan stops on)
  it("pass NaN through and keep the extremes free of NaN, forward and backward", function()
    local big = 3.4028234663852886e38
    local x = lunet.tensor{0 / 0, -big, big, -1 / 0, 1 / 0, 0}
    for _, m in ipairs({nn.Tanh(), nn.Sigmoid(), nn.LeakyReLU(0.3), nn.ELU(0.7), nn.GELU(),
                        nn.GELU{approximate = "tanh"}, nn.SiLU(), nn.Softplus()}) do
      local y = m:forward(x)
      local g = m:backward(x, lunet.ones(6))
      assert.is_true(y[1] ~= y[1], tostring(m) .. ": NaN in, NaN out")
      for i = 2, 3 do assert.is_true(y[i] == y[i] and g[i] == g[i], tostring(m) .. ": no NaN at +-FLT_MAX") end
      assert.is_true(y[6] == y[6] and g[6] == g[6], tostring(m) .. ": 0")
    end
    local s = nn.Sigmoid():forward(x)
    assert.are.same({0, 1, 0, 1, 0.5}, {s[2], s[3], s[4], s[5], s[6]})
    -- GELU's tanh form: its derivative tends to 0 and 1 (tanh saturated times an infinite slope)
    local gelu = nn.GELU{approximate = "tanh"}
    gelu:forward(x)
    local g = gelu:backward(x, lunet.ones(6))
    assert.are.same({0, 1, 0.5}, {g[2], g[3], g[6]})
  end)

  it("the vectorized exp and normal CDF hold float precision over the whole range", function()
    -- nn.Sigmoid and nn.GELU run on fastmath.h's exp and CDF; x:sigmoid() is libm's expf,
    -- and the GELU reference is built from Lua's math library in double
    local x = lunet.linspace(-86, 86, 20001)
    local a, b = nn.Sigmoid():forward(x), x:sigmoid()
    assert.is_true(a:sub(b):abs():div(b):max() < 1e-6)
    -- Phi(v) = erfc(-v / sqrt 2) / 2 in double: erfc by its power series for |z| <= 2.5 and
    -- by its continued fraction beyond (Lua has no erf)
    local function erfc(z)
      if math.abs(z) <= 2.5 then
        local sum, term, n = z, z, 0
        repeat
          n = n + 1
          term = -term * z * z / n
          sum = sum + term / (2 * n + 1)
        until math.abs(term) < 1e-17 * math.abs(sum)
        return 1 - 2 / math.sqrt(math.pi) * sum
      end
      local az, f = math.abs(z), 0
      for k = 60, 1, -1 do f = (k / 2) / (az + f) end
      local tail = math.exp(-az * az) / math.sqrt(math.pi) / (az + f)
      return z > 0 and tail or 2 - tail
    end
    local g = nn.GELU():forward(x)
    local worst = 0
    for i = 1, 20001, 3 do
      local v = x[i]
      local ref = v * erfc(-v / math.sqrt(2)) / 2
      worst = math.max(worst, math.abs(g[i] - ref) / math.max(1, math.abs(v)))
    end
    assert.is_true(worst < 3e-7, "GELU's error " .. worst)
  end)

  it("print their arguments", function()
    assert.are.equal("LeakyReLU(0.2)", tostring(nn.LeakyReLU(0.2)))
    assert.are.equal("Softplus(1, 20)", tostring(nn.Softplus()))
    assert.are.equal('GELU{approximate = "tanh"}', tostring(nn.GELU{approximate = "tanh"}))
  end)

  it("refuse bad arguments and inputs with a message", function()
    assert.has_error(function() nn.LeakyReLU("x") end, "LeakyReLU: negative slope must be a number, got string")
    assert.has_error(function() nn.Softplus(0) end, "Softplus: beta must be a number > 0, got 0")
    assert.has_error(function() nn.GELU{approximate = "erf"} end, 'GELU: approximate must be "none" or "tanh", got erf')
    assert.has_error(function() nn.GELU{approx = "tanh"} end)
    assert.has_error(function() nn.Tanh(1) end, "Tanh: takes no arguments")
    assert.has_error(function() nn.Tanh():forward(42) end, "Tanh: input must be a tensor, got number")
    assert.has_error(function() nn.Sigmoid():forward(lunet.zeros(2, 3):t()) end)
    assert.has_error(function() nn.ELU():forward(lunet.zeros(3, "int")) end)
    local m = nn.SiLU()
    assert.has_error(function() m:backward(lunet.zeros(3), lunet.zeros(3)) end,
      "SiLU:backward: call forward(input) on this input first")
    m:forward(lunet.zeros(3))
    assert.has_error(function() m:backward(lunet.zeros(3), lunet.zeros(4)) end)
  end)

  it("Identity passes input and gradient through, in a Sequential too", function()
    local x = lunet.randn(2, 3)
    local s = nn.Sequential():add(nn.Identity()):add(nn.Tanh())
    local y = s:forward(x)
    assert.are.same(x:tanh():totable(), y:totable())
    local g = s:backward(x, lunet.ones(2, 3))
    assert.is_true(H.relerr(g, x:tanh():pow(2):neg():add(1)) < 1e-6)
  end)
end)

describe("nn losses", function()
  local function check(c, x, y)
    c:forward(x, y)
    local g = c:backward(x, y):clone()
    local num = H.numgrad(function() return c:forward(x, y) end, x, 1e-3)
    assert.is_true(H.relerr(g, num) < 1e-2, tostring(c))
  end

  it("elementwise losses: gradients match finite differences", function()
    lunet.manualSeed(3)
    local x, y = lunet.randn(3, 4), lunet.randn(3, 4)
    x:add_(x:sub(y):sign():mul_(0.1)) -- away from x = y, L1's kink
    check(nn.MSELoss(), x, y)
    check(nn.L1Loss{reduction = "sum"}, x, y)
    check(nn.SmoothL1Loss{beta = 0.5}, x, y)
    check(nn.BCEWithLogitsLoss{posWeight = lunet.tensor{1, 2, 3, 4}}, x, lunet.rand(3, 4))
    check(nn.BCELoss{weight = lunet.tensor{1, 2, 3, 4}}, lunet.rand(3, 4):mul_(0.8):add_(0.1), lunet.rand(3, 4))
    check(nn.KLDivLoss{reduction = "batchmean"}, x:logsumexp(2, true):neg():add(x), lunet.rand(3, 4))
  end)

  it("class-label losses: gradients match finite differences with every option", function()
    lunet.manualSeed(4)
    local x, labels = lunet.randn(5, 3), lunet.tensor({1, 3, 2, 2, 3}, "int")
    check(nn.CrossEntropyLoss{labelSmoothing = 0.3, weight = lunet.tensor{0.5, 1, 2}, ignoreIndex = 2}, x, labels)
    check(nn.CrossEntropyLoss{reduction = "sum"}, x, labels)
    check(nn.NLLLoss{weight = lunet.tensor{0.5, 1, 2}}, x, labels)
  end)

  it("CrossEntropyLoss with options agrees with the C kernel where they are the defaults", function()
    lunet.manualSeed(5)
    local x, labels = lunet.randn(6, 4), lunet.tensor{1, 2, 3, 4, 1, 2}
    local plain, opts = nn.CrossEntropyLoss(), nn.CrossEntropyLoss{weight = lunet.ones(4), labelSmoothing = 0}
    assert.is_true(math.abs(plain:forward(x, labels) - opts:forward(x, labels)) < 1e-6)
    assert.is_true(H.relerr(plain:backward(x, labels), opts:backward(x, labels)) < 1e-6)
  end)

  it("reduction none returns one loss per element or row, and takes their gradient", function()
    local x, y = lunet.tensor{{1, 2}, {3, 4}}, lunet.zeros(2, 2)
    local c = nn.MSELoss{reduction = "none"}
    assert.are.same({{1, 4}, {9, 16}}, c:forward(x, y):totable())
    assert.are.same({{2, 4}, {6, 8}}, c:backward(x, y):totable())
    assert.are.same({{2, 0}, {0, 16}}, c:backward(x, y, lunet.tensor{{1, 0}, {0, 2}}):totable())
    local ce = nn.CrossEntropyLoss{reduction = "none"}
    assert.are.same({2}, ce:forward(lunet.zeros(2, 3), lunet.tensor{1, 2}):size())
    assert.has_error(function() c:backward(x, y, lunet.zeros(3)) end)
  end)

  it("float labels work when whole and are refused otherwise", function()
    local x = lunet.randn(2, 3)
    local a = nn.CrossEntropyLoss{reduction = "sum"}:forward(x, lunet.tensor{1, 3})
    local b = nn.CrossEntropyLoss{reduction = "sum"}:forward(x, lunet.tensor({1, 3}, "int"))
    assert.are.equal(a, b)
    assert.has_error(function() nn.CrossEntropyLoss{reduction = "sum"}:forward(x, lunet.tensor{1.5, 3}) end,
      "CrossEntropyLoss: a float label must be a whole class number, got 1.5")
  end)

  it("mean over rows that are all ignored is NaN, as PyTorch", function()
    local l = nn.CrossEntropyLoss{ignoreIndex = 0}:forward(lunet.zeros(2, 3), lunet.tensor({0, 0}, "int"))
    assert.is_true(l ~= l)
  end)

  it("refuse bad options and inputs with a message", function()
    assert.has_error(function() nn.MSELoss{reduction = "avg"} end, 'MSELoss: reduction must be "mean", "sum", "none", got avg')
    assert.has_error(function() nn.MSELoss{weight = 1} end)
    assert.has_error(function() nn.SmoothL1Loss{beta = -1} end, "SmoothL1Loss: beta must be a number >= 0, got -1")
    assert.has_error(function() nn.MSELoss():forward(lunet.zeros(2), lunet.zeros(3)) end,
      "MSELoss: target (3) must have the input's shape (2)")
    assert.has_error(function() nn.L1Loss():forward(lunet.zeros(2), lunet.zeros(2, "int")) end,
      "L1Loss: target must be a float tensor, got int")
    assert.has_error(function() nn.BCELoss():forward(lunet.tensor{1.5}, lunet.tensor{1}) end,
      "BCELoss: input must hold probabilities in [0, 1], got values in [1.5, 1.5]")
    assert.has_error(function() nn.BCELoss{weight = {1, 2}} end, "BCELoss: weight must be a tensor, got table")
    assert.has_error(function() nn.KLDivLoss{reduction = "bogus"} end)
    assert.has_error(function() nn.CrossEntropyLoss{labelSmoothing = 2} end,
      "CrossEntropyLoss: labelSmoothing must be a number in [0, 1], got 2")
    assert.has_error(function() nn.CrossEntropyLoss{weight = lunet.ones(2)}:forward(lunet.zeros(2, 3), lunet.tensor{1, 2}) end,
      "CrossEntropyLoss: weight has 2 entries for 3 classes")
    assert.has_error(function() nn.NLLLoss():forward(lunet.zeros(2, 3), lunet.tensor{1, 4}) end,
      "NLLLoss: label 4 is not a class number in 1..3")
    assert.has_error(function() nn.NLLLoss():forward(lunet.zeros(2, 3), lunet.tensor{1}) end,
      "NLLLoss: labels has 1 entries for 2 rows of input")
    assert.has_error(function() nn.NLLLoss{labelSmoothing = 0.1} end)
    assert.has_error(function() nn.NLLLoss{ignoreIndex = 1.5} end)
  end)
end)
