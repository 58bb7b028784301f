-- The tensor operations of issue 14: joining and splitting, indexing, masks, elementwise
-- math, reductions along a dimension, sorting and selection; each with its edge cases
-- (empty tensors, non-contiguous inputs, negative dims, NaN and inf) and its errors.
local lunet = require "lunet"

local nan, inf = 0 / 0, math.huge
local function isnan(x) return x ~= x end
local function ints(t) return lunet.tensor(t, "int") end

describe("cat and stack", function()
  it("join along any dimension, negative dims counting from the end", function()
    local a, b = lunet.tensor{{1, 2}, {3, 4}}, lunet.tensor{{5, 6}}
    assert.same({{1, 2}, {3, 4}, {5, 6}}, lunet.cat({a, b}):totable())
    assert.same({{1, 2, 1}, {3, 4, 3}}, lunet.cat({a, a:narrow(2, 1, 1)}, -1):totable())
    assert.same({{1, 3}, {2, 4}, {5, 6}}, lunet.cat({a:t(), b}, 1):totable()) -- a non-contiguous input
    assert.same({4, 0}, lunet.cat({lunet.zeros(2, 0), lunet.zeros(2, 0)}, 1):size())
    assert.same({1, 2, 3}, lunet.cat({lunet.zeros(0), lunet.tensor{1, 2, 3}}):totable()) -- 1-D empty skipped
    assert.equal("int", lunet.cat({ints{1}, ints{2}}):dtype())
  end)
  it("stack adds a dimension, first or last", function()
    local a, b = lunet.tensor{1, 2}, lunet.tensor{3, 4}
    assert.same({{1, 2}, {3, 4}}, lunet.stack({a, b}):totable())
    assert.same({{1, 3}, {2, 4}}, lunet.stack({a, b}, -1):totable())
    assert.same({{1, 3}, {2, 4}}, lunet.stack({a, b}, 2):totable())
    assert.same({2, 0}, lunet.stack({lunet.zeros(0), lunet.zeros(0)}):size())
  end)
  it("name the function and the element in their errors", function()
    assert.has_error(function() lunet.cat({}) end, "cat: argument #1 must hold at least one tensor")
    assert.has_error(function() lunet.cat(lunet.zeros(2)) end, "cat: argument #1 must be a table of tensors, got userdata")
    assert.has_error(function() lunet.cat({lunet.zeros(2), "x"}) end, "cat: list element 2 must be a tensor, got string")
    assert.has_error(function() lunet.cat({lunet.zeros(2, 3), lunet.zeros(2, 4)}, 1) end,
      "cat: list element 2 has shape (2,4), element 1 (2,3): sizes must match except along dimension 1")
    assert.has_error(function() lunet.cat({lunet.zeros(2), ints{1}}) end,
      "cat: list element 2 is an int tensor, element 1 a float tensor")
    assert.has_error(function() lunet.cat({lunet.zeros(2)}, 2) end, "cat: dimension 2 out of range for a 1-D tensor")
    assert.has_error(function() lunet.stack({lunet.zeros(2), lunet.zeros(3)}) end,
      "stack: list element 2 has shape (3), element 1 (2): shapes must be equal")
    assert.has_error(function() lunet.stack({lunet.zeros(2)}, 3) end,
      "stack: dimension 3 out of range for stacking 1-D tensors")
  end)
end)

describe("split and chunk", function()
  it("return views, the last piece shorter", function()
    local x = lunet.arange(5)
    local p = x:split(2)
    assert.equal(3, #p)
    assert.same({4}, p[3]:totable())
    p[1]:fill(9)
    assert.same({9, 9, 2, 3, 4}, x:totable())
    local m = lunet.arange(6):view(2, 3)
    local cols = m:split(2, -1)
    assert.same({{0, 1}, {3, 4}}, cols[1]:totable())
    assert.same({{2}, {5}}, cols[2]:totable())
    assert.equal(1, #lunet.zeros(0):split(3))
    assert.same({0}, lunet.zeros(0):split(3)[1]:size())
    local parts = lunet.arange(5):split({1, 0, 4})
    assert.same({{0}, {}, {1, 2, 3, 4}}, {parts[1]:totable(), parts[2]:totable(), parts[3]:totable()})
    assert.has_error(function() lunet.arange(5):split({1, 2}) end, "split: sizes add up to 3, not 5, the size of dimension 1")
    assert.has_error(function() lunet.arange(5):split({6}) end, "split: sizes add up to more than 5, the size of dimension 1")
  end)
  it("chunk gives at most n pieces of ceil(size / n)", function()
    local c = lunet.arange(6):chunk(4)
    assert.equal(3, #c)
    assert.same({4, 5}, c[3]:totable())
    assert.equal(2, #lunet.arange(6):view(2, 3):t():chunk(2, 2)) -- non-contiguous
    assert.has_error(function() lunet.arange(6):chunk(0) end, "chunk: n must be >= 1, got 0")
    assert.has_error(function() lunet.arange(6):split(0) end, "split: size must be >= 1, got 0")
    assert.has_error(function() lunet.tensor(1):split(1) end, "split: cannot split a 0-D tensor")
  end)
end)

describe("indexSelect and indexAdd_", function()
  local x = lunet.tensor{{1, 2, 3}, {4, 5, 6}}
  it("pick slices along any dimension", function()
    assert.same({{3, 1}, {6, 4}}, x:indexSelect(2, ints{3, 1}):totable())
    assert.same({{4, 5, 6}, {4, 5, 6}}, x:indexSelect(-2, ints{2, 2}):totable())
    assert.same({{1, 4}, {3, 6}}, x:t():indexSelect(1, ints{1, 3}):totable())
    assert.same({2, 0}, x:indexSelect(2, lunet.zeros(0, "int")):size())
    assert.equal("int", ints{{1, 2}}:indexSelect(2, ints{2}):dtype())
    assert.has_error(function() x:indexSelect(2, ints{4}) end, "indexSelect: index 4 out of range for dimension 2 of size 3")
    assert.has_error(function() x:indexSelect(2, lunet.tensor{1}) end,
      "indexSelect: argument #3 must be an int tensor, got a float tensor")
    assert.has_error(function() x:indexSelect(3, ints{1}) end, "indexSelect: dimension 3 out of range for a 2-D tensor")
  end)
  it("indexAdd_ adds repeated indices each time", function()
    local t = lunet.zeros(2, 3)
    t:indexAdd_(2, ints{1, 1, 3}, lunet.ones(2, 3))
    assert.same({{2, 0, 1}, {2, 0, 1}}, t:totable())
    local u = lunet.ones(3)
    u:indexAdd_(1, ints{1, 2, 3}, u) -- src is the receiver itself
    assert.same({2, 2, 2}, u:totable())
    assert.has_error(function() lunet.zeros(2, 3):indexAdd_(2, ints{1}, lunet.ones(2, 2)) end,
      "indexAdd_: src (argument #4) has shape (2,2); it must be t's (2,3) with 1 along dimension 2")
  end)
end)

describe("gather, scatter_, scatterAdd_", function()
  it("gather picks along a dimension by an index of the output's shape", function()
    local x = lunet.tensor{{1, 2}, {3, 4}}
    assert.same({{2}, {3}}, x:gather(2, ints{{2}, {1}}):totable())
    assert.same({{3, 2}}, x:gather(1, ints{{2, 1}}):totable())
    assert.same({{1, 4}}, x:t():gather(-2, ints{{1, 2}}):totable())
    assert.same({2, 0}, x:gather(2, lunet.zeros(2, 0, "int")):size())
    assert.has_error(function() x:gather(2, ints{{3}}) end, "gather: index 3 out of range for dimension 2 of size 2")
    assert.has_error(function() x:gather(2, ints{1}) end,
      "gather: idx (1) must have the rank of t (2,2) and no larger size but along dimension 2")
  end)
  it("scatter_ writes a tensor or a number; scatterAdd_ accumulates", function()
    assert.same({{0, 5}, {5, 0}}, lunet.zeros(2, 2):scatter_(2, ints{{2}, {1}}, 5):totable())
    assert.same({{0, 7}, {8, 0}}, lunet.zeros(2, 2):scatter_(2, ints{{2}, {1}}, lunet.tensor{{7}, {8}}):totable())
    assert.same({3, 0}, lunet.zeros(2):scatterAdd_(1, ints{1, 1, 1}, lunet.ones(3)):totable())
    assert.same({{0, 1}}, lunet.zeros(1, 2, "int"):scatter_(2, ints{{2}}, 1):totable())
    local t = lunet.tensor{1, 2, 3}
    t:scatter_(1, ints{3, 2, 1}, t) -- src overlapping the receiver is read before it is written
    assert.same({3, 2, 1}, t:totable())
    assert.has_error(function() lunet.zeros(2):scatter_(1, ints{1}, ints{1}) end,
      "scatter_: src (argument #4) must have t's dtype float, got int")
    assert.has_error(function() lunet.zeros(2, "int"):scatterAdd_(1, ints{1}, ints{1}) end,
      "scatterAdd_: argument #1 must be a float or double tensor, got an int tensor")
  end)
end)

describe("masks", function()
  local x = lunet.tensor{{-1, 2}, {3, -4}}
  it("comparisons give float 0/1 masks; maskedFill_ broadcasts the mask", function()
    assert.equal("float", x:lt(0):dtype())
    assert.same({{0, 2}, {3, 0}}, x:clone():maskedFill_(x:lt(0), 0):totable())
    assert.same({{9, 2}, {9, -4}}, x:clone():maskedFill_(lunet.tensor{{1}, {1}}:expand(2, 1) * lunet.tensor{1, 0}, 9):totable())
    local y = lunet.tensor{0, nan, 1}
    assert.same({0, 7, 7}, y:clone():maskedFill_(y, 7):totable()) -- NaN is true, the receiver its own mask
    assert.same({5, 0}, lunet.zeros(2, "int"):maskedFill_(lunet.tensor{1, 0}, 5):totable())
    assert.has_error(function() x:clone():maskedFill_(lunet.ones(3), 1) end,
      "maskedFill_: shapes (2,2) and (3) cannot be broadcast together")
    assert.has_error(function() x:clone():maskedFill_(5, 1) end, "maskedFill_: mask (argument #2) must be a tensor, got number")
  end)
  it("maskedSelect, nonzero", function()
    assert.same({2, 3}, x:maskedSelect(x:gt(0)):totable())
    assert.same({3, 2}, x:t():maskedSelect(x:t():gt(0)):totable()) -- row-major order of the view
    assert.same({0}, x:maskedSelect(lunet.zeros(2, 2)):size())
    assert.same({{1, 2}, {2, 1}}, x:gt(0):nonzero():totable())
    assert.same({0, 1}, lunet.zeros(3):nonzero():size())
    assert.equal("int", x:nonzero():dtype())
  end)
  it("where broadcasts mask, tensors and numbers", function()
    assert.same({{0, 2}, {3, 0}}, lunet.where(x:gt(0), x, 0):totable())
    assert.same({{1, 2}, {1, 2}}, lunet.where(lunet.tensor{1, 0}, 1, lunet.tensor{{2}, {2}}):totable())
    assert.same({-1}, lunet.where(ints{0}, 1, -1):totable())
    assert.has_error(function() lunet.where(x:gt(0), "a", 0) end,
      "where: a (argument #2) must be a tensor or a number, got string")
  end)
end)

describe("elementwise math", function()
  it("sin cos floor ceil round sign", function()
    local x = lunet.tensor{-1.5, -0.5, 0.5, 2.5, nan, inf}
    assert.same({-2, -1, 0, 2}, x:floor():narrow(1, 1, 4):totable())
    assert.same({-1, -0, 1, 3}, x:ceil():narrow(1, 1, 4):totable())
    assert.same({-2, -0, 0, 2}, x:round():narrow(1, 1, 4):totable())
    local s = x:sign():totable()
    assert.same({-1, -1, 1, 1}, {s[1], s[2], s[3], s[4]})
    assert.is_true(isnan(s[5]))
    assert.equal(1, s[6])
    assert.is_true(math.abs(lunet.tensor{1}:sin()[1] - math.sin(1)) < 1e-6)
    assert.is_true(math.abs(lunet.tensor{{1}}:t():cos()[1][1] - math.cos(1)) < 1e-6)
    assert.is_true(isnan(lunet.tensor{inf}:sin()[1]))
    local y = lunet.tensor{0.5}
    y:floor_()
    assert.equal(0, y[1])
  end)
  it("fmod keeps the dividend's sign, remainder the divisor's", function()
    local a = lunet.tensor{-3, 3, -3, 3}
    local b = lunet.tensor{2, 2, -2, -2}
    assert.same({-1, 1, -1, 1}, a:fmod(b):totable())
    assert.same({1, 1, -1, -1}, a:remainder(b):totable())
    assert.same({1, 1}, lunet.tensor{-3, 3}:remainder(2):totable())
    assert.is_true(isnan(lunet.tensor{1}:fmod(0)[1]))
    assert.same({-5}, lunet.tensor{-5}:fmod(inf):totable())
  end)
  it("atan2, lerp", function()
    assert.is_true(math.abs(lunet.tensor{1}:atan2(lunet.tensor{-1})[1] - math.atan(1, -1)) < 1e-6)
    assert.same({0.25, 0.25}, lunet.zeros(2):lerp(lunet.ones(2), 0.25):totable())
    assert.same({{0, 1}, {0, 0.5}}, lunet.zeros(2, 2):lerp(1, lunet.tensor{{0, 1}, {0, 0.5}}):totable())
  end)
  it("addcmul_ and addcdiv_ broadcast to the receiver, in both argument orders", function()
    local t = lunet.ones(2, 2)
    t:addcmul_(lunet.tensor{1, 2}, lunet.tensor{{3}, {4}}, 0.5)
    assert.same({{2.5, 4}, {3, 5}}, t:totable())
    t = lunet.ones(2)
    t:addcdiv_(2, lunet.tensor{1, 2}, lunet.tensor{4, 4})
    assert.same({1.5, 2}, t:totable())
    t = lunet.tensor{2, 3}
    t:addcmul_(t, t) -- the receiver as both operands
    assert.same({6, 12}, t:totable())
    assert.has_error(function() lunet.ones(2):addcmul_(lunet.ones(2, 2), lunet.ones(2)) end,
      "addcmul_: operands (2,2) and (2) do not broadcast to the receiver's shape (2)")
  end)
  it("clamp with one side open", function()
    local x = lunet.tensor{-2, 0.5, 3, nan}
    local hi = x:clamp(nil, 1):totable()
    assert.same({-2, 0.5, 1}, {hi[1], hi[2], hi[3]})
    assert.is_true(isnan(hi[4]))
    assert.same({0, 0.5, 3}, x:clamp(0, nil):narrow(1, 1, 3):totable())
    assert.has_error(function() x:clamp() end, "clamp: at least one of min and max must be given")
  end)
end)

describe("reductions", function()
  local x = lunet.tensor{{1, 2}, {3, 4}}
  it("prod, cumsum, cumprod along a dim, keepdim", function()
    assert.equal(24, x:prod())
    assert.same({2, 12}, x:prod(2):totable())
    assert.same({{3, 8}}, x:prod(1, true):totable())
    assert.equal(1, lunet.zeros(0):prod())
    assert.same({{1, 3}, {3, 7}}, x:cumsum(2):totable())
    assert.same({{1, 2}, {3, 8}}, x:cumprod(1):totable())
    assert.same({{1, 2}, {4, 6}}, x:cumsum(-2):totable())
    assert.same({{1, 3}, {2, 8}}, x:t():cumprod(2):totable()) -- non-contiguous
    assert.same({0}, lunet.zeros(0):cumsum():size())
  end)
  it("norm of any order", function()
    assert.equal(5, lunet.tensor{3, -4}:norm())
    assert.equal(7, lunet.tensor{3, -4}:norm(1))
    assert.equal(4, lunet.tensor{3, -4}:norm(inf))
    assert.equal(3, lunet.tensor{3, -4}:norm(-inf))
    assert.equal(2, lunet.tensor{3, 0, -4}:norm(0))
    assert.is_true(math.abs(lunet.tensor{1, 2}:norm(3) - (9) ^ (1 / 3)) < 1e-6)
    local rows, cols = x:norm(2, 2), x:norm(2, 1, true)
    assert.same({2}, rows:size())
    assert.same({1, 2}, cols:size())
    assert.is_true(math.abs(rows[1] - math.sqrt(5)) < 1e-6 and math.abs(rows[2] - 5) < 1e-6)
    assert.is_true(math.abs(cols[1][1] - math.sqrt(10)) < 1e-6 and math.abs(cols[1][2] - math.sqrt(20)) < 1e-6)
    assert.equal(0, lunet.zeros(0):norm())
    assert.is_true(isnan(lunet.tensor{1, nan}:norm(inf)))
    assert.has_error(function() x:norm("x") end, "norm: p must be a number, got string")
  end)
  it("logsumexp is stable and handles inf", function()
    assert.is_true(math.abs(lunet.tensor{1000, 1000}:logsumexp() - (1000 + math.log(2))) < 1e-3)
    assert.equal(-inf, lunet.zeros(0):logsumexp())
    assert.equal(inf, lunet.tensor{1, inf}:logsumexp())
    assert.equal(-inf, lunet.tensor{-inf, -inf}:logsumexp())
    assert.is_true(isnan(lunet.tensor{1, nan}:logsumexp()))
    local r = x:logsumexp(2)
    assert.is_true(math.abs(r[1] - math.log(math.exp(1) + math.exp(2))) < 1e-5)
  end)
  it("all and any: a boolean over everything, 0/1 along a dim", function()
    assert.is_true(x:all())
    assert.is_false(lunet.tensor{1, 0}:all())
    assert.is_true(lunet.tensor{0, nan}:any())
    assert.is_true(lunet.zeros(0):all())
    assert.is_false(lunet.zeros(0):any())
    assert.same({1, 0}, lunet.tensor{{1, 1}, {1, 0}}:all(2):totable())
    assert.same({{1, 1}}, lunet.tensor{{1, 0}, {1, 1}}:any(1, true):totable())
  end)
  it("max and min propagate NaN, like PyTorch", function()
    local y = lunet.tensor{1, nan, 3}
    assert.is_true(isnan(y:max()))
    assert.is_true(isnan(y:min()))
    assert.equal(2, y:argmax())
    local v, i = lunet.tensor{{1, nan}, {3, 2}}:max(2)
    assert.is_true(isnan(v[1]))
    assert.same({2, 1}, i:totable())
    assert.is_true(isnan(lunet.tensor{1}:maximum(lunet.tensor{nan})[1]))
    assert.is_true(isnan(lunet.tensor{nan}:minimum(lunet.tensor{1})[1]))
  end)
end)

describe("sorting and selection", function()
  -- lines of 256 or more float or int elements sort by radix, shorter ones and doubles by
  -- merging: the same order, element for element and index for index
  it("sorts long lines by radix exactly as it merges short ones and doubles", function()
    lunet.manualSeed(11)
    local n = 1000
    local x = lunet.randn(n):mul(3):round():div(2) -- many ties
    for k = 1, 40 do x[k * 23] = ({ 0 / 0, -(0 / 0), 0.0, -0.0, 1 / 0, -1 / 0, 3.4e38, -1e-45 })[k % 8 + 1] end
    for _, desc in ipairs({ false, true }) do
      local v, i = x:sort(1, desc)
      local _, di = x:double():sort(1, desc)
      assert.same(di:totable(), i:totable())
      -- the values are the elements at those indices, bit for bit (-0 stays -0, each NaN its own)
      assert.equal(x:indexSelect(1, i):tobytes(), v:tobytes())
      local k = lunet.randn(n):mul(5):round():mul(1e8):clamp(-2147483648, 2147483647):int()
      k[5], k[6] = 2147483647, -2147483648
      local iv, ii = k:sort(1, desc)
      local jv, ji = k:double():sort(1, desc)
      assert.same(ji:totable(), ii:totable())
      assert.same(jv:int():totable(), iv:totable())
    end
    -- along a dim of a 2-D tensor, lines of 300
    local m = lunet.randn(3, 300):round()
    local mv, mi = m:sort(2)
    local dv2, di2 = m:double():sort(2)
    assert.same(di2:totable(), mi:totable())
    assert.same(dv2:float():totable(), mv:totable())
  end)

  it("sort is stable in both directions, NaN above every number", function()
    local v, i = lunet.tensor{3, 1, 2, 1}:sort()
    assert.same({1, 1, 2, 3}, v:totable())
    assert.same({2, 4, 3, 1}, i:totable())
    assert.equal("int", i:dtype())
    v, i = lunet.tensor{1, 3, 1, 3}:sort(1, true)
    assert.same({3, 3, 1, 1}, v:totable())
    assert.same({2, 4, 1, 3}, i:totable())
    v, i = lunet.tensor{nan, 1, -inf}:sort()
    assert.same({-inf, 1}, {v[1], v[2]})
    assert.is_true(isnan(v[3]))
    assert.same({3, 2, 1}, i:totable())
    v = lunet.tensor{1, nan}:sort(1, true)
    assert.is_true(isnan(v[1]))
    v, i = lunet.tensor{{3, 1}, {2, 4}}:sort(-2) -- along dim 1
    assert.same({{2, 1}, {3, 4}}, v:totable())
    assert.same({{2, 1}, {1, 2}}, i:totable())
    v = lunet.tensor{{3, 1}, {2, 4}}:t():sort()
    assert.same({{2, 3}, {1, 4}}, v:totable())
    assert.same({0}, lunet.zeros(0):sort():size())
    assert.same({2, 3, 1}, lunet.tensor{3, 1, 2}:argsort():totable())
    v, i = ints{{16777217, 16777216}}:sort(2, true)
    assert.equal("int", v:dtype())
    assert.same({{16777217, 16777216}}, v:totable())
    assert.same({{1, 2}}, i:totable())
    assert.equal(2, ints{3, 1, 2}:median())
    assert.equal(math.type(ints{3, 1, 2}:median()), "integer")
    assert.equal("int", ints{{3, 1, 2}}:kthvalue(3, 2):dtype())
    assert.has_error(function() lunet.tensor(1):sort() end, "sort: cannot sort a 0-D tensor")
  end)
  it("topk, kthvalue, median", function()
    local v, i = lunet.tensor{1, 5, 3, 5}:topk(2)
    assert.same({5, 5}, v:totable())
    assert.same({2, 4}, i:totable())
    v, i = lunet.tensor{1, 5, 3}:topk(2, 1, false)
    assert.same({1, 3}, v:totable())
    assert.same({1, 3}, i:totable())
    assert.same({0}, lunet.tensor{1}:topk(0):size())
    assert.has_error(function() lunet.tensor{1}:topk(2) end, "topk: k must be in 0..1, got 2")
    v, i = lunet.tensor{3, 1, 2}:kthvalue(2)
    assert.equal(2, v:item())
    assert.equal(3, i:item())
    v, i = lunet.tensor{{3, 1, 2}, {6, 5, 4}}:kthvalue(1, 2, true)
    assert.same({{1}, {4}}, v:totable())
    assert.same({{2}, {3}}, i:totable())
    assert.has_error(function() lunet.tensor{1}:kthvalue(2) end, "kthvalue: k must be in 1..1, got 2")
    assert.equal(2, lunet.tensor{4, 1, 3, 2}:median())
    assert.is_true(isnan(lunet.tensor{1, nan, 2}:median()))
    v, i = lunet.tensor{{4, 1, 3}, {nan, 1, 2}}:median(2)
    assert.equal(3, v[1])
    assert.is_true(isnan(v[2]))
    assert.same({3, 1}, i:totable())
    assert.has_error(function() lunet.zeros(0):median() end, "median: tensor is empty")
  end)
  it("unique: sorted values, inverse, counts", function()
    local u, inv, c = lunet.tensor{{2, 1}, {2, 3}}:unique()
    assert.same({1, 2, 3}, u:totable())
    assert.same({{2, 1}, {2, 3}}, inv:totable())
    assert.same({1, 2, 1}, c:totable())
    assert.same({0}, lunet.zeros(0):unique():size())
    assert.equal(2, lunet.tensor{nan, nan}:unique():numel()) -- each NaN its own value
    u, inv = ints{7, 3, 7, 16777217}:unique() -- int tensors keep their dtype and every bit
    assert.equal("int", u:dtype())
    assert.same({3, 7, 16777217}, u:totable())
    assert.same({2, 1, 2, 3}, inv:totable())
  end)
end)

describe("Torch7-style multi-index", function()
  it("t[{i, {first, last}, {}}] is a view, a number when every dimension is picked", function()
    local x = lunet.arange(12):view(3, 4)
    assert.same({4, 5, 6}, x[{2, {1, 3}}]:totable())
    assert.equal(1, x[{1, 2}])
    assert.equal(11, x[{-1, -1}])
    assert.same({{3}, {7}, {11}}, x[{{}, {-1}}]:totable())
    assert.same({2, 4}, x[{{2, 3}, {}}]:size())
    assert.same({0, 4}, x[{{2, 1}}]:size()) -- an empty range
    assert.same({3, 4}, x[{}]:size())
    assert.same({{1, 5}}, x:t()[{{2}, {1, 2}}]:totable()) -- a non-contiguous view
    local v = x[{2, {}}]
    v:fill(0)
    assert.same({0, 0, 0, 0}, x[2]:totable())
  end)
  it("t[{...}] = v assigns a number or a tensor", function()
    local x = lunet.zeros(3, 4)
    x[{1, 2}] = 5
    x[{{}, 1}] = lunet.tensor{7, 8, 9}
    x[{3, {2, 4}}] = 1
    assert.same({{7, 5, 0, 0}, {8, 0, 0, 0}, {9, 1, 1, 1}}, x:totable())
    local i = lunet.zeros(2, 2, "int")
    i[{2, 1}] = 3
    assert.same({{0, 0}, {3, 0}}, i:totable())
    assert.has_error(function() x[{{}, 1}] = lunet.ones(2) end, "newindex: cannot assign a (2) tensor to a (3) slice")
  end)
  it("a key the indexer does not understand is an error, never nil", function()
    local x = lunet.zeros(2, 3)
    assert.has_error(function() return x.foo end, "index: tensor has no method 'foo'")
    assert.has_error(function() return x[true] end,
      "index: a tensor is indexed by a number, a {i, {first, last}, {}} table or a method name, got boolean")
    assert.has_error(function() return x[{1, 2, 3}] end, "index: the key has 3 entries for a 2-D tensor")
    assert.has_error(function() return x[{3}] end, "index: index 3 out of range for dimension 1 of size 2")
    assert.has_error(function() return x[{1, {2, 4}}] end, "index: range [2, 4] out of bounds for dimension 2 of size 3")
    assert.has_error(function() return x[{"a"}] end,
      "index: entry 1 of the key must be a number or a table ({}, {i} or {first, last}), got string")
    assert.has_error(function() return x[{{1, 2, 3}}] end,
      "index: entry 1 of the key must be {}, {i} or {first, last}, got 3 numbers")
    assert.has_error(function() x[{1, 5}] = 1 end, "newindex: index 5 out of range for dimension 2 of size 3")
  end)
end)

describe("autograd of cat, stack, indexSelect, gather, where", function()
  local autograd = require "lunet.autograd"
  it("run on plain tensors as the tensor functions do, and check their list", function()
    assert.same({1, 2}, autograd.cat({lunet.tensor{1}, lunet.tensor{2}}):totable())
    assert.same({{1}, {2}}, autograd.stack({lunet.tensor{1}, lunet.tensor{2}}):totable())
    assert.same({0, 2}, autograd.where(lunet.tensor{0, 1}, lunet.tensor{1, 2}, 0):totable())
    assert.has_error(function() autograd.cat(lunet.zeros(2)) end,
      "autograd.cat: list must be a table of tensors or nodes, got a tensor")
  end)
  it("route the gradient of repeated indices and of a 1-D empty cat operand", function()
    local g = autograd.grad(function(p)
      return (p.x:indexSelect(1, ints{2, 2}):sum() + autograd.cat({p.e, p.x}):sum())
    end)({x = lunet.tensor{1, 2, 3}, e = lunet.zeros(0)})
    assert.same({1, 3, 1}, g.x:totable())
    assert.same({0}, g.e:size())
  end)
end)

describe("against plain Lua on random non-contiguous tensors", function()
  -- x: a (3,4,5) permuted to (5,3,4), so no dimension is contiguous
  local function sample() return lunet.randn(3, 4, 5):permute(3, 1, 2) end
  local function at(t, i, j, k) return t[i][j][k] end
  it("sort along every dim agrees with gather and is ordered", function()
    lunet.manualSeed(7)
    for d = 1, 3 do
      local x = sample()
      local v, i = x:sort(d)
      assert.same(v:totable(), x:gather(d, i):totable())
      local s = v:size()
      for a = 1, s[1] do for b = 1, s[2] do for c = 1, s[3] do
        local p = {a, b, c}
        if p[d] > 1 then
          p[d] = p[d] - 1
          assert.is_true(at(v, p[1], p[2], p[3]) <= at(v, a, b, c))
        end
      end end end
    end
  end)
  it("cat of splits along every dim gives the tensor back; cumsum matches a running sum", function()
    lunet.manualSeed(8)
    for d = -3, 3 do
      if d ~= 0 then
        local x = sample()
        assert.same(x:totable(), lunet.cat(x:split(2, d), d):totable())
        assert.same(x:totable(), lunet.cat(x:chunk(3, d), d):totable())
      end
    end
    local x = sample()
    local c = x:cumsum(2)
    for a = 1, 5 do for k = 1, 4 do
      local acc = 0
      for b = 1, 3 do
        acc = acc + at(x, a, b, k)
        assert.is_true(math.abs(at(c, a, b, k) - acc) < 1e-5)
      end
    end end
  end)
  it("indexSelect equals a stack of selects; scatter_ undoes gather of a permutation", function()
    lunet.manualSeed(9)
    local x = sample()
    local idx = ints{3, 1, 3}
    local parts = {}
    for n = 1, 3 do parts[n] = x:select(2, idx[n]) end
    assert.same(lunet.stack(parts, 2):totable(), x:indexSelect(2, idx):totable())
    local perm = lunet.randperm(5):view(5, 1, 1):expand(5, 3, 4):contiguous()
    local y = lunet.zeros(5, 3, 4):scatter_(1, perm, x:gather(1, perm))
    assert.same(x:totable(), y:totable())
  end)
end)
