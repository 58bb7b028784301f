local lunet = require "lunet"
local IO = require "spec.io_helper"

local tmp
before_each(function() tmp = IO.tmpdir() end)
after_each(function() IO.rmtree(tmp) end)

local function roundtrip(v)
  local p = tmp .. "/v.lunet"
  lunet.save(p, v)
  assert.is_false(IO.exists(p .. ".tmp"))
  return lunet.load(p), p
end

local function sameTensor(a, b)
  assert.equal(lunet.Tensor, getmetatable(b))
  assert.equal(a:dtype(), b:dtype())
  assert.same(a:size(), b:size())
  assert.same(a:totable(), b:totable())
end

describe("lunet.save / lunet.load round trips", function()
  it("numbers keep their value and their integer or float type exactly", function()
    local nums = {0, 1, -1, math.maxinteger, math.mininteger, 0.0, -0.0, 0.1, 1 / 3, -2.5e-300,
      math.huge, -math.huge, 2 ^ 53 + 0.0, 3.0}
    local back = roundtrip(nums)
    for i, v in ipairs(nums) do
      assert.equal(math.type(v), math.type(back[i]))
      assert.equal(string.pack("<d", v), string.pack("<d", back[i])) -- bit-exact, -0.0 too
    end
    local nan = roundtrip({0 / 0})[1]
    assert.is_true(nan ~= nan)
    assert.equal(42, roundtrip(42))
    assert.equal("integer", math.type(roundtrip(42)))
  end)

  it("strings (binary, empty, long), booleans and nil at the top", function()
    local s = {"", "hello", "a\0b\255\n", string.rep("xyz", 100000)}
    assert.same(s, roundtrip(s))
    assert.same({t = true, f = false}, roundtrip({t = true, f = false}))
    assert.is_nil(roundtrip(nil))
    assert.is_false(roundtrip(false))
  end)

  it("nested tables with string, integer, float and boolean keys, and tensors", function()
    lunet.manualSeed(7)
    local v = {
      name = "lenet", iter = 2000, lr = 1e-3, [1] = "first", [2.5] = "float key", [true] = "yes",
      weights = {conv1 = lunet.randn(32, 1, 5, 5), bias = lunet.full({32}, 0.1)},
      labels = lunet.tensor{3, 1, 4}:int(),
      history = {{1, 0.5}, {2, 0.25}, deeper = {{{{"bottom"}}}}},
      empty = {},
    }
    local back = roundtrip(v)
    assert.equal("lenet", back.name)
    assert.equal("integer", math.type(back.iter))
    assert.equal(1e-3, back.lr)
    assert.equal("first", back[1])
    assert.equal("float key", back[2.5])
    assert.equal("yes", back[true])
    sameTensor(v.weights.conv1, back.weights.conv1)
    sameTensor(v.weights.bias, back.weights.bias)
    sameTensor(v.labels, back.labels)
    assert.same(v.history, back.history)
    assert.same({}, back.empty)
  end)

  it("a tensor alone is a bare tensor file; non-contiguous, 0-d and large tensors too", function()
    lunet.manualSeed(1)
    local x = lunet.randn(300, 200) -- 60000 elements: several buffered blocks
    local back, p = roundtrip(x)
    sameTensor(x, back)
    assert.equal("LUNETTNS", IO.read(p):sub(1, 8))
    local t = lunet.arange(12):float():view(3, 4):transpose(1, 2)
    assert.is_false(t:isContiguous())
    sameTensor(t:contiguous(), roundtrip(t))
    sameTensor(lunet.tensor(5), roundtrip(lunet.tensor(5)))
    sameTensor(lunet.zeros(0, 3), roundtrip({lunet.zeros(0, 3)})[1])
  end)

  it("writes the container format: magic, version, tagged values, checksum", function()
    local _, p = roundtrip({a = 1})
    local body = "LUNET\0" .. string.pack("<I4", 2) .. "A" .. string.pack("<I8", 1) ..
      "S" .. string.pack("<s8", "a") .. "I" .. string.pack("<i8", 1)
    assert.equal(body .. string.pack("<I4", IO.crc32(body)), IO.read(p))
  end)

  it("writes shared references as copies", function()
    local shared = {1, 2}
    local back = roundtrip({a = shared, b = shared})
    assert.same({1, 2}, back.a)
    assert.same({1, 2}, back.b)
    assert.are_not.equal(back.a, back.b)
  end)

  it("replaces the old file only when the new one is complete", function()
    local p = tmp .. "/keep.lunet"
    lunet.save(p, {v = 1})
    local cyc = {}
    cyc.me = cyc
    assert.is_false((pcall(lunet.save, p, {ok = 1, bad = cyc})))
    assert.same({v = 1}, lunet.load(p))
    assert.is_false(IO.exists(p .. ".tmp"))
  end)
end)

describe("lunet.save errors", function()
  local p
  before_each(function() p = tmp .. "/e.lunet" end)
  local function err(v) return IO.errmsg(lunet.save, p, v) end

  it("rejects cycles, functions, objects and bad keys, naming where", function()
    local cyc = {x = {}}
    cyc.x.back = cyc
    assert.equal("lunet.save: '" .. p .. "': value.x.back: cannot save a table that contains itself (a cycle)", err(cyc))
    assert.equal("lunet.save: '" .. p .. "': value.model[\"fn key\"][2]: cannot save a value of type function",
      err({model = {["fn key"] = {1, print}}}))
    assert.equal("lunet.save: '" .. p .. "': value.obj: cannot save a table with a metatable (an object); save its state instead",
      err({obj = setmetatable({}, {})}))
    assert.equal("lunet.save: '" .. p .. "': value: cannot save a table key of type table", err({[{}] = 1}))
    assert.equal("lunet.save: '" .. p .. "': value: cannot save a value of type thread", err(coroutine.create(print)))
    assert.is_false(IO.exists(p))
    assert.is_false(IO.exists(p .. ".tmp"))
  end)

  it("refuses to replace a folder or a device", function()
    assert.equal("lunet.save: '" .. tmp .. "' exists and is a directory, not a regular file", IO.errmsg(lunet.save, tmp, {}))
    assert.equal("lunet.save: '/dev/null' exists and is a char device, not a regular file",
      IO.errmsg(lunet.save, "/dev/null", 1))
  end)

  it("bad path argument, or a folder that does not exist", function()
    assert.equal("lunet.save: argument #1 (path) must be a string, got number", IO.errmsg(lunet.save, 3, {}))
    local q = tmp .. "/no/such/x.lunet"
    assert.equal("lunet.save: cannot write '" .. q .. "': No such file or directory",
      IO.errmsg(lunet.save, q, {}))
  end)
end)

describe("lunet.load errors name the file", function()
  local function loadErr(data)
    local p = IO.write(tmp .. "/bad.lunet", data)
    return IO.errmsg(lunet.load, p), "lunet.load: '" .. p .. "': "
  end

  -- with a correct checksum, so that the parser behind it is what is tested
  local function container(body)
    local s = "LUNET\0" .. string.pack("<I4", 2) .. body
    return s .. string.pack("<I4", IO.crc32(s))
  end

  it("every truncation of a container and of a bare tensor file", function()
    lunet.manualSeed(2)
    local src = tmp .. "/src.lunet"
    for _, v in ipairs{{w = lunet.randn(3, 4), n = 7, s = "str", f = 0.5, b = true}, lunet.randn(2, 3)} do
      lunet.save(src, v)
      local data = IO.read(src)
      for n = 0, #data - 1 do
        local msg, prefix = loadErr(data:sub(1, n))
        assert.equal(prefix, msg:sub(1, #prefix))
      end
    end
  end)

  it("bad magic, unknown version, unknown tag, trailing bytes", function()
    local msg, prefix = loadErr("hello world")
    assert.equal(prefix .. "not a lunet file (bad magic)", msg)
    msg, prefix = loadErr("LUNET\0" .. string.pack("<I4", 9) .. "T")
    assert.equal(prefix .. "container format version 9, this lunet reads version 2", msg)
    msg, prefix = loadErr("LUNET\0" .. string.pack("<I4", 2) .. "T")
    assert.equal(prefix .. "truncated file: no room for the checksum", msg)
    local good = container("T")
    msg, prefix = loadErr(good:sub(1, 10) .. "F" .. good:sub(12))
    assert.equal(prefix .. ("checksum mismatch, the file is corrupt (stored %08x, computed %08x)")
      :format(IO.crc32(good:sub(1, 11)), IO.crc32(good:sub(1, 10) .. "F")), msg)
    msg, prefix = loadErr(container("A" .. string.pack("<I8", 1) .. "S" .. string.pack("<s8", "k") .. "Q"))
    assert.equal(prefix .. "value.k: unknown tag \"Q\" at offset 29", msg)
    msg, prefix = loadErr(container("Tjunk"))
    assert.equal(prefix .. "4 unexpected bytes after the value", msg)
    msg, prefix = loadErr(container("A" .. string.pack("<I8", 1) .. "N" .. "T"))
    assert.equal(prefix .. "value (a key): unknown tag \"N\" at offset 19", msg)
  end)

  it("lengths and counts past the end of the file", function()
    local msg, prefix = loadErr(container("S" .. string.pack("<I8", 1000) .. "abc"))
    assert.equal(prefix .. "truncated file: value needs 1000 bytes at offset 19, 3 remain", msg)
    msg, prefix = loadErr(container("S" .. string.pack("<i8", -1)))
    assert.equal(prefix .. "value: string length out of range", msg)
    msg, prefix = loadErr(container("A" .. string.pack("<I8", 1 << 40) .. "TT"))
    assert.equal(prefix .. "value: a table of 1099511627776 pairs cannot fit in the rest of the file", msg)
    msg, prefix = loadErr(container("A" .. string.pack("<i8", -1)))
    assert.equal(prefix .. "value: a table of 2^63 or more pairs cannot fit in the rest of the file", msg)
  end)

  it("bad tensors: checksum, dtype, rank, sizes", function()
    local p = tmp .. "/t.lunet"
    lunet.save(p, {w = lunet.ones(4)})
    local data = IO.read(p)
    local at = #data - 8 - 2 -- inside the last element's bytes; the container's checksum made to match
    local msg, prefix = loadErr(container(data:sub(11, at - 1) .. string.char(data:byte(at) ~ 1) ..
      data:sub(at + 1, #data - 4)))
    assert.equal(prefix .. "value.w: tensor corrupt (checksum mismatch)", msg)
    -- An empty tensor whose checksum (0) ends one byte into the container's checksum,
    -- made to start with a 0 byte by a padding string.
    local empty = "LUNETTNS" .. string.pack("<I4I4I4I8", 1, 0, 1, 0) .. "\0\0\0"
    local body
    for i = 1, 5000 do
      body = container("A" .. string.pack("<I8", 2) .. "S" .. string.pack("<s8", "pad") ..
        "S" .. string.pack("<s8", tostring(i)) .. "S" .. string.pack("<s8", "t") .. "X" .. empty)
      if body:byte(#body - 3) == 0 then break end
    end
    assert.equal(0, body:byte(#body - 3))
    msg, prefix = loadErr(body)
    assert.equal(prefix .. "value.t: the tensor runs past the end of the value", msg)

    local function tns(version, dtype, sizes, payload)
      local s = {"LUNETTNS", string.pack("<I4I4I4", version, dtype, #sizes)}
      for _, n in ipairs(sizes) do s[#s + 1] = string.pack("<I8", n) end
      return table.concat(s) .. payload
    end
    msg, prefix = loadErr(tns(3, 0, {1}, "\0\0\0\0\0\0\0\0"))
    assert.equal(prefix .. "tensor: tensor format version 3, this lunet reads versions 1 and 2", msg)
    msg, prefix = loadErr(tns(1, 7, {1}, "\0\0\0\0\0\0\0\0"))
    assert.equal(prefix .. "tensor: unknown tensor dtype 7 (0 float, 1 int, 2 double)", msg)
    msg, prefix = loadErr(tns(1, 0, {1, 1, 1, 1, 1, 1, 1, 1, 1}, "\0\0\0\0\0\0\0\0"))
    assert.equal(prefix .. "tensor: tensor of 9 dimensions (at most 8)", msg)
    msg, prefix = loadErr(tns(1, 0, {1 << 32, 1 << 32}, ""))
    assert.equal(prefix .. "tensor: tensor sizes overflow", msg)
    msg, prefix = loadErr(tns(1, 0, {1000}, "\0\0\0\0\0\0\0\0"))
    assert.equal(prefix .. "tensor: truncated tensor: the header announces 4004 bytes of data and checksum, 8 remain in the file", msg)
    msg, prefix = loadErr(tns(1, 0, {-1}, ""))
    assert.equal(prefix .. "tensor: tensor size 18446744073709551615 too large", msg)
  end)

  it("missing file and bad argument", function()
    local p = tmp .. "/missing.lunet"
    assert.equal("lunet.load: cannot open '" .. p .. "': No such file or directory", IO.errmsg(lunet.load, p))
    assert.equal("lunet.load: argument #1 (path) must be a string, got nil", IO.errmsg(lunet.load))
  end)
end)

describe("core.tensor_write / tensor_read", function()
  it("embed several tensors in one open file", function()
    local core = lunet.core
    local p = tmp .. "/multi.bin"
    local f = assert(io.open(p, "wb"))
    f:write("head")
    assert.is_true(core.tensor_write(f, lunet.arange(5):float()))
    f:write("mid")
    assert.is_true(core.tensor_write(f, lunet.tensor{{1, 2}, {3, 4}}:int()))
    f:close()
    f = assert(io.open(p, "rb"))
    assert.equal("head", f:read(4))
    assert.same({0, 1, 2, 3, 4}, core.tensor_read(f):totable())
    assert.equal("mid", f:read(3))
    local t = core.tensor_read(f)
    assert.equal("int", t:dtype())
    assert.same({{1, 2}, {3, 4}}, t:totable())
    local none, msg = core.tensor_read(f)
    assert.is_nil(none)
    assert.equal("truncated tensor header", msg)
    f:close()
    assert.has_error(function() core.tensor_read(f) end, "tensor_read: argument #1 is a closed file")
    assert.has_error(function() core.tensor_write("x", lunet.zeros(1)) end,
      "tensor_write: argument #1 must be an open file, got string")
    local g = assert(io.open(p, "wb"))
    assert.has_error(function() core.tensor_write(g, lunet.zeros(2, 3):transpose(1, 2)) end,
      "tensor_write: tensor must be contiguous (call :contiguous())")
    g:close()
  end)
end)
