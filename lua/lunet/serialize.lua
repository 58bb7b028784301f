--- lunet.save / lunet.load: tensors and plain Lua values in one file.
--
-- lunet.save(path, value) writes a tensor, or a (nested) table whose keys are
-- strings, numbers or booleans and whose values are tensors, numbers (integers
-- and floats both kept exactly, with their type), strings, booleans and such
-- tables. lunet.load(path) returns what was saved.
--
-- * A table that contains itself is rejected; a table reached twice without a
--   cycle (shared references) is written twice and loads as two equal copies.
-- * Tables with a metatable (objects) are rejected: save their state instead. A size
--   (t:size()) is saved as the plain list of its sizes.
-- * Tables nest at most 200 deep (the value itself is level 1); save and load
--   refuse a deeper one, naming where it is.
-- * Tensors load contiguous, with their dtype and shape.
-- * The file is written to a new temporary file beside path (path.<random>.tmp,
--   created exclusively, never through a symlink, so that two savers of one path
--   or a planted link cannot mix their bytes), flushed, fsync'd to the disk, closed
--   and renamed over path (and the folder fsync'd), so a crash or a power cut at
--   any moment leaves either the old file or the new one under the real name,
--   never a half-written one (path must not be a folder or a device, which the
--   rename would replace).
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
-- file and where in the value the problem is. No length is trusted beyond the bytes
-- the file holds (a string, a table's pairs, a tensor's data are refused before
-- anything is allocated for them), and anything but a regular file is refused.
local core = require "lunet.core"
local check = require "lunet.check"
local lunet = require "lunet"
local lfs = require "lfs"

local serialize = {}

local MAGIC, VERSION = "LUNET\0", 2
local TENSOR_MAGIC = "LUNETTNS"

-- Tables nest at most this deep (the value itself is level 1): a deeper file is refused
-- before it costs more than a few stack frames.
local MAX_DEPTH = 200

-- "value.layers[2].weight": where in the saved value a problem is, from the keys that
-- lead there (keys[1..n]). Built only for an error message: a path string per level
-- made a deep value cost its depth squared.
local function where(keys, n)
  local s = "value"
  for i = 1, n do
    local k = keys[i]
    if type(k) == "string" and k:match("^[%a_][%w_]*$") then s = s .. "." .. k
    elseif type(k) == "string" then s = string.format("%s[%q]", s, k)
    else s = string.format("%s[%s]", s, tostring(k)) end
  end
  return s
end

local function tooDeep(keys, n)
  error(string.format("%s: tables nested more than %d deep (lunet.save's limit)", where(keys, n), MAX_DEPTH), 0)
end

-- ------------------------------------------------------------- writing

local function put(fh, s)
  local ok, err = fh:write(s)
  if not ok then error("write error: " .. tostring(err), 0) end
end

local function putTensor(fh, t, what)
  local ok, err = core.tensor_write(fh, t:contiguous())
  if not ok then error(what .. ": " .. err, 0) end
end

-- v sits at keys[1..n] in the saved value; visiting holds the tables being written.
local function writeValue(fh, v, keys, n, visiting)
  local ty = type(v)
  if ty == "nil" then
    put(fh, "N")
  elseif ty == "boolean" then
    put(fh, v and "T" or "F")
  elseif ty == "number" then
    if math.type(v) == "integer" then put(fh, string.pack("<c1i8", "I", v))
    else put(fh, string.pack("<c1d", "D", v)) end
  elseif ty == "string" then
    put(fh, string.pack("<c1s8", "S", v))
  elseif check.isTensor(v) then
    put(fh, "X")
    putTensor(fh, v, where(keys, n))
  elseif ty == "table" then
    if getmetatable(v) ~= nil and not lunet.isSize(v) then -- a size saves as its plain list
      error(where(keys, n) .. ": cannot save a table with a metatable (an object); save its state instead", 0)
    end
    if visiting[v] then error(where(keys, n) .. ": cannot save a table that contains itself (a cycle)", 0) end
    if n >= MAX_DEPTH then tooDeep(keys, n) end
    visiting[v] = true
    local count = 0
    for _ in pairs(v) do count = count + 1 end
    put(fh, string.pack("<c1I8", "A", count))
    for k, x in pairs(v) do
      local kt = type(k)
      if kt ~= "string" and kt ~= "number" and kt ~= "boolean" then
        error(string.format("%s: cannot save a table key of type %s", where(keys, n), kt), 0)
      end
      writeValue(fh, k, keys, n, visiting)
      keys[n + 1] = k
      writeValue(fh, x, keys, n + 1, visiting)
    end
    keys[n + 1] = nil
    visiting[v] = nil
  else
    error(string.format("%s: cannot save a value of type %s", where(keys, n), ty), 0)
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
  local fh, tmp = core.open_temp(path)
  if not fh then error("lunet.save: " .. tmp, 2) end
  local ok, msg = pcall(function()
    if check.isTensor(value) then
      putTensor(fh, value, "value")
    else
      put(fh, MAGIC .. string.pack("<I4", VERSION))
      writeValue(fh, value, {}, 0, {})
      local size = fh:seek()
      fh:seek("set", 0)
      local crc, rerr = core.file_crc32(fh, size) -- of the bytes as written, read back from the file
      if not crc then error("read-back error: " .. rerr, 0) end
      fh:seek("end")
      put(fh, string.pack("<I4", crc))
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

-- ------------------------------------------------------------- reading

-- Reads the next `size` bytes of fh, refusing any length that runs past them. Errors
-- name `what`, or where in the value the reader is (keys[1..n], and whether it reads a
-- key there), built only then.
local function reader(fh, size)
  local r = {keys = {}, n = 0, inKey = false}
  local function left() return size - fh:seek() end
  local function here(what) return what or where(r.keys, r.n) .. (r.inKey and " (a key)" or "") end
  function r.bytes(n, what)
    if n > left() then
      error(string.format("truncated file: %s needs %d bytes at offset %d, %d remain",
        here(what), n, fh:seek(), left()), 0)
    end
    return n == 0 and "" or fh:read(n)
  end
  function r.unpack(fmt, what)
    return (string.unpack(fmt, r.bytes(string.packsize(fmt), what)))
  end
  function r.tensor(what)
    local t, err = core.tensor_read(fh)
    if not t then error(here(what) .. ": " .. err, 0) end
    if left() < 0 then error(here(what) .. ": the tensor runs past the end of the value", 0) end
    return t
  end
  function r.fail(fmt, ...) error(here() .. ": " .. string.format(fmt, ...), 0) end
  r.left = left
  r.offset = function() return fh:seek() end
  return r
end

-- The value at r.keys[1..r.n] (or a key of the table there, with r.inKey).
local function readValue(r, top)
  local tag = r.bytes(1)
  if tag == "N" and top then return nil
  elseif tag == "F" then return false
  elseif tag == "T" then return true
  elseif tag == "I" then return r.unpack("<i8")
  elseif tag == "D" then return r.unpack("<d")
  elseif tag == "S" then
    local n = r.unpack("<I8")
    if n < 0 then r.fail("string length out of range") end
    return r.bytes(n)
  elseif tag == "X" then return r.tensor()
  elseif tag == "A" then
    local n = r.unpack("<I8")
    -- every pair takes at least two bytes
    if n < 0 or n > r.left() // 2 then
      r.fail("a table of %s pairs cannot fit in the rest of the file", n < 0 and "2^63 or more" or tostring(n))
    end
    local depth = r.n
    if depth >= MAX_DEPTH then tooDeep(r.keys, depth) end
    local t = {}
    for _ = 1, n do
      r.inKey = true
      local k = readValue(r, false)
      r.inKey = false
      local kt = type(k)
      if not (kt == "string" or kt == "boolean" or (kt == "number" and k == k)) then
        r.fail("invalid table key (%s)", kt)
      end
      r.keys[depth + 1], r.n = k, depth + 1
      t[k] = readValue(r, false)
      r.keys[depth + 1], r.n = nil, depth
    end
    return t
  end
  r.fail("unknown tag %q at offset %d", tag, r.offset() - 1)
end

--- Load what lunet.save wrote (a container or a bare tensor file). level (default 2)
-- is the error level of the function to blame for bad arguments and files.
function serialize.load(path, level)
  level = level or 2
  if type(path) ~= "string" then
    error("lunet.load: argument #1 (path) must be a string, got " .. type(path), level)
  end
  local fh, err = core.open_read(path)
  if not fh then error("lunet.load: " .. err, level) end
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
      v = readValue(r, true)
    else
      error("not a lunet file (bad magic)", 0)
    end
    if r.left() ~= 0 then error(string.format("%d unexpected bytes after the value", r.left()), 0) end
    return v
  end)
  fh:close()
  if not ok then error(string.format("lunet.load: '%s': %s", path, tostring(value)), level) end
  return value
end

return serialize
