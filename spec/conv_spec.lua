-- The convolutions beyond LeNet-5's: Conv2d with groups (depthwise included) and
-- dilation, ConvTranspose2d and Conv1d (lunet/nn/layers.lua over csrc/kernels/conv.c).
-- Finite-difference gradient checks for every variant, identities that tie the variants
-- to the plain convolution, parity with PyTorch on fixed cases
-- (spec/fixtures/conv/torch.lua, written by spec/parity/conv_torch.py), thread-count
-- independence, and the errors.
local lunet = require "lunet"
local nn = require "lunet.nn"
local H = require "spec.helper"
local core = lunet.core

local function empty() return lunet.zeros(0) end

-- sum(out * r): the scalar objective whose gradient w.r.t. out is r.
local function dotsum(out, r) return out:mul(r):sum() end

local function errorOf(f)
  local ok, err = pcall(f)
  assert.is_false(ok, "expected an error")
  return tostring(err)
end

-- The module's gradients of sum(forward(x) * r) for x, weight and bias against
-- centered finite differences. The objective is linear in each of them, so the
-- differences are exact up to float rounding whatever the step; a large step keeps
-- that rounding small.
local function gradcheck(m, x)
  local r = lunet.randn(table.unpack(m:forward(x):size()))
  local function f() return dotsum(m:forward(x), r) end
  m:zeroGrad()
  m:forward(x)
  local gx = m:backward(x, r):clone()
  assert.is_true(H.relerr(gx, H.numgrad(f, x, 0.5)) < 1e-3, "input")
  assert.is_true(H.relerr(m.gradWeight, H.numgrad(f, m.weight, 0.5)) < 1e-3, "weight")
  if m.bias then assert.is_true(H.relerr(m.gradBias, H.numgrad(f, m.bias, 0.5)) < 1e-3, "bias") end
end

describe("convolution gradients match finite differences", function()
  local cases = {
    { "Conv2d groups 2, non-square kernel, stride and padding",
      function() return nn.Conv2d(4, 6, { 3, 2 }, { groups = 2, stride = { 2, 1 }, padding = { 1, 0 } }) end,
      { 2, 4, 7, 6 } },
    { "Conv2d depthwise (groups = channels), channel multiplier 2",
      function() return nn.Conv2d(3, 6, 3, { groups = 3, padding = 1 }) end, { 2, 3, 5, 6 } },
    { "Conv2d dilation 2, stride 2", function() return nn.Conv2d(2, 3, 3, { dilation = 2, stride = 2, padding = 1 }) end,
      { 2, 2, 9, 8 } },
    { "Conv2d dilation 3x1 with groups, no bias",
      function() return nn.Conv2d(4, 2, { 2, 3 }, { dilation = { 3, 1 }, groups = 2, bias = false }) end,
      { 1, 4, 7, 5 } },
    { "ConvTranspose2d stride 2, outputPadding 1",
      function() return nn.ConvTranspose2d(3, 2, 3, { stride = 2, padding = 1, outputPadding = 1 }) end,
      { 2, 3, 4, 3 } },
    { "ConvTranspose2d groups 2, dilation, non-square",
      function()
        return nn.ConvTranspose2d(4, 6, { 2, 3 }, { stride = { 2, 1 }, padding = { 0, 1 }, outputPadding = { 1, 0 },
          groups = 2, dilation = { 1, 2 } })
      end, { 2, 4, 3, 4 } },
    { "ConvTranspose2d outputPadding below the dilation (not the stride)",
      function() return nn.ConvTranspose2d(2, 2, 2, { dilation = 2, outputPadding = 1 }) end, { 1, 2, 3, 3 } },
    { "Conv1d dilation 2, groups 2, stride 2",
      function() return nn.Conv1d(4, 6, 3, { dilation = 2, groups = 2, stride = 2, padding = 2 }) end, { 2, 4, 11 } },
    { "Conv1d depthwise, no bias", function() return nn.Conv1d(3, 3, 4, { groups = 3, bias = false }) end, { 2, 3, 7 } },
    { "Conv2d depthwise, stride 2 and dilation 2",
      function() return nn.Conv2d(2, 2, 3, { groups = 2, stride = 2, dilation = 2, padding = 2 }) end, { 2, 2, 7, 8 } },
    { "ConvTranspose2d depthwise, stride 1, outputPadding below the dilation",
      function() return nn.ConvTranspose2d(2, 2, 3, { groups = 2, dilation = 2, outputPadding = 1 }) end,
      { 2, 2, 4, 9 } },
    { "ConvTranspose2d depthwise, stride 2",
      function() return nn.ConvTranspose2d(3, 3, 3, { groups = 3, stride = 2, padding = 1, outputPadding = 1 }) end,
      { 2, 3, 4, 5 } },
    -- the unfold moves rows of under 4, 4 to 32 and over 32 columns in three ways
    { "Conv2d stride 1, output rows of 2 columns", function() return nn.Conv2d(1, 2, { 1, 2 }) end, { 1, 1, 2, 3 } },
    { "Conv2d stride 1, output rows of 9 columns", function() return nn.Conv2d(2, 2, 3, { padding = 1 }) end,
      { 1, 2, 3, 9 } },
    { "Conv2d stride 1, output rows of 33 columns", function() return nn.Conv2d(1, 2, { 1, 3 }) end, { 1, 1, 2, 35 } },
  }
  for i, c in ipairs(cases) do
    it(c[1], function()
      lunet.manualSeed(100 + i)
      gradcheck(c[2](), lunet.randn(table.unpack(c[3])))
    end)
  end
end)

describe("convolution identities", function()
  it("a grouped convolution is one convolution per group over its channel slice", function()
    lunet.manualSeed(1)
    local g = nn.Conv2d(6, 4, 3, { groups = 2, padding = 1, stride = { 1, 2 } })
    local x = lunet.randn(2, 6, 5, 7)
    local out = g:forward(x)
    for k = 1, 2 do
      local one = nn.Conv2d(3, 2, 3, { padding = 1, stride = { 1, 2 } })
      one.weight:copy(g.weight:narrow(1, 2 * k - 1, 2))
      one.bias:copy(g.bias:narrow(1, 2 * k - 1, 2))
      local want = one:forward(x:narrow(2, 3 * k - 2, 3):contiguous())
      assert.is_true(H.relerr(out:narrow(2, 2 * k - 1, 2):contiguous(), want) < 1e-5, "group " .. k)
    end
  end)

  -- groups = channels runs its own kernel (conv.c, dw_*), every other grouping im2col
  it("a depthwise convolution is one single-channel convolution per channel, in each direction", function()
    local cases = {
      -- rows of 37 outputs: vectors of 8 over the taps (the last one overlapping), 5 left over
      { 3, 6, 3, { groups = 3, padding = 1 }, { 2, 3, 6, 37 } },
      { 2, 2, { 2, 5 }, { groups = 2, dilation = { 1, 2 }, padding = { 0, 3 } }, { 1, 2, 4, 12 } },
      { 2, 2, 3, { groups = 2, bias = false }, { 2, 2, 3, 10 } }, -- one row of 8 outputs, no bias
      -- one filter per channel at stride 1: the input gradient gathers (rows of 37 inputs)
      { 3, 3, 3, { groups = 3, padding = 2, dilation = 2 }, { 2, 3, 5, 37 } },
      { 4, 4, { 3, 2 }, { groups = 4, stride = { 2, 3 }, padding = { 1, 2 }, dilation = { 2, 1 } }, { 3, 4, 9, 11 } },
      { 2, 4, 5, { groups = 2, stride = 2, bias = false }, { 2, 2, 12, 13 } },
    }
    for k, c in ipairs(cases) do
      lunet.manualSeed(20 + k)
      local cin, cout, size, opts, shape = table.unpack(c)
      local dw, x = nn.Conv2d(cin, cout, size, opts), lunet.randn(table.unpack(shape))
      local out = dw:forward(x)
      local r = lunet.randn(table.unpack(out:size()))
      dw:zeroGrad()
      local gx = dw:backward(x, r)
      local m = cout // cin
      for ch = 1, cin do
        local one = nn.Conv2d(1, m, size, { stride = opts.stride, padding = opts.padding, dilation = opts.dilation,
          bias = opts.bias })
        one.weight:copy(dw.weight:narrow(1, m * ch - m + 1, m))
        if one.bias then one.bias:copy(dw.bias:narrow(1, m * ch - m + 1, m)) end
        local xc, rc = x:narrow(2, ch, 1):contiguous(), r:narrow(2, m * ch - m + 1, m):contiguous()
        one:zeroGrad()
        local want = one:forward(xc)
        local wantGx = one:backward(xc, rc)
        local what = ("case %d channel %d "):format(k, ch)
        assert.is_true(H.relerr(out:narrow(2, m * ch - m + 1, m):contiguous(), want) < 1e-5, what .. "output")
        assert.is_true(H.relerr(gx:narrow(2, ch, 1):contiguous(), wantGx) < 1e-5, what .. "grad input")
        assert.is_true(H.relerr(dw.gradWeight:narrow(1, m * ch - m + 1, m):contiguous(), one.gradWeight) < 1e-5,
          what .. "grad weight")
        if one.bias then
          assert.is_true(H.relerr(dw.gradBias:narrow(1, m * ch - m + 1, m):contiguous(), one.gradBias) < 1e-5,
            what .. "grad bias")
        end
      end
    end
  end)

  it("a dilated kernel is the undilated kernel with zeros between its taps", function()
    lunet.manualSeed(2)
    local d = nn.Conv2d(2, 3, { 2, 3 }, { dilation = { 3, 2 }, padding = { 2, 1 }, stride = 2 })
    local wide = nn.Conv2d(2, 3, { 4, 5 }, { padding = { 2, 1 }, stride = 2 })
    wide.weight:zero()
    for i = 1, 2 do
      for j = 1, 3 do
        wide.weight:select(3, 3 * i - 2):select(3, 2 * j - 1):copy(d.weight:select(3, i):select(3, j))
      end
    end
    wide.bias:copy(d.bias)
    local x = lunet.randn(2, 2, 9, 8)
    assert.is_true(H.relerr(d:forward(x), wide:forward(x)) < 1e-5)
  end)

  it("ConvTranspose2d is the adjoint of Conv2d with the same filters: <conv(x), y> = <x, convT(y)>", function()
    lunet.manualSeed(3)
    local opts = { stride = { 2, 3 }, padding = { 1, 0 }, dilation = { 1, 2 }, groups = 2, bias = false }
    local conv = nn.Conv2d(4, 6, { 3, 2 }, opts)
    local x = lunet.randn(2, 4, 9, 11)
    local cx = conv:forward(x)
    -- outputPadding gives back the rows and columns the conv's floor division dropped
    local convT = nn.ConvTranspose2d(6, 4, { 3, 2 }, { stride = opts.stride, padding = opts.padding,
      dilation = opts.dilation, groups = 2, bias = false, outputPadding = { 0, 2 } })
    convT.weight:copy(conv.weight)
    local y = lunet.randn(table.unpack(cx:size()))
    local ty = convT:forward(y)
    assert.same(x:size(), ty:size())
    local a, b = dotsum(cx, y), dotsum(x, ty)
    assert.is_true(math.abs(a - b) < 1e-4 * math.max(1, math.abs(a)), ("%g vs %g"):format(a, b))
  end)

  it("Conv1d is a Conv2d of height 1", function()
    lunet.manualSeed(4)
    local c1 = nn.Conv1d(4, 6, 3, { dilation = 2, groups = 2, stride = 2, padding = 1 })
    local c2 = nn.Conv2d(4, 6, { 1, 3 }, { dilation = { 1, 2 }, groups = 2, stride = { 1, 2 }, padding = { 0, 1 } })
    c2.weight:copy(c1.weight:view(6, 2, 1, 3))
    c2.bias:copy(c1.bias)
    local x = lunet.randn(3, 4, 10)
    local out = c1:forward(x)
    assert.same({ 3, 6, 4 }, out:size()) -- floor((10 + 2 - 5) / 2) + 1
    assert.is_true(H.relerr(out, c2:forward(x:view(3, 4, 1, 10)):view(3, 6, 4)) < 1e-6)
  end)

  it("padding 'same' keeps the size with dilation, in 2-D and 1-D", function()
    local c = nn.Conv2d(2, 3, { 3, 5 }, { dilation = { 2, 3 }, padding = "same" })
    assert.same({ 1, 3, 9, 14 }, c:forward(lunet.randn(1, 2, 9, 14)):size())
    assert.equal("Conv2d(2 -> 3, 3x5, stride 1, padding 'same' = 2x6, dilation 2x3)", tostring(c))
    local c1 = nn.Conv1d(2, 3, 4, { dilation = 2, padding = "same", bias = false })
    assert.same({ 2, 3, 8 }, c1:forward(lunet.randn(2, 2, 8)):size())
    assert.equal("Conv1d(2 -> 3, 4, stride 1, padding 'same' = 3, dilation 2, no bias)", tostring(c1))
  end)

  it("keeps the outputs of a module used twice apart (the buffer is not overwritten)", function()
    lunet.manualSeed(5)
    for _, m in ipairs({ nn.Conv1d(3, 3, 3, { padding = 1 }), nn.ConvTranspose2d(3, 3, 3, { padding = 1 }) }) do
      local x = m.typename == "Conv1d" and lunet.randn(2, 3, 6) or lunet.randn(2, 3, 5, 5)
      local y1 = m:forward(x)
      local copy = y1:clone()
      local y2 = m:forward(y1)
      assert.is_true(H.relerr(y1, copy) == 0, m.typename)
      assert.is_false(y2:sharesStorage(y1), m.typename)
    end
  end)
end)

describe("convolutions: PyTorch parity", function()
  local fixture = dofile("spec/fixtures/conv/torch.lua")

  local function tensor(t) return lunet.tensor(t.data):view(table.unpack(t.shape)) end

  for _, c in ipairs(fixture) do
    it(c.name .. " (" .. c.module .. ")", function()
      local m = nn[c.module](table.unpack(c.args))
      m.weight:copy(tensor(c.weight))
      if c.bias then m.bias:copy(tensor(c.bias)) else assert.is_nil(m.bias) end
      local x, r = tensor(c.x), tensor(c.r)
      local out = m:forward(x)
      assert.same(c.out.shape, out:size())
      assert.is_true(H.relerr(out, tensor(c.out)) < 1e-5, "output")
      m:zeroGrad()
      assert.is_true(H.relerr(m:backward(x, r), tensor(c.grad_x)) < 1e-5, "grad x")
      assert.is_true(H.relerr(m.gradWeight, tensor(c.grad_weight)) < 1e-5, "grad weight")
      if c.bias then assert.is_true(H.relerr(m.gradBias, tensor(c.grad_bias)) < 1e-5, "grad bias") end
    end)
  end
end)

describe("convolutions: thread count", function()
  it("give the same outputs and gradients with one thread and with images split over two", function()
    lunet.manualSeed(6)
    local mods = { nn.Conv2d(4, 8, 3, { groups = 4, dilation = 2, padding = 2 }),
                   nn.ConvTranspose2d(4, 6, 3, { stride = 2, groups = 2, outputPadding = 1 }),
                   nn.Conv1d(4, 4, 3, { dilation = 2, groups = 2 }) }
    local inputs = { lunet.randn(9, 4, 7, 6), lunet.randn(9, 4, 5, 4), lunet.randn(9, 4, 12) }
    local function run(m, x)
      m:zeroGrad()
      local out = m:forward(x):clone()
      local r = out:clone():mul(0.5):add(1)
      return { out, m:backward(x, r):clone(), m.gradWeight:clone(), m.gradBias:clone() }
    end
    local saved = core.getNumThreads()
    for i, m in ipairs(mods) do
      core.setNumThreads(1)
      local one = run(m, inputs[i])
      core.setNumThreads(2)
      local two = run(m, inputs[i])
      for k = 1, 4 do assert.is_true(H.relerr(one[k], two[k]) == 0, m.typename .. " result " .. k) end
    end
    core.setNumThreads(saved)
  end)
end)

describe("convolution errors", function()
  it("refuse bad construction at the caller's line", function()
    local cases = {
      { function() nn.Conv2d(3, 6, 3, { groups = 2 }) end, "Conv2d: the input channels (3) are not divisible by groups = 2" },
      { function() nn.Conv2d(4, 6, 3, { groups = 4 }) end, "Conv2d: the output channels (6) are not divisible by groups = 4" },
      { function() nn.Conv2d(4, 6, 3, { groups = 0 }) end, "Conv2d: groups must be an integer >= 1, got 0" },
      { function() nn.Conv2d(4, 6, 3, { groups = 1.5 }) end, "Conv2d: groups must be an integer >= 1, got 1.5" },
      { function() nn.Conv2d(4, 6, 3, { dilation = 0 }) end,
        "Conv2d: kernel size, stride and dilation must be >= 1, got 3x3, 1 and 0" },
      { function() nn.Conv2d(4, 6, 3, { dilation = { 2 } }) end,
        "Conv2d: dilation must be an integer or a pair {h, w} of integers, got a table" },
      { function() nn.Conv2d(4, 6, 4, { dilation = 3, padding = "same" }) end,
        "Conv2d: padding 'same' needs an odd kernel and stride 1, got kernel 4x4 dilated 3 (spanning 10x10), stride 1" },
      { function() nn.Conv2d(4, 6, 3, { padding_mode = "zeros" }) end,
        'Conv2d: unknown option "padding_mode" (known: bias, dilation, groups, padding, stride)' },
      { function() nn.ConvTranspose2d(4, 6, 3, { padding = "same" }) end,
        "ConvTranspose2d: padding must be an integer or a pair {h, w} of integers, got same" },
      { function() nn.ConvTranspose2d(4, 6, 3, { stride = 2, outputPadding = 2 }) end,
        "ConvTranspose2d: outputPadding must be >= 0 and smaller than the stride or the dilation, got 2 (stride 2, dilation 1)" },
      { function() nn.ConvTranspose2d(4, 6, 3, { outputPadding = -1 }) end,
        "ConvTranspose2d: outputPadding must be >= 0 and smaller than the stride or the dilation, got -1" },
      { function() nn.ConvTranspose2d(4, 6, 3, { groups = 4 }) end,
        "ConvTranspose2d: the output channels (6) are not divisible by groups = 4" },
      { function() nn.ConvTranspose2d(0, 6, 3) end, "ConvTranspose2d: channel counts must be positive integers, got 0 and 6" },
      { function() nn.Conv1d(4, 6, { 3, 3 }) end,
        "Conv1d: kernel size must be an integer (the convolution is 1-D), got a table" },
      { function() nn.Conv1d(4, 6, 3, { stride = 0 }) end,
        "Conv1d: kernel size, stride and dilation must be >= 1, got 3, 0 and 1" },
      { function() nn.Conv1d(4, 6, 3, { padding = -1 }) end, "Conv1d: padding must be >= 0, got -1" },
      { function() nn.Conv1d(4, 6, 4, { padding = "same" }) end,
        "Conv1d: padding 'same' needs an odd kernel and stride 1, got kernel 4, stride 1" },
      { function() nn.Conv1d(4, 6, 3, { outputPadding = 1 }) end,
        'Conv1d: unknown option "outputPadding" (known: bias, dilation, groups, padding, stride)' },
    }
    for _, c in ipairs(cases) do
      local err = errorOf(c[1])
      assert.matches(c[2], err, 1, true)
      assert.matches("^spec/conv_spec%.lua:%d+: ", err)
    end
  end)

  it("refuse an input the dilated kernel does not fit, or with the wrong channels", function()
    assert.matches("conv2d: a 3x3 window dilated 3x3 (spanning 7x7) with padding 0x0 does not fit the 6x6 input",
      errorOf(function() nn.Conv2d(4, 4, 3, { dilation = 3 }):forward(lunet.randn(1, 4, 6, 6)) end), 1, true)
    assert.matches("conv2d: weight expects 2 input channels per group, the input has 6 in 2 groups (3 each)",
      errorOf(function() nn.Conv2d(4, 4, 3, { groups = 2 }):forward(lunet.randn(1, 6, 6, 6)) end), 1, true)
    assert.matches("conv2d: the input's 5 channels are not divisible by groups = 2",
      errorOf(function() nn.Conv2d(4, 4, 3, { groups = 2 }):forward(lunet.randn(1, 5, 6, 6)) end), 1, true)
    assert.matches("conv_transpose2d: weight (4,3,3,3) expects 4 input channels, the input has 3",
      errorOf(function() nn.ConvTranspose2d(4, 6, 3, { groups = 2 }):forward(lunet.randn(1, 3, 6, 6)) end), 1, true)
    assert.matches("Conv1d: a kernel of 3 dilated 4 (spanning 9) with padding 1 does not fit the input length 6",
      errorOf(function() nn.Conv1d(2, 2, 3, { dilation = 4, padding = 1 }):forward(lunet.randn(1, 2, 6)) end), 1, true)
    assert.matches("Conv1d: input has 3 channels, expected 2",
      errorOf(function() nn.Conv1d(2, 2, 3):forward(lunet.randn(1, 3, 6)) end), 1, true)
    assert.matches("Conv1d: input must be 3-D (N,C,L), got 4-D (1,2,6,6)",
      errorOf(function() nn.Conv1d(2, 2, 3):forward(lunet.randn(1, 2, 6, 6)) end), 1, true)
  end)

  it("the kernels refuse bad dilation, groups and transposed geometry", function()
    local x, w = lunet.randn(2, 4, 8, 8), lunet.randn(6, 2, 3, 3)
    local cases = {
      { function() core.conv2d_forward(x, w, nil, empty(), empty(), 1, 1, 0, 0, 0, 1, 2) end,
        "conv2d: dilation height must be in 1..2147483647, got 0" },
      { function() core.conv2d_forward(x, w, nil, empty(), empty(), 1, 1, 0, 0, 1, 1, 0) end,
        "conv2d: groups must be in 1..2147483647, got 0" },
      { function() core.conv2d_forward(x, lunet.randn(5, 2, 3, 3), nil, empty(), empty(), 1, 1, 0, 0, 1, 1, 2) end,
        "conv2d: weight (5,2,3,3) has 5 output channels, not divisible by groups = 2" },
      { function() core.conv2d_forward(x, w, lunet.randn(3), empty(), empty(), 1, 1, 0, 0, 1, 1, 2) end,
        "conv2d: bias must have 6 elements (one per output channel), got 3" },
      { function() core.conv2d_backward_params(x, lunet.randn(2, 6, 6, 6), w, nil, empty(), 1, 1, 0, 0, 1, 2, 2, 2) end,
        "conv2d: grad_output must be (N,C,H,W) = (2,6,4,4), got (2,6,6,6)" },
      { function()
          core.conv_transpose2d_forward(x, lunet.randn(4, 3, 3, 3), nil, empty(), empty(), 2, 2, 0, 0, 2, 0, 1, 1, 1)
        end, "conv_transpose2d: output padding 2x0 must be smaller than the stride 2x2 or the dilation 1x1" },
      { function()
          core.conv_transpose2d_forward(x, lunet.randn(4, 3, 3, 3), nil, empty(), empty(), 1, 1, 5, 5, 0, 0, 1, 1, 1)
        end, "conv_transpose2d: a 3x3 kernel (dilation 1x1) with stride 1x1, padding 5x5 and output padding 0x0 "
          .. "leaves no output for the 8x8 input" },
      { function()
          core.conv_transpose2d_forward(lunet.randn(2, 4, 0, 3), lunet.randn(4, 3, 3, 3), nil, empty(), empty(),
            1, 1, 0, 0, 0, 0, 1, 1, 1)
        end, "conv_transpose2d: input (2,4,0,3) has an empty spatial dimension" },
      { function()
          core.conv_transpose2d_forward(x, lunet.randn(4, 3, 3, 3), lunet.randn(4), empty(), empty(),
            1, 1, 0, 0, 0, 0, 1, 1, 2)
        end, "conv_transpose2d: bias must have 6 elements (one per output channel), got 4" },
      { function()
          core.conv_transpose2d_backward_input(x, lunet.randn(2, 3, 10, 10), lunet.randn(4, 3, 3, 3), empty(),
            empty(), 1, 1, 0, 0, 0, 0, 1, 1, 2)
        end, "conv_transpose2d: grad_output must be (N,C,H,W) = (2,6,10,10), got (2,3,10,10)" },
      { function()
          local gw = lunet.zeros(4, 3, 3, 3)
          core.conv_transpose2d_backward_params(x, lunet.randn(2, 3, 10, 10), gw, gw, empty(),
            1, 1, 0, 0, 0, 0, 1, 1, 1)
        end, "conv_transpose2d: grad_bias must be 1-D (outC), got 4-D (4,3,3,3)" },
    }
    for i, c in ipairs(cases) do assert.matches(c[2], errorOf(c[1]), 1, true, "case " .. i) end
  end)

  it("Conv2d:project refuses a grouped or dilated convolution and works for the plain one", function()
    lunet.manualSeed(7)
    local plain = nn.Conv2d(2, 3, 3, { padding = 1 })
    local x = lunet.randn(1, 2, 5, 5)
    plain:forward(x)
    local signal = lunet.randn(1, 3, 5, 5)
    assert.is_true(H.relerr(plain:project(signal), plain:updateGradInput(x, signal)) == 0)
    for _, m in ipairs({ nn.Conv2d(2, 4, 3, { groups = 2 }), nn.Conv2d(2, 4, 3, { dilation = { 1, 2 } }) }) do
      m:forward(x)
      assert.matches("Conv2d:project: the deconvnet projects through ungrouped, undilated convolutions only",
        errorOf(function() m:project(lunet.randn(table.unpack(m.output:size()))) end), 1, true)
    end
  end)
end)
