-- lunet.data.transforms and the Loader's transform option.
local lunet = require "lunet"
local T = lunet.data.transforms

-- The batch x padded by p zeros on every side, built with tensor ops (not the kernel).
local function padded(x, p)
  local n, c, h, w = table.unpack(x:size())
  local out = lunet.zeros(n, c, h + 2 * p, w + 2 * p)
  out:narrow(3, p + 1, h):narrow(4, p + 1, w):copy(x)
  return out
end

describe("data.transforms", function()
  it("RandomHorizontalFlip mirrors the chosen images and leaves the others", function()
    lunet.manualSeed(1)
    local x = lunet.randn(200, 2, 3, 5)
    local y = T.RandomHorizontalFlip()(x)
    local rev = lunet.tensor({5, 4, 3, 2, 1}, "int")
    local flipped = 0
    for i = 1, 200 do
      local xi, yi = x:select(1, i), y:select(1, i)
      if yi:eq(xi):all() then
        assert.is_false(yi:eq(xi:indexSelect(3, rev)):all())
      else
        assert.are.same(xi:indexSelect(3, rev):totable(), yi:totable())
        flipped = flipped + 1
      end
    end
    assert.is_true(flipped > 70 and flipped < 130, "flipped " .. flipped)
    assert.are.same(x:totable(), T.RandomHorizontalFlip{p = 0}(x):totable())
  end)

  it("RandomCrop takes a window of the zero-padded image, at every offset", function()
    lunet.manualSeed(2)
    local x = lunet.randn(300, 1, 4, 5)
    local y = T.RandomCrop({3, 4}, {padding = 1})(x)
    local p = padded(x, 1)
    local seen = {}
    for i = 1, 300 do
      local found
      for oy = 0, 3 do
        for ox = 0, 3 do
          local win = p:select(1, i):narrow(2, oy + 1, 3):narrow(3, ox + 1, 4)
          if win:eq(y:select(1, i)):all() then found = oy * 4 + ox end
        end
      end
      assert.is_not_nil(found, "image " .. i .. " is no window of its padded self")
      seen[found] = true
    end
    local count = 0
    for _ in pairs(seen) do count = count + 1 end
    assert.are.equal(16, count) -- every offset drawn
  end)

  it("RandomCrop fills the padding with fill", function()
    local y = T.RandomCrop(4, {padding = 2, fill = -1})(lunet.ones(50, 1, 2, 2))
    assert.are.equal(50 * 16 - 50 * 4, y:eq(-1):sum())
  end)

  it("Normalize subtracts the mean and divides by the standard deviation per channel", function()
    local x = lunet.ones(2, 3, 2, 2)
    local y = T.Normalize({1, 0, 2}, {1, 0.5, 4})(x)
    assert.are.same({0, 2, -0.25}, {y[1][1][1][1], y[1][2][1][1], y[2][3][2][2]})
  end)

  it("Compose applies in order, and keeps non-contiguous batches working", function()
    local x = lunet.randn(3, 2, 4, 4):transpose(3, 4)
    local y = T.Compose{T.RandomHorizontalFlip{p = 1}, T.RandomHorizontalFlip{p = 1}}(x)
    assert.are.same(x:contiguous():totable(), y:totable())
  end)

  it("return a buffer of their own that the next call overwrites, and never change the input", function()
    lunet.manualSeed(6)
    for _, t in ipairs({T.RandomCrop(4, {padding = 1}), T.RandomHorizontalFlip(), T.Normalize({1}, {2})}) do
      local x1, x2 = lunet.randn(3, 1, 4, 4), lunet.randn(3, 1, 4, 4)
      local keep = x1:clone()
      local y1 = t(x1)
      local first = y1:clone()
      local y2 = t(x2)
      assert.is_true(y1:sharesStorage(y2)) -- one buffer
      assert.are.same(keep:totable(), x1:totable())
      assert.is_false(first:eq(y2):all())
      local z = t(t(x1)) -- fed its own output: computed from it, not from a half-written buffer
      assert.are.same({3, 1, 4, 4}, z:size())
    end
    local n = T.Normalize({1}, {2})
    local once = n(lunet.ones(2, 1, 2, 2)):clone()
    assert.are.same(once:sub(1):div(2):totable(), n(n(lunet.ones(2, 1, 2, 2))):totable())
  end)

  it("take empty batches", function()
    assert.are.same({0, 1, 3, 3}, T.RandomCrop(3, {padding = 1})(lunet.zeros(0, 1, 3, 3)):size())
  end)

  it("refuse bad arguments", function()
    assert.has_error(function() T.RandomCrop("a") end, "RandomCrop: size must be an integer or {h, w}, got a")
    assert.has_error(function() T.RandomCrop(3, {pad = 1}) end)
    assert.has_error(function() T.RandomCrop(5)(lunet.zeros(1, 1, 4, 4)) end,
      "RandomCrop: a 5x5 crop does not fit a 4x4 image padded by 0")
    assert.has_error(function() T.RandomHorizontalFlip{p = 2} end, "RandomHorizontalFlip: p must be a number in [0, 1], got 2")
    assert.has_error(function() T.RandomHorizontalFlip()(lunet.zeros(2, 3)) end,
      "RandomHorizontalFlip: input must be 4-D (N,C,H,W), got 2-D (2,3)")
    assert.has_error(function() T.Normalize({0}, {0}) end, "Normalize: std[1] must be a number > 0, got 0")
    assert.has_error(function() T.Normalize({0, 1}, {1}) end, "Normalize: mean has 2 entries, std 1")
    assert.has_error(function() T.Normalize({0}, {1})(lunet.zeros(1, 3, 2, 2)) end,
      "Normalize: input has 3 channels, mean and std 1")
    assert.has_error(function() T.Compose{T.RandomHorizontalFlip(), 5} end,
      "Compose: entry 2 must be a transform (a function), got number")
  end)

  it("crop_flip refuses draws out of range", function()
    local x = lunet.zeros(2, 1, 3, 3)
    local ok = lunet.tensor({0, 0}, "int")
    assert.has_error(function() lunet.core.crop_flip(x, lunet.zeros(0), lunet.tensor({0, 3}, "int"), ok, nil, 1, 3, 3) end,
      "crop_flip: oy[2] = 3 is outside 0..2")
    assert.has_error(function() lunet.core.crop_flip(x, lunet.zeros(0), ok, ok, lunet.tensor({0, 2}, "int"), 0, 3, 3) end,
      "crop_flip: flip[2] = 2 is outside 0..1")
    assert.has_error(function() lunet.core.crop_flip(x, x, ok, ok, nil, 0, 3, 3) end)
  end)
end)

describe("Loader with a transform", function()
  local ds = {images = lunet.randn(20, 1, 4, 4), labels = lunet.arange(1, 21):int()}

  it("applies it to every batch, reproducibly with a seed", function()
    local function batches()
      local l = lunet.data.Loader(ds, {batchSize = 5, seed = 3, transform = T.RandomCrop(4, {padding = 1})})
      local out = {}
      for i = 1, 6 do out[i] = l:next():clone() end
      return out
    end
    local a, b = batches(), batches()
    for i = 1, 6 do assert.are.same(a[i]:totable(), b[i]:totable()) end
    local l = lunet.data.Loader(ds, {batchSize = 5, transform = function(x) return x:mul(0) end})
    assert.are.equal(0, l:next():abs():sum())
  end)

  it("refuses a transform that is not a function", function()
    assert.has_error(function() lunet.data.Loader(ds, {transform = 3}) end,
      "Loader: transform must be a function(x) -> x, got number")
  end)
end)
