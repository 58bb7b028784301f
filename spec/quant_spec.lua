-- Compact weights for inference (csrc/kernels/quant.c, csrc/lua/quant.c, nn/quant.lua):
-- the rounding of bf16 and int8 against its bound, the product against float32's, results
-- that do not depend on the thread count or the batch, nn.quantize on a model, lunet.save
-- and lunet.load of a quantized model, and every error case.
local lunet = require "lunet"
local H = require "spec.helper"
local nn, core = lunet.nn, lunet.core

local function maxabs(t) return t:abs():max() end

-- A weight with a zero row (row 2), a row of one value and rows of spread values.
local function weights(out, inF)
  local w = lunet.randn(out, inF)
  if out >= 2 then w[2]:zero() end
  if out >= 3 then w[3]:fill(-0.75) end
  return w
end

local function reference(x, w, b) return core.linear_forward(x, w, b, lunet.zeros(0)) end
local function qforward(x, q, b) return core.qlinear_forward(x, q, b, lunet.zeros(0)) end

describe("quantize_weight", function()
  before_each(function() lunet.manualSeed(7) end)

  it("bf16: each weight within half an ulp of its 7 stored mantissa bits (2^-8 relative), ties to even", function()
    local w = weights(9, 37):mul_(3)
    local q = core.quantize_weight(w, "bf16")
    assert.equal("bf16", q:format())
    local err = (q:dequantize() - w):abs()
    assert.is_true((err - w:abs():mul(2 ^ -8)):max() <= 0)
    assert.is_true(maxabs(err) > 0) -- the rounding happened
    local ties = core.quantize_weight(lunet.tensor{{1 + 2 ^ -8, 1 + 3 * 2 ^ -8, -(1 + 2 ^ -8), 2 ^ -130}}, "bf16")
    local d = ties:dequantize()
    assert.equal(1, d[1][1]) -- halfway: down to the even mantissa
    assert.equal(1 + 2 ^ -6, d[1][2]) -- halfway: up to the even mantissa
    assert.equal(-1, d[1][3])
    assert.equal(2 ^ -130, d[1][4]) -- a subnormal keeps its bits
  end)

  it("int8: a scale of max|w|/127 per row, each weight within half its row's scale, zero rows zero", function()
    local w = weights(7, 29)
    local q = core.quantize_weight(w, "int8")
    local s = q:scales()
    assert.same({7}, {s:size(1)})
    for j = 1, 7 do
      assert.near(w[j]:abs():max() / 127, s[j], 1e-7 * s[j])
      local err = (q:dequantize()[j] - w[j]):abs():max()
      assert.is_true(err <= s[j] / 2 * (1 + 1e-5), ("row %d: error %g, half scale %g"):format(j, err, s[j] / 2))
    end
    assert.equal(0, s[2])
    assert.equal(0, maxabs(q:dequantize()[2]))
    -- the largest weight of a row is +-127 exactly: its value comes back
    local d = q:dequantize()
    assert.near(-0.75, d[3][1], 1e-7)
    local bytes = {q:bytes():byte(1, -1)}
    assert.equal(7 * 29, #bytes)
    local big = 0
    for _, b in ipairs(bytes) do big = math.max(big, b > 127 and 256 - b or b) end
    assert.equal(127, big)
  end)

  it("holds the compact bytes only: out*in*2 (bf16), out*in + 4*out (int8)", function()
    local w = lunet.randn(10, 33)
    local b, i = core.quantize_weight(w, "bf16"), core.quantize_weight(w, "int8")
    assert.equal(660, b:nbytes())
    assert.equal(330 + 40, i:nbytes())
    assert.equal(660, #b:bytes())
    assert.is_nil(b:scales())
    assert.same({10, 33}, {i:size()})
    assert.equal("QuantWeight(int8, 10 x 33)", tostring(i))
  end)
end)

describe("qlinear_forward", function()
  before_each(function() lunet.manualSeed(3) end)

  -- Batch 1 and batches around the kernel's 4 rows of x, in sizes around its 8 lanes and
  -- 4 rows of W, with and without a bias.
  local SIZES = {{1, 1, 1}, {1, 5, 7}, {1, 9, 64}, {3, 4, 13}, {6, 5, 33}, {9, 11, 17}, {1, 3, 200}, {5, 7, 8}}
  for _, format in ipairs({"bf16", "int8"}) do
    for _, sz in ipairs(SIZES) do
      for _, withBias in ipairs({true, false}) do
        local n, out, inF = sz[1], sz[2], sz[3]
        it(("%s: (%d,%d) x (%d,%d)^T%s against float32"):format(format, n, inF, out, inF, withBias and " + bias" or ""),
          function()
            local w, x = weights(out, inF), lunet.randn(n, inF)
            local b = withBias and lunet.randn(out) or nil
            local q = core.quantize_weight(w, format)
            local y = qforward(x, q, b)
            assert.same({n, out}, {y:size(1), y:size(2)})
            -- the product itself: float32 sums over the weights q stands for
            assert.is_true(H.relerr(y, reference(x, q:dequantize(), b)) < 1e-5)
            -- against the float32 weights, within what each weight's rounding allows:
            -- |y - yf| <= sum_k |x_k| err_k
            local bound
            if format == "bf16" then
              bound = reference(x:abs(), w:abs(), nil):mul(2 ^ -8)
            else
              local s = q:scales()
              bound = reference(x:abs(), lunet.ones(out, inF), nil):mul(s:view(1, out):expand(n, out)):mul(0.5)
            end
            local excess = ((y - reference(x, w, b)):abs() - bound):max()
            assert.is_true(excess <= 1e-4, ("exceeds the bound by %g"):format(excess))
          end)
      end
    end
  end

  it("gives each row of a batch what it gives that row alone (the sums do not depend on the batch)", function()
    for _, format in ipairs({"bf16", "int8"}) do
      local q, b = core.quantize_weight(lunet.randn(13, 45), format), lunet.randn(13)
      local x = lunet.randn(7, 45)
      local y = qforward(x, q, b)
      for r = 1, 7 do
        assert.equal(0, maxabs(y:narrow(1, r, 1) - qforward(x:narrow(1, r, 1):clone(), q, b)))
      end
    end
  end)

  it("gives the same results on 1 and 2 threads, at batch 1 and in a batch (a product large enough to split)", function()
    local saved = lunet.getNumThreads()
    for _, format in ipairs({"bf16", "int8"}) do
      local q, b = core.quantize_weight(lunet.randn(301, 3137), format), lunet.randn(301)
      for _, n in ipairs({1, 6}) do
        local x = lunet.randn(n, 3137)
        lunet.setNumThreads(1)
        local one = qforward(x, q, b)
        lunet.setNumThreads(2)
        local two = qforward(x, q, b)
        assert.equal(0, maxabs(one - two))
      end
    end
    lunet.setNumThreads(saved)
  end)
end)

describe("nn.quantize", function()
  before_each(function() lunet.manualSeed(11) end)

  local function model()
    return nn.Sequential():add(nn.Conv2d(2, 3, 3), "conv"):add(nn.ReLU()):add(nn.Flatten())
      :add(nn.Linear(3 * 4 * 4, 9), "fc1"):add(nn.ReLU()):add(nn.Linear(9, 4, {bias = false}), "fc2")
  end

  for _, format in ipairs({"bf16", "int8"}) do
    it(format .. ": converts every Linear in place, and only the Linears", function()
      local m = model()
      local x = lunet.randn(5, 2, 6, 6)
      m:evaluate()
      local yf = m:forward(x):clone()
      local conv, convW = m:find("conv").weight, m:find("conv").weight:clone()
      local fc1W, fc1B = m:find("fc1").weight:clone(), m:find("fc1").bias
      local count = m:numParameters()
      assert.equal(m, nn.quantize(m, format))
      assert.is_false(m.training)
      assert.equal(conv, m:find("conv").weight) -- the same tensor, unchanged
      assert.equal(0, maxabs(conv - convW))
      for _, name in ipairs({"fc1", "fc2"}) do
        local fc = m:find(name)
        assert.equal(format, fc:weightFormat())
        assert.is_nil(fc.weight)
        assert.is_nil(fc.gradWeight)
      end
      assert.equal(fc1B, m:find("fc1").bias) -- the bias stays float32
      assert.equal(0, maxabs(m:find("fc1").qweight:dequantize() - core.quantize_weight(fc1W, format):dequantize()))
      assert.equal(count, m:numParameters())
      assert.truthy(tostring(m):find(format .. " weights", 1, true))
      assert.is_true(H.relerr(m:forward(x), yf) < (format == "bf16" and 1e-2 or 3e-2))
      assert.equal("float32", nn.Linear(2, 2):weightFormat())
      -- a second call in the same format changes nothing
      local q = m:find("fc1").qweight
      nn.quantize(m, format)
      assert.equal(q, m:find("fc1").qweight)
    end)
  end

  it("quantizes a Linear given alone", function()
    local fc = nn.quantize(nn.Linear(6, 3), "int8")
    assert.equal("int8", fc:weightFormat())
    assert.same({2, 3}, {fc:forward(lunet.randn(2, 6)):size(1), fc.output:size(2)})
  end)

  it("refuses to train a quantized Linear: training mode, backward, parameters, zeroGrad, reset", function()
    local m = nn.quantize(model(), "bf16")
    local x = lunet.randn(2, 2, 6, 6)
    local y = m:forward(x)
    local function refuses(fn, what)
      local ok, err = pcall(fn)
      assert.is_false(ok)
      assert.truthy(tostring(err):find("Linear:" .. what .. ": this layer is quantized for inference (bf16 weights",
        1, true), tostring(err))
    end
    refuses(function() m:backward(x, y) end, "backward")
    refuses(function() m:parameters() end, "parameters")
    refuses(function() m:parameterSlots() end, "parameterSlots")
    refuses(function() m:zeroGrad() end, "zeroGrad")
    refuses(function() lunet.optim.SGD(m, {lr = 0.1}) end, "parameters")
    refuses(function() m:find("fc1"):reset() end, "reset")
    m:train()
    local ok, err = pcall(m.forward, m, x)
    assert.is_false(ok)
    assert.truthy(err:find("Linear:forward: this layer is quantized for inference (bf16 weights, nn.quantize) and runs "
      .. "in evaluation mode only", 1, true), err)
  end)

  it("raises for a bad model or format, and leaves the model unchanged", function()
    assert.has_error(function() nn.quantize({}, "int8") end, "quantize: argument #1 must be an nn module, got table")
    assert.has_error(function() nn.quantize(model(), "fp8") end, 'quantize: format must be "bf16" or "int8", got "fp8"')
    assert.has_error(function() nn.quantize(model()) end, 'quantize: format must be "bf16" or "int8", got nil')
    local m = model()
    nn.quantize(m:find("fc2"), "int8")
    local ok, err = pcall(nn.quantize, m, "bf16")
    assert.is_false(ok)
    assert.truthy(err:find("is already quantized to int8", 1, true), err)
    assert.equal("float32", m:find("fc1"):weightFormat())
    local bad = model()
    bad:find("fc2").weight[2][3] = 0 / 0
    ok, err = pcall(nn.quantize, bad, "int8")
    assert.is_false(ok)
    assert.truthy(err:find("quantize: weight[2][3] is nan", 1, true) or err:find("quantize: weight[2][3] is -nan", 1, true),
      err)
    assert.equal("float32", bad:find("fc1"):weightFormat())
    assert.is_true(bad.training)
  end)

  it("Linear:useQuantized refuses what is not a QuantWeight of the layer's size", function()
    local fc = nn.Linear(4, 3)
    assert.has_error(function() fc:useQuantized(lunet.zeros(3, 4)) end,
      "Linear:useQuantized: argument #1 must be a QuantWeight (lunet.core.quantize_weight), got userdata")
    assert.has_error(function() fc:useQuantized(core.quantize_weight(lunet.randn(4, 3), "bf16")) end,
      "Linear:useQuantized: the layer is 4 -> 3, the weights are (4,3)")
    assert.equal(fc, fc:useQuantized(core.quantize_weight(fc.weight, "bf16")))
  end)

  for _, format in ipairs({"bf16", "int8"}) do
    it(format .. ": lunet.save and lunet.load (and clone) keep the compact weights, bit for bit", function()
      local m = nn.quantize(model(), format)
      local x = lunet.randn(3, 2, 6, 6)
      local y = m:forward(x):clone()
      local path = os.tmpname()
      lunet.save(path, m)
      local back = lunet.load(path)
      os.remove(path)
      for _, copy in ipairs({back, m:clone()}) do
        assert.is_false(copy.training)
        assert.equal(format, copy:find("fc1"):weightFormat())
        assert.is_nil(copy:find("fc1").weight)
        assert.equal(m:find("fc1").qweight:bytes(), copy:find("fc1").qweight:bytes())
        assert.equal(0, maxabs(copy:forward(x) - y))
      end
    end)
  end

  it("validates the compact weights of a model description before using them", function()
    local persist = require "lunet.nn.persist"
    local function tampered(edit)
      local d = persist.describe(nn.quantize(model(), "int8"))
      edit(d.model.children[4].module.quantized, d.model.children[4].module)
      local ok, err = pcall(persist.build, d, "f")
      assert.is_false(ok)
      return err
    end
    local function check(edit, want)
      local err = tampered(edit)
      assert.truthy(err:find(want, 1, true), err)
      assert.truthy(err:find("model.modules[4].quantized", 1, true), err)
    end
    check(function(q) q.bytes = q.bytes:sub(2) end, "do not take the 431 bytes given")
    check(function(q) q.bytes = "\128" .. q.bytes:sub(2) end, "weight[1][1] is not a valid int8 value (-128)")
    check(function(q) q.scales[1] = -1 end, "scale 1 is -1")
    check(function(q) q.scales = nil end, "argument #5 must be a tensor, got nil")
    check(function(q) q.format = "fp8" end, 'format must be "bf16" or "int8", got "fp8"')
    check(function(q) q.format = "bf16" end, "bf16 weights have no scales")
    local err = tampered(function(_, d) d.quantized = 3 end)
    assert.truthy(err:find("model.modules[4].quantized: must be a table, got number", 1, true), err)
    local d = persist.describe(model())
    d.model.children[1].module.quantized = {}
    local ok
    ok, err = pcall(persist.build, d, "f")
    assert.is_false(ok)
    assert.truthy(err:find("only an nn.Linear holds quantized weights, not nn.Conv2d", 1, true), err)
  end)
end)

describe("quantization errors", function()
  local q = core.quantize_weight(lunet.randn(3, 4), "int8")
  local cases = {
    {function() core.quantize_weight(lunet.randn(4), "bf16") end, "quantize: weight must be 2-D (out,in), got 1-D (4)"},
    {function() core.quantize_weight(lunet.randn(2, 2):double(), "bf16") end, "quantize: argument #1 must be a float tensor"},
    {function() core.quantize_weight(lunet.zeros(2, 2, "int"), "int8") end, "quantize: argument #1 must be a float tensor"},
    {function() core.quantize_weight(lunet.randn(3, 2):t(), "int8") end, "quantize: weight must be contiguous"},
    {function() core.quantize_weight(lunet.zeros(0, 3), "int8") end, "quantize: weight (0,3) has an empty dimension"},
    {function() core.quantize_weight(lunet.randn(2, 2), "fp16") end, 'quantize: format must be "bf16" or "int8", got "fp16"'},
    {function() core.quantize_weight(lunet.randn(2, 2), 8) end, 'quantize: format must be "bf16" or "int8", got number'},
    {function() core.quantize_weight(lunet.tensor{{1, math.huge}}, "int8") end, "quantize: weight[1][2] is inf"},
    {function() core.quantize_weight(lunet.tensor{{1, 2}, {3, -math.huge}}, "bf16") end, "quantize: weight[2][2] is -inf"},
    {function() core.quantize_weight(lunet.tensor{{3.4e38}}, "bf16") end, "which bf16 cannot hold (only finite weights, up to 3.39e38,)"},
    {function() qforward(lunet.randn(2, 5), q, nil) end, "qlinear: the weights expect 4 input features, the input has 5"},
    {function() qforward(lunet.randn(4), q, nil) end, "qlinear: input must be 2-D (N,in), got 1-D (4)"},
    {function() qforward(lunet.randn(2, 4), q, lunet.randn(4)) end, "qlinear: bias must have 3 elements, got 4"},
    {function() qforward(lunet.randn(2, 4), lunet.randn(3, 4), nil) end, "qlinear: argument #2 must be quantized weights (a QuantWeight), got userdata"},
    {function() core.qlinear_forward(lunet.randn(2, 4), q, nil, lunet.zeros(0, "int")) end, "qlinear: argument #4"},
    {function() q.size(lunet.zeros(1)) end, "QuantWeight:size: argument #1 must be quantized weights"},
    {function() core.qweight_frombytes("int8", 2, 2, "abc", lunet.zeros(2)) end, "qweight_frombytes: 2 x 2 int8 weights do not take the 3 bytes given"},
    {function() core.qweight_frombytes("bf16", 2 ^ 40, 2 ^ 40, "ab") end,
      "qweight_frombytes: 1099511627776 x 1099511627776 bf16 weights do not take the 2 bytes given"},
    {function() core.qweight_frombytes("bf16", 0, 2, "") end, "qweight_frombytes: out must be in 1..1099511627776, got 0"},
    {function() core.qweight_frombytes("bf16", 1, 1, "ab", lunet.zeros(1)) end, "qweight_frombytes: bf16 weights have no scales, got userdata"},
    {function() core.qweight_frombytes("int8", 1, 2, "ab") end, "qweight_frombytes: argument #5 must be a tensor, got no value"},
    {function() core.qweight_frombytes("int8", 2, 1, "ab", lunet.zeros(3)) end, "qweight_frombytes: scales must have 2 elements (one per row), got 3"},
    {function() core.qweight_frombytes("int8", 1, 2, {}, lunet.zeros(1)) end, "qweight_frombytes: bytes must be a string, got table"},
    {function() core.qweight_frombytes("bf16", 1, 2, "\0\0\128\127") end, "qweight_frombytes: weight[1][2] is not a valid bf16 value (infinite or NaN)"},
    {function() core.qweight_frombytes("int8", 1, 1, "\1", lunet.tensor{0 / 0}) end, "qweight_frombytes: scale 1 is"},
  }
  for i, c in ipairs(cases) do
    it(("%d: %s"):format(i, c[2]), function()
      local ok, err = pcall(c[1])
      assert.is_false(ok)
      assert.truthy(tostring(err):find(c[2], 1, true), tostring(err))
    end)
  end

  it("refuses weights that were released (closed)", function()
    local r = core.quantize_weight(lunet.randn(2, 3), "bf16")
    getmetatable(r).__close(r)
    assert.equal("QuantWeight (released)", tostring(r))
    local ok, err = pcall(qforward, lunet.randn(1, 3), r, nil)
    assert.is_false(ok)
    assert.truthy(err:find("qlinear: argument #2, the quantized weights, was released (closed)", 1, true), err)
    assert.has_error(function() r:dequantize() end,
      "QuantWeight:dequantize: argument #1, the quantized weights, was released (closed)")
  end)

  it("a valid description from bytes gives the same weights", function()
    for _, format in ipairs({"bf16", "int8"}) do
      local a = core.quantize_weight(lunet.randn(5, 11), format)
      local b = core.qweight_frombytes(format, 5, 11, a:bytes(), a:scales())
      assert.equal(0, maxabs(a:dequantize() - b:dequantize()))
    end
  end)
end)
