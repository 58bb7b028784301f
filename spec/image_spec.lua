local lunet = require "lunet"
local IO = require "spec.io_helper"
local image = lunet.image

local H = require "spec.helper"
local DATA = H.dataDir("CIFAR10")

-- Largest absolute difference between a tensor and a nested table of numbers.
local function maxdiff(t, expected)
  local worst = 0
  local function walk(a, b)
    if type(b) == "table" then
      assert.equal(#b, #a, "shape mismatch")
      for i = 1, #b do walk(a[i], b[i]) end
    else
      worst = math.max(worst, math.abs(a - b))
    end
  end
  walk(t:totable(), expected)
  return worst
end

-- Expected C×H×W table from a function of (c, y, x), all 1-based.
local function build(c, h, w, f)
  local t = {}
  for k = 1, c do
    t[k] = {}
    for y = 1, h do
      t[k][y] = {}
      for x = 1, w do t[k][y][x] = f(k, y, x) end
    end
  end
  return t
end

local tmp
before_each(function() tmp = IO.tmpdir() end)
after_each(function() IO.rmtree(tmp) end)

describe("image.load on the course's CIFAR-10 PNGs", function()
  -- Values decoded independently (zlib + PNG unfiltering outside lunet).
  local cases = {
    {file = "Train/0/Image00000.png", sum = 137997, row1 = {205, 203, 203, 208, 213, 218}, p14_7 = 48, last = 196},
    {file = "Test/9/Image00099.png", sum = 95768, row1 = {194, 161, 157, 158, 158, 158}, p14_7 = 115, last = 182},
  }
  for _, c in ipairs(cases) do
    it(c.file .. " is 1x28x28 in [0,1] with the known pixels", function()
      if not DATA then return pending("CIFAR10 data set not found (set LUNET_DATA)") end
      local x = image.load(DATA .. "/" .. c.file)
      assert.same({1, 28, 28}, x:size())
      assert.equal("float", x:dtype())
      assert.is_true(x:min() >= 0 and x:max() <= 1)
      assert.near(c.sum, x:sum() * 255, 1e-2)
      local t = x:totable()[1]
      for i, v in ipairs(c.row1) do assert.near(v / 255, t[1][i], 1e-7) end
      assert.near(c.p14_7 / 255, t[14][7], 1e-7)
      assert.near(c.last / 255, t[28][28], 1e-7)
    end)
  end
end)

describe("image.load of every PNG layout", function()
  local W, HT = 5, 3
  local function load(o)
    o.w, o.h = o.w or W, o.h or HT
    return image.load(IO.write(tmp .. "/t.png", IO.png(o)))
  end

  for _, bits in ipairs{1, 2, 4, 8, 16} do
    for _, interlace in ipairs{false, true} do
      it(("gray, %d-bit%s"):format(bits, interlace and ", interlaced" or ""), function()
        local top = (1 << bits) - 1
        local v = function(x, y) return (x * 7 + y * 3) % (top + 1) end
        local x = load{color = 0, bits = bits, interlace = interlace, w = 11, h = 9,
          pixel = function(px, py) return {v(px, py)} end}
        assert.same({1, 9, 11}, x:size())
        assert.is_true(maxdiff(x, build(1, 9, 11, function(_, y, xx) return v(xx - 1, y - 1) / top end)) < 1e-6)
      end)
    end
  end

  it("gray + alpha keeps alpha as a second channel (8 and 16 bit)", function()
    for _, bits in ipairs{8, 16} do
      local top = (1 << bits) - 1
      local x = load{color = 4, bits = bits, pixel = function(px, py) return {px * 10, top - py} end}
      assert.same({2, HT, W}, x:size())
      assert.is_true(maxdiff(x, build(2, HT, W, function(k, y, xx)
        return (k == 1 and (xx - 1) * 10 or top - (y - 1)) / top end)) < 1e-6)
    end
  end)

  it("RGB and RGBA, 8 and 16 bit, interlaced or not", function()
    for _, color in ipairs{2, 6} do
      for _, bits in ipairs{8, 16} do
        for _, interlace in ipairs{false, true} do
          local c = color == 2 and 3 or 4
          local f = function(k, px, py) return ((px + 1) * 13 + (py + 1) * 31 + k * 57) % 256 * (bits == 16 and 257 or 1) end
          local x = load{color = color, bits = bits, interlace = interlace, w = 9, h = 10, pixel = function(px, py)
            local s = {}
            for k = 1, c do s[k] = f(k, px, py) end
            return s
          end}
          assert.same({c, 10, 9}, x:size())
          local top = (1 << bits) - 1
          assert.is_true(maxdiff(x, build(c, 10, 9, function(k, y, xx) return f(k, xx - 1, y - 1) / top end)) < 1e-6)
        end
      end
    end
  end)

  it("palette becomes RGB, or RGBA with tRNS; low-bit palettes too", function()
    local pal = {{255, 0, 0}, {0, 128, 255}, {10, 20, 30}, {200, 200, 200}}
    local idx = function(px, py) return (px + py) % 4 end
    for _, bits in ipairs{2, 8} do
      local x = load{color = 3, bits = bits, palette = pal, pixel = function(px, py) return {idx(px, py)} end}
      assert.same({3, HT, W}, x:size())
      assert.is_true(maxdiff(x, build(3, HT, W, function(k, y, xx) return pal[idx(xx - 1, y - 1) + 1][k] / 255 end)) < 1e-6)
    end
    local alpha = {0, 100} -- entries past the tRNS list are opaque
    local x = load{color = 3, bits = 8, palette = pal, trns = string.char(table.unpack(alpha)),
      pixel = function(px, py) return {idx(px, py)} end}
    assert.same({4, HT, W}, x:size())
    assert.is_true(maxdiff(x, build(4, HT, W, function(k, y, xx)
      local i = idx(xx - 1, y - 1) + 1
      return (k <= 3 and pal[i][k] or alpha[i] or 255) / 255 end)) < 1e-6)
  end)

  it("gray with a tRNS colour key gets an alpha channel", function()
    local x = load{color = 0, bits = 8, trns = string.pack(">I2", 7), pixel = function(px) return {px == 2 and 7 or 9} end}
    assert.same({2, HT, W}, x:size())
    local t = x:totable()
    assert.equal(0, t[2][1][3])
    assert.equal(1, t[2][1][1])
  end)
end)

describe("image.save", function()
  it("round-trips 1 and 3 channels exactly at 8 bits", function()
    for _, c in ipairs{1, 3} do
      local exp = build(c, 4, 6, function(k, y, x) return ((k * 37 + y * 11 + x * 5) % 256) / 255 end)
      local x = lunet.tensor(exp)
      image.save(tmp .. "/rt.png", x)
      local y = image.load(tmp .. "/rt.png")
      assert.same({c, 4, 6}, y:size())
      assert.is_true(maxdiff(y, exp) < 1e-7)
    end
  end)

  it("writes 16-bit PNGs that read back to within half a level of 1/65535", function()
    lunet.manualSeed(3)
    local x = lunet.rand(3, 5, 7)
    image.save(tmp .. "/16.png", x, {bits = 16})
    local y = image.load(tmp .. "/16.png")
    assert.is_true((y - x):abs():max() <= 0.5 / 65535 + 1e-7)
    -- 8 bits would be far coarser: the 16-bit file really holds 16 bits
    image.save(tmp .. "/8.png", x)
    assert.is_true((image.load(tmp .. "/8.png") - x):abs():max() > 100 / 65535)
  end)

  it("accepts H×W as one gray channel and 2 or 4 channels with alpha", function()
    image.save(tmp .. "/hw.png", lunet.full({3, 4}, 0.2))
    assert.same({1, 3, 4}, image.load(tmp .. "/hw.png"):size())
    image.save(tmp .. "/ga.png", lunet.full({2, 3, 4}, 0.6))
    assert.same({2, 3, 4}, image.load(tmp .. "/ga.png"):size())
    image.save(tmp .. "/rgba.png", lunet.full({4, 3, 4}, 0.6))
    assert.same({4, 3, 4}, image.load(tmp .. "/rgba.png"):size())
  end)

  it("clamps to [0,1] by default (NaN to 0)", function()
    local x = lunet.tensor{{{-1, 0.5, 2, 0 / 0}}}
    image.save(tmp .. "/c.png", x)
    local t = image.load(tmp .. "/c.png"):totable()[1][1]
    for i, v in ipairs{0, 128 / 255, 1, 0} do assert.near(v, t[i], 1e-7) end
  end)

  it("scales with minmax and symmetric", function()
    local x = lunet.tensor{{{-3, -1, 0, 5}}}
    image.save(tmp .. "/m.png", x, {scale = "minmax"})
    local m = image.load(tmp .. "/m.png"):totable()[1][1]
    for i, v in ipairs{0, 64 / 255, 96 / 255, 1} do assert.near(v, m[i], 1e-7) end -- 2/8, 3/8 of 255, rounded
    image.save(tmp .. "/s.png", x, {scale = "symmetric"})
    local s = image.load(tmp .. "/s.png"):totable()[1][1]
    -- x / 10 + 0.5: -3 -> 0.2, -1 -> 0.4, 0 -> 0.5, 5 -> 1
    for i, v in ipairs{0.2, 0.4, 0.5, 1} do assert.near(v, s[i], 0.5 / 255 + 1e-7) end
  end)

  it("saves non-contiguous tensors", function()
    local x = lunet.tensor(build(1, 3, 5, function(_, y, xx) return (y * 5 + xx) / 40 end))
    local xt = x:transpose(2, 3)
    image.save(tmp .. "/t.png", xt)
    assert.is_true((image.load(tmp .. "/t.png") - xt):abs():max() <= 0.5 / 255 + 1e-7)
  end)

  it("rejects bad arguments, naming image.save", function()
    local p = tmp .. "/bad.png"
    assert.has_error(function() image.save(p, lunet.zeros(1, 1, 2, 2)) end,
      "image.save: image must be 2-D (H,W) or 3-D (C,H,W) with C = 1 (gray), 2 (gray, alpha), 3 (RGB) or 4 (RGBA), got 4-D (1,1,2,2)")
    assert.has_error(function() image.save(p, lunet.zeros(5, 2, 2)) end,
      "image.save: image must be 2-D (H,W) or 3-D (C,H,W) with C = 1 (gray), 2 (gray, alpha), 3 (RGB) or 4 (RGBA), got 3-D (5,2,2)")
    assert.has_error(function() image.save(p, lunet.zeros(1, 0, 2)) end,
      "image.save: image must have at least one pixel, got (1,0,2)")
    assert.has_error(function() image.save(p, lunet.zeros(2, 2, "int")) end,
      "image.save: argument #2 must be a float tensor, got an int tensor")
    assert.has_error(function() image.save(p, {}) end, "image.save: argument #1 must be a tensor, got table")
    assert.has_error(function() image.save(42, lunet.zeros(2, 2)) end,
      "image.save: argument #1 (path) must be a string, got number")
    assert.has_error(function() image.save(p, lunet.zeros(2, 2), {scale = "log"}) end,
      'image.save: scale (argument #3) must be "minmax" or "symmetric" or nil, got log')
    assert.has_error(function() image.save(p, lunet.zeros(2, 2), {bits = 12}) end,
      "image.save: bits must be 8 or 16, got 12")
    assert.has_error(function() image.save(p, lunet.zeros(2, 2), {bits = (1 << 32) + 8}) end,
      "image.save: bits must be 8 or 16, got 4294967304")
    assert.has_error(function() image.save(p, lunet.zeros(2, 2), {bits = "16"}) end,
      "image.save: bits must be 8 or 16, got 16")
    assert.has_error(function() image.save(p, lunet.zeros(2, 2), {colour = 1}) end,
      'image.save: unknown option "colour" (known: scale, bits)')
    assert.has_error(function() image.save(p, lunet.zeros(2, 2), "minmax") end,
      "image.save: options must be a table, got string")
    assert.is_false(IO.exists(p))
  end)

  it("names the file when it cannot be written, and leaves nothing behind", function()
    local p = tmp .. "/no/such/dir/x.png"
    local msg = IO.errmsg(image.save, p, lunet.zeros(2, 2))
    assert.equal("image.save: cannot write '" .. p .. "': No such file or directory", msg)
    -- libpng's own refusal (its default limit is a million pixels per row), after the file was opened
    p = tmp .. "/wide.png"
    msg = IO.errmsg(image.save, p, lunet.zeros(1, 1000001))
    assert.equal("image.save: cannot write '" .. p .. "': Invalid IHDR data", msg)
    assert.is_false(IO.exists(p))
  end)
end)

describe("image.load errors", function()
  it("missing file, not a PNG, wrong argument", function()
    local p = tmp .. "/missing.png"
    assert.has_error(function() image.load(p) end,
      "image.load: cannot open '" .. p .. "': No such file or directory")
    local q = IO.write(tmp .. "/text.png", "hello, this is not a PNG file")
    assert.has_error(function() image.load(q) end, "image.load: '" .. q .. "' is not a PNG file (bad signature)")
    assert.has_error(function() image.load(nil) end, "image.load: argument #1 (path) must be a string, got nil")
  end)

  it("every truncation of a real PNG is an error naming image.load and the file", function()
    if not DATA then return pending("CIFAR10 data set not found (set LUNET_DATA)") end
    local data = IO.read(DATA .. "/Train/3/Image00010.png")
    local p = tmp .. "/cut.png"
    for n = 0, #data - 1 do
      IO.write(p, data:sub(1, n))
      local msg = IO.errmsg(image.load, p)
      assert.matches("image.load: '" .. p .. "'", msg, 1, true)
    end
  end)

  it("a corrupt IDAT stream with valid CRCs is an error", function()
    local png = IO.png{color = 0, bits = 8, w = 4, h = 4, pixel = function() return {1} end,
      idat = "\x78\x01\xff\xff\xff\xff\xff\xff"}
    local p = IO.write(tmp .. "/z.png", png)
    assert.matches("image.load: '" .. p .. "': corrupt PNG: ", IO.errmsg(image.load, p), 1, true)
  end)

  it("a bad CRC in a critical chunk is an error", function()
    if not DATA then return pending("CIFAR10 data set not found (set LUNET_DATA)") end
    local data = IO.read(DATA .. "/Train/3/Image00010.png")
    local p = IO.write(tmp .. "/crc.png", data:sub(1, 20) .. string.char(data:byte(21) ~ 1) .. data:sub(22))
    assert.matches("image.load: '" .. p .. "': corrupt PNG: IHDR: CRC error", IO.errmsg(image.load, p), 1, true)
  end)

  it("flipping any byte of a real PNG loads it or raises an error, never crashes", function()
    if not DATA then return pending("CIFAR10 data set not found (set LUNET_DATA)") end
    local data = IO.read(DATA .. "/Train/3/Image00010.png")
    local p = tmp .. "/flip.png"
    local errors = 0
    for i = 1, #data do
      IO.write(p, data:sub(1, i - 1) .. string.char(data:byte(i) ~ 0x5a) .. data:sub(i + 1))
      local ok, res = pcall(image.load, p)
      if ok then
        assert.equal(3, res:dim())
      else
        errors = errors + 1
        assert.matches("image.load: '" .. p .. "'", res, 1, true)
      end
    end
    assert.is_true(errors > #data / 2)
  end)
end)

describe("image operations", function()
  local function ramp(c, h, w)
    return lunet.tensor(build(c, h, w, function(k, y, x) return k * 100 + y * 10 + x + 0.25 * ((x * y) % 3) end))
  end

  it("translate by whole pixels is a shifted copy with fill", function()
    local x = ramp(2, 5, 7)
    local xt = x:totable()
    local y = image.translate(x, 2, -1, -9)
    assert.same({2, 5, 7}, y:size())
    assert.same(build(2, 5, 7, function(k, r, c)
      local sr, sc = r + 1, c - 2
      return (sr >= 1 and sr <= 5 and sc >= 1 and sc <= 7) and xt[k][sr][sc] or -9 end), y:totable())
  end)

  it("translate by half a pixel averages neighbours", function()
    local x = ramp(1, 3, 4)
    local xt = x:totable()[1]
    local yt = image.translate(x, 0.5, 0):totable()[1]
    for r = 1, 3 do
      assert.near(0.5 * xt[r][1], yt[r][1], 1e-5) -- half of the fill (0)
      for c = 2, 4 do assert.near(0.5 * (xt[r][c - 1] + xt[r][c]), yt[r][c], 1e-4) end
    end
  end)

  it("rotate by 0 and 360 is the identity; by 90 is transpose-then-flip; by 180 flips both ways", function()
    local x = ramp(2, 6, 6)
    local xt = x:totable()
    assert.same(xt, image.rotate(x, 0):totable())
    assert.same(xt, image.rotate(x, 360):totable())
    -- counter-clockwise as displayed: y[i][j] = x[j][n+1-i]
    assert.same(build(2, 6, 6, function(k, i, j) return xt[k][j][7 - i] end), image.rotate(x, 90):totable())
    assert.same(build(2, 6, 6, function(k, i, j) return xt[k][7 - i][7 - j] end), image.rotate(x, 180):totable())
    assert.same(image.rotate(x, 270):totable(), image.rotate(x, -90):totable())
  end)

  it("rotate by other angles keeps the centre and fills the corners", function()
    local x = ramp(1, 7, 7)
    local y = image.rotate(x, 45, -1):totable()[1]
    assert.near(x:totable()[1][4][4], y[4][4], 1e-4)
    assert.equal(-1, y[1][1])
    -- rotating back nearly restores the middle
    local back = image.rotate(image.rotate(x, 30), -30):totable()[1]
    assert.near(x:totable()[1][4][4], back[4][4], 1e-3)
  end)

  it("resize to the same size is the identity; up and down sampling are bilinear", function()
    local x = ramp(3, 4, 5)
    assert.same(x:totable(), image.resize(x, 4, 5):totable())
    local a = lunet.tensor{{{1, 5}, {3, 7}}}
    -- half-pixel aligned: source x = (x + 0.5) / 2 - 0.5 = -0.25 (clamped), 0.25, 0.75, 1.25 (clamped)
    local up = image.resize(a, 2, 4):totable()[1]
    assert.same({{1, 2, 4, 5}, {3, 4, 6, 7}}, up)
    local b = lunet.arange(16):float():view(1, 4, 4)
    -- down by 2: each output reads the middle of a 2x2 block
    assert.same({{{2.5, 4.5}, {10.5, 12.5}}}, image.resize(b, 2, 2):totable())
  end)

  it("scale by 1 is the identity and by 2 zooms about the centre", function()
    local x = ramp(1, 3, 3)
    assert.same(x:totable(), image.scale(x, 1):totable())
    local xt = x:totable()[1]
    local y = image.scale(x, 2):totable()[1]
    -- output (1,1) reads the input at (1.5, 1.5) in 1-based terms
    assert.near((xt[1][1] + xt[1][2] + xt[2][1] + xt[2][2]) / 4, y[1][1], 1e-5)
    assert.equal(xt[2][2], y[2][2])
  end)

  it("crop copies a window, filling past the border", function()
    local x = ramp(2, 5, 6)
    assert.same(x:narrow(2, 2, 3):narrow(3, 3, 2):contiguous():totable(), image.crop(x, 2, 3, 3, 2):totable())
    local xt = x:totable()
    local y = image.crop(x, 0, 5, 3, 4, -7):totable()
    assert.same(build(2, 3, 4, function(k, r, c)
      local sr, sc = r - 1, c + 4
      return (sr >= 1 and sc <= 6) and xt[k][sr][sc] or -7 end), y)
  end)

  it("works on batches N×C×H×W and planes H×W, plane by plane", function()
    local x = ramp(6, 5, 5)
    local batch = x:view(2, 3, 5, 5)
    local y = image.rotate(batch, 90)
    assert.same({2, 3, 5, 5}, y:size())
    assert.same(image.rotate(x, 90):totable(), y:view(6, 5, 5):totable())
    local plane = x[1]
    assert.same({5, 5}, image.translate(plane, 1, 1):size())
    assert.same(image.translate(x, 1, 1)[1]:totable(), image.translate(plane, 1, 1):totable())
  end)

  it("accepts non-contiguous input", function()
    local x = ramp(1, 4, 6)
    local xt = x:transpose(2, 3)
    assert.same(xt:contiguous():totable(), image.rotate(xt, 0):totable())
  end)

  it("normalize: minmax, symmetric, per image, and no contrast", function()
    local x = lunet.tensor{{-2, 0}, {2, 6}}
    assert.same({{0, 0.25}, {0.5, 1}}, image.normalize(x, "minmax"):totable())
    local sym = image.normalize(x, "symmetric"):totable() -- x / (2*6) + 0.5
    for i, row in ipairs{{-2, 0}, {2, 6}} do
      for j, v in ipairs(row) do assert.near(v / 12 + 0.5, sym[i][j], 1e-7) end
    end
    assert.same({{0, 1}, {0, 1}}, image.normalize(x, "minmax", {perImage = true}):totable())
    assert.same({{0.5, 0.5}}, image.normalize(lunet.full({1, 2}, 3), "minmax"):totable())
    assert.same({{0.5, 0.5}}, image.normalize(lunet.zeros(1, 2), "symmetric"):totable())
    assert.same({2, 2}, x:size()) -- input untouched
    assert.same({{-2, 0}, {2, 6}}, x:totable())
  end)

  it("rejects bad arguments with the function named", function()
    local x = lunet.zeros(1, 4, 4)
    assert.has_error(function() image.resize(lunet.zeros(4), 2, 2) end,
      "image.resize: image must be 2-D (H,W), 3-D (C,H,W) or 4-D (N,C,H,W), got 1-D (4)")
    assert.has_error(function() image.resize(x, 0, 2) end, "image.resize: height must be in 1..2147483647, got 0")
    assert.has_error(function() image.resize(x, 2.5, 2) end, "image.resize: height (argument #2) must be an integer, got 2.5")
    assert.has_error(function() image.resize(x, 2) end, "image.resize: width (argument #3) must be an integer, got nil")
    assert.has_error(function() image.resize(lunet.zeros(1, 0, 3), 2, 2) end, "image.resize: cannot resize an empty image (1,0,3)")
    assert.has_error(function() image.rotate(x, 0 / 0) end, "image.rotate: angle must be finite, got nan")
    assert.has_error(function() image.rotate(x, "90") end, "image.rotate: angle (argument #2) must be a number, got string")
    assert.has_error(function() image.rotate(lunet.zeros(4, 4, "int"), 90) end,
      "image.rotate: argument #1 must be a float tensor, got an int tensor")
    assert.has_error(function() image.translate(x, 1) end, "image.translate: dy (argument #3) must be a number, got nil")
    assert.has_error(function() image.translate(x, 1, 1, "grey") end, "image.translate: fill (argument #4) must be a number, got string")
    assert.has_error(function() image.scale(x, 0) end, "image.scale: factor must be positive, got 0.0")
    assert.has_error(function() image.crop(x, 1, 1, 0, 2) end, "image.crop: height must be in 1..2147483647, got 0")
    assert.has_error(function() image.crop(x, 1 << 40, 1, 1, 1) end,
      "image.crop: top must be in -2147483648..2147483647, got 1099511627776")
    assert.has_error(function() image.normalize(x, "log") end,
      'image.normalize: scale (argument #2) must be "minmax" or "symmetric", got log')
    assert.has_error(function() image.normalize(x, "minmax", {per = true}) end,
      'image.normalize: unknown option "per" (known: perImage)')
    assert.has_error(function() image.translate("x", 1, 1) end, "image.translate: argument #1 must be a tensor, got string")
  end)
end)
