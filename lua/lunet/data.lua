--- lunet.data: data sets as tensors, and minibatches drawn from them.
--
--   local ds = data.imageFolder(dir, {cache = "results/x/train.lunet"})
--     -- dir/<class>/*.png → ds.images (N,C,H,W) float in [0,1], ds.labels (N) int 1-based,
--     -- ds.classes {name...}; a cache file makes the second load take a fraction of a second
--   local train, test = data.cifar10(dataDir, {cacheDir = "results/x"})
--   local loader = data.Loader(ds, {batchSize = 50, seed = 1})
--   local x, y = loader:next()   -- reshuffles at every epoch; buffers reused between calls
--   data.transforms: RandomCrop, RandomHorizontalFlip, Normalize, Compose (lunet/transforms.lua)
local lunet = require "lunet"
local check = require "lunet.check"
local lfs = require "lfs"

local data = {}

local CACHE_VERSION = 1

local function isdir(p) return lfs.attributes(p, "mode") == "directory" end

local function sortedEntries(dir, want)
  local out = {}
  for name in lfs.dir(dir) do
    if name:sub(1, 1) ~= "." and lfs.attributes(dir .. "/" .. name, "mode") == want then out[#out + 1] = name end
  end
  -- numeric names in numeric order ("2" before "10"), others alphabetically
  table.sort(out, function(a, b)
    local na, nb = tonumber(a), tonumber(b)
    if na and nb then return na < nb end
    return a < b
  end)
  return out
end

--- Load an image folder: dir/<class>/<image>.png, classes in sorted order.
-- opts.cache: a file to read the tensors from when it matches dir, and to write them to otherwise.
-- opts.classes: the class folder names expected, in label order; a folder missing or one
-- not in the list is an error (without it, a missing class would shift every later label).
function data.imageFolder(dir, opts)
  opts = check.options("imageFolder", opts, {"cache", "classes"})
  if type(dir) ~= "string" then error("imageFolder: dir must be a string, got " .. type(dir), 2) end
  if not isdir(dir) then error("imageFolder: no such directory: " .. dir, 2) end
  local classes = sortedEntries(dir, "directory")
  if #classes == 0 then error("imageFolder: " .. dir .. " holds no class folders", 2) end
  if opts.classes then
    local expected, found = table.concat(opts.classes, ","), {}
    for _, c in ipairs(classes) do found[c] = true end
    for _, c in ipairs(opts.classes) do
      if not found[c] then
        error(("imageFolder: class folder %s/%s is missing (expected classes %s)"):format(dir, c, expected), 2)
      end
      found[c] = false
    end
    for _, c in ipairs(classes) do
      if found[c] then
        error(("imageFolder: %s/%s is not one of the expected classes %s"):format(dir, c, expected), 2)
      end
    end
    classes = opts.classes
  end
  local files, labels = {}, {}
  for ci, c in ipairs(classes) do
    local n = 0
    for _, f in ipairs(sortedEntries(dir .. "/" .. c, "file")) do
      if f:lower():match("%.png$") then
        files[#files + 1] = dir .. "/" .. c .. "/" .. f
        labels[#labels + 1] = ci
        n = n + 1
      end
    end
    if n == 0 then error(("imageFolder: class folder %s/%s holds no PNG images"):format(dir, c), 2) end
  end
  local signature = ("%s|%d|%s"):format(dir, #files, table.concat(classes, ","))
  if opts.cache and lfs.attributes(opts.cache, "mode") == "file" then
    local ok, c = pcall(lunet.load, opts.cache)
    if ok and type(c) == "table" and c.version == CACHE_VERSION and c.signature == signature then
      return {images = c.images, labels = c.labels, classes = c.classes, dir = dir}
    end
  end
  local function load(f)
    local ok, img = pcall(lunet.image.load, f)
    if not ok then error(("imageFolder: cannot read %s: %s"):format(f, img), 3) end
    return img
  end
  local first = load(files[1])
  local C, H, W = first:size(1), first:size(2), first:size(3)
  local images = lunet.zeros(#files, C, H, W)
  for i, f in ipairs(files) do
    local img = load(f)
    if img:size(1) ~= C or img:size(2) ~= H or img:size(3) ~= W then
      error(("imageFolder: %s is %dx%dx%d but the first image (%s) is %dx%dx%d; all images must have one size")
        :format(f, img:size(1), img:size(2), img:size(3), files[1], C, H, W), 2)
    end
    images[i] = img
  end
  local ds = {images = images, labels = lunet.tensor(labels, "int"), classes = classes, dir = dir}
  if opts.cache then
    local d = opts.cache:match("^(.*)/[^/]*$")
    if d then data.mkdirs(d) end
    lunet.save(opts.cache, {version = CACHE_VERSION, signature = signature, images = ds.images,
      labels = ds.labels, classes = classes})
  end
  return ds
end

--- Create a directory and its parents (like mkdir -p).
function data.mkdirs(path)
  local acc = path:sub(1, 1) == "/" and "/" or ""
  for part in path:gmatch("[^/]+") do
    acc = acc .. part
    if not isdir(acc) then
      local ok, err = lfs.mkdir(acc)
      if not ok and not isdir(acc) then error(("mkdirs: cannot create %s: %s"):format(acc, err), 2) end
    end
    acc = acc .. "/"
  end
  return path
end

data.transforms = require "lunet.transforms"

data.CIFAR10_CLASSES = {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

--- The course's CIFAR-10 subset: <dir>/Train/<0..9>/*.png and <dir>/Test/<0..9>/*.png.
-- dir: the CIFAR10 folder itself, or nil for the search order (LUNET_DATA, ./data, ../shared/data).
-- opts.cacheDir: where to keep the tensor caches (default: no cache).
function data.cifar10(dir, opts)
  opts = check.options("cifar10", opts, {"cacheDir"})
  dir = lunet.datapath.find("CIFAR10", dir, {"Train", "Test"})
  local digits = {}
  for c = 0, 9 do digits[#digits + 1] = tostring(c) end
  local function split(name)
    local ds = data.imageFolder(dir .. "/" .. name, {classes = digits,
      cache = opts.cacheDir and (opts.cacheDir .. "/cifar10_" .. name:lower() .. ".lunet")})
    ds.classNames = data.CIFAR10_CLASSES
    return ds
  end
  return split("Train"), split("Test")
end

-- The loaders' methods; see data.Loader.
local Loader = {}
Loader.__index = Loader

--- Minibatches from a data set {images|inputs = tensor (N,...), labels = int tensor (N)}.
-- The options, each optional:
--   batchSize  examples per batch, an integer in 1..N (default 50); an epoch is the
--              floor(N / batchSize) whole batches of one permutation (the remainder is left
--              out of that epoch, a different remainder each time)
--   shuffle    a fresh random permutation every epoch (default true); false: in order
--   seed       an integer: the permutations (and the transform's draws) come from a
--              generator of the loader's own, seeded so, so the batches are the same
--              whatever else draws random numbers (initialization, dropout), and lunet's
--              generator is left as it was; without it they come from lunet's generator
--              (seed that with lunet.manualSeed for reproducible runs)
--   transform  a function(x) -> x' applied to every input batch (data.transforms:
--              RandomCrop, RandomHorizontalFlip, Normalize, Compose, or one's own)
-- loader:next() returns (x, y): views of buffers that the next call overwrites (x is the
-- transform's result when there is one).
-- Raises for an unknown option, a transform that is not a function, a data set without
-- tensors images (or inputs) and labels, counts that differ, a batchSize outside 1..N, or
-- a seed that is not an integer.
-- @tparam table ds `{images = Tensor (N,...), labels = int Tensor (N)}` (or `inputs`)
-- @tparam[opt] table opts `batchSize`, `shuffle`, `seed`, `transform`
-- @treturn Loader
-- @usage local loader = lunet.data.Loader(train, {batchSize = 50, seed = 1})
-- local x, y = loader:next()
function data.Loader(ds, opts)
  opts = check.options("Loader", opts, {"batchSize", "shuffle", "seed", "transform"})
  if opts.transform ~= nil and type(opts.transform) ~= "function" then
    error(("Loader: transform must be a function(x) -> x, got %s"):format(type(opts.transform)), 2)
  end
  local x = ds.inputs or ds.images
  if not lunet.isTensor(x) or not lunet.isTensor(ds.labels) then
    error("Loader: data set must have tensors `images` (or `inputs`) and `labels`", 2)
  end
  if x:size(1) ~= ds.labels:size(1) then
    error(("Loader: %d inputs but %d labels"):format(x:size(1), ds.labels:size(1)), 2)
  end
  local bs = opts.batchSize or 50
  if math.type(bs) ~= "integer" or bs < 1 or bs > x:size(1) then
    error(("Loader: batchSize must be an integer in 1..%d, got %s"):format(x:size(1), tostring(bs)), 2)
  end
  local self = setmetatable({x = x, y = ds.labels, n = x:size(1), batchSize = bs,
    shuffle = opts.shuffle ~= false, pos = math.huge, epoch = 0, transform = opts.transform,
    xb = lunet.zeros(0), yb = lunet.zeros(0, "int")}, Loader)
  if opts.seed ~= nil then
    check.integer("Loader", "seed", opts.seed)
    local global = lunet.getRNGState()
    lunet.manualSeed(opts.seed)
    self.rng = lunet.getRNGState()
    lunet.setRNGState(global)
  end
  return self
end

-- f(...)'s result, drawn from the loader's own generator when it has one (swapped in for
-- the draw, lunet's put back after), else from lunet's.
local function withGenerator(self, f, ...)
  if not self.rng then return f(...) end
  local global = lunet.getRNGState()
  lunet.setRNGState(self.rng)
  local ok, r = pcall(f, ...)
  self.rng = lunet.getRNGState()
  lunet.setRNGState(global)
  if not ok then error(r, 0) end
  return r
end

-- This epoch's order: a permutation, or 1..n without shuffling.
local function epochOrder(self)
  if not self.shuffle then return lunet.arange(1, self.n + 1):int() end
  return withGenerator(self, lunet.randperm, self.n)
end

--- The next minibatch: x (batchSize,...) of the data set's dtype and y (batchSize) int,
-- views of buffers the next call overwrites; a new epoch (a new permutation) starts when
-- the current one has no whole batch left.
-- @treturn Tensor x the inputs (after the transform, when there is one)
-- @treturn Tensor y the labels
-- @usage local x, y = loader:next()
function Loader:next()
  if self.pos + self.batchSize - 1 > self.n then
    self.order = epochOrder(self)
    self.pos = 1
    self.epoch = self.epoch + 1
  end
  local idx = self.order:narrow(1, self.pos, self.batchSize)
  self.pos = self.pos + self.batchSize
  local x = self.x:index(idx, self.xb)
  if self.transform then x = withGenerator(self, self.transform, x) end
  return x, self.y:index(idx, self.yb)
end

--- The loader's position (for checkpoints): its epoch, position, this epoch's order and
-- its own generator's state (with opts.seed).
function Loader:state()
  return {epoch = self.epoch, pos = self.pos == math.huge and -1 or self.pos, order = self.order, rng = self.rng}
end

--- Continue from what state() returned.
function Loader:loadState(s)
  if type(s) ~= "table" or math.type(s.pos) ~= "integer" or math.type(s.epoch) ~= "integer" then
    error("Loader.loadState: not a loader state", 2)
  end
  if s.pos >= 0 and (not lunet.isTensor(s.order) or s.order:numel() ~= self.n) then
    error(("Loader.loadState: the state is for a data set of %s examples, this one has %d")
      :format(lunet.isTensor(s.order) and tostring(s.order:numel()) or "?", self.n), 2)
  end
  if s.rng ~= nil then -- checked by swapping it in: a state the generator cannot be in is refused now
    local global = lunet.getRNGState()
    local ok, err = pcall(lunet.setRNGState, type(s.rng) == "string" and s.rng or "")
    lunet.setRNGState(global)
    if not ok then error("Loader.loadState: invalid generator state (" .. err .. ")", 2) end
  end
  self.epoch, self.pos, self.order = s.epoch, s.pos < 0 and math.huge or s.pos, s.order
  self.rng = s.rng or self.rng
end

--- Iterate over a data set in order in batches: for x, y, i0 in data.batches(ds, 500) do ... end
function data.batches(ds, batchSize)
  local x, y = ds.inputs or ds.images, ds.labels
  local n, i = x:size(1), 1
  return function()
    if i > n then return nil end
    local len = math.min(batchSize, n - i + 1)
    local i0 = i
    i = i + len
    return x:narrow(1, i0, len), y:narrow(1, i0, len), i0
  end
end

return data
