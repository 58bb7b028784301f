-- How a tensor prints (csrc/lua/print.c): one format for the whole tensor, a common
-- power of ten ("1e+04 *") when the magnitudes call for it, as in Torch7.
local lunet = require "lunet"

local function lines(s)
  local out = {}
  for l in (s .. "\n"):gmatch("(.-)\n") do out[#out + 1] = l end
  return out
end

describe("printing a tensor", function()
  it("whole numbers print without decimals, float or int, right-aligned", function()
    assert.equal("1 2 3\n[lunet float tensor of size (3)]", tostring(lunet.tensor{1, 2, 3}))
    assert.equal("  -1   20\n 300 4000\n[lunet int tensor of size (2,2)]",
      tostring(lunet.tensor({{-1, 20}, {300, 4000}}, "int")))
    -- int32's extremes keep every digit
    assert.equal("-2147483648  2147483647\n[lunet int tensor of size (2)]",
      tostring(lunet.tensor({-2147483648, 2147483647}, "int")))
  end)

  it("fractions print in fixed point with 4 decimals, one width for all", function()
    assert.equal(" 1.5000 -2.2500  3.0000\n[lunet float tensor of size (3)]", tostring(lunet.tensor{1.5, -2.25, 3}))
    assert.equal("9999.5000    0.2500\n[lunet float tensor of size (2)]", tostring(lunet.tensor{9999.5, 0.25}))
  end)

  it("large and small magnitudes get one common scale factor, not per-element exponents", function()
    assert.equal("1e+04 *\n1.5000 2.0000\n3.0000 4.0000\n[lunet float tensor of size (2,2)]",
      tostring(lunet.tensor{{15000, 20000}, {30000, 40000.5}}))
    assert.equal("15000 40000\n[lunet float tensor of size (2)]", tostring(lunet.tensor{15000, 40000}))
    assert.equal("1e-03 *\n 1.0000 -2.5000\n[lunet float tensor of size (2)]", tostring(lunet.tensor{0.001, -0.0025}))
    -- whole numbers from 1e9 up are scaled too, rather than printed with 10+ digits
    assert.equal("1e+10 *\n1.0000 2.0000\n[lunet float tensor of size (2)]", tostring(lunet.tensor{1e10, 2e10}))
    local l = lines(tostring(lunet.tensor{1.5, 40000}))
    assert.equal("1e+04 *", l[1])
    assert.falsy(l[2]:find("e", 1, true)) -- no element carries an exponent
  end)

  it("shows NaN and infinities, which take no part in choosing the format", function()
    assert.equal("   nan    inf   -inf 2.5000\n[lunet float tensor of size (4)]",
      tostring(lunet.tensor{0 / 0, 1 / 0, -1 / 0, 2.5}))
    assert.equal("nan   1\n[lunet float tensor of size (2)]", tostring(lunet.tensor{0 / 0, 1}))
    assert.equal("1e+05 *\n   inf 1.5000\n[lunet float tensor of size (2)]", tostring(lunet.tensor{1 / 0, 150000.5}))
  end)

  it("0-D and empty tensors", function()
    assert.equal("3.5000\n[lunet float tensor of size ()]", tostring(lunet.tensor(3.5)))
    assert.equal("7\n[lunet int tensor of size ()]", tostring(lunet.tensor(7, "int")))
    assert.equal("[lunet float tensor of size (0,3)]", tostring(lunet.zeros(0, 3)))
    assert.equal("[lunet float tensor of size (0)]", tostring(lunet.zeros(0)))
  end)

  it("3-D and more print their matrices under Torch7's (i,j,.,.) headers", function()
    local s = tostring(lunet.arange(8):view(2, 2, 2))
    assert.equal("(1,.,.) =\n0 1\n2 3\n\n(2,.,.) =\n4 5\n6 7\n\n[lunet float tensor of size (2,2,2)]", s)
    local l = lines(tostring(lunet.arange(16):view(2, 2, 2, 2)))
    assert.same({"(1,1,.,.) =", " 0  1", " 2  3", ""}, {l[1], l[2], l[3], l[4]})
    assert.equal("(2,2,.,.) =", l[13])
    assert.equal("14 15", l[15])
  end)

  it("non-contiguous views print their own elements", function()
    local t = lunet.arange(6):view(2, 3):t()
    assert.is_false(t:isContiguous())
    assert.equal("0 3\n1 4\n2 5\n[lunet float tensor of size (3,2)]", tostring(t))
    local col = lunet.arange(6):view(3, 2):select(2, 2)
    assert.equal("1 3 5\n[lunet float tensor of size (3)]", tostring(col))
  end)

  it("abbreviates long dimensions to their first and last 3 entries", function()
    local x = lunet.arange(100):view(10, 10)
    local l = lines(tostring(x))
    assert.equal(8, #l) -- 3 rows, "...", 3 rows, the header
    assert.equal(" 0  1  2  ...  7  8  9", l[1])
    assert.equal(" ...", l[4])
    assert.equal("90 91 92  ... 97 98 99", l[7])
    -- the format comes from the elements shown: a huge hidden one does not scale the rest
    x[{5, 5}] = 1e30
    assert.equal(" 0  1  2  ...  7  8  9", lines(tostring(x))[1])
    -- a tensor of a million elements prints in a few lines
    assert.is_true(#tostring(lunet.zeros(1000, 1000)) < 200)
    assert.equal("0 1 2 3 4 5\n[lunet float tensor of size (6)]", tostring(lunet.arange(6)))
  end)

  it("a released tensor says so", function()
    local t = lunet.zeros(2)
    getmetatable(t).__close(t)
    assert.equal("[lunet tensor (released)]", tostring(t))
  end)
end)
