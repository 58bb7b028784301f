--- lunet.nn functional: nn.Function, a module written by its forward function alone, its
-- gradients derived by lunet.autograd.
--
--   local Swish = nn.Function(function(p, x) return x * autograd.sigmoid(x) end)
--   local Affine = nn.Function(function(p, x) return autograd.linear(x, p.weight, p.bias) end,
--                              {weight = lunet.randn(10, 20):mul_(0.1), bias = lunet.zeros(10)})
--
-- fn(p, input) -> output, p holding the parameters by name. The parameters are the module's
-- fields (module.weight, with module.gradWeight beside it, in paramNames sorted by name),
-- so parameters(), zeroGrad(), the optimizers, checkpoints and summaries see them as
-- any module's. In training, updateOutput records fn on a tape (p's tensors and the input
-- as leaves); the backward replays it once, updateGradInput keeping the input's gradient
-- and accGradParameters adding the parameters'. In evaluate() fn runs on plain tensors:
-- no tape (and autograd.dropout does not drop).
--
-- Like every module's output and gradInput, the results of the nn kernels inside fn and
-- their gradients live in buffers the module keeps (autograd.withBuffers): once the shapes
-- are known a training step allocates no tensor for them, and a forward overwrites what
-- the previous one computed. clearState() releases them.
-- @submodule lunet.nn
local lunet = require "lunet"
local check = require "lunet.check"
local autograd = require "lunet.autograd"
local module = require "lunet.nn.module"

local Module = module.Module
local functional = {}

local Function = module.class("Function", Module)
functional.Function = Function
Function.lastCallNames = { "input", "record", "pending", "buffers" }

local function capitalize(s) return s:sub(1, 1):upper() .. s:sub(2) end

--- A module written by its forward function alone: nn.Function(fn [, params]).
-- fn(p, input) returns the output, computed with lunet.autograd's ops (or any code on
-- them: loops, conditions); p holds the parameters by name. Each parameter becomes the
-- module's field of that name, with its gradient as grad<Name> (weight, gradWeight).
-- Errors: `nn.Function: fn must be a function, got ...`, `nn.Function: params must be a
-- table of tensors by name, got ...`, `nn.Function: parameter names must be identifiers,
-- got ...`, a parameter that is not a float tensor, and a name taken by the module's own
-- fields (`nn.Function: parameter name 'output' is taken ...`).
-- @function Function
-- @tparam function fn fn(p, input) -> output
-- @tparam[opt] table params {name = Tensor, ...}
-- @treturn Function the module
-- @usage local Swish = nn.Function(function(_, x) return x * autograd.sigmoid(x) end)
-- local model = nn.Sequential():add(nn.Linear(4, 8)):add(Swish):add(nn.Linear(8, 2))
function Function:__init(fn, params)
  Module.__init(self)
  if type(fn) ~= "function" then check.fail(3, "nn.Function: fn must be a function, got %s", type(fn)) end
  if params ~= nil and type(params) ~= "table" then
    check.fail(3, "nn.Function: params must be a table of tensors by name, got %s", type(params))
  end
  self.fn = fn
  self.output = lunet.zeros(0)
  self.gradInput = lunet.zeros(0)
  local names = {}
  for name, w in pairs(params or {}) do
    if type(name) ~= "string" or not name:match("^[%a_][%w_]*$") then
      check.fail(3, "nn.Function: parameter names must be identifiers, got %s", tostring(name))
    end
    check.tensor("nn.Function", ("parameter '%s'"):format(name), w, { dtype = "float" }, 2)
    names[#names + 1] = name
  end
  table.sort(names)
  for _, name in ipairs(names) do
    local gradName = "grad" .. capitalize(name)
    if self[name] ~= nil or self[gradName] ~= nil then
      check.fail(3, "nn.Function: parameter name '%s' is taken by the module's own fields", name)
    end
    self[name], self[gradName] = params[name], lunet.zeros(params[name]:size())
  end
  self.paramNames = names
end

-- The parameters by name, as fn receives them: wrapped as leaves when recording.
local function paramsTable(self, wrap)
  local p = {}
  for _, name in ipairs(self.paramNames) do p[name] = wrap and autograd.leaf(self[name]) or self[name] end
  return p
end

-- The module's buffers (autograd.arena): the nn kernels' results and gradients of one call
-- are written over the last call's, as any module's output and gradInput are.
local function buffers(self)
  self.buffers = self.buffers or autograd.arena()
  return self.buffers
end

-- fn on input recorded: {tape, out, input (a leaf), leaves (by name), inputValue, rng}. The
-- input wants a gradient unless needInputGrad is false (as for the first layer of a model).
-- Given rng (the generator's state before an earlier recording), fn draws the same random
-- numbers as then (dropout's masks) and the generator is put back as it was.
local function record(self, input, rng)
  local now = lunet.getRNGState()
  if rng then lunet.setRNGState(rng) end
  local leaves, x = paramsTable(self, true), autograd.leaf(input, self.needInputGrad ~= false)
  local tape, out = autograd.withBuffers(buffers(self), { input }, autograd.record, self.fn, leaves, x)
  if rng then lunet.setRNGState(now) end
  return { tape = tape, out = out, input = x, leaves = leaves, inputValue = input, rng = rng or now }
end

--- The module nn.Function makes (a subclass of nn.Module).
-- @type Function

--- The output of fn on input: recorded on a tape in training, on plain tensors in evaluate().
-- @tparam Tensor input
-- @treturn Tensor the output (the module's buffer when a kernel made it)
-- @usage local y = m:forward(x)
function Function:updateOutput(input)
  self.pending = nil
  if not self.training then
    self.record = nil
    self.output = autograd.value(autograd.withBuffers(buffers(self), { input }, autograd.noGrad, self.fn,
      paramsTable(self, false), input))
    return self.output
  end
  self.record = record(self, input)
  self.output = autograd.value(self.record.out)
  return self.output
end

-- Runs the recorded tape backward once (a backward through an input other than the last
-- forward's, a module used twice, records that call again). With `direct`, the parameters'
-- gradients are added into the module's own (gradWeight, ...) as they come; otherwise they
-- wait in self.pending for accGradParameters.
local function replay(self, input, gradOutput, direct)
  local r = self.record
  if r == nil or not rawequal(r.inputValue, input) then
    if not self.training then check.fail(3, "nn.Function: backward needs training mode (call train())") end
    r = record(self, input)
  end
  if self.needInputGrad ~= false and not r.input.needsGrad then
    -- the forward was told no input gradient was wanted (a container passes needInputGrad to
    -- its first child at its backward): record it again, with the same random numbers
    r = record(self, input, r.rng)
  end
  self.record = nil
  if direct then
    for name, leafNode in pairs(r.leaves) do leafNode.grad, leafNode.ownsGrad = self["grad" .. capitalize(name)], true end
  end
  if autograd.isNode(r.out) then autograd.backward(r.tape, r.out, gradOutput) end
  if not direct then
    local pending = {}
    for name, leafNode in pairs(r.leaves) do pending[name] = leafNode.grad end
    self.pending = pending
  end
  if self.needInputGrad ~= false then self.gradInput = autograd.leafGrad(r.input) end
end

--- Both gradients in one backward through the tape: the input's (returned, unless
-- needInputGrad is false) and the parameters', added into gradWeight and the like.
-- A backward through another input than the last forward's records that call again.
-- Errors: `nn.Function: backward needs training mode (call train())` then.
-- @tparam Tensor input the last forward's input
-- @tparam Tensor gradOutput d(loss)/d(output)
-- @treturn Tensor|nil d(loss)/d(input)
-- @usage m:zeroGrad(); m:forward(x); m:backward(x, g)
function Function:backward(input, gradOutput)
  self.pending = nil
  replay(self, input, gradOutput, true)
  if self.needInputGrad == false then return nil end
  return self.gradInput
end

--- The input's gradient (the parameters' wait for accGradParameters).
-- @tparam Tensor input
-- @tparam Tensor gradOutput
-- @treturn Tensor d(loss)/d(input)
-- @usage local gx = m:updateGradInput(x, g)
function Function:updateGradInput(input, gradOutput)
  replay(self, input, gradOutput)
  return self.gradInput
end

--- The parameters' gradients, times scale, added into gradWeight and the like.
-- @tparam Tensor input
-- @tparam Tensor gradOutput
-- @tparam[opt] number scale default 1
-- @usage m:accGradParameters(x, g, 0.5)
function Function:accGradParameters(input, gradOutput, scale)
  if self.pending == nil then replay(self, input, gradOutput) end
  for name, g in pairs(self.pending) do
    local acc = self["grad" .. capitalize(name)]
    if scale and scale ~= 1 then acc:add_(g * scale) else acc:add_(g) end
  end
  self.pending = nil
end

function Function:__tostring()
  if #self.paramNames == 0 then return "Function" end
  return ("Function(%s)"):format(table.concat(self.paramNames, ", "))
end

return functional
