--- lunet.viz: the methods of Zeiler & Fergus, "Visualizing and Understanding Convolutional
-- Networks" (2014), runnable on any nn.Sequential whose first layers are Conv2d, ReLU and
-- MaxPool2d (its "convolutional stack": the modules before the first other one, e.g. Flatten).
--
--   local viz = require "lunet.viz"
--   local proj, where = viz.project(model, images, {layer = "conv2"})      -- deconvnet
--   viz.project(model, images, {layer = "conv2", map = 5, rule = "guided"})  -- or "saliency"
--   local rf = viz.receptiveField(model, "conv2")   -- and viz.window(rf, y, x, H, W)
--   local top = viz.top(model, testImages, {layer = "conv1", k = 9})
--   viz.topGrid("top9_conv1.png", model, testImages, {layer = "conv1", top = top})
--   local occ = viz.occlusion(model, image, {label = 3, size = 6, stride = 2, layer = "conv2"})
--   local inv = viz.invariance(model, images, {transform = "rotate", amounts = {-30, 0, 30},
--                                              layers = {"pool1", "relu3"}, labels = labels})
--   local delta = viz.correspondence(model, images, {layers = {"pool2"}, region = {11, 11, 8, 8}})
--   local base = viz.correspondence(model, images, {layers = {"pool2"},
--                                   region = viz.randomRegions(images:size(1), 28, 28, 8, 8)})
--   local evo = viz.evolution{model = model, images = probe, layer = "conv1", maps = {1, 2, 3}}
--   train.classifier{..., onEval = function(it) evo:record(it) end}; evo:grid("evolution.png")
--
-- Projections (viz.project). The chosen activation (a layer, a feature map, a position) is
-- kept, every other activation of that layer set to zero, and the signal taken down the
-- stack to pixel space: a MaxPool2d unpools through the switches its forward recorded, a
-- Conv2d filters with its own filters transposed (conv2d_backward_input; no bias), and a
-- ReLU passes the signal by its rule:
--   "deconvnet"  relu(signal)                       (Zeiler & Fergus)
--   "saliency"   signal where the forward input > 0  (the gradient, Simonyan et al.)
--   "guided"     both                               (guided backpropagation, Springenberg et al.)
-- Nothing rectifies after the last filtering, so projections are signed: show them with a
-- symmetric scale (zero mid-grey). The signal starts as the activation's own value a, so
-- the "saliency" projection is a · ∂a/∂input.
--
-- Layers are named (model:add(module, name)) or given by module index. Batched functions take
-- images as (N,C,H,W); viz.occlusion takes one image (C,H,W). The functions run the model
-- (or its first layers) on the images, overwriting the modules' outputs; the ones that
-- compute class probabilities run it in evaluation mode and restore the mode afterwards.
local lunet = require "lunet"
local core = require "lunet.core"
local nn = require "lunet.nn"
local image = require "lunet.image"
local plot = require "lunet.plot"

local viz = {}

------------------------------------------------------------------------ arguments

local function fail(level, fmt, ...)
  error(string.format(fmt, ...), level + 1)
end


local function options(fname, opts, known)
  if opts == nil then return {} end
  if type(opts) ~= "table" then fail(3, "%s: options must be a table, got %s", fname, type(opts)) end
  local set = {}
  for _, k in ipairs(known) do set[k] = true end
  for k in pairs(opts) do
    if not set[k] then
      fail(3, "%s: unknown option %q (known: %s)", fname, tostring(k), table.concat(known, ", "))
    end
  end
  return opts
end

local function checkModel(fname, model)
  if not (nn.isModule(model) and type(model.modules) == "table" and type(model.names) == "table") then
    fail(3, "%s: model must be an nn.Sequential, got %s", fname,
      nn.isModule(model) and tostring(model) or type(model))
  end
  if #model.modules == 0 then fail(3, "%s: the model has no modules", fname) end
end

-- A float tensor of the given rank, contiguous.
local function checkImages(fname, x, what, rank, layout)
  if not lunet.isTensor(x) then fail(3, "%s: %s must be a tensor %s, got %s", fname, what, layout, type(x)) end
  if x:dim() ~= rank then
    fail(3, "%s: %s must be %d-D %s, got %d-D %s", fname, what, rank, layout, x:dim(), x:shapeString())
  end
  if x:dtype() ~= "float" then fail(3, "%s: %s must be a float tensor, got %s", fname, what, x:dtype()) end
  for d = 1, rank do
    if x:size(d) == 0 then fail(3, "%s: %s is empty %s", fname, what, x:shapeString()) end
  end
  return x:contiguous()
end

local STACK = {Conv2d = true, ReLU = true, MaxPool2d = true}

-- Modules 1..depth are the convolutional stack.
local function stackDepth(model)
  local n = 0
  while model.modules[n + 1] and STACK[model.modules[n + 1].typename] do n = n + 1 end
  return n
end

local function layerName(model, i)
  return model.names[i] or ("module " .. i)
end

-- The module index of opts.layer (a name or an index); with convOnly, it must lie in the
-- convolutional stack.
local function layerOf(fname, model, layer, convOnly, what)
  what = what or "opts.layer"
  local n, idx = #model.modules, nil
  if math.type(layer) == "integer" then
    if layer < 1 or layer > n then
      fail(3, "%s: %s index %d out of range (the model has %d modules)", fname, what, layer, n)
    end
    idx = layer
  elseif type(layer) == "string" then
    for i = 1, n do
      if model.names[i] == layer then idx = i end
    end
    if not idx then
      local names = {}
      for i = 1, n do names[#names + 1] = model.names[i] end
      fail(3, "%s: no layer named '%s' (layers: %s)", fname, layer,
        #names > 0 and table.concat(names, ", ") or "none is named")
    end
  else
    fail(3, "%s: %s must be a layer name or module index, got %s", fname, what, tostring(layer))
  end
  if convOnly then
    local depth = stackDepth(model)
    if depth == 0 then
      fail(3, "%s: the model must begin with Conv2d, ReLU and MaxPool2d layers; its module 1 is %s",
        fname, model.modules[1].typename)
    end
    if idx > depth then
      fail(3, "%s: layer '%s' (module %d, %s) is past the convolutional stack, which ends at module %d (%s)",
        fname, layerName(model, idx), idx, model.modules[idx].typename, depth, layerName(model, depth))
    end
  end
  return idx
end

-- A list of layers (names or indices) -> their indices and names.
local function layersOf(fname, model, layers)
  if type(layers) ~= "table" or #layers == 0 then
    fail(3, "%s: opts.layers must be a non-empty list of layer names or indices, got %s", fname,
      type(layers) == "table" and "an empty list" or type(layers))
  end
  local idx, names = {}, {}
  for i, l in ipairs(layers) do
    idx[i] = layerOf(fname, model, l, false, ("opts.layers[%d]"):format(i))
    names[i] = type(l) == "string" and l or layerName(model, idx[i])
  end
  return idx, names
end

local function checkInt(fname, what, v, lo, hi)
  if math.type(v) ~= "integer" or v < lo or (hi and v > hi) then
    fail(3, "%s: %s must be an integer %s, got %s", fname, what,
      hi and ("in %d..%d"):format(lo, hi) or (">= %d"):format(lo), tostring(v))
  end
  return v
end

------------------------------------------------------------------------ the stack, up and down

local function forwardTo(model, k, x)
  for i = 1, k do x = model.modules[i]:forward(x) end
  return x
end

-- How each rule passes a signal g down through a ReLU whose forward input was pre, into out.
local RULES = {
  deconvnet = function(_, g, out) return core.relu_forward(g, out) end,
  saliency = function(pre, g, out) return core.relu_backward(pre, g, out) end,
  guided = function(pre, g, out) return core.relu_backward(pre, g, out):relu_() end,
}

-- Buffers of the projections, per module (kept while the module lives): reused, since
-- allocating a fresh convolution workspace at every call costs more than the call.
local buffers = setmetatable({}, {__mode = "k"})

local function bufferOf(m)
  local b = buffers[m]
  if not b then
    b = {signal = lunet.zeros(0), work = lunet.zeros(0)}
    buffers[m] = b
  end
  return b
end

-- The signal g at the output of module k, taken down to the input of module 1 through the
-- last forward's switches and inputs; a new tensor.
local function backFrom(model, k, g, relu)
  for i = k, 1, -1 do
    local m = model.modules[i]
    local b = bufferOf(m)
    if m.typename == "Conv2d" then
      g = core.conv2d_backward_input(m.input, g, m.weight, b.signal, b.work, m.sH, m.sW, m.pH, m.pW)
    elseif m.typename == "MaxPool2d" then
      g = m:unpool(g, b.signal)
    else
      g = relu(m.input, g, b.signal)
    end
  end
  return g:clone()
end

-- opts.map or opts.position: given once (the same for every image) or as a list of n.
local function perImage(fname, what, v, isList, n)
  if isList then
    if #v ~= n then fail(3, "%s: %s as a list must have one entry per image (%d), got %d", fname, what, n, #v) end
    return v
  end
  local t = {}
  for i = 1, n do t[i] = v end
  return t
end

local function checkRule(fname, rule)
  local r = RULES[rule or "deconvnet"]
  if not r then
    fail(3, "%s: opts.rule must be \"deconvnet\", \"guided\" or \"saliency\", got %s", fname, tostring(rule))
  end
  return r
end

-- The projection itself, arguments checked: maps and positions are lists of n entries
-- (nil entries: the strongest).
local function projectChecked(fname, model, k, x, maps, positions, relu)
  local out = forwardTo(model, k, x)
  local n, c, h, w = out:size(1), out:size(2), out:size(3), out:size(4)
  local seed, where = lunet.zeros(n, c, h, w), {}
  for i = 1, n do
    local m, pos = maps[i], positions[i]
    if m ~= nil then checkInt(fname, "opts.map", m, 1, c) end
    if pos ~= nil then
      if type(pos) ~= "table" then
        fail(3, "%s: opts.position must be {y, x} or a list of them, got %s", fname, type(pos))
      end
      checkInt(fname, "opts.position y", pos[1], 1, h)
      checkInt(fname, "opts.position x", pos[2], 1, w)
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
    local v = out[i][m][y][xx]
    seed[i][m][y][xx] = v
    where[i] = {map = m, y = y, x = xx, value = v}
  end
  return backFrom(model, k, seed, relu), where
end

--- viz.project(model, images, opts) -> projections (N,C,H,W), where (a list: per image
-- {map, y, x, value}, the activation projected).
-- opts.layer: a layer of the convolutional stack (name or index; required).
-- opts.map: the feature map (an integer, or a list of one per image); default: the map
-- holding the image's strongest activation in the layer.
-- opts.position: {y, x} in the map (or a list of one per image); default: the map's strongest.
-- opts.rule: "deconvnet" (default), "guided" or "saliency" (see the top of this file).
function viz.project(model, images, opts)
  local fname = "viz.project"
  opts = options(fname, opts, {"layer", "map", "position", "rule"})
  checkModel(fname, model)
  local k = layerOf(fname, model, opts.layer, true)
  local relu = checkRule(fname, opts.rule)
  local x = checkImages(fname, images, "images", 4, "(N,C,H,W)")
  local n = x:size(1)
  local maps = perImage(fname, "opts.map", opts.map, type(opts.map) == "table", n)
  local pos = opts.position
  local positions = perImage(fname, "opts.position", pos, type(pos) == "table" and type(pos[1]) == "table", n)
  return projectChecked(fname, model, k, x, maps, positions, relu)
end

------------------------------------------------------------------------ receptive fields

--- viz.receptiveField(model, layer) -> rf, where unit (y, x) (1-based) of the layer's
-- output sees the input rows rf.first[1] + (y-1)·rf.stride[1] .. + rf.size[1] - 1 and the
-- columns likewise with index 2 (1-based input coordinates; padding can put them past the
-- border). Composed through the stack: a window of k, stride s, padding p turns
-- (first, stride, size) into (first - p·stride, stride·s, size + (k-1)·stride).
function viz.receptiveField(model, layer)
  local fname = "viz.receptiveField"
  checkModel(fname, model)
  local k = layerOf(fname, model, layer, true, "layer")
  local first, stride, size = {1, 1}, {1, 1}, {1, 1}
  for i = 1, k do
    local m = model.modules[i]
    if m.typename ~= "ReLU" then
      local kk, s, p = {m.kH, m.kW}, {m.sH, m.sW}, {m.pH, m.pW}
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
function viz.window(rf, y, x, H, W)
  local out, pos, lim = {}, {y, x}, {H, W}
  for d = 1, 2 do
    local len = math.min(rf.size[d], lim[d])
    local start = rf.first[d] + (pos[d] - 1) * rf.stride[d]
    out[2 * d - 1] = math.max(1, math.min(start, lim[d] - len + 1))
    out[2 * d] = len
  end
  return out[1], out[3], out[2], out[4]
end

------------------------------------------------------------------------ top-k

-- The k strongest (one per image, by spatial maximum) of the given maps of layer k, over
-- the units in rows span[1]..span[2] and columns span[3]..span[4] (clipped to the maps).
local function topChecked(model, k, x, K, maps, batch, span)
  local n = x:size(1)
  local lists = {}
  for _, m in ipairs(maps) do lists[m] = {} end
  for i0 = 1, n, batch do
    local b = math.min(batch, n - i0 + 1)
    local out = forwardTo(model, k, x:narrow(1, i0, b))
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
        if #list < K or v > list[#list].value then
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

local EVERY_UNIT = {1, math.maxinteger, 1, math.maxinteger}

-- The units of layer k searched by viz.top: every unit, or with `inside` those whose
-- receptive field lies inside the H×W input (first + (y-1)·stride >= 1 and
-- first + (y-1)·stride + size - 1 <= H).
local function unitSpan(fname, model, k, inside, H, W)
  if not inside then return EVERY_UNIT end
  local rf, span = viz.receptiveField(model, k), {}
  for d, lim in ipairs {H, W} do
    local s = rf.stride[d]
    local lo = rf.first[d] >= 1 and 1 or (1 - rf.first[d] + s - 1) // s + 1
    local hi = (lim - rf.size[d] + 1 - rf.first[d]) // s + 1
    if hi < lo then
      fail(3, "%s: no unit of layer '%s' has its %dx%d receptive field inside the %dx%d images (opts.inside)",
        fname, layerName(model, k), rf.size[1], rf.size[2], H, W)
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
    fail(3, "%s: opts.maps must be a non-empty list of feature map numbers, got %s", fname, type(maps))
  end
  for i, m in ipairs(maps) do checkInt(fname, ("opts.maps[%d]"):format(i), m, 1, c) end
  return maps
end

-- The number of feature maps of layer k: the channel count of the last Conv2d at or below it.
local function channelsAt(model, k)
  for i = k, 1, -1 do
    local m = model.modules[i]
    if m.typename == "Conv2d" then return m.outC end
  end
end

local function mapsAt(fname, model, k, x, maps)
  local c = channelsAt(model, k) or x:size(2)
  return mapsOf(fname, maps, c)
end

--- viz.top(model, images, opts) -> a list, one entry per map: {map = m, hits = {{index,
-- value, y, x}, ...}}, the k images (by index into images) whose spatial maximum in map m
-- is strongest, strongest first, with that maximum's value and position.
-- opts.layer (required, in the convolutional stack), opts.k (default 9), opts.maps (a list;
-- default all), opts.batch (images per forward, default 500), opts.inside (only the units
-- whose receptive field lies inside the image, away from the zero padding; default false).
function viz.top(model, images, opts)
  local fname = "viz.top"
  opts = options(fname, opts, {"layer", "k", "maps", "batch", "inside"})
  checkModel(fname, model)
  local k = layerOf(fname, model, opts.layer, true)
  local x = checkImages(fname, images, "images", 4, "(N,C,H,W)")
  local K = checkInt(fname, "opts.k", opts.k or 9, 1)
  local batch = checkInt(fname, "opts.batch", opts.batch or 500, 1)
  local span = unitSpan(fname, model, k, opts.inside, x:size(3), x:size(4))
  return topChecked(model, k, x, K, mapsAt(fname, model, k, x, opts.maps), batch, span)
end

-- Projections of hits ({index, map, y, x} each) and the input patches under them, both
-- cropped to the receptive field (clamped at the borders): two lists of (C,h,w) tensors.
local function projectHits(model, k, x, hits, relu, rf)
  local idx = lunet.zeros(#hits, "int")
  local maps, positions = {}, {}
  for i, hit in ipairs(hits) do
    idx[i] = hit.index
    maps[i], positions[i] = hit.map, {hit.y, hit.x}
  end
  local batch = x:index(idx)
  local proj = projectChecked("viz", model, k, batch, maps, positions, relu)
  local H, W = x:size(3), x:size(4)
  local projs, patches = {}, {}
  for i, hit in ipairs(hits) do
    local top, left, h, w = viz.window(rf, hit.y, hit.x, H, W)
    projs[i] = image.crop(proj[i], top, left, h, w)
    patches[i] = image.crop(batch[i], top, left, h, w)
  end
  return projs, patches
end

--- viz.topGrid(path, model, images, opts) -> the top list (as viz.top). Writes a PNG with
-- one row per map: k pairs of (projection, input patch), strongest first, each cropped to
-- the unit's receptive field (clamped at the borders). Projections are shown on a
-- symmetric scale (zero mid-grey), the patches as opts.patches says; a missing hit (fewer
-- than k images) is a grey tile. Pairs are separated by half an input pixel.
-- opts: layer, maps, k, batch, inside as viz.top; top (a viz.top result for this layer,
-- reused); rule (as viz.project); patches: "minmax" (default: each patch stretched to its
-- own min..max) or "none" (the values as they are, clamped to [0,1]); scale (pixels per
-- input pixel, default: tiles of at least 40 px).
function viz.topGrid(path, model, images, opts)
  local fname = "viz.topGrid"
  opts = options(fname, opts, {"layer", "k", "maps", "batch", "inside", "top", "rule", "patches", "scale"})
  checkModel(fname, model)
  local k = layerOf(fname, model, opts.layer, true)
  local x = checkImages(fname, images, "images", 4, "(N,C,H,W)")
  local relu = checkRule(fname, opts.rule)
  local patchMode = opts.patches or "minmax"
  if patchMode ~= "minmax" and patchMode ~= "none" then
    fail(2, "%s: opts.patches must be \"minmax\" or \"none\", got %s", fname, tostring(patchMode))
  end
  local top = opts.top
  if top == nil then
    local K = checkInt(fname, "opts.k", opts.k or 9, 1)
    local batch = checkInt(fname, "opts.batch", opts.batch or 500, 1)
    local span = unitSpan(fname, model, k, opts.inside, x:size(3), x:size(4))
    top = topChecked(model, k, x, K, mapsAt(fname, model, k, x, opts.maps), batch, span)
  elseif type(top) ~= "table" or #top == 0 or type(top[1].hits) ~= "table" then
    fail(2, "%s: opts.top must be a result of viz.top, got %s", fname, type(top))
  elseif opts.maps then
    local want = {}
    for _, m in ipairs(mapsAt(fname, model, k, x, opts.maps)) do want[m] = true end
    local kept = {}
    for _, e in ipairs(top) do
      if want[e.map] then kept[#kept + 1] = e end
    end
    top = kept
  end
  local K = 0
  for _, e in ipairs(top) do K = math.max(K, #e.hits) end
  K = math.max(K, opts.k or 0)
  local rf = viz.receptiveField(model, k)
  local th, tw = math.min(rf.size[1], x:size(3)), math.min(rf.size[2], x:size(4))
  -- one tile per hit: the projection and the patch side by side
  local c = x:size(2)
  local blank = lunet.full({c, th, 2 * tw}, 0.5)
  local tiles = {}
  for _, e in ipairs(top) do
    local hits = {}
    for i, hit in ipairs(e.hits) do
      hits[i] = {index = hit.index, map = e.map, y = hit.y, x = hit.x}
    end
    local projs, patches = {}, {}
    if #hits > 0 then projs, patches = projectHits(model, k, x, hits, relu, rf) end
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
  plot.imageGrid(path, tiles, {normalize = "none", ncol = K, scale = opts.scale,
    padding = math.max(2, (opts.scale or math.ceil(40 / math.min(th, tw))) // 2)})
  return top
end

------------------------------------------------------------------------ class probabilities

-- The model's output as probabilities (N,K): as they are after a Softmax, exp'd after a
-- LogSoftmax, otherwise (logits) through a softmax.
local function probabilities(fname, model, out)
  if out:dim() ~= 2 then
    fail(4, "%s: the model's output must be 2-D (N,classes), got %d-D %s", fname, out:dim(), out:shapeString())
  end
  local last = model.modules[#model.modules].typename
  if last == "Softmax" then return out end
  if last == "LogSoftmax" then return out:exp() end
  return core.softmax_forward(out, lunet.zeros(0))
end

-- fn() with the model in evaluation mode, then the mode it had.
local function evaluating(model, fn)
  local was = model.training
  model:evaluate()
  local ok, a, b = pcall(fn)
  if was then model:train() end
  if not ok then error(a, 0) end
  return a, b
end

local function checkLabel(fname, what, v, classes)
  if math.type(v) ~= "integer" or v < 1 or v > classes then
    fail(4, "%s: %s must be a class number in 1..%d, got %s", fname, what, classes, tostring(v))
  end
  return v
end

------------------------------------------------------------------------ occlusion

-- Cover the region {top, left, h, w} (1-based, already clipped) of x (C,H,W) with fill:
-- a number, or a (C,H,W) tensor whose values in the region are used.
local function cover(x, region, fill)
  local r = x:narrow(2, region[1], region[3]):narrow(3, region[2], region[4])
  if type(fill) == "number" then
    r:fill(fill)
  else
    r:copy(fill:narrow(2, region[1], region[3]):narrow(3, region[2], region[4]))
  end
end

local function checkFill(fname, fill, c, h, w)
  if fill == nil then return 0.5 end
  if type(fill) == "number" then return fill end
  if lunet.isTensor(fill) and fill:dim() == 3 and fill:size(1) == c and fill:size(2) == h and fill:size(3) == w then
    return fill:float():contiguous()
  end
  fail(4, "%s: opts.fill must be a number or a (%d,%d,%d) tensor like the image, got %s", fname, c, h, w,
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
function viz.occlusion(model, img, opts)
  local fname = "viz.occlusion"
  opts = options(fname, opts, {"size", "stride", "fill", "label", "layer", "map", "batch"})
  checkModel(fname, model)
  local x = checkImages(fname, img, "image", 3, "(C,H,W)")
  local c, H, W = x:size(1), x:size(2), x:size(3)
  local size = checkInt(fname, "opts.size", opts.size or 6, 1)
  local stride = checkInt(fname, "opts.stride", opts.stride or 2, 1)
  local batch = checkInt(fname, "opts.batch", opts.batch or 256, 1)
  local fill = checkFill(fname, opts.fill, c, H, W)
  local li = opts.layer ~= nil and layerOf(fname, model, opts.layer, false) or nil
  local rows, cols = {}, {}
  for r = 1, H, stride do rows[#rows + 1] = r end
  for q = 1, W, stride do cols[#cols + 1] = q end
  local R, Q = #rows, #cols
  local lo = (size - 1) // 2
  local function span(centre, lim)
    local a, b = math.max(1, centre - lo), math.min(lim, centre - lo + size - 1)
    return a, b - a + 1
  end
  return evaluating(model, function()
    local base = probabilities(fname, model, model:forward(x:view(1, c, H, W)))
    local classes = base:size(2)
    local label = checkLabel(fname, "opts.label", opts.label or base[1]:argmax(), classes)
    local res = {label = label, rows = rows, cols = cols, prob = lunet.zeros(R, Q), class = lunet.zeros(R, Q, "int"),
      base = {prob = base[1][label], class = base[1]:argmax()}}
    local map
    if li then
      local out = model.modules[li].output
      if out:dim() ~= 4 then
        fail(3, "%s: opts.layer '%s' must output feature maps (N,C,H,W), got %d-D %s", fname,
          layerName(model, li), out:dim(), out:shapeString())
      end
      local h, w = out:size(3), out:size(4)
      if opts.map ~= nil then
        map = checkInt(fname, "opts.map", opts.map, 1, out:size(2))
      else
        map = (out[1]:view(-1):argmax() - 1) // (h * w) + 1
      end
      res.map, res.feature = map, lunet.zeros(R, Q)
      res.base.feature = out[1][map]:sum()
    elseif opts.map ~= nil then
      fail(3, "%s: opts.map needs opts.layer", fname)
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
        cover(copies[j], {top, left, h, w}, fill)
      end
      local p = probabilities(fname, model, model:forward(copies))
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

------------------------------------------------------------------------ invariance

local TRANSFORMS = {
  translate_x = function(x, a, fill) return image.translate(x, a, 0, fill) end,
  translate_y = function(x, a, fill) return image.translate(x, 0, a, fill) end,
  rotate = function(x, a, fill) return image.rotate(x, a, fill) end,
  scale = function(x, a, fill) return image.scale(x, a, fill) end,
}

local function checkLabels(fname, labels, n)
  if labels == nil then return nil end
  if lunet.isTensor(labels) then
    if labels:dim() ~= 1 or labels:size(1) ~= n then
      fail(4, "%s: opts.labels must be a 1-D tensor of %d class numbers, got %s", fname, n, labels:shapeString())
    end
    labels = labels:totable()
  end
  if type(labels) ~= "table" or #labels ~= n then
    fail(4, "%s: opts.labels must hold one class number per image (%d)", fname, n)
  end
  local t = {}
  for i, v in ipairs(labels) do t[i] = math.tointeger(v) or v end
  return t
end

-- The output of module i as (N, D), a copy.
local function features(model, i, n)
  return model.modules[i].output:contiguous():view(n, -1):clone()
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
function viz.invariance(model, images, opts)
  local fname = "viz.invariance"
  opts = options(fname, opts, {"transform", "amounts", "layers", "labels", "fill"})
  checkModel(fname, model)
  local x = checkImages(fname, images, "images", 4, "(N,C,H,W)")
  local n = x:size(1)
  local transform = opts.transform
  if type(transform) == "string" and TRANSFORMS[transform] then
    local t, fill = TRANSFORMS[transform], opts.fill or 0
    transform = function(xx, a) return t(xx, a, fill) end
  elseif type(transform) ~= "function" then
    fail(2, "%s: opts.transform must be \"translate_x\", \"translate_y\", \"rotate\", \"scale\" or a function, got %s",
      fname, tostring(transform))
  end
  local amounts = opts.amounts
  if type(amounts) ~= "table" or #amounts == 0 then
    fail(2, "%s: opts.amounts must be a non-empty list of numbers, got %s", fname, type(amounts))
  end
  for i, a in ipairs(amounts) do
    if type(a) ~= "number" then fail(2, "%s: opts.amounts[%d] must be a number, got %s", fname, i, type(a)) end
  end
  local idx, names = layersOf(fname, model, opts.layers)
  local labels = checkLabels(fname, opts.labels, n)
  return evaluating(model, function()
    local p0 = probabilities(fname, model, model:forward(x))
    if labels then
      for i, l in ipairs(labels) do checkLabel(fname, ("opts.labels[%d]"):format(i), l, p0:size(2)) end
    else
      labels = p0:argmax(2):totable()
    end
    local ref, norm = {}, {}
    for j, i in ipairs(idx) do
      ref[j] = features(model, i, n)
      norm[j] = ref[j]:pow(2):sum(2):sqrt():totable()
    end
    local res = {amounts = amounts, layers = names, labels = labels, distance = {}, distances = {},
      prob = {}, meanProb = {}}
    for _, name in ipairs(names) do res.distance[name], res.distances[name] = {}, {} end
    for a, amount in ipairs(amounts) do
      local xt = transform(x, amount)
      if not lunet.isTensor(xt) or xt:shapeString() ~= x:shapeString() then
        fail(3, "%s: opts.transform must return a tensor shaped like the images %s, got %s", fname, x:shapeString(),
          lunet.isTensor(xt) and xt:shapeString() or type(xt))
      end
      local p = probabilities(fname, model, model:forward(xt)):totable()
      local probs, sum = {}, 0
      for i = 1, n do
        probs[i] = p[i][labels[i]]
        sum = sum + probs[i]
      end
      res.prob[a], res.meanProb[a] = probs, sum / n
      for j, i in ipairs(idx) do
        local d = (features(model, i, n) - ref[j]):pow(2):sum(2):sqrt():totable()
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

------------------------------------------------------------------------ correspondence

-- A region: {top, left, h, w} (clipped to the image) or an (H,W) mask (1 = occluded).
local function checkRegion(fname, what, r, H, W)
  if lunet.isTensor(r) then
    if r:dim() ~= 2 or r:size(1) ~= H or r:size(2) ~= W then
      fail(4, "%s: %s as a mask must be (%d,%d) like the images, got %s", fname, what, H, W, r:shapeString())
    end
    return r:float():contiguous()
  end
  if type(r) ~= "table" or #r ~= 4 then
    fail(4, "%s: %s must be {top, left, h, w} or an (H,W) mask, got %s", fname, what, type(r))
  end
  for i = 1, 4 do
    if math.type(r[i]) ~= "integer" then
      fail(4, "%s: %s must hold four integers {top, left, h, w}, got %s at %d", fname, what, tostring(r[i]), i)
    end
  end
  local top, left = math.max(1, r[1]), math.max(1, r[2])
  local bottom, right = math.min(H, r[1] + r[3] - 1), math.min(W, r[2] + r[4] - 1)
  if bottom < top or right < left then
    fail(4, "%s: %s {%d, %d, %d, %d} lies outside the %dx%d image", fname, what, r[1], r[2], r[3], r[4], H, W)
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
function viz.correspondence(model, images, opts)
  local fname = "viz.correspondence"
  opts = options(fname, opts, {"layers", "region", "fill", "tolerance"})
  checkModel(fname, model)
  local x = checkImages(fname, images, "images", 4, "(N,C,H,W)")
  local n, H, W = x:size(1), x:size(3), x:size(4)
  if n < 2 then fail(2, "%s: needs at least 2 images to compare, got %d", fname, n) end
  local idx, names = layersOf(fname, model, opts.layers)
  local fill = opts.fill or 0.5
  if type(fill) ~= "number" then fail(2, "%s: opts.fill must be a number, got %s", fname, type(fill)) end
  local tol = opts.tolerance or 1e-6
  if type(tol) ~= "number" or tol < 0 then
    fail(2, "%s: opts.tolerance must be a number >= 0, got %s", fname, tostring(tol))
  end
  local region = opts.region
  local regions = {}
  if type(region) == "table" and #region == n and (type(region[1]) == "table" or lunet.isTensor(region[1])) then
    for i = 1, n do regions[i] = checkRegion(fname, ("opts.region[%d]"):format(i), region[i], H, W) end
  elseif region == nil then
    fail(2, "%s: opts.region is required ({top, left, h, w}, an (H,W) mask, or one per image)", fname)
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
      cover(occluded[i], r, fill)
    end
  end
  return evaluating(model, function()
    model:forward(x)
    local ref = {}
    for j, i in ipairs(idx) do ref[j] = features(model, i, n) end
    model:forward(occluded)
    local delta = {}
    for j, i in ipairs(idx) do
      local d = ref[j] - features(model, i, n)
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
function viz.randomRegions(n, H, W, h, w)
  local fname = "viz.randomRegions"
  checkInt(fname, "n", n, 1)
  checkInt(fname, "H", H, 1)
  checkInt(fname, "W", W, 1)
  checkInt(fname, "h", h, 1, H)
  checkInt(fname, "w", w, 1, W)
  local u = lunet.rand(n, 2):totable()
  local list = {}
  for i = 1, n do
    list[i] = {1 + math.min(H - h, math.floor(u[i][1] * (H - h + 1))),
               1 + math.min(W - w, math.floor(u[i][2] * (W - w + 1))), h, w}
  end
  return list
end

------------------------------------------------------------------------ feature evolution

local Evolution = {}
Evolution.__index = Evolution

--- viz.evolution(opts) -> a recorder of the strongest projections of chosen feature maps as
-- a model trains. opts.model, opts.images (N,C,H,W: the images searched for each map's
-- strongest activation), opts.layer (in the convolutional stack), opts.maps (default all),
-- opts.rule (as viz.project), opts.iterations (a list: record() records only at these;
-- default: at every call).
--   evo:record(iteration)   project now (e.g. from train.classifier's onEval hook)
--   evo:grid(path)          a PNG: one row per map, one column per recorded iteration,
--                           each tile cropped to the receptive field, symmetric scale
-- evo.snapshots: a list of {iteration = i, tiles = {(C,h,w) per map}, hits = {...}}.
function viz.evolution(opts)
  local fname = "viz.evolution"
  opts = options(fname, opts, {"model", "images", "layer", "maps", "rule", "iterations"})
  checkModel(fname, opts.model)
  local k = layerOf(fname, opts.model, opts.layer, true)
  local x = checkImages(fname, opts.images, "opts.images", 4, "(N,C,H,W)")
  local want
  if opts.iterations ~= nil then
    if type(opts.iterations) ~= "table" then
      fail(2, "%s: opts.iterations must be a list of iteration numbers, got %s", fname, type(opts.iterations))
    end
    want = {}
    for _, i in ipairs(opts.iterations) do want[i] = true end
  end
  return setmetatable({model = opts.model, layer = k, images = x, maps = mapsAt(fname, opts.model, k, x, opts.maps),
    relu = checkRule(fname, opts.rule), want = want, rf = viz.receptiveField(opts.model, k), snapshots = {}},
    Evolution)
end

function Evolution:record(iteration)
  if self.want and not self.want[iteration] then return false end
  local top = topChecked(self.model, self.layer, self.images, 1, self.maps, 500, EVERY_UNIT)
  local hits = {}
  for i, e in ipairs(top) do
    local h = e.hits[1]
    hits[i] = {index = h.index, map = e.map, y = h.y, x = h.x, value = h.value}
  end
  local tiles = projectHits(self.model, self.layer, self.images, hits, self.relu, self.rf)
  self.snapshots[#self.snapshots + 1] = {iteration = iteration, tiles = tiles, hits = hits}
  return true
end

function Evolution:grid(path)
  local s = self.snapshots
  if #s == 0 then error("viz.evolution: grid: nothing recorded yet (call record(iteration))", 2) end
  local tiles = {}
  for m = 1, #self.maps do
    for j = 1, #s do tiles[#tiles + 1] = s[j].tiles[m] end
  end
  plot.imageGrid(path, tiles, {normalize = "symmetric", ncol = #s})
end

return viz
