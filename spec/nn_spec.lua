-- lunet.nn: the module protocol, Sequential, each layer, the loss, the initializers,
-- a whole network's gradients against finite differences, and a short training run.
local lunet = require "lunet"
local H = require "spec.helper"
local nn = require "lunet.nn"

-- A small network of every kind of layer: (N,1,6,6) -> 3 classes.
local function smallNet()
  return nn.Sequential()
    :add(nn.Conv2d(1, 2, 3, { padding = "same" }), "conv1")
    :add(nn.ReLU(), "relu1")
    :add(nn.MaxPool2d(2), "pool1")
    :add(nn.Flatten())
    :add(nn.Linear(18, 3), "fc")
end

describe("nn.Module protocol", function()
  before_each(function() lunet.manualSeed(1) end)

  it("forward sets output; backward sets gradInput and accumulates parameter gradients", function()
    local m = nn.Linear(4, 2)
    local x, g = lunet.randn(3, 4), lunet.randn(3, 2)
    assert.equal(m.output, m:forward(x))
    assert.equal(x, m.input)
    m:zeroGrad()
    assert.equal(m.gradInput, m:backward(x, g))
    local once = m.gradWeight:clone()
    m:backward(x, g)
    assert.is_true(H.relerr(m.gradWeight, once:mul(2)) < 1e-6)
    m:zeroGrad()
    assert.equal(0, m.gradWeight:abs():sum())
    assert.equal(0, m.gradBias:abs():sum())
  end)

  it("parameters() lists weights and their gradients in order, children first", function()
    local net = smallNet()
    local ws, gs = net:parameters()
    assert.equal(4, #ws)
    assert.equal(net:get(1).weight, ws[1])
    assert.equal(net:get(1).gradBias, gs[2])
    assert.equal(net:find("fc").weight, ws[3])
    assert.equal(2 * 9 + 2 + 18 * 3 + 3, net:numParameters())
    assert.same({}, (nn.ReLU():parameters()))
  end)

  it("train() and evaluate() reach every module", function()
    local net = smallNet():add(nn.Dropout(0.5))
    net:evaluate()
    for _, m in ipairs(net.modules) do assert.is_false(m.training) end
    net:train()
    for _, m in ipairs(net.modules) do assert.is_true(m.training) end
  end)

  it("nn.class makes subclasses that inherit the protocol and __tostring", function()
    local Scale = nn.class("Scale", nn.Module)
    Scale.paramNames = { "factor" }
    function Scale:__init(v)
      nn.Module.__init(self)
      self.factor = lunet.tensor{ v }
      self.gradFactor = lunet.zeros(1)
    end
    function Scale:updateOutput(x) self.output = x:mul(self.factor:item()); return self.output end
    local s = Scale(3)
    assert.is_true(nn.isModule(s))
    assert.is_false(nn.isModule({}))
    assert.equal("Scale", tostring(s))
    assert.same({ 3, 6 }, s:forward(lunet.tensor{ 1, 2 }):totable())
    local ws, gs = s:parameters()
    assert.equal(s.factor, ws[1])
    assert.equal(s.gradFactor, gs[1])
    assert.has_error(function() s:updateGradInput(lunet.zeros(1), lunet.zeros(1)) end,
      "Scale:updateGradInput is not implemented")
  end)
end)

describe("nn.Sequential", function()
  before_each(function() lunet.manualSeed(2) end)

  it("adds, gets by index (negative from the end) and finds by name", function()
    local net = smallNet()
    assert.equal(5, net:size())
    assert.equal("ReLU", tostring(net:get(2)))
    assert.equal(net:get(5), net:get(-1))
    assert.equal(net:get(1), net:find("conv1"))
    assert.equal(net:get(3), net.byName.pool1)
    assert.is_nil(net.byName.nothing)
  end)

  it("rejects bad arguments with clear messages", function()
    local net = smallNet()
    assert.has_error(function() net:add(42) end, "Sequential:add: argument #1 must be an nn module, got number")
    assert.has_error(function() net:add(nn.ReLU) end,
      "Sequential:add: argument #1 must be an nn module, got the class nn.ReLU (call it: nn.ReLU())")
    assert.has_error(function() net:add(nn.ReLU(), "conv1") end, "Sequential:add: a module named 'conv1' already exists")
    assert.has_error(function() net:get(6) end, "Sequential:get: index 6 out of range (the model has 5 modules)")
    assert.has_error(function() net:get(1.5) end, "Sequential:get: index must be an integer, got 1.5")
    assert.has_error(function() net:find("conv9") end,
      "Sequential:find: no module named 'conv9' (names: conv1, fc, pool1, relu1)")
  end)

  it("keeps every layer's output reachable, and the ReLU's pre-activation", function()
    local net = smallNet()
    local x = lunet.randn(2, 1, 6, 6)
    local y = net:forward(x)
    assert.same({ 2, 3 }, y:size())
    assert.same({ 2, 2, 6, 6 }, net:find("conv1").output:size())
    assert.equal(net:find("conv1").output, net:find("relu1").preact)
    assert.same({ 2, 2, 3, 3 }, net:find("pool1").output:size())
    assert.same({ 2, 18 }, net:get(4).output:size())
  end)

  it("prints layers, names, output shapes of the last forward and parameter counts", function()
    local net = smallNet()
    local before = tostring(net)
    assert.matches("Sequential (5 modules)", before, 1, true)
    assert.matches("(1)  conv1  Conv2d(1 -> 2, 3x3, stride 1, padding 'same' = 1)", before, 1, true)
    assert.matches("total parameters: 77", before, 1, true)
    net:forward(lunet.randn(2, 1, 6, 6))
    local after = tostring(net)
    assert.matches("(2,2,6,6)", after, 1, true)
    assert.matches("%(5%)  fc     Linear%(18 %-> 3%)%s+%(2,3%)%s+57\n", after)
    assert.matches("%(2%)  relu1  ReLU%s+%(2,2,6,6%)%s+0\n", after)
  end)
end)

describe("nn layers", function()
  before_each(function() lunet.manualSeed(3) end)

  it("Conv2d: 'same' keeps the size; explicit stride and padding; no bias", function()
    local c = nn.Conv2d(3, 4, 5, { padding = "same" })
    assert.same({ 2, 4, 9, 7 }, c:forward(lunet.randn(2, 3, 9, 7)):size())
    c = nn.Conv2d(3, 4, { 3, 2 }, { stride = 2, padding = { 1, 0 }, bias = false })
    assert.is_nil(c.bias)
    assert.same({ 2, 4, 5, 3 }, c:forward(lunet.randn(2, 3, 9, 7)):size())
    assert.equal("Conv2d(3 -> 4, 3x2, stride 2, padding 1x0, no bias)", tostring(c))
    assert.equal(1, #c:parameters())
  end)

  it("Conv2d: rejects bad construction and mismatched input", function()
    assert.has_error(function() nn.Conv2d(3, 4, 4, { padding = "same" }) end,
      "Conv2d: padding 'same' needs an odd kernel and stride 1, got kernel 4x4, stride 1; give the padding as a number")
    assert.has_error(function() nn.Conv2d(0, 4, 3) end, "Conv2d: channel counts must be positive integers, got 0 and 4")
    assert.has_error(function() nn.Conv2d(3, 4, "x") end,
      "Conv2d: kernel size must be an integer or a pair {h, w} of integers, got x")
    local c = nn.Conv2d(3, 4, 3)
    assert.has_error(function() c:forward(lunet.randn(2, 2, 9, 9)) end,
      "conv2d: weight expects 3 input channels, the input has 2")
    assert.has_error(function() c:forward(lunet.randn(3, 9, 9)) end,
      "conv2d: input must be 4-D (N,C,H,W), got 3-D (3,9,9)")
    assert.has_error(function() c:forward("x") end, "Conv2d: input must be a tensor, got string")
  end)

  it("MaxPool2d: shapes, switches, and unpool through them", function()
    local p = nn.MaxPool2d(2)
    local x = lunet.randn(2, 3, 6, 4)
    local y = p:forward(x)
    assert.same({ 2, 3, 3, 2 }, y:size())
    assert.equal("int", p.switches:dtype())
    local up = p:unpool(y)
    assert.same(x:size(), up:size())
    -- every pooled maximum sits at its place, the rest is zero
    assert.near(y:sum(), up:sum(), 1e-4)
    assert.equal(36, p:unpool(lunet.ones(2, 3, 3, 2)):sum())
    assert.equal(x:size(1) * 3 * 6 * 4 - 36, up:eq(0):float():sum())
    assert.has_error(function() nn.MaxPool2d(2).unpool(nn.MaxPool2d(2), y) end,
      "MaxPool2d:unpool: no forward has run yet (the switches come from it)")
    assert.has_error(function() nn.MaxPool2d(2, 2, 2) end,
      "MaxPool2d: padding must be between 0 and half the kernel, got 2 for kernel 2x2")
    assert.equal("MaxPool2d(3x3, stride 2, padding 1)", tostring(nn.MaxPool2d(3, 2, 1)))
  end)

  it("every module keeps its buffers between calls", function()
    local net = smallNet():add(nn.Dropout(0.5)):add(nn.LogSoftmax())
    local x, g = lunet.randn(4, 1, 6, 6), lunet.randn(4, 3)
    net:forward(x)
    net:backward(x, g)
    local outs, grads = {}, {}
    for i, m in ipairs(net.modules) do outs[i], grads[i] = m.output, m.gradInput end
    net:forward(x)
    net:backward(x, g)
    for i, m in ipairs(net.modules) do
      if m.typename ~= "Flatten" then -- a Flatten's output is a fresh view of its input
        assert.equal(outs[i], m.output, "output of module " .. i)
        assert.equal(grads[i], m.gradInput, "gradInput of module " .. i)
      end
    end
  end)

  it("every module rejects input that is not a tensor or has the wrong rank", function()
    for _, m in ipairs({ nn.Conv2d(1, 1, 1), nn.MaxPool2d(2), nn.ReLU(), nn.Linear(2, 2), nn.Dropout(0.5),
                         nn.Flatten(), nn.Softmax(), nn.LogSoftmax() }) do
      assert.has_error(function() m:forward({}) end, m.typename .. ": input must be a tensor, got table")
    end
    assert.has_error(function() nn.MaxPool2d(2):forward(lunet.randn(4, 4)) end,
      "maxpool2d: input must be 4-D (N,C,H,W), got 2-D (4,4)")
    assert.has_error(function() nn.Softmax():forward(lunet.randn(2, 3, 4)) end,
      "softmax: input must be 2-D (N,K), got 3-D (2,3,4)")
    assert.has_error(function() nn.LogSoftmax():forward(lunet.randn(2, 3, 4)) end,
      "logsoftmax: input must be 2-D (N,K), got 3-D (2,3,4)")
    assert.has_error(function() nn.Flatten():forward(lunet.tensor(3)) end,
      "Flatten: input must have a batch dimension, got a scalar")
  end)

  it("Linear: rejects input of the wrong width", function()
    local l = nn.Linear(4, 2)
    assert.has_error(function() l:forward(lunet.randn(3, 5)) end, "linear: weight expects 4 input features, the input has 5")
    assert.has_error(function() nn.Linear(4, 0) end, "Linear: feature counts must be positive integers, got 4 and 0")
  end)

  it("Dropout: p drops, keep keeps; seeded; identity in evaluation; gradient through the mask", function()
    assert.equal(0.25, nn.Dropout(0.75).keep)
    assert.equal(0.75, nn.Dropout{ keep = 0.75 }.keep)
    assert.equal(0.5, nn.Dropout().keep)
    assert.has_error(function() nn.Dropout(1) end,
      "Dropout: p (drop probability) must be in [0,1) and keep in (0,1], got 1")
    assert.has_error(function() nn.Dropout{ p = 0.5, keep = 0.5 } end, "Dropout: give either p or keep, not both")
    local d = nn.Dropout{ keep = 0.5 }
    local x = lunet.ones(100, 50)
    lunet.manualSeed(42)
    local y1 = d:forward(x):clone()
    lunet.manualSeed(42)
    local y2 = d:forward(x):clone()
    assert.equal(0, (y1 - y2):abs():sum())
    local kept = y1:gt(0):float():mean()
    assert.is_true(math.abs(kept - 0.5) < 0.03)
    assert.is_true(math.abs(y1:mean() - 1) < 0.06) -- inverted scaling keeps the expectation
    local g = d:backward(x, lunet.ones(100, 50))
    assert.equal(0, (g - y1):abs():sum())
    d:evaluate()
    assert.equal(x, d:forward(x))
    local go = lunet.ones(100, 50)
    assert.equal(go, d:backward(x, go))
  end)

  it("Flatten, Softmax and LogSoftmax", function()
    local f = nn.Flatten()
    local x = lunet.randn(2, 3, 4)
    assert.same({ 2, 12 }, f:forward(x):size())
    assert.same({ 2, 3, 4 }, f:backward(x, lunet.randn(2, 12)):size())
    local s, ls = nn.Softmax(), nn.LogSoftmax()
    local z = lunet.randn(3, 5)
    assert.is_true(H.relerr(s:forward(z):sum(2), lunet.ones(3, 1)) < 1e-6)
    assert.is_true(H.relerr(ls:forward(z):exp(), s.output) < 1e-6)
    local r = lunet.randn(3, 5)
    local gs = s:backward(z, r):clone()
    assert.is_true(H.relerr(gs, H.numgrad(function() return nn.Softmax():forward(z):mul(r):sum() end, z, 1e-2)) < 1e-2)
  end)

  it("CrossEntropyLoss: a number forward, a gradient backward, checked labels", function()
    local crit = nn.CrossEntropyLoss()
    local x, labels = lunet.randn(4, 3), lunet.tensor{ 3, 1, 2, 3 }:int()
    local loss = crit:forward(x, labels)
    assert.equal("number", type(loss))
    assert.equal(loss, crit.output)
    local g = crit:backward(x, labels)
    assert.is_true(H.relerr(g, H.numgrad(function() return crit:forward(x, labels) end, x, 1e-2)) < 1e-2)
    assert.has_error(function() crit:forward(x, lunet.tensor{ 3, 1, 2, 4 }:int()) end,
      "crossentropy: label 4 at position 4 is out of range 1..3")
    assert.has_error(function() crit:forward(x, { 1, 2, 3, 1 }) end,
      "CrossEntropyLoss: labels must be a tensor of class numbers 1..K, got table")
    assert.has_error(function() nn.CrossEntropyLoss():backward(x, labels) end,
      "CrossEntropyLoss:backward: call forward(logits, labels) on the same logits first")
  end)
end)

describe("nn.init", function()
  before_each(function() lunet.manualSeed(4) end)

  it("truncated normal stays within two standard deviations", function()
    local t = nn.init.truncnormal(lunet.zeros(2000), 0.1)
    assert.is_true(t:abs():max() <= 0.2)
    assert.is_true(math.abs(t:std() - 0.088) < 0.01) -- std of N(0,1) cut at 2: 0.88
  end)

  it("constant, uniform, xavier and kaiming", function()
    assert.equal(1.5, nn.init.constant(lunet.zeros(3), 0.5):sum())
    local u = nn.init.uniform(lunet.zeros(1000), -2, 3)
    assert.is_true(u:min() >= -2 and u:max() < 3)
    local w = nn.init.xavier(lunet.zeros(30, 20, 3, 3))
    local a = math.sqrt(6 / (20 * 9 + 30 * 9))
    assert.is_true(w:abs():max() <= a and w:abs():max() > 0.9 * a)
    local k = nn.init.kaiming(lunet.zeros(200, 100))
    assert.is_true(math.abs(k:std() - math.sqrt(2 / 100)) < 0.01)
    assert.has_error(function() nn.init.xavier(lunet.zeros(5)) end,
      "nn.init.xavier: needs a weight of at least 2 dimensions (out, in, ...), got 1-D")
    assert.has_error(function() nn.init.constant(5, 1) end, "nn.init.constant: argument #1 must be a tensor, got number")
  end)

  it("model:init('course') sets weights truncated normal 0.1 and biases 0.1", function()
    local net = smallNet():init("course")
    for _, m in ipairs({ net:find("conv1"), net:find("fc") }) do
      assert.is_true(m.weight:abs():max() <= 0.2)
      assert.is_true(m.weight:abs():max() > 0.05)
      assert.near(0.1 * m.bias:numel(), m.bias:sum(), 1e-6)
    end
    nn.init.course(net)
    assert.has_error(function() net:init("nope") end,
      "init: unknown scheme 'nope' (known: course, default, kaiming, xavier)")
    net:init("xavier")
    assert.equal(0, net:find("fc").bias:abs():sum())
    local seen = 0
    net:init(function(m) if m.weight then seen = seen + 1 end end)
    assert.equal(2, seen)
  end)
end)

describe("a whole network", function()
  -- How far the network is from a kink of its piecewise-linear parts: the smallest
  -- |pre-activation| of the ReLU and, in each pooling window whose maximum is positive,
  -- the gap between its two largest values. Finite differences are only meaningful
  -- when a step cannot cross a kink.
  local function kinkMargin(net)
    local margin = net:find("relu1").preact:abs():min()
    local r = net:find("relu1").output
    for n = 1, r:size(1) do
      for c = 1, r:size(2) do
        for y = 1, r:size(3), 2 do
          for x = 1, r:size(4), 2 do
            local v = r:select(1, n):select(1, c):narrow(1, y, 2):narrow(2, x, 2):contiguous():view(-1):totable()
            table.sort(v)
            if v[4] > 0 then margin = math.min(margin, v[4] - v[3]) end
          end
        end
      end
    end
    return margin
  end

  it("has gradients matching finite differences for the input and every parameter", function()
    local net, x
    local crit = nn.CrossEntropyLoss()
    local labels = lunet.tensor{ 2, 3 }:int()
    for seed = 1, 100 do -- the first seed whose network lies well away from every kink
      lunet.manualSeed(seed)
      net, x = smallNet(), lunet.randn(2, 1, 6, 6)
      net:forward(x)
      if kinkMargin(net) > 0.02 then break end
    end
    assert.is_true(kinkMargin(net) > 0.02)
    local function f() return crit:forward(net:forward(x), labels) end
    f()
    net:zeroGrad()
    local gx = net:backward(x, crit:backward(net.output, labels)):clone()
    assert.is_true(H.relerr(gx, H.numgrad(f, x, 1e-3)) < 1e-2)
    local ws, gs = net:parameters()
    for i, w in ipairs(ws) do
      assert.is_true(H.relerr(gs[i], H.numgrad(f, w, 1e-3)) < 1e-2, "parameter " .. i)
    end
  end)

  it("learns a small synthetic task (vertical vs horizontal bars) with plain SGD", function()
    lunet.manualSeed(6)
    local n = 32
    local x, labels = lunet.zeros(n, 1, 6, 6), lunet.zeros(n, "int")
    for i = 1, n do
      local cls, pos = (i % 2) + 1, (i * 7) % 6 + 1
      local img = x:select(1, i):select(1, 1)
      for k = 1, 6 do
        if cls == 1 then img[pos][k] = 1 else img[k][pos] = 1 end
      end
      labels[i] = cls
    end
    local net = nn.Sequential()
      :add(nn.Conv2d(1, 4, 3, { padding = 1 })):add(nn.ReLU()):add(nn.MaxPool2d(2))
      :add(nn.Flatten()):add(nn.Linear(36, 2))
    local crit = nn.CrossEntropyLoss()
    local ws, gs = net:parameters()
    local first, loss
    for step = 1, 60 do
      net:zeroGrad()
      loss = crit:forward(net:forward(x), labels)
      first = first or loss
      net:backward(x, crit:backward(net.output, labels))
      for i, w in ipairs(ws) do w:sub_(gs[i]:mul(0.5)) end
    end
    assert.is_true(loss < first / 4, ("loss %g -> %g"):format(first, loss))
    local pred = net:forward(x):argmax(2):view(-1)
    local correct = 0
    for i = 1, n do if pred[i] == labels[i] then correct = correct + 1 end end
    assert.is_true(correct / n > 0.9)
  end)
end)

describe("Flatten and SelectTime shapes", function()
  it("Flatten takes a non-contiguous input and checks gradOutput", function()
    local f = nn.Flatten()
    local x = lunet.randn(3, 4, 5):transpose(2, 3)
    local y = f:forward(x)
    assert.same({3, 20}, y:size())
    assert.same(x:contiguous():view(3, 20):totable(), y:totable())
    assert.same({3, 5, 4}, f:backward(x, lunet.ones(3, 20)):size())
    assert.has_error(function() f:backward(x, lunet.ones(20, 3)) end,
      "Flatten: gradOutput (20,3) does not match the output (3,20)")
  end)
  it("LastStep refuses a transposed gradOutput", function()
    local s = nn.LastStep()
    local x = lunet.randn(2, 3, 4)
    s:forward(x)
    assert.has_error(function() s:backward(x, lunet.ones(4, 2)) end,
      "LastStep: gradOutput must be (2,4) like the output, got (4,2)")
  end)
end)

describe("custom containers", function()
  it("a Sequential subclass that changes only the forward is refused when made", function()
    local Res = nn.class("ResSkip", nn.Sequential)
    function Res:updateOutput(x)
      self.output = self.modules[1]:forward(x) + x
      return self.output
    end
    assert.error_matches(function() return Res() end,
      "nn.ResSkip overrides updateOutput but not updateGradInput and accGradParameters %(or backward%)")
  end)

  it("a Sequential subclass with its own forward and backward works", function()
    local Res = nn.class("ResFull", nn.Sequential)
    function Res:updateOutput(x)
      self.output = self.modules[1]:forward(x) + x
      return self.output
    end
    function Res:updateGradInput(x, g)
      self.gradInput = self.modules[1]:updateGradInput(x, g) + g
      return self.gradInput
    end
    function Res:accGradParameters(x, g) self.modules[1]:accGradParameters(x, g) end
    local r = Res():add(nn.Linear(3, 3))
    local x = lunet.randn(2, 3)
    r:forward(x)
    local gi = r:backward(x, lunet.ones(2, 3))
    local expected = lunet.ones(2, 3):matmul(r.modules[1].weight) + 1
    assert.is_true((gi - expected):abs():max() < 1e-6)
    assert.is_true(r.modules[1].gradBias:sum() == 6)
  end)

  it("a container that leaves its children's parameter gradients out is refused at the backward", function()
    local Box = nn.class("BoxNoAcc", nn.Module)
    function Box:__init()
      nn.Module.__init(self)
      self.modules = { nn.Linear(3, 3) }
    end
    function Box:updateOutput(x)
      self.output = self.modules[1]:forward(x)
      return self.output
    end
    function Box:updateGradInput(x, g)
      self.gradInput = self.modules[1]:updateGradInput(x, g)
      return self.gradInput
    end
    local b, x = Box(), lunet.randn(2, 3)
    b:forward(x)
    assert.error_matches(function() b:backward(x, lunet.ones(2, 3)) end,
      "BoxNoAcc:accGradParameters is not implemented: a container must pass its children their gradients")
  end)
end)
