-- float64 ("double") tensors, Torch7's DoubleTensor: creation, conversion both ways,
-- elementwise math, reductions, products through dgemm, indexing, sorting, the float32-only
-- kernels' refusal and lunet.save/load. Lua's numbers are IEEE doubles, so most expected
-- values here are computed in Lua itself, and many must hold to the last bit: a double
-- tensor that went through float32 anywhere would miss them by ~1e-8.
local lunet = require "lunet"
local IO = require "spec.io_helper"

local nan, inf = 0 / 0, math.huge
local function isnan(x) return x ~= x end
local function f32(x) return (string.unpack("<f", string.pack("<f", x))) end
local function D(t) return lunet.tensor(t, "double") end

-- Values that float32 cannot hold: each differs from its float32 rounding by ~1e-9 or more.
local fine = {1 / 3, -2 / 7, 1e8 + 1, 1 + 2 ^ -40, -0.1, 3.14159265358979}

-- rand-like doubles with 53 significant bits (randn values are float32's: divide by 3).
local function randd(...)
  return lunet.randn(...):double():div(3)
end

local function close(want, got, tol)
  assert(math.abs(want - got) <= tol * math.max(1, math.abs(want)),
    ("expected %.17g, got %.17g (tolerance %g)"):format(want, got, tol))
end

describe("double tensors: creation", function()
  it("every creation function takes \"double\"", function()
    for _, t in ipairs({ lunet.zeros(2, 3, "double"), lunet.ones({2, 3}, "double"), lunet.full({2, 3}, 1 / 3, "double"),
      D{{1, 2, 3}, {4, 5, 6}} }) do
      assert.equal("double", t:dtype())
      assert.same({2, 3}, t:size())
    end
    assert.equal(1 / 3, lunet.full({2}, 1 / 3, "double")[2])
    assert.same(fine, D(fine):totable())
    local s = lunet.tensor(1 / 3, "double") -- 0-D
    assert.equal(0, s:dim())
    assert.equal(1 / 3, s:item())
    assert.equal("0.3333333333333333", ("%.16f"):format(s:item()))
  end)
  it("arange and linspace take a trailing dtype, computed in float64", function()
    local a = lunet.arange(0, 1, 0.1, "double")
    assert.equal("double", a:dtype())
    assert.equal(10, a:numel())
    for i = 1, 10 do assert.equal((i - 1) * 0.1, a[i]) end
    assert.same({0, 1, 2}, lunet.arange(3, "double"):totable())
    assert.equal("int", lunet.arange(1, 4, "int"):dtype())
    assert.equal("float", lunet.arange(3):dtype())
    local l = lunet.linspace(0, 1, 4, "double")
    assert.same({0, 1 / 3, 2 / 3, 1}, l:totable())
    assert.equal(f32(1 / 3), lunet.linspace(0, 1, 4)[2])
    assert.has_error(function() lunet.linspace(0, 1, 3, "half") end,
      'linspace: dtype must be "float", "double" or "int", got half')
    assert.has_error(function() lunet.arange(0, 2 ^ 40, 2 ^ 38, "int") end,
      "arange: 274877906944.0 does not fit an int tensor")
  end)
  it("refuses an unknown dtype, naming the three", function()
    assert.has_error(function() lunet.zeros(2, "float64") end,
      'zeros: dtype must be "float", "double" or "int", got float64')
    assert.has_error(function() lunet.tensor({1}, "Double") end,
      'tensor: dtype must be "float", "double" or "int", got Double')
  end)
  it("holds element assignment, fill and zero exactly", function()
    local t = lunet.zeros(3, "double")
    t[2] = 1 / 3
    assert.equal(1 / 3, t[2])
    t:fill(2 / 7)
    assert.same({2 / 7, 2 / 7, 2 / 7}, t:totable())
    local m = lunet.zeros(2, 2, "double")
    m[{1, {}}] = 0.1
    m[2] = D{1 / 3, 1 / 7}
    assert.same({{0.1, 0.1}, {1 / 3, 1 / 7}}, m:totable())
    assert.same({0, 0}, t:narrow(1, 1, 2):zero():totable())
    assert.equal(2 / 7, t[3])
  end)
end)

describe("double tensors: conversion", function()
  it(":double() is exact, :float() rounds to nearest (halves to even)", function()
    local f = lunet.tensor{1 / 3, 0.1}
    assert.same({f32(1 / 3), f32(0.1)}, f:double():totable())
    assert.equal("double", f:double():dtype())
    local d = D{1 / 3, 1 + 2 ^ -24, 1 + 3 * 2 ^ -24, 1e300, -1e300, 1e-50, 1e-40}
    local back = d:float()
    assert.equal("float", back:dtype())
    assert.same({f32(1 / 3), 1, 1 + 2 ^ -22, inf, -inf, 0, f32(1e-40)}, back:totable())
    assert.is_true(f32(1e-40) > 0) -- a subnormal float, not flushed
  end)
  it("keeps NaN, infinities and -0 both ways", function()
    local d = D{nan, inf, -inf, -0.0}
    for _, t in ipairs({d, d:float(), d:float():double()}) do
      local v = t:totable()
      assert.is_true(isnan(v[1]))
      assert.same({inf, -inf}, {v[2], v[3]})
      assert.equal(-inf, 1 / v[4])
    end
  end)
  it("to and from int: truncated toward zero, refused beyond int32", function()
    assert.same({2, -2, 2147483647, -2147483648}, D{2.9, -2.9, 2147483647, -2147483648}:int():totable())
    assert.same({7, -3}, lunet.tensor({7, -3}, "int"):double():totable())
    assert.equal("double", lunet.tensor({7}, "int"):double():dtype())
    assert.has_error(function() D{1, 1e10}:int() end, "int: 10000000000.0 does not fit an int tensor")
    assert.has_error(function() D{nan}:int() end, "int: NaN does not fit an int tensor")
    assert.has_error(function() lunet.tensor{3e9}:int() end, "int: 3000000000.0 does not fit an int tensor")
    assert.has_error(function() lunet.zeros(2, "int"):copy(D{1, 1e10}) end,
      "copy: 10000000000.0 does not fit an int tensor")
    assert.equal(0, lunet.zeros(0, "double"):int():numel())
  end)
  it("returns the tensor itself when it already has the dtype; copy converts", function()
    local d = D{1, 2}
    assert.equal(d, d:double())
    local f = lunet.zeros(2)
    f:copy(D{1 / 3, 2 / 3})
    assert.same({f32(1 / 3), f32(2 / 3)}, f:totable())
    local g = lunet.zeros(2, 2, "double")
    g:copy(lunet.tensor{{1, 2}, {3, 4}}:t()) -- a non-contiguous float source
    assert.same({{1, 3}, {2, 4}}, g:totable())
  end)
  it("tobytes gives 8 little-endian bytes per element", function()
    assert.equal(string.pack("<ddd", 1 / 3, -0.5, 1e300), D{1 / 3, -0.5, 1e300}:tobytes())
    assert.equal(string.pack("<dd", 1, 3), D{{1, 2}, {3, 4}}:t()[1]:tobytes()) -- a strided view
  end)
end)

describe("double tensors: elementwise", function()
  local a, b = D{1 / 3, -2 / 7, 1e8 + 1, 0.1}, D{3, 0.7, -1, 1 / 7}
  local av, bv = a:totable(), b:totable()
  it("compute in double: + - * / exactly as Lua does", function()
    local ops = {
      add = function(x, y) return x + y end, sub = function(x, y) return x - y end,
      mul = function(x, y) return x * y end, div = function(x, y) return x / y end,
    }
    for name, op in pairs(ops) do
      local got = a[name](a, b)
      assert.equal("double", got:dtype())
      for i = 1, 4 do assert.equal(op(av[i], bv[i]), got[i], name) end
    end
    assert.equal(1e8 + 2, (a + 1)[3]) -- a number operand is not rounded to float
    assert.equal(1 / 3 + 0.1, (a + 0.1)[1])
    assert.equal(1 - 1 / 3, (1 - a)[1])
    assert.equal((1 / 3) ^ 2, (a ^ 2)[1])
    assert.equal(-1 / 3, (-a)[1])
  end)
  it("unary math to double precision", function()
    local x = D{0.1, 1 / 3, 2.5, -1.5}
    local xv = x:totable()
    local fns = {
      exp = math.exp, sin = math.sin, cos = math.cos, floor = math.floor, ceil = math.ceil, abs = math.abs,
      tanh = function(v) return (math.exp(2 * v) - 1) / (math.exp(2 * v) + 1) end,
      sigmoid = function(v) return 1 / (1 + math.exp(-v)) end,
      sign = function(v) return v > 0 and 1 or v < 0 and -1 or 0 end,
    }
    for name, fn in pairs(fns) do
      local got = x[name](x)
      assert.equal("double", got:dtype())
      for i = 1, 4 do close(fn(xv[i]), got[i], 1e-15) end
    end
    local p = D{0.1, 1 / 3, 2.5}
    for i, v in ipairs(p:log():totable()) do close(math.log(p[i]), v, 1e-15) end
    for i, v in ipairs(p:sqrt():totable()) do close(math.sqrt(p[i]), v, 1e-15) end
    assert.same({2, -2, 0, 2}, D{2.5, -1.5, 0.4, 1.5}:round():totable()) -- halves to even
    assert.same({0.25, 1 / 3, 0.5}, D{0.1, 1 / 3, 0.9}:clamp(0.25, 0.5):totable())
    assert.same({0, 1 / 3}, D{-1, 1 / 3}:relu():totable())
    assert.same({1 / 3, 0}, D{1 / 3, -0.25}:clamp(0):totable())
  end)
  it("in place keeps double; fmod, remainder, atan2, maximum, minimum, pow", function()
    local x = D{1 / 3, 2 / 3}
    x:mul_(3):add_(D{1e-12, 0})
    assert.same({1 + 1e-12, 2}, x:totable())
    x:exp_()
    close(math.exp(1 + 1e-12), x[1], 1e-15)
    assert.same({math.fmod(-7.5, 2), math.fmod(7.5, -2)}, D{-7.5, 7.5}:fmod(D{2, -2}):totable())
    assert.same({0.5, -0.5}, D{-7.5, 7.5}:remainder(D{2, -2}):totable())
    close(math.atan(1 / 3, 2 / 3), D{1 / 3}:atan2(D{2 / 3})[1], 1e-15)
    assert.same({1 / 3, 0.5}, D{1 / 3, 0.25}:maximum(D{0.25, 0.5}):totable())
    local m = D{nan, 1}:minimum(D{1, 2}):totable()
    assert.is_true(isnan(m[1]))
    assert.equal(1, m[2])
    close((1 / 3) ^ (1 / 7), D{1 / 3}:pow(D{1 / 7})[1], 1e-15)
  end)
  it("a float or int operand meeting a double is promoted; an in-place receiver keeps its dtype", function()
    local d, f, i = D{1 / 3}, lunet.tensor{0.5}, lunet.tensor({2}, "int")
    assert.equal("double", (d + f):dtype())
    assert.equal("double", (f + d):dtype())
    assert.equal("double", (i * d):dtype())
    assert.equal(1 / 3 + 0.5, (f + d)[1])
    assert.equal("float", (f + i):dtype())
    local r = lunet.tensor{1}
    r:add_(D{1 / 3})
    assert.equal("float", r:dtype())
    assert.equal(f32(4 / 3), r[1])
    local s = D{1}
    s:add_(lunet.tensor{0.5})
    assert.equal(1.5, s[1])
    assert.has_error(function() lunet.zeros(1, "int"):add_(d) end,
      "add: argument #1 must be a float or double tensor, got an int tensor")
  end)
  it("comparisons give float masks, compared in double", function()
    local x = D{1 + 2 ^ -40, 1, nan}
    assert.same({0, 1, 0}, x:eq(1):totable())
    assert.same({1, 0, 0}, x:gt(1):totable())
    assert.equal("float", x:eq(1):dtype())
    assert.same({1, 0, 1}, x:ne(lunet.tensor{1, 1, 1}):totable()) -- double with float
    assert.same({0, 1, 0}, x:le(lunet.tensor({1, 1, 1}, "int")):totable())
    assert.same({1, 0, 0}, lunet.tensor{1, 1, 1}:lt(x):totable())
  end)
  it("where, lerp, addcmul_ and addcdiv_ in double", function()
    local m = lunet.tensor{1, 0, nan}
    assert.same({1 / 3, 5, 1 / 3}, lunet.where(m, D{1 / 3, 1 / 3, 1 / 3}, 5):totable())
    assert.equal("double", lunet.where(m, lunet.zeros(3), D{1, 2, 3}):dtype())
    assert.equal("float", lunet.where(m, lunet.zeros(3), 1):dtype())
    local l = D{0, 1}:lerp(D{1, 3}, 1 / 3)
    assert.same({1 / 3, 1 + 2 / 3}, l:totable())
    local t = D{1, 1}
    t:addcmul_(D{1 / 3, 2}, D{3, 1 / 7}, 0.5)
    assert.same({1 + 0.5 * (1 / 3) * 3, 1 + 0.5 * 2 * (1 / 7)}, t:totable())
    t = D{0}
    t:addcdiv_(lunet.tensor{1}, lunet.tensor{3})
    assert.equal(1 / 3, t[1])
  end)
  it("non-contiguous and broadcast operands; empty tensors", function()
    local m = D{{1 / 3, 1 / 7}, {1 / 9, 1 / 11}}
    local s = m:t() + D{1, 2}
    assert.same({{1 / 3 + 1, 1 / 9 + 2}, {1 / 7 + 1, 1 / 11 + 2}}, s:totable())
    local e = lunet.zeros(0, 3, "double")
    assert.equal("double", (e + e):dtype())
    assert.same({0, 3}, (e * 2):size())
    assert.equal(0, e:exp():numel())
  end)
end)

describe("double tensors: reductions and scans", function()
  it("keep precision beyond float32", function()
    local x = D{1e8 + 1, -1e8}
    assert.equal(1, x:sum())
    assert.equal(0, x:float():sum()) -- float32 cannot hold 1e8 + 1
    local third = lunet.full({3}, 1 / 3, "double")
    assert.equal(1 / 3 + 1 / 3 + 1 / 3, third:sum())
    assert.equal("0.3333333333333333", ("%.16f"):format(third:mean()))
    local n = 2 ^ 24 + 1
    local ones = lunet.ones(n, "double")
    ones[n] = 1 + 2 ^ -30
    assert.equal(n + 2 ^ -30, ones:sum())
  end)
  it("all reductions over everything, as Lua computes them", function()
    local v = {1 / 3, -2 / 7, 0.1, 5 / 9, -1 / 11}
    local x = D(v)
    local sum, prod, sq = 0, 1, 0
    for _, e in ipairs(v) do sum, prod, sq = sum + e, prod * e, sq + e * e end
    local mean, ss = sum / #v, 0
    for _, e in ipairs(v) do ss = ss + (e - mean) ^ 2 end
    close(sum, x:sum(), 1e-15)
    close(mean, x:mean(), 1e-15)
    close(ss / (#v - 1), x:var(), 1e-14)
    close(math.sqrt(ss / (#v - 1)), x:std(), 1e-14)
    close(prod, x:prod(), 1e-15)
    close(math.sqrt(sq), x:norm(), 1e-15)
    assert.equal(5 / 9, x:max())
    assert.equal(-2 / 7, x:min())
    assert.equal(4, x:argmax())
    assert.equal(2, x:argmin())
    local lse = 0
    for _, e in ipairs(v) do lse = lse + math.exp(e - 5 / 9) end
    close(5 / 9 + math.log(lse), x:logsumexp(), 1e-15)
    assert.is_true(x:all())
    assert.is_true(D{0, 1e-300}:any())
    assert.is_false(D{0, 1e-300}:all())
    assert.is_true(isnan(D{1, nan, 2}:max()))
  end)
  it("along a dimension give double tensors (arg-ops int), keepdim and negative dims", function()
    local m = D{{1 / 3, 1 / 7, 1}, {2 / 3, 1e8 + 1, -1}}
    local s = m:sum(2)
    assert.equal("double", s:dtype())
    assert.same({1 / 3 + 1 / 7 + 1, 2 / 3 + (1e8 + 1) - 1}, s:totable())
    assert.same({{1 / 3 + 2 / 3, 1 / 7 + (1e8 + 1), 0}}, m:sum(1, true):totable())
    local v, i = m:max(-1)
    assert.same({1, 1e8 + 1}, v:totable())
    assert.same({3, 2}, i:totable())
    assert.equal("int", i:dtype())
    assert.same({2, 1}, m:min(-1, true):size())
    assert.same({(1 / 3 + 2 / 3) / 2, (1 / 7 + 1e8 + 1) / 2, 0}, m:mean(1):totable())
    local nt = m:t() -- non-contiguous
    assert.same({1 / 3 + 1 / 7 + 1, 2 / 3 + (1e8 + 1) - 1}, nt:sum(1):totable())
    assert.same({{2}, {2}, {1}}, m:t():argmax(2, true):totable())
    assert.equal(0, lunet.zeros(0, 2, "double"):sum())
    assert.same({0, 0}, lunet.zeros(0, 2, "double"):sum(1):totable())
    assert.has_error(function() lunet.zeros(0, "double"):max() end, "max: tensor is empty")
  end)
  it("cumsum and cumprod in double", function()
    local c = D{1 / 3, 1e8, 1}:cumsum()
    assert.equal("double", c:dtype())
    assert.same({1 / 3, 1 / 3 + 1e8, 1 / 3 + 1e8 + 1}, c:totable())
    assert.same({{1 / 3, 1 / 7}, {1 / 3 * 3, 1 / 7 * 7}}, D{{1 / 3, 1 / 7}, {3, 7}}:cumprod(-2):totable())
  end)
end)

describe("double tensors: matrix products", function()
  local function naive(a, b) -- a (n,k), b (k,m), as Lua tables
    local c = {}
    for i = 1, #a do
      c[i] = {}
      for j = 1, #b[1] do
        local s = 0
        for k = 1, #b do s = s + a[i][k] * b[k][j] end
        c[i][j] = s
      end
    end
    return c
  end
  local function assertMat(want, got, tol)
    assert.equal("double", got:dtype())
    local g = got:totable()
    assert.equal(#want, #g)
    for i = 1, #want do
      for j = 1, #want[1] do close(want[i][j], g[i][j], tol) end
    end
  end
  it("matmul matches a naive triple loop in double to 1e-12", function()
    lunet.manualSeed(7)
    local a, b = randd(13, 17), randd(17, 11)
    assertMat(naive(a:totable(), b:totable()), a:matmul(b), 1e-12)
    -- transposed and strided operands go to dgemm transposed or copied
    local at, bt = randd(17, 13):t(), randd(11, 34):t():narrow(1, 1, 17)
    assertMat(naive(at:totable(), bt:totable()), lunet.matmul(at, bt), 1e-12)
    local sliced = randd(20, 40):narrow(2, 3, 17) -- leading dimension 40
    assertMat(naive(sliced:totable(), b:totable()), sliced:matmul(b), 1e-12)
  end)
  it("vectors, batches, addmm and addmm_", function()
    lunet.manualSeed(8)
    local a, b, v = randd(4, 5), randd(5, 3), randd(5)
    local want = naive(a:totable(), b:totable())
    local mv = a:matmul(v)
    local mvw = naive(a:totable(), v:view(5, 1):totable())
    for i = 1, 4 do close(mvw[i][1], mv[i], 1e-12) end
    local dot, vv = v:matmul(v), v:totable()
    local s = 0
    for i = 1, 5 do s = s + vv[i] * vv[i] end
    close(s, dot, 1e-14)
    close(s, v:dot(v), 1e-14)
    local batch = lunet.stack({a, a * 2})
    local out = batch:bmm(lunet.stack({b, b}))
    assertMat(want, out[1], 1e-12)
    assertMat(naive((a * 2):totable(), b:totable()), out[2], 1e-12)
    assertMat(want, batch:matmul(b)[1], 1e-12)
    local c = randd(4, 3)
    local cv = c:totable()
    local r = c:addmm(a, b, 0.5, 2)
    for i = 1, 4 do
      for j = 1, 3 do close(0.5 * cv[i][j] + 2 * want[i][j], r[i][j], 1e-12) end
    end
    c:addmm_(a, b)
    for i = 1, 4 do
      for j = 1, 3 do close(cv[i][j] + want[i][j], c[i][j], 1e-12) end
    end
  end)
  it("empty products give zeros of the right shape", function()
    local z = lunet.zeros(3, 0, "double"):matmul(lunet.zeros(0, 2, "double"))
    assert.equal("double", z:dtype())
    assert.same({{0, 0}, {0, 0}, {0, 0}}, z:totable())
    assert.same({0, 2}, lunet.zeros(0, 4, "double"):matmul(lunet.zeros(4, 2, "double")):size())
    local c = D{{1 / 3}}
    c:addmm_(lunet.zeros(1, 0, "double"), lunet.zeros(0, 1, "double"), 3)
    assert.equal(1, c[1][1])
  end)
  it("refuse mixing float and double, naming both", function()
    local d, f = lunet.ones(2, 2, "double"), lunet.ones(2, 2)
    local msg = "the operands of a matrix product must have one dtype (convert one with :float() or :double())"
    assert.has_error(function() d:matmul(f) end, "matmul: argument #2 is a float tensor and argument #1 a double tensor: " .. msg)
    assert.has_error(function() f:matmul(d) end, "matmul: argument #2 is a double tensor and argument #1 a float tensor: " .. msg)
    assert.has_error(function() d:addmm_(d, f) end, "addmm_: argument #3 is a float tensor and argument #1 a double tensor: " .. msg)
    assert.has_error(function() lunet.bmm(lunet.ones(1, 2, 2), lunet.ones(1, 2, 2, "double")) end,
      "bmm: argument #2 is a double tensor and argument #1 a float tensor: " .. msg)
    assert.has_error(function() d:matmul(lunet.ones(2, 2, "int")) end,
      "matmul: argument #2 must be a float or double tensor, got an int tensor")
  end)
end)

describe("double tensors: joining, indexing, sorting", function()
  local function ints(t) return lunet.tensor(t, "int") end
  it("cat, stack, split and chunk keep double; a mix of dtypes is refused", function()
    local a, b = D{{1 / 3, 1 / 7}}, D{{1e8 + 1, 0.1}}
    assert.same({{1 / 3, 1 / 7}, {1e8 + 1, 0.1}}, lunet.cat({a, b}):totable())
    assert.same({{1 / 3, 1 / 7, 1e8 + 1, 0.1}}, lunet.cat({a, b}, -1):totable())
    assert.equal("double", lunet.stack({a, b}):dtype())
    local parts = lunet.cat({a, b}):split(1)
    assert.same({{1e8 + 1, 0.1}}, parts[2]:totable())
    assert.equal("double", D{1, 2, 3}:chunk(2)[2]:dtype())
    assert.has_error(function() lunet.cat({a, lunet.ones(1, 2)}) end,
      "cat: list element 2 is a float tensor, element 1 a double tensor")
    assert.has_error(function() lunet.stack({a, lunet.ones(1, 2, "int")}) end,
      "stack: list element 2 is an int tensor, element 1 a double tensor")
  end)
  it("indexSelect, index, gather, scatter_, scatterAdd_, indexAdd_", function()
    local x = D{{1 / 3, 1 / 7}, {1e8 + 1, 0.1}}
    assert.same({{1 / 7, 1 / 3}, {0.1, 1e8 + 1}}, x:indexSelect(-1, ints{2, 1}):totable())
    assert.same({{1e8 + 1, 0.1}}, x:index(ints{2}):totable())
    assert.same({{1 / 7}, {1e8 + 1}}, x:gather(2, ints{{2}, {1}}):totable())
    assert.equal("double", x:gather(2, ints{{2}, {1}}):dtype())
    assert.same({{0, 1 / 3}, {1 / 3, 0}}, lunet.zeros(2, 2, "double"):scatter_(2, ints{{2}, {1}}, 1 / 3):totable())
    assert.same({{0, 1 / 7}, {0.1, 0}},
      lunet.zeros(2, 2, "double"):scatter_(2, ints{{2}, {1}}, D{{1 / 7}, {0.1}}):totable())
    assert.same({1 / 3 + 1 / 7, 0}, lunet.zeros(2, "double"):scatterAdd_(1, ints{1, 1}, D{1 / 3, 1 / 7}):totable())
    assert.same({1 / 3 + 0.1, 0}, lunet.zeros(2, "double"):indexAdd_(1, ints{1, 1}, D{1 / 3, 0.1}):totable())
    assert.has_error(function() lunet.zeros(2, "double"):indexAdd_(1, ints{1}, lunet.ones(1)) end,
      "indexAdd_: argument #4 must be a double tensor, got a float tensor")
    assert.has_error(function() lunet.zeros(2, "double"):scatter_(1, ints{1}, lunet.ones(1)) end,
      "scatter_: src (argument #4) must have t's dtype double, got float")
  end)
  it("masks: maskedFill_, maskedSelect, nonzero", function()
    local x = D{1 / 3, -1 / 7, 1e8 + 1}
    assert.same({1 / 3, 0.1, 1e8 + 1}, x:clone():maskedFill_(x:lt(0), 0.1):totable())
    assert.same({1 / 3, 1e8 + 1}, x:maskedSelect(x:gt(0)):totable())
    assert.same({1e8 + 1}, x:maskedSelect(D{0, 0, 2 ^ -60}):totable()) -- a double mask
    assert.same({{1}, {3}}, D{2 ^ -60, 0, nan}:nonzero():totable())
  end)
  it("sort, topk, kthvalue, median and unique tell apart values float32 cannot", function()
    local x = D{1 + 2 ^ -30, 1, 1 + 2 ^ -40, nan}
    local v, i = x:sort()
    local vv = v:totable()
    assert.same({1, 1 + 2 ^ -40, 1 + 2 ^ -30}, {vv[1], vv[2], vv[3]})
    assert.is_true(isnan(vv[4]))
    assert.same({2, 3, 1, 4}, i:totable())
    assert.equal("double", v:dtype())
    local tv, ti = D{1 / 3, 1 / 7, 0.5}:topk(2)
    assert.same({0.5, 1 / 3}, tv:totable())
    assert.same({3, 1}, ti:totable())
    assert.equal(1 + 2 ^ -40, D{1 + 2 ^ -30, 1, 1 + 2 ^ -40}:kthvalue(2):item())
    assert.equal(1 + 2 ^ -40, D{1 + 2 ^ -30, 1, 1 + 2 ^ -40}:median())
    local u, inv, counts = D{1 + 2 ^ -40, 1, 1 + 2 ^ -40}:unique()
    assert.same({1, 1 + 2 ^ -40}, u:totable())
    assert.same({2, 1, 2}, inv:totable())
    assert.same({1, 2}, counts:totable())
    assert.same({{1 / 3}, {1}}, D{{1 / 7, 1 / 3}, {1 / 7, 1}}:t():sort(1, true):narrow(1, 1, 1):t():totable())
  end)
end)

describe("double tensors: the float32-only kernels", function()
  local hint = " (this kernel is float32 only: convert with :float())"
  it("refuse a double tensor with a message that says so", function()
    local core = lunet.core
    assert.has_error(function() core.relu_forward(lunet.ones(2, "double"), lunet.zeros(2)) end,
      "relu: argument #1 must be a float tensor, got a double tensor" .. hint)
    local lin = lunet.nn.Linear(3, 2)
    assert.has_error(function() lin:forward(lunet.ones(2, 3, "double")) end,
      "linear: argument #1 must be a float tensor, got a double tensor" .. hint)
    local conv = lunet.nn.Conv2d(1, 1, 3)
    assert.has_error(function() conv:forward(lunet.ones(1, 1, 4, 4, "double")) end,
      "conv2d: argument #1 must be a float tensor, got a double tensor" .. hint)
    assert.has_error(function() lunet.ones(2, "double"):bernoulli_(0.5) end,
      "bernoulli_: argument #1 must be a float tensor, got a double tensor" .. hint)
    local p, g = lunet.ones(2, "double"), lunet.ones(2, "double")
    assert.has_error(function() core.sgd_step(p, g, nil, 0.1, 0, false, 0) end,
      "sgd_step: argument #1 must be a float tensor, got a double tensor" .. hint)
  end)
  it("lunet.distributed refuses a double tensor", function()
    assert.has_error(function() lunet.distributed.allreduce(lunet.ones(2, "double")) end,
      "lunet.distributed: allreduce: tensor must be float, got double")
  end)
  it("autograd.gradcheck runs in float64 where the ops allow", function()
    lunet.manualSeed(3)
    local x, w = randd(3, 4), randd(4, 2)
    local ok, msg = lunet.autograd.gradcheck(function(i) return (i.x:matmul(i.w)):tanh():sum() end,
      {x = x, w = w}, {eps = 1e-6, atol = 1e-9, rtol = 1e-7})
    assert.is_true(ok, msg)
    ok, msg = lunet.autograd.gradcheck(function(i) return (i.x:exp() * i.x - i.x:sigmoid():log()):mean() end,
      {x = x}, {eps = 1e-6, atol = 1e-9, rtol = 1e-7})
    assert.is_true(ok, msg)
  end)
end)

describe("double tensors: lunet.save and lunet.load", function()
  local dir
  before_each(function() dir = IO.tmpdir() end)
  after_each(function() IO.rmtree(dir) end)

  it("round-trip every bit, alone and inside a table", function()
    local x = D{{1 / 3, nan, inf}, {-inf, -0.0, 5e-324}}
    local p = dir .. "/x.tns"
    lunet.save(p, x)
    local y = lunet.load(p)
    assert.equal("double", y:dtype())
    assert.equal(x:tobytes(), y:tobytes())
    assert.equal(20 + 8 * 2 + 8 * 6 + 4, #IO.read(p)) -- header, two sizes, 8 bytes an element, crc
    local q = dir .. "/t.lunet"
    lunet.save(q, {w = x:t(), f = lunet.tensor{1 / 3}, n = 1 / 3})
    local t = lunet.load(q)
    assert.equal(x:t():contiguous():tobytes(), t.w:tobytes())
    assert.equal("float", t.f:dtype())
    assert.equal(f32(1 / 3), t.f[1])
    assert.equal(1 / 3, t.n)
  end)
  it("refuse a truncated or corrupt double file", function()
    local p = dir .. "/d.tns"
    lunet.save(p, D{1 / 3, 2 / 3})
    local data = IO.read(p)
    local function loadBytes(name, bytes)
      local path = dir .. "/" .. name
      IO.write(path, bytes)
      local ok, err = pcall(lunet.load, path)
      assert.is_false(ok)
      return err
    end
    assert.equal("lunet.load: '" .. dir .. "/short.tns': tensor: truncated tensor: the header announces 20 bytes " ..
      "of data and checksum, 19 remain in the file", loadBytes("short.tns", data:sub(1, -2)))
    local flipped = data:sub(1, 30) .. string.char(data:byte(31) ~ 1) .. data:sub(32)
    assert.equal("lunet.load: '" .. dir .. "/bad.tns': tensor: tensor corrupt (checksum mismatch)",
      loadBytes("bad.tns", flipped))
    -- the same bytes announced as float: the checksum covers the header
    local asFloat = data:sub(1, 12) .. string.pack("<I4", 0) .. data:sub(17)
    assert.equal("lunet.load: '" .. dir .. "/f.tns': tensor: tensor corrupt (checksum mismatch)",
      loadBytes("f.tns", asFloat:sub(1, 28 + 8) .. asFloat:sub(-4)))
  end)
end)

describe("random double tensors", function()
  it("rand, randn and truncnormal take a dtype; a float draw is the double's rounding", function()
    for _, f in ipairs({function(dt) return lunet.rand(50, dt) end, function(dt) return lunet.randn(50, dt) end,
                        function(dt) return lunet.truncnormal({50}, 0.5, dt) end}) do
      lunet.manualSeed(21)
      local d = f("double")
      lunet.manualSeed(21)
      local s = f("float")
      assert.are.equal("double", d:dtype())
      assert.are.same(s:totable(), d:float():totable())
      assert.is_true(d:sub(s:double()):abs():max() > 0) -- the double keeps bits the float lost
    end
    assert.is_true(lunet.truncnormal({1000}, 0.5, "double"):abs():max() <= 1)
    local u = lunet.rand(1000, "double")
    assert.is_true(u:min() >= 0 and u:max() < 1)
  end)

  it("the in-place fills work on double tensors, and int is refused", function()
    local t = lunet.zeros(200, "double"):uniform_(-2, -1)
    assert.is_true(t:min() >= -2 and t:max() < -1)
    assert.are.equal("double", lunet.zeros(3, "double"):normal_(0, 1):dtype())
    assert.has_error(function() lunet.rand(2, "int") end, 'rand: dtype must be "float" or "double", got int')
    assert.has_error(function() lunet.zeros(2, "int"):uniform_() end)
  end)
end)
