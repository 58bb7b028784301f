-- lunet.nn layers: Conv2d, MaxPool2d, ReLU, Linear, Dropout, Flatten, Softmax, LogSoftmax.
-- Each is a thin Lua shell over the C kernels of lunet.core (csrc/conv.c, pool.c,
-- activ.c): the module owns its parameters and buffers, the kernels resize and fill
-- them, so once the shapes are known a training step allocates nothing.
local lunet = require "lunet"
local core = require "lunet.core"
local nn = require "lunet.nn"

local Module = nn.Module

-- A number n -> n, n; a table {a, b} -> a, b.
local function pair(v, fname, what)
  if math.type(v) == "integer" then return v, v end
  if type(v) == "table" and math.type(v[1]) == "integer" and math.type(v[2]) == "integer" then
    return v[1], v[2]
  end
  error(("%s: %s must be an integer or a pair {h, w} of integers, got %s"):format(
    fname, what, type(v) == "table" and "a table" or tostring(v)), 4)
end

-- Strides and paddings print as "2" or "2x1"; kernel sizes always as "5x5".
local function pairString(a, b)
  return a == b and tostring(a) or ("%dx%d"):format(a, b)
end

local function kernelString(a, b) return ("%dx%d"):format(a, b) end

local function checkTensor(x, fname, what)
  if not lunet.isTensor(x) then
    error(("%s: %s must be a tensor, got %s"):format(fname, what, type(x)), 3)
  end
end

-- Default initialization of Torch7's nn: weight and bias uniform in +-1/sqrt(fanIn).
local function resetUniform(m, fanIn)
  local stdv = 1 / math.sqrt(fanIn)
  m.weight:uniform_(-stdv, stdv)
  if m.bias then m.bias:uniform_(-stdv, stdv) end
  return m
end

---------------------------------------------------------------------------------
-- Conv2d(inC, outC, k, {stride = 1, padding = 0 | 'same', bias = true})
-- k, stride and padding are numbers or {h, w} pairs. padding = 'same' keeps the
-- spatial size (odd kernels and stride 1, where it equals TensorFlow's 'same').
-- weight (outC, inC, kH, kW), bias (outC); input (N, inC, H, W) -> (N, outC, H', W').
local Conv2d = nn.class("Conv2d", Module)
nn.Conv2d = Conv2d

function Conv2d:__init(inC, outC, k, opts)
  Module.__init(self)
  opts = opts or {}
  if math.type(inC) ~= "integer" or inC < 1 or math.type(outC) ~= "integer" or outC < 1 then
    error(("Conv2d: channel counts must be positive integers, got %s and %s"):format(
      tostring(inC), tostring(outC)), 3)
  end
  if type(opts) ~= "table" then
    error(("Conv2d: argument #4 must be an options table {stride=, padding=, bias=}, got %s"):format(
      type(opts)), 3)
  end
  self.inC, self.outC = inC, outC
  self.kH, self.kW = pair(k, "Conv2d", "kernel size")
  self.sH, self.sW = pair(opts.stride or 1, "Conv2d", "stride")
  if opts.padding == "same" then
    if self.kH % 2 == 0 or self.kW % 2 == 0 or self.sH ~= 1 or self.sW ~= 1 then
      error(("Conv2d: padding 'same' needs an odd kernel and stride 1, got kernel %s, stride %s; "
             .. "give the padding as a number"):format(kernelString(self.kH, self.kW),
                                                        pairString(self.sH, self.sW)), 3)
    end
    self.same = true
    self.pH, self.pW = (self.kH - 1) // 2, (self.kW - 1) // 2
  else
    self.pH, self.pW = pair(opts.padding or 0, "Conv2d", "padding")
  end
  if self.kH < 1 or self.kW < 1 or self.sH < 1 or self.sW < 1 or self.pH < 0 or self.pW < 0 then
    error("Conv2d: kernel and stride must be >= 1 and padding >= 0", 3)
  end
  self.weight = lunet.zeros(outC, inC, self.kH, self.kW)
  self.gradWeight = lunet.zeros(outC, inC, self.kH, self.kW)
  if opts.bias ~= false then
    self.bias = lunet.zeros(outC)
    self.gradBias = lunet.zeros(outC)
  end
  self.output = lunet.zeros(0)
  self.gradInput = lunet.zeros(0)
  self.workspace = lunet.zeros(0)
  self:reset()
end

function Conv2d:reset()
  return resetUniform(self, self.inC * self.kH * self.kW)
end

function Conv2d:updateOutput(input)
  checkTensor(input, "Conv2d", "input")
  core.conv2d_forward(input, self.weight, self.bias, self.output, self.workspace,
                      self.sH, self.sW, self.pH, self.pW)
  return self.output
end

function Conv2d:updateGradInput(input, gradOutput)
  core.conv2d_backward_input(input, gradOutput, self.weight, self.gradInput, self.workspace,
                             self.sH, self.sW, self.pH, self.pW)
  return self.gradInput
end

function Conv2d:accGradParameters(input, gradOutput, scale)
  core.conv2d_backward_params(input, gradOutput, self.gradWeight, self.gradBias, self.workspace,
                              self.sH, self.sW, self.pH, self.pW, scale or 1)
end

function Conv2d:__tostring()
  local pad = pairString(self.pH, self.pW)
  return ("Conv2d(%d -> %d, %s, stride %s, padding %s%s)"):format(
    self.inC, self.outC, kernelString(self.kH, self.kW), pairString(self.sH, self.sW),
    self.same and ("'same' = " .. pad) or pad, self.bias and "" or ", no bias")
end

---------------------------------------------------------------------------------
-- MaxPool2d(k, stride = k, padding = 0): max over k windows. The forward records the
-- argmax switches (module.switches, int (N,C,H',W'), 1-based flat indices into each
-- input plane), which the backward routes gradients through and unpool() uses.
local MaxPool2d = nn.class("MaxPool2d", Module)
nn.MaxPool2d = MaxPool2d

function MaxPool2d:__init(k, stride, padding)
  Module.__init(self)
  self.kH, self.kW = pair(k, "MaxPool2d", "kernel size")
  self.sH, self.sW = pair(stride or k, "MaxPool2d", "stride")
  self.pH, self.pW = pair(padding or 0, "MaxPool2d", "padding")
  if self.kH < 1 or self.kW < 1 or self.sH < 1 or self.sW < 1 then
    error("MaxPool2d: kernel and stride must be >= 1", 3)
  end
  if self.pH < 0 or self.pW < 0 or 2 * self.pH > self.kH or 2 * self.pW > self.kW then
    error(("MaxPool2d: padding must be between 0 and half the kernel, got %s for kernel %s"):format(
      pairString(self.pH, self.pW), kernelString(self.kH, self.kW)), 3)
  end
  self.output = lunet.zeros(0)
  self.switches = lunet.zeros(0, "int")
  self.gradInput = lunet.zeros(0)
end

function MaxPool2d:updateOutput(input)
  checkTensor(input, "MaxPool2d", "input")
  core.maxpool2d_forward(input, self.output, self.switches, self.kH, self.kW,
                         self.sH, self.sW, self.pH, self.pW)
  return self.output
end

function MaxPool2d:updateGradInput(input, gradOutput)
  core.maxpool2d_backward(input, gradOutput, self.switches, self.gradInput, self.kH, self.kW,
                          self.sH, self.sW, self.pH, self.pW)
  return self.gradInput
end

-- unpool(values [, output]): values shaped like the last output, placed back at the
-- switches of the last forward into a tensor shaped like its input (zero elsewhere).
function MaxPool2d:unpool(values, output)
  local input = self.input
  if not lunet.isTensor(input) then
    error("MaxPool2d:unpool: no forward has run yet (the switches come from it)", 2)
  end
  return core.maxunpool2d(values, self.switches, output or lunet.zeros(0),
                          input:size(3), input:size(4))
end

function MaxPool2d:__tostring()
  return ("MaxPool2d(%s, stride %s, padding %s)"):format(kernelString(self.kH, self.kW),
    pairString(self.sH, self.sW), pairString(self.pH, self.pW))
end

---------------------------------------------------------------------------------
-- ReLU: max(x, 0). Its input, the pre-activation, stays reachable as module.preact.
local ReLU = nn.class("ReLU", Module)
nn.ReLU = ReLU

function ReLU:__init()
  Module.__init(self)
  self.output = lunet.zeros(0)
  self.gradInput = lunet.zeros(0)
end

function ReLU:updateOutput(input)
  checkTensor(input, "ReLU", "input")
  self.preact = input
  core.relu_forward(input, self.output)
  return self.output
end

function ReLU:updateGradInput(input, gradOutput)
  core.relu_backward(input, gradOutput, self.gradInput)
  return self.gradInput
end

function ReLU:__tostring() return "ReLU" end

---------------------------------------------------------------------------------
-- Linear(in, out, {bias = true}): y = x W^T + b; weight (out, in), input (N, in).
local Linear = nn.class("Linear", Module)
nn.Linear = Linear

function Linear:__init(inF, outF, opts)
  Module.__init(self)
  if math.type(inF) ~= "integer" or inF < 1 or math.type(outF) ~= "integer" or outF < 1 then
    error(("Linear: feature counts must be positive integers, got %s and %s"):format(
      tostring(inF), tostring(outF)), 3)
  end
  opts = opts or {}
  self.inF, self.outF = inF, outF
  self.weight = lunet.zeros(outF, inF)
  self.gradWeight = lunet.zeros(outF, inF)
  if opts.bias ~= false then
    self.bias = lunet.zeros(outF)
    self.gradBias = lunet.zeros(outF)
  end
  self.output = lunet.zeros(0)
  self.gradInput = lunet.zeros(0)
  self:reset()
end

function Linear:reset()
  return resetUniform(self, self.inF)
end

function Linear:updateOutput(input)
  checkTensor(input, "Linear", "input")
  core.linear_forward(input, self.weight, self.bias, self.output)
  return self.output
end

function Linear:updateGradInput(input, gradOutput)
  core.linear_backward_input(gradOutput, self.weight, self.gradInput)
  return self.gradInput
end

function Linear:accGradParameters(input, gradOutput, scale)
  core.linear_backward_params(input, gradOutput, self.gradWeight, self.gradBias, scale or 1)
end

function Linear:__tostring()
  return ("Linear(%d -> %d%s)"):format(self.inF, self.outF, self.bias and "" or ", no bias")
end

---------------------------------------------------------------------------------
-- Dropout(p) with p the probability of DROPPING a unit (as PyTorch), or
-- Dropout{keep = 0.5} with the probability of keeping it (as TensorFlow's keep_prob).
-- Inverted dropout: in training, y = x * mask / keep, the mask drawn from lunet's
-- generator (lunet.manualSeed reproduces it) and kept as module.mask; in evaluation,
-- y = x. module.p and module.keep hold both views.
local Dropout = nn.class("Dropout", Module)
nn.Dropout = Dropout

function Dropout:__init(p)
  Module.__init(self)
  local keep
  if type(p) == "table" then
    if p.keep ~= nil and p.p ~= nil then error("Dropout: give either p or keep, not both", 3) end
    keep = p.keep or (p.p and 1 - p.p)
  elseif p == nil then
    keep = 0.5
  else
    keep = type(p) == "number" and 1 - p or nil
  end
  if type(keep) ~= "number" or not (keep > 0 and keep <= 1) then
    error(("Dropout: p (drop probability) must be in [0,1) and keep in (0,1], got %s"):format(
      type(p) == "table" and ("{p=%s, keep=%s}"):format(tostring(p.p), tostring(p.keep)) or tostring(p)), 3)
  end
  self.keep, self.p = keep, 1 - keep
  -- In evaluation output and gradInput are the incoming tensors themselves, so the
  -- buffers that training fills are kept apart.
  self.outputBuffer = lunet.zeros(0)
  self.gradInputBuffer = lunet.zeros(0)
  self.mask = lunet.zeros(0)
end

-- Do a and b have the same shape? (No tables allocated: this runs every step.)
local function sameShape(a, b)
  local n = a:dim()
  if n ~= b:dim() then return false end
  for d = 1, n do
    if a:size(d) ~= b:size(d) then return false end
  end
  return true
end

function Dropout:updateOutput(input)
  checkTensor(input, "Dropout", "input")
  if not self.training or self.keep == 1 then
    self.output = input
    return input
  end
  if not sameShape(self.mask, input) then self.mask = lunet.zeros(input:size()) end
  self.mask:bernoulli_(self.keep)
  self.output = core.dropout_forward(input, self.mask, self.outputBuffer, self.keep)
  return self.output
end

function Dropout:updateGradInput(input, gradOutput)
  if not self.training or self.keep == 1 then
    self.gradInput = gradOutput
    return gradOutput
  end
  self.gradInput = core.dropout_backward(gradOutput, self.mask, self.gradInputBuffer, self.keep)
  return self.gradInput
end

function Dropout:__tostring()
  return ("Dropout(p = %g, keep %g)"):format(self.p, self.keep)
end

---------------------------------------------------------------------------------
-- Flatten(): (N, d2, d3, ...) -> (N, d2*d3*...), a view of a contiguous input (a copy otherwise).
local Flatten = nn.class("Flatten", Module)
nn.Flatten = Flatten

function Flatten:updateOutput(input)
  checkTensor(input, "Flatten", "input")
  if input:dim() < 1 then error("Flatten: input must have a batch dimension, got a scalar", 2) end
  self.output = input:reshape(input:size(1), -1)
  return self.output
end

function Flatten:updateGradInput(input, gradOutput)
  checkTensor(gradOutput, "Flatten", "gradOutput")
  if gradOutput:numel() ~= input:numel() or gradOutput:size(1) ~= input:size(1) then
    error(("Flatten: gradOutput %s does not match the output (%d,%d)"):format(gradOutput:shapeString(),
      input:size(1), input:numel() // math.max(input:size(1), 1)), 2)
  end
  self.gradInput = gradOutput:reshape(input:size())
  return self.gradInput
end

function Flatten:__tostring() return "Flatten" end

---------------------------------------------------------------------------------
-- Softmax and LogSoftmax over the second dimension of an (N, K) input.
local function rowwise(name, kernel)
  local cls = nn.class(name, Module)
  nn[name] = cls
  local fwd, bwd = core[kernel .. "_forward"], core[kernel .. "_backward"]
  function cls:__init()
    Module.__init(self)
    self.output = lunet.zeros(0)
    self.gradInput = lunet.zeros(0)
  end
  function cls:updateOutput(input)
    checkTensor(input, name, "input")
    fwd(input, self.output)
    return self.output
  end
  function cls:updateGradInput(input, gradOutput)
    bwd(self.output, gradOutput, self.gradInput)
    return self.gradInput
  end
  function cls:__tostring() return name end
end

rowwise("Softmax", "softmax")
rowwise("LogSoftmax", "logsoftmax")
