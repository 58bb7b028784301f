-- Comparisons (eq, ne, lt, le, gt, ge) compare values directly, in the operands' own
-- types, and give float 0/1 tensors: infinities, NaN, subnormal differences and ints
-- above 2^24 are all told apart correctly.
local lunet = require "lunet"

local inf, nan = math.huge, 0 / 0
local OPS = { "eq", "ne", "lt", "le", "gt", "ge" }

-- t:op(x) as a plain table, for every op.
local function all(t, x)
  local r = {}
  for _, op in ipairs(OPS) do r[op] = t[op](t, x):totable() end
  return r
end

describe("comparisons", function()
  it("find infinities equal to themselves", function()
    local t = lunet.tensor({ inf, -inf })
    assert.same({ 1, 0 }, t:eq(inf):totable())
    assert.same({ 0, 1 }, t:eq(-inf):totable())
    assert.same({ 1, 0 }, t:ge(inf):totable())
    assert.same({ 1, 1 }, t:le(inf):totable())
    assert.same({ 0, 0 }, t:gt(inf):totable())
    assert.same({ 1, 1 }, t:eq(lunet.tensor({ inf, -inf })):totable())
    assert.same({ 1, 0 }, t:ge(lunet.tensor({ inf, inf })):totable())
  end)

  it("make NaN unequal to everything, itself included", function()
    local t = lunet.tensor({ nan, 1 })
    local want = { eq = { 0, 1 }, ne = { 1, 0 }, lt = { 0, 0 }, le = { 0, 1 }, gt = { 0, 0 }, ge = { 0, 1 } }
    assert.same(want, all(t, 1))
    local both = all(lunet.tensor({ nan, nan }), lunet.tensor({ nan, 1 }))
    assert.same({ eq = { 0, 0 }, ne = { 1, 1 }, lt = { 0, 0 }, le = { 0, 0 }, gt = { 0, 0 }, ge = { 0, 0 } }, both)
    assert.same({ 1, 1 }, t:ne(nan):totable())
    assert.same({ 0, 0 }, t:eq(nan):totable())
  end)

  it("tell apart values whose difference is subnormal while denormals are flushed", function()
    -- 2^-125 and 2^-125 + 2^-148 are neighbouring normal floats; their difference,
    -- 2^-148, is subnormal and flushes to zero
    local a, b = 2 ^ -125, 2 ^ -125 + 2 ^ -148
    local was = lunet.setFlushDenormals(true)
    local ok, err = pcall(function()
      local x, y = lunet.tensor({ a, b }), lunet.tensor({ b, b })
      assert.same({ 0, 1 }, x:eq(y):totable())
      assert.same({ 1, 0 }, x:ne(y):totable())
      assert.same({ 1, 0 }, x:lt(y):totable())
      assert.same({ 0, 1 }, x:ge(y):totable())
      assert.same({ 0, 1 }, x:eq(b):totable())
      assert.same({ 1, 0 }, x:lt(b):totable())
    end)
    if was ~= nil then lunet.setFlushDenormals(was) end
    assert(ok, err)
  end)

  it("compare int tensors as integers above 2^24", function()
    local big = lunet.tensor({ 16777217, 16777216 }, "int")
    local other = lunet.tensor({ 16777216, 16777216 }, "int")
    assert.same({ 0, 1 }, big:eq(other):totable())
    assert.same({ 1, 0 }, big:gt(other):totable())
    assert.same({ 1, 0 }, big:ne(16777216):totable())
    assert.same({ 1, 0 }, big:eq(16777217):totable())
    assert.same({ 0, 1 }, big:lt(16777217):totable())
    -- an int with a float is compared exactly too: 16777217 is not the float 16777216
    assert.same({ 0, 1 }, big:eq(lunet.tensor({ 16777216, 16777216 })):totable())
    assert.equal("float", big:eq(other):dtype())
  end)

  it("compare tensor with tensor and tensor with number", function()
    local t = lunet.tensor({ 1, 2, 3 })
    local u = lunet.tensor({ 3, 2, 1 })
    assert.same({ eq = { 0, 1, 0 }, ne = { 1, 0, 1 }, lt = { 1, 0, 0 }, le = { 1, 1, 0 }, gt = { 0, 0, 1 },
      ge = { 0, 1, 1 } }, all(t, u))
    assert.same({ eq = { 0, 1, 0 }, ne = { 1, 0, 1 }, lt = { 1, 0, 0 }, le = { 1, 1, 0 }, gt = { 0, 0, 1 },
      ge = { 0, 1, 1 } }, all(t, 2))
    -- a number is rounded to float before it meets a float tensor, as in arithmetic
    assert.same({ 1 }, lunet.tensor({ 0.1 }):eq(0.1):totable())
  end)

  it("broadcast", function()
    local col = lunet.tensor({ { 1 }, { 2 } })
    local row = lunet.tensor({ 1, 2, 3 })
    assert.same({ { 1, 0, 0 }, { 0, 1, 0 } }, col:eq(row):totable())
    assert.same({ { 0, 1, 1 }, { 0, 0, 1 } }, col:lt(row):totable())
    assert.has_error(function() lunet.zeros(2, 3):eq(lunet.zeros(2)) end,
      "eq: shapes (2,3) and (2) cannot be broadcast together")
  end)

  it("read non-contiguous inputs through their strides", function()
    local m = lunet.tensor({ { 1, 2 }, { 3, 4 } }):t()
    assert.is_false(m:isContiguous())
    assert.same({ { 1, 1 }, { 0, 1 } }, m:eq(lunet.tensor({ { 1, 3 }, { 3, 4 } })):totable())
    assert.same({ { 0, 1 }, { 0, 1 } }, m:ge(3):totable())
    local e = lunet.tensor({ 5 }):expand(3)
    assert.same({ 1, 1, 1 }, e:eq(5):totable())
    local n = lunet.arange(0, 10):narrow(1, 2, 4):view(2, 2):t()
    assert.same({ { 0, 0 }, { 1, 0 } }, n:eq(2):totable())
  end)

  it("name the function when an operand is wrong", function()
    assert.has_error(function() lunet.zeros(2):eq("x") end,
      "eq: argument #2 must be a tensor or a number, got string")
    local t = lunet.zeros(2)
    getmetatable(t).__close(t)
    assert.has_error(function() lunet.zeros(2):ge(t) end, "ge: argument #2 was released (closed)")
  end)
end)
