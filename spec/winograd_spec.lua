-- Winograd's convolution (csrc/kernels/winograd.c): F(2x2, 5x5) and F(4x4, 3x3), taking
-- over Conv2d (and the stride-1 ConvTranspose2d) with 3x3 and 5x5 filters, stride 1, no
-- dilation or groups, and at least 32 channels in and out, under lunet.setConvAlgorithm("auto").
-- Its outputs and gradients against the im2col kernels' (which conv_spec.lua checks against
-- finite differences and PyTorch) and against finite differences along random directions;
-- which convolutions it takes; thread-count independence; the setting's errors.
local lunet = require "lunet"
local nn = require "lunet.nn"
local H = require "spec.helper"
local core = lunet.core

-- Runs fn with the algorithm set to `name`, then restores the setting.
local function under(name, fn)
  local saved = lunet.convAlgorithm()
  lunet.setConvAlgorithm(name)
  local ok, a, b, c, d = pcall(fn)
  lunet.setConvAlgorithm(saved)
  assert(ok, a)
  return a, b, c, d
end

-- The module's output and its gradients of sum(out * r) w.r.t. x, weight and bias.
local function run(m, x, r)
  m:zeroGrad()
  local out = m:forward(x):clone()
  local gx = m:backward(x, r):clone()
  return out, gx, m.gradWeight:clone(), m.bias and m.gradBias:clone() or nil
end

-- sum(forward(x) * r) moved along a random direction d of tensor t: its centered difference
-- against <gradient, d>. The objective is linear in t, so the difference is exact up to rounding.
local function directional(m, x, r, t, grad)
  local d = lunet.randn(table.unpack(t:size()))
  local function f(s)
    t:add_(d * s)
    local v = m:forward(x):mul(r):sum()
    t:add_(d * -s)
    return v
  end
  local numeric = (f(0.5) - f(-0.5)) / 1.0
  local analytic = grad:mul(d):sum()
  return math.abs(numeric - analytic) / math.max(math.abs(analytic), 1)
end

local cases = {
  { "LeNet-5's conv2: 32 -> 64, 5x5, padding 2", function() return nn.Conv2d(32, 64, 5, { padding = 2 }) end,
    { 3, 32, 14, 14 } },
  { "3x3, padding 1, non-square input, 37 output channels (not a multiple of 8)",
    function() return nn.Conv2d(32, 37, 3, { padding = 1 }) end, { 5, 32, 9, 11 } },
  { "5x5, no padding, 33 input channels, output sides not multiples of the tile",
    function() return nn.Conv2d(33, 32, 5) end, { 2, 33, 8, 7 } },
  { "3x3, padding 2 (wider than the filter's half), no bias",
    function() return nn.Conv2d(32, 32, 3, { padding = 2, bias = false }) end, { 2, 32, 5, 6 } },
  { "a batch of 20: groups of images and blocks of parameter sums",
    function() return nn.Conv2d(32, 48, 5, { padding = 2 }) end, { 20, 32, 6, 6 } },
  { "ConvTranspose2d 32 -> 40, 5x5, stride 1, padding 1 (its forward is conv2d's input gradient)",
    function() return nn.ConvTranspose2d(32, 40, 5, { padding = 1 }) end, { 3, 32, 6, 5 } },
}

describe("Winograd convolution", function()
  for i, c in ipairs(cases) do
    it(c[1] .. ": im2col's results up to rounding, and gradients that match finite differences", function()
      lunet.manualSeed(40 + i)
      local m, x = c[2](), lunet.randn(table.unpack(c[3]))
      local r = lunet.randn(table.unpack(m:forward(x):size()))
      local ref = { under("im2col", function() return run(m, x, r) end) }
      local got = { under("auto", function() return run(m, x, r) end) }
      for k, name in ipairs({ "output", "grad input", "grad weight", "grad bias" }) do
        if ref[k] then
          local e = H.relerr(got[k], ref[k])
          assert.is_true(e < 2e-5, name .. " differs from im2col's by " .. e)
          -- a different path ran: its rounding is not im2col's (the bias sums are the same sums)
          assert.is_true(k == 4 or e > 0, name .. " is im2col's to the bit: Winograd did not run")
        end
      end
      under("auto", function()
        assert.is_true(directional(m, x, r, x, got[2]) < 1e-3, "input")
        assert.is_true(directional(m, x, r, m.weight, got[3]) < 1e-3, "weight")
        if m.bias then assert.is_true(directional(m, x, r, m.bias, got[4]) < 1e-3, "bias") end
      end)
    end)
  end

  it("gives the known answer: all-ones filters over an all-ones image count the taps inside it", function()
    -- 3x3 with padding 1 and 5x5 with padding 2 on 6x7: each output is (input channels) x (the
    -- window's taps that fall on the image) + the bias; its input gradient for an all-ones
    -- gradient counts the same taps per output channel, its weight gradient the pixels each tap sees
    for _, k in ipairs({ 3, 5 }) do
      local pad, h, w, c, oc = (k - 1) // 2, 6, 7, 32, 40
      local m = nn.Conv2d(c, oc, k, { padding = pad })
      m.weight:fill(1)
      m.bias:fill(0.5)
      local x = lunet.ones(2, c, h, w)
      local function inside(n, i) return math.min(n - 1, i + pad) - math.max(0, i - pad) + 1 end
      under("auto", function()
        m:zeroGrad()
        local y = m:forward(x)
        local gx = m:backward(x, lunet.ones(2, oc, h, w))
        for _, at in ipairs({ { 1, 1 }, { 1, 4 }, { 3, 3 }, { 6, 7 }, { 4, 1 } }) do
          local taps = inside(h, at[1] - 1) * inside(w, at[2] - 1)
          assert.near(c * taps + 0.5, y[2][oc][at[1]][at[2]], 1e-5 * c * taps)
          assert.near(oc * taps, gx[1][c][at[1]][at[2]], 1e-5 * oc * taps)
        end
        -- the centre tap sees every pixel of both images; the top-left tap misses a row and a column
        local mid = pad + 1
        assert.near(2 * h * w, m.gradWeight[1][1][mid][mid], 1e-4 * h * w)
        assert.near(2 * (h - pad) * (w - pad), m.gradWeight[oc][c][1][1], 1e-4 * h * w)
        assert.near(2 * h * w, m.gradBias[1], 1e-4 * h * w)
      end)
    end
  end)

  it("leaves the convolutions it does not cover to im2col, to the bit", function()
    lunet.manualSeed(50)
    local others = {
      { nn.Conv2d(32, 32, 3, { stride = 2, padding = 1 }), { 2, 32, 8, 8 } },
      { nn.Conv2d(32, 32, 3, { dilation = 2, padding = 2 }), { 2, 32, 8, 8 } },
      { nn.Conv2d(64, 64, 3, { groups = 2, padding = 1 }), { 2, 64, 6, 6 } },
      { nn.Conv2d(16, 32, 5, { padding = 2 }), { 2, 16, 8, 8 } }, -- too few input channels
      { nn.Conv2d(32, 32, 7, { padding = 3 }), { 2, 32, 8, 8 } },
      { nn.Conv2d(32, 32, { 3, 5 }, { padding = { 1, 2 } }), { 2, 32, 8, 8 } },
    }
    for i, o in ipairs(others) do
      local m, x = o[1], lunet.randn(table.unpack(o[2]))
      local r = lunet.randn(table.unpack(m:forward(x):size()))
      local ref = { under("im2col", function() return run(m, x, r) end) }
      local got = { under("auto", function() return run(m, x, r) end) }
      for k = 1, 4 do assert.is_true(H.relerr(got[k], ref[k]) == 0, "case " .. i .. " result " .. k) end
    end
  end)

  it("gives the same outputs and gradients with one thread and with two", function()
    lunet.manualSeed(51)
    local saved = core.getNumThreads()
    local mods = { { nn.Conv2d(32, 64, 5, { padding = 2 }), { 21, 32, 10, 10 } },
                   { nn.Conv2d(40, 32, 3, { padding = 1 }), { 13, 40, 9, 7 } } }
    for i, o in ipairs(mods) do
      local m, x = o[1], lunet.randn(table.unpack(o[2]))
      local r = lunet.randn(table.unpack(m:forward(x):size()))
      core.setNumThreads(1)
      local one = { run(m, x, r) }
      core.setNumThreads(2)
      local two = { run(m, x, r) }
      for k = 1, 4 do assert.is_true(H.relerr(one[k], two[k]) == 0, "case " .. i .. " result " .. k) end
    end
    core.setNumThreads(saved)
  end)

  it("is chosen by lunet.setConvAlgorithm, which refuses other names", function()
    local saved = lunet.convAlgorithm()
    lunet.setConvAlgorithm("im2col")
    assert.equal("im2col", lunet.convAlgorithm())
    lunet.setConvAlgorithm("auto")
    assert.equal("auto", lunet.convAlgorithm())
    local ok, err = pcall(lunet.setConvAlgorithm, "winograd")
    assert.is_false(ok)
    assert.matches("setConvAlgorithm: unknown algorithm 'winograd'", tostring(err), 1, true)
    assert.equal("auto", lunet.convAlgorithm())
    assert.has_error(function() lunet.setConvAlgorithm() end)
    lunet.setConvAlgorithm(saved)
  end)
end)
