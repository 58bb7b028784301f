-- Bounds checks that must not overflow on extreme arguments (main's API fuzzer,
-- fuzz/api.lua, seed 1, found the first under UBSan).
local lunet = require "lunet"

describe("bounds checks with extreme arguments", function()
  it("narrow refuses a length of math.maxinteger without overflowing", function()
    local t = lunet.zeros(0, 1, 4, 5)
    assert.has_error(function() t:narrow(-3, 4, math.maxinteger) end,
      "narrow: 9223372036854775807 elements from 4 out of bounds for dimension 2 of size 1")
    assert.has_error(function() t:narrow(3, math.maxinteger, 1) end,
      "narrow: range [9223372036854775807, 9223372036854775807] out of bounds for dimension 3 of size 4")
  end)
end)
