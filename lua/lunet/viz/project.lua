--- lunet.viz.project: deconvnet projections (viz.project), receptive fields
-- (viz.receptiveField, viz.window) and the top-k activations (viz.top, viz.topGrid); see
-- lunet/viz/init.lua. The fields not documented there serve lunet.viz.evolution (topChecked,
-- projectHits, mapsAt, checkRule, EVERY_UNIT) and lunet.viz.attribution (perImage, units).
-- @submodule lunet.viz
local lunet = require "lunet"
local check = require "lunet.check"
local nn = require "lunet.nn"
local image = require "lunet.image"
local plot = require "lunet.plot"
local common = require "lunet.viz.common"

local project = {}

-- opts.map or opts.position (or viz.attribute's opts.target): given once (the same for every
-- image) or as a list of n.
function project.perImage(fname, what, v, isList, n)
  if isList then
    if #v ~= n then check.fail(3, "%s: %s as a list must have one entry per image (%d), got %d", fname, what, n, #v) end
    return v
  end
  local t = {}
  for i = 1, n do t[i] = v end
  return t
end

function project.checkRule(fname, rule)
  rule = rule or "deconvnet"
  if not nn.ReLU.projectRules[rule] then
    check.fail(3, "%s: opts.rule must be \"deconvnet\", \"guided\" or \"saliency\", got %s", fname, tostring(rule))
  end
  return rule
end

-- The unit of out (N,C,H,W) each image's signal starts from, per image {map, y, x, value}:
-- map maps[i] (named `what` in errors) at positions[i] ({y, x}); a nil map, the image's
-- strongest unit; a nil position, the map's strongest.
function project.units(fname, out, maps, positions, what)
  local n, c, h, w = out:size(1), out:size(2), out:size(3), out:size(4)
  local where = {}
  for i = 1, n do
    local m, pos = maps[i], positions[i]
    if m ~= nil then check.integer(fname, what, m, 1, c) end
    if pos ~= nil then
      if type(pos) ~= "table" then
        check.fail(3, "%s: opts.position must be {y, x} or a list of them, got %s", fname, type(pos))
      end
      check.integer(fname, "opts.position y", pos[1], 1, h)
      check.integer(fname, "opts.position x", pos[2], 1, w)
    end
    local y, xx
    if m == nil then
      local j = out[i]:view(-1):argmax() - 1
      m, j = j // (h * w) + 1, j % (h * w)
      y, xx = j // w + 1, j % w + 1
    elseif pos == nil then
      local j = out[i][m]:view(-1):argmax() - 1
      y, xx = j // w + 1, j % w + 1
    else
      y, xx = pos[1], pos[2]
    end
    where[i] = {map = m, y = y, x = xx, value = out[i][m][y][xx]}
  end
  return where
end

-- The projection itself, arguments checked: maps and positions are lists of n entries
-- (nil entries: the strongest). The signal starts as the activation's own value.
local function projectChecked(fname, model, k, x, maps, positions, rule)
  local out = common.forwardTo(model, k, x)
  local where = project.units(fname, out, maps, positions, "opts.map")
  local seed = lunet.zeros(out:size())
  for i, e in ipairs(where) do seed[i][e.map][e.y][e.x] = e.value end
  return common.backFrom(model, k, 0, seed, rule), where
end

--- viz.project(model, images, opts) -> projections (N,C,H,W), where (a list: per image
-- {map, y, x, value}, the activation projected).
-- opts.layer: a layer of the convolutional stack (name or index; required).
-- opts.map: the feature map (an integer, or a list of one per image); default: the map
-- holding the image's strongest activation in the layer.
-- opts.position: {y, x} in the map (or a list of one per image); default: the map's strongest.
-- opts.rule: "deconvnet" (default), "guided" or "saliency" (see lunet/viz/init.lua).
-- @function project
function project.project(model, images, opts)
  local fname = "viz.project"
  opts = check.options(fname, opts, {"layer", "map", "position", "rule"})
  common.checkModel(fname, model)
  local k = common.layerOf(fname, model, opts.layer, true)
  local rule = project.checkRule(fname, opts.rule)
  local x = common.checkImages(fname, images, "images", 4, "(N,C,H,W)")
  local n = x:size(1)
  local maps = project.perImage(fname, "opts.map", opts.map, type(opts.map) == "table", n)
  local pos = opts.position
  local positions = project.perImage(fname, "opts.position", pos, type(pos) == "table" and type(pos[1]) == "table", n)
  return projectChecked(fname, model, k, x, maps, positions, rule)
end

--- viz.receptiveField(model, layer) -> rf, where unit (y, x) (1-based) of the layer's
-- output sees the input rows rf.first[1] + (y-1)·rf.stride[1] .. + rf.size[1] - 1 and the
-- columns likewise with index 2 (1-based input coordinates; padding can put them past the
-- border). Composed through the stack: a window of k, stride s, padding p turns
-- (first, stride, size) into (first - p·stride, stride·s, size + (k-1)·stride).
-- @function receptiveField
function project.receptiveField(model, layer)
  local fname = "viz.receptiveField"
  common.checkModel(fname, model)
  local k = common.layerOf(fname, model, layer, true, "layer")
  local first, stride, size = {1, 1}, {1, 1}, {1, 1}
  for i = 1, k do
    local m = model.modules[i]
    if m.geometry then
      local kk, s, p = m:geometry()
      for d = 1, 2 do
        first[d] = first[d] - p[d] * stride[d]
        size[d] = size[d] + (kk[d] - 1) * stride[d]
        stride[d] = stride[d] * s[d]
      end
    end
  end
  return {first = first, stride = stride, size = size}
end

--- viz.window(rf, y, x, H, W) -> top, left, h, w: the receptive field of unit (y, x) in an
-- H×W input, clamped at the borders: a window of the field's size (at most H×W), moved
-- inside the image where the field reaches past it.
-- @function window
function project.window(rf, y, x, H, W)
  local out, pos, lim = {}, {y, x}, {H, W}
  for d = 1, 2 do
    local len = math.min(rf.size[d], lim[d])
    local start = rf.first[d] + (pos[d] - 1) * rf.stride[d]
    out[2 * d - 1] = math.max(1, math.min(start, lim[d] - len + 1))
    out[2 * d] = len
  end
  return out[1], out[3], out[2], out[4]
end


-- Whether layer k's output is rectified: a ReLU, or max-pooling over one.
local function rectified(model, k)
  while k > 1 and model.modules[k].typename == "MaxPool2d" do k = k - 1 end
  return model.modules[k].typename == "ReLU"
end

-- The k strongest (one per image, by spatial maximum) of the given maps of layer k, over
-- the units in rows span[1]..span[2] and columns span[3]..span[4] (clipped to the maps).
-- In a rectified layer a maximum of 0 is no response, not a hit: a map that never fires
-- has no hits.
function project.topChecked(model, k, x, K, maps, batch, span)
  local n = x:size(1)
  local floor = rectified(model, k) and 0 or -math.huge
  local lists = {}
  for _, m in ipairs(maps) do lists[m] = {} end
  for i0 = 1, n, batch do
    local b = math.min(batch, n - i0 + 1)
    local out = common.forwardTo(model, k, x:narrow(1, i0, b))
    local c, y0, x0 = out:size(2), span[1], span[3]
    local y1, x1 = math.min(span[2], out:size(3)), math.min(span[4], out:size(4))
    local sub = out:narrow(3, y0, y1 - y0 + 1):narrow(4, x0, x1 - x0 + 1):contiguous()
    local w = sub:size(4)
    local vals, idx = sub:view(b, c, -1):max(3)
    vals, idx = vals:totable(), idx:totable()
    for _, m in ipairs(maps) do
      local list = lists[m]
      for r = 1, b do
        local v = vals[r][m]
        if v > floor and (#list < K or v > list[#list].value) then
          local p = idx[r][m] - 1
          local hit = {index = i0 + r - 1, value = v, y = p // w + y0, x = p % w + x0}
          local j = #list
          while j >= 1 and list[j].value < v do j = j - 1 end
          table.insert(list, j + 1, hit)
          list[K + 1] = nil
        end
      end
    end
  end
  local result = {}
  for i, m in ipairs(maps) do result[i] = {map = m, hits = lists[m]} end
  return result
end

project.EVERY_UNIT = {1, math.maxinteger, 1, math.maxinteger}

-- The units of layer k searched by viz.top: every unit, or with `inside` those whose
-- receptive field lies inside the H×W input (first + (y-1)·stride >= 1 and
-- first + (y-1)·stride + size - 1 <= H).
function project.unitSpan(fname, model, k, inside, H, W)
  if not inside then return project.EVERY_UNIT end
  local rf, span = project.receptiveField(model, k), {}
  for d, lim in ipairs {H, W} do
    local s = rf.stride[d]
    local lo = rf.first[d] >= 1 and 1 or (1 - rf.first[d] + s - 1) // s + 1
    local hi = (lim - rf.size[d] + 1 - rf.first[d]) // s + 1
    if hi < lo then
      check.fail(3, "%s: no unit of layer '%s' has its %dx%d receptive field inside the %dx%d images (opts.inside)",
        fname, common.layerName(model, k), rf.size[1], rf.size[2], H, W)
    end
    span[2 * d - 1], span[2 * d] = lo, hi
  end
  return span
end

local function mapsOf(fname, maps, c)
  if maps == nil then
    maps = {}
    for m = 1, c do maps[m] = m end
    return maps
  end
  if type(maps) ~= "table" or #maps == 0 then
    check.fail(3, "%s: opts.maps must be a non-empty list of feature map numbers, got %s", fname, type(maps))
  end
  for i, m in ipairs(maps) do check.integer(fname, ("opts.maps[%d]"):format(i), m, 1, c) end
  return maps
end

-- The number of feature maps of layer k: the channel count of the last Conv2d at or below it.
local function channelsAt(model, k)
  for i = k, 1, -1 do
    local m = model.modules[i]
    if m.typename == "Conv2d" then return m.outC end
  end
end

function project.mapsAt(fname, model, k, x, maps)
  local c = channelsAt(model, k) or x:size(2)
  return mapsOf(fname, maps, c)
end

--- viz.insideUnits(model, layer, H, W) -> {y0, y1, x0, x1}: the units of the layer (rows
-- y0..y1, columns x0..x1 of its maps) whose receptive field lies inside an H×W input, the
-- units viz.top searches with opts.inside.
-- @function insideUnits
function project.insideUnits(model, layer, H, W)
  local fname = "viz.insideUnits"
  common.checkModel(fname, model)
  local k = common.layerOf(fname, model, layer, true, "layer")
  check.integer(fname, "H", H, 1)
  check.integer(fname, "W", W, 1)
  return project.unitSpan(fname, model, k, true, H, W)
end

--- viz.top(model, images, opts) -> a list, one entry per map: {map = m, hits = {{index,
-- value, y, x}, ...}}, the k images (by index into images) whose spatial maximum in map m
-- is strongest, strongest first, with that maximum's value and position. In a rectified
-- layer (a ReLU, or max-pooling over one) only positive maxima count: a map that never
-- fires on the images has no hits (a dead map).
-- opts.layer (required, in the convolutional stack), opts.k (default 9), opts.maps (a list;
-- default all), opts.batch (images per forward, default 500), opts.inside (only the units
-- whose receptive field lies inside the image, away from the zero padding; default false).
-- @function top
function project.top(model, images, opts)
  local fname = "viz.top"
  opts = check.options(fname, opts, {"layer", "k", "maps", "batch", "inside"})
  common.checkModel(fname, model)
  local k = common.layerOf(fname, model, opts.layer, true)
  local x = common.checkImages(fname, images, "images", 4, "(N,C,H,W)")
  local K = check.integer(fname, "opts.k", opts.k or 9, 1)
  local batch = check.integer(fname, "opts.batch", opts.batch or 500, 1)
  local span = project.unitSpan(fname, model, k, opts.inside, x:size(3), x:size(4))
  return project.topChecked(model, k, x, K, project.mapsAt(fname, model, k, x, opts.maps), batch, span)
end

-- Projections of hits ({index, map, y, x} each) and the input patches under them, both
-- cropped to the receptive field (clamped at the borders): two lists of (C,h,w) tensors.
function project.projectHits(model, k, x, hits, rule, rf)
  local idx = lunet.zeros(#hits, "int")
  local maps, positions = {}, {}
  for i, hit in ipairs(hits) do
    idx[i] = hit.index
    maps[i], positions[i] = hit.map, {hit.y, hit.x}
  end
  local batch = x:index(idx)
  local proj = projectChecked("viz", model, k, batch, maps, positions, rule)
  local H, W = x:size(3), x:size(4)
  local projs, patches = {}, {}
  for i, hit in ipairs(hits) do
    local top, left, h, w = project.window(rf, hit.y, hit.x, H, W)
    projs[i] = image.crop(proj[i], top, left, h, w)
    patches[i] = image.crop(batch[i], top, left, h, w)
  end
  return projs, patches
end

--- viz.topGrid(path, model, images, opts) -> the top list (as viz.top), and the grid as a
-- (C,H,W) tensor without its labels (as plot.imageGrid returns it). Writes a PNG with
-- one row per map: k pairs of (projection, input patch), strongest first, each cropped to
-- the unit's receptive field (clamped at the borders). Projections are shown on a
-- symmetric scale (zero mid-grey), the patches as opts.patches says; a missing hit (fewer
-- than k images) is a grey tile. Pairs are separated by half an input pixel.
-- opts: layer, maps, k, batch, inside as viz.top; top (a viz.top result for this layer,
-- reused); rule (as viz.project); patches: "minmax" (default: each patch stretched to its
-- own min..max) or "none" (the values as they are, clamped to [0,1]); scale (pixels per
-- input pixel, default: tiles of at least 40 px); title (above the grid). Each row is
-- labelled with its map number, "(dead)" after it when the map has no hit.
-- @function topGrid
function project.topGrid(path, model, images, opts)
  local fname = "viz.topGrid"
  opts = check.options(fname, opts, {"layer", "k", "maps", "batch", "inside", "top", "rule", "patches", "scale",
    "title"})
  common.checkModel(fname, model)
  local k = common.layerOf(fname, model, opts.layer, true)
  local x = common.checkImages(fname, images, "images", 4, "(N,C,H,W)")
  local rule = project.checkRule(fname, opts.rule)
  local patchMode = opts.patches or "minmax"
  if patchMode ~= "minmax" and patchMode ~= "none" then
    check.fail(2, "%s: opts.patches must be \"minmax\" or \"none\", got %s", fname, tostring(patchMode))
  end
  local top = opts.top
  if top == nil then
    local K = check.integer(fname, "opts.k", opts.k or 9, 1)
    local batch = check.integer(fname, "opts.batch", opts.batch or 500, 1)
    local span = project.unitSpan(fname, model, k, opts.inside, x:size(3), x:size(4))
    top = project.topChecked(model, k, x, K, project.mapsAt(fname, model, k, x, opts.maps), batch, span)
  elseif type(top) ~= "table" or #top == 0 or type(top[1].hits) ~= "table" then
    check.fail(2, "%s: opts.top must be a result of viz.top, got %s", fname, type(top))
  elseif opts.maps then
    local want = {}
    for _, m in ipairs(project.mapsAt(fname, model, k, x, opts.maps)) do want[m] = true end
    local kept = {}
    for _, e in ipairs(top) do
      if want[e.map] then kept[#kept + 1] = e end
    end
    top = kept
  end
  local K = 0
  for _, e in ipairs(top) do K = math.max(K, #e.hits) end
  K = math.max(K, opts.k or 0)
  local rf = project.receptiveField(model, k)
  local th, tw = math.min(rf.size[1], x:size(3)), math.min(rf.size[2], x:size(4))
  -- one tile per hit: the projection and the patch side by side
  local c = x:size(2)
  local blank = lunet.full({c, th, 2 * tw}, 0.5)
  local tiles, rowLabels = {}, {}
  for r, e in ipairs(top) do
    rowLabels[r] = ("map %d%s"):format(e.map, #e.hits == 0 and " (dead)" or "")
    local hits = {}
    for i, hit in ipairs(e.hits) do
      hits[i] = {index = hit.index, map = e.map, y = hit.y, x = hit.x}
    end
    local projs, patches = {}, {}
    if #hits > 0 then projs, patches = project.projectHits(model, k, x, hits, rule, rf) end
    for i = 1, K do
      if projs[i] then
        local pair = lunet.zeros(c, th, 2 * tw)
        pair:narrow(3, 1, tw):copy(image.normalize(projs[i], "symmetric"))
        pair:narrow(3, tw + 1, tw):copy(patchMode == "none" and patches[i] or image.normalize(patches[i], "minmax"))
        tiles[#tiles + 1] = pair
      else
        tiles[#tiles + 1] = blank
      end
    end
  end
  local grid = plot.imageGrid(path, tiles, {normalize = "none", ncol = K, scale = opts.scale,
    padding = math.max(2, (opts.scale or math.ceil(40 / math.min(th, tw))) // 2), title = opts.title,
    rowLabels = rowLabels})
  return top, grid
end

return project
