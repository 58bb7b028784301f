--- Writes the fuzzers' seed corpora into fuzz/corpus/<target>/: small real files
-- (a CIFAR-10 PNG, the head of an MNIST IDX file, tensors and containers lunet.save
-- wrote) and hand-made broken ones. Run from the repository root:
--   bin/lunet fuzz/make_corpus.lua [dataDir]   (dataDir: default ../shared/data)
package.path = "./?.lua;" .. package.path
local lunet = require "lunet"
local IO = require "spec.io_helper"

local dataDir = arg[1] or "../shared/data"
local out = "fuzz/corpus"

local function put(target, name, bytes)
  IO.write(("%s/%s/%s"):format(out, target, name), bytes)
end

-- A broken copy of s: bytes i..j replaced by r.
local function splice(s, i, j, r) return s:sub(1, i - 1) .. r .. s:sub(j + 1) end

------------------------------------------------------------------------ PNG
local cifar = IO.read(dataDir .. "/CIFAR10/Train/0/Image00000.png")
put("png", "cifar.png", cifar)
put("png", "cifar_test.png", IO.read(dataDir .. "/CIFAR10/Test/3/Image00000.png"))
local function ramp(n) return function(x, y) local s = {} for k = 1, n do s[k] = (x + 2 * y + k) % 2 end return s end end
put("png", "gray1_interlaced.png", IO.png{w = 5, h = 3, color = 0, bits = 1, interlace = true, pixel = ramp(1)})
put("png", "palette2_trns.png", IO.png{w = 4, h = 4, color = 3, bits = 2, pixel = ramp(1),
  palette = {{255, 0, 0}, {0, 255, 0}}, trns = "\0\128"})
put("png", "rgba16.png", IO.png{w = 3, h = 2, color = 6, bits = 16, pixel = ramp(4)})
put("png", "graya8.png", IO.png{w = 2, h = 2, color = 4, bits = 8, pixel = ramp(2)})
put("png", "rgb8_interlaced.png", IO.png{w = 7, h = 5, color = 2, bits = 8, interlace = true, pixel = ramp(3)})
put("png", "gray16_trns.png", IO.png{w = 3, h = 3, color = 0, bits = 16, pixel = ramp(1), trns = "\0\1"})
put("png", "truncated.png", cifar:sub(1, 300))
put("png", "bad_ihdr_crc.png", splice(cifar, 30, 30, string.char(cifar:byte(30) ~ 0xff)))
local function ihdr(w, h) -- an 8-bit gray IHDR chunk with its CRC
  local body = "IHDR" .. string.pack(">I4I4BBBBB", w, h, 8, 0, 0, 0, 0)
  return string.pack(">I4", 13) .. body .. string.pack(">I4", IO.crc32(body))
end
local tiny = IO.png{w = 1, h = 1, color = 0, bits = 8, pixel = ramp(1)}
put("png", "huge_dims.png", tiny:sub(1, 8) .. ihdr(100000, 100000) .. tiny:sub(34))
put("png", "bad_zlib.png", IO.png{w = 2, h = 2, color = 0, bits = 8, pixel = ramp(1), idat = "\x78\x01garbage"})
put("png", "no_iend.png", cifar:sub(1, #cifar - 12))

------------------------------------------------------------------------ IDX
local function idx(type, dims, body)
  local h = {string.char(0, 0, type, #dims)}
  for _, d in ipairs(dims) do h[#h + 1] = string.pack(">I4", d) end
  return table.concat(h) .. body
end
local function head(path, n) -- the first n bytes of a gzip'd file, decompressed
  local p = assert(io.popen(("gzip -dc '%s' | head -c %d"):format(path, n)))
  local s = p:read("a")
  p:close()
  return s
end
local mnist = head(dataDir .. "/mnist/train-images-idx3-ubyte.gz", 16 + 400)
put("idx", "mnist_images_head.idx", mnist)
put("idx", "mnist_images_head.idx.gz", IO.gzip(mnist))
local labels = head(dataDir .. "/mnist/train-labels-idx1-ubyte.gz", 8 + 300)
put("idx", "mnist_labels_head.idx.gz", IO.gzip(labels))
-- the same header with the count cut down to what follows: a complete file
put("idx", "mnist_labels_300.idx", splice(labels, 5, 8, string.pack(">I4", 300)))
put("idx", "mnist_labels_300.idx.gz", IO.gzip(splice(labels, 5, 8, string.pack(">I4", 300))))
put("idx", "int8.idx", idx(0x09, {2, 2}, "\1\255\127\128"))
put("idx", "int16.idx", idx(0x0B, {3}, string.pack(">i2i2i2", -1, 300, -32768)))
put("idx", "int32.idx.gz", IO.gzip(idx(0x0C, {1, 2}, string.pack(">i4i4", -5, 1 << 30))))
put("idx", "float32.idx", idx(0x0D, {2}, string.pack(">ff", 0.5, -1e30)))
put("idx", "float64.idx", idx(0x0E, {1, 1, 2}, string.pack(">dd", 1 / 3, 0 / 0)))
put("idx", "bad_magic.idx", "\1\0\8\1" .. string.pack(">I4", 1) .. "\0")
put("idx", "zero_dims.idx", idx(0x08, {}, ""))
put("idx", "nine_dims.idx", idx(0x08, {1, 1, 1, 1, 1, 1, 1, 1, 1}, "\0"))
put("idx", "overflow.idx.gz", IO.gzip(idx(0x0E, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, "")))
put("idx", "trailing.idx", idx(0x08, {2}, "\1\2\3"))
put("idx", "empty_dim.idx", idx(0x08, {0, 0xFFFFFFFF}, ""))
local gz = IO.gzip(mnist)
put("idx", "truncated_gzip.idx.gz", gz:sub(1, #gz // 2))

------------------------------------------------------------------------ tensor format
local tmp = IO.tmpdir()
local function saved(value)
  local p = tmp .. "/v"
  lunet.save(p, value)
  return IO.read(p)
end
lunet.manualSeed(1)
local tf = saved(lunet.randn(2, 3))
put("tensor", "float_2x3.tns", tf)
put("tensor", "int_5.tns", saved(lunet.tensor{1, -2, 3, 2147483647, -2147483648}:int()))
put("tensor", "scalar.tns", saved(lunet.tensor(7)))
put("tensor", "empty_0x3.tns", saved(lunet.zeros(0, 3)))
put("tensor", "eight_dims.tns", saved(lunet.ones(1, 2, 1, 2, 1, 1, 2, 1)))
put("tensor", "bad_crc.tns", splice(tf, #tf - 5, #tf - 5, "\255"))
put("tensor", "truncated.tns", tf:sub(1, #tf - 7))
put("tensor", "bad_dtype.tns", splice(tf, 13, 16, string.pack("<I4", 7)))
put("tensor", "nine_dims.tns", splice(tf, 17, 20, string.pack("<I4", 9)))
put("tensor", "huge_size.tns", splice(tf, 21, 28, string.pack("<I8", 1 << 62)))

------------------------------------------------------------------------ lunet.save container
put("save", "tensor.lunet", tf)
put("save", "table.lunet", saved({name = "lenet", iter = 2000, lr = 1e-3, [1] = "first", [2.5] = "x",
  [true] = false, w = lunet.randn(2, 2), labels = lunet.tensor{3, 1}:int(),
  history = {{1, 0.5}, deeper = {{{"bottom"}}}}, empty = {}}))
put("save", "scalar.lunet", saved(42))
put("save", "nil.lunet", saved(nil))
-- what lunet.checkpoint writes, for a two-layer model and Adam
put("save", "checkpoint.lunet", saved({format = "lunet.checkpoint/1",
  params = {lunet.randn(3, 2), lunet.zeros(3), lunet.randn(2, 3), lunet.zeros(2)},
  optimizer = {t = 5, m = {lunet.zeros(3, 2)}, v = {lunet.zeros(3, 2)}},
  rng = lunet.getRNGState(), iteration = 5, config = {lr = 1e-3, batchSize = 10, name = "tiny"},
  model = "nn.Sequential"}))
local good = saved({a = 1, s = "str"})
put("save", "bad_checksum.lunet", splice(good, 12, 12, "\0"))
put("save", "truncated.lunet", good:sub(1, #good - 3))
put("save", "version9.lunet", splice(good, 7, 10, string.pack("<I4", 9)))
IO.rmtree(tmp)
print("seed corpora written to " .. out)
