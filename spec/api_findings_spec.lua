-- What main's API fuzzer (fuzz/api.lua, seed 1) found in the tensor binding: bounds
-- checks that overflowed on extreme arguments, and outputs that alias their inputs.
local lunet = require "lunet"

describe("API fuzzer findings", function()
  it("narrow refuses a length of math.maxinteger without overflowing", function()
    local t = lunet.zeros(0, 1, 4, 5)
    assert.has_error(function() t:narrow(-3, 4, math.maxinteger) end,
      "narrow: 9223372036854775807 elements from 4 out of bounds for dimension 2 of size 1")
    assert.has_error(function() t:narrow(3, math.maxinteger, 1) end,
      "narrow: range [9223372036854775807, 9223372036854775807] out of bounds for dimension 3 of size 4")
  end)

  it("expand refuses a shape whose element count overflows", function()
    local t = lunet.tensor({ { { -4.125 } }, { { -1.5 } }, { { 2.375 } } })
    assert.has_error(function() t:expand(1, 4611686018427387904, 3, 1, 3) end, "expand: sizes overflow")
  end)

  it("refuses values that do not fit an int tensor", function()
    local t = lunet.tensor({ 1, 1 }, "int")
    assert.has_error(function() t:fill(0 / 0) end, "fill: NaN does not fit an int tensor")
    assert.has_error(function() lunet.full({ 2 }, 2 ^ 31, "int") end, "full: 2147483648.0 does not fit an int tensor")
    assert.has_error(function() lunet.tensor({ -2 ^ 40 }, "int") end,
      "tensor: -1099511627776.0 does not fit an int tensor")
    assert.has_error(function() t[1] = math.huge end, "newindex: inf does not fit an int tensor")
    assert.same({ -2, -2 }, t:fill(-2.5):totable()) -- fractions truncate toward zero
    assert.same({ -2147483648, 2147483647 }, lunet.tensor({ -2147483648.5, 2147483647.5 }, "int"):totable())
  end)

  it("copy from a view of the destination's own storage reads the source first", function()
    local t = lunet.tensor({ { 1, 2 }, { 3, 4 } })
    t:copy(t:t())
    assert.same({ { 1, 3 }, { 2, 4 } }, t:totable())
    local m = lunet.tensor({ { 1, 2 }, { 3, 4 } })
    m[1] = m:t()[2]
    assert.same({ { 2, 4 }, { 3, 4 } }, m:totable())
  end)

  it("addmm_ with C as an operand multiplies the old C", function()
    local c = lunet.tensor({ { 1, 2 }, { 3, 4 } })
    c:addmm_(c, c, 1, 1) -- c + c·c
    assert.same({ { 8, 12 }, { 18, 26 } }, c:totable())
  end)

  it("index into its own index tensor gathers first", function()
    local t = lunet.tensor({ { 1, 2 }, { 3, 4 }, { 5, 6 } }, "int")
    local ix = lunet.tensor({ 3, 1 }, "int")
    assert.same({ { 5, 6 }, { 1, 2 } }, t:index(ix, ix):totable())
  end)

  it("index into its own source (rows permuted in place) gathers first", function()
    local a = lunet.arange(0, 6):view(3, 2)
    local r = a:index(lunet.tensor({ 3, 2, 1 }, "int"), a)
    assert.equal(a, r)
    assert.same({ { 4, 5 }, { 2, 3 }, { 0, 1 } }, a:totable())
  end)

  it("index writes an out of the result's shape where it points", function()
    local buf = lunet.zeros(2, 3)
    local out = buf:narrow(2, 2, 2)
    lunet.tensor({ { 1, 2 }, { 3, 4 } }):index(lunet.tensor({ 2, 1 }, "int"), out)
    assert.same({ { 0, 3, 4 }, { 0, 1, 2 } }, buf:totable())
  end)
end)
