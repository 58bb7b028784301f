--- lunet: tensors, neural networks and experiments for Lua 5.4.
-- `local lunet = require "lunet"` gives the public tensor functions of the C core
-- (the list below: zeros, randn, matmul, ...) plus the Lua modules, loaded on first use:
-- lunet.nn, lunet.optim, lunet.data, lunet.plot, lunet.image, lunet.viz, ...
-- The kernels' entry points (relu_forward, conv2d_backward_input, adam_step, ...) stay in
-- lunet.core: they are the modules' building blocks, with the modules' buffers as
-- arguments, not functions to call from a script.
--
-- How the code is laid out: lua/lunet/ holds one file (or folder) per module: check.lua
-- (argument checks all modules share), nn/ (modules; see nn/init.lua), optim, data,
-- train, metrics, plot, image, viz/ (see viz/init.lua), serialize, checkpoint,
-- distributed, progress, fileutil (checked, atomic writes); csrc/ the C core they call.
local core = require "lunet.core"

-- The public tensor functions, re-exported from lunet.core.
local PUBLIC = {
  "Tensor", "tensor", "zeros", "ones", "full", "rand", "randn", "truncnormal", "randperm", "arange", "linspace",
  "matmul", "bmm", "addmm", "dot", "cat", "stack", "where",
  "manualSeed", "getRNGState", "setRNGState",
  "setNumThreads", "getNumThreads", "setFlushDenormals", "getFlushDenormals",
  "gemmBackend", "gemmBackends", "setGemmBackend", "convAlgorithm", "setConvAlgorithm", "blasInfo", "wallclock",
}

local lunet = {}
for _, k in ipairs(PUBLIC) do
  lunet[k] = assert(core[k], "lunet.core has no " .. k)
end
lunet.core = core
lunet.version = "0.1"

--- Is x a lunet tensor?
function lunet.isTensor(x)
  return getmetatable(x) == core.Tensor
end

--- Is x a size object, what `t:size()` returns?
function lunet.isSize(x)
  local mt = getmetatable(x)
  return type(x) == "table" and mt ~= nil and mt.__name == "lunet.Size"
end

-- Submodules load lazily, so `require "lunet"` stays fast. Each access asks require, not
-- a copy cached here, so that lunet.nn is always package.loaded["lunet.nn"] (a test
-- runner that unloads modules between files, as busted does, would otherwise leave two).
local lazy = {
  nn = "lunet.nn", optim = "lunet.optim", data = "lunet.data", plot = "lunet.plot",
  image = "lunet.image", viz = "lunet.viz", train = "lunet.train", cli = "lunet.cli",
  mnist = "lunet.mnist", models = "lunet.models", datapath = "lunet.datapath", serialize = "lunet.serialize",
  progress = "lunet.progress", checkpoint = "lunet.checkpoint", distributed = "lunet.distributed",
  metrics = "lunet.metrics", fileutil = "lunet.fileutil", autograd = "lunet.autograd", help = "lunet.help",
}
--- The submodules `lunet.<name>` loads on first use: name -> module name.
lunet.modules = lazy
setmetatable(lunet, {
  __index = function(_, k)
    local name = lazy[k]
    if name then return require(name) end
  end,
})

--- Save a tensor, a (nested) table of tensors, numbers, strings and booleans, or a whole
-- model built from lunet.nn's modules (as data: classes, constructor arguments, tensors;
-- see lunet/nn/persist.lua).
function lunet.save(path, value)
  if lunet.nn.isModule(value) then value = require("lunet.nn.persist").describe(value, "lunet.save", 3) end
  return require("lunet.serialize").save(path, value)
end
--- Load what lunet.save wrote; a saved model comes back as the model.
function lunet.load(path)
  local value = require("lunet.serialize").load(path, 3)
  local persist = require "lunet.nn.persist"
  if persist.isDescription(value) then return persist.build(value, ("lunet.load: %s"):format(path), 3) end
  return value
end
--- lunet.loadIDX(path [, "int"]): read an IDX file (MNIST's format), raw or gzip'd.
-- Returns a float tensor of the raw values (0..255 for MNIST's images, not scaled), or with
-- "int" an int tensor (labels). The header and sizes are checked against the file's length.
lunet.loadIDX = core.idx_load

return lunet
