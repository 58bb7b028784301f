--- lunet.nn recurrent modules: RNN, LSTM and GRU over whole sequences (the C kernels of
-- csrc/kernels/rnn.c: one call per layer for the forward pass, two for backpropagation through
-- time), and SelectTime / LastStep, which pick one time step.
--
--   nn.RNN(inputSize, hiddenSize, {layers = 1})      h_t = tanh(W_ih x_t + W_hh h_{t-1} + b)
--   nn.LSTM(inputSize, hiddenSize, {layers = 1, forgetBias = 1.0})
--   nn.GRU(inputSize, hiddenSize, {layers = 1})      PyTorch's / cuDNN's formulation
-- and, for all three, the options
--   bidirectional = false  a second unit per layer reads the sequence backwards; the
--                          layer's output is both units' states side by side (N,T,2H)
--   dropout = 0            inter-layer dropout: between stacked layers (not after the
--                          top one), in training only, as PyTorch's
--   batchFirst = true      input (N,T,D), output (N,T,H); false: time first, (T,N,D) and
--                          (T,N,H), PyTorch's default layout
--
-- Layout: input (N,T,D) (batchFirst) or (T,N,D); output (N,T,H·dirs) or (T,N,H·dirs), the
-- top layer's hidden states at every step (dirs = 2 when bidirectional).
-- module.hN (N,H·dirs) is the top layer's last hidden state (the forward unit's at step T
-- beside the reverse unit's at step 1) and, for the LSTM, module.cN (N,H·dirs) its last
-- cell state. Stacked layers feed each layer's output to the next as its input sequence.
-- With bidirectional, LastStep picks step T of the output, where the reverse unit has read
-- one step only: use hN for a sequence summary.
--
-- Parameters, per layer l = 1..layers (G gates: RNN 1, LSTM 4 (i,f,g,o), GRU 3 (r,z,n)),
-- and again with the suffix Reverse (weightIH1Reverse, ...) for a bidirectional layer's
-- reverse unit (D_l = D for l = 1, H·dirs above):
--   weightIH<l> (G*H, D_l)   weightHH<l> (G*H, H)   PyTorch's weight_ih_l / weight_hh_l
--   bias<l> (G*H)                                   RNN and LSTM (one bias, TensorFlow's)
--   biasIH<l>, biasHH<l> (G*H)                      GRU (b_hn sits inside r * (...))
-- with gradients gradWeightIH<l>, ... Initialization (reset): every parameter uniform
-- in +-1/sqrt(H) as PyTorch; for the LSTM the forget gate's bias block then set to
-- forgetBias (1.0 as TensorFlow's BasicLSTMCell; forgetBias = false keeps it uniform).
--
-- Initial state: module:setInitialState(h0 [, c0]) with tensors (layers·dirs,N,H), units
-- layer-major with the forward one first (PyTorch's order), or (N,H) for one unit; nil
-- (the default) means zeros. After backward, module.gradH0 (and module.gradC0 for the
-- LSTM) hold the gradient w.r.t. the initial state, shaped like h0 (or (N,H) /
-- (layers·dirs,N,H) when there was none).
-- @submodule lunet.nn
local lunet = require "lunet"
local core = require "lunet.core"
local check = require "lunet.check"
local module = require "lunet.nn.module"

local Module = module.Module
local rnn = {}

-- Per cell: its gate count, its options and its three kernels (csrc/lua/rnn.c).
local CELLS = {}
local OPTIONS = { "layers", "bidirectional", "dropout", "batchFirst" }
for name, c in pairs({ RNN = { "rnn", 1 }, LSTM = { "lstm", 4, "forgetBias" }, GRU = { "gru", 3 } }) do
  local options = { table.unpack(OPTIONS) }
  if c[3] then table.insert(options, 1, c[3]) end
  CELLS[name] = { gates = c[2], options = options, forward = core[c[1] .. "_forward"],
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
  for _, flag in ipairs({"bidirectional", "batchFirst"}) do
    if opts[flag] ~= nil and type(opts[flag]) ~= "boolean" then
      check.fail(3, "%s: %s must be a boolean, got %s", name, flag, tostring(opts[flag]))
    end
  end
  self.dropout = opts.dropout == nil and 0 or check.number(name, "dropout", opts.dropout, 0, 1, 3, "[)")
  self.inputSize, self.hiddenSize, self.numLayers = inputSize, hiddenSize, layers
  self.forgetBias = forgetBias
  self.bidirectional = opts.bidirectional == true
  self.batchFirst = opts.batchFirst ~= false
  self.directions = self.bidirectional and 2 or 1

  local GH, H = cell.gates * hiddenSize, hiddenSize
  local biasNames = name == "GRU" and { "biasIH", "biasHH" } or { "bias" }
  self.paramNames = {}
  -- One unit per layer and direction (layer-major, forward first, as PyTorch orders
  -- them): its parameter names and the buffers its kernels reuse.
  self.layer = {}
  for l = 1, layers do
    local D = l == 1 and inputSize or H * self.directions
    for dir = 1, self.directions do
      local suffix = l .. (dir == 2 and "Reverse" or "")
      local L = {
        l = l, reverse = dir == 2,
        weightIH = "weightIH" .. suffix, weightHH = "weightHH" .. suffix,
        biasIH = biasNames[1] .. suffix, biasHH = biasNames[2] and (biasNames[2] .. suffix),
        output = lunet.zeros(0), state = lunet.zeros(0), scratch = lunet.zeros(0),
        gradInput = lunet.zeros(0), gradH0 = lunet.zeros(0),
        cN = name == "LSTM" and lunet.zeros(0) or nil,
        gradC0 = name == "LSTM" and lunet.zeros(0) or nil,
      }
      self.layer[#self.layer + 1] = L
      local shapes = { [L.weightIH] = { GH, D }, [L.weightHH] = { GH, H }, [L.biasIH] = { GH } }
      if L.biasHH then shapes[L.biasHH] = { GH } end
      for _, p in ipairs({ L.weightIH, L.weightHH, L.biasIH, L.biasHH }) do
        self.paramNames[#self.paramNames + 1] = p
        self[p] = lunet.zeros(table.unpack(shapes[p]))
        self[gradName(p)] = lunet.zeros(table.unpack(shapes[p]))
      end
    end
  end
  self.output = lunet.zeros(0)
  self.gradInput = lunet.zeros(0)
  self:reset()
end

-- The per-unit buffers the kernels reuse; clearState releases them with the module's own.
local LAYER_BUFFERS = { "output", "state", "scratch", "gradInput", "gradH0", "cN", "gradC0", "xin" }
Recurrent.lastCallNames = { "input", "x", "hN", "cN", "gradH0", "gradC0", "gradFor", "layerInput", "masks" }

function Recurrent:clearState()
  Module.clearState(self)
  for _, L in ipairs(self.layer) do
    for _, name in ipairs(LAYER_BUFFERS) do
      if L[name] then L[name] = name ~= "xin" and lunet.zeros(0) or nil end
    end
  end
  return self
end

--- Initialize every parameter again, uniform in +-1/sqrt(H) as PyTorch, from lunet's
-- generator; the LSTM's forget-gate bias block is then set to forgetBias. (RNN, LSTM and
-- GRU alike.)
-- @function RNN:reset
-- @treturn RNN self
-- @usage lunet.manualSeed(1); lstm:reset()
function Recurrent:reset()
  local a = 1 / math.sqrt(self.hiddenSize)
  for _, p in ipairs(self.paramNames) do self[p]:uniform_(-a, a) end
  if self.forgetBias then
    local H = self.hiddenSize
    for _, L in ipairs(self.layer) do self[L.biasIH]:narrow(1, H + 1, H):fill(self.forgetBias) end
  end
  return self
end

--- Set the initial state for the next forward calls (RNN, LSTM and GRU alike): float
-- tensors (layers*directions,N,H), units ordered as PyTorch's h0 (layer-major, forward
-- first), or (N,H) for one unit; nil for zeros. c0 is the LSTM's initial cell state.
-- After backward, module.gradH0 (and gradC0) hold the gradient w.r.t. them. Raises for a
-- c0 given to an RNN or GRU, a value that is not a tensor or nil, or a wrong shape; the
-- forward raises when N differs from the input's batch size.
-- @function RNN:setInitialState
-- @tparam[opt] Tensor h0 (layers*dirs,N,H) or (N,H)
-- @tparam[opt] Tensor c0 (LSTM only) the same shape
-- @treturn RNN self
-- @usage lstm:setInitialState(lunet.zeros(1, 8, 32), lunet.zeros(1, 8, 32))
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
      local H, units = self.hiddenSize, #self.layer
      local ok = (t:dim() == 3 and t:size(1) == units and t:size(3) == H)
        or (units == 1 and t:dim() == 2 and t:size(2) == H)
      if not ok then
        error(("%s:setInitialState: %s must be (%s,N,H) = (%d,N,%d)%s, got %s"):format(
          name, what, self.bidirectional and "2*layers" or "layers", units, H,
          units == 1 and (" or (N,H) = (N,%d)"):format(H) or "", t:shapeString()), 2)
      end
    end
  end
  self.h0, self.c0 = h0, c0
  return self
end

-- Unit u's slice of an initial state given as (units,N,H) or (N,H); nil stays nil.
local function unitState(t, u)
  if t == nil then return nil end
  local s = t:dim() == 2 and t or t:select(1, u)
  return s:isContiguous() and s or s:contiguous()
end

-- Raise unless the initial state t (or nil) is for the input's batch size n.
local function checkBatch(self, t, what, n, input)
  if t ~= nil and t:size(t:dim() - 1) ~= n then
    error(("%s: the initial state %s %s is for a batch of %d, the input %s has %d"):format(
      self.typename, what, t:shapeString(), t:size(t:dim() - 1), input:shapeString(), n), 4)
  end
end

-- The time steps of a (N,T,X) sequence in reverse order (a new contiguous tensor).
local function reversed(self, x)
  local T = x:size(2)
  if not self.rev or self.rev:size(1) ~= T then self.rev = lunet.arange(T, 0, -1):int() end
  return x:indexSelect(2, self.rev)
end

-- A (T,N,X) tensor as (N,T,X), or back: contiguous.
local function swapTime(t) return t:transpose(1, 2):contiguous() end

function Recurrent:updateOutput(input)
  local name = self.typename
  local layout = self.batchFirst and "(N,T,D)" or "(T,N,D), time first (batchFirst = false)"
  check.tensor(name, "input", input, {rank = 3, layout = layout}, 3)
  if input:size(3) ~= self.inputSize then
    error(("%s: input must be %s, got %s"):format(name, self.batchFirst and ("(N,T,%d)"):format(self.inputSize)
      or ("(T,N,%d), time first (batchFirst = false)"):format(self.inputSize), input:shapeString()), 3)
  end
  local n = input:size(self.batchFirst and 1 or 2)
  checkBatch(self, self.h0, "h0", n, input)
  checkBatch(self, self.c0, "c0", n, input)
  local x = not self.batchFirst and swapTime(input) or input:isContiguous() and input or input:contiguous()
  self.x = x
  self.layerInput, self.masks = {}, {}
  local dirs, H = self.directions, self.hiddenSize
  for l = 1, self.numLayers do
    self.layerInput[l] = x
    for dir = 1, dirs do
      local u = (l - 1) * dirs + dir
      local L = self.layer[u]
      L.xin = L.reverse and reversed(self, x) or x
      self.cell.forward(L.xin, self[L.weightIH], self[L.weightHH], self[L.biasIH],
                         L.biasHH and self[L.biasHH], unitState(self.h0, u), unitState(self.c0, u),
                         L.output, L.cN, L.state)
    end
    local fwd = self.layer[(l - 1) * dirs + 1]
    x = dirs == 1 and fwd.output or lunet.cat({fwd.output, reversed(self, self.layer[l * dirs].output)}, 3)
    if l < self.numLayers and self.dropout > 0 and self.training then
      local keep = 1 - self.dropout
      self.masks[l] = lunet.zeros(x:size()):bernoulli_(keep):div_(keep)
      x = x:mul(self.masks[l])
    end
  end
  -- The last hidden state: the forward unit's at step T, beside the reverse unit's at step 1.
  local top = self.layer[#self.layer - dirs + 1]
  local T = x:size(2)
  self.hN = dirs == 1 and x:select(2, T) or lunet.cat({x:select(2, T):narrow(2, 1, H), x:select(2, 1):narrow(2, H + 1, H)}, 2)
  self.cN = top.cN and (dirs == 1 and top.cN or lunet.cat({top.cN, self.layer[#self.layer].cN}, 2)) or nil
  self.output = self.batchFirst and x or swapTime(x)
  self.gradFor = nil -- the backward input pass of this forward has not run yet
  return self.output
end

-- The gradient w.r.t. the initial state `given` (h0 or c0), shaped as documented at
-- the top: each unit's (N,H) buffer, or their copies stacked in (units,N,H).
local function gatherStateGrad(self, field, given)
  if #self.layer == 1 and (given == nil or given:dim() == 2) then
    return self.layer[1][field]
  end
  local g1 = self.layer[1][field]
  local out = self[field]
  if not lunet.isTensor(out) or out:dim() ~= 3 or out:size(1) ~= #self.layer
      or out:size(2) ~= g1:size(1) or out:size(3) ~= g1:size(2) then
    out = lunet.zeros(#self.layer, g1:size(1), g1:size(2))
  end
  for u, L in ipairs(self.layer) do out:select(1, u):copy(L[field]) end
  return out
end

-- Backpropagation through time for every layer, top first; leaves the gates'
-- gradients in each unit's scratch for accGradParameters.
function Recurrent:updateGradInput(input, gradOutput)
  local name = self.typename
  if self.x == nil or (self.x ~= input and self.input ~= input) then
    error(("%s:backward: call forward(input) with this same input first"):format(name), 3)
  end
  if not lunet.isTensor(gradOutput) then
    error(("%s:backward: gradOutput must be a tensor shaped as the output, got %s"):format(name, type(gradOutput)), 3)
  end
  local g = not self.batchFirst and swapTime(gradOutput)
    or gradOutput:isContiguous() and gradOutput or gradOutput:contiguous()
  local dirs, H = self.directions, self.hiddenSize
  for l = self.numLayers, 1, -1 do
    if self.masks[l] then g = g:mul(self.masks[l]) end
    -- the bottom layer's input gradient (one sgemm) only when someone wants it
    local wantInput = l > 1 or self.needInputGrad ~= false
    local gx
    for dir = 1, dirs do
      local L = self.layer[(l - 1) * dirs + dir]
      local gd = dirs == 1 and g or g:narrow(3, (dir - 1) * H + 1, H)
      gd = L.reverse and reversed(self, gd) or gd:isContiguous() and gd or gd:contiguous()
      self.cell.backwardInput(L.xin, self[L.weightIH], self[L.weightHH], L.state, gd,
                              wantInput and L.gradInput or nil, L.gradH0, L.gradC0, L.scratch)
      if wantInput then
        local gi = L.reverse and reversed(self, L.gradInput) or L.gradInput
        gx = gx and gx:add_(gi) or (dirs == 1 and gi or gi:clone())
      end
    end
    g = gx
  end
  self.gradInput = (g and not self.batchFirst) and swapTime(g) or g
  self.gradH0 = gatherStateGrad(self, "gradH0", self.h0)
  if self.typename == "LSTM" then self.gradC0 = gatherStateGrad(self, "gradC0", self.c0) end
  self.gradFor = gradOutput
  return self.gradInput
end

function Recurrent:accGradParameters(input, gradOutput, scale)
  if self.gradFor ~= gradOutput then self:updateGradInput(input, gradOutput) end
  for _, L in ipairs(self.layer) do
    self.cell.backwardParams(L.xin, L.state, L.scratch, self[gradName(L.weightIH)],
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
  if self.bidirectional then extra = extra .. ", bidirectional" end
  if self.dropout > 0 then extra = extra .. (", dropout %g"):format(self.dropout) end
  if not self.batchFirst then extra = extra .. ", time first" end
  return ("%s(%d -> %d%s)"):format(self.typename, self.inputSize, self.hiddenSize, extra)
end

--- An Elman RNN over whole sequences, h_t = tanh(W_ih x_t + W_hh h_{t-1} + b): input
-- (N,T,D) float (batchFirst, the default) or (T,N,D) -> output (N,T,H·dirs), the top
-- layer's states at every step; module.hN (N,H·dirs) the last state. Parameters per layer
-- weightIH<l> (H, D_l), weightHH<l> (H, H), bias<l> (H) (see the top of the file). Raises
-- for sizes that are not positive integers, an unknown option or one of the wrong type,
-- and (forward) an input that is not 3-D float with D features.
-- @function RNN
-- @tparam integer inputSize D
-- @tparam integer hiddenSize H
-- @tparam[opt] table opts `layers` (1), `bidirectional` (false), `dropout` (0), `batchFirst` (true)
-- @treturn RNN
-- @usage local rnn = nn.RNN(28, 128)   -- (N,28,28) -> (N,28,128)

--- A long short-term memory over whole sequences (gates i, f, g, o; weightIH<l> (4H, D_l),
-- weightHH<l> (4H, H), bias<l> (4H)): input (N,T,D) float (or (T,N,D) with batchFirst =
-- false) -> (N,T,H·dirs); module.hN and module.cN (N,H·dirs) the last hidden and cell
-- states. forgetBias (default 1.0, TensorFlow's; false keeps it uniform) initializes the
-- forget gate's bias. Raises as nn.RNN, and for a forgetBias neither a number nor false.
-- @function LSTM
-- @tparam integer inputSize D
-- @tparam integer hiddenSize H
-- @tparam[opt] table opts `layers`, `bidirectional`, `dropout`, `batchFirst`, `forgetBias`
-- @treturn LSTM
-- @usage local model = nn.Sequential():add(nn.LSTM(28, 128)):add(nn.LastStep()):add(nn.Linear(128, 10))

--- A gated recurrent unit over whole sequences, PyTorch's / cuDNN's formulation (gates r, z,
-- n; weightIH<l> (3H, D_l), weightHH<l> (3H, H), biasIH<l> and biasHH<l> (3H), b_hn inside
-- r * (...)): input (N,T,D) float (or (T,N,D)) -> (N,T,H·dirs); module.hN the last state.
-- Raises as nn.RNN.
-- @function GRU
-- @tparam integer inputSize D
-- @tparam integer hiddenSize H
-- @tparam[opt] table opts `layers`, `bidirectional`, `dropout`, `batchFirst`
-- @treturn GRU
-- @usage local gru = nn.GRU(28, 64, {layers = 2, dropout = 0.2})
for name, cell in pairs(CELLS) do
  local cls = module.class(name, Recurrent)
  cls.cell = cell
  rnn[name] = cls
end

---------------------------------------------------------------------------------
--- One time step of a sequence: (N,T,H) -> (N,H), step t (1-based; negative counts from
-- the end, -1 the last), any dtype. Its gradInput is zero except at step t. Raises for a t
-- that is not a nonzero integer, and (forward) for an input that is not 3-D or has fewer
-- than |t| steps.
-- @function SelectTime
-- @tparam integer t
-- @treturn SelectTime
-- @usage local first = nn.SelectTime(1):forward(lunet.randn(8, 28, 128))  -- (8, 128)
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

--- SelectTime(-1), the last time step: (N,T,H) -> (N,H). Sequential{LSTM, LastStep,
-- Linear} classifies whole sequences. Raises as SelectTime.
-- @function LastStep
-- @treturn LastStep
-- @usage local last = nn.LastStep():forward(lunet.randn(8, 28, 128))  -- (8, 128)
local LastStep = module.class("LastStep", SelectTime)
rnn.LastStep = LastStep

function LastStep:__init()
  SelectTime.__init(self, -1)
end

function LastStep:__tostring() return "LastStep" end

return rnn
