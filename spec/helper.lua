-- Shared test helpers: `local H = require "spec.helper"`.
local lunet = require "lunet"
local H = {}

--- Centered finite-difference gradient of f (which returns a number) w.r.t. tensor x,
-- evaluated in place; returns a float tensor of x's shape.
function H.numgrad(f, x, eps)
  eps = eps or 1e-3
  local flat = x:view(-1)
  local g = lunet.zeros(x:numel())
  for i = 1, x:numel() do
    local v = flat[i]
    flat[i] = v + eps
    local fp = f()
    flat[i] = v - eps
    local fm = f()
    flat[i] = v
    g[i] = (fp - fm) / (2 * eps)
  end
  return g:view(x:size())
end

--- Largest relative error between two tensors, scaled by the larger magnitude (at least 1e-2).
function H.relerr(a, b)
  local diff = (a - b):abs():max()
  local scale = math.max(a:abs():max(), b:abs():max(), 1e-2)
  return diff / scale
end


--- The folder of a real data set (datapath's search order), or nil when it is not on
-- this machine; specs that need it start with
-- `if not DIR then return pending("... data set not found (set LUNET_DATA)") end`.
function H.dataDir(name)
  local ok, dir = pcall(lunet.datapath.find, name)
  return ok and dir or nil
end

--- A small synthetic image task (n 1x8x8 images, 4 classes): class k has a bright bar in
-- row band k, noise elsewhere. Seeds the generator with `seed`.
function H.bars(n, seed)
  lunet.manualSeed(seed)
  local x = lunet.rand(n, 1, 8, 8):mul_(0.3)
  local y = lunet.zeros(n, "int")
  for i = 1, n do
    local k = (i - 1) % 4 + 1
    y[i] = k
    x[i][1]:narrow(1, 2 * k - 1, 2):add_(0.7)
  end
  return {images = x, labels = y}
end

--- A small CNN for H.bars: conv1 (4 maps, 3x3) -> ReLU -> max-pool 2 -> Flatten -> fc (4 classes).
function H.smallNet()
  local nn = lunet.nn
  local m = nn.Sequential()
  m:add(nn.Conv2d(1, 4, 3, {padding = "same"}), "conv1"):add(nn.ReLU()):add(nn.MaxPool2d(2, 2))
  m:add(nn.Flatten()):add(nn.Linear(4 * 4 * 4, 4), "fc")
  return m
end

return H
