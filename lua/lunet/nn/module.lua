-- lunet.nn.module: the class helper and the base classes every nn module builds on:
-- nn.class, nn.isModule, nn.Module (the protocol described in lunet/nn/init.lua),
-- nn.Criterion (losses) and nn.Sequential (the container). lunet.nn re-exports them;
-- the layer files require this file, not lunet.nn, so nothing loads in a cycle.
local lunet = require "lunet"
local check = require "lunet.check"
local init = require "lunet.nn.init_schemes"

local M = {}

-- nn.class(name, parent) -> a class table. Calling the class, `Cls(...)`, makes an
-- instance (a table whose metatable is the class) and runs `Cls.__init(self, ...)`.
-- Metamethods (__tostring, ...) are inherited by copying them at creation time,
-- since Lua looks metamethods up with rawget.
-- Refuses a container whose forward its backward would not follow (defined with Sequential).
local checkContainer

function M.class(name, parent)
  assert(type(name) == "string", "nn.class: name must be a string")
  local cls = { typename = name, __name = "lunet.nn." .. name }
  cls.__index = cls
  if parent then
    for k, v in pairs(parent) do
      if type(k) == "string" and k:sub(1, 2) == "__" and k ~= "__index" and k ~= "__name" then
        cls[k] = v
      end
    end
  end
  return setmetatable(cls, {
    __index = parent,
    __call = function(c, ...)
      local self = setmetatable({}, c)
      -- the constructor's arguments, from which lunet.save describes the module (nn/persist.lua)
      self.constructorArgs = table.pack(...)
      self:__init(...)
      if self.modules then checkContainer(c) end
      return self
    end,
    __tostring = function() return "nn." .. name end,
  })
end

-- nn.isModule(x): true for instances of nn.Module and its subclasses.
function M.isModule(x)
  local mt = getmetatable(x)
  while mt do
    if mt == M.Module then return true end
    mt = getmetatable(mt)
    mt = mt and mt.__index
  end
  return false
end

local function capitalize(s) return s:sub(1, 1):upper() .. s:sub(2) end

-- The sliding-window options of the layers: a number n -> n, n; a table {a, b} -> a, b
-- (errors blame the caller of the constructor that calls this).
function M.pair(v, fname, what)
  if math.type(v) == "integer" then return v, v end
  if type(v) == "table" and math.type(v[1]) == "integer" and math.type(v[2]) == "integer" then
    return v[1], v[2]
  end
  check.fail(4, "%s: %s must be an integer or a pair {h, w} of integers, got %s",
    fname, what, type(v) == "table" and "a table" or tostring(v))
end

-- Strides and paddings print as "2" or "2x1"; kernel sizes always as "5x5".
function M.pairString(a, b)
  return a == b and tostring(a) or ("%dx%d"):format(a, b)
end

function M.kernelString(a, b) return ("%dx%d"):format(a, b) end

---------------------------------------------------------------------------------
local Module = M.class("Module")
M.Module = Module
Module.paramNames = { "weight", "bias" }

function Module:__init()
  self.training = true
end

function Module:forward(input)
  self.input = input
  return self:updateOutput(input)
end

function Module:backward(input, gradOutput)
  if self.needInputGrad == false then
    self:accGradParameters(input, gradOutput)
    return nil
  end
  self:updateGradInput(input, gradOutput)
  self:accGradParameters(input, gradOutput)
  return self.gradInput
end

function Module:updateOutput(input)
  error(self.typename .. ":updateOutput is not implemented", 2)
end

function Module:updateGradInput(input, gradOutput)
  error(self.typename .. ":updateGradInput is not implemented", 2)
end

-- Modules without parameters have nothing to accumulate. A container must pass its
-- children their gradients: silently doing nothing would leave them untrained.
function Module:accGradParameters(input, gradOutput)
  if self.modules and #self.modules > 0 then
    error(("%s:accGradParameters is not implemented: a container must pass its children their gradients "
      .. "(implement accGradParameters or backward, or write it as nn.Function)"):format(self.typename), 2)
  end
end

-- Two lists, {weights...} and {gradients...}, in a fixed order (children first, in
-- order, then this module's own parameters in paramNames order).
function Module:parameters()
  local ws, gs = {}, {}
  for _, m in ipairs(self.modules or {}) do
    local w, g = m:parameters()
    table.move(w, 1, #w, #ws + 1, ws)
    table.move(g, 1, #g, #gs + 1, gs)
  end
  for _, name in ipairs(self.paramNames) do
    local w = self[name]
    if w ~= nil then
      ws[#ws + 1] = w
      gs[#gs + 1] = self["grad" .. capitalize(name)]
    end
  end
  return ws, gs
end

-- Calls fn(module) on this module and then on every descendant, depth-first.
function Module:apply(fn)
  fn(self)
  for _, m in ipairs(self.modules or {}) do m:apply(fn) end
  return self
end

-- "weight" -> "gradWeight", each name computed once.
local gradNames = setmetatable({}, { __index = function(t, name)
  local g = "grad" .. capitalize(name)
  t[name] = g
  return g
end })
local NONE = {}

-- Walks the modules as parameters() does, without building its lists: this runs every
-- training step, which then allocates nothing.
function Module:zeroGrad()
  for _, m in ipairs(self.modules or NONE) do m:zeroGrad() end
  for _, name in ipairs(self.paramNames) do
    if self[name] ~= nil then self[gradNames[name]]:zero() end
  end
  return self
end

-- Where each parameter lives, in parameters() order: {module = m, name = "weight", grad =
-- "gradWeight", path = "conv1.weight"}, the path naming it by the containers' child names
-- (or positions) for messages. An optimizer checks these to see a parameter replaced.
function Module:parameterSlots(prefix, slots)
  prefix, slots = prefix or "", slots or {}
  for i, m in ipairs(self.modules or NONE) do
    m:parameterSlots(("%s%s."):format(prefix, self.names and self.names[i] or i), slots)
  end
  for _, name in ipairs(self.paramNames) do
    if self[name] ~= nil then
      slots[#slots + 1] = { module = self, name = name, grad = gradNames[name], path = prefix .. name }
    end
  end
  return slots
end

-- The tensors of a module's state that are not parameters, BatchNorm's running statistics:
-- the class field `stateNames` names them (none by default). Checkpoints save and restore
-- them with the parameters; optimizers never see them, and clearState keeps them.
Module.stateNames = {}

-- Those tensors of this module and its descendants, in a fixed order (children first, in
-- order, then this module's own in stateNames order), as parameters() lists the weights.
function Module:stateTensors(list)
  list = list or {}
  for _, m in ipairs(self.modules or NONE) do m:stateTensors(list) end
  for _, name in ipairs(self.stateNames) do
    if self[name] ~= nil then list[#list + 1] = self[name] end
  end
  return list
end

function Module:train()
  return self:apply(function(m) m.training = true end)
end

function Module:evaluate()
  return self:apply(function(m) m.training = false end)
end

-- The tensors a module computes into (released by clearState), and the fields that refer
-- to tensors of its last call (dropped by it). A subclass lists its own.
Module.bufferNames = { "output", "gradInput" }
Module.lastCallNames = { "input" }

-- clearState(): release every buffer of this module and its descendants (outputs,
-- gradients w.r.t. inputs, workspaces, switches, ...), keeping the parameters and their
-- gradients. Buffers grow to the largest batch they have seen and keep that size:
-- after an evaluation in batches of 500, LeNet-5 holds ~210 MB until this is called
-- (Torch7's name). The next forward allocates them again at the size it needs.
function Module:clearState()
  for _, m in ipairs(self.modules or NONE) do m:clearState() end
  for _, name in ipairs(self.bufferNames) do
    local t = self[name]
    if check.isTensor(t) then self[name] = lunet.zeros(0, t:dtype()) end
  end
  for _, name in ipairs(self.lastCallNames) do self[name] = nil end
  return self
end

-- Are a and b tensors that view one storage (and so may overlap)?
function M.sharesStorage(a, b)
  return check.isTensor(a) and check.isTensor(b) and a:sharesStorage(b)
end

-- self[name], the buffer a kernel is about to write, replaced by a fresh one when it
-- shares its storage with one of the tensors the kernel reads (a module applied to its
-- own output, as the same Linear twice in a Sequential): the kernels resize their
-- output before reading their inputs, and the earlier result stays intact for the
-- backward. No allocation otherwise.
function Module:writable(name, a, b)
  local t = self[name]
  if M.sharesStorage(t, a) or M.sharesStorage(t, b) then
    t = lunet.zeros(0, t:dtype())
    self[name] = t
  end
  return t
end

-- A deep copy: the same classes, constructor arguments, mode and values in new tensors
-- (nn/persist.lua; what lunet.save cannot write, clone refuses alike).
function Module:clone()
  return require("lunet.nn.persist").clone(self)
end

-- Number of scalar parameters.
function Module:numParameters()
  local n = 0
  for _, w in ipairs((self:parameters())) do n = n + w:numel() end
  return n
end

-- Module:init(scheme): initialize every parameter of this module and its descendants.
-- scheme is a name in nn.init.schemes ("course", "xavier", "kaiming", "default") or a
-- function(module) called on each module that has parameters of its own.
function Module:init(scheme)
  return init.apply(self, scheme)
end

-- One line: the module's type and its arguments; subclasses override __tostring.
function Module:__tostring()
  return self.typename
end

---------------------------------------------------------------------------------
-- Criterion: a loss. forward(input, target) -> number (also self.output);
-- backward(input, target) -> gradInput (the gradient of the loss w.r.t. input). A loss
-- with reduction = "none" returns a tensor of losses instead, and its backward takes the
-- gradient w.r.t. them as a third argument (default: ones, the gradient of their sum).
local Criterion = M.class("Criterion", Module)
M.Criterion = Criterion

function Criterion:forward(input, target)
  self.input = input
  return self:updateOutput(input, target)
end

function Criterion:backward(input, target, gradOutput)
  return self:updateGradInput(input, target, gradOutput)
end

Criterion.lastCallNames = { "input", "logits" }

---------------------------------------------------------------------------------
-- Sequential: modules applied one after another. add(module, name) returns the
-- container so calls chain; a named module is found with find(name) or byName[name].
local Sequential = M.class("Sequential", Module)
M.Sequential = Sequential

function Sequential:__init()
  Module.__init(self)
  self.modules = {}
  self.names = {}
  self.byName = {}
  -- The input and gradOutput each child got in the last forward and backward, for the
  -- backward and accGradParameters.
  self.inputs, self.gradOutputs = {}, {}
end

-- A Sequential subclass that changes the forward must change the backward too:
-- Sequential's goes through the children alone and would ignore, say, a skip connection.
-- Checked when an instance is made, when every method of the class is known.
function checkContainer(cls)
  if cls.updateOutput == Sequential.updateOutput or cls.backward ~= Sequential.backward then return end
  if cls.updateGradInput == Sequential.updateGradInput or cls.accGradParameters == Sequential.accGradParameters then
    error(("nn.%s overrides updateOutput but not updateGradInput and accGradParameters (or backward): "
      .. "Sequential's would go through the children alone and ignore what %s:updateOutput adds; implement "
      .. "them, or write it as nn.Function"):format(cls.typename, cls.typename), 3)
  end
end

function Sequential:clearState()
  Module.clearState(self)
  self.inputs, self.gradOutputs = {}, {}
  return self
end

function Sequential:add(module, name)
  if not M.isModule(module) then
    local got = type(module)
    if got == "table" and rawget(module, "__index") == module and module.typename then
      got = ("the class nn.%s (call it: nn.%s())"):format(module.typename, module.typename)
    end
    error(("Sequential:add: argument #1 must be an nn module, got %s"):format(got), 2)
  end
  local i = #self.modules + 1
  if name ~= nil then
    if type(name) ~= "string" then
      error(("Sequential:add: name must be a string, got %s"):format(type(name)), 2)
    end
    if self.byName[name] then
      error(("Sequential:add: a module named '%s' already exists"):format(name), 2)
    end
    self.byName[name] = module
    self.names[i] = name
  end
  module.training = self.training
  self.modules[i] = module
  return self
end

-- get(i): the i-th module; negative i counts from the end (-1 is the last).
function Sequential:get(i)
  local n = #self.modules
  if math.type(i) ~= "integer" then
    error(("Sequential:get: index must be an integer, got %s"):format(tostring(i)), 2)
  end
  local j = i < 0 and n + 1 + i or i
  if j < 1 or j > n then
    error(("Sequential:get: index %d out of range (the model has %d modules)"):format(i, n), 2)
  end
  return self.modules[j]
end

function Sequential:find(name)
  local m = self.byName[name]
  if m == nil then
    local known = {}
    for k in pairs(self.byName) do known[#known + 1] = k end
    table.sort(known)
    error(("Sequential:find: no module named '%s' (names: %s)"):format(
      tostring(name), #known > 0 and table.concat(known, ", ") or "none"), 2)
  end
  return m
end

function Sequential:size()
  return #self.modules
end

function Sequential:updateOutput(input)
  local x = input
  for i, m in ipairs(self.modules) do
    self.inputs[i] = x
    x = m:forward(x)
  end
  self.output = x
  return x
end

-- The input child i got in the last forward. Not modules[i - 1].output: a module used
-- twice has only its last output there.
local function childInput(self, i, input)
  return i > 1 and self.inputs[i] or input
end

-- Runs `method` (updateGradInput or backward) from the last module to the first.
local function backThrough(self, method, input, gradOutput)
  local g = gradOutput
  for i = #self.modules, 1, -1 do
    local m = self.modules[i]
    self.gradOutputs[i] = g
    g = m[method](m, childInput(self, i, input), g)
  end
  self.gradInput = g
  return g
end

function Sequential:updateGradInput(input, gradOutput)
  return backThrough(self, "updateGradInput", input, gradOutput)
end

function Sequential:backward(input, gradOutput)
  -- A subclass with its own backward pieces (see checkContainer) is run through them.
  if self.updateGradInput ~= Sequential.updateGradInput then return Module.backward(self, input, gradOutput) end
  local first = self.modules[1]
  if first then first.needInputGrad = self.needInputGrad end
  return backThrough(self, "backward", input, gradOutput)
end

function Sequential:accGradParameters(input, gradOutput)
  for i = #self.modules, 1, -1 do
    local m = self.modules[i]
    local g = i < #self.modules and self.gradOutputs[i] or gradOutput
    m:accGradParameters(childInput(self, i, input), g)
  end
end

-- The output shape of the last forward, or "" before any.
local function outputShape(t)
  return check.isTensor(t) and t:numel() > 0 and t:shapeString() or ""
end

-- 1234567 -> "1,234,567"
local function thousands(n)
  local s = tostring(n)
  return (s:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", ""))
end

local function pad(s, w) return s .. (" "):rep(w - #s) end

-- A table: one row per module with its index, name, description (a nested container
-- indented below its row), output shape of the last forward (when there was one) and
-- parameter count; then the total.
function Sequential:__tostring()
  local rows, width = {}, { 0, 0, 0, 0, 0 }
  for i, m in ipairs(self.modules) do
    local first, rest = tostring(m):match("^([^\n]*)(.*)$")
    local row = { ("(%d)"):format(i), self.names[i] or "", first, outputShape(m.output),
                  thousands(m:numParameters()), rest:gsub("\n", "\n    ") }
    for k = 1, 5 do width[k] = math.max(width[k], #row[k]) end
    rows[i] = row
  end
  local lines = { ("Sequential (%d modules)"):format(#self.modules) }
  for _, r in ipairs(rows) do
    local cells = {}
    for k = 1, 4 do cells[k] = pad(r[k], width[k]) end
    local count = (" "):rep(width[5] - #r[5]) .. r[5]
    lines[#lines + 1] = ("  %s  %s  %s  %s  %s"):format(cells[1], cells[2], cells[3], cells[4], count) .. r[6]
  end
  lines[#lines + 1] = ("  total parameters: %s"):format(thousands(self:numParameters()))
  return table.concat(lines, "\n")
end

return M
