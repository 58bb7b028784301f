--- lunet.viz.occlusion: viz.occlusion, occlusion sensitivity (see lunet/viz/init.lua).
-- @submodule lunet.viz
local lunet = require "lunet"
local check = require "lunet.check"
local common = require "lunet.viz.common"

local occlusion = {}

local function checkFill(fname, fill, c, h, w)
  if fill == nil then return 0.5 end
  if type(fill) == "number" then return fill end
  if lunet.isTensor(fill) and fill:dim() == 3 and fill:size(1) == c and fill:size(2) == h and fill:size(3) == w then
    return fill:float():contiguous()
  end
  check.fail(4, "%s: opts.fill must be a number or a (%d,%d,%d) tensor like the image, got %s", fname, c, h, w,
    lunet.isTensor(fill) and fill:shapeString() or type(fill))
end

--- viz.occlusion(model, image, opts) -> result. Slides a square over image (C,H,W) and runs
-- the model on every occluded copy (opts.batch copies per forward, in evaluation mode).
-- The square's centre visits rows 1, 1+stride, ... <= H (and likewise columns); it covers
-- rows centre - floor((size-1)/2) .. + size-1, clipped at the borders. So the maps are
-- ceil(H/stride) × ceil(W/stride), cell (i, j) for the square centred on pixel
-- (1 + (i-1)·stride, 1 + (j-1)·stride).
-- opts.size (default 6), opts.stride (default 2), opts.fill (default 0.5: grey; or a (C,H,W)
-- tensor whose values fill the square), opts.label (the true class; default: the class
-- predicted for the unoccluded image), opts.layer and opts.map (a 4-D layer anywhere in the
-- model, and its feature map; default: the map holding the unoccluded image's strongest
-- activation), opts.batch (default 256).
-- result.prob: the probability of opts.label; result.class: the most probable class (int);
-- result.feature: the total activation (sum over positions) of the map (when opts.layer is
-- given); result.base: the same three for the unoccluded image; result.label, result.map,
-- result.rows and result.cols (the square's centres).
-- @function occlusion
function occlusion.occlusion(model, img, opts)
  local fname = "viz.occlusion"
  opts = check.options(fname, opts, {"size", "stride", "fill", "label", "layer", "map", "batch"})
  common.checkModel(fname, model)
  local x = common.checkImages(fname, img, "image", 3, "(C,H,W)")
  local c, H, W = x:size(1), x:size(2), x:size(3)
  local size = check.integer(fname, "opts.size", opts.size or 6, 1)
  local stride = check.integer(fname, "opts.stride", opts.stride or 2, 1)
  local batch = check.integer(fname, "opts.batch", opts.batch or 256, 1)
  local fill = checkFill(fname, opts.fill, c, H, W)
  local li = opts.layer ~= nil and common.layerOf(fname, model, opts.layer, false) or nil
  local rows, cols = {}, {}
  for r = 1, H, stride do rows[#rows + 1] = r end
  for q = 1, W, stride do cols[#cols + 1] = q end
  local R, Q = #rows, #cols
  local lo = (size - 1) // 2
  local function span(centre, lim)
    local a, b = math.max(1, centre - lo), math.min(lim, centre - lo + size - 1)
    return a, b - a + 1
  end
  return common.evaluating(model, function()
    local base = common.probabilities(fname, model, model:forward(x:view(1, c, H, W)))
    local classes = base:size(2)
    local label = common.checkLabel(fname, "opts.label", opts.label or base[1]:argmax(), classes)
    local res = {label = label, rows = rows, cols = cols, prob = lunet.zeros(R, Q), class = lunet.zeros(R, Q, "int"),
      base = {prob = base[1][label], class = base[1]:argmax()}}
    local map
    if li then
      local out = model.modules[li].output
      if out:dim() ~= 4 then
        check.fail(3, "%s: opts.layer '%s' must output feature maps (N,C,H,W), got %d-D %s", fname,
          common.layerName(model, li), out:dim(), out:shapeString())
      end
      local h, w = out:size(3), out:size(4)
      if opts.map ~= nil then
        map = check.integer(fname, "opts.map", opts.map, 1, out:size(2))
      else
        map = (out[1]:view(-1):argmax() - 1) // (h * w) + 1
      end
      res.map, res.feature = map, lunet.zeros(R, Q)
      res.base.feature = out[1][map]:sum()
    elseif opts.map ~= nil then
      check.fail(3, "%s: opts.map needs opts.layer", fname)
    end
    local prob, class = res.prob:view(-1), res.class:view(-1)
    local feature = res.feature and res.feature:view(-1)
    local total = R * Q
    for i0 = 1, total, batch do
      local b = math.min(batch, total - i0 + 1)
      local copies = lunet.zeros(b, c, H, W):copy(x:view(1, c, H, W):expand(b, c, H, W))
      for j = 1, b do
        local cell = i0 + j - 2
        local top, h = span(rows[cell // Q + 1], H)
        local left, w = span(cols[cell % Q + 1], W)
        common.cover(copies[j], {top, left, h, w}, fill)
      end
      local p = common.probabilities(fname, model, model:forward(copies))
      prob:narrow(1, i0, b):copy(p:select(2, label))
      class:narrow(1, i0, b):copy(p:argmax(2))
      if feature then
        local out = model.modules[li].output:select(2, map):contiguous()
        feature:narrow(1, i0, b):copy(out:view(b, -1):sum(2))
      end
    end
    return res
  end)
end

return occlusion
