-- lunet.nn recurrent modules: RNN, LSTM and GRU over whole sequences (the C kernels of
-- csrc/kernels/rnn.c: one call per layer for the forward pass, two for backpropagation through
-- time), and SelectTime / LastStep, which pick one time step.
--
--   nn.RNN(inputSize, hiddenSize, {layers = 1})      h_t = tanh(W_ih x_t + W_hh h_{t-1} + b)
--   nn.LSTM(inputSize, hiddenSize, {layers = 1, forgetBias = 1.0})
--   nn.GRU(inputSize, hiddenSize, {layers = 1})      PyTorch's / cuDNN's formulation
--
-- input (N,T,D) batch-first; output (N,T,H), the top layer's hidden state at every
-- step; module.hN (N,H) the top layer's last hidden state (a view of the output) and,
-- for the LSTM, module.cN (N,H) its last cell state. Stacked layers feed each layer's
-- hidden states to the next as its input sequence.
--
-- Parameters, per layer l = 1..layers (G gates: RNN 1, LSTM 4 (i,f,g,o), GRU 3 (r,z,n)):
--   weightIH<l> (G*H, D_l)   weightHH<l> (G*H, H)   PyTorch's weight_ih_l / weight_hh_l
--   bias<l> (G*H)                                   RNN and LSTM (one bias, TensorFlow's)
--   biasIH<l>, biasHH<l> (G*H)                      GRU (b_hn sits inside r * (...))
-- with gradients gradWeightIH<l>, ... Initialization (reset): every parameter uniform
-- in +-1/sqrt(H) as PyTorch; for the LSTM the forget gate's bias block then set to
-- forgetBias (1.0 as TensorFlow's BasicLSTMCell; forgetBias = false keeps it uniform).
--
-- Initial state: module:setInitialState(h0 [, c0]) with tensors (layers,N,H), or (N,H)
-- for one layer; nil (the default) means zeros. After backward, module.gradH0 (and
-- module.gradC0 for the LSTM) hold the gradient w.r.t. the initial state, shaped like
-- h0 (or (N,H) / (layers,N,H) when there was none).
local lunet = require "lunet"
local core = require "lunet.core"
local check = require "lunet.check"
local module = require "lunet.nn.module"

local Module = module.Module
local rnn = {}

-- Per cell: its gate count, its options and its three kernels (csrc/lua/rnn.c).
local CELLS = {}
for name, c in pairs({ RNN = { "rnn", 1 }, LSTM = { "lstm", 4, { "forgetBias", "layers" } }, GRU = { "gru", 3 } }) do
  CELLS[name] = { gates = c[2], options = c[3] or { "layers" }, forward = core[c[1] .. "_forward"],
                  backwardInput = core[c[1] .. "_backward_input"],
                  backwardParams = core[c[1] .. "_backward_params"] }
end

-- weightIH1 -> gradWeightIH1
local function gradName(p) return "grad" .. p:sub(1, 1):upper() .. p:sub(2) end

local function isPositiveInteger(v) return math.type(v) == "integer" and v >= 1 end

---------------------------------------------------------------------------------
-- Recurrent: the shared implementation; nn.RNN, nn.LSTM, nn.GRU are its subclasses.
local Recurrent = module.class("Recurrent", Module)

function Recurrent:__init(inputSize, hiddenSize, opts)
  Module.__init(self)
  local name, cell = self.typename, self.cell
  if not isPositiveInteger(inputSize) or not isPositiveInteger(hiddenSize) then
    check.fail(3, "%s: inputSize and hiddenSize must be positive integers, got %s and %s",
      name, tostring(inputSize), tostring(hiddenSize))
  end
  opts = check.options(name, opts, cell.options, 3)
  local layers = opts.layers or 1
  if not isPositiveInteger(layers) then
    check.fail(3, "%s: layers must be a positive integer, got %s", name, tostring(opts.layers))
  end
  local forgetBias = opts.forgetBias
  if name == "LSTM" then
    if forgetBias == nil then forgetBias = 1.0 end
    if forgetBias ~= false and type(forgetBias) ~= "number" then
      check.fail(3, "LSTM: forgetBias must be a number or false, got %s", tostring(forgetBias))
    end
  end
  self.inputSize, self.hiddenSize, self.numLayers = inputSize, hiddenSize, layers
  self.forgetBias = forgetBias

  local GH, H = cell.gates * hiddenSize, hiddenSize
  local biasNames = name == "GRU" and { "biasIH", "biasHH" } or { "bias" }
  self.paramNames = {}
  self.layer = {} -- per layer: parameter names and the buffers the kernels reuse
  for l = 1, layers do
    local D = l == 1 and inputSize or H
    local L = {
      weightIH = "weightIH" .. l, weightHH = "weightHH" .. l,
      biasIH = biasNames[1] .. l, biasHH = biasNames[2] and (biasNames[2] .. l),
      output = lunet.zeros(0), state = lunet.zeros(0), scratch = lunet.zeros(0),
      gradInput = lunet.zeros(0), gradH0 = lunet.zeros(0),
      cN = name == "LSTM" and lunet.zeros(0) or nil,
      gradC0 = name == "LSTM" and lunet.zeros(0) or nil,
    }
    self.layer[l] = L
    local shapes = { [L.weightIH] = { GH, D }, [L.weightHH] = { GH, H }, [L.biasIH] = { GH } }
    if L.biasHH then shapes[L.biasHH] = { GH } end
    for _, p in ipairs({ L.weightIH, L.weightHH, L.biasIH, L.biasHH }) do
      self.paramNames[#self.paramNames + 1] = p
      self[p] = lunet.zeros(table.unpack(shapes[p]))
      self[gradName(p)] = lunet.zeros(table.unpack(shapes[p]))
    end
  end
  self.output = lunet.zeros(0)
  self.gradInput = lunet.zeros(0)
  self:reset()
end

-- The per-layer buffers the kernels reuse; clearState releases them with the module's own.
local LAYER_BUFFERS = { "output", "state", "scratch", "gradInput", "gradH0", "cN", "gradC0" }
Recurrent.lastCallNames = { "input", "x", "hN", "cN", "gradH0", "gradC0", "gradFor" }

function Recurrent:clearState()
  Module.clearState(self)
  for _, L in ipairs(self.layer) do
    for _, name in ipairs(LAYER_BUFFERS) do
      if L[name] then L[name] = lunet.zeros(0) end
    end
  end
  return self
end

function Recurrent:reset()
  local a = 1 / math.sqrt(self.hiddenSize)
  for _, p in ipairs(self.paramNames) do self[p]:uniform_(-a, a) end
  if self.forgetBias then
    local H = self.hiddenSize
    for _, L in ipairs(self.layer) do self[L.biasIH]:narrow(1, H + 1, H):fill(self.forgetBias) end
  end
  return self
end

-- The initial state for the next forward calls: tensors (layers,N,H), or (N,H) for a
-- one-layer module; nil for zeros. c0 is the LSTM's initial cell state.
function Recurrent:setInitialState(h0, c0)
  local name = self.typename
  if c0 ~= nil and name ~= "LSTM" then
    error(("%s:setInitialState: only the LSTM has a cell state c0"):format(name), 2)
  end
  for _, s in ipairs({ { h0, "h0" }, { c0, "c0" } }) do
    local t, what = s[1], s[2]
    if t ~= nil then
      if not lunet.isTensor(t) then
        error(("%s:setInitialState: %s must be a tensor or nil, got %s"):format(name, what, type(t)), 2)
      end
      local H, layers = self.hiddenSize, self.numLayers
      local ok = (t:dim() == 3 and t:size(1) == layers and t:size(3) == H)
        or (layers == 1 and t:dim() == 2 and t:size(2) == H)
      if not ok then
        error(("%s:setInitialState: %s must be (layers,N,H) = (%d,N,%d)%s, got %s"):format(
          name, what, layers, H, layers == 1 and (" or (N,H) = (N,%d)"):format(H) or "",
          t:shapeString()), 2)
      end
    end
  end
  self.h0, self.c0 = h0, c0
  return self
end

-- Layer l's slice of an initial state given as (layers,N,H) or (N,H); nil stays nil.
local function layerState(t, l)
  if t == nil then return nil end
  local s = t:dim() == 2 and t or t:select(1, l)
  return s:isContiguous() and s or s:contiguous()
end

-- Raise unless the initial state t (or nil) is for the input's batch size.
local function checkBatch(self, t, what, input)
  if t ~= nil and t:size(t:dim() - 1) ~= input:size(1) then
    error(("%s: the initial state %s %s is for a batch of %d, the input %s has %d"):format(
      self.typename, what, t:shapeString(), t:size(t:dim() - 1), input:shapeString(), input:size(1)), 4)
  end
end

function Recurrent:updateOutput(input)
  local name = self.typename
  check.tensor(name, "input", input, {rank = 3, layout = "(N,T,D)"}, 3)
  if input:size(3) ~= self.inputSize then
    error(("%s: input must be (N,T,%d), got %s"):format(name, self.inputSize, input:shapeString()), 3)
  end
  checkBatch(self, self.h0, "h0", input)
  checkBatch(self, self.c0, "c0", input)
  local x = input:isContiguous() and input or input:contiguous()
  self.x = x
  for l, L in ipairs(self.layer) do
    self.cell.forward(x, self[L.weightIH], self[L.weightHH], self[L.biasIH],
                       L.biasHH and self[L.biasHH], layerState(self.h0, l), layerState(self.c0, l),
                       L.output, L.cN, L.state)
    x = L.output
  end
  local top = self.layer[#self.layer]
  self.output = top.output
  self.hN = top.output:select(2, top.output:size(2))
  self.cN = top.cN
  self.gradFor = nil -- the backward input pass of this forward has not run yet
  return self.output
end

-- The gradient w.r.t. the initial state `given` (h0 or c0), shaped as documented at
-- the top: each layer's (N,H) buffer, or their copies stacked in (layers,N,H).
local function gatherStateGrad(self, field, given)
  if self.numLayers == 1 and (given == nil or given:dim() == 2) then
    return self.layer[1][field]
  end
  local g1 = self.layer[1][field]
  local out = self[field]
  if not lunet.isTensor(out) or out:dim() ~= 3 or out:size(1) ~= self.numLayers
      or out:size(2) ~= g1:size(1) or out:size(3) ~= g1:size(2) then
    out = lunet.zeros(self.numLayers, g1:size(1), g1:size(2))
  end
  for l, L in ipairs(self.layer) do out:select(1, l):copy(L[field]) end
  return out
end

-- Backpropagation through time for every layer, top first; leaves the gates'
-- gradients in each layer's scratch for accGradParameters.
function Recurrent:updateGradInput(input, gradOutput)
  local name = self.typename
  if self.x == nil or (self.x ~= input and self.input ~= input) then
    error(("%s:backward: call forward(input) with this same input first"):format(name), 3)
  end
  if not lunet.isTensor(gradOutput) then
    error(("%s:backward: gradOutput must be a tensor (N,T,H), got %s"):format(name, type(gradOutput)), 3)
  end
  local g = gradOutput:isContiguous() and gradOutput or gradOutput:contiguous()
  for l = #self.layer, 1, -1 do
    local L = self.layer[l]
    local x = l == 1 and self.x or self.layer[l - 1].output
    -- the bottom layer's input gradient (one sgemm) only when someone wants it
    local gx = (l > 1 or self.needInputGrad ~= false) and L.gradInput or nil
    self.cell.backwardInput(x, self[L.weightIH], self[L.weightHH], L.state, g, gx,
                            L.gradH0, L.gradC0, L.scratch)
    g = gx
  end
  self.gradInput = g
  self.gradH0 = gatherStateGrad(self, "gradH0", self.h0)
  if self.typename == "LSTM" then self.gradC0 = gatherStateGrad(self, "gradC0", self.c0) end
  self.gradFor = gradOutput
  return g
end

function Recurrent:accGradParameters(input, gradOutput, scale)
  if self.gradFor ~= gradOutput then self:updateGradInput(input, gradOutput) end
  for l, L in ipairs(self.layer) do
    local x = l == 1 and self.x or self.layer[l - 1].output
    self.cell.backwardParams(x, L.state, L.scratch, self[gradName(L.weightIH)],
                              self[gradName(L.weightHH)], self[gradName(L.biasIH)],
                              L.biasHH and self[gradName(L.biasHH)], scale or 1)
  end
end

function Recurrent:__tostring()
  local extra = ""
  if self.numLayers > 1 then extra = (", %d layers"):format(self.numLayers) end
  if self.typename == "LSTM" and self.forgetBias then
    extra = extra .. (", forgetBias %g"):format(self.forgetBias)
  end
  return ("%s(%d -> %d%s)"):format(self.typename, self.inputSize, self.hiddenSize, extra)
end

for name, cell in pairs(CELLS) do
  local cls = module.class(name, Recurrent)
  cls.cell = cell
  rnn[name] = cls
end

---------------------------------------------------------------------------------
-- SelectTime(t): (N,T,H) -> (N,H), time step t (1-based; negative counts from the
-- end, -1 the last). Its gradInput is zero except at step t. LastStep() is
-- SelectTime(-1): Sequential{LSTM, LastStep, Linear} classifies whole sequences.
local SelectTime = module.class("SelectTime", Module)
rnn.SelectTime = SelectTime

function SelectTime:__init(t)
  Module.__init(self)
  if math.type(t) ~= "integer" or t == 0 then
    error(("SelectTime: the time step must be a non-zero integer (negative counts from the end), got %s")
      :format(tostring(t)), 3)
  end
  self.t = t
  self.output = lunet.zeros(0)
  self.gradInput = lunet.zeros(0)
end

-- Has t the shape (a,b), or (a,b,c) when c is given? (No tables allocated: this runs
-- every step.)
local function hasShape(t, a, b, c)
  if t:dim() ~= (c and 3 or 2) then return false end
  return t:size(1) == a and t:size(2) == b and (c == nil or t:size(3) == c)
end

local function stepOf(self, input)
  check.tensor(self.typename, "input", input, {rank = 3, layout = "(N,T,H)"}, 4)
  local T = input:size(2)
  local t = self.t < 0 and T + 1 + self.t or self.t
  if t < 1 or t > T then
    error(("%s: time step %d is out of range for a sequence of %d steps"):format(self.typename, self.t, T), 4)
  end
  return t
end

function SelectTime:updateOutput(input)
  local t = stepOf(self, input)
  local N, H = input:size(1), input:size(3)
  if not hasShape(self.output, N, H) then self.output = lunet.zeros(N, H) end
  self.output:copy(input:select(2, t))
  return self.output
end

function SelectTime:updateGradInput(input, gradOutput)
  local t = stepOf(self, input)
  local N, T, H = input:size(1), input:size(2), input:size(3)
  if not hasShape(self.gradInput, N, T, H) then self.gradInput = lunet.zeros(N, T, H) end
  if not hasShape(gradOutput, N, H) then
    error(("%s: gradOutput must be (%d,%d) like the output, got %s"):format(tostring(self), N, H,
      gradOutput:shapeString()), 2)
  end
  self.gradInput:zero()
  self.gradInput:select(2, t):copy(gradOutput)
  return self.gradInput
end

function SelectTime:__tostring() return ("SelectTime(%d)"):format(self.t) end

local LastStep = module.class("LastStep", SelectTime)
rnn.LastStep = LastStep

function LastStep:__init()
  SelectTime.__init(self, -1)
end

function LastStep:__tostring() return "LastStep" end

return rnn
