--- lunet.autograd: reverse-mode automatic differentiation, define-by-run. The graph is
-- recorded as the Lua code runs (so `if` and loops just work) on a tape, a list of the
-- operations in the order they ran; the backward walks it from the end.
--
-- The functional form (in torch-autograd's spirit):
--   local autograd = require "lunet.autograd"
--   local function f(p, x, y)                      -- p: a tensor or a nested table of them
--     local h = autograd.relu(autograd.linear(x, p.w1, p.b1))
--     return autograd.crossentropy(autograd.linear(h, p.w2, p.b2), y), h
--   end
--   local df = autograd.grad(f)
--   local grads, loss, h = df(params, x, y)       -- grads shaped like params, then f's values
-- Inside f, the tensors of `params` arrive as nodes (tracked); the other arguments stay plain
-- tensors (constants). f returns a scalar (a node or tensor of one element) first.
--
-- A module written by its forward alone: nn.Function(fn, params) (lunet/nn/functional.lua),
-- fn(p, input) -> output. In training it records a tape in updateOutput and replays it in
-- updateGradInput/accGradParameters; in evaluate() it runs fn on plain tensors.
--
-- No tape, no extra memory: an op given no node computes on tensors and returns a tensor, so
-- a function written for nodes runs as it is on plain tensors outside a grad call (this is
-- evaluation); autograd.noGrad(fn, ...) runs fn with recording off even on nodes.
--
-- Ops: each is a function autograd.name(...) taking nodes, tensors or numbers, and the same
-- name as a method of nodes, named and called like the tensor method (x:sum(2, true)):
--   elementwise, broadcasting  add sub mul div pow maximum minimum (and + - * / ^, unary -)
--   unary                      neg exp log sqrt tanh sigmoid relu abs clamp(lo, hi)
--   products                   matmul (1-D, 2-D, batched 3-D) bmm addmm(c, a, b [, beta, alpha])
--   reductions                 sum mean max min var std, each (dim [, keepdim]) or over all
--                              (a 0-D result); max/min along a dim also give the indices
--   views                      view reshape narrow select transpose (t) permute expand
--                              unsqueeze squeeze contiguous, index (rows along dim 1)
--   joining and indexing       cat(list [, dim]) stack(list [, dim]) indexSelect(x, dim, idx)
--                              gather(x, dim, idx) where(mask, a, b) (mask a constant)
--   nn kernels, one node each  linear(x, w [, b]) conv2d(x, w [, b, {stride=, padding=, dilation=, groups=}])
--                              maxpool2d(x, k [, {stride=, padding=}]) dropout(x [, p, training])
--                              softmax logsoftmax crossentropy(logits, labels)
--                              rnn(x, wIH, wHH, b [, h0]) lstm(x, wIH, wHH, b [, h0, c0])
--                              gru(x, wIH, wHH, bIH, bHH [, h0]): a sequence layer each
-- Nodes answer size, dim, numel, shapeString, dtype, stride, isContiguous, item, argmax,
-- argmin and the comparisons (eq ne lt le gt ge: constant masks) from their value.
-- The tensor arithmetic metamethods learn nodes when this module loads, so that
-- `tensor * node` records as `node * tensor` does.
--
-- autograd.gradcheck(f, inputs [, {eps=, atol=, rtol=}]) compares grad(f)(inputs) with
-- centered finite differences of f(inputs), element by element (a test tool).
--
-- Adding an op is one call to defop(name, arity, forward, backward): forward(inputs...,
-- options...) computes on tensors and returns value [, saved [, extra]]; backward(g, n)
-- returns the gradients of the first `arity` arguments given g, the gradient of the value,
-- and the node n (n.args: the forward's arguments as values, n.value, n.saved, n.need[i]:
-- whether input i wants its gradient).
-- After a backward the tape drops every saved tensor and gradient (nothing outlives it).
-- An op is recorded only when one of its inputs wants a gradient; otherwise its result is
-- a plain tensor. The nn kernels write into new tensors, or, under autograd.withBuffers
-- (as nn.Function runs), into buffers kept from one call to the next.
-- @module lunet.autograd
local lunet = require "lunet"
local core = require "lunet.core"
local check = require "lunet.check"

local autograd = {}

-- One autograd per Lua state: the node type, the tape stack and the no-grad depth live in
-- the registry, so that a second load of this file (a test runner resetting package.loaded)
-- shares them with the first, whose nn.Function modules may still be alive.
local REGISTRY = debug.getregistry()
local state = REGISTRY["lunet.autograd"]
  or { Node = { __name = "lunet.autograd.Node" }, tapes = {}, noGradDepth = 0, convWorkspace = lunet.zeros(0) }
REGISTRY["lunet.autograd"] = state
local Node = state.Node
Node.__index = Node

-- The tensor methods as functions: T.add(2, x) as x:add(2), with a number first.
local T = setmetatable({}, { __index = function(t, k)
  local f = lunet.zeros(0)[k]
  t[k] = f
  return f
end })

local tapes = state.tapes -- a stack: the innermost grad call records on tapes[#tapes]

local function isNode(x) return getmetatable(x) == Node end
autograd.isNode = isNode

--- Is x a node (a value recorded on a tape, or a leaf)?
-- @function isNode
-- @param x anything
-- @treturn bool
-- @usage if autograd.isNode(y) then y = autograd.value(y) end

--- A node's tensor, or x itself.
-- @function value
-- @param x a node, a tensor or anything
-- @return the node's value, or x
-- @usage local t = autograd.value(out)
local function valueOf(x)
  if isNode(x) then return x.value end
  return x
end
autograd.value = valueOf

--- Are ops being recorded (inside a grad call or a training nn.Function, outside noGrad)?
-- @treturn bool
-- @usage local training = autograd.isRecording()
function autograd.isRecording()
  return #tapes > 0 and state.noGradDepth == 0
end

local function leaf(value, needsGrad)
  return setmetatable({ value = value, needsGrad = needsGrad }, Node)
end

-- The buffer a kernel writes its result into: the next one of the current arena (see
-- autograd.withBuffers), or a new tensor when no arena is in use. The kernels resize it;
-- given `like`, it comes shaped as that tensor (for a fill that does not resize).
local function buffer(dtype, like)
  local a = state.arena
  if a == nil then return like and lunet.zeros(like:size()) or lunet.zeros(0, dtype) end
  local k = a.at + 1
  a.at = k
  local b = a[k]
  local fresh = b == nil or b:dtype() ~= (dtype or "float") or (like ~= nil and b:shapeString() ~= like:shapeString())
  local outside, i = a.outside, 1
  while not fresh and i <= #outside do
    fresh, i = b:sharesStorage(outside[i]), i + 1
  end
  if fresh then
    b = like and lunet.zeros(like:size()) or lunet.zeros(0, dtype)
    a[k] = b
  end
  return b
end

-- defop: see the header. The function returned is also autograd[name] and Node[name].
-- arity "*": every argument may be a node (cat's and stack's tensors). A node is recorded
-- only when one of its inputs wants a gradient (a leaf made so, or a node made of one);
-- n.need holds those inputs by position. Otherwise the result is a plain tensor, a
-- constant. A node is five fields (value, need, args, saved, op) and inherits needsGrad.
local unpack = table.unpack
Node.needsGrad = true
local function defop(name, arity, forward, backward)
  local op = { backward = backward, arity = arity }
  local function apply(...)
    local args = table.pack(...)
    local k = arity == "*" and args.n or arity
    local parents
    for i = 1, k do
      local a = args[i]
      if getmetatable(a) == Node then
        args[i] = a.value
        if a.needsGrad then
          parents = parents or {}
          parents[i] = a
        end
      end
    end
    if parents == nil or state.noGradDepth > 0 then
      local value, _, extra = forward(unpack(args, 1, args.n))
      return value, extra
    end
    local tape = tapes[#tapes]
    if tape == nil then
      check.fail(2, "autograd.%s: a node used outside the grad call that made it", name)
    end
    local value, saved, extra = forward(unpack(args, 1, args.n))
    local node = setmetatable({ value = value, need = parents, args = args, saved = saved, op = op }, Node)
    tape[#tape + 1] = node
    return node, extra
  end
  autograd[name], Node[name] = apply, apply
  return apply
end

-- The gradient of a broadcast operand: g summed over the dimensions t was expanded along
-- (none when they have as many elements: broadcasting only adds dimensions of size 1).
local function sumTo(g, t)
  local nd = t:dim()
  if g:numel() == t:numel() then return nd == g:dim() and g or g:reshape(t:size()) end
  while g:dim() > nd do g = g:sum(1) end
  for d = 1, nd do
    if t:size(d) == 1 and g:size(d) ~= 1 then g = g:sum(d, true) end
  end
  return g
end

-- node.grad += g; the first gradient is kept as it came (it may be shared or a view), a
-- second one makes a tensor of the node's own, which later ones are added into.
local function accumulate(node, g)
  local acc = node.grad
  if acc == nil then
    node.grad = g
  elseif node.ownsGrad then
    acc:add_(g)
  else
    node.grad, node.ownsGrad = T.add(acc, g), true
  end
end

-- The tensor a kernel adds input i's gradient into itself (returning false for it): the
-- parent's own gradient, made now (zeros, or a copy of the one shared gradient it holds).
local function gradInto(n, i)
  local p = n.need[i]
  if p.grad == nil then
    p.grad, p.ownsGrad = lunet.zeros(p.value:size()), true
  elseif not p.ownsGrad then
    p.grad, p.ownsGrad = p.grad:clone(), true
  end
  return p.grad
end

-- Runs the tape backward from root, whose gradient is seed, into the leaves' .grad; every
-- node of the tape lets go of what it saved.
local function backprop(tape, root, seed)
  root.grad = seed
  for k = #tape, 1, -1 do
    local n = tape[k]
    local g, parents, op = n.grad, n.need, n.op
    if g ~= nil and op.arity ~= "*" and op.arity <= 3 then
      local g1, g2, g3 = op.backward(g, n)
      if g1 and parents[1] then accumulate(parents[1], g1) end
      if g2 and parents[2] then accumulate(parents[2], g2) end
      if g3 and parents[3] then accumulate(parents[3], g3) end
    elseif g ~= nil then
      local grads = table.pack(op.backward(g, n))
      for i = 1, grads.n do
        if grads[i] and parents[i] then accumulate(parents[i], grads[i]) end
      end
    end
    n.grad, n.args, n.saved, n.value, n.need = nil, nil, nil, nil, nil
    tape[k] = nil
  end
end

-- A leaf's gradient for the caller: a tensor of its own, zeros when nothing reached it.
local function leafGrad(node)
  local g = node.grad
  if g == nil then return lunet.zeros(node.value:size()) end
  if node.ownsGrad then return g:contiguous() end
  return g:clone()
end

-- ------------------------------------------------------------------------------
-- Elementwise, broadcasting. For a number operand no gradient is asked (it is no node).

local function greater(a, b)
  if type(a) == "number" then return T.lt(b, a) end
  return T.gt(a, b)
end

local function equal(a, b)
  if type(a) == "number" then return T.eq(b, a) end
  return T.eq(a, b)
end

--- Elementwise a + b, broadcasting.
-- a + b (also the operator +). Each operand a node, a tensor or a number; the gradient of a broadcast operand is
-- summed back to its shape. Errors: the tensor method's (shapes that do not broadcast).
-- @function add
-- @tparam Node|Tensor|number a
-- @tparam Node|Tensor|number b
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local y = autograd.add(x, b) -- or x + b

--- Elementwise a - b, broadcasting.
-- a - b (also the operator -). Each operand a node, a tensor or a number; the gradient of a broadcast operand is
-- summed back to its shape. Errors: the tensor method's (shapes that do not broadcast).
-- @function sub
-- @tparam Node|Tensor|number a
-- @tparam Node|Tensor|number b
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local y = x - 1

--- Elementwise a * b, broadcasting.
-- a b (also the operator *). Each operand a node, a tensor or a number; the gradient of a broadcast operand is
-- summed back to its shape. Errors: the tensor method's (shapes that do not broadcast).
-- @function mul
-- @tparam Node|Tensor|number a
-- @tparam Node|Tensor|number b
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local y = x * w

--- Elementwise a / b, broadcasting.
-- a / b (also the operator /). Each operand a node, a tensor or a number; the gradient of a broadcast operand is
-- summed back to its shape. Errors: the tensor method's (shapes that do not broadcast).
-- @function div
-- @tparam Node|Tensor|number a
-- @tparam Node|Tensor|number b
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local y = x / (x:sum() + 1)

--- Elementwise a ^ b, broadcasting.
-- a^b (also the operator ^); d/db needs a > 0. Each operand a node, a tensor or a number; the gradient of a broadcast operand is
-- summed back to its shape. Errors: the tensor method's (shapes that do not broadcast).
-- @function pow
-- @tparam Node|Tensor|number a
-- @tparam Node|Tensor|number b
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local y = x ^ 2

--- Elementwise maximum of a and b, broadcasting.
-- max(a, b); on a tie the gradient is split evenly, as PyTorch. Each operand a node, a tensor or a
-- number; the gradient of a broadcast operand is
-- summed back to its shape. Errors: the tensor method's (shapes that do not broadcast).
-- @function maximum
-- @tparam Node|Tensor|number a
-- @tparam Node|Tensor|number b
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local y = x:maximum(0)

--- Elementwise minimum of a and b, broadcasting.
-- min(a, b); on a tie the gradient is split evenly, as PyTorch. Each operand a node, a tensor or a
-- number; the gradient of a broadcast operand is
-- summed back to its shape. Errors: the tensor method's (shapes that do not broadcast).
-- @function minimum
-- @tparam Node|Tensor|number a
-- @tparam Node|Tensor|number b
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local y = autograd.minimum(x, 1)
defop("add", 2, T.add, function(g, n)
  return n.need[1] and sumTo(g, n.args[1]), n.need[2] and sumTo(g, n.args[2])
end)

defop("sub", 2, T.sub, function(g, n)
  return n.need[1] and sumTo(g, n.args[1]), n.need[2] and sumTo(T.neg(g), n.args[2])
end)

-- d(ab) = b da + a db
defop("mul", 2, T.mul, function(g, n)
  local a, b = n.args[1], n.args[2]
  return n.need[1] and sumTo(T.mul(g, b), a), n.need[2] and sumTo(T.mul(g, a), b)
end)

-- d(a/b) = da / b - (a/b) db / b
defop("div", 2, T.div, function(g, n)
  local a, b = n.args[1], n.args[2]
  return n.need[1] and sumTo(T.div(g, b), a), n.need[2] and sumTo(T.neg(g):mul_(n.value):div_(b), b)
end)

-- d(a^b) = b a^(b-1) da + a^b log(a) db
defop("pow", 2, T.pow, function(g, n)
  local a, b = n.args[1], n.args[2]
  local ga = n.need[1] and sumTo(T.mul(g, T.mul(T.pow(a, type(b) == "number" and b - 1 or T.sub(b, 1)), b)), a)
  local gb = n.need[2] and sumTo(T.mul(g, n.value):mul_(type(a) == "number" and math.log(a) or T.log(a)), b)
  return ga, gb
end)

-- The gradient goes to the larger (smaller) operand, split evenly on a tie (as PyTorch).
local function choose(name, pick)
  defop(name, 2, T[name], function(g, n)
    local a, b = n.args[1], n.args[2]
    local toA = pick(a, b):add_(T.mul(equal(a, b), 0.5))
    return n.need[1] and sumTo(T.mul(g, toA), a), n.need[2] and sumTo(T.mul(g, T.sub(1, toA)), b)
  end)
end
choose("maximum", greater)
choose("minimum", function(a, b) return greater(b, a) end)

-- ------------------------------------------------------------------------------
-- Unary: y = f(x), dy/dx from x (n.args[1]) or y (n.value).
local function unary(name, derivative)
  defop(name, 1, T[name], function(g, n) return derivative(g, n.args[1], n.value, n) end)
end

--- Elementwise -x (also the unary operator -).
-- x of any shape; the value is the tensor method's. Also a method of nodes (x:neg()).
-- @function neg
-- @tparam Node|Tensor x
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local y = -x

--- Elementwise e^x.
-- x of any shape; the value is the tensor method's. Also a method of nodes (x:exp()).
-- @function exp
-- @tparam Node|Tensor x
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local y = x:exp()

--- Elementwise natural logarithm.
-- x of any shape; the value is the tensor method's. Also a method of nodes (x:log()).
-- @function log
-- @tparam Node|Tensor x
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local y = autograd.log(p)

--- Elementwise square root.
-- x of any shape; the value is the tensor method's. Also a method of nodes (x:sqrt()).
-- @function sqrt
-- @tparam Node|Tensor x
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local y = x:sqrt()

--- Elementwise hyperbolic tangent.
-- x of any shape; the value is the tensor method's. Also a method of nodes (x:tanh()).
-- @function tanh
-- @tparam Node|Tensor x
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local h = autograd.tanh(a)

--- Elementwise logistic function 1 / (1 + e^-x).
-- x of any shape; the value is the tensor method's. Also a method of nodes (x:sigmoid()).
-- @function sigmoid
-- @tparam Node|Tensor x
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local g = x:sigmoid()

--- Elementwise |x|; its gradient at 0 is 0.
-- x of any shape; the value is the tensor method's. Also a method of nodes (x:abs()).
-- @function abs
-- @tparam Node|Tensor x
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local y = x:abs()

--- Elementwise max(x, 0) (the kernel of nn.ReLU for a float tensor in one block).
-- x of any shape; the value is the tensor method's. Also a method of nodes (x:relu()).
-- @function relu
-- @tparam Node|Tensor x
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local y = x:relu()
unary("neg", function(g) return T.neg(g) end)
unary("exp", function(g, _, y) return T.mul(g, y) end)
unary("log", function(g, x) return T.div(g, x) end)
unary("sqrt", function(g, _, y) return T.div(g, y):mul_(0.5) end)                -- 1 / (2 sqrt x)
unary("tanh", function(g, _, y) return T.mul(y, y):neg_():add_(1):mul_(g) end)   -- 1 - y^2
unary("sigmoid", function(g, _, y) return T.sub(1, y):mul_(y):mul_(g) end)       -- y (1 - y)
unary("abs", function(g, x) return T.gt(x, 0):sub_(T.lt(x, 0)):mul_(g) end)      -- sign(x)
defop("relu", 1, function(x)
  if x:dtype() == "float" and x:isContiguous() then return core.relu_forward(x, buffer()) end
  return T.relu(x)
end, function(g, n) return core.relu_backward(n.args[1]:contiguous(), g:contiguous(), buffer()) end)
--- Elementwise x clamped to [lo, hi].
-- Either bound may be nil (open). The gradient passes where lo <= x <= hi, bounds included
-- (as PyTorch). Errors: the tensor method's.
-- @function clamp
-- @tparam Node|Tensor x
-- @tparam[opt] number lo lower bound
-- @tparam[opt] number hi upper bound
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local y = x:clamp(-1, 1)
unary("clamp", function(g, x, _, n)
  local lo, hi = n.args[2] or -math.huge, n.args[3] or math.huge
  return T.ge(x, lo):mul_(T.le(x, hi)):mul_(g)
end)

-- ------------------------------------------------------------------------------
-- Products. C = A B (2-D, or batched (B,n,k) @ (B,k,m) or (B,n,k) @ (k,m)):
-- dA = dC B^T, dB = A^T dC (summed over the batch when B is shared).
local function mT(t) return t:transpose(t:dim() - 1, t:dim()) end

local matmul = defop("matmul", 2, T.matmul, function(g, n)
  local a, b = n.args[1], n.args[2]
  local ga = n.need[1] and T.matmul(g, mT(b))
  local gb
  if n.need[2] then
    if a:dim() == 3 and b:dim() == 2 then
      gb = T.matmul(a:reshape(-1, a:size(3)):t(), g:reshape(-1, g:size(3)))
    else
      gb = T.matmul(mT(a), g)
    end
  end
  return ga, gb
end)

--- Matrix product, as the tensor method matmul.
-- (n,k) @ (k,m) -> (n,m); batched (B,n,k) @ (B,k,m) or (B,n,k) @ (k,m) -> (B,n,m) (the shared
-- matrix's gradient summed over the batch); a 1-D operand goes through as a row (left) or a
-- column (right), two 1-D operands give their dot product (0-D). Errors: the tensor method's
-- (sizes that do not match).
-- @tparam Node|Tensor a
-- @tparam Node|Tensor b
-- @treturn Node|Tensor the product
-- @usage local y = x:matmul(w)
function autograd.matmul(a, b)
  local da, db = valueOf(a):dim(), valueOf(b):dim()
  if da == 1 and db == 1 then return autograd.sum(autograd.mul(a, b)) end
  if da == 1 then return autograd.squeeze(matmul(autograd.unsqueeze(a, 1), b), -2) end
  if db == 1 then return autograd.squeeze(matmul(a, autograd.unsqueeze(b, 2)), -1) end
  return matmul(a, b)
end
Node.matmul = autograd.matmul

--- Batched matrix product (B,n,k) @ (B,k,m) -> (B,n,m).
-- Errors: `autograd.bmm: operands must be 3-D ...` for other ranks, the tensor method's for sizes.
-- @tparam Node|Tensor a (B,n,k)
-- @tparam Node|Tensor b (B,k,m)
-- @treturn Node|Tensor (B,n,m)
-- @usage local y = autograd.bmm(q, k:transpose(2, 3))
function autograd.bmm(a, b)
  local va, vb = valueOf(a), valueOf(b)
  if va:dim() ~= 3 or vb:dim() ~= 3 then
    check.fail(2, "autograd.bmm: operands must be 3-D (B,n,k) and (B,k,m), got %s and %s",
      va:shapeString(), vb:shapeString())
  end
  return matmul(a, b)
end
Node.bmm = autograd.bmm

-- out = beta C + alpha A B: dC = beta g, dA = alpha g B^T, dB = alpha A^T g

--- beta c + alpha (a @ b), 2-D.
-- c (n,m) (or broadcast to it), a (n,k), b (k,m); beta and alpha default to 1. Errors: the
-- tensor method's.
-- @function addmm
-- @tparam Node|Tensor c (n,m)
-- @tparam Node|Tensor a (n,k)
-- @tparam Node|Tensor b (k,m)
-- @tparam[opt] number beta default 1
-- @tparam[opt] number alpha default 1
-- @treturn Node|Tensor: (n,m)
-- @usage local y = autograd.addmm(bias, x, w)
defop("addmm", 3, function(c, a, b, beta, alpha) return T.addmm(c, a, b, beta, alpha) end, function(g, n)
  local a, b, beta, alpha = n.args[2], n.args[3], n.args[4] or 1, n.args[5] or 1
  return n.need[1] and T.mul(g, beta), n.need[2] and T.matmul(g, b:t()):mul_(alpha),
         n.need[3] and T.matmul(a:t(), g):mul_(alpha)
end)

-- ------------------------------------------------------------------------------
-- Reductions, over a dimension (dim [, keepdim]) or over everything (a 0-D value).

local function count(x, dim)
  if dim then return x:size(dim) end
  return x:numel()
end

-- g, the gradient of a reduction of x, as a view of x's shape.
local function spread(g, x, dim, keepdim)
  if dim and not keepdim then g = g:unsqueeze(dim) end
  return g:expand(x:size())
end

local function reduction(name, backward)
  defop(name, 1, function(x, dim, keepdim)
    if dim == nil then return lunet.full({}, T[name](x)) end
    local value, indices = T[name](x, dim, keepdim)
    return value, indices, indices
  end, function(g, n)
    return backward(g, n.args[1], n.args[2], n.args[3], n)
  end)
end

--- Sum of the elements.
-- Over all elements (a 0-D result) or along dim, keeping it as size 1 with keepdim.
-- Errors: the tensor method's (a dim out of range).
-- @function sum
-- @tparam Node|Tensor x
-- @tparam[opt] int dim the dimension (default: all)
-- @tparam[opt] bool keepdim default false
-- @treturn Node|Tensor: the reduction
-- @usage local s = x:sum(2, true)

--- Mean of the elements.
-- Over all elements (a 0-D result) or along dim, keeping it as size 1 with keepdim.
-- Errors: the tensor method's (a dim out of range).
-- @function mean
-- @tparam Node|Tensor x
-- @tparam[opt] int dim the dimension (default: all)
-- @tparam[opt] bool keepdim default false
-- @treturn Node|Tensor: the reduction
-- @usage local m = autograd.mean(x)

--- Largest element.
-- Over all elements (a 0-D result) or along dim, keeping it as size 1 with keepdim. Along a
-- dim also the indices; over all, the gradient is shared among equal maxima.
-- Errors: the tensor method's (a dim out of range).
-- @function max
-- @tparam Node|Tensor x
-- @tparam[opt] int dim the dimension (default: all)
-- @tparam[opt] bool keepdim default false
-- @treturn Node|Tensor: the reduction
-- @treturn Tensor: the indices (int), along a dim
-- @usage local m, at = x:max(2)

--- Smallest element.
-- Over all elements (a 0-D result) or along dim, keeping it as size 1 with keepdim. Along a
-- dim also the indices; over all, the gradient is shared among equal minima.
-- Errors: the tensor method's (a dim out of range).
-- @function min
-- @tparam Node|Tensor x
-- @tparam[opt] int dim the dimension (default: all)
-- @tparam[opt] bool keepdim default false
-- @treturn Node|Tensor: the reduction
-- @treturn Tensor: the indices (int), along a dim
-- @usage local m = x:min()

--- Variance (divided by n - 1).
-- Over all elements (a 0-D result) or along dim, keeping it as size 1 with keepdim.
-- Errors: the tensor method's (a dim out of range).
-- @function var
-- @tparam Node|Tensor x
-- @tparam[opt] int dim the dimension (default: all)
-- @tparam[opt] bool keepdim default false
-- @treturn Node|Tensor: the reduction
-- @usage local v = x:var(1)

--- Standard deviation (the root of var).
-- Over all elements (a 0-D result) or along dim, keeping it as size 1 with keepdim.
-- Errors: the tensor method's (a dim out of range).
-- @function std
-- @tparam Node|Tensor x
-- @tparam[opt] int dim the dimension (default: all)
-- @tparam[opt] bool keepdim default false
-- @treturn Node|Tensor: the reduction
-- @usage local s = x:std()
reduction("sum", function(g, x, dim, keepdim) return spread(g, x, dim, keepdim) end)
reduction("mean", function(g, x, dim, keepdim) return T.div(spread(g, x, dim, keepdim), count(x, dim)) end)

-- d max = g at the maximum: along a dimension at the index the forward picked; over
-- everything shared among the elements equal to it.
local function extremum(g, x, dim, keepdim, n)
  if dim == nil then
    local mask = T.eq(x, n.value:item())
    return mask:mul_(g:item() / mask:sum())
  end
  local shape = {}
  for d = 1, x:dim() do shape[d] = 1 end
  shape[dim] = x:size(dim)
  local at = keepdim and n.saved or n.saved:unsqueeze(dim)
  return lunet.arange(1, x:size(dim) + 1):view(shape):eq(at):mul_(spread(g, x, dim, keepdim))
end
reduction("max", extremum)
reduction("min", extremum)

local function centered(x, dim)
  if dim then return T.sub(x, x:mean(dim, true)) end
  return T.sub(x, x:mean())
end

-- var = sum (x - mean)^2 / (n - 1): d var = 2 (x - mean) / (n - 1)
reduction("var", function(g, x, dim, keepdim)
  return centered(x, dim):mul_(spread(g, x, dim, keepdim)):mul_(2 / (count(x, dim) - 1))
end)
-- std = sqrt(var): d std = (x - mean) / ((n - 1) std)
reduction("std", function(g, x, dim, keepdim, n)
  return centered(x, dim):mul_(spread(T.div(g, n.value), x, dim, keepdim)):div_(count(x, dim) - 1)
end)

-- ------------------------------------------------------------------------------
-- Views: the gradient is the output's, put back in the input's shape.

local function sameShapeAsInput(g, n) return g:reshape(n.args[1]:size()) end
--- The elements in another shape (contiguous x).
-- As the tensor method; the gradient goes back in the input's shape. Errors: the tensor method's.
-- @function view
-- @tparam Node|Tensor x
-- @tparam int... sizes the new sizes, one may be -1
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local y = x:view(n, -1)

--- The elements in another shape (a copy when x is not contiguous).
-- As the tensor method; the gradient goes back in the input's shape. Errors: the tensor method's.
-- @function reshape
-- @tparam Node|Tensor x
-- @tparam int... sizes the new sizes, one may be -1
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local y = x:reshape(-1)

--- A dimension of size 1 inserted at dim.
-- As the tensor method; the gradient goes back in the input's shape. Errors: the tensor method's.
-- @function unsqueeze
-- @tparam Node|Tensor x
-- @tparam int dim
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local y = x:unsqueeze(1)

--- The dimensions of size 1 removed (or only dim).
-- As the tensor method; the gradient goes back in the input's shape. Errors: the tensor method's.
-- @function squeeze
-- @tparam Node|Tensor x
-- @tparam[opt] int dim
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local y = x:squeeze()

--- x with contiguous strides (x itself when it has them).
-- As the tensor method; the gradient goes back in the input's shape. Errors: the tensor method's.
-- @function contiguous
-- @tparam Node|Tensor x
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local y = x:t():contiguous()
for _, name in ipairs({ "view", "reshape", "unsqueeze", "squeeze", "contiguous" }) do
  defop(name, 1, T[name], sameShapeAsInput)
end

-- g added into the part of x's own gradient that the view took (gradInto): the slices of
-- one tensor (an LSTM's gates) share one gradient, allocated once.
local function scatterInto(method)
  return function(g, n)
    local gx = gradInto(n, 1)
    gx[method](gx, table.unpack(n.args, 2, n.args.n)):add_(g)
    return false
  end
end
--- The slice start .. start + length - 1 along dim.
-- As the tensor method; the gradient goes back in the input's shape. Errors: the tensor method's.
-- @function narrow
-- @tparam Node|Tensor x
-- @tparam int dim
-- @tparam int start 1-based
-- @tparam int length
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local i = gates:narrow(2, 1, H)

--- The slice at index i along dim, that dimension removed.
-- As the tensor method; the gradient goes back in the input's shape. Errors: the tensor method's.
-- @function select
-- @tparam Node|Tensor x
-- @tparam int dim
-- @tparam int i 1-based
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local xt = x:select(2, t)
defop("narrow", 1, T.narrow, scatterInto("narrow"))
defop("select", 1, T.select, scatterInto("select"))

--- Dimensions d1 and d2 swapped (t(): the two of a matrix).
-- As the tensor method; the gradient goes back in the input's shape. Errors: the tensor method's.
-- @function transpose
-- @tparam Node|Tensor x
-- @tparam[opt] int d1
-- @tparam[opt] int d2
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local wt = w:t()
defop("transpose", 1, T.transpose, function(g, n) return g:transpose(n.args[2], n.args[3]) end)
Node.t = autograd.transpose

--- The transpose of a matrix, transpose(1, 2).
-- @function t
-- @tparam Node|Tensor x (n,m)
-- @treturn Node|Tensor (m,n), a view
-- @usage local wt = autograd.t(w)
autograd.t = autograd.transpose

--- The dimensions reordered.
-- As the tensor method; the gradient goes back in the input's shape. Errors: the tensor method's.
-- @function permute
-- @tparam Node|Tensor x
-- @tparam int... order a permutation of 1..dim (or a table of one)
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local y = x:permute(3, 1, 2)
defop("permute", 1, T.permute, function(g, n)
  local perm = type(n.args[2]) == "table" and n.args[2] or { table.unpack(n.args, 2, n.args.n) }
  local inverse = {}
  for i, d in ipairs(perm) do inverse[d] = i end
  return g:permute(inverse)
end)

--- Size-1 dimensions repeated (a view); the gradient is summed back.
-- As the tensor method; the gradient goes back in the input's shape. Errors: the tensor method's.
-- @function expand
-- @tparam Node|Tensor x
-- @tparam int... sizes
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local y = b:expand(n, m)
defop("expand", 1, T.expand, function(g, n) return sumTo(g, n.args[1]) end)

-- x:index(idx), rows of x: row r of the gradient gets the sum of the rows picked from it,
-- onehot^T g with onehot (N, n) [r, i] = (idx[i] == r), one matrix product.

--- Rows of x picked by an int tensor of row numbers (repeats allowed).
-- As the tensor method; the gradient goes back in the input's shape. Errors: the tensor method's.
-- @function index
-- @tparam Node|Tensor x
-- @tparam Tensor idx 1-D int, 1-based
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local rows = emb:index(ids)
defop("index", 1, T.index, function(g, n)
  local x, idx = n.args[1], n.args[2]
  local rows, picked = x:size(1), idx:size(1)
  local onehot = lunet.arange(1, rows + 1):view(rows, 1):eq(idx:reshape(1, picked))
  return T.matmul(onehot, g:reshape(picked, -1)):view(x:size())
end)

-- ------------------------------------------------------------------------------
-- Joining and indexing.

local function checkList(fname, list)
  if type(list) ~= "table" or check.isTensor(list) or isNode(list) then
    local got = check.isTensor(list) and "a tensor" or isNode(list) and "a node" or type(list)
    check.fail(3, "%s: list must be a table of tensors or nodes, got %s", fname, got)
  end
end

-- A dimension argument (default 1, negative from the end) of a result of nd dimensions.
local function dimOf(dim, nd)
  dim = dim or 1
  if dim < 0 then return dim + nd + 1 end
  return dim
end

-- cat(x1, ..., xn along dim): each x gets the slice of g it filled (a 1-D empty x, which
-- cat skips, gets zeros).
local cat = defop("cat", "*", function(dim, ...) return lunet.cat({ ... }, dim) end, function(g, n)
  local d, grads, at = dimOf(n.args[1], g:dim()), { false }, 1
  for i = 2, n.args.n do
    local x = n.args[i]
    if x:dim() == 1 and x:size(1) == 0 then
      grads[i] = lunet.zeros(0)
    else
      grads[i] = g:narrow(d, at, x:size(d))
      at = at + x:size(d)
    end
  end
  return table.unpack(grads, 1, n.args.n)
end)

--- Concatenation of nodes and tensors along dim, as lunet.cat.
-- Each part gets back the slice of the gradient it filled. Errors: `autograd.cat: list must
-- be a table of tensors or nodes, got ...`, and lunet.cat's for shapes.
-- @tparam {Node|Tensor,...} list the parts
-- @tparam[opt] int dim default 1; negative counts from the end
-- @treturn Node|Tensor
-- @usage local y = autograd.cat({a, b}, 2)
function autograd.cat(list, dim)
  checkList("autograd.cat", list)
  return cat(dim, table.unpack(list))
end
Node.cat = nil

-- stack(x1, ..., xn along a new dim): x_i gets g's slice i along it.
local stack = defop("stack", "*", function(dim, ...) return lunet.stack({ ... }, dim) end, function(g, n)
  local d, grads = dimOf(n.args[1], g:dim()), { false }
  for i = 2, n.args.n do grads[i] = g:select(d, i - 1) end
  return table.unpack(grads, 1, n.args.n)
end)

--- Nodes and tensors of one shape stacked along a new dimension dim, as lunet.stack.
-- Errors: `autograd.stack: list must be a table of tensors or nodes, got ...`, and lunet.stack's.
-- @tparam {Node|Tensor,...} list the parts
-- @tparam[opt] int dim default 1
-- @treturn Node|Tensor
-- @usage local hs = autograd.stack(states, 2)
function autograd.stack(list, dim)
  checkList("autograd.stack", list)
  return stack(dim, table.unpack(list))
end
Node.stack = nil

-- x:indexSelect(dim, idx): the slices of g go back to the slices they came from, added up
-- where idx repeats.

--- The slices of x at idx along dim; the gradient is added back where idx repeats.
-- As the tensor method; the gradient goes back in the input's shape. Errors: the tensor method's.
-- @function indexSelect
-- @tparam Node|Tensor x
-- @tparam int dim
-- @tparam Tensor idx 1-D int, 1-based
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local y = x:indexSelect(1, rows)
defop("indexSelect", 1, T.indexSelect, function(g, n)
  local x, dim, idx = n.args[1], n.args[2], n.args[3]
  return lunet.zeros(x:size()):indexAdd_(dim, idx, g)
end)

-- x:gather(dim, idx): each element of g goes back to where it was gathered from.

--- Elements of x picked along dim by idx (of the output's shape).
-- As the tensor method; the gradient goes back in the input's shape. Errors: the tensor method's.
-- @function gather
-- @tparam Node|Tensor x
-- @tparam int dim
-- @tparam Tensor idx int, 1-based
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local picked = logp:gather(2, labels:view(-1, 1))
defop("gather", 1, T.gather, function(g, n)
  local x, dim, idx = n.args[1], n.args[2], n.args[3]
  return lunet.zeros(x:size()):scatterAdd_(dim, idx, g)
end)

-- where(mask, a, b): g goes to a where mask holds, to b elsewhere (summed over broadcasting).

--- a where mask holds, b elsewhere, broadcasting.
-- mask is a constant (a float 0/1 tensor, as the comparisons give); a and b nodes, tensors or
-- numbers. Errors: lunet.where's.
-- @function where
-- @tparam Tensor mask
-- @tparam Node|Tensor|number a
-- @tparam Node|Tensor|number b
-- @treturn Node|Tensor: a node when an input wants a gradient (recording), else a tensor
-- @usage local y = autograd.where(x:gt(0), x, x * 0.1)
defop("where", 3, lunet.where, function(g, n)
  local mask, a, b = n.args[1], n.args[2], n.args[3]
  return false, n.need[2] and sumTo(lunet.where(mask, g, 0), a), n.need[3] and sumTo(lunet.where(mask, 0, g), b)
end)
Node.where = nil

-- ------------------------------------------------------------------------------
-- The nn kernels of lunet.core, one node each, forward and backward in C.

--- A fully connected layer, y = x W^T + b, one node (the kernels of nn.Linear).
-- x (N,in), weight (out,in), bias (out) or nil. Errors: the kernel's (`linear: ...`).
-- @function linear
-- @tparam Node|Tensor x (N,in)
-- @tparam Node|Tensor weight (out,in)
-- @tparam[opt] Node|Tensor bias (out)
-- @treturn Node|Tensor: (N,out)
-- @usage local y = autograd.linear(x, p.weight, p.bias)
-- y = x W^T + b, x (N,in) of any layout (a view is copied once, kept for the backward). The
-- kernels add the parameters' gradients into the parents' own (gradInto).
defop("linear", 3, function(x, w, b)
  x = x:contiguous()
  return core.linear_forward(x, w, b, buffer()), x
end, function(g, n)
  local x, w = n.saved, n.args[2]
  g = g:contiguous()
  local gx = n.need[1] and core.linear_backward_input(g, w, buffer())
  if n.need[2] or n.need[3] then
    core.linear_backward_params(x, g, n.need[2] and gradInto(n, 2) or lunet.zeros(w:size()),
      n.need[3] and gradInto(n, 3) or nil, 1)
  end
  return gx, false, false
end)

-- A number n -> n, n; a pair {a, b} -> a, b.
local function pair(v, default)
  v = v or default
  if type(v) == "table" then return v[1], v[2] end
  return v, v
end

-- The window of a maxpool2d: {sH, sW, pH, pW} from {stride=, padding=}; of a conv2d
-- (`conv`) also dH, dW and groups from {dilation=, groups=}.
local function window(fname, opts, defaultStride, conv)
  opts = check.options(fname, opts, conv and { "dilation", "groups", "padding", "stride" } or { "padding", "stride" }, 4)
  local sH, sW = pair(opts.stride, defaultStride)
  local pH, pW = pair(opts.padding, 0)
  if not conv then return { sH, sW, pH, pW } end
  local dH, dW = pair(opts.dilation, 1)
  return { sH, sW, pH, pW, dH, dW, opts.groups or 1 }
end

--- A 2-D convolution (cross-correlation), one node (the kernels of nn.Conv2d).
-- x (N,C,H,W), weight (outC,C/groups,kH,kW), bias (outC) or nil; opts.stride,
-- opts.padding and opts.dilation are numbers or {h, w} pairs (default 1, 0 and 1), and
-- opts.groups splits the channels into that many independent convolutions (default 1;
-- groups = C is the depthwise convolution). Errors: the kernel's (`conv2d: ...`), and
-- `autograd.conv2d: unknown option ...`.
-- @function conv2d
-- @tparam Node|Tensor x (N,C,H,W)
-- @tparam Node|Tensor weight (outC,C/groups,kH,kW)
-- @tparam[opt] Node|Tensor bias (outC)
-- @tparam[opt] table opts {stride =, padding =, dilation =, groups =}
-- @treturn Node|Tensor: (N,outC,H',W')
-- @usage local y = autograd.conv2d(x, p.w, p.b, {padding = 2})
-- local dw = autograd.conv2d(x, p.dw, nil, {padding = 1, groups = 32})  -- p.dw (32,1,3,3)
-- The convolutions share one workspace (scratch for the length of a kernel call), grown to
-- the largest any of them needs.
defop("conv2d", 3, function(x, w, b, opts)
  local geo = window("autograd.conv2d", opts, 1, true)
  return core.conv2d_forward(x, w, b, buffer(), state.convWorkspace, table.unpack(geo)), geo
end, function(g, n)
  local x, w = n.args[1], n.args[2]
  local geo, ws = n.saved, state.convWorkspace
  g = g:contiguous()
  local gx = n.need[1] and core.conv2d_backward_input(x, g, w, buffer(), ws, table.unpack(geo))
  if n.need[2] or n.need[3] then
    core.conv2d_backward_params(x, g, n.need[2] and gradInto(n, 2) or lunet.zeros(w:size()),
      n.need[3] and gradInto(n, 3) or nil, ws, geo[1], geo[2], geo[3], geo[4], 1, geo[5], geo[6], geo[7])
  end
  return gx, false, false
end)

--- 2-D max pooling, one node (the kernels of nn.MaxPool2d).
-- x (N,C,H,W); k the window (a number or {h, w}); opts.stride (default k) and opts.padding
-- (default 0). The gradient goes to each window's maximum. Errors: the kernel's.
-- @function maxpool2d
-- @tparam Node|Tensor x (N,C,H,W)
-- @tparam int|table k window size
-- @tparam[opt] table opts {stride =, padding =}
-- @treturn Node|Tensor: (N,C,H',W')
-- @usage local y = autograd.maxpool2d(h, 2)
-- maxpool2d(x, k [, {stride = k, padding = 0}]): the switches (argmax) route the gradient.
defop("maxpool2d", 1, function(x, k, opts)
  local kH, kW = pair(k)
  local geo = window("autograd.maxpool2d", opts, k)
  table.insert(geo, 1, kW)
  table.insert(geo, 1, kH)
  local switches = buffer("int")
  local y = core.maxpool2d_forward(x, buffer(), switches, table.unpack(geo))
  return y, { switches = switches, geo = geo }
end, function(g, n)
  return core.maxpool2d_backward(n.args[1], g:contiguous(), n.saved.switches, buffer(), table.unpack(n.saved.geo))
end)

-- Inverted dropout, y = x mask / keep with keep = 1 - p, mask ~ Bernoulli(keep): drops
-- when `training` says so, by default while recording (a grad call, a training
-- nn.Function); otherwise y = x.
local dropout = defop("dropout", 1, function(x, p)
  local keep = 1 - (p or 0.5)
  local mask = buffer("float", x):bernoulli_(keep)
  return core.dropout_forward(x, mask, buffer(), keep), { mask = mask, keep = keep }
end, function(g, n)
  return core.dropout_backward(g:contiguous(), n.saved.mask, buffer(), n.saved.keep)
end)

--- Inverted dropout: y = x mask / (1 - p), mask drawn from lunet's generator.
-- Drops when `training` is true; by default while recording (inside a grad call or a
-- training nn.Function), so that the same model code evaluates without dropping. p = 0 or
-- not training returns x itself. Errors: `autograd.dropout: p must be in [0, 1) ...`.
-- @tparam Node|Tensor x
-- @tparam[opt] number p the probability of dropping, default 0.5
-- @tparam[opt] bool training default autograd.isRecording()
-- @treturn Node|Tensor
-- @usage local h = autograd.dropout(h, 0.5)
function autograd.dropout(x, p, training)
  check.number("autograd.dropout", "p", p or 0.5, 0, 1, 2, "[)")
  if training == nil then training = autograd.isRecording() end
  if not training or p == 0 then return x end
  return dropout(x, p)
end
Node.dropout = autograd.dropout

--- Softmax of each row of an (N,K) tensor, one node.
-- Errors: the kernel's (`softmax: ...`).
-- @function softmax
-- @tparam Node|Tensor x (N,K)
-- @treturn Node|Tensor: (N,K)
-- @usage local p = autograd.softmax(logits)

--- Log-softmax of each row of an (N,K) tensor, one node.
-- Errors: the kernel's.
-- @function logsoftmax
-- @tparam Node|Tensor x (N,K)
-- @treturn Node|Tensor: (N,K)
-- @usage local logp = autograd.logsoftmax(logits)
-- Row-wise over (N, K): the backward takes the forward's output.
for _, name in ipairs({ "softmax", "logsoftmax" }) do
  local fwd, bwd = core[name .. "_forward"], core[name .. "_backward"]
  defop(name, 1, function(x) return fwd(x, buffer()) end,
    function(g, n) return bwd(n.value, g:contiguous(), buffer()) end)
end

--- Mean softmax cross-entropy of (N,K) logits against int labels (1-based), one node.
-- The labels are a constant. Errors: the kernel's (`crossentropy: ...`, a label out of range).
-- @function crossentropy
-- @tparam Node|Tensor logits (N,K)
-- @tparam Tensor labels (N) int
-- @treturn Node|Tensor: a 0-D loss
-- @usage local loss = autograd.crossentropy(autograd.linear(h, p.w, p.b), y)
-- crossentropy(logits, labels): the mean over the rows of -log softmax(logits)[label], a
-- 0-D value; d/dlogits = (softmax - onehot) / N.
defop("crossentropy", 1, function(logits, labels)
  local logp = buffer()
  return lunet.full({}, core.crossentropy_forward(logits, labels, logp)), logp
end, function(g, n)
  return core.crossentropy_backward(n.saved, n.args[2], buffer()):mul_(g:item())
end)

-- ------------------------------------------------------------------------------
-- The recurrent sequences of lunet.core (csrc/kernels/rnn.c), one layer a node: the forward
-- in one call, backpropagation through time in two (the input side, then the parameters),
-- as nn.RNN, nn.LSTM and nn.GRU run them. The positional layout is the kernels':
-- (x, weightIH, weightHH, biasIH, biasHH (GRU), h0, c0 (LSTM)).
local function recurrent(cell)
  local kernel = { forward = core[cell .. "_forward"], input = core[cell .. "_backward_input"],
                   params = core[cell .. "_backward_params"] }
  local lstm = cell == "lstm"
  local function contiguous(t) return t and t:contiguous() end
  return defop(cell, 7, function(x, wIH, wHH, bIH, bHH, h0, c0)
    local saved = { x = x:contiguous(), state = buffer() }
    local cN = lstm and buffer() or nil
    local y = kernel.forward(saved.x, wIH, wHH, bIH, bHH, contiguous(h0), contiguous(c0), buffer(), cN, saved.state)
    return y, saved, cN
  end, function(g, n)
    local wIH, wHH, bIH, bHH = n.args[2], n.args[3], n.args[4], n.args[5]
    local x, need = n.saved.x, n.need
    local gx, gh0, gc0, scratch = need[1] and buffer() or nil, buffer(), lstm and buffer() or nil, buffer()
    kernel.input(x, wIH, wHH, n.saved.state, g:contiguous(), gx, gh0, gc0, scratch)
    if need[2] or need[3] or need[4] or need[5] then
      local function into(i, t) return need[i] and gradInto(n, i) or lunet.zeros(t:size()) end
      kernel.params(x, n.saved.state, scratch, into(2, wIH), into(3, wHH), into(4, bIH), bHH and into(5, bHH), 1)
    end
    return gx, false, false, false, false, need[6] and gh0, need[7] and gc0
  end)
end
local rnnOp, lstmOp, gruOp = recurrent("rnn"), recurrent("lstm"), recurrent("gru")

--- An Elman RNN layer over a whole sequence, h_t = tanh(W_ih x_t + W_hh h_{t-1} + b), as
-- one node (the kernels of nn.RNN).
-- x (N,T,D) batch-first, weightIH (H,D), weightHH (H,H), bias (H), h0 (N,H) or nil
-- (zeros); every one of them may be a node. Wrong shapes raise the kernel's error
-- (`rnn_forward: ...`).
-- @tparam Node|Tensor x the input sequence (N,T,D)
-- @tparam Node|Tensor weightIH (H,D)
-- @tparam Node|Tensor weightHH (H,H)
-- @tparam Node|Tensor bias (H)
-- @tparam[opt] Node|Tensor h0 the initial hidden state (N,H)
-- @treturn Node|Tensor the hidden states (N,T,H) (a tensor when nothing is recorded)
-- @usage local y = autograd.rnn(x, p.wIH, p.wHH, p.b)  -- y:select(2, T) is the last state
function autograd.rnn(x, weightIH, weightHH, bias, h0)
  return (rnnOp(x, weightIH, weightHH, bias, nil, h0, nil))
end

--- An LSTM layer over a whole sequence as one node (the kernels of nn.LSTM; gates i, f, g,
-- o stacked in that order in the weights' rows, one bias as TensorFlow's).
-- x (N,T,D), weightIH (4H,D), weightHH (4H,H), bias (4H), h0 and c0 (N,H) or nil
-- (zeros). The last cell state comes second, a plain tensor: no gradient flows back
-- through it (the gradient reaches c0 through the hidden states).
-- @tparam Node|Tensor x the input sequence (N,T,D)
-- @tparam Node|Tensor weightIH (4H,D)
-- @tparam Node|Tensor weightHH (4H,H)
-- @tparam Node|Tensor bias (4H)
-- @tparam[opt] Node|Tensor h0 the initial hidden state (N,H)
-- @tparam[opt] Node|Tensor c0 the initial cell state (N,H)
-- @treturn Node|Tensor the hidden states (N,T,H)
-- @treturn Tensor the last cell state (N,H)
-- @usage local y, cN = autograd.lstm(x, p.wIH, p.wHH, p.b)
function autograd.lstm(x, weightIH, weightHH, bias, h0, c0)
  return lstmOp(x, weightIH, weightHH, bias, nil, h0, c0)
end

--- A GRU layer over a whole sequence as one node (the kernels of nn.GRU, PyTorch's
-- formulation: n = tanh(W_in x + b_in + r (W_hn h + b_hn))).
-- x (N,T,D), weightIH (3H,D), weightHH (3H,H), biasIH and biasHH (3H), gates r, z, n
-- stacked in that order; h0 (N,H) or nil (zeros).
-- @tparam Node|Tensor x the input sequence (N,T,D)
-- @tparam Node|Tensor weightIH (3H,D)
-- @tparam Node|Tensor weightHH (3H,H)
-- @tparam Node|Tensor biasIH (3H)
-- @tparam Node|Tensor biasHH (3H)
-- @tparam[opt] Node|Tensor h0 the initial hidden state (N,H)
-- @treturn Node|Tensor the hidden states (N,T,H)
-- @usage local y = autograd.gru(x, p.wIH, p.wHH, p.bIH, p.bHH)
function autograd.gru(x, weightIH, weightHH, biasIH, biasHH, h0)
  return (gruOp(x, weightIH, weightHH, biasIH, biasHH, h0, nil))
end
for _, name in ipairs({ "rnn", "lstm", "gru" }) do Node[name] = nil end

-- ------------------------------------------------------------------------------
-- Nodes as tensors: operators, and the questions a tensor answers from its value.

Node.__add = autograd.add
Node.__sub = autograd.sub
Node.__mul = autograd.mul
Node.__div = autograd.div
Node.__pow = autograd.pow
Node.__unm = function(x) return autograd.neg(x) end
Node.__len = function(x) return #x.value end
Node.__tostring = function(x) return "autograd node of " .. tostring(x.value) end

for _, name in ipairs({ "size", "dim", "numel", "shapeString", "dtype", "stride", "isContiguous", "item",
                        "argmax", "argmin", "eq", "ne", "lt", "le", "gt", "ge" }) do
  Node[name] = function(x, ...) return T[name](x.value, ...) end
end

-- tensor (op) node: the tensor's metamethod is the one Lua calls; it hands nodes over.
if not state.tensorOps then
  local Tensor = core.Tensor
  state.tensorOps = true
  for _, mm in ipairs({ "__add", "__sub", "__mul", "__div", "__pow" }) do
    local tensorOp = Tensor[mm]
    Tensor[mm] = function(a, b)
      if isNode(b) then return Node[mm](a, b) end
      return tensorOp(a, b)
    end
  end
end

-- ------------------------------------------------------------------------------
-- Recording.

--- fn(...) with recording off, even on nodes: their values are used, no tape grows.
-- Errors raised by fn pass through (recording is restored first).
-- @tparam function fn
-- @param ... fn's arguments
-- @return fn's values
-- @usage local y = autograd.noGrad(model.fn, params, x)
function autograd.noGrad(fn, ...)
  state.noGradDepth = state.noGradDepth + 1
  local results = table.pack(pcall(fn, ...))
  state.noGradDepth = state.noGradDepth - 1
  if not results[1] then error(results[2], 0) end
  return table.unpack(results, 2, results.n)
end

--- fn(...) recorded on a fresh tape: the building block of autograd.grad and nn.Function.
-- The ops on nodes that want gradients (autograd.leaf) append to the tape; pass it to
-- autograd.backward. Errors raised by fn pass through (the tape is dropped).
-- @tparam function fn
-- @param ... fn's arguments (leaves among them)
-- @treturn table the tape
-- @return fn's values
-- @usage local x = autograd.leaf(t)
-- local tape, y = autograd.record(function(v) return (v * v):sum() end, x)
-- autograd.backward(tape, y, lunet.ones({}))   -- x.grad is 2 t
function autograd.record(fn, ...)
  local tape = {}
  tapes[#tapes + 1] = tape
  local results = table.pack(pcall(fn, ...))
  table.remove(tapes)
  if not results[1] then error(results[2], 0) end
  local arena = state.arena
  if arena then tape.arena, tape.mark = arena, arena.at end
  return tape, table.unpack(results, 2, results.n)
end

-- fn(...) with state.arena = arena (nil: none), put back afterwards, errors included.
local function using(arena, fn, ...)
  local outer = state.arena
  state.arena = arena
  local results = table.pack(pcall(fn, ...))
  state.arena = outer
  if not results[1] then error(results[2], 0) end
  return table.unpack(results, 2, results.n)
end

--- fn(...) with the nn kernels' results and gradients written into the buffers of arena.
-- The k-th kernel result of the call goes into the arena's k-th buffer, resized (a tensor
-- sharing storage with one of `outside` is replaced), so that a call repeated with the same
-- shapes allocates no tensor: nn.Function's buffers, as a module's output and gradInput.
-- Everything computed into the arena by an earlier call is overwritten. A tape recorded
-- inside writes its backward's gradients into the same arena, after the forward's.
-- @tparam table arena from autograd.arena()
-- @tparam {Tensor,...} outside tensors from outside the arena that fn reads (its input)
-- @tparam function fn
-- @param ... fn's arguments
-- @return fn's values
-- @usage local arena = autograd.arena()
-- local y = autograd.withBuffers(arena, {x}, f, x)   -- f's kernel results live in arena
function autograd.withBuffers(arena, outside, fn, ...)
  arena.at, arena.outside = 0, outside
  return using(arena, fn, ...)
end

--- The gradient seed of root (a node of tape) taken back to the leaves, into leaf.grad.
-- Every node of the tape lets go of its value, saved tensors and gradient, and the tape is
-- emptied: nothing outlives the backward but the leaves' gradients. A leaf's grad that is
-- its own tensor (leaf.ownsGrad) is added into in place.
-- @tparam table tape from autograd.record
-- @tparam Node root a node of the tape
-- @tparam Tensor seed d(loss)/d(root), root's shape
-- @usage autograd.backward(tape, out, gradOutput)
function autograd.backward(tape, root, seed)
  local arena = tape.arena
  if arena == nil then return backprop(tape, root, seed) end
  arena.at = tape.mark
  arena.outside[#arena.outside + 1] = seed
  return using(arena, backprop, tape, root, seed)
end

--- An empty set of buffers for autograd.withBuffers.
-- @treturn table
-- @usage self.buffers = autograd.arena()
function autograd.arena() return { at = 0, outside = {} } end

--- A node to differentiate with respect to (or, with needsGrad false, a constant node).
-- Errors: `autograd.leaf: value must be a tensor ...`.
-- @tparam Tensor value
-- @tparam[opt] bool needsGrad default true
-- @treturn Node
-- @usage local w = autograd.leaf(weight)
function autograd.leaf(value, needsGrad)
  check.tensor("autograd.leaf", "value", value)
  return leaf(value, needsGrad ~= false)
end

--- A leaf's gradient after a backward, as a tensor of its own (zeros when nothing reached it).
-- @function leafGrad
-- @tparam Node node a leaf
-- @treturn Tensor shaped as the leaf's value
-- @usage local gw = autograd.leafGrad(w)
autograd.leafGrad = leafGrad

-- params: a tensor -> a leaf node; a table -> a table of the same keys, converted the same.
local function wrap(params)
  if check.isTensor(params) then return leaf(params, true) end
  if type(params) ~= "table" then return params end
  local out = {}
  for k, v in pairs(params) do out[k] = wrap(v) end
  return out
end

local function gradsOf(wrapped)
  if isNode(wrapped) then return leafGrad(wrapped) end
  if type(wrapped) ~= "table" then return nil end
  local out = {}
  for k, v in pairs(wrapped) do out[k] = gradsOf(v) end
  return out
end

local function describe(x)
  if isNode(x) then x = x.value end
  if check.isTensor(x) then return ("a %s tensor"):format(x:shapeString()) end
  return type(x) == "table" and "a table" or tostring(x)
end

--- The gradient function of f: df(params, ...) returns grads shaped like params, then f's values.
-- f(params, ...) returns a scalar first (a node or tensor of one element), then anything.
-- params is a tensor or a nested table of them: inside f they arrive as leaves (nodes),
-- the other arguments as they are (constants). A parameter f does not use gets zeros.
-- Errors: `autograd.grad: f must be a function, got ...`; df raises `autograd.grad: f must
-- return a scalar (a tensor of one element), got ...`.
-- @tparam function f
-- @treturn function df
-- @usage local df = autograd.grad(function(p, x, y)
--   return autograd.crossentropy(autograd.linear(x, p.w, p.b), y)
-- end)
-- local grads, loss = df({w = w, b = b}, x, y)   -- grads.w, grads.b
function autograd.grad(f)
  if type(f) ~= "function" then check.fail(2, "autograd.grad: f must be a function, got %s", type(f)) end
  return function(params, ...)
    local leaves = wrap(params)
    local results = table.pack(autograd.record(f, leaves, ...))
    local tape, loss = results[1], results[2]
    local lossValue = valueOf(loss)
    if not check.isTensor(lossValue) or lossValue:numel() ~= 1 then
      check.fail(2, "autograd.grad: f must return a scalar (a tensor of one element), got %s", describe(loss))
    end
    for i = 2, results.n do results[i] = valueOf(results[i]) end
    if isNode(loss) then autograd.backward(tape, loss, lunet.ones(lossValue:size())) end
    return gradsOf(leaves), table.unpack(results, 2, results.n)
  end
end

-- ------------------------------------------------------------------------------
-- gradcheck

-- Calls fn(path, tensor) on every tensor of a tensor or nested table, in a fixed order.
local function eachTensor(x, fn, path)
  if check.isTensor(x) then return fn(path, x) end
  if type(x) ~= "table" then return end
  local keys = {}
  for k in pairs(x) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do eachTensor(x[k], fn, path .. "." .. tostring(k)) end
end

local function lookup(x, path)
  for k in path:gmatch("[^.]+") do x = x[tonumber(k) or k] end
  return x
end

--- Checks autograd's gradient of f against centered finite differences (a test tool).
-- f(inputs) returns a scalar, as for autograd.grad; every element of every tensor of
-- inputs (contiguous) is moved by +-eps and d f / d element = (f(x + eps) - f(x - eps)) /
-- (2 eps) checked against the gradient: |analytic - numeric| <= atol + rtol |numeric|.
-- The message names the worst element. Errors: `autograd.gradcheck: input .x is not
-- contiguous`, and unknown options.
-- @tparam function f
-- @tparam Tensor|table inputs a tensor or a nested table of them
-- @tparam[opt] table opts {eps = 1e-3, atol = 1e-3, rtol = 1e-2}
-- @treturn bool ok
-- @treturn string the worst element: "input.w element 3: analytic ..., numeric ..."
-- @usage local ok, msg = autograd.gradcheck(function(p) return (p.x * p.x):sum() end, {x = lunet.randn(3)})
function autograd.gradcheck(f, inputs, opts)
  opts = check.options("autograd.gradcheck", opts, { "atol", "eps", "rtol" })
  local eps, atol, rtol = opts.eps or 1e-3, opts.atol or 1e-3, opts.rtol or 1e-2
  local grads = autograd.grad(f)(inputs)
  -- f on plain tensors (no tape); x:sum() gives a number there
  local function value()
    local v = valueOf(f(inputs))
    return type(v) == "number" and v or v:sum()
  end
  local worst, message = -1, "no inputs"
  eachTensor(inputs, function(path, x)
    if not x:isContiguous() then check.fail(4, "autograd.gradcheck: input %s is not contiguous", path) end
    local flat, analytic = x:view(-1), lookup(grads, path):reshape(-1)
    for i = 1, flat:numel() do
      local old = flat[i]
      flat[i] = old + eps
      local xp, fp = flat[i], value()
      flat[i] = old - eps
      local xm, fm = flat[i], value()
      flat[i] = old
      local numeric, a = (fp - fm) / (xp - xm), analytic[i]
      local ratio = math.abs(a - numeric) / (atol + rtol * math.abs(numeric))
      if ratio > worst then
        worst = ratio
        message = ("input%s element %d: analytic %.6g, numeric %.6g"):format(path, i, a, numeric)
      end
    end
  end, "")
  return worst <= 1, message
end

return autograd
