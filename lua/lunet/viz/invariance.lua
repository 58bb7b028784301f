--- lunet.viz.invariance: viz.invariance, how features change under translation, rotation
-- and scaling (see lunet/viz/init.lua).
-- @submodule lunet.viz
local lunet = require "lunet"
local check = require "lunet.check"
local image = require "lunet.image"
local common = require "lunet.viz.common"

local invariance = {}

local TRANSFORMS = {
  translate_x = function(x, a, fill) return image.translate(x, a, 0, fill) end,
  translate_y = function(x, a, fill) return image.translate(x, 0, a, fill) end,
  rotate = function(x, a, fill) return image.rotate(x, a, fill) end,
  scale = function(x, a, fill) return image.scale(x, a, fill) end,
}

--- viz.transform(name, images, amount, fill) -> the images (N,C,H,W) transformed as
-- viz.invariance's named transforms do: "translate_x" (pixels right), "translate_y" (pixels
-- down), "rotate" (degrees counter-clockwise), "scale" (zoom factor); fill (default 0) for
-- the pixels moved in from outside.
-- @function transform
function invariance.transform(name, images, amount, fill)
  local t = TRANSFORMS[name]
  if not t then
    check.fail(2, "viz.transform: name must be \"translate_x\", \"translate_y\", \"rotate\" or \"scale\", got %s",
      tostring(name))
  end
  check.number("viz.transform", "amount", amount)
  return t(images, amount, fill or 0)
end

local function checkLabels(fname, labels, n)
  if labels == nil then return nil end
  if lunet.isTensor(labels) then
    if labels:dim() ~= 1 or labels:size(1) ~= n then
      check.fail(4, "%s: opts.labels must be a 1-D tensor of %d class numbers, got %s", fname, n, labels:shapeString())
    end
    labels = labels:totable()
  end
  if type(labels) ~= "table" or #labels ~= n then
    check.fail(4, "%s: opts.labels must hold one class number per image (%d)", fname, n)
  end
  local t = {}
  for i, v in ipairs(labels) do t[i] = math.tointeger(v) or v end
  return t
end

--- viz.invariance(model, images, opts) -> result: how layers' feature vectors and the
-- class probability change as images (N,C,H,W) are transformed by growing amounts.
-- opts.transform: "translate_x" (pixels right), "translate_y" (pixels down), "rotate"
-- (degrees counter-clockwise), "scale" (zoom factor) or a function(x, amount) -> x'
-- for a batch; opts.amounts: a list of numbers; opts.layers: a list of layers (names or
-- indices, anywhere in the model); opts.labels: the true classes (a tensor or list;
-- default: the classes predicted for the untransformed images); opts.fill: the value of
-- pixels moved in from outside (default 0).
-- The distance is relative: ||φ(T_a x) - φ(x)|| / ||φ(x)|| with φ a layer's output as one
-- vector per image, so layers of any size share a scale.
-- result.amounts, result.layers (names); result.distance[name][a] (mean over the images),
-- result.distances[name][a][n]; result.prob[a][n] (the true class's probability) and
-- result.meanProb[a]; result.labels.
-- @function invariance
function invariance.invariance(model, images, opts)
  local fname = "viz.invariance"
  opts = check.options(fname, opts, {"transform", "amounts", "layers", "labels", "fill"})
  common.checkModel(fname, model)
  local x = common.checkImages(fname, images, "images", 4, "(N,C,H,W)")
  local n = x:size(1)
  local transform = opts.transform
  if type(transform) == "string" and TRANSFORMS[transform] then
    local t, fill = TRANSFORMS[transform], opts.fill or 0
    transform = function(xx, a) return t(xx, a, fill) end
  elseif type(transform) ~= "function" then
    check.fail(2, "%s: opts.transform must be \"translate_x\", \"translate_y\", \"rotate\", \"scale\" or a function, got %s",
      fname, tostring(transform))
  end
  local amounts = opts.amounts
  if type(amounts) ~= "table" or #amounts == 0 then
    check.fail(2, "%s: opts.amounts must be a non-empty list of numbers, got %s", fname, type(amounts))
  end
  for i, a in ipairs(amounts) do
    if type(a) ~= "number" then check.fail(2, "%s: opts.amounts[%d] must be a number, got %s", fname, i, type(a)) end
  end
  local idx, names = common.layersOf(fname, model, opts.layers)
  local labels = checkLabels(fname, opts.labels, n)
  return common.evaluating(model, function()
    local p0 = common.probabilities(fname, model, model:forward(x))
    if labels then
      for i, l in ipairs(labels) do common.checkLabel(fname, ("opts.labels[%d]"):format(i), l, p0:size(2)) end
    else
      labels = p0:argmax(2):totable()
    end
    local ref, norm = {}, {}
    for j, i in ipairs(idx) do
      ref[j] = common.features(model, i, n)
      norm[j] = ref[j]:pow(2):sum(2):sqrt():totable()
    end
    local res = {amounts = amounts, layers = names, labels = labels, distance = {}, distances = {},
      prob = {}, meanProb = {}}
    for _, name in ipairs(names) do res.distance[name], res.distances[name] = {}, {} end
    for a, amount in ipairs(amounts) do
      local xt = transform(x, amount)
      if not lunet.isTensor(xt) or xt:shapeString() ~= x:shapeString() then
        check.fail(3, "%s: opts.transform must return a tensor shaped like the images %s, got %s", fname, x:shapeString(),
          lunet.isTensor(xt) and xt:shapeString() or type(xt))
      end
      local p = common.probabilities(fname, model, model:forward(xt)):totable()
      local probs, sum = {}, 0
      for i = 1, n do
        probs[i] = p[i][labels[i]]
        sum = sum + probs[i]
      end
      res.prob[a], res.meanProb[a] = probs, sum / n
      for j, i in ipairs(idx) do
        local d = (common.features(model, i, n) - ref[j]):pow(2):sum(2):sqrt():totable()
        local rel, s = {}, 0
        for r = 1, n do
          rel[r] = d[r] / norm[j][r]
          s = s + rel[r]
        end
        res.distances[names[j]][a], res.distance[names[j]][a] = rel, s / n
      end
    end
    return res
  end)
end

return invariance
