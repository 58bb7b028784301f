-- Helpers for the file-format specs: `local IO = require "spec.io_helper"`.
-- Independent, pure-Lua writers of the formats lunet reads (zlib and gzip
-- streams made of stored deflate blocks, PNG files of every colour type, bit
-- depth and interlacing), temp folders, and file surgery.
local lfs = require "lfs"

local IO = {}

local crcTable = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do c = (c & 1 == 1) and (0xEDB88320 ~ (c >> 1)) or (c >> 1) end
  crcTable[i] = c
end

function IO.crc32(s)
  local crc = 0xFFFFFFFF
  for i = 1, #s do crc = crcTable[(crc ~ s:byte(i)) & 0xFF] ~ (crc >> 8) end
  return crc ~ 0xFFFFFFFF
end

local function adler32(s)
  local a, b = 1, 0
  for i = 1, #s do
    a = (a + s:byte(i)) % 65521
    b = (b + a) % 65521
  end
  return (b << 16) | a
end

-- A deflate stream of stored (uncompressed) blocks.
local function deflateStored(data)
  local out, pos = {}, 1
  repeat
    local chunk = data:sub(pos, pos + 65534)
    pos = pos + #chunk
    local final = pos > #data and 1 or 0
    out[#out + 1] = string.pack("<BI2I2", final, #chunk, (~#chunk) & 0xFFFF) .. chunk
  until final == 1
  return table.concat(out)
end

function IO.zlib(data) return "\x78\x01" .. deflateStored(data) .. string.pack(">I4", adler32(data)) end

function IO.gzip(data)
  return "\x1f\x8b\x08\x00\0\0\0\0\0\xff" .. deflateStored(data) ..
    string.pack("<I4I4", IO.crc32(data), #data & 0xFFFFFFFF)
end

local function chunk(kind, body) return string.pack(">I4", #body) .. kind .. body .. string.pack(">I4", IO.crc32(kind .. body)) end

local channels = {[0] = 1, [2] = 3, [3] = 1, [4] = 2, [6] = 4}
local adam7 = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4}, {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}}

-- One scanline (filter byte 0) of the pixels at xs of row y.
local function scanline(xs, y, o)
  local bytes, acc, nacc = {"\0"}, 0, 0
  for _, x in ipairs(xs) do
    for _, v in ipairs(o.pixel(x, y)) do
      if o.bits == 16 then
        bytes[#bytes + 1] = string.pack(">I2", v)
      elseif o.bits == 8 then
        bytes[#bytes + 1] = string.char(v)
      else
        acc, nacc = (acc << o.bits) | v, nacc + o.bits
        if nacc == 8 then bytes[#bytes + 1], acc, nacc = string.char(acc), 0, 0 end
      end
    end
  end
  if nacc > 0 then bytes[#bytes + 1] = string.char(acc << (8 - nacc)) end
  return table.concat(bytes)
end

--- A PNG file as a string. o: w, h, color (0 gray, 2 RGB, 3 palette, 4 gray+alpha,
-- 6 RGBA), bits, pixel(x, y) -> list of samples (0-based x, y), and optional
-- palette (list of {r,g,b}), trns (raw tRNS chunk body), interlace (Adam7).
function IO.png(o)
  assert(channels[o.color], "bad colour type")
  local raw = {}
  local passes = o.interlace and adam7 or {{0, 0, 1, 1}}
  for _, p in ipairs(passes) do
    local xs = {}
    for x = p[1], o.w - 1, p[3] do xs[#xs + 1] = x end
    if #xs > 0 then
      for y = p[2], o.h - 1, p[4] do raw[#raw + 1] = scanline(xs, y, o) end
    end
  end
  local parts = {"\x89PNG\r\n\x1a\n",
    chunk("IHDR", string.pack(">I4I4BBBBB", o.w, o.h, o.bits, o.color, 0, 0, o.interlace and 1 or 0))}
  if o.palette then
    local pl = {}
    for _, c in ipairs(o.palette) do pl[#pl + 1] = string.char(c[1], c[2], c[3]) end
    parts[#parts + 1] = chunk("PLTE", table.concat(pl))
  end
  if o.trns then parts[#parts + 1] = chunk("tRNS", o.trns) end
  parts[#parts + 1] = chunk("IDAT", o.idat or IO.zlib(table.concat(raw)))
  parts[#parts + 1] = chunk("IEND", "")
  return table.concat(parts)
end

function IO.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function IO.write(path, data)
  local f = assert(io.open(path, "wb"))
  assert(f:write(data))
  assert(f:close())
  return path
end

--- A fresh empty folder; remove it with IO.rmtree.
function IO.tmpdir()
  local name = os.tmpname()
  os.remove(name)
  assert(lfs.mkdir(name))
  return name
end

function IO.rmtree(dir)
  for entry in lfs.dir(dir) do
    if entry ~= "." and entry ~= ".." then
      local p = dir .. "/" .. entry
      if lfs.attributes(p, "mode") == "directory" then IO.rmtree(p) else os.remove(p) end
    end
  end
  lfs.rmdir(dir)
end

function IO.exists(path) return lfs.attributes(path) ~= nil end

--- The names in dir that match the Lua pattern, sorted.
function IO.glob(dir, pattern)
  local names = {}
  for entry in lfs.dir(dir) do
    if entry:match(pattern) then names[#names + 1] = entry end
  end
  table.sort(names)
  return names
end

--- Calls f and returns its error message without the "file:line: " position
-- Lua puts in front (as luassert's has_error does), failing when f succeeds.
function IO.errmsg(f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "expected an error, the call succeeded")
  return (tostring(err):gsub("^[^\n]-:%d+: ", "", 1))
end

return IO
