--- lunet: tensors, neural networks and experiments for Lua 5.4.
-- `local lunet = require "lunet"` gives the tensor functions of the C core
-- (zeros, randn, matmul, ...) plus the Lua modules, loaded on first use:
-- lunet.nn, lunet.optim, lunet.data, lunet.plot, lunet.image, lunet.viz, ...
local core = require "lunet.core"

local lunet = {}
for k, v in pairs(core) do lunet[k] = v end
lunet.core = core
lunet.Tensor = core.Tensor
lunet.version = "0.1"

--- Is x a lunet tensor?
function lunet.isTensor(x)
  return getmetatable(x) == core.Tensor
end

-- Submodules load lazily, so `require "lunet"` stays fast.
local lazy = {
  nn = "lunet.nn", optim = "lunet.optim", data = "lunet.data", plot = "lunet.plot",
  image = "lunet.image", viz = "lunet.viz", train = "lunet.train", cli = "lunet.cli",
  mnist = "lunet.mnist", models = "lunet.models", datapath = "lunet.datapath", serialize = "lunet.serialize",
  progress = "lunet.progress", checkpoint = "lunet.checkpoint", distributed = "lunet.distributed",
  metrics = "lunet.metrics",
}
setmetatable(lunet, {
  __index = function(t, k)
    local name = lazy[k]
    if name then
      local m = require(name)
      rawset(t, k, m)
      return m
    end
  end,
})

--- Save a tensor or a (nested) table of tensors, numbers, strings and booleans.
function lunet.save(path, value) return require("lunet.serialize").save(path, value) end
--- Load what lunet.save wrote.
function lunet.load(path) return require("lunet.serialize").load(path) end
--- lunet.loadIDX(path [, "int"]): read an IDX file (MNIST's format), raw or gzip'd.
-- Returns a float tensor of the raw values (0..255 for MNIST's images, not scaled), or with
-- "int" an int tensor (labels). The header and sizes are checked against the file's length.
lunet.loadIDX = core.idx_load

return lunet
