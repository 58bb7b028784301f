--- lunet.data.transforms: augmentation and normalization of image batches, for a
-- Loader's `transform` option (or to call directly). Each transform is a function of a
-- float batch x (N,C,H,W) that returns the result in a buffer of its own, which its next
-- call overwrites (as loader:next()'s batches are: clone it to keep it), so a training loop
-- allocates nothing per batch; the input is never changed. The random ones draw per image
-- from lunet's generator (from the loader's own when it has a seed) and do their work in
-- one C pass (lunet.core.crop_flip), not per image from Lua.
--
--   local T = lunet.data.transforms
--   local augment = T.Compose{T.RandomCrop(32, {padding = 4}), T.RandomHorizontalFlip(),
--                             T.Normalize({0.49, 0.48, 0.45}, {0.25, 0.24, 0.26})}
--   local loader = lunet.data.Loader(train, {batchSize = 128, transform = augment})
-- A transform raises for an input that is not a 4-D float tensor, naming itself.
-- @module lunet.data.transforms
local lunet = require "lunet"
local core = require "lunet.core"
local check = require "lunet.check"

local transforms = {}

local function checkBatch(fname, x)
  check.tensor(fname, "input", x, {rank = 4, dtype = "float", layout = "(N,C,H,W)"}, 3)
  return x:isContiguous() and x or x:contiguous()
end

-- n integers drawn uniformly from 0..hi, as an int tensor.
local function draws(n, hi)
  return lunet.rand(n):mul_(hi + 1):floor_():clamp_(0, hi):int()
end

-- A size given as n or {h, w}.
local function size2(fname, s)
  if math.type(s) == "integer" then s = {s, s} end
  if type(s) ~= "table" or #s ~= 2 then check.fail(4, "%s: size must be an integer or {h, w}, got %s", fname, tostring(s)) end
  return check.integer(fname, "height", s[1], 1, nil, 4), check.integer(fname, "width", s[2], 1, nil, 4)
end

--- RandomCrop(size [, {padding = 0, fill = 0}]): a size (n or {h, w}) window at a uniform
-- random place of each image padded by `padding` pixels of `fill` on every side
-- (torchvision's RandomCrop with padding, the CIFAR recipe: 32 with padding 4).
-- x (N,C,H,W) float -> (N,C,h,w). Raises for a size that is not a positive integer or
-- pair, an unknown option, a negative padding; the transform raises when the crop does
-- not fit the padded image.
-- @tparam integer|{int,int} size n or {h, w}
-- @tparam[opt] table opts `padding` (0), `fill` (0)
-- @treturn function the transform, x -> a new batch
-- @usage local crop = lunet.data.transforms.RandomCrop(28, {padding = 2})
function transforms.RandomCrop(size, opts)
  local oh, ow = size2("RandomCrop", size)
  opts = check.options("RandomCrop", opts, {"padding", "fill"}, 2)
  local pad = check.integer("RandomCrop", "padding", opts.padding or 0, 0, nil, 2)
  local fill = check.number("RandomCrop", "fill", opts.fill or 0, nil, nil, 2)
  local out = lunet.zeros(0)
  return function(x)
    x = checkBatch("RandomCrop", x)
    local n, h, w = x:size(1), x:size(3), x:size(4)
    if h + 2 * pad < oh or w + 2 * pad < ow then
      check.fail(2, "RandomCrop: a %dx%d crop does not fit a %dx%d image padded by %d", oh, ow, h, w, pad)
    end
    if out:sharesStorage(x) then out = lunet.zeros(0) end -- fed its own output
    return core.crop_flip(x, out, draws(n, h + 2 * pad - oh), draws(n, w + 2 * pad - ow), nil, pad, oh, ow, fill)
  end
end

--- RandomHorizontalFlip([{p = 0.5}]): mirrors each image left-right with probability p;
-- x (N,C,H,W) float -> a new batch of the same shape. Raises for an unknown option or a p
-- outside [0, 1].
-- @tparam[opt] table opts `p`
-- @treturn function the transform
-- @usage local flip = lunet.data.transforms.RandomHorizontalFlip{p = 0.5}
function transforms.RandomHorizontalFlip(opts)
  opts = check.options("RandomHorizontalFlip", opts, {"p"}, 2)
  local p = check.number("RandomHorizontalFlip", "p", opts.p or 0.5, 0, 1, 2)
  local out = lunet.zeros(0)
  return function(x)
    x = checkBatch("RandomHorizontalFlip", x)
    local n, h, w = x:size(1), x:size(3), x:size(4)
    local flip = lunet.zeros(n):bernoulli_(p):int()
    local zero = lunet.zeros(n, "int")
    if out:sharesStorage(x) then out = lunet.zeros(0) end -- fed its own output
    return core.crop_flip(x, out, zero, zero, flip, 0, h, w)
  end
end

--- Normalize(mean, std): (x - mean[c]) / std[c] per channel c; mean and std lists (or 1-D
-- tensors) of C numbers, std > 0; x (N,C,H,W) float -> a new batch. Raises for a mean or
-- std that is not a list of numbers, a std <= 0, lengths that differ; the transform raises
-- for an input with another channel count.
-- @tparam {number,...}|Tensor mean per channel
-- @tparam {number,...}|Tensor std per channel
-- @treturn function the transform
-- @usage local norm = lunet.data.transforms.Normalize({0.5}, {0.25})
function transforms.Normalize(mean, std)
  local function vector(what, v)
    if lunet.isTensor(v) then v = v:totable() end
    if type(v) ~= "table" or #v == 0 then check.fail(4, "Normalize: %s must be a list of numbers, got %s", what, type(v)) end
    for i, e in ipairs(v) do
      check.number("Normalize", ("%s[%d]"):format(what, i), e, what == "std" and 0 or nil, nil, 4, "(]")
    end
    return lunet.tensor(v)
  end
  local m, s = vector("mean", mean), vector("std", std)
  if m:size(1) ~= s:size(1) then
    check.fail(2, "Normalize: mean has %d entries, std %d", m:size(1), s:size(1))
  end
  local c = m:size(1)
  m, s = m:view(1, c, 1, 1), s:view(1, c, 1, 1)
  local out = lunet.zeros(0)
  return function(x)
    check.tensor("Normalize", "input", x, {rank = 4, dtype = "float", layout = "(N,C,H,W)"}, 2)
    if x:size(2) ~= c then check.fail(2, "Normalize: input has %d channels, mean and std %d", x:size(2), c) end
    if out:shapeString() ~= x:shapeString() or out:sharesStorage(x) then out = lunet.zeros(x:size()) end
    return out:copy(x):sub_(m):div_(s)
  end
end

--- Compose{t1, t2, ...}: applies the transforms in order. Raises for an empty list or an
-- entry that is not a function.
-- @tparam {function,...} list the transforms
-- @treturn function the transform
-- @usage local t = T.Compose{T.RandomHorizontalFlip(), T.Normalize({0.5}, {0.5})}
function transforms.Compose(list)
  if type(list) ~= "table" or #list == 0 then check.fail(2, "Compose: expected a list of transforms") end
  for i, t in ipairs(list) do
    if type(t) ~= "function" then check.fail(2, "Compose: entry %d must be a transform (a function), got %s", i, type(t)) end
  end
  return function(x)
    for _, t in ipairs(list) do x = t(x) end
    return x
  end
end

return transforms
