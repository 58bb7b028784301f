-- lunet.viz.common: what the files of lunet.viz share: checks of the model, images and
-- layers they are given, running the model part way or in evaluation mode, and reading
-- its outputs. (Not a public module: lunet.viz is.)
local check = require "lunet.check"
local nn = require "lunet.nn"

local common = {}

function common.checkModel(fname, model)
  if not (nn.isModule(model) and type(model.modules) == "table" and type(model.names) == "table") then
    check.fail(3, "%s: model must be an nn.Sequential, got %s", fname,
      nn.isModule(model) and tostring(model) or type(model))
  end
  if #model.modules == 0 then check.fail(3, "%s: the model has no modules", fname) end
end

-- A non-empty float tensor of the given rank, made contiguous.
function common.checkImages(fname, x, what, rank, layout)
  return check.tensor(fname, what, x, {rank = rank, layout = layout, dtype = "float", nonEmpty = true}, 3)
    :contiguous()
end

local STACK = {Conv2d = true, ReLU = true, MaxPool2d = true}

-- Modules 1..depth are the convolutional stack.
function common.stackDepth(model)
  local n = 0
  while model.modules[n + 1] and STACK[model.modules[n + 1].typename] do n = n + 1 end
  return n
end

function common.layerName(model, i)
  return model.names[i] or ("module " .. i)
end

-- The module index of opts.layer (a name or an index); with convOnly, it must lie in the
-- convolutional stack.
function common.layerOf(fname, model, layer, convOnly, what)
  what = what or "opts.layer"
  local n, idx = #model.modules, nil
  if math.type(layer) == "integer" then
    if layer < 1 or layer > n then
      check.fail(3, "%s: %s index %d out of range (the model has %d modules)", fname, what, layer, n)
    end
    idx = layer
  elseif type(layer) == "string" then
    if model.byName[layer] == nil then
      local names = {}
      for i = 1, n do names[#names + 1] = model.names[i] end
      check.fail(3, "%s: no layer named '%s' (layers: %s)", fname, layer,
        #names > 0 and table.concat(names, ", ") or "none is named")
    end
    local m = model:find(layer)
    for i = 1, n do
      if model.modules[i] == m then idx = i end
    end
  else
    check.fail(3, "%s: %s must be a layer name or module index, got %s", fname, what, tostring(layer))
  end
  if convOnly then
    local depth = common.stackDepth(model)
    if depth == 0 then
      check.fail(3, "%s: the model must begin with Conv2d, ReLU and MaxPool2d layers; its module 1 is %s",
        fname, model.modules[1].typename)
    end
    if idx > depth then
      check.fail(3, "%s: layer '%s' (module %d, %s) is past the convolutional stack, which ends at module %d (%s)",
        fname, common.layerName(model, idx), idx, model.modules[idx].typename, depth, common.layerName(model, depth))
    end
  end
  return idx
end

-- A list of layers (names or indices) -> their indices and names.
function common.layersOf(fname, model, layers)
  if type(layers) ~= "table" or #layers == 0 then
    check.fail(3, "%s: opts.layers must be a non-empty list of layer names or indices, got %s", fname,
      type(layers) == "table" and "an empty list" or type(layers))
  end
  local idx, names = {}, {}
  for i, l in ipairs(layers) do
    idx[i] = common.layerOf(fname, model, l, false, ("opts.layers[%d]"):format(i))
    names[i] = type(l) == "string" and l or common.layerName(model, idx[i])
  end
  return idx, names
end

function common.forwardTo(model, k, x)
  for i = 1, k do x = model.modules[i]:forward(x) end
  return x
end

-- The signal g at the output of module k, taken down to the output of module `stop` (0: to
-- the model's input) through the inputs and switches of the last forward: Conv2d, MaxPool2d
-- and ReLU by their project methods (a ReLU by `rule`, nn.ReLU.projectRules; "saliency" is
-- its gradient), every other module by its gradient (updateGradInput). A new tensor.
function common.backFrom(model, k, stop, g, rule)
  for i = k, stop + 1, -1 do
    local m = model.modules[i]
    if m.project then g = m:project(g, rule) else g = m:updateGradInput(m.input, g) end
  end
  return g:clone()
end


-- The model's output as probabilities (N,K): as they are after a Softmax, exp'd after a
-- LogSoftmax, otherwise (logits) through a softmax.
function common.probabilities(fname, model, out)
  if out:dim() ~= 2 then
    check.fail(4, "%s: the model's output must be 2-D (N,classes), got %d-D %s", fname, out:dim(), out:shapeString())
  end
  local last = model.modules[#model.modules].typename
  if last == "Softmax" then return out end
  if last == "LogSoftmax" then return out:exp() end
  return nn.Softmax():forward(out)
end

-- fn() with the model in evaluation mode, then the mode it had.
function common.evaluating(model, fn)
  local was = model.training
  model:evaluate()
  local ok, a, b = pcall(fn)
  if was then model:train() end
  if not ok then error(a, 0) end
  return a, b
end

function common.checkLabel(fname, what, v, classes)
  if math.type(v) ~= "integer" or v < 1 or v > classes then
    check.fail(4, "%s: %s must be a class number in 1..%d, got %s", fname, what, classes, tostring(v))
  end
  return v
end

-- Cover the region {top, left, h, w} (1-based, already clipped) of x (C,H,W) with fill:
-- a number, or a (C,H,W) tensor whose values in the region are used.
function common.cover(x, region, fill)
  local r = x:narrow(2, region[1], region[3]):narrow(3, region[2], region[4])
  if type(fill) == "number" then
    r:fill(fill)
  else
    r:copy(fill:narrow(2, region[1], region[3]):narrow(3, region[2], region[4]))
  end
end

-- The output of module i as (N, D), a copy.
function common.features(model, i, n)
  return model.modules[i].output:contiguous():view(n, -1):clone()
end

return common
