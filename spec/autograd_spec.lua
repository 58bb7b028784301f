-- lunet.autograd: a gradient check for every op, PyTorch parity on fixed cases
-- (spec/fixtures/autograd/torch.lua, written by spec/parity/autograd_torch.py), the tape's
-- memory, nn.Function inside the module machinery, and the issue's examples.
local lunet = require "lunet"
local autograd = require "lunet.autograd"
local nn = lunet.nn
local optim = lunet.optim
local train = lunet.train
local data = lunet.data
local H = require "spec.helper"

-- x moved away from 0 and from +-0.5 (the kinks of relu, abs, clamp, maximum/minimum)
local function jittered(...)
  local x = lunet.randn(...)
  return x + x:gt(0):sub(x:lt(0)):mul(0.1)
end

local function positive(...) return lunet.randn(...):abs():add(0.5) end

-- sum(out * r) with r fixed: every element of out gets its own weight
local function weighted(out, r) return (out * r):sum() end

describe("autograd.gradcheck", function()
  -- The inputs are drawn from a fixed seed: the same cases whatever ran before this file.
  lunet.manualSeed(11)
  -- name -> inputs, f(p) -> out (weighted by a fixed random tensor of its shape)
  local cases = {
    add = {{a = lunet.randn(3, 4), b = lunet.randn(4)}, function(p) return p.a + p.b end},
    add_number = {{a = lunet.randn(3, 4)}, function(p) return 2 + p.a end},
    sub = {{a = lunet.randn(2, 3, 4), b = lunet.randn(3, 1)}, function(p) return p.a - p.b end},
    mul = {{a = lunet.randn(3, 1, 4), b = lunet.randn(2, 4)}, function(p) return p.a * p.b end},
    mul_tensor_first = {{a = lunet.randn(3, 4)}, function(p) return lunet.ones(3, 4):mul(2) * p.a end},
    div = {{a = lunet.randn(3, 4), b = positive(4)}, function(p) return p.a / p.b end},
    pow = {{a = positive(3, 4), b = lunet.randn(4)}, function(p) return p.a ^ p.b + p.a ^ 3 end},
    maximum = {{a = jittered(3, 4), b = lunet.zeros(4)}, function(p) return p.a:maximum(p.b) end},
    minimum = {{a = jittered(3, 4)}, function(p) return p.a:minimum(0) end},
    neg = {{a = lunet.randn(3, 4)}, function(p) return -p.a end},
    exp = {{a = lunet.randn(3, 4)}, function(p) return p.a:exp() end},
    log = {{a = positive(3, 4)}, function(p) return p.a:log() end},
    sqrt = {{a = positive(3, 4)}, function(p) return p.a:sqrt() end},
    tanh = {{a = lunet.randn(3, 4)}, function(p) return p.a:tanh() end},
    sigmoid = {{a = lunet.randn(3, 4)}, function(p) return p.a:sigmoid() end},
    relu = {{a = jittered(3, 4)}, function(p) return p.a:relu() end},
    abs = {{a = jittered(3, 4)}, function(p) return p.a:abs() end},
    clamp = {{a = jittered(3, 4)}, function(p) return p.a:clamp(-0.5, 0.5) end},
    matmul = {{a = lunet.randn(3, 4), b = lunet.randn(4, 2)}, function(p) return p.a:matmul(p.b) end},
    matmul_vectors = {{a = lunet.randn(3, 4), v = lunet.randn(4), u = lunet.randn(3)},
                      function(p) return autograd.matmul(p.u, p.a) * p.a:matmul(p.v):narrow(1, 1, 1) end},
    dot = {{u = lunet.randn(3), v = lunet.randn(3)}, function(p) return autograd.matmul(p.u, p.v) * p.u end},
    bmm = {{a = lunet.randn(2, 3, 4), b = lunet.randn(2, 4, 2)}, function(p) return autograd.bmm(p.a, p.b) end},
    matmul_shared = {{a = lunet.randn(2, 3, 4), b = lunet.randn(4, 2)}, function(p) return p.a:matmul(p.b) end},
    addmm = {{c = lunet.randn(3, 2), a = lunet.randn(3, 4), b = lunet.randn(4, 2)},
             function(p) return p.c:addmm(p.a, p.b, 0.5, 2) end},
    sum = {{a = lunet.randn(3, 4, 2)}, function(p) return p.a:sum(2) + p.a:sum(3, true):sum() end},
    mean = {{a = lunet.randn(3, 4)}, function(p) return p.a:mean(1, true) + p.a:mean() end},
    max = {{a = lunet.randn(3, 4)}, function(p) return p.a:max(2) + p.a:max() end},
    min = {{a = lunet.randn(3, 4)}, function(p) return p.a:min(1, true) + p.a:min() end},
    var = {{a = lunet.randn(3, 4)}, function(p) return p.a:var(2) + p.a:var() end},
    std = {{a = lunet.randn(3, 4)}, function(p) return p.a:std(1, true) + p.a:std() end},
    view = {{a = lunet.randn(3, 4)}, function(p) return p.a:view(2, 6) + p.a:reshape(2, -1) end},
    narrow = {{a = lunet.randn(3, 4)}, function(p) return p.a:narrow(2, 2, 2) end},
    select = {{a = lunet.randn(3, 4)}, function(p) return p.a:select(1, 2) end},
    transpose = {{a = lunet.randn(3, 4)}, function(p) return p.a:t():contiguous() + p.a:transpose(1, 2) end},
    permute = {{a = lunet.randn(2, 3, 4)}, function(p) return p.a:permute(3, 1, 2) end},
    expand = {{a = lunet.randn(3, 1)}, function(p) return p.a:expand(3, 4) end},
    squeeze = {{a = lunet.randn(3, 1)}, function(p) return p.a:squeeze():unsqueeze(1) end},
    index = {{a = lunet.randn(4, 3)}, function(p) return p.a:index(lunet.tensor({2, 4, 2}, "int")) end},
    cat = {{a = lunet.randn(2, 3), b = lunet.randn(1, 3), c = lunet.randn(2, 2)},
           function(p)
             local c = autograd.cat({p.c, p.c:t()}, 1):narrow(1, 1, 3)
             return autograd.cat({autograd.cat({p.a, p.b}), lunet.ones(3, 1), c}, -1)
           end},
    stack = {{a = lunet.randn(2, 3), b = lunet.randn(2, 3)},
             function(p)
               return autograd.cat({autograd.stack({p.a, lunet.zeros(2, 3), p.b}, -1):view(2, 9),
                                    autograd.stack({p.b, p.a}):view(2, 6)}, 2)
             end},
    indexSelect = {{a = lunet.randn(3, 4)}, function(p) return p.a:indexSelect(-1, lunet.tensor({4, 1, 4}, "int")) end},
    gather = {{a = lunet.randn(3, 4)}, function(p) return p.a:gather(2, lunet.tensor({{1, 1}, {4, 2}, {3, 3}}, "int")) end},
    where = {{a = lunet.randn(3, 4), b = lunet.randn(4)}, function(p) return autograd.where(p.b:gt(0), p.a, p.b) end},
    linear = {{x = lunet.randn(5, 4), w = lunet.randn(3, 4), b = lunet.randn(3)},
              function(p) return autograd.linear(p.x, p.w, p.b) end},
    -- w's gradient: first from the product (a shared tensor), then added into by the kernel
    linear_shared = {{x = lunet.randn(5, 4), w = lunet.randn(3, 4)},
                     function(p) return autograd.linear(p.x, p.w) + autograd.linear(p.x * 2, p.w) + (p.w * p.w):sum() end},
    conv2d = {{x = lunet.randn(2, 2, 5, 5), w = lunet.randn(3, 2, 3, 3), b = lunet.randn(3)},
              function(p) return autograd.conv2d(p.x, p.w, p.b, {stride = 2, padding = 1}) end},
    conv2d_groups_dilation = {{x = lunet.randn(2, 4, 6, 5), w = lunet.randn(6, 2, 2, 3), b = lunet.randn(6)},
              function(p) return autograd.conv2d(p.x, p.w, p.b, {padding = {1, 2}, dilation = {2, 1}, groups = 2}) end},
    conv2d_depthwise = {{x = lunet.randn(2, 3, 5, 9), w = lunet.randn(3, 1, 3, 3)},
              function(p) return autograd.conv2d(p.x, p.w, nil, {padding = 1, groups = 3}) end},
    maxpool2d = {{x = lunet.randn(2, 2, 4, 4)}, function(p) return autograd.maxpool2d(p.x, 2) end},
    rnn = {{x = lunet.randn(2, 4, 3), wIH = lunet.randn(3, 3), wHH = lunet.randn(3, 3):mul(0.5), b = lunet.randn(3),
            h0 = lunet.randn(2, 3)},
           function(p) return autograd.rnn(p.x, p.wIH, p.wHH, p.b, p.h0) end},
    lstm = {{x = lunet.randn(2, 4, 3), wIH = lunet.randn(8, 3), wHH = lunet.randn(8, 2), b = lunet.randn(8),
             h0 = lunet.randn(2, 2), c0 = lunet.randn(2, 2)},
            function(p) return autograd.lstm(p.x, p.wIH, p.wHH, p.b, p.h0, p.c0) end},
    gru = {{x = lunet.randn(2, 4, 3), wIH = lunet.randn(6, 3), wHH = lunet.randn(6, 2), bIH = lunet.randn(6),
            bHH = lunet.randn(6), h0 = lunet.randn(2, 2)},
           function(p) return autograd.gru(p.x, p.wIH, p.wHH, p.bIH, p.bHH, p.h0) end},
    softmax = {{x = lunet.randn(3, 4)}, function(p) return autograd.softmax(p.x) end},
    logsoftmax = {{x = lunet.randn(3, 4)}, function(p) return autograd.logsoftmax(p.x) end},
    crossentropy = {{x = lunet.randn(4, 3)},
                    function(p) return autograd.crossentropy(p.x, lunet.tensor({1, 3, 2, 3}, "int")) end},
  }
  local names = {}
  for name in pairs(cases) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    it(name, function()
      lunet.manualSeed(1)
      local inputs, f = cases[name][1], cases[name][2]
      local r = lunet.randn(autograd.value(autograd.noGrad(f, inputs)):size())
      local ok, msg = autograd.gradcheck(function(p) return weighted(f(p), r) end, inputs)
      assert.is_true(ok, msg)
    end)
  end

  it("reports the worst element when a gradient is wrong", function()
    -- a function whose gradient is made wrong: x * x with the second factor a constant
    local ok, msg = autograd.gradcheck(function(p) return (p.x * autograd.value(p.x)):sum() end,
                                       {x = lunet.randn(3)})
    assert.is_false(ok)
    assert.matches("input.x element %d: analytic", msg)
  end)
end)

describe("autograd.grad", function()
  it("returns gradients shaped like params, then f's values", function()
    local df = autograd.grad(function(p, x) local y = p.w[1] * x; return y:sum(), y, 7 end)
    local g, loss, y, seven = df({w = {lunet.full({3}, 2)}}, lunet.tensor({1, 2, 3}))
    assert.same({1, 2, 3}, g.w[1]:totable())
    assert.equal(12, loss:item())
    assert.same({2, 4, 6}, y:totable())
    assert.equal(7, seven)
  end)

  it("gives zeros to an unused parameter and accumulates a parameter used twice", function()
    local g = autograd.grad(function(p) return (p.a * p.a + p.a):sum() end)({a = lunet.tensor({1, 2}), b = lunet.ones(2)})
    assert.same({3, 5}, g.a:totable())
    assert.same({0, 0}, g.b:totable())
  end)

  it("follows control flow (define-by-run)", function()
    local df = autograd.grad(function(x)
      local y = x
      for _ = 1, 3 do if y:sum():item() < 100 then y = y * 3 end end
      return y:sum()
    end)
    assert.same({27, 27}, df(lunet.ones(2)):totable())
  end)

  it("refuses a non-scalar result, naming what came", function()
    local df = autograd.grad(function(x) return x * 2 end)
    assert.has_error(function() df(lunet.zeros(2, 3)) end,
      "autograd.grad: f must return a scalar (a tensor of one element), got a (2,3) tensor")
  end)

  it("frees the tape after the backward", function()
    local saved = setmetatable({}, {__mode = "v"})
    local df = autograd.grad(function(x)
      local h = (x * 2):exp()
      saved[1] = h
      return h:sum()
    end)
    df(lunet.ones(1000))
    collectgarbage()
    collectgarbage()
    assert.is_nil(saved[1])
  end)

  it("records nothing outside a grad call or under noGrad", function()
    assert.is_true(lunet.isTensor((lunet.ones(2) * 2):sigmoid()))
    local inner
    autograd.grad(function(x)
      inner = autograd.noGrad(function() return autograd.isRecording(), x * 2 end)
      return x:sum()
    end)(lunet.ones(2))
    assert.is_false(inner)
  end)

  it("drops with dropout only while recording; its gradient is mask / keep", function()
    lunet.manualSeed(3)
    local x = lunet.ones(1000)
    assert.equal(x, autograd.dropout(x, 0.5))
    local g, _, y = autograd.grad(function(p) local y = autograd.dropout(p, 0.25); return y:sum(), y end)(x)
    assert.is_true(math.abs(y:gt(0):mean() - 0.75) < 0.05)
    assert.same(y:totable(), g:totable())
  end)
end)

describe("autograd recurrent nodes", function()
  -- The same cell as a module and as one node: the same kernels, so the same numbers.
  local function both(cell)
    lunet.manualSeed(3)
    local m, x, g, h0 = nn[cell](3, 4), lunet.randn(2, 5, 3), lunet.randn(2, 5, 4), lunet.randn(2, 4)
    local c0 = cell == "LSTM" and lunet.randn(2, 4) or nil
    m:setInitialState(h0, c0)
    m:zeroGrad()
    local y = m:forward(x)
    local gx = m:backward(x, g)
    local p = {x = x, wIH = m.weightIH1, wHH = m.weightHH1, b = m.bias1 or m.biasIH1, bHH = m.biasHH1, h0 = h0, c0 = c0}
    local grads, _, out, cN = autograd.grad(function(q)
      local out, cN
      if cell == "RNN" then out = autograd.rnn(q.x, q.wIH, q.wHH, q.b, q.h0)
      elseif cell == "LSTM" then out, cN = autograd.lstm(q.x, q.wIH, q.wHH, q.b, q.h0, q.c0)
      else out = autograd.gru(q.x, q.wIH, q.wHH, q.b, q.bHH, q.h0) end
      return (out * g):sum(), out, cN
    end)(p)
    return m, {y = y, gx = gx}, grads, out, cN
  end

  for _, cell in ipairs({"RNN", "LSTM", "GRU"}) do
    it(cell .. " gives the module's output and gradients, to the bit", function()
      local m, ref, grads, out, cN = both(cell)
      assert.equal(0, (out - ref.y):abs():max())
      assert.equal(0, (grads.x - ref.gx):abs():max())
      assert.equal(0, (grads.wIH - m.gradWeightIH1):abs():max())
      assert.equal(0, (grads.wHH - m.gradWeightHH1):abs():max())
      assert.equal(0, (grads.b - (m.gradBias1 or m.gradBiasIH1)):abs():max())
      assert.equal(0, (grads.h0 - m.gradH0):abs():max())
      if cell == "GRU" then assert.equal(0, (grads.bHH - m.gradBiasHH1):abs():max()) end
      if cell == "LSTM" then
        assert.equal(0, (grads.c0 - m.gradC0):abs():max())
        assert.equal(0, (cN - m.cN):abs():max())
      end
    end)
  end

  it("runs on plain tensors outside a grad call, and refuses wrong shapes with the kernel's message", function()
    local x, w = lunet.randn(2, 3, 4), lunet.randn(5, 4)
    assert.is_true(lunet.isTensor(autograd.rnn(x, lunet.randn(5, 4), lunet.randn(5, 5), lunet.zeros(5))))
    assert.has_error(function() autograd.lstm(x, w, lunet.randn(5, 5), lunet.zeros(5)) end,
      "lstm_forward: weight_ih must have 4*H rows (the lstm gates stacked), got (5,4)")
    assert.has_error(function() autograd.gru(x, lunet.randn(6, 3), lunet.randn(6, 2), lunet.zeros(6), lunet.zeros(6)) end)
  end)
end)

describe("PyTorch parity", function()
  local fixture = dofile("spec/fixtures/autograd/torch.lua")

  local function tensorOf(t)
    return lunet.tensor(t.data, t.dtype):view(t.shape)
  end

  -- the same functions as spec/parity/autograd_torch.py's CASES, c.r the output's weights
  local F = {
    add_broadcast = function(p) return p.a + p.b end,
    sub_broadcast = function(p) return p.a - p.b end,
    mul_broadcast = function(p) return p.a * p.b end,
    div = function(p) return p.a / p.b end,
    pow_number = function(p) return p.a ^ 2.5 end,
    pow_tensor = function(p) return p.a ^ p.b end,
    maximum = function(p) return p.a:maximum(p.b) end,
    minimum = function(p) return p.a:minimum(p.b) end,
    matmul_2d = function(p) return p.a:matmul(p.b) end,
    matmul_batched = function(p) return p.a:matmul(p.b) end,
    matmul_batched_shared = function(p) return p.a:matmul(p.b) end,
    matmul_vector = function(p) return p.a:matmul(p.v) end,
    addmm = function(p) return p.c:addmm(p.a, p.b, 0.5, 2) end,
    sum_dim = function(p) return p.a:sum(2, true) * p.a:sum(3):unsqueeze(3) end,
    mean_max_min = function(p) return p.a:mean(1) + p.a:max(1) + p.a:min() end,
    var_std = function(p) return p.a:var(2) + p.a:std() end,
    views = function(p)
      local a = p.a
      return a:transpose(1, 3):reshape(4, 6) + a:permute(3, 1, 2):reshape(4, 6)
        + a:narrow(2, 2, 2):select(1, 2):reshape(1, 8):narrow(2, 1, 6)
        + a:select(1, 2):select(1, 3):unsqueeze(2):expand(4, 6)
    end,
    index = function(p, c) return p.a:index(c.idx) end,
    linear = function(p) return autograd.linear(p.x, p.w, p.b) end,
    conv2d = function(p) return autograd.conv2d(p.x, p.w, p.b, {stride = 2, padding = 1}) end,
    maxpool2d = function(p) return autograd.maxpool2d(p.x, 2) end,
    softmax = function(p) return autograd.softmax(p.x) + autograd.logsoftmax(p.x) end,
    crossentropy = function(p, c) return autograd.crossentropy(p.x, c.y) end,
    small_cnn = function(p, c)
      local h = autograd.maxpool2d(autograd.conv2d(c.x, p.w1, p.b1, {padding = 1}):relu(), 2)
      return autograd.crossentropy(autograd.linear(h:reshape(3, 16), p.w2, p.b2), c.y)
    end,
    -- (1 - eps) nll + eps mean_k(-logp), the formula of label smoothing
    label_smoothing = function(p, c)
      local logp = autograd.logsoftmax(p.x)
      local nll = -(logp:index(lunet.arange(1, 7):int()) * lunet.arange(1, 6):view(1, 5):eq(c.y:view(6, 1)))
        :sum(2):mean()
      return nll * 0.9 + (-logp):mean(2):mean() * 0.1
    end,
    -- the seven unary ops stacked (torch.cat on the Python side): one weight block each
    unary = function(p, c)
      local a = p.a
      local parts = {(-a):exp(), a:abs():log(), (a:abs() + 0.1):sqrt(), a:tanh(), a:sigmoid(), a:relu(),
                     a:clamp(-0.5, 0.5)}
      local total = 0
      for i, part in ipairs(parts) do total = total + weighted(part, c.r:narrow(1, 3 * i - 2, 3)) end
      return total
    end,
  }

  for _, case in ipairs(fixture) do
    it(case.name, function()
      local p, c = {}, {}
      for k, t in pairs(case.params) do p[k] = tensorOf(t) end
      for k, t in pairs(case.consts) do c[k] = tensorOf(t) end
      local f = assert(F[case.name], "no lunet function for the case " .. case.name)
      local g, loss = autograd.grad(function(q)
        local out = f(q, c)
        if c.r and case.name ~= "unary" then return weighted(out, c.r) end
        return out
      end)(p)
      assert.near(case.loss, loss:item(), 1e-5 * math.max(1, math.abs(case.loss)))
      for k, want in pairs(case.grads) do
        local err = H.relerr(g[k], tensorOf(want))
        assert.is_true(err < 1e-5, ("%s: gradient of %s off by %g (relative)"):format(case.name, k, err))
      end
    end)
  end
end)

describe("nn.Function", function()
  -- Swish, x sigmoid(x), and a residual block, relu(conv(x)) + x: forwards only
  local function Swish() return nn.Function(function(_, x) return x * x:sigmoid() end) end
  local function Residual(c)
    local conv = nn.Conv2d(c, c, 3, {padding = 1})
    return nn.Function(function(p, x) return autograd.conv2d(x, p.weight, p.bias, {padding = 1}):relu() + x end,
                       {weight = conv.weight, bias = conv.bias})
  end

  local function cnn()
    return nn.Sequential()
      :add(nn.Conv2d(1, 4, 3, {padding = 1})):add(Swish())
      :add(Residual(4)):add(nn.MaxPool2d(2)):add(nn.Flatten()):add(nn.Linear(4 * 4 * 4, 3))
  end

  -- three classes of 8x8 images: a bright top, left or bottom-right quarter, plus noise
  local function synthetic(n)
    local x, y = lunet.randn(n, 1, 8, 8):mul(0.3), lunet.zeros(n, "int")
    for i = 1, n do
      local k = (i - 1) % 3 + 1
      y[i] = k
      local img = x:select(1, i):select(1, 1)
      if k == 1 then img:narrow(1, 1, 4):add_(1) elseif k == 2 then img:narrow(2, 1, 4):add_(1)
      else img:narrow(1, 5, 4):narrow(2, 5, 4):add_(1) end
    end
    return {inputs = x, labels = y}
  end

  it("has the module's parameters, gradients and summary", function()
    local m = Residual(2)
    local w, g = m:parameters()
    assert.equal(2, #w)
    assert.equal(m.bias, w[1])
    assert.equal(m.gradWeight, g[2])
    assert.equal(2 * 2 * 9 + 2, m:numParameters())
    assert.matches("Function%(bias, weight%)", tostring(nn.Sequential():add(m)))
    assert.equal("bias", m:parameterSlots()[1].name)
  end)

  it("computes the gradients of the same model written with modules", function()
    lunet.manualSeed(2)
    local lin = nn.Linear(4, 3)
    local f = nn.Function(function(p, x) return autograd.linear(x, p.weight, p.bias):sigmoid() end,
                          {weight = lin.weight:clone(), bias = lin.bias:clone()})
    local x, g = lunet.randn(5, 4), lunet.randn(5, 3)
    -- the module path: Linear, then sigmoid's derivative y (1 - y) by hand
    local y = lin:forward(x):sigmoid()
    assert.is_true(H.relerr(f:forward(x), y) < 1e-6)
    f:zeroGrad()
    lin:zeroGrad()
    local gx = f:backward(x, g)
    assert.is_true(H.relerr(gx, lin:backward(x, g * y * (1 - y))) < 1e-6)
    assert.is_true(H.relerr(f.gradWeight, lin.gradWeight) < 1e-6)
    assert.is_true(H.relerr(f.gradBias, lin.gradBias) < 1e-6)
  end)

  -- relu(conv) -> maxpool -> linear -> dropout, by its forward alone
  local function smallNet(drop)
    lunet.manualSeed(6)
    local conv, lin = nn.Conv2d(2, 4, 3, {padding = 1}), nn.Linear(4 * 4 * 4, 5)
    return nn.Function(function(p, x)
      local h = autograd.maxpool2d(autograd.conv2d(x, p.cw, p.cb, {padding = 1}):relu(), 2)
      return autograd.dropout(autograd.linear(h:view(x:size(1), -1), p.lw, p.lb), drop)
    end, {cw = conv.weight, cb = conv.bias, lw = lin.weight, lb = lin.bias})
  end

  it("reuses its buffers: a training step allocates no tensor once the shapes are known", function()
    local m, x, g = smallNet(0.5), lunet.randn(16, 2, 8, 8), lunet.randn(16, 5)
    local function step()
      m:forward(x)
      m:backward(x, g)
    end
    step()
    step()
    collectgarbage()
    collectgarbage("stop")
    local before = collectgarbage("count")
    step()
    local kb = collectgarbage("count") - before
    collectgarbage("restart")
    -- the step's tensors are ~70 kB (conv output alone 16 KB); what is left is the tape's nodes
    assert.is_true(kb < 24, ("a step allocated %.1f kB"):format(kb))
    assert.is_table(m.buffers)
    m:clearState()
    assert.is_nil(m.buffers)
    step()
  end)

  it("adds its parameters' gradients to theirs: two backwards without zeroGrad give twice one", function()
    local m, x, g = smallNet(0), lunet.randn(3, 2, 8, 8), lunet.randn(3, 5)
    m:zeroGrad()
    m:forward(x)
    m:backward(x, g)
    local once = {m.gradCw:clone(), m.gradLw:clone()}
    m:forward(x)
    m:backward(x, g)
    assert.is_true(H.relerr(m.gradCw, once[1] * 2) < 1e-6)
    assert.is_true(H.relerr(m.gradLw, once[2] * 2) < 1e-6)
  end)

  it("given its own output as input, computes fn(fn(x)) (its buffers are not overwritten while read)", function()
    local m = nn.Function(function(_, x) return x:relu() end)
    local x = lunet.randn(4, 3)
    for _, mode in ipairs({"train", "evaluate"}) do
      m[mode](m)
      local once = m:forward(x)
      local twice = m:forward(once)
      assert.is_true(H.relerr(twice, x:relu()) < 1e-7, mode)
    end
  end)

  it("computes no input gradient when needInputGrad is false; asked for one after such a forward, records "
    .. "again with the same dropout mask", function()
    local m = nn.Function(function(_, x) return autograd.dropout(x * x, 0.5) end)
    local x = lunet.randn(2000):add(3)
    m.needInputGrad = false
    m:forward(x)
    assert.is_nil(m:backward(x, lunet.ones(2000)))
    local y = m:forward(x):clone()
    local state = lunet.getRNGState()
    m.needInputGrad = true
    local gx = m:backward(x, lunet.ones(2000))
    -- y = x^2 mask / keep, so d y / d x = 2 x mask / keep = 2 y / x
    assert.is_true(H.relerr(gx, y * 2 / x) < 1e-6)
    assert.equal(state, lunet.getRNGState())
  end)

  it("runs without a tape in evaluate()", function()
    local m = Swish():evaluate()
    local y = m:forward(lunet.ones(2))
    assert.is_true(lunet.isTensor(y))
    assert.is_nil(m.record)
  end)

  it("trains Swish and a residual block in a CNN by train.step", function()
    lunet.manualSeed(4)
    local model, ds = cnn(), synthetic(30)
    local crit, opt = nn.CrossEntropyLoss(), optim.Adam(model, {lr = 0.01})
    local first, last
    for step = 1, 25 do
      local loss = train.step(model, crit, opt, ds.inputs, ds.labels)
      if step == 1 then first = loss end
      last = loss
    end
    assert.is_true(last < 0.5 * first, ("loss %g -> %g"):format(first, last))
  end)

  it("trains inside train.classifier", function()
    lunet.manualSeed(5)
    local model, ds = cnn(), synthetic(60)
    local hist = train.classifier{model = model, criterion = nn.CrossEntropyLoss(),
      optimizer = optim.Adam(model, {lr = 0.01}), loader = data.Loader(ds, {batchSize = 10, seed = 1}),
      iterations = 40, evalEvery = 20, test = ds, progressOut = io.open("/dev/null", "w")}
    assert.is_true(hist.train_loss[2] < hist.train_loss[1])
    assert.is_true(hist.final.test_acc > 0.8, "test accuracy " .. hist.final.test_acc)
  end)
end)

describe("autograd examples", function()
  -- focal loss, mean over rows of -(1 - p_y)^gamma log p_y, by its formula
  local function focal(logits, labels, gamma)
    local logp = autograd.logsoftmax(logits)
    local onehot = lunet.arange(1, logits:size(2) + 1):view(1, -1):eq(labels:view(-1, 1))
    local logpy = (logp * onehot):sum(2)
    return (-(1 - logpy:exp()) ^ gamma * logpy):mean()
  end

  it("a focal loss from its formula matches a hand computation", function()
    local logits, labels = lunet.tensor({{1, 2, 0}, {0.5, -1, 2}}), lunet.tensor({2, 1}, "int")
    local g, loss = autograd.grad(function(x) return focal(x, labels, 2) end)(logits)
    -- by hand: p_y = softmax(row)[label]
    local want = 0
    for i, row in ipairs(logits:totable()) do
      local z = 0
      for _, v in ipairs(row) do z = z + math.exp(v) end
      local py = math.exp(row[labels[i]]) / z
      want = want - (1 - py) ^ 2 * math.log(py) / 2
    end
    assert.near(want, loss:item(), 1e-6)
    assert.is_true(autograd.gradcheck(function(x) return focal(x, labels, 2) end, logits:clone()))
    assert.equal(2, g:dim())
  end)

  it("trains an MLP with the functional form and a hand-written SGD loop", function()
    lunet.manualSeed(6)
    local x = lunet.randn(64, 2)
    local y = (x:select(2, 1) * x:select(2, 2)):gt(0):add(1):int()   -- XOR of the signs
    local params = {w1 = lunet.randn(16, 2):mul(0.5), b1 = lunet.zeros(16),
                    w2 = lunet.randn(2, 16):mul(0.5), b2 = lunet.zeros(2)}
    local function loss(p, xb, yb)
      local h = autograd.linear(xb, p.w1, p.b1):tanh()
      return autograd.crossentropy(autograd.linear(h, p.w2, p.b2), yb)
    end
    local df = autograd.grad(loss)
    local first
    for _ = 1, 300 do
      local grads, l = df(params, x, y)
      first = first or l:item()
      for k, w in pairs(params) do w:sub_(grads[k] * 0.5) end
    end
    assert.is_true(loss(params, x, y):item() < 0.3 * first)
  end)
end)
