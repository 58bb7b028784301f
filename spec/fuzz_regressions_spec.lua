-- Files the fuzzers (fuzz/) found that crashed lunet or made it misbehave, kept in
-- spec/fixtures/fuzz/: each must now give a clean Lua error naming the loader and the problem.
local lunet = require "lunet"

local dir = "spec/fixtures/fuzz/"

local regressions = {
  -- a 71-byte PNG announcing 100000x100000 pixels: image.load allocated 40 GB before
  -- reading any pixel (an out-of-memory abort under AddressSanitizer)
  {"png_huge_dims.png", lunet.image.load,
    "image.load: '" .. dir .. "png_huge_dims.png': corrupt PNG: the header announces 100000x100000 " ..
    "pixels, more than a 71-byte file can hold"},
  -- a checkpoint holding an empty tensor of shape (0, 2^49, 86862, ...): its element count is
  -- 0, but its strides overflowed int64 (undefined behaviour, caught by UBSan)
  {"save_empty_tensor_huge_sizes.lunet", lunet.load,
    "lunet.load: '" .. dir .. "save_empty_tensor_huge_sizes.lunet': value.params[2]: tensor sizes overflow"},
  -- a tensor whose data would take 2^63 - 4 bytes: the message about the truncated file
  -- added the 4-byte checksum in int64 (signed overflow, caught by UBSan)
  {"save_tensor_bytes_near_int64_max.lunet", lunet.load,
    "lunet.load: '" .. dir .. "save_tensor_bytes_near_int64_max.lunet': tensor: truncated tensor: the header " ..
    "announces 9223372036854775808 bytes of data and checksum, 220 remain in the file"},
}

describe("fuzzer findings", function()
  for _, r in ipairs(regressions) do
    local name, loader, expected = r[1], r[2], r[3]
    it(name, function()
      local ok, err = pcall(loader, dir .. name)
      assert.is_false(ok, "no error")
      assert.equal(expected, tostring(err))
    end)
  end
end)
