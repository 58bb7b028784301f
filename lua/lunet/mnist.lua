--- lunet.mnist: the MNIST digits from their IDX files (raw or gzip'd).
--
--   local train, test = lunet.mnist.load()                          -- 60,000 / 10,000
--   local train, test, valid = lunet.mnist.load(dir, {split = "train55k"})
--                                                   -- 55,000 / 10,000 / 5,000 (validation)
--   local train, test = lunet.mnist.load(dir, {layout = "sequences"})
--
-- Each data set is a table:
--   inputs  the pixels in the chosen layout: "images" (N,1,28,28) (the default) or
--           "sequences" (N,28,28), an image read row by row: 28 steps of 28 pixels;
--   images  (N,1,28,28) and sequences (N,28,28), both views of the same storage;
--   labels  int (N): the class number 1..10, which is the digit + 1 (Lua counts from 1);
--   classNames {"0", ..., "9"}.
-- Pixels are floats in [0,1] (the bytes divided by 255). "train55k" trains on the first
-- 55,000 training digits and keeps the last 5,000 for validation, the split the data's
-- README describes. (TensorFlow's read_data_sets code takes its 5,000 from the front.)
--
-- dir: the folder holding train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
-- t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]; nil searches LUNET_DATA/mnist,
-- ./data/mnist and ../shared/data/mnist (lunet.datapath).
local lunet = require "lunet"
local datapath = require "lunet.datapath"
local check = require "lunet.check"

local mnist = {}

mnist.CLASS_NAMES = { "0", "1", "2", "3", "4", "5", "6", "7", "8", "9" }
mnist.VALIDATION_SIZE = 5000

local LAYOUTS = { images = true, sequences = true }
local SPLITS = { full = true, train55k = true }

local function readable(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- The IDX file `base` in dir, raw or gzip'd.
local function idxPath(dir, base)
  for _, p in ipairs({ dir .. "/" .. base, dir .. "/" .. base .. ".gz" }) do
    if readable(p) then return p end
  end
  error(("mnist.load: %s/%s[.gz] is missing"):format(dir, base), 4)
end

-- One part ("train" or "t10k") as {images, sequences, labels}.
local function readPart(dir, part)
  local images = lunet.loadIDX(idxPath(dir, part .. "-images-idx3-ubyte"))
  local labels = lunet.loadIDX(idxPath(dir, part .. "-labels-idx1-ubyte"), "int")
  local n = images:size(1)
  if images:dim() ~= 3 or images:size(2) ~= 28 or images:size(3) ~= 28 then
    error(("mnist.load: %s images must be (N,28,28), got %d-D"):format(part, images:dim()), 4)
  end
  if labels:dim() ~= 1 or labels:size(1) ~= n then
    error(("mnist.load: %d %s images but %d labels"):format(n, part, labels:numel()), 4)
  end
  images:div_(255)
  return { images = images:view(n, 1, 28, 28), sequences = images, labels = labels:add(1):int() }
end

-- Rows first..first+count-1 of a part, as a data set with inputs in the given layout.
local function dataset(p, first, count, layout)
  local ds = {
    images = p.images:narrow(1, first, count),
    sequences = p.sequences:narrow(1, first, count),
    labels = p.labels:narrow(1, first, count),
    classNames = mnist.CLASS_NAMES,
  }
  ds.inputs = ds[layout]
  return ds
end

--- MNIST's training and test sets (and the validation set with split = "train55k").
-- opts.layout: "images" (default) or "sequences"; opts.split: "full" (default) or "train55k".
function mnist.load(dir, opts)
  opts = check.options("mnist.load", opts, {"layout", "split"})
  local layout, split = opts.layout or "images", opts.split or "full"
  if not LAYOUTS[layout] then
    error(("mnist.load: layout must be \"images\" or \"sequences\", got %s"):format(tostring(layout)), 2)
  end
  if not SPLITS[split] then
    error(("mnist.load: split must be \"full\" or \"train55k\", got %s"):format(tostring(split)), 2)
  end
  dir = datapath.find("mnist", dir)
  local tr, te = readPart(dir, "train"), readPart(dir, "t10k")
  local nTrain, nTest = tr.labels:size(1), te.labels:size(1)
  local test = dataset(te, 1, nTest, layout)
  if split == "full" then return dataset(tr, 1, nTrain, layout), test end
  local v = mnist.VALIDATION_SIZE
  if nTrain <= v then
    error(("mnist.load: split train55k needs more than %d training digits, the files hold %d"):format(v, nTrain), 2)
  end
  return dataset(tr, 1, nTrain - v, layout), test, dataset(tr, nTrain - v + 1, v, layout)
end

return mnist
