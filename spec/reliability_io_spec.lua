-- Issue 12's file and generator examples, each kept as a spec: a generator state that
-- loops forever, a file nested 20,000 deep, FIFOs where files were expected, lunet.save's
-- temporary file, and a bare tensor file's header outside its checksum. (The MPI
-- example, tensors of different sizes on different ranks, is in spec/mpi/collectives.lua.)
local lunet = require "lunet"
local nn = require "lunet.nn"
local checkpoint = require "lunet.checkpoint"
local IO = require "spec.io_helper"

local tmp
before_each(function() tmp = IO.tmpdir() end)
after_each(function() IO.rmtree(tmp) end)

local function contains(msg, part)
  assert.is_truthy(msg:find(part, 1, true), ("%q does not contain %q"):format(msg, part))
end

-- A container file (lunet.save's format) around a value's bytes, with a valid checksum.
local function container(body)
  local bytes = "LUNET\0" .. string.pack("<I4", 2) .. body
  return bytes .. string.pack("<I4", IO.crc32(bytes))
end

describe("the generator's state", function()
  it("an all-zero state is refused on set, and the generator keeps working", function()
    local before = lunet.getRNGState()
    contains(IO.errmsg(lunet.setRNGState, string.rep("\0", 48)),
      "setRNGState: not a state from getRNGState: the generator's words are all zero")
    assert.equal(before, lunet.getRNGState())
    assert.equal(3, lunet.randn(3):numel())
    contains(IO.errmsg(lunet.setRNGState, string.rep("\1", 47)), "setRNGState: state must be 48 bytes, got 47")
    local bad = lunet.getRNGState()
    contains(IO.errmsg(lunet.setRNGState, bad:sub(1, 32) .. string.pack("<I8", 2) .. bad:sub(41)), "spare-normal flag")
    contains(IO.errmsg(lunet.setRNGState, bad:sub(1, 40) .. string.pack("<d", 0 / 0)), "spare normal value is not finite")
  end)

  it("a checkpoint with a valid checksum and an all-zero state is refused, nothing changed", function()
    local model = nn.Linear(2, 2)
    local p = tmp .. "/run.ckpt"
    checkpoint.save(p, {model = model, iteration = 3})
    local c = lunet.load(p)
    c.rng = string.rep("\0", 48)
    c.params[1]:fill(7)
    lunet.save(p, c)
    local weights, state = model.weight:clone(), lunet.getRNGState()
    contains(IO.errmsg(checkpoint.load, p, model), "checkpoint.load: " .. p .. " holds an invalid generator state")
    assert.equal(0, (model.weight - weights):abs():max())
    assert.equal(state, lunet.getRNGState())
  end)
end)

describe("lunet.load and lunet.save of deeply nested values", function()
  -- {k = {k = ... {} ...}} nested `depth` tables deep, as bytes.
  local function nested(depth)
    local pair = "A" .. string.pack("<I8", 1) .. "S" .. string.pack("<s8", "k")
    return container(pair:rep(depth - 1) .. "A" .. string.pack("<I8", 0))
  end

  it("a crafted file nested 20,000 deep is refused at once", function()
    local p = IO.write(tmp .. "/deep.lunet", nested(20000))
    local t0 = os.clock()
    contains(IO.errmsg(lunet.load, p), "value" .. (".k"):rep(200) .. ": tables nested more than 200 deep (lunet.save's limit)")
    assert.is_true(os.clock() - t0 < 1, "took " .. (os.clock() - t0) .. " s")
  end)

  it("200 levels save and load; 201 are refused by save, naming where", function()
    local top = {}
    local t = top
    for _ = 2, 200 do t.k = {}; t = t.k end
    local p = tmp .. "/ok.lunet"
    lunet.save(p, top)
    local back, depth = lunet.load(p), 1
    while back.k do back, depth = back.k, depth + 1 end
    assert.equal(200, depth)
    assert.equal(IO.read(p), nested(200))
    t.k = {}
    contains(IO.errmsg(lunet.save, p, top), "tables nested more than 200 deep")
    assert.equal(nested(200), IO.read(p)) -- the old file stays
  end)

  it("the cost grows linearly: 200 levels 100 times is quick", function()
    local p = IO.write(tmp .. "/d.lunet", nested(200))
    local t0 = os.clock()
    for _ = 1, 100 do lunet.load(p) end
    assert.is_true(os.clock() - t0 < 2, "took " .. (os.clock() - t0) .. " s")
  end)

  it("a tensor announcing more data than the file holds is refused before any allocation", function()
    local header = "LUNETTNS" .. string.pack("<I4I4I4I8I8", 2, 0, 2, 1 << 20, 1 << 20)
    local p = IO.write(tmp .. "/big.lunet", container("X" .. header .. "\0\0\0\0"))
    contains(IO.errmsg(lunet.load, p), "value: truncated tensor: the header announces 4398046511108 bytes of data and checksum")
  end)
end)

describe("paths that are not regular files", function()
  it("image.load, image.save, loadIDX, lunet.load and lunet.save refuse a FIFO at once", function()
    local fifo = tmp .. "/pipe"
    assert(os.execute("mkfifo " .. fifo))
    -- a child, so that a regression shows as a timeout instead of a hung suite
    local script = IO.write(tmp .. "/fifo.lua", ([[
      local lunet = require "lunet"
      local fifo = %q
      local function msg(f, ...) local ok, e = pcall(f, ...); print(ok and "ok" or e) end
      msg(lunet.image.load, fifo)
      msg(lunet.image.save, fifo, lunet.zeros(1, 2, 2))
      msg(lunet.loadIDX, fifo)
      msg(lunet.load, fifo)
      msg(lunet.save, fifo, {1})
    ]]):format(fifo))
    local p = io.popen("timeout 20 bin/lunet " .. script .. " 2>&1")
    local out = p:read("a")
    p:close()
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal(5, #lines, out)
    contains(lines[1], "image.load: '" .. fifo .. "' is a named pipe, not a regular file")
    contains(lines[2], "image.save: '" .. fifo .. "' is a named pipe, not a regular file")
    contains(lines[3], "loadIDX: '" .. fifo .. "' is a named pipe, not a regular file")
    contains(lines[4], "lunet.load: '" .. fifo .. "' is a named pipe, not a regular file")
    contains(lines[5], "lunet.save: '" .. fifo .. "' exists and is a named pipe, not a regular file")
  end)

  it("a folder is refused by the readers", function()
    contains(IO.errmsg(lunet.image.load, tmp), "image.load: '" .. tmp .. "' is a directory, not a regular file")
    contains(IO.errmsg(lunet.load, tmp), "lunet.load: '" .. tmp .. "' is a directory, not a regular file")
  end)
end)

describe("lunet.save's temporary file", function()
  it("a symlink planted at the old <path>.tmp name is left alone, and so is its target", function()
    local victim = IO.write(tmp .. "/victim", "precious")
    local p = tmp .. "/model.lunet"
    assert(os.execute(("ln -s %s %s.tmp"):format(victim, p)))
    lunet.save(p, {w = lunet.ones(3)})
    lunet.fileutil.writeAtomic(tmp .. "/notes.txt", "x")
    assert.equal("precious", IO.read(victim))
    assert.equal("link", require("lfs").symlinkattributes(p .. ".tmp", "mode"))
    assert.equal(3, lunet.load(p).w:sum())
    assert.same({"model.lunet", "model.lunet.tmp", "notes.txt", "victim"}, IO.glob(tmp, "^[^.]"))
  end)

  it("two processes saving one path never leave a file that fails to load", function()
    local p = tmp .. "/shared.lunet"
    local script = IO.write(tmp .. "/saver.lua", [[
      local lunet = require "lunet"
      local path, who = arg[1], tonumber(arg[2])
      for i = 1, 25 do lunet.save(path, {who = who, i = i, w = lunet.full({100000}, who)}) end
    ]])
    local done = tmp .. "/done"
    assert(os.execute(("(bin/lunet %s %s 1 & bin/lunet %s %s 2 & wait; touch %s) >/dev/null 2>&1 &")
      :format(script, p, script, p, done)))
    local loads = 0
    while not IO.exists(done) do
      if IO.exists(p) then
        local v = lunet.load(p)
        assert.equal(v.who, v.w:min())
        assert.equal(v.who, v.w:max())
        loads = loads + 1
      end
    end
    local v = lunet.load(p)
    assert.equal(25, v.i)
    assert.same({"done", "saver.lua", "shared.lunet"}, IO.glob(tmp, "^[^.]")) -- no temporary file left
    assert.is_true(loads > 0)
  end)
end)

describe("a bare tensor file's header is covered by its checksum", function()
  local function saved(t)
    local p = tmp .. "/t.tns"
    lunet.save(p, t)
    return IO.read(p)
  end

  it("every single-bit flip of the header is an error", function()
    local bytes = saved(lunet.tensor({{1, 2, 3}, {4, 5, 6}}))
    local header = 20 + 8 * 2
    local p = tmp .. "/flip.tns"
    for i = 1, header do
      for bit = 0, 7 do
        IO.write(p, bytes:sub(1, i - 1) .. string.char(bytes:byte(i) ~ (1 << bit)) .. bytes:sub(i + 1))
        local ok = pcall(lunet.load, p)
        assert.is_false(ok, ("byte %d bit %d flipped loaded"):format(i, bit))
      end
    end
  end)

  it("a dtype flip and a (2,3) -> (3,2) edit are refused", function()
    local bytes = saved(lunet.tensor({{1, 2, 3}, {4, 5, 6}}))
    local p = IO.write(tmp .. "/dtype.tns", bytes:sub(1, 12) .. string.pack("<I4", 1) .. bytes:sub(17))
    contains(IO.errmsg(lunet.load, p), "tensor: tensor corrupt (checksum mismatch)")
    p = IO.write(tmp .. "/shape.tns", bytes:sub(1, 20) .. string.pack("<I8I8", 3, 2) .. bytes:sub(37))
    contains(IO.errmsg(lunet.load, p), "tensor: tensor corrupt (checksum mismatch)")
  end)

  it("a file of version 1 (the checksum of the data alone) still loads", function()
    local data = string.pack("<ffffff", 1, 2, 3, 4, 5, 6)
    local p = IO.write(tmp .. "/v1.tns", "LUNETTNS" .. string.pack("<I4I4I4I8I8", 1, 0, 2, 2, 3) .. data ..
      string.pack("<I4", IO.crc32(data)))
    local t = lunet.load(p)
    assert.same({{1, 2, 3}, {4, 5, 6}}, t:totable())
  end)
end)
