--- lunet.nn.module: the class helper and the base classes every nn module builds on:
-- nn.class, nn.isModule, nn.Module (the protocol described in lunet/nn/init.lua),
-- nn.Criterion (losses) and nn.Sequential (the container). lunet.nn re-exports them;
-- the layer files require this file, not lunet.nn, so nothing loads in a cycle.
-- @submodule lunet.nn
local lunet = require "lunet"
local check = require "lunet.check"
local init = require "lunet.nn.init_schemes"

local M = {}

-- Refuses a container whose forward its backward would not follow (defined with Sequential).
local checkContainer

--- Make a new module class: calling the class, `Cls(...)`, makes an instance (a table
-- whose metatable is the class), records the arguments (for lunet.save and clone) and runs
-- `Cls.__init(self, ...)`. Methods not defined are looked up in parent; metamethods
-- (__tostring, ...) are inherited by copying them at creation time, since Lua looks
-- metamethods up with rawget. A class with a `modules` list whose updateOutput differs
-- from Sequential's but whose backward pieces do not is refused when an instance is made.
-- Raises when name is not a string.
-- @tparam string name the class name (`typename`; tostring gives "nn." .. name)
-- @tparam[opt] table parent the class to inherit from, usually nn.Module
-- @treturn table the class
-- @usage local Scale = nn.class("Scale", nn.Module)
-- function Scale:updateOutput(x) self.output = x * 2; return self.output end
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

--- Is x an nn module: an instance of nn.Module or one of its subclasses (not a class)?
-- @param x any value
-- @treturn boolean
-- @usage assert(nn.isModule(nn.Linear(2, 3)) and not nn.isModule(nn.Linear))
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

-- The sliding-window options of the layers: a number n -> n, n; a table {a, b} -> a, b.
-- Errors at `level` seen from here (default 4: the caller of a constructor that calls this).
function M.pair(v, fname, what, level)
  if math.type(v) == "integer" then return v, v end
  if type(v) == "table" and math.type(v[1]) == "integer" and math.type(v[2]) == "integer" then
    return v[1], v[2]
  end
  check.fail(level or 4, "%s: %s must be an integer or a pair {h, w} of integers, got %s",
    fname, what, type(v) == "table" and "a table" or tostring(v))
end

-- Strides and paddings print as "2" or "2x1"; kernel sizes always as "5x5".
function M.pairString(a, b)
  return a == b and tostring(a) or ("%dx%d"):format(a, b)
end

function M.kernelString(a, b) return ("%dx%d"):format(a, b) end

---------------------------------------------------------------------------------
--- The base class of every module: `nn.class("MyLayer", nn.Module)` makes a subclass,
-- which implements updateOutput(input), updateGradInput(input, gradOutput) and, when it has
-- parameters, accGradParameters(input, gradOutput), and names them in the class field
-- `paramNames` (default {"weight", "bias"}; parameter p has its gradient in grad<P>).
-- `nn.Module()` itself makes a module whose forward raises (nothing is implemented).
-- @function Module
-- @treturn Module a module in training mode
-- @usage local Double = nn.class("Double", nn.Module)
local Module = M.class("Module")
M.Module = Module
Module.paramNames = { "weight", "bias" }

function Module:__init()
  self.training = true
end

--- Compute the output: records input (module.input) and returns updateOutput(input), which
-- also sets module.output. Shapes and dtypes are those of the module (batch-first: images
-- (N,C,H,W), feature vectors (N,D)); a module reuses its output tensor between calls.
-- Raises what updateOutput raises: a wrong rank, shape or dtype named by the module.
-- @tparam Tensor input
-- @treturn Tensor module.output
-- @usage local y = model:forward(lunet.randn(8, 1, 28, 28))
function Module:forward(input)
  self.input = input
  return self:updateOutput(input)
end

--- The backward pass: updateGradInput then accGradParameters, which ADDS the parameter
-- gradients into grad<Param> (call zeroGrad between steps). With module.needInputGrad =
-- false, only the parameter gradients are computed and nil is returned. Call it after
-- forward on the same input; gradOutput has the output's shape.
-- @tparam Tensor input the input of the forward
-- @tparam Tensor gradOutput the gradient of the loss w.r.t. the output
-- @treturn Tensor|nil module.gradInput, the gradient w.r.t. the input (input's shape)
-- @usage local g = model:backward(x, loss:backward(model:forward(x), y))
function Module:backward(input, gradOutput)
  if self.needInputGrad == false then
    self:accGradParameters(input, gradOutput)
    return nil
  end
  self:updateGradInput(input, gradOutput)
  self:accGradParameters(input, gradOutput)
  return self.gradInput
end

--- Compute module.output from input and return it (what a subclass implements; forward calls
-- it). Raises "<name>:updateOutput is not implemented" on the base class; each layer raises
-- for an input of the wrong rank, shape or dtype, naming itself.
-- @tparam Tensor input
-- @treturn Tensor module.output
-- @usage local y = nn.ReLU():updateOutput(lunet.randn(2, 3))
function Module:updateOutput(input)
  error(self.typename .. ":updateOutput is not implemented", 2)
end

--- Compute module.gradInput, the gradient w.r.t. input, from gradOutput (the output's shape)
-- and return it (what a subclass implements; backward calls it). Raises "<name>:updateGradInput
-- is not implemented" on the base class, and in the layers for a gradOutput whose shape does
-- not match the output.
-- @tparam Tensor input the input of the last forward
-- @tparam Tensor gradOutput
-- @treturn Tensor module.gradInput, input's shape
-- @usage local m = nn.Tanh(); local x = lunet.randn(2, 3); m:forward(x)
-- local g = m:updateGradInput(x, lunet.ones(2, 3))
function Module:updateGradInput(input, gradOutput)
  error(self.typename .. ":updateGradInput is not implemented", 2)
end

--- Add the gradients of the parameters, from input and gradOutput, into grad<Param>
-- (gradWeight, gradBias): a no-op for modules without parameters. Layers with parameters
-- take an optional scale multiplying what is added (default 1). A container must pass its
-- children their gradients, and one that does not implement it raises rather than leave
-- them untrained.
-- @tparam Tensor input the input of the last forward
-- @tparam Tensor gradOutput
-- @usage m:zeroGrad(); m:forward(x); m:updateGradInput(x, g); m:accGradParameters(x, g)
function Module:accGradParameters(input, gradOutput)
  if self.modules and #self.modules > 0 then
    error(("%s:accGradParameters is not implemented: a container must pass its children their gradients "
      .. "(implement accGradParameters or backward, or write it as nn.Function)"):format(self.typename), 2)
  end
end

--- The parameters and their gradients, as two lists in a fixed order: children first, in
-- order, then this module's own parameters in paramNames order. The tensors themselves,
-- not copies (float32: the nn kernels take float tensors).
-- @treturn {Tensor,...} the parameters
-- @treturn {Tensor,...} their gradients, in the same order and shapes
-- @usage local ws, gs = model:parameters()
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

--- Call fn(module) on this module and then on every descendant, depth-first.
-- @tparam function fn called with each module
-- @treturn Module self
-- @usage model:apply(function(m) print(m) end)
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

--- Set every parameter gradient of this module and its descendants to zero (walks the
-- modules as parameters() does, without building its lists: it runs every training step,
-- which then allocates nothing).
-- @treturn Module self
-- @usage model:zeroGrad()
function Module:zeroGrad()
  for _, m in ipairs(self.modules or NONE) do m:zeroGrad() end
  for _, name in ipairs(self.paramNames) do
    if self[name] ~= nil then self[gradNames[name]]:zero() end
  end
  return self
end

--- Where each parameter lives, in parameters() order, the path naming it by the
-- containers' child names (or positions) for messages. An optimizer checks these to see a
-- parameter replaced.
-- @tparam[opt=""] string prefix put before each path
-- @tparam[opt] table slots a list to append to (default a new one)
-- @treturn {table,...} `{module = m, name = "weight", grad = "gradWeight", path = "conv1.weight"}` per parameter
-- @usage for _, s in ipairs(model:parameterSlots()) do print(s.path) end
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

--- The tensors of this module's state that are not parameters (BatchNorm's running
-- statistics, named by the class field `stateNames`), of it and its descendants, in a fixed
-- order: children first, in order, then its own in stateNames order.
-- @tparam[opt] table list a list to append to
-- @treturn table the tensors
-- @usage local running = model:stateTensors()
function Module:stateTensors(list)
  list = list or {}
  for _, m in ipairs(self.modules or NONE) do m:stateTensors(list) end
  for _, name in ipairs(self.stateNames) do
    if self[name] ~= nil then list[#list + 1] = self[name] end
  end
  return list
end

--- Switch this module and its descendants to training mode (module.training = true):
-- Dropout drops units.
-- @treturn Module self
-- @usage model:train()
function Module:train()
  return self:apply(function(m) m.training = true end)
end

--- Switch this module and its descendants to evaluation mode (module.training = false):
-- Dropout passes its input through.
-- @treturn Module self
-- @usage model:evaluate()
function Module:evaluate()
  return self:apply(function(m) m.training = false end)
end

-- The tensors a module computes into (released by clearState), and the fields that refer
-- to tensors of its last call (dropped by it). A subclass lists its own.
Module.bufferNames = { "output", "gradInput" }
Module.lastCallNames = { "input" }

--- Release every buffer of this module and its descendants (outputs, gradients w.r.t.
-- inputs, workspaces, switches, ...: the class's bufferNames, replaced by empty tensors of
-- their dtype) and the references to the last call's tensors (lastCallNames), keeping the
-- parameters and their gradients. Buffers grow to the largest batch they have seen and
-- keep that size: after an evaluation in batches of 500, LeNet-5 holds ~210 MB until this
-- is called (Torch7's name). The next forward allocates them again at the size it needs.
-- @treturn Module self
-- @usage model:clearState()
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

--- The buffer self[name] a kernel is about to write, replaced by a fresh empty tensor of its
-- dtype when it shares its storage with a or b, the tensors the kernel reads (a module
-- applied to its own output, as the same Linear twice in a Sequential): the kernels resize
-- their output before reading their inputs, and the earlier result stays intact for the
-- backward. No allocation otherwise. For writers of new modules.
-- @tparam string name the buffer's field ("output", "gradInput")
-- @tparam[opt] Tensor a a tensor the kernel reads
-- @tparam[opt] Tensor b another
-- @treturn Tensor the buffer to write (self[name] afterwards)
-- @usage core.relu_forward(input, self:writable("output", input))
function Module:writable(name, a, b)
  local t = self[name]
  if M.sharesStorage(t, a) or M.sharesStorage(t, b) then
    t = lunet.zeros(0, t:dtype())
    self[name] = t
  end
  return t
end

--- A deep copy: the same classes, constructor arguments, mode and parameter values in new
-- tensors (nn/persist.lua). What lunet.save cannot write, clone refuses alike: a module
-- holding a function (nn.Function) or whose class is not one of lunet.nn's raises
-- "clone: ...", naming the place.
-- @treturn Module the copy
-- @usage local copy = model:clone()
function Module:clone()
  return require("lunet.nn.persist").clone(self)
end

--- The number of scalar parameters of this module and its descendants.
-- @treturn integer
-- @usage print(nn.Linear(784, 10):numParameters()) -- 7850
function Module:numParameters()
  -- through the children's numParameters, not parameters(): a layer quantized for
  -- inference has no parameters to train but still counts its weights
  local n = 0
  for _, m in ipairs(self.modules or NONE) do n = n + m:numParameters() end
  for _, name in ipairs(self.paramNames) do
    local w = self[name]
    if w ~= nil then n = n + w:numel() end
  end
  return n
end

--- Initialize every parameter of this module and its descendants, from lunet's generator
-- (lunet.manualSeed reproduces it). Raises for an unknown scheme name (listing the known
-- ones) or a scheme that is neither a name nor a function.
-- @tparam string|function scheme a name in nn.init.schemes ("course", "xavier", "kaiming",
-- "default") or a function(module) called on each module
-- @treturn Module self
-- @usage model:init("kaiming")
function Module:init(scheme)
  return init.apply(self, scheme)
end

-- One line: the module's type and its arguments; subclasses override __tostring.
function Module:__tostring()
  return self.typename
end

---------------------------------------------------------------------------------
--- The base class of the losses: forward(input, target) -> number (also self.output);
-- backward(input, target) -> gradInput (the gradient of the loss w.r.t. input). A loss
-- with reduction = "none" returns a tensor of losses instead, and its backward takes the
-- gradient w.r.t. them as a third argument (default: ones, the gradient of their sum).
-- A subclass implements updateOutput(input, target) and updateGradInput(input, target [, gradOutput]).
-- @function Criterion
-- @treturn Criterion
-- @usage local MyLoss = nn.class("MyLoss", nn.Criterion)
local Criterion = M.class("Criterion", Module)
M.Criterion = Criterion

--- The loss of input against target: records input and returns updateOutput(input, target).
-- Shapes and dtypes as each loss documents; a mismatch raises naming the loss.
-- @tparam Tensor input predictions (scores, probabilities or values)
-- @tparam Tensor target class indices or values, as the loss takes
-- @treturn number|Tensor the loss (a tensor of losses with reduction = "none")
-- @usage local l = nn.CrossEntropyLoss():forward(logits, labels)
function Criterion:forward(input, target)
  self.input = input
  return self:updateOutput(input, target)
end

--- The gradient of the loss w.r.t. input (input's shape), after forward on the same input.
-- @tparam Tensor input
-- @tparam Tensor target
-- @tparam[opt] Tensor gradOutput with reduction = "none": the gradient w.r.t. each loss (default ones)
-- @treturn Tensor gradInput
-- @usage local g = crit:backward(logits, labels)
function Criterion:backward(input, target, gradOutput)
  return self:updateGradInput(input, target, gradOutput)
end

Criterion.lastCallNames = { "input", "logits" }

---------------------------------------------------------------------------------
--- A container: modules applied one after another. add(module, name) returns the
-- container so calls chain; a named module is found with find(name) or byName[name].
-- Its backward goes through the children in reverse, handing each the input it had in the
-- forward. tostring gives a table of the children, output shapes and parameter counts.
-- @function Sequential
-- @treturn Sequential an empty container
-- @usage local model = nn.Sequential():add(nn.Linear(784, 100), "fc1"):add(nn.ReLU()):add(nn.Linear(100, 10))
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

--- Append a module, optionally named (then found with find(name)). It takes the
-- container's mode. Raises for a value that is not a module (naming a class given
-- uncalled), a name that is not a string, or a name already used.
-- @tparam Module module
-- @tparam[opt] string name
-- @treturn Sequential self, so calls chain
-- @usage model:add(nn.Conv2d(1, 6, 5), "conv1")
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

--- The i-th module; negative i counts from the end (-1 is the last). Raises for a
-- non-integer index or one out of range.
-- @tparam integer i
-- @treturn Module
-- @usage local last = model:get(-1)
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

--- The module added under name. Raises for an unknown name, listing the known ones.
-- @tparam string name
-- @treturn Module
-- @usage local conv1 = model:find("conv1")
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

--- The number of modules (not counting those inside nested containers).
-- @treturn integer
-- @usage for i = 1, model:size() do print(model:get(i)) end
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
