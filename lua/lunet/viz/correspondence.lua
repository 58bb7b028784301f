--- lunet.viz.correspondence: viz.correspondence and viz.randomRegions, Zeiler & Fergus's
-- correspondence analysis (see lunet/viz/init.lua).
-- @submodule lunet.viz
local lunet = require "lunet"
local check = require "lunet.check"
local common = require "lunet.viz.common"

local correspondence = {}

-- A region: {top, left, h, w} (clipped to the image) or an (H,W) mask (1 = occluded).
local function checkRegion(fname, what, r, H, W)
  if lunet.isTensor(r) then
    if r:dim() ~= 2 or r:size(1) ~= H or r:size(2) ~= W then
      check.fail(4, "%s: %s as a mask must be (%d,%d) like the images, got %s", fname, what, H, W, r:shapeString())
    end
    return r:float():contiguous()
  end
  if type(r) ~= "table" or #r ~= 4 then
    check.fail(4, "%s: %s must be {top, left, h, w} or an (H,W) mask, got %s", fname, what, type(r))
  end
  for i = 1, 4 do
    if math.type(r[i]) ~= "integer" then
      check.fail(4, "%s: %s must hold four integers {top, left, h, w}, got %s at %d", fname, what, tostring(r[i]), i)
    end
  end
  local top, left = math.max(1, r[1]), math.max(1, r[2])
  local bottom, right = math.min(H, r[1] + r[3] - 1), math.min(W, r[2] + r[4] - 1)
  if bottom < top or right < left then
    check.fail(4, "%s: %s {%d, %d, %d, %d} lies outside the %dx%d image", fname, what, r[1], r[2], r[3], r[4], H, W)
  end
  return {top, left, bottom - top + 1, right - left + 1}
end

-- ε (n, D) in {-1, 0, 1} -> the mean over pairs i < j of the fraction of components where
-- ε_i and ε_j differ, from the agreement counts P_v P_v^T of the indicators of each value.
local function meanHamming(eps)
  local n, D = eps:size(1), eps:size(2)
  local pos, neg = eps:gt(0), eps:lt(0)
  local zero = (pos + neg):neg():add(1)
  local agree = pos:matmul(pos:t()) + neg:matmul(neg:t()) + zero:matmul(zero:t())
  local a, sum = agree:totable(), 0
  for i = 1, n do
    for j = i + 1, n do sum = sum + (D - a[i][j]) / D end
  end
  return sum / (n * (n - 1) / 2)
end

--- viz.correspondence(model, images, opts) -> delta: {[layer name] = Δ}. Zeiler & Fergus's
-- test of whether a network relates the same part across images: occlude a region in each
-- image (N >= 2, e.g. several images of a class), take ε_i = sign(φ(x_i) - φ(x_i occluded))
-- for φ a layer's output, and Δ = the mean over pairs i < j of the Hamming distance of
-- ε_i and ε_j, as a fraction of the components (0: every image's features change the same
-- way; lower is more consistent). Components whose change is below opts.tolerance times
-- the layer's largest |φ| count as unchanged (sign 0), so float rounding is no change.
-- opts.layers: a list of layers (names or indices, anywhere in the model); opts.region:
-- {top, left, h, w} (clipped at the borders) or an (H,W) mask (1 = occluded), the same for
-- every image, or a list of N of these, one per image (random occluders: viz.randomRegions);
-- opts.fill: the occluder's value (default 0.5); opts.tolerance (default 1e-6).
-- @function correspondence
function correspondence.correspondence(model, images, opts)
  local fname = "viz.correspondence"
  opts = check.options(fname, opts, {"layers", "region", "fill", "tolerance"})
  common.checkModel(fname, model)
  local x = common.checkImages(fname, images, "images", 4, "(N,C,H,W)")
  local n, H, W = x:size(1), x:size(3), x:size(4)
  if n < 2 then check.fail(2, "%s: needs at least 2 images to compare, got %d", fname, n) end
  local idx, names = common.layersOf(fname, model, opts.layers)
  local fill = opts.fill or 0.5
  if type(fill) ~= "number" then check.fail(2, "%s: opts.fill must be a number, got %s", fname, type(fill)) end
  local tol = opts.tolerance or 1e-6
  if type(tol) ~= "number" or tol < 0 then
    check.fail(2, "%s: opts.tolerance must be a number >= 0, got %s", fname, tostring(tol))
  end
  local region = opts.region
  local regions = {}
  if type(region) == "table" and #region == n and (type(region[1]) == "table" or lunet.isTensor(region[1])) then
    for i = 1, n do regions[i] = checkRegion(fname, ("opts.region[%d]"):format(i), region[i], H, W) end
  elseif region == nil then
    check.fail(2, "%s: opts.region is required ({top, left, h, w}, an (H,W) mask, or one per image)", fname)
  else
    local r = checkRegion(fname, "opts.region", region, H, W)
    for i = 1, n do regions[i] = r end
  end
  local occluded = x:clone()
  for i = 1, n do
    local r = regions[i]
    if lunet.isTensor(r) then
      local xi = occluded[i]
      xi:copy(xi + (xi:neg():add(fill)) * r)
    else
      common.cover(occluded[i], r, fill)
    end
  end
  return common.evaluating(model, function()
    model:forward(x)
    local ref = {}
    for j, i in ipairs(idx) do ref[j] = common.features(model, i, n) end
    model:forward(occluded)
    local delta = {}
    for j, i in ipairs(idx) do
      local d = ref[j] - common.features(model, i, n)
      local t = tol * ref[j]:abs():max()
      local eps = d:gt(t) - d:lt(-t)
      delta[names[j]] = meanHamming(eps)
    end
    return delta
  end)
end

--- viz.randomRegions(n, H, W, h, w) -> a list of n regions {top, left, h, w}, each an h×w
-- square placed uniformly at random inside an H×W image (lunet's generator: manualSeed
-- reproduces them); the baseline of viz.correspondence.
-- @function randomRegions
function correspondence.randomRegions(n, H, W, h, w)
  local fname = "viz.randomRegions"
  check.integer(fname, "n", n, 1)
  check.integer(fname, "H", H, 1)
  check.integer(fname, "W", W, 1)
  check.integer(fname, "h", h, 1, H)
  check.integer(fname, "w", w, 1, W)
  local u = lunet.rand(n, 2):totable()
  local list = {}
  for i = 1, n do
    list[i] = {1 + math.min(H - h, math.floor(u[i][1] * (H - h + 1))),
               1 + math.min(W - w, math.floor(u[i][2] * (W - w + 1))), h, w}
  end
  return list
end

return correspondence
