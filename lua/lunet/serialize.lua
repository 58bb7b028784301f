--- lunet.save / lunet.load: tensors and plain Lua values in one file.
--
-- lunet.save(path, value) writes a tensor, or a (nested) table whose keys are
-- strings, numbers or booleans and whose values are tensors, numbers (integers
-- and floats both kept exactly, with their type), strings, booleans and such
-- tables. lunet.load(path) returns what was saved.
--
-- * A table that contains itself is rejected; a table reached twice without a
--   cycle (shared references) is written twice and loads as two equal copies.
-- * Tables with a metatable (objects) are rejected: save their state instead.
-- * Tensors load contiguous, with their dtype and shape.
-- * The file is written to path..".tmp", flushed, fsync'd to the disk, closed and
--   renamed over path (and the folder fsync'd), so a crash or a power cut at any
--   moment leaves either the old file or the new one under the real name, never a
--   half-written one (path must not be a folder or a device, which the rename would
--   replace).
--
-- Formats (little-endian). A tensor alone is written as a bare tensor file,
-- lunet's tensor format (csrc/kernels/lunet_io.h: "LUNETTNS", version, dtype, ndim,
-- u64 sizes, data, crc32). Anything else goes in a container:
--   "LUNET\0"  magic, 6 bytes
--   u32        container version (2)
--   value      one tagged value:
--     "N" nil (at the top only)   "F" false   "T" true
--     "I" i64 integer   "D" f64 float   "S" u64 length, bytes
--     "A" u64 pair count, then key value key value ... (keys tagged like values)
--     "X" an embedded tensor in the tensor format
--   u32        CRC-32 (zlib's) of every byte before it
-- lunet.load reads both and checks everything it reads: a bad checksum, an unknown
-- tag, a length past the end of the file or trailing bytes raise an error naming the
-- file and where in the value the problem is.
local core = require "lunet.core"
local check = require "lunet.check"
local lfs = require "lfs"

local serialize = {}

local MAGIC, VERSION = "LUNET\0", 2
local TENSOR_MAGIC = "LUNETTNS"

-- "value.layers[2].weight": where in the saved value a problem is.
local function child(where, k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") then return where .. "." .. k end
  if type(k) == "string" then return string.format("%s[%q]", where, k) end
  return string.format("%s[%s]", where, tostring(k))
end

---------------------------------------------------------------- writing

local function writer(fh)
  local w = {}
  function w.put(s)
    local ok, err = fh:write(s)
    if not ok then error("write error: " .. tostring(err), 0) end
  end
  function w.tensor(t, where)
    local ok, err = core.tensor_write(fh, t:contiguous())
    if not ok then error(where .. ": " .. err, 0) end
  end
  return w
end

local function writeValue(w, v, where, visiting)
  local ty = type(v)
  if ty == "nil" then
    w.put("N")
  elseif ty == "boolean" then
    w.put(v and "T" or "F")
  elseif ty == "number" then
    if math.type(v) == "integer" then w.put(string.pack("<c1i8", "I", v))
    else w.put(string.pack("<c1d", "D", v)) end
  elseif ty == "string" then
    w.put(string.pack("<c1s8", "S", v))
  elseif check.isTensor(v) then
    w.put("X")
    w.tensor(v, where)
  elseif ty == "table" then
    if getmetatable(v) ~= nil then
      error(where .. ": cannot save a table with a metatable (an object); save its state instead", 0)
    end
    if visiting[v] then error(where .. ": cannot save a table that contains itself (a cycle)", 0) end
    visiting[v] = true
    local n = 0
    for _ in pairs(v) do n = n + 1 end
    w.put(string.pack("<c1I8", "A", n))
    for k, x in pairs(v) do
      local kt = type(k)
      if kt ~= "string" and kt ~= "number" and kt ~= "boolean" then
        error(string.format("%s: cannot save a table key of type %s", where, kt), 0)
      end
      writeValue(w, k, where, visiting)
      writeValue(w, x, child(where, k), visiting)
    end
    visiting[v] = nil
  else
    error(string.format("%s: cannot save a value of type %s", where, ty), 0)
  end
end

--- Save value (see the top of this file) to path, atomically.
function serialize.save(path, value)
  if type(path) ~= "string" then
    error("lunet.save: argument #1 (path) must be a string, got " .. type(path), 2)
  end
  local mode = lfs.attributes(path, "mode")
  if mode ~= nil and mode ~= "file" then
    error(string.format("lunet.save: '%s' exists and is a %s, not a regular file", path, mode), 2)
  end
  local tmp = path .. ".tmp"
  local fh, err = io.open(tmp, "w+b")
  if not fh then error("lunet.save: cannot open for writing " .. err, 2) end
  local w = writer(fh)
  local ok, msg = pcall(function()
    if check.isTensor(value) then
      w.tensor(value, "value")
    else
      w.put(MAGIC .. string.pack("<I4", VERSION))
      writeValue(w, value, "value", {})
      local size = fh:seek()
      fh:seek("set", 0)
      local crc, rerr = core.file_crc32(fh, size) -- of the bytes as written, read back from the file
      if not crc then error("read-back error: " .. rerr, 0) end
      fh:seek("end")
      w.put(string.pack("<I4", crc))
    end
    local synced, serr = core.fsync(fh)
    if not synced then error("write error: " .. tostring(serr), 0) end
  end)
  local closed, cerr = fh:close()
  if ok and not closed then ok, msg = false, "write error: " .. tostring(cerr) end
  if ok then ok, msg = os.rename(tmp, path) end
  if not ok then
    os.remove(tmp)
    error(string.format("lunet.save: '%s': %s", path, tostring(msg)), 2)
  end
  -- Make the rename itself durable. The new file's bytes are already on the disk, so a
  -- folder that cannot be synced (some file systems refuse) is no reason to fail.
  local dir = path:match("^(.*)/[^/]*$") or "."
  core.fsync(dir == "" and "/" or dir)
end

---------------------------------------------------------------- reading

local function reader(fh, size)
  local r = {}
  local function left() return size - fh:seek() end
  function r.bytes(n, what)
    if n > left() then
      error(string.format("truncated file: %s needs %d bytes at offset %d, %d remain",
        what, n, fh:seek(), left()), 0)
    end
    return n == 0 and "" or fh:read(n)
  end
  function r.unpack(fmt, what)
    return (string.unpack(fmt, r.bytes(string.packsize(fmt), what)))
  end
  function r.tensor(where)
    local t, err = core.tensor_read(fh)
    if not t then error(where .. ": " .. err, 0) end
    if left() < 0 then error(where .. ": the tensor runs past the end of the value", 0) end
    return t
  end
  r.left = left
  r.offset = function() return fh:seek() end
  return r
end

local function readValue(r, where, top)
  local tag = r.bytes(1, where)
  if tag == "N" and top then return nil
  elseif tag == "F" then return false
  elseif tag == "T" then return true
  elseif tag == "I" then return r.unpack("<i8", where)
  elseif tag == "D" then return r.unpack("<d", where)
  elseif tag == "S" then
    local n = r.unpack("<I8", where)
    if n < 0 then error(where .. ": string length out of range", 0) end
    return r.bytes(n, where)
  elseif tag == "X" then return r.tensor(where)
  elseif tag == "A" then
    local n = r.unpack("<I8", where)
    -- every pair takes at least two bytes
    if n < 0 or n > r.left() // 2 then
      error(string.format("%s: a table of %s pairs cannot fit in the rest of the file",
        where, n < 0 and "2^63 or more" or tostring(n)), 0)
    end
    local t = {}
    for _ = 1, n do
      local k = readValue(r, where .. " (a key)", false)
      local kt = type(k)
      if not (kt == "string" or kt == "boolean" or (kt == "number" and k == k)) then
        error(string.format("%s: invalid table key (%s)", where, kt), 0)
      end
      t[k] = readValue(r, child(where, k), false)
    end
    return t
  end
  error(string.format("%s: unknown tag %q at offset %d", where, tag, r.offset() - 1), 0)
end

--- Load what lunet.save wrote (a container or a bare tensor file).
function serialize.load(path)
  if type(path) ~= "string" then
    error("lunet.load: argument #1 (path) must be a string, got " .. type(path), 2)
  end
  local mode = lfs.attributes(path, "mode")
  if mode ~= nil and mode ~= "file" then
    error(string.format("lunet.load: '%s' is a %s, not a regular file", path, mode), 2)
  end
  local fh, err = io.open(path, "rb")
  if not fh then error("lunet.load: cannot open " .. err, 2) end
  local ok, value = pcall(function()
    local size = fh:seek("end")
    fh:seek("set", 0)
    local head = fh:read(#TENSOR_MAGIC) or ""
    fh:seek("set", 0)
    local r = reader(fh, size)
    local v
    if head == TENSOR_MAGIC then
      v = r.tensor("tensor")
    elseif head:sub(1, #MAGIC) == MAGIC then
      r.bytes(#MAGIC, "magic")
      local version = r.unpack("<I4", "version")
      if version ~= VERSION then
        error(string.format("container format version %d, this lunet reads version %d", version, VERSION), 0)
      end
      local start, body = r.offset(), size - 4
      if body < start then error("truncated file: no room for the checksum", 0) end
      fh:seek("set", 0)
      local crc, cerr = core.file_crc32(fh, body)
      if not crc then error("read error: " .. cerr, 0) end
      local stored = r.unpack("<I4", "checksum")
      if crc ~= stored then
        error(string.format("checksum mismatch, the file is corrupt (stored %08x, computed %08x)",
          stored, crc), 0)
      end
      fh:seek("set", start)
      r = reader(fh, body)
      v = readValue(r, "value", true)
    else
      error("not a lunet file (bad magic)", 0)
    end
    if r.left() ~= 0 then error(string.format("%d unexpected bytes after the value", r.left()), 0) end
    return v
  end)
  fh:close()
  if not ok then error(string.format("lunet.load: '%s': %s", path, tostring(value)), 2) end
  return value
end

return serialize
