-- Issue 12's C side: checked size arithmetic, outputs that overlap inputs, output views
-- written where they point, max-pool switches over other planes, 64-bit values in
-- messages, and the rotation angle's normalization.
local lunet = require "lunet"
local core = require "lunet.core"

-- The reference for an in-place op on an aliased operand: the same op on clones.
local function same(expected, got)
  assert.same(expected:totable(), got:totable())
end

describe("outputs that overlap an input", function()
  it("add_ with its own transpose adds the transpose as it was", function()
    local a = lunet.arange(9):view(3, 3)
    local want = a:clone():add(a:t():clone())
    same(want, a:add_(a:t()))
  end)

  it("every in-place binary op takes an overlapping operand as it was", function()
    for _, op in ipairs({ "add", "sub", "mul", "div", "pow" }) do
      local a = lunet.arange(1, 13):view(3, 4):div(4)
      local want = a:clone()[op](a:clone(), a:clone())
      local b = lunet.arange(1, 13):view(3, 4):div(4)
      -- a shifted window of b's own storage
      local shifted = b:view(-1):narrow(1, 2, 11)
      local want2 = b:view(-1):narrow(1, 1, 11):clone()[op](b:view(-1):narrow(1, 1, 11):clone(), shifted:clone())
      b:view(-1):narrow(1, 1, 11)[op .. "_"](b:view(-1):narrow(1, 1, 11), shifted)
      same(want2, b:view(-1):narrow(1, 1, 11))
      same(want, a[op .. "_"](a, a))
    end
  end)

  it("mul_ by a broadcast slice of itself uses the slice as it was", function()
    local t2 = lunet.arange(1, 25):view(2, 3, 4)
    local want = t2:clone():mul(t2:select(3, -1):clone():unsqueeze(3))
    same(want, t2:mul_(t2:select(3, -1):unsqueeze(3)))
  end)

  it("copy from its own transpose copies the transpose as it was", function()
    local b = lunet.arange(16):view(4, 4)
    local want = b:t():clone()
    same(want, b:copy(b:t()))
    local c = lunet.arange(6)
    same(c:clone(), c:copy(c)) -- the tensor itself: nothing to do
  end)

  it("addmm_ with an operand that is its own transpose", function()
    local c = lunet.arange(9):view(3, 3)
    local w = lunet.arange(9):view(3, 3):div(2)
    local want = c:clone():addmm(c:t():clone(), w)
    same(want, c:addmm_(c:t(), w))
  end)

  it("nn kernels refuse an output that overlaps an input", function()
    local base = lunet.arange(16):view(4, 4)
    assert.has_error(function() core.relu_forward(base:narrow(1, 1, 2), base:narrow(1, 2, 2)) end,
      "relu: argument #2 (output), which the kernel writes, overlaps argument #1, which it reads or " ..
      "writes at the same time (pass a separate tensor)")
    local x, w = lunet.ones(2, 3), lunet.ones(3, 3)
    assert.has_error(function() core.linear_forward(x, w, nil, w:narrow(1, 1, 2)) end,
      "linear: argument #4 (output), which the kernel writes, overlaps argument #2, which it reads or " ..
      "writes at the same time (pass a separate tensor)")
    local gw = lunet.zeros(3, 3)
    local p = lunet.zeros(6)
    assert.has_error(function() core.sgd_step(p:narrow(1, 1, 3), p:narrow(1, 3, 3), nil, 0.1, 0, false, 0) end,
      "sgd_step: argument #1 (parameter), which the kernel writes, overlaps argument #2, which it reads or " ..
      "writes at the same time (pass a separate tensor)")
    assert.has_error(function() core.linear_backward_params(x, gw:narrow(1, 1, 2), gw, nil) end,
      "linear: argument #3 (grad_weight), which the kernel writes, overlaps argument #2, which it reads " ..
      "or writes at the same time (pass a separate tensor)")
  end)

  it("the same Linear twice in a Sequential gives the product of the two applications", function()
    local lin = lunet.nn.Linear(3, 3)
    local seq = lunet.nn.Sequential():add(lin):add(lin)
    local x = lunet.randn(2, 3)
    local want = lin:forward(lin:forward(x):clone()):clone()
    same(want, seq:forward(x))
  end)

  it("sharesStorage tells views of one storage apart from copies", function()
    local a = lunet.zeros(4, 4)
    assert.is_true(a:sharesStorage(a:narrow(1, 3, 2)))
    assert.is_true(a:t():sharesStorage(a))
    assert.is_false(a:sharesStorage(a:clone()))
  end)
end)

describe("output views", function()
  it("an nn kernel writes an output view of the right shape where it points", function()
    local base = lunet.zeros(4, 2)
    core.relu_forward(lunet.tensor({ { 1, -1 }, { 2, 3 } }), base:narrow(1, 3, 2))
    assert.same({ { 0, 0 }, { 0, 0 }, { 1, 0 }, { 2, 3 } }, base:totable())
  end)

  it("an output view of another shape, or not contiguous, is refused instead of re-pointed", function()
    local base = lunet.arange(8):view(4, 2)
    assert.has_error(function() core.relu_forward(lunet.ones(3, 2), base:narrow(1, 3, 2)) end,
      "relu: argument #2 (output) is a view (2,2) at offset 4 of another tensor's storage; an output " ..
      "view must already be contiguous with the result's shape (3,2) (or pass a tensor of its own to be resized)")
    assert.same({ { 0, 1 }, { 2, 3 }, { 4, 5 }, { 6, 7 } }, base:totable())
    assert.has_error(function() core.relu_forward(lunet.ones(2, 4), base:t()) end,
      "relu: argument #2 (output) is a view (2,4) (not contiguous) at offset 0 of another tensor's storage; an " ..
      "output view must already be contiguous with the result's shape (2,4) (or pass a tensor of its own to be resized)")
    assert.has_error(function() lunet.tensor({ 1, 2 }):index(lunet.tensor({ 1, 2, 1 }, "int"), base:narrow(1, 2, 2)) end,
      "index: argument #3 (out) is a view (2,2) at offset 2 of another tensor's storage; an output view must " ..
      "already be contiguous with the result's shape (3) (or pass a tensor of its own to be resized)")
  end)

  it("a tensor of its own is still resized, and keeps its storage when large enough", function()
    local out = lunet.zeros(10)
    core.relu_forward(lunet.ones(2, 3), out)
    assert.same({ 2, 3 }, out:size())
    assert.is_true(out:sharesStorage(out))
    core.relu_forward(lunet.ones(5), out)
    assert.same({ 1, 1, 1, 1, 1 }, out:totable())
  end)
end)

describe("max-pool", function()
  it("a kernel of math.maxinteger is refused clearly", function()
    assert.has_error(function() lunet.nn.MaxPool2d(math.maxinteger):forward(lunet.ones(1, 1, 4, 4)) end)
    assert.has_error(function()
      core.maxpool2d_forward(lunet.ones(1, 1, 4, 4), lunet.zeros(0), lunet.zeros(0, "int"), math.maxinteger, 2, 1, 1,
        0, 0)
    end, "maxpool2d: kernel height must be in 1..2147483647, got 9223372036854775807")
  end)

  it("a backward over an input of another size with the same output shape is refused", function()
    local sw = lunet.zeros(0, "int")
    core.maxpool2d_forward(lunet.randn(1, 1, 4, 4), lunet.zeros(0), sw, 2, 2, 2, 2, 0, 0)
    assert.has_error(function()
      core.maxpool2d_backward(lunet.randn(1, 1, 4, 5), lunet.ones(1, 1, 2, 2), sw, lunet.zeros(0), 2, 2, 2, 2, 0, 0)
    end, "maxpool2d: the switches come from a forward over 4x4 planes, not 4x5")
    local gi = core.maxpool2d_backward(lunet.randn(1, 1, 4, 4), lunet.ones(1, 1, 2, 2), sw, lunet.zeros(0), 2, 2, 2,
      2, 0, 0)
    assert.equal(4, gi:sum())
  end)
end)

describe("messages and angles", function()
  it("print 64-bit values whole", function()
    assert.has_error(function() lunet.linspace(0, 1, -2 ^ 40) end, "linspace: count must be non-negative, got -1099511627776")
    assert.has_error(function() lunet.zeros(3):select(1, 2 ^ 32 + 1) end,
      "select: index 4294967297 out of range for dimension 1 of size 3")
    assert.has_error(function() lunet.zeros(3):unsqueeze(2 ^ 32) end,
      "unsqueeze: dimension 4294967296 out of range for a 1-D tensor")
    assert.has_error(function() return lunet.zeros(3)[2 ^ 32 + 2] end,
      "index: index 4294967298 out of range for dimension 1 of size 3")
  end)

  it("image.rotate by a tiny negative angle is the identity", function()
    local x = lunet.arange(32):view(2, 4, 4)
    same(x, lunet.image.rotate(x, -1e-14))
  end)
end)
