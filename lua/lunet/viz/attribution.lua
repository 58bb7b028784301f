--- lunet.viz.attribution: viz.attribute, how much each input pixel counts for one unit of the
-- model (a class score by default), through the whole model (see lunet/viz/init.lua).
-- It walks the signal down with viz.project's machinery (common.backFrom): every module by
-- its gradient, a ReLU by the method's rule.
-- @submodule lunet.viz
local lunet = require "lunet"
local check = require "lunet.check"
local image = require "lunet.image"
local common = require "lunet.viz.common"
local project = require "lunet.viz.project"

local attribution = {}

-- The ReLU rule (nn.ReLU.projectRules) each method takes its signal down by.
local RULE = {saliency = "saliency", guided = "guided", deconvnet = "deconvnet", ig = "saliency",
  gradcam = "saliency"}
-- The options only one method reads.
local ONLY = {steps = "ig", baseline = "ig", camLayer = "gradcam"}

-- The default layer of the target: the class scores, the model's output or, when the model
-- ends in a Softmax or LogSoftmax, its input (the logits).
local function scoreLayer(model)
  local n = #model.modules
  local last = model.modules[n].typename
  if n > 1 and (last == "Softmax" or last == "LogSoftmax") then return n - 1 end
  return n
end

-- out (N,D) or (N,C,H,W) as (N,C,H,W): a unit of a 2-D output is a 1×1 map.
local function asMaps(out)
  if out:dim() == 2 then return out:view(out:size(1), out:size(2), 1, 1) end
  return out
end

-- opts.baseline as (N,C,H,W): a number fills it, a (C,H,W) tensor serves every image.
local function baselineOf(fname, b, x)
  if b == nil or type(b) == "number" then
    if b ~= nil and not check.isFinite(b) then
      check.fail(3, "%s: opts.baseline must be a finite number or a tensor, got %s", fname, tostring(b))
    end
    return lunet.full(x:size(), b or 0)
  end
  if not check.isTensor(b) then
    check.fail(3, "%s: opts.baseline must be a number or a tensor (C,H,W) or (N,C,H,W), got %s", fname, type(b))
  end
  local same = b:dim() == 4 and b:shapeString() == x:shapeString()
  if not same and not (b:dim() == 3 and b:shapeString() == x[1]:shapeString()) then
    check.fail(3, "%s: opts.baseline must be shaped like the images %s or one image %s, got %s", fname,
      x:shapeString(), x[1]:shapeString(), b:shapeString())
  end
  return (same and b or b:view(1, b:size(1), b:size(2), b:size(3)):expand(x:size())):contiguous()
end

-- A signal shaped like `out` (the output of module k), 1 at each image's unit (where[i]), 0
-- elsewhere, taken down to the output of module `stop` by `rule`.
local function backFromUnits(model, k, stop, out, where, rule)
  local seed = lunet.zeros(out:size())
  local seed4 = asMaps(seed)
  for i, e in ipairs(where) do seed4[i][e.map][e.y][e.x] = 1 end
  return common.backFrom(model, k, stop, seed, rule)
end

-- Integrated gradients of image i's unit where[i]: the path baseline → image in `steps` equal
-- steps, its steps + 1 points one batch through the model, the gradients averaged by the
-- trapezoid rule: attr = (x - x0) ⊙ Σ_j w_j ∂F/∂x(x0 + (j/m)(x - x0)), w_j = 1/m, halved at
-- both ends. Adds baseline (F(x0)) and gap (Σ attr - (F(x) - F(x0))) to where[i].
local function integrated(model, k, x, x0, where, steps)
  local n, c, h, w = x:size(1), x:size(2), x:size(3), x:size(4)
  local weights = lunet.full({1, steps + 1}, 1 / steps)
  weights[1][1], weights[1][steps + 1] = 0.5 / steps, 0.5 / steps
  local alphas = lunet.arange(0, steps + 1):div(steps):view(steps + 1, 1, 1, 1)
  local attr = lunet.zeros(n, c, h, w)
  for i = 1, n do
    local e = where[i]
    local d = (x[i] - x0[i]):view(1, c, h, w)
    local path = alphas * d + x0[i]:view(1, c, h, w)
    path[steps + 1]:copy(x[i]) -- the last point exactly the image
    local out = common.forwardTo(model, k, path)
    local path4 = asMaps(out)
    local units = {}
    for j = 1, steps + 1 do units[j] = e end
    local g = backFromUnits(model, k, 0, out, units, "saliency")
    local mean = lunet.matmul(weights, g:view(steps + 1, -1)):view(1, c, h, w)
    attr[i]:copy((mean * d):view(c, h, w))
    e.baseline = path4[1][e.map][e.y][e.x]
    e.gap = attr[i]:sum() - (path4[steps + 1][e.map][e.y][e.x] - e.baseline)
  end
  return attr
end

-- Grad-CAM at module L for the units `where` of module k's output `out`: the maps A of L's
-- output weighed by α_c = the spatial mean of ∂score/∂A_c, relu(Σ_c α_c A_c), upsampled
-- (bilinear) to the H×W input: (N,1,H,W).
local function gradCam(fname, model, k, L, out, where, H, W)
  local a = model.modules[L].output
  if a:dim() ~= 4 then
    check.fail(3, "%s: opts.camLayer '%s' (module %d) gives a %d-D output %s; Grad-CAM needs 4-D (N,C,H,W) maps",
      fname, common.layerName(model, L), L, a:dim(), a:shapeString())
  end
  local g = backFromUnits(model, k, L, out, where, "saliency")
  local n, c = a:size(1), a:size(2)
  local alpha = g:mean(4):mean(3):view(n, c, 1, 1)
  local cam = (a * alpha):sum(2):relu_()
  return image.resize(cam, H, W):view(n, 1, H, W)
end

--- Attribute one unit of a model (a class score by default) to the input pixels.
-- The model runs in evaluation mode (Dropout passes everything) and goes back to its mode
-- after. The signal walks down every module of the model by its gradient, except that a ReLU
-- passes it by the method's rule (see lunet/viz/init.lua, nn.ReLU.projectRules); the unit is
-- seeded with 1, so the maps are derivatives of its value, the score F. Methods:
--
--  * "saliency": |∂F/∂x|, its maximum over the channels (Simonyan et al. 2014): (N,1,H,W).
--  * "guided": guided backpropagation (Springenberg et al. 2015), ReLUs pass relu(g) where
--    their input was > 0: (N,C,H,W), signed.
--  * "deconvnet": the deconvnet (Zeiler & Fergus 2014), ReLUs pass relu(g): (N,C,H,W), signed.
--  * "ig": integrated gradients (Sundararajan et al. 2017) from a baseline x0:
--    (x - x0) ⊙ the mean of ∂F/∂x along the straight path x0 → x, over opts.steps equal
--    steps by the trapezoid rule (one batch of steps + 1 images through the model per image):
--    (N,C,H,W). Its sum approximates F(x) - F(x0) (completeness); info.gap says by how much not.
--  * "gradcam": Grad-CAM (Selvaraju et al. 2017) at opts.camLayer: the layer's maps weighed by
--    the spatial mean of ∂F/∂map, summed, rectified and upsampled bilinearly to H×W: (N,1,H,W).
--
-- Errors name viz.attribute: an unknown option or method, an option another method reads,
-- a layer or target out of range, a baseline of the wrong shape, a camLayer not below the
-- target's layer or without 4-D output.
-- @tparam nn.Sequential model the network
-- @tparam Tensor images (N,C,H,W) float
-- @tparam table opts
--  `method` (required) "saliency", "guided", "deconvnet", "ig" or "gradcam";
--  `layer` the layer whose output holds the unit (a name or module index; default the class
--  scores: the last module, or the one before a final Softmax/LogSoftmax);
--  `target` the unit: a class (a unit of a 2-D output) or a feature map (of a 4-D output),
--  one for every image or a list of one per image; default each image's strongest (at the
--  class scores, the predicted class);
--  `position` {y, x} in a 4-D output's map, or a list of them (default the map's strongest);
--  `steps` ("ig") the path's steps, default 50; `baseline` ("ig") a number, a (C,H,W) or an
--  (N,C,H,W) tensor, default 0 (black);
--  `camLayer` ("gradcam") a layer with 4-D output below `layer`, default the last module of
--  the convolutional stack
-- @treturn Tensor the attributions, (N,C,H,W) or (N,1,H,W) as listed above
-- @treturn table info, one entry per image: target (the class or map), y and x (its position:
--  1, 1 in a 2-D output), score (F(x)); with "ig" also baseline (F(x0)) and gap
--  (Σ attribution - (F(x) - F(x0)))
-- @usage local sal, info = viz.attribute(model, images, {method = "saliency"})  -- predicted classes
-- local ig, info = viz.attribute(model, images, {method = "ig", target = labels:totable(), steps = 32})
-- local cam = viz.attribute(model, images, {method = "gradcam", camLayer = "relu2", target = 3})
-- @function attribute
function attribution.attribute(model, images, opts)
  local fname = "viz.attribute"
  opts = check.options(fname, opts, {"method", "layer", "target", "position", "steps", "baseline", "camLayer"})
  common.checkModel(fname, model)
  local method = opts.method
  if RULE[method] == nil then
    check.fail(2, "%s: opts.method must be \"saliency\", \"guided\", \"deconvnet\", \"ig\" or \"gradcam\", got %s",
      fname, tostring(method))
  end
  for name, only in pairs(ONLY) do
    if opts[name] ~= nil and only ~= method then
      check.fail(2, "%s: opts.%s is for method \"%s\", not \"%s\"", fname, name, only, method)
    end
  end
  local x = common.checkImages(fname, images, "images", 4, "(N,C,H,W)")
  local n = x:size(1)
  local k = opts.layer == nil and scoreLayer(model) or common.layerOf(fname, model, opts.layer, false)
  local L
  if method == "gradcam" then
    L = opts.camLayer == nil and common.stackDepth(model) or common.layerOf(fname, model, opts.camLayer, false,
      "opts.camLayer")
    if L == 0 then
      check.fail(2, "%s: the model has no convolutional stack to take Grad-CAM's maps from: give opts.camLayer", fname)
    end
    if L >= k then
      check.fail(2, "%s: opts.camLayer '%s' (module %d) must come before the target's layer '%s' (module %d)",
        fname, common.layerName(model, L), L, common.layerName(model, k), k)
    end
  end
  local steps = method == "ig" and check.integer(fname, "opts.steps", opts.steps or 50, 1) or nil
  local x0 = method == "ig" and baselineOf(fname, opts.baseline, x) or nil
  local targets = project.perImage(fname, "opts.target", opts.target, type(opts.target) == "table", n)
  local pos = opts.position
  local positions = project.perImage(fname, "opts.position", pos, type(pos) == "table" and type(pos[1]) == "table", n)
  return common.evaluating(model, function()
    local out = common.forwardTo(model, k, x)
    if out:dim() ~= 2 and out:dim() ~= 4 then
      check.fail(4, "%s: layer '%s' (module %d) gives a %d-D output %s; a target needs a 2-D (N,D) or 4-D "
        .. "(N,C,H,W) one", fname, common.layerName(model, k), k, out:dim(), out:shapeString())
    end
    if pos ~= nil and out:dim() == 2 then
      check.fail(4, "%s: opts.position is for a layer with 4-D output; layer '%s' (module %d) gives %s", fname,
        common.layerName(model, k), k, out:shapeString())
    end
    local where = project.units(fname, asMaps(out), targets, positions, "opts.target")
    local attr
    if method == "ig" then
      attr = integrated(model, k, x, x0, where, steps)
    elseif method == "gradcam" then
      attr = gradCam(fname, model, k, L, out, where, x:size(3), x:size(4))
    else
      attr = backFromUnits(model, k, 0, out, where, RULE[method])
      if method == "saliency" then attr = attr:abs():max(2, true) end
    end
    local info = {}
    for i, e in ipairs(where) do
      info[i] = {target = e.map, y = e.y, x = e.x, score = e.value, baseline = e.baseline, gap = e.gap}
    end
    return attr, info
  end)
end

return attribution
