--- lunet.nn containers beside Sequential (nn/module.lua): Residual, a skip connection,
-- and Concat, children side by side. Both follow the module protocol fully (forward,
-- backward, updateGradInput + accGradParameters, needInputGrad, parameters, train/evaluate,
-- clearState) so they nest anywhere a module goes.
-- @submodule lunet.nn
local lunet = require "lunet"
local check = require "lunet.check"
local module = require "lunet.nn.module"
local Module = module.Module

local containers = {}

local function checkModule(fname, what, m, level)
  if not module.isModule(m) then check.fail(level + 1, "%s: %s must be an nn module, got %s", fname, what, type(m)) end
  return m
end

-- self[name] holding a copy of t: the buffer reused when it has t's shape and shares no
-- storage with t or u (Module:writable), a new one otherwise.
local function copyInto(self, name, t, u)
  local b = self:writable(name, t, u)
  if b:shapeString() ~= t:shapeString() then
    b = lunet.zeros(t:size())
    self[name] = b
  end
  return b:copy(t)
end

-- The indented lines of a child's description, for __tostring.
local function indent(m)
  return "  " .. tostring(m):gsub("\n", "\n  ")
end

---------------------------------------------------------------------------------
--- Residual(block [, shortcut]): y = block(x) + shortcut(x), the shortcut the identity
-- when not given (He et al.'s residual block; a 1x1 Conv2d as shortcut matches shapes).
-- The two outputs must have one shape (any shape and dtype the children take): a mismatch
-- raises in the forward, naming both shapes. Raises for a block or shortcut that is not a
-- module, or a third argument.
-- @function Residual
-- @tparam Module block
-- @tparam[opt] Module shortcut (default the identity)
-- @treturn Residual
-- @usage local r = lunet.nn.Residual(nn.Sequential():add(nn.Linear(8, 8)):add(nn.ReLU()))
local Residual = module.class("Residual", Module)
containers.Residual = Residual

function Residual:__init(block, shortcut, extra)
  Module.__init(self)
  if extra ~= nil then check.fail(3, "Residual: takes a block and an optional shortcut module, got a third argument") end
  self.modules = {checkModule("Residual", "block", block, 3)}
  if shortcut ~= nil then self.modules[2] = checkModule("Residual", "shortcut", shortcut, 3) end
  self.output = lunet.zeros(0)
  self.gradInput = lunet.zeros(0)
end

function Residual:updateOutput(input)
  local a = self.modules[1]:forward(input)
  local b = self.modules[2] and self.modules[2]:forward(input) or input
  if a:shapeString() ~= b:shapeString() then
    check.fail(3, "Residual: the block's output %s and the shortcut's %s differ in shape", a:shapeString(),
      b:shapeString())
  end
  self.output = copyInto(self, "output", a, b):add_(b)
  return self.output
end

-- gradInput = the block's + the shortcut's (or gradOutput itself for the identity).
local function sumGrads(self, ga, gb)
  self.gradInput = copyInto(self, "gradInput", ga, gb):add_(gb)
  return self.gradInput
end

function Residual:updateGradInput(input, gradOutput)
  local ga = self.modules[1]:updateGradInput(input, gradOutput)
  local gb = self.modules[2] and self.modules[2]:updateGradInput(input, gradOutput) or gradOutput
  return sumGrads(self, ga, gb)
end

function Residual:accGradParameters(input, gradOutput)
  for _, m in ipairs(self.modules) do m:accGradParameters(input, gradOutput) end
end

function Residual:backward(input, gradOutput)
  for _, m in ipairs(self.modules) do m.needInputGrad = self.needInputGrad end
  local ga = self.modules[1]:backward(input, gradOutput)
  local gb = self.modules[2] and self.modules[2]:backward(input, gradOutput) or gradOutput
  if self.needInputGrad == false then return nil end
  return sumGrads(self, ga, gb)
end

function Residual:__tostring()
  return "Residual\n" .. indent(self.modules[1]) .. (self.modules[2] and ("\n" .. indent(self.modules[2])) or "")
end

---------------------------------------------------------------------------------
--- Concat(dim): every child gets the same input; their outputs are concatenated along
-- dimension dim (negative counts from the end), as Torch7's nn.Concat. Children are added
-- with add(module), which returns the container; the gradient w.r.t. the input is the sum
-- of the children's. Raises for a dim that is not a nonzero integer or a second argument;
-- the forward raises with no children or a dim the children's outputs do not have.
-- @function Concat
-- @tparam integer dim the dimension to concatenate along
-- @treturn Concat
-- @usage local c = lunet.nn.Concat(2):add(nn.Linear(4, 3)):add(nn.Linear(4, 5))  -- (N,4) -> (N,8)
local Concat = module.class("Concat", Module)
containers.Concat = Concat

function Concat:__init(dim, extra)
  Module.__init(self)
  if extra ~= nil then check.fail(3, "Concat: takes one argument, the dimension; add children with add()") end
  self.dim = check.integer("Concat", "dim", dim, nil, nil, 3)
  if dim == 0 then check.fail(3, "Concat: dim must be a nonzero integer, got 0") end
  self.modules = {}
  self.output = lunet.zeros(0)
  self.gradInput = lunet.zeros(0)
end

--- Append a child, which takes the container's mode. Raises for a value that is not a module.
-- @tparam Module m
-- @treturn Concat self, so calls chain
-- @usage local c = nn.Concat(2):add(nn.Linear(4, 3)):add(nn.Linear(4, 5))
function Concat:add(m)
  self.modules[#self.modules + 1] = checkModule("Concat:add", "argument #1", m, 2)
  m.training = self.training
  return self
end

-- The dimension of an output of rank r that self.dim names.
local function catDim(self, r)
  local d = self.dim < 0 and r + 1 + self.dim or self.dim
  if d < 1 or d > r then check.fail(4, "Concat: dim %d does not exist in the children's %d-D outputs", self.dim, r) end
  return d
end

function Concat:updateOutput(input)
  if #self.modules == 0 then check.fail(3, "Concat: has no children (add them with add())") end
  local outs = {}
  for i, m in ipairs(self.modules) do outs[i] = m:forward(input) end
  self.output = lunet.cat(outs, catDim(self, outs[1]:dim()))
  return self.output
end

-- Child i's slice of gradOutput along the concatenated dimension.
local function slices(self, gradOutput)
  local d, at, parts = catDim(self, gradOutput:dim()), 1, {}
  for i, m in ipairs(self.modules) do
    local n = m.output:size(d)
    parts[i] = gradOutput:narrow(d, at, n):contiguous()
    at = at + n
  end
  return parts
end

-- Runs method on every child with its slice; sums the children's input gradients.
local function through(self, method, input, gradOutput)
  local gsum
  for i, g in ipairs(slices(self, gradOutput)) do
    local m = self.modules[i]
    local gi = m[method](m, input, g)
    if gi ~= nil and method ~= "accGradParameters" then
      if gsum == nil then
        gsum = copyInto(self, "gradInput", gi)
      else
        gsum:add_(gi)
      end
    end
  end
  return gsum
end

function Concat:updateGradInput(input, gradOutput)
  self.gradInput = through(self, "updateGradInput", input, gradOutput)
  return self.gradInput
end

function Concat:accGradParameters(input, gradOutput)
  through(self, "accGradParameters", input, gradOutput)
end

function Concat:backward(input, gradOutput)
  for _, m in ipairs(self.modules) do m.needInputGrad = self.needInputGrad end
  local g = through(self, "backward", input, gradOutput)
  if self.needInputGrad == false then return nil end
  self.gradInput = g
  return g
end

function Concat:__tostring()
  local lines = {("Concat(%d)"):format(self.dim)}
  for _, m in ipairs(self.modules) do lines[#lines + 1] = indent(m) end
  return table.concat(lines, "\n")
end

return containers
