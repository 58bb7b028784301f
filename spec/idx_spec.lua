local lunet = require "lunet"
local IO = require "spec.io_helper"

local H = require "spec.helper"
local MNIST = H.dataDir("mnist")

-- An IDX file: header for `type` and `dims`, then `body` (packed values).
local function idx(type, dims, body)
  local h = {string.char(0, 0, type, #dims)}
  for _, d in ipairs(dims) do h[#h + 1] = string.pack(">I4", d) end
  return table.concat(h) .. body
end

local function packAll(fmt, values)
  local out = {}
  for i, v in ipairs(values) do out[i] = string.pack(fmt, v) end
  return table.concat(out)
end

local tmp
before_each(function() tmp = IO.tmpdir() end)
after_each(function() IO.rmtree(tmp) end)

describe("loadIDX on MNIST", function()
  it("reads the training labels as int32, first 5 0 4 1 9, range 0..9", function()
    if not MNIST then return pending("mnist data set not found (set LUNET_DATA)") end
    local y = lunet.loadIDX(MNIST .. "/train-labels-idx1-ubyte.gz", "int")
    assert.same({60000}, y:size())
    assert.equal("int", y:dtype())
    assert.same({5, 0, 4, 1, 9}, y:narrow(1, 1, 5):totable())
    assert.equal(0, y:min())
    assert.equal(9, y:max())
  end)

  it("reads the training images as raw 0..255 floats, 60000x28x28", function()
    if not MNIST then return pending("mnist data set not found (set LUNET_DATA)") end
    local x = lunet.loadIDX(MNIST .. "/train-images-idx3-ubyte.gz")
    assert.same({60000, 28, 28}, x:size())
    assert.equal("float", x:dtype())
    assert.equal(0, x:min())
    assert.equal(255, x:max())
    -- sums decoded independently (gzip + byte sums outside lunet)
    assert.equal(27525, x[1]:sum())
    assert.equal(0, x[60000][15][9])
  end)

  it("reads the test set, 10000 images and labels", function()
    if not MNIST then return pending("mnist data set not found (set LUNET_DATA)") end
    local x = lunet.loadIDX(MNIST .. "/t10k-images-idx3-ubyte.gz")
    assert.same({10000, 28, 28}, x:size())
    assert.equal(18454, x[1]:sum())
    local y = lunet.loadIDX(MNIST .. "/t10k-labels-idx1-ubyte.gz", "int")
    assert.same({7, 2, 1, 0, 4, 1, 4, 9, 5, 9}, y:narrow(1, 1, 10):totable())
  end)
end)

describe("loadIDX formats", function()
  it("reads raw and gzip'd copies of the same file alike", function()
    local body = idx(0x08, {2, 3}, string.char(0, 1, 2, 250, 254, 255))
    local raw = IO.write(tmp .. "/a.idx", body)
    local gz = IO.write(tmp .. "/a.idx.gz", IO.gzip(body))
    local expect = {{0, 1, 2}, {250, 254, 255}}
    assert.same(expect, lunet.loadIDX(raw):totable())
    assert.same(expect, lunet.loadIDX(gz):totable())
    assert.same(expect, lunet.loadIDX(gz, "int"):totable())
    assert.same(expect, lunet.loadIDX(raw, "float"):totable())
  end)

  it("reads every IDX type, signed and big-endian", function()
    local cases = {
      {0x09, ">i1", {-128, -1, 0, 127}},
      {0x0B, ">i2", {-32768, -2, 300, 32767}},
      {0x0C, ">i4", {-2147483648, -5, 70000, 2147483647}},
      {0x0D, ">f", {-1.5, 0.25, 3e10, 0}},
      {0x0E, ">d", {-2.5, 0.125, 1e-3, 7}},
    }
    for _, c in ipairs(cases) do
      local p = IO.write(tmp .. "/t.idx", idx(c[1], {4}, packAll(c[2], c[3])))
      local x = lunet.loadIDX(p):totable()
      for i, v in ipairs(c[3]) do assert.near(v, x[i], math.abs(v) * 1e-7) end
      if c[1] <= 0x0C then
        assert.same(c[3], lunet.loadIDX(p, "int"):totable())
      else
        assert.has_error(function() lunet.loadIDX(p, "int") end,
          "loadIDX: '" .. p .. "' holds " .. (c[1] == 0x0D and "float32" or "float64") ..
          " values, which cannot be read as int")
      end
    end
  end)

  it("reads up to 8 dimensions and zero-sized ones", function()
    local dims = {1, 2, 1, 2, 1, 2, 1, 2}
    local p = IO.write(tmp .. "/8d.idx", idx(0x08, dims, string.rep("\7", 16)))
    assert.same(dims, lunet.loadIDX(p):size())
    local q = IO.write(tmp .. "/0.idx", idx(0x08, {3, 0}, ""))
    assert.same({3, 0}, lunet.loadIDX(q):size())
  end)

  it("reads a file larger than one read buffer", function()
    local n = 200003
    local body = {}
    for i = 1, n do body[i] = string.char(i % 251) end
    local p = IO.write(tmp .. "/big.idx.gz", IO.gzip(idx(0x08, {n}, table.concat(body))))
    local x = lunet.loadIDX(p, "int")
    assert.equal(n, x:numel())
    assert.equal(1, x[1])
    assert.equal(n % 251, x[n])
    assert.equal(65536 % 251, x[65536])
  end)
end)

describe("loadIDX errors name loadIDX and the file", function()
  local function err(path, ...) return IO.errmsg(lunet.loadIDX, path, ...) end

  it("missing file, a folder, bad arguments", function()
    local p = tmp .. "/missing.idx"
    assert.equal("loadIDX: cannot open '" .. p .. "': No such file or directory", err(p))
    assert.equal("loadIDX: '" .. tmp .. "' is a directory, not a regular file", err(tmp))
    assert.equal("loadIDX: argument #1 (path) must be a string, got nil", err(nil))
    local q = IO.write(tmp .. "/ok.idx", idx(0x08, {1}, "\1"))
    assert.equal('loadIDX: dtype (argument #2) must be "float" or "int", got double', err(q, "double"))
  end)

  it("bad magic: non-zero lead bytes, unknown type, 0 or 9 dimensions, too short", function()
    local cases = {
      {"\1\0\8\1" .. string.pack(">I4", 1) .. "x", "bad magic 0x01000801"},
      {"\0\0\7\1" .. string.pack(">I4", 1) .. "x", "bad magic 0x00000701"},
      {"\0\0\8\0", "bad magic 0x00000800"},
      {"\0\0\8\9" .. string.rep("\0\0\0\1", 9) .. "x", "bad magic 0x00000809"},
    }
    for _, c in ipairs(cases) do
      local p = IO.write(tmp .. "/m.idx", c[1])
      assert.matches("loadIDX: '" .. p .. "' is not an IDX file: " .. c[2], err(p), 1, true)
    end
    local p = IO.write(tmp .. "/short.idx", "\0\0")
    assert.equal("loadIDX: '" .. p .. "' is not an IDX file: only 2 bytes long", err(p))
  end)

  it("data shorter or longer than the header announces, raw and gzip'd", function()
    local short = idx(0x08, {2, 3}, "\1\2\3\4\5")
    local long = idx(0x08, {2, 3}, "\1\2\3\4\5\6\7")
    local p = IO.write(tmp .. "/s.idx", short)
    assert.equal("loadIDX: '" .. p .. "': truncated IDX file: the header announces 6 bytes of data, the file holds 5", err(p))
    p = IO.write(tmp .. "/l.idx", long)
    assert.equal("loadIDX: '" .. p .. "': 1 bytes follow the 6 bytes of data the IDX header announces", err(p))
    p = IO.write(tmp .. "/s.idx.gz", IO.gzip(short))
    assert.equal("loadIDX: '" .. p .. "': truncated IDX data: the header announces 6 values, the file holds 5", err(p))
    p = IO.write(tmp .. "/l.idx.gz", IO.gzip(long))
    assert.equal("loadIDX: '" .. p .. "': bytes follow the 6 values the IDX header announces", err(p))
    p = IO.write(tmp .. "/h.idx", "\0\0\8\3\0\0\0\2")
    assert.equal("loadIDX: '" .. p .. "': truncated IDX header (3 dimensions announced)", err(p))
  end)

  it("sizes that overflow, or that no gzip file of that size can hold", function()
    local p = IO.write(tmp .. "/o.idx", idx(0x0E, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, ""))
    assert.equal("loadIDX: '" .. p .. "': IDX sizes overflow", err(p))
    p = IO.write(tmp .. "/g.idx.gz", IO.gzip(idx(0x08, {0xFFFFFFFF}, "")))
    assert.matches("loadIDX: '" .. p .. "': the IDX header announces 4294967295 bytes of data, more than a ",
      err(p), 1, true)
  end)

  it("every truncation of a real gzip'd MNIST file is an error", function()
    if not MNIST then return pending("mnist data set not found (set LUNET_DATA)") end
    local data = IO.read(MNIST .. "/t10k-labels-idx1-ubyte.gz")
    local p = tmp .. "/cut.gz"
    for _, n in ipairs{0, 1, 3, 10, 11, 20, 100, #data // 2, #data - 8, #data - 5, #data - 1} do
      IO.write(p, data:sub(1, n))
      assert.matches("loadIDX: '" .. p .. "'", err(p, "int"), 1, true)
    end
  end)

  it("a corrupt gzip stream is an error", function()
    if not MNIST then return pending("mnist data set not found (set LUNET_DATA)") end
    local data = IO.read(MNIST .. "/t10k-labels-idx1-ubyte.gz")
    local i = #data // 2
    local p = IO.write(tmp .. "/bad.gz", data:sub(1, i - 1) .. string.char(data:byte(i) ~ 0xff) .. data:sub(i + 1))
    assert.matches("loadIDX: '" .. p .. "'", err(p, "int"), 1, true)
    -- a wrong CRC in the gzip trailer
    local body = idx(0x08, {2}, "\1\2")
    local gz = IO.gzip(body)
    p = IO.write(tmp .. "/crc.gz", gz:sub(1, #gz - 8) .. "\0\0\0\0" .. gz:sub(#gz - 3))
    assert.equal("loadIDX: '" .. p .. "': incorrect data check", err(p))
  end)
end)
