-- t:size(): a size object, a list of the sizes that prints as (2,3).
local lunet = require "lunet"
local IO = require "spec.io_helper"

describe("t:size()", function()
  local s = lunet.zeros(2, 3):size()

  it("prints as (2,3), joins strings, and formats with %s", function()
    assert.equal("(2,3)", tostring(s))
    assert.equal("size (2,3)!", "size " .. s .. "!")
    assert.equal("(2,3)", ("%s"):format(s))
    assert.equal("()", tostring(lunet.tensor(1):size()))
    assert.equal("(0,4)", tostring(lunet.zeros(0, 4):size()))
    assert.has_error(function() return s .. {} end, "attempt to concatenate a size with a table value")
  end)

  it("is indexable, #-able, iterable, and a plain list for table functions", function()
    assert.equal(2, s[1])
    assert.equal(3, s[2])
    assert.is_nil(s[3])
    assert.equal(2, #s)
    local seen = {}
    for i, v in ipairs(s) do seen[i] = v end
    assert.same({2, 3}, seen)
    assert.equal("2x3", table.concat(s, "x"))
    assert.equal(6, select("#", table.unpack(lunet.zeros(1, 2, 3, 4, 5, 6):size())))
    assert.equal(0, #lunet.tensor(1):size())
  end)

  it("compares with == entry by entry, with another size or a list", function()
    assert.is_true(s == lunet.ones(2, 3):size())
    assert.is_true(s == {2, 3})
    assert.is_false(s == lunet.ones(3, 2):size())
    assert.is_false(s == lunet.ones(2, 3, 1):size())
    assert.is_false(s == {2, "3"})
    assert.is_true(s ~= lunet.ones(2):size())
    assert.same({2, 3}, s) -- busted's deep comparison sees the list
  end)

  it("is a fresh list each call, and t:size(d) is still the number", function()
    local a = lunet.zeros(4, 5)
    local s1 = a:size()
    s1[1] = 9
    assert.equal(4, a:size(1))
    assert.equal(5, a:size(-1))
    assert.equal("number", type(a:size(2)))
    assert.has_error(function() a:size(3) end)
  end)

  it("goes wherever a list of sizes does", function()
    local a = lunet.arange(6):view(2, 3)
    assert.is_true(lunet.zeros(s):size() == s)
    assert.is_true(lunet.ones(s, "int"):size() == s)
    assert.is_true(lunet.full(s, 7):size() == s)
    assert.is_true(lunet.randn(s):size() == s)
    assert.is_true(lunet.rand(s):size() == s)
    assert.same(a:totable(), lunet.arange(6):view(s):totable())
    assert.same(a:totable(), lunet.arange(6):reshape(s):totable())
    assert.is_true(lunet.ones(3):view(3, 1):expand(lunet.zeros(3, 4):size()):size() == {3, 4})
  end)

  it("lunet.isSize tells it from a list and a tensor", function()
    assert.is_true(lunet.isSize(s))
    assert.is_false(lunet.isSize({2, 3}))
    assert.is_false(lunet.isSize(lunet.zeros(2)))
    assert.is_false(lunet.isSize(nil))
    assert.is_false(lunet.isSize(setmetatable({}, {__name = "other"})))
  end)

  it("is saved by lunet.save as its plain list", function()
    local dir = IO.tmpdir()
    local p = dir .. "/c.lunet"
    lunet.save(p, {shape = s, w = lunet.zeros(s)})
    local back = lunet.load(p)
    IO.rmtree(dir)
    assert.same({2, 3}, back.shape)
    assert.is_nil(getmetatable(back.shape))
    assert.equal("(2,3)", back.w:shapeString())
  end)

  it("is sent by lunet.distributed as its plain list", function()
    local d = require "lunet.distributed"
    local got = d.gather({shape = s})
    assert.same({{shape = {2, 3}}}, got)
  end)
end)
