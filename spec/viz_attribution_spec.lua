-- lunet.viz.attribute: saliency, guided backpropagation, deconvnet, integrated gradients and
-- Grad-CAM from a class score (or any unit) through the whole model, on tiny networks whose
-- weights are set by hand and whose attributions are worked out by hand below, or checked
-- by an independent route (finite differences of the score, computed with forwards only);
-- and the error messages.
local lunet = require "lunet"
local H = require "spec.helper"
local nn = require "lunet.nn"
local viz = require "lunet.viz"
local image = require "lunet.image"

-- expected: a nested Lua table or a tensor; exact up to float rounding.
local function near(expected, got, tol)
  local e = lunet.isTensor(expected) and expected or lunet.tensor(expected)
  assert.same(e:size(), got:size())
  local err = (e - got):abs():max()
  assert.is_true(err <= (tol or 1e-5), ("max |difference| %g\nexpected\n%s\ngot\n%s"):format(err,
    tostring(e), tostring(got)))
end

local function linear(inF, outF, w, b)
  local m = nn.Linear(inF, outF)
  m.weight:copy(lunet.tensor(w))
  m.bias:copy(lunet.tensor(b or lunet.zeros(outF):totable()))
  return m
end

-- The score of unit `unit` of module k's output for each image of x, the model in evaluation
-- mode: forwards only (the independent route the gradients are checked against).
local function scoreFn(model, k, x, i, unit)
  return function()
    model:evaluate()
    local out = x
    for j = 1, k do out = model.modules[j]:forward(out) end
    local v = out[i]:view(-1)
    return v[unit]
  end
end

-- Flatten -> fc (4 -> 2), on one 1×2×2 image x = [1 2; 3 4]:
--   W = [1 -2 0 3; 0.5 1 -1 0], b = (0.1, -0.2); scores (9.1, -0.7): class 1 predicted.
-- Linear, so every method's signal at the input is the class's row of W.
local function linearNet()
  return nn.Sequential():add(nn.Flatten(), "flatten")
    :add(linear(4, 2, {{1, -2, 0, 3}, {0.5, 1, -1, 0}}, {0.1, -0.2}), "fc")
end
local X1 = {{{{1, 2}, {3, 4}}}}

-- Flatten -> fc1 (2 -> 4) -> ReLU -> Dropout -> fc2 (4 -> 1), on the 1×1×2 image x = (1, 2):
--   fc1's rows (1,0), (0,1), (-1,0), (0,-1): pre-activations z = (1, 2, -1, -2);
--   fc2 = (2, -3, 4, -5): the signal on the ReLU's output g = (2, -3, 4, -5), one unit of each
--   kind: (z > 0, g > 0), (z > 0, g < 0), (z < 0, g > 0), (z < 0, g < 0).
--   saliency:  g where z > 0        = (2, -3, 0, 0) -> W1ᵀ· = (2, -3), its magnitude (2, 3)
--   guided:    relu(g) where z > 0  = (2, 0, 0, 0)  -> (2, 0)
--   deconvnet: relu(g)              = (2, 0, 4, 0)  -> 2·(1,0) + 4·(-1,0) = (-2, 0)
local function gateNet()
  return nn.Sequential():add(nn.Flatten(), "flatten")
    :add(linear(2, 4, {{1, 0}, {0, 1}, {-1, 0}, {0, -1}}), "fc1")
    :add(nn.ReLU(), "relu"):add(nn.Dropout(0.5), "dropout")
    :add(linear(4, 1, {{2, -3, 4, -5}}), "fc2")
end
local X2 = {{{{1, 2}}}}

-- conv (1x1, two maps: x and -x, no bias) -> ReLU -> max-pool 2 -> Flatten -> fc (8 -> 2):
--   class 1 sums the pooled map 1 (the bright parts), class 2 the pooled map 2 (the dark ones).
-- The 4×4 image: 0 but a bright pixel 1 at (2,3) and a dark one -2 at (4,1):
--   relu map 1 = 1 at (2,3), map 2 = 2 at (4,1); pooled: map 1 [0 1; 0 0], map 2 [0 0; 2 0].
local function camNet()
  local c = nn.Conv2d(1, 2, 1, {bias = false})
  c.weight:copy(lunet.tensor{{{{1}}}, {{{-1}}}})
  return nn.Sequential():add(c, "conv"):add(nn.ReLU(), "relu"):add(nn.MaxPool2d(2), "pool")
    :add(nn.Flatten(), "flatten")
    :add(linear(8, 2, {{1, 1, 1, 1, 0, 0, 0, 0}, {0, 0, 0, 0, 1, 1, 1, 1}}), "fc")
end
local function camImage()
  local x = lunet.zeros(1, 1, 4, 4)
  x[1][1][2][3] = 1
  x[1][1][4][1] = -2
  return x
end

describe("viz.attribute on hand-worked networks", function()
  it("of a linear model: every method's signal is the class's weights", function()
    local net, x = linearNet(), lunet.tensor(X1)
    local s, info = viz.attribute(net, x, {method = "saliency"})
    assert.equal(1, info[1].target) -- the predicted class
    assert.near(9.1, info[1].score, 1e-5)
    near({{{{1, 2}, {0, 3}}}}, s)
    near({{{{0.5, 1}, {-1, 0}}}}, (viz.attribute(net, x, {method = "guided", target = 2})))
    near({{{{0.5, 1}, {-1, 0}}}}, (viz.attribute(net, x, {method = "deconvnet", target = 2})))
    -- integrated gradients of a linear model: (x - x0) ⊙ w, complete whatever the steps
    local ig, igInfo = viz.attribute(net, x, {method = "ig", steps = 3})
    near({{{{1, -4}, {0, 12}}}}, ig)
    assert.near(0.1, igInfo[1].baseline, 1e-6)
    assert.near(0, igInfo[1].gap, 1e-5)
    ig, igInfo = viz.attribute(net, x, {method = "ig", steps = 1, baseline = 1})
    near({{{{0, -2}, {0, 9}}}}, ig) -- (x - 1) ⊙ w; F(1) = 2.1
    assert.near(2.1, igInfo[1].baseline, 1e-5)
    assert.near(0, igInfo[1].gap, 1e-5)
  end)

  it("guided backpropagation, deconvnet and saliency differ where their ReLU rules differ", function()
    local net, x = gateNet(), lunet.tensor(X2)
    local s, info = viz.attribute(net, x, {method = "saliency"})
    assert.near(2 * 1 - 3 * 2, info[1].score, 1e-6)
    near({{{{2, 3}}}}, s)
    near({{{{2, 0}}}}, (viz.attribute(net, x, {method = "guided"})))
    near({{{{-2, 0}}}}, (viz.attribute(net, x, {method = "deconvnet"})))
  end)

  it("runs the model in evaluation mode (Dropout passes everything) and restores its mode", function()
    local net, x = gateNet(), lunet.tensor(X2)
    net:train()
    lunet.manualSeed(1)
    for _ = 1, 3 do
      near({{{{2, 3}}}}, (viz.attribute(net, x, {method = "saliency"})))
    end
    assert.is_true(net.training)
    assert.is_true(net:find("dropout").training)
    net:evaluate()
    viz.attribute(net, x, {method = "guided"})
    assert.is_false(net.training)
  end)

  it("saliency equals the magnitude of finite differences of the class score, through every module", function()
    lunet.manualSeed(11)
    local net = nn.Sequential():add(nn.Conv2d(2, 3, 3, {padding = 1}), "conv"):add(nn.ReLU(), "relu")
      :add(nn.MaxPool2d(2), "pool"):add(nn.Flatten(), "flatten"):add(nn.Linear(3 * 4 * 4, 5), "fc1")
      :add(nn.ReLU(), "relu2"):add(nn.Dropout(0.3), "dropout"):add(nn.Linear(5, 4), "fc2")
      :add(nn.LogSoftmax(), "logsoftmax")
    local x = lunet.randn(2, 2, 8, 8)
    net:train()
    for _, target in ipairs {{}, {3, 1}} do
      local s, info = viz.attribute(net, x, {method = "saliency", target = target[1] and target})
      assert.same({2, 1, 8, 8}, s:size())
      net:train() -- the score below runs it in evaluation mode
      local logits = net:find("fc2").output:clone()
      for i = 1, 2 do
        local c = target[i] or logits[i]:argmax() -- by default the predicted class, of the logits
        assert.equal(c, info[i].target)
        assert.near(logits[i][c], info[i].score, 1e-6)
        local fd = H.numgrad(scoreFn(net, 8, x, i, c), x, 1e-2)[i]
        local want = fd:abs():max(1, true)
        assert.is_true(H.relerr(want, s[i]) < 1e-2, ("image %d: relative error %g"):format(i, H.relerr(want, s[i])))
      end
    end
  end)

  it("starts from any unit of any layer: a feature map's unit, or the log-probability", function()
    lunet.manualSeed(5)
    local net = nn.Sequential():add(nn.Conv2d(1, 2, 3), "conv"):add(nn.ReLU(), "relu")
      :add(nn.Conv2d(2, 3, 3), "conv2"):add(nn.ReLU(), "relu2"):add(nn.Flatten(), "flatten")
      :add(nn.Linear(3 * 3 * 3, 2), "fc"):add(nn.LogSoftmax(), "logsoftmax")
    local x = lunet.randn(1, 1, 7, 7)
    -- map 2 of relu2 at its strongest position (none given), then at a given one
    local s, info = viz.attribute(net, x, {method = "saliency", layer = "relu2", target = 2})
    local out = net:forward(x)
    local relu2 = net:find("relu2").output
    assert.equal(relu2[1][2]:max(), info[1].score)
    assert.is_true(info[1].score > 0)
    local unit = (info[1].y - 1) * 3 + info[1].x + 9 -- map 2's units follow map 1's 9
    near(H.numgrad(scoreFn(net, 4, x, 1, unit), x, 1e-2):abs(), s, 2e-3)
    local _, at = viz.attribute(net, x, {method = "guided", layer = "relu2", target = 2, position = {3, 1}})
    assert.same({3, 1}, {at[1].y, at[1].x})
    -- viz.project seeds the unit with its value instead of 1: the same map times the value
    for _, rule in ipairs {"guided", "deconvnet"} do
      local a = viz.attribute(net, x, {method = rule, layer = "relu2", target = 2})
      local p, where = viz.project(net, x, {layer = "relu2", map = 2, rule = rule})
      assert.same({info[1].y, info[1].x}, {where[1].y, where[1].x})
      near(p, a * where[1].value)
      assert.is_true(a:abs():max() > 0)
    end
    -- the log-probability of class 2, the LogSoftmax's output named as the layer
    s, info = viz.attribute(net, x, {method = "saliency", layer = "logsoftmax", target = 2})
    assert.near(out[1][2], info[1].score, 1e-6)
    near(H.numgrad(scoreFn(net, 7, x, 1, 2), x, 1e-2):abs(), s, 2e-3)
  end)
end)

describe("viz.attribute, integrated gradients", function()
  -- A smooth network: Flatten -> fc1 (4 -> 3) -> Softmax -> fc2 (3 -> 2), hand-set weights.
  local function smoothNet()
    return nn.Sequential():add(nn.Flatten(), "flatten")
      :add(linear(4, 3, {{1, -1, 0.5, 2}, {-2, 0.5, 1, 0}, {0.3, 0.3, -1, 1}}, {0, 0.5, -0.5}), "fc1")
      :add(nn.Softmax(), "softmax")
      :add(linear(3, 2, {{3, -1, 0.5}, {-2, 1, 1}}), "fc2")
  end
  local x = lunet.tensor{{{{0.9, -0.4}, {0.2, 0.7}}}, {{{-0.5, 0.8}, {1.0, -0.3}}}}
  local x0 = lunet.tensor{{{0.1, 0.2}, {0.1, 0.2}}}

  it("equals the trapezoid rule over finite-difference gradients along the path", function()
    local net, steps = smoothNet(), 6
    local ig, info = viz.attribute(net, x, {method = "ig", steps = steps, baseline = x0, target = {1, 2}})
    for i = 1, 2 do
      local want = lunet.zeros(1, 2, 2)
      local d = x[i] - x0
      for j = 0, steps do
        local p = (x0 + d * (j / steps)):view(1, 1, 2, 2)
        local g = H.numgrad(scoreFn(net, 4, p, 1, i), p, 1e-2):view(1, 2, 2)
        want:add_(g * ((j == 0 or j == steps) and 0.5 / steps or 1 / steps))
      end
      near(want * d, ig[i], 2e-4)
      -- its own F(x) and F(x0), from forwards
      assert.near(scoreFn(net, 4, x, i, i)(), info[i].score, 1e-6)
      assert.near(scoreFn(net, 4, x0:view(1, 1, 2, 2), 1, i)(), info[i].baseline, 1e-6)
      assert.near(ig[i]:sum() - (info[i].score - info[i].baseline), info[i].gap, 1e-5)
    end
  end)

  it("is complete: its sum approaches F(x) - F(baseline) as the steps grow", function()
    local net = smoothNet()
    local gaps = {}
    for _, steps in ipairs {2, 8, 64} do
      local _, info = viz.attribute(net, x, {method = "ig", steps = steps, baseline = x0})
      gaps[steps] = math.max(math.abs(info[1].gap), math.abs(info[2].gap))
    end
    -- the trapezoid rule's error falls as 1/steps²
    assert.is_true(gaps[2] > 1e-3, "a coarse path is visibly incomplete: " .. gaps[2])
    assert.is_true(gaps[8] < gaps[2] / 8, ("gap %g at 8 steps, %g at 2"):format(gaps[8], gaps[2]))
    assert.is_true(gaps[64] < 1e-4, "gap at 64 steps: " .. gaps[64])
  end)

  it("takes the baseline as a number, one image or one per image", function()
    local net = smoothNet()
    local a = viz.attribute(net, x, {method = "ig", steps = 4, baseline = 0.5})
    local b = viz.attribute(net, x, {method = "ig", steps = 4, baseline = lunet.full({1, 2, 2}, 0.5)})
    local c = viz.attribute(net, x, {method = "ig", steps = 4, baseline = lunet.full({2, 1, 2, 2}, 0.5)})
    near(a, b, 0)
    near(a, c, 0)
    -- the default: black
    near((viz.attribute(net, x, {method = "ig", steps = 4, baseline = 0})),
      (viz.attribute(net, x, {method = "ig", steps = 4})), 0)
  end)
end)

describe("viz.attribute, Grad-CAM", function()
  it("lights the location that drives the class, worked out by hand", function()
    local net, x = camNet(), camImage()
    -- at the ReLU (4x4, no upsampling): ∂F1/∂map1 is 1 at the four switches of the pooling,
    -- so α1 = 4/16, α2 = 0: the map is map 1 / 4, 1/4 at the bright pixel alone
    local cam, info = viz.attribute(net, x, {method = "gradcam", camLayer = "relu", target = 1})
    assert.equal(1, info[1].score)
    local want = lunet.zeros(1, 1, 4, 4)
    want[1][1][2][3] = 0.25
    near(want, cam)
    -- class 2: α2 = 1/4, map 2 / 4, 1/2 at the dark pixel alone
    cam = viz.attribute(net, x, {method = "gradcam", camLayer = "relu", target = 2})
    want:zero()
    want[1][1][4][1] = 0.5
    near(want, cam)
  end)

  it("at the default layer, the end of the convolutional stack, upsampled bilinearly", function()
    local net, x = camNet(), camImage()
    -- at the pool (2x2): α = (1, 0) for class 1, the map is pooled map 1 = [0 1; 0 0];
    -- upsampled (half-pixel aligned) rows weigh it (1, 3/4, 1/4, 0), columns (0, 1/4, 3/4, 1)
    local cam = viz.attribute(net, x, {method = "gradcam", target = 1})
    local rows, cols = {1, 0.75, 0.25, 0}, {0, 0.25, 0.75, 1}
    local want = lunet.zeros(1, 1, 4, 4)
    for i = 1, 4 do
      for j = 1, 4 do want[1][1][i][j] = rows[i] * cols[j] end
    end
    near(want, cam)
    -- class 2 (predicted: its score is 2): pooled map 2 = [0 0; 2 0], upsampled
    local cam2, info = viz.attribute(net, x, {method = "gradcam"})
    assert.equal(2, info[1].target)
    near(image.resize(lunet.tensor{{{0, 0}, {2, 0}}}, 4, 4):view(1, 1, 4, 4), cam2)
  end)

  it("is zero where the class's evidence is negative (the ReLU of the weighted sum)", function()
    local net, x = camNet(), camImage()
    net:find("fc").weight:mul_(-1) -- class 1 now counts bright parts against it: α1 = -1
    local cam = viz.attribute(net, x, {method = "gradcam", target = 1})
    assert.equal(0, cam:abs():max())
  end)
end)

describe("viz.attribute errors", function()
  it("rejects bad arguments with messages naming them", function()
    local net, x = camNet(), camImage()
    local function err(opts, msg, images, model)
      assert.has_error(function() viz.attribute(model or net, images or x, opts) end, msg)
    end
    err({method = "saliency", steps = 3}, "viz.attribute: opts.steps is for method \"ig\", not \"saliency\"")
    err({method = "ig", camLayer = "relu"}, "viz.attribute: opts.camLayer is for method \"gradcam\", not \"ig\"")
    err({method = "guided", baseline = 0}, "viz.attribute: opts.baseline is for method \"ig\", not \"guided\"")
    err({method = "saliency", class = 1}, "viz.attribute: unknown option \"class\" (known: method, layer, target, "
      .. "position, steps, baseline, camLayer)")
    err({}, "viz.attribute: opts.method must be \"saliency\", \"guided\", \"deconvnet\", \"ig\" or \"gradcam\", got nil")
    err({method = "deconv"}, "viz.attribute: opts.method must be \"saliency\", \"guided\", \"deconvnet\", \"ig\" or "
      .. "\"gradcam\", got deconv")
    err({method = "saliency", target = 3}, "viz.attribute: opts.target must be an integer in 1..2, got 3")
    err({method = "saliency", target = 1.5}, "viz.attribute: opts.target must be an integer in 1..2, got 1.5")
    err({method = "saliency", target = {1, 2}}, "viz.attribute: opts.target as a list must have one entry per "
      .. "image (1), got 2")
    err({method = "saliency", layer = "fc9"}, "viz.attribute: no layer named 'fc9' (layers: conv, relu, pool, "
      .. "flatten, fc)")
    err({method = "saliency", layer = 6}, "viz.attribute: opts.layer index 6 out of range (the model has 5 modules)")
    err({method = "saliency", position = {1, 1}}, "viz.attribute: opts.position is for a layer with 4-D output; "
      .. "layer 'fc' (module 5) gives (1,2)")
    err({method = "saliency", layer = "pool", target = 1, position = {3, 1}},
      "viz.attribute: opts.position y must be an integer in 1..2, got 3")
    err({method = "ig", steps = 0}, "viz.attribute: opts.steps must be an integer >= 1, got 0")
    err({method = "ig", baseline = 0 / 0}, "viz.attribute: opts.baseline must be a finite number or a tensor, got "
      .. tostring(0 / 0))
    err({method = "ig", baseline = "black"}, "viz.attribute: opts.baseline must be a number or a tensor (C,H,W) or "
      .. "(N,C,H,W), got string")
    err({method = "ig", baseline = lunet.zeros(1, 3, 3)}, "viz.attribute: opts.baseline must be shaped like the "
      .. "images (1,1,4,4) or one image (1,4,4), got (1,3,3)")
    err({method = "gradcam", camLayer = "fc"}, "viz.attribute: opts.camLayer 'fc' (module 5) must come before the "
      .. "target's layer 'fc' (module 5)")
    err({method = "gradcam", camLayer = "flatten"}, "viz.attribute: opts.camLayer 'flatten' (module 4) gives a 2-D "
      .. "output (1,8); Grad-CAM needs 4-D (N,C,H,W) maps")
    err({method = "gradcam", camLayer = 1.5}, "viz.attribute: opts.camLayer must be a layer name or module index, "
      .. "got 1.5")
    local mlp = nn.Sequential():add(nn.Flatten(), "flatten"):add(linear(16, 2, lunet.zeros(2, 16):totable()), "fc")
    err({method = "gradcam"}, "viz.attribute: the model has no convolutional stack to take Grad-CAM's maps from: "
      .. "give opts.camLayer", nil, mlp)
    err({method = "saliency"}, "viz.attribute: images must be 4-D (N,C,H,W), got 3-D (1,4,4)", lunet.zeros(1, 4, 4))
    err({method = "saliency"}, "viz.attribute: model must be an nn.Sequential, got ReLU", nil, nn.ReLU())
    err("saliency", "viz.attribute: options must be a table, got string")
    local three = nn.Sequential():add(nn.Flatten(), "flatten"):add(nn.Function(function(_, t)
      return t:view(t:size(1), 4, 4)
    end), "reshape")
    err({method = "saliency"}, "viz.attribute: layer 'reshape' (module 2) gives a 3-D output (1,4,4); a target "
      .. "needs a 2-D (N,D) or 4-D (N,C,H,W) one", nil, three)
  end)
end)
