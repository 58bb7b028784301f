-- The CNN kernels of lunet.core (csrc/kernels/conv.c, pool.c, activ.c through csrc/lua/nn.c):
-- known answers on hand-computed inputs, a naive reference convolution, centered
-- finite-difference gradient checks, and the errors of every binding.
local lunet = require "lunet"
local H = require "spec.helper"
local core = lunet.core

local function empty(dtype) return lunet.zeros(0, dtype) end

-- sum(out * r) for a fixed r: the scalar objective whose gradient w.r.t. out is r.
local function dotsum(out, r) return out:mul(r):sum() end

-- Distinct values spaced 0.05 apart in random order: no ties within a pooling window
-- and nothing within a finite-difference step of a ReLU kink.
local function spaced(...)
  local t = lunet.zeros(...)
  local n = t:numel()
  local perm = lunet.randperm(n)
  local flat = t:view(-1)
  for i = 1, n do flat[i] = (perm[i] - n / 2 - 0.5) * 0.05 end
  return t
end

-- Naive convolution in Lua (double precision) for comparison.
local function refconv(x, w, b, sH, sW, pH, pW)
  local N, C, Hh, W = table.unpack(x:size())
  local O, _, kH, kW = table.unpack(w:size())
  local oH, oW = (Hh + 2 * pH - kH) // sH + 1, (W + 2 * pW - kW) // sW + 1
  local xt, wt, bt = x:totable(), w:totable(), b and b:totable()
  local out = {}
  for n = 1, N do
    out[n] = {}
    for o = 1, O do
      out[n][o] = {}
      for y = 1, oH do
        out[n][o][y] = {}
        for xx = 1, oW do
          local s = bt and bt[o] or 0
          for c = 1, C do
            for i = 1, kH do
              for j = 1, kW do
                local r, q = (y - 1) * sH - pH + i, (xx - 1) * sW - pW + j
                if r >= 1 and r <= Hh and q >= 1 and q <= W then s = s + xt[n][c][r][q] * wt[o][c][i][j] end
              end
            end
          end
          out[n][o][y][xx] = s
        end
      end
    end
  end
  return lunet.tensor(out)
end

-- Convolution settings exercised by the checks: {kH, kW, sH, sW, pH, pW}.
local convCases = {
  { 3, 3, 1, 1, 0, 0 },
  { 3, 3, 2, 2, 1, 1 },
  { 5, 5, 1, 1, 2, 2 }, -- 'same' 5x5, as in LeNet-5
  { 3, 2, 2, 1, 0, 2 },
  { 1, 1, 1, 1, 0, 0 },
  { 4, 4, 3, 3, 2, 1 },
}

local function caseName(c) return ("kernel %dx%d, stride %dx%d, padding %dx%d"):format(table.unpack(c)) end

describe("conv2d kernels", function()
  before_each(function() lunet.manualSeed(7) end)

  it("computes a hand-worked example, with and without padding and stride", function()
    local x = lunet.arange(1, 10):view(1, 1, 3, 3)
    local w = lunet.tensor{ { { { 1, 2 }, { 3, 4 } } } }
    local b = lunet.tensor{ 0.5 }
    local out = core.conv2d_forward(x, w, b, empty(), empty(), 1, 1, 0, 0)
    assert.same({ { { { 37.5, 47.5 }, { 67.5, 77.5 } } } }, out:totable())
    out = core.conv2d_forward(x, w, nil, empty(), empty(), 2, 2, 1, 1)
    assert.same({ { { { 4, 18 }, { 36, 77 } } } }, out:totable())
  end)

  for _, c in ipairs(convCases) do
    it("matches a naive convolution: " .. caseName(c), function()
      local kH, kW, sH, sW, pH, pW = table.unpack(c)
      local x, w, b = lunet.randn(2, 3, 7, 6), lunet.randn(4, 3, kH, kW), lunet.randn(4)
      local out = core.conv2d_forward(x, w, b, empty(), empty(), sH, sW, pH, pW)
      assert.is_true(H.relerr(out, refconv(x, w, b, sH, sW, pH, pW)) < 1e-5)
    end)

    it("has gradients matching finite differences: " .. caseName(c), function()
      local kH, kW, sH, sW, pH, pW = table.unpack(c)
      local x, w, b = lunet.randn(2, 3, 7, 6), lunet.randn(4, 3, kH, kW), lunet.randn(4)
      local out, cols = empty(), empty()
      core.conv2d_forward(x, w, b, out, cols, sH, sW, pH, pW)
      local r = lunet.randn(out:size())
      local function f() return dotsum(core.conv2d_forward(x, w, b, out, cols, sH, sW, pH, pW), r) end
      local gin = core.conv2d_backward_input(x, r, w, empty(), cols, sH, sW, pH, pW)
      local gw, gb = lunet.zeros(w:size()), lunet.zeros(4)
      core.conv2d_backward_params(x, r, gw, gb, cols, sH, sW, pH, pW)
      -- f is linear in each argument, so a large step is exact and keeps rounding small.
      assert.is_true(H.relerr(gin, H.numgrad(f, x, 0.05)) < 1e-3)
      assert.is_true(H.relerr(gw, H.numgrad(f, w, 0.05)) < 1e-3)
      assert.is_true(H.relerr(gb, H.numgrad(f, b, 0.05)) < 1e-3)
    end)
  end

  it("accumulates parameter gradients with a scale, and skips a nil gradBias", function()
    local x = lunet.randn(2, 2, 5, 5)
    local r, cols = lunet.randn(2, 3, 3, 3), empty()
    local gw1, gb1 = lunet.zeros(3, 2, 3, 3), lunet.zeros(3)
    core.conv2d_backward_params(x, r, gw1, gb1, cols, 1, 1, 0, 0)
    local gw2, gb2 = gw1:clone(), gb1:clone()
    core.conv2d_backward_params(x, r, gw2, gb2, cols, 1, 1, 0, 0, 0.5)
    assert.is_true(H.relerr(gw2, gw1:mul(1.5)) < 1e-6)
    assert.is_true(H.relerr(gb2, gb1:mul(1.5)) < 1e-6)
    local gw3 = lunet.zeros(3, 2, 3, 3)
    core.conv2d_backward_params(x, r, gw3, nil, cols, 1, 1, 0, 0)
    assert.is_true(H.relerr(gw3, gw1) < 1e-6)
  end)

  it("gives the same results with one thread and with images split over two", function()
    local x, w, b = lunet.randn(5, 3, 8, 7), lunet.randn(4, 3, 3, 3), lunet.randn(4)
    local r = lunet.randn(5, 4, 8, 7)
    local function run()
      local out = core.conv2d_forward(x, w, b, empty(), empty(), 1, 1, 1, 1)
      local gin = core.conv2d_backward_input(x, r, w, empty(), empty(), 1, 1, 1, 1)
      local gw, gb = lunet.ones(4, 3, 3, 3), lunet.ones(4)
      core.conv2d_backward_params(x, r, gw, gb, empty(), 1, 1, 1, 1)
      return { out, gin, gw, gb }
    end
    local saved = core.getNumThreads()
    core.setNumThreads(1)
    local one = run()
    core.setNumThreads(2)
    local two = run()
    core.setNumThreads(saved)
    for i = 1, 4 do assert.is_true(H.relerr(one[i], two[i]) < 1e-5) end
    assert.is_true(H.relerr(one[1], refconv(x, w, b, 1, 1, 1, 1)) < 1e-5)
  end)

  it("reuses the output buffer when a later batch is smaller", function()
    local w = lunet.randn(2, 1, 3, 3)
    local out, cols = empty(), empty()
    core.conv2d_forward(lunet.randn(4, 1, 6, 6), w, nil, out, cols, 1, 1, 1, 1)
    local x = lunet.randn(1, 1, 6, 6)
    core.conv2d_forward(x, w, nil, out, cols, 1, 1, 1, 1)
    assert.same({ 1, 2, 6, 6 }, out:size())
    assert.is_true(H.relerr(out, refconv(x, w, nil, 1, 1, 1, 1)) < 1e-5)
  end)

  it("rejects bad arguments with messages naming conv2d", function()
    local x, w = lunet.randn(2, 3, 8, 8), lunet.randn(4, 3, 3, 3)
    local function fwd(...) return core.conv2d_forward(...) end
    assert.has_error(function() fwd(lunet.randn(3, 8, 8), w, nil, empty(), empty(), 1, 1, 0, 0) end,
      "conv2d: input must be 4-D (N,C,H,W), got 3-D (3,8,8)")
    assert.has_error(function() fwd(x, lunet.randn(4, 2, 3, 3), nil, empty(), empty(), 1, 1, 0, 0) end,
      "conv2d: weight expects 2 input channels, the input has 3")
    assert.has_error(function() fwd(x, w, lunet.randn(5), empty(), empty(), 1, 1, 0, 0) end,
      "conv2d: bias must have 4 elements (one per output channel), got 5")
    assert.has_error(function() fwd(x, w, nil, empty(), empty(), 0, 1, 0, 0) end,
      "conv2d: stride height must be in 1..2147483647, got 0")
    assert.has_error(function() fwd(x, w, nil, empty(), empty(), 1, 1, -1, 0) end,
      "conv2d: padding height must be in 0..2147483647, got -1")
    assert.has_error(function() fwd(x, lunet.randn(4, 3, 9, 9), nil, empty(), empty(), 1, 1, 0, 0) end,
      "conv2d: a 9x9 window with padding 0x0 does not fit the 8x8 input")
    assert.has_error(function() fwd(lunet.randn(2, 0, 8, 8), lunet.randn(4, 0, 3, 3), nil, empty(), empty(), 1, 1, 0, 0) end,
      "conv2d: weight (4,0,3,3) has an empty dimension")
    assert.has_error(function() fwd(x:int(), w, nil, empty(), empty(), 1, 1, 0, 0) end,
      "conv2d: argument #1 must be a float tensor, got an int tensor")
    assert.has_error(function() fwd(x:transpose(3, 4), w, nil, empty(), empty(), 1, 1, 0, 0) end,
      "conv2d: input must be contiguous (call :contiguous())")
    assert.has_error(function() fwd(x, w, nil, x, empty(), 1, 1, 0, 0) end,
      "conv2d: argument #4 (output) is an output and must not be the same tensor as argument #1")
    assert.has_error(function() fwd(x, w, nil, empty("int"), empty(), 1, 1, 0, 0) end,
      "conv2d: argument #4 must be a float tensor, got an int tensor")
    assert.has_error(function()
      core.conv2d_backward_input(x, lunet.randn(2, 4, 5, 5), w, empty(), empty(), 1, 1, 0, 0)
    end, "conv2d: grad_output must be (N,C,H,W) = (2,4,6,6), got (2,4,5,5)")
    assert.has_error(function()
      core.conv2d_backward_params(x, lunet.randn(2, 4, 6, 6), lunet.zeros(4, 3, 2, 2), nil, empty(), 1, 1, 0, 0)
    end, "conv2d: grad_output must be (N,C,H,W) = (2,4,7,7), got (2,4,6,6)")
    assert.has_error(function()
      core.conv2d_backward_params(x, lunet.randn(2, 4, 6, 6), lunet.zeros(4, 3, 3, 3), lunet.zeros(3), empty(),
        1, 1, 0, 0)
    end, "conv2d: grad_bias must have 4 elements (one per output channel), got 3")
  end)
end)

describe("maxpool2d kernels", function()
  local x4 = { { 1, 5, 2, 0 }, { 3, 4, 8, 1 }, { 0, 2, 6, 7 }, { 9, 1, 3, 3 } }

  it("computes maxima and 1-based switches on a hand-worked example", function()
    local x = lunet.tensor{ { x4 } }
    local out, sw = core.maxpool2d_forward(x, empty(), empty("int"), 2, 2, 2, 2, 0, 0)
    assert.same({ { { { 5, 8 }, { 9, 7 } } } }, out:totable())
    assert.same({ { { { 2, 7 }, { 13, 12 } } } }, sw:totable())
  end)

  it("handles padding (never picked) and overlapping windows; ties go to the first", function()
    local x = lunet.tensor{ { x4 } }:neg()
    local out, sw = core.maxpool2d_forward(x, empty(), empty("int"), 3, 3, 2, 2, 1, 1)
    -- windows: rows/cols {0,1} and {1,2,3} of the negated input
    assert.same({ { { { -1, 0 }, { 0, -1 } } } }, out:totable())
    assert.same({ { { { 1, 4 }, { 9, 8 } } } }, sw:totable())
    local ties = lunet.ones(1, 1, 2, 2)
    local _, swt = core.maxpool2d_forward(ties, empty(), empty("int"), 2, 2, 2, 2, 0, 0)
    assert.same({ { { { 1 } } } }, swt:totable())
  end)

  it("propagates NaN", function()
    local x = lunet.tensor{ { { { 1, 0 / 0 }, { 5, 2 } } } }
    local out = core.maxpool2d_forward(x, empty(), empty("int"), 2, 2, 2, 2, 0, 0)
    local v = out:view(-1)[1]
    assert.is_true(v ~= v)
  end)

  it("gives -inf for a window of -inf (api fuzzer, seed 1)", function()
    local ninf = -math.huge
    local x = lunet.tensor{ { { { ninf, ninf, 0 }, { ninf, ninf, 1 } } } }
    local out, sw = core.maxpool2d_forward(x, empty(), empty("int"), 2, 2, 1, 1, 0, 0)
    assert.same({ { { { ninf, 1 } } } }, out:totable())
    assert.same({ { { { 1, 6 } } } }, sw:totable())
  end)

  it("2x2 windows of stride 2 over wide planes (four windows at a time) match a plain loop", function()
    lunet.manualSeed(5)
    -- 9x23: the last row and column are in no window; 11 windows a row, not a multiple of 4
    local x = lunet.randn(2, 3, 9, 23):mul(4):round()
    local flat = x:view(-1)
    for i = 1, flat:numel(), 7 do flat[i] = (i % 3 == 0) and 0 / 0 or (i % 3 == 1 and -math.huge or flat[i]) end
    local out, sw = core.maxpool2d_forward(x, empty(), empty("int"), 2, 2, 2, 2, 0, 0)
    local xs, outs, sws = x:totable(), out:totable(), sw:totable()
    for n = 1, 2 do
      for c = 1, 3 do
        local plane = xs[n][c]
        for y = 1, 4 do
          for xx = 1, 11 do
            local best, arg = -math.huge, (2 * y - 2) * 23 + 2 * xx - 1
            for _, rc in ipairs({ { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 } }) do
              local r, col = 2 * y - 1 + rc[1], 2 * xx - 1 + rc[2]
              local v = plane[r][col]
              if v > best or v ~= v then best, arg = v, (r - 1) * 23 + col end
            end
            local got = outs[n][c][y][xx]
            assert.is_true(got == best or (got ~= got and best ~= best), "value")
            assert.equal(arg, sws[n][c][y][xx])
          end
        end
      end
    end
  end)

  it("routes gradients through the switches, adding where windows share a maximum", function()
    local x = lunet.tensor{ { { { 1, 2, 1 }, { 0, 9, 0 }, { 1, 2, 1 } } } }
    local out, sw = core.maxpool2d_forward(x, empty(), empty("int"), 2, 2, 1, 1, 0, 0)
    assert.same({ { { { 9, 9 }, { 9, 9 } } } }, out:totable())
    local gin = core.maxpool2d_backward(x, lunet.tensor{ { { { 1, 2 }, { 3, 4 } } } }, sw, empty(), 2, 2, 1, 1, 0, 0)
    assert.same({ { { { 0, 0, 0 }, { 0, 10, 0 }, { 0, 0, 0 } } } }, gin:totable())
  end)

  for _, c in ipairs({ { 2, 2, 2, 2, 0, 0 }, { 3, 3, 2, 2, 1, 1 }, { 3, 2, 1, 2, 1, 0 } }) do
    it("has gradients matching finite differences: " .. caseName(c), function()
      lunet.manualSeed(3)
      local x = spaced(2, 3, 6, 5)
      local out, sw = core.maxpool2d_forward(x, empty(), empty("int"), table.unpack(c))
      local r = lunet.randn(out:size())
      local function f()
        return dotsum(core.maxpool2d_forward(x, lunet.zeros(0), lunet.zeros(0, "int"), table.unpack(c)), r)
      end
      local gin = core.maxpool2d_backward(x, r, sw, empty(), table.unpack(c))
      assert.is_true(H.relerr(gin, H.numgrad(f, x, 1e-2)) < 1e-3)
    end)
  end

  it("unpools values back to their switches, zero elsewhere", function()
    local x = lunet.tensor{ { x4 } }
    local _, sw = core.maxpool2d_forward(x, empty(), empty("int"), 2, 2, 2, 2, 0, 0)
    local up = core.maxunpool2d(lunet.tensor{ { { { 10, 20 }, { 30, 40 } } } }, sw, empty(), 4, 4)
    assert.same({ { { { 0, 10, 0, 0 }, { 0, 0, 20, 0 }, { 0, 0, 0, 40 }, { 30, 0, 0, 0 } } } }, up:totable())
  end)

  it("rejects bad arguments with messages naming the kernel", function()
    local x = lunet.randn(1, 2, 4, 4)
    assert.has_error(function() core.maxpool2d_forward(lunet.randn(4, 4), empty(), empty("int"), 2, 2, 2, 2, 0, 0) end,
      "maxpool2d: input must be 4-D (N,C,H,W), got 2-D (4,4)")
    assert.has_error(function() core.maxpool2d_forward(x, empty(), empty(), 2, 2, 2, 2, 0, 0) end,
      "maxpool2d: argument #3 must be an int tensor, got a float tensor")
    assert.has_error(function() core.maxpool2d_forward(x, empty(), empty("int"), 2, 2, 2, 2, 2, 0) end,
      "maxpool2d: padding 2x0 must be at most half the 2x2 window")
    assert.has_error(function() core.maxpool2d_forward(x, empty(), empty("int"), 5, 5, 1, 1, 0, 0) end,
      "maxpool2d: a 5x5 window with padding 0x0 does not fit the 4x4 input")
    local out, sw = core.maxpool2d_forward(x, empty(), empty("int"), 2, 2, 2, 2, 0, 0)
    assert.has_error(function() core.maxpool2d_backward(x, lunet.randn(1, 2, 3, 3), sw, empty(), 2, 2, 2, 2, 0, 0) end,
      "maxpool2d: grad_output must be (N,C,H,W) = (1,2,2,2), got (1,2,3,3)")
    local bad = sw:clone()
    bad:view(-1)[3] = 17
    assert.has_error(function() core.maxpool2d_backward(x, out, bad, empty(), 2, 2, 2, 2, 0, 0) end,
      "maxpool2d: switch 17 at position 3 is outside 1..16")
    assert.has_error(function() core.maxunpool2d(out, bad, empty(), 4, 4) end,
      "maxunpool2d: switch 17 at position 3 is outside 1..16")
    for _, s in ipairs({ 0, -5 }) do -- below the range too, at the first bad position
      local low = sw:clone()
      low:view(-1)[6], low:view(-1)[7] = s, 99
      assert.has_error(function() core.maxpool2d_backward(x, out, low, empty(), 2, 2, 2, 2, 0, 0) end,
        ("maxpool2d: switch %d at position 6 is outside 1..16"):format(s))
    end
    assert.has_error(function() core.maxunpool2d(out, sw, empty(), 0, 4) end,
      "maxunpool2d: output height must be in 1..2147483647, got 0")
    assert.has_error(function() core.maxunpool2d(lunet.randn(1, 2, 2, 3), sw, empty(), 4, 4) end,
      "maxunpool2d: switches must be (N,C,H,W) = (1,2,2,3), got (1,2,2,2)")
  end)
end)

describe("relu and dropout kernels", function()
  before_each(function() lunet.manualSeed(11) end)

  it("relu: forward, and a gradient matching finite differences away from the kink", function()
    assert.same({ 0, 0, 2 }, core.relu_forward(lunet.tensor{ -1, 0, 2 }, empty()):totable())
    local x = spaced(3, 4, 5)
    local r = lunet.randn(3, 4, 5)
    local function f() return dotsum(core.relu_forward(x, lunet.zeros(0)), r) end
    local gin = core.relu_backward(x, r, empty())
    assert.is_true(H.relerr(gin, H.numgrad(f, x, 1e-2)) < 1e-3)
    assert.has_error(function() core.relu_backward(x, lunet.randn(3, 4), empty()) end,
      "relu: input (3,4,5) and grad_output (3,4) differ in shape")
  end)

  it("dropout with a fixed mask: scaled forward and a matching gradient", function()
    local x = lunet.randn(4, 6)
    local mask = lunet.zeros(4, 6):bernoulli_(0.5)
    local y = core.dropout_forward(x, mask, empty(), 0.5)
    assert.is_true(H.relerr(y, x:mul(mask):mul(2)) < 1e-6)
    local r = lunet.randn(4, 6)
    local function f() return dotsum(core.dropout_forward(x, mask, lunet.zeros(0), 0.5), r) end
    local gin = core.dropout_backward(r, mask, empty(), 0.5)
    assert.is_true(H.relerr(gin, H.numgrad(f, x, 0.05)) < 1e-3)
    assert.has_error(function() core.dropout_forward(x, mask, empty(), 0) end,
      "dropout: keep probability must be in (0,1], got 0.0")
    assert.has_error(function() core.dropout_forward(x, lunet.zeros(24), empty(), 0.5) end,
      "dropout: input (4,6) and mask (24) differ in shape")
  end)
end)

describe("linear kernels", function()
  before_each(function() lunet.manualSeed(5) end)

  it("computes x W^T + b and gradients matching finite differences", function()
    local x, w, b = lunet.randn(5, 7), lunet.randn(3, 7), lunet.randn(3)
    local y = core.linear_forward(x, w, b, empty())
    assert.is_true(H.relerr(y, x:matmul(w:t()):add(b)) < 1e-5)
    local r = lunet.randn(5, 3)
    local function f() return dotsum(core.linear_forward(x, w, b, lunet.zeros(0)), r) end
    local gin = core.linear_backward_input(r, w, empty())
    local gw, gb = lunet.zeros(3, 7), lunet.zeros(3)
    core.linear_backward_params(x, r, gw, gb)
    assert.is_true(H.relerr(gin, H.numgrad(f, x, 0.05)) < 1e-3)
    assert.is_true(H.relerr(gw, H.numgrad(f, w, 0.05)) < 1e-3)
    assert.is_true(H.relerr(gb, H.numgrad(f, b, 0.05)) < 1e-3)
  end)

  it("rejects mismatched shapes", function()
    local x, w = lunet.randn(5, 7), lunet.randn(3, 7)
    assert.has_error(function() core.linear_forward(lunet.randn(5, 6), w, nil, empty()) end,
      "linear: weight expects 7 input features, the input has 6")
    assert.has_error(function() core.linear_forward(lunet.randn(5, 7, 1), w, nil, empty()) end,
      "linear: input must be 2-D (N,in), got 3-D (5,7,1)")
    assert.has_error(function() core.linear_forward(lunet.randn(5, 0), lunet.randn(3, 0), nil, empty()) end,
      "linear: weight (3,0) has an empty dimension")
    assert.has_error(function() core.linear_forward(x, w, lunet.randn(4), empty()) end,
      "linear: bias must have 3 elements, got 4")
    assert.has_error(function() core.linear_backward_input(lunet.randn(5, 4), w, empty()) end,
      "linear: grad_output must be (N,out) = (5,3), got (5,4)")
    assert.has_error(function() core.linear_backward_params(x, lunet.randn(5, 3), lunet.zeros(3, 6), nil) end,
      "linear: grad_weight expects 6 input features, the input has 7")
  end)
end)

describe("softmax, log-softmax and cross-entropy kernels", function()
  before_each(function() lunet.manualSeed(9) end)

  it("softmax rows sum to one and stay finite for huge logits", function()
    local y = core.softmax_forward(lunet.tensor{ { 1000, 1000 }, { 0, math.log(3) } }, empty())
    assert.is_true(H.relerr(y, lunet.tensor{ { 0.5, 0.5 }, { 0.25, 0.75 } }) < 1e-6)
    local lp = core.logsoftmax_forward(lunet.tensor{ { 1000, 0 } }, empty())
    assert.is_true(H.relerr(lp, lunet.tensor{ { 0, -1000 } }) < 1e-6)
  end)

  for _, name in ipairs({ "softmax", "logsoftmax" }) do
    it(name .. " has a gradient matching finite differences", function()
      local x, r = lunet.randn(4, 6), lunet.randn(4, 6)
      local fwd, bwd = core[name .. "_forward"], core[name .. "_backward"]
      local function f() return dotsum(fwd(x, lunet.zeros(0)), r) end
      local y = fwd(x, empty())
      local gin = bwd(y, r, empty())
      assert.is_true(H.relerr(gin, H.numgrad(f, x, 1e-2)) < 1e-2)
    end)
  end

  it("cross-entropy: log K for uniform logits, and the mean of -log p[label]", function()
    local lp = empty()
    local loss = core.crossentropy_forward(lunet.zeros(3, 10), lunet.tensor{ 1, 5, 10 }:int(), lp)
    assert.is_true(math.abs(loss - math.log(10)) < 1e-6)
    local x = lunet.tensor{ { 0, math.log(3) }, { 0, 0 } }
    loss = core.crossentropy_forward(x, lunet.tensor{ 2, 1 }, lp)
    assert.is_true(math.abs(loss - (-math.log(0.75) - math.log(0.5)) / 2) < 1e-6)
  end)

  it("cross-entropy has a gradient matching finite differences, for int and float labels", function()
    local x = lunet.randn(5, 4)
    for _, labels in ipairs({ lunet.tensor{ 1, 4, 2, 2, 3 }:int(), lunet.tensor{ 1, 4, 2, 2, 3 } }) do
      local lp = empty()
      local function f() return core.crossentropy_forward(x, labels, lunet.zeros(0)) end
      core.crossentropy_forward(x, labels, lp)
      local gin = core.crossentropy_backward(lp, labels, empty())
      assert.is_true(H.relerr(gin, H.numgrad(f, x, 1e-2)) < 1e-2)
    end
  end)

  it("rejects labels out of range, of the wrong count, or not whole numbers", function()
    local x = lunet.randn(3, 4)
    assert.has_error(function() core.crossentropy_forward(x, lunet.tensor{ 1, 5, 2 }:int(), empty()) end,
      "crossentropy: label 5 at position 2 is out of range 1..4")
    assert.has_error(function() core.crossentropy_forward(x, lunet.tensor{ 0, 1, 2 }:int(), empty()) end,
      "crossentropy: label 0 at position 1 is out of range 1..4")
    assert.has_error(function() core.crossentropy_forward(x, lunet.tensor{ 1, 2 }:int(), empty()) end,
      "crossentropy: 2 labels for 3 rows of logits")
    assert.has_error(function() core.crossentropy_forward(x, lunet.tensor{ 1, 2.5, 3 }, empty()) end,
      "crossentropy: label 2.5 at position 2 is not a class number in 1..4")
    assert.has_error(function() core.crossentropy_forward(x, lunet.tensor{ { 1, 2, 3 } }:int(), empty()) end,
      "crossentropy: labels must be 1-D (N), got 2-D (1,3)")
  end)
end)
