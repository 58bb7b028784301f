--- lunet.nn losses: CrossEntropyLoss (log-softmax + negative log-likelihood), NLLLoss, and the
-- elementwise MSELoss, L1Loss, SmoothL1Loss, BCELoss, BCEWithLogitsLoss and KLDivLoss.
-- Each is an nn.Criterion: forward(input, target) -> the loss, backward(input, target) ->
-- its gradient w.r.t. input. Inputs and targets are float32 tensors.
-- @submodule lunet.nn
local lunet = require "lunet"
local core = require "lunet.core"
local check = require "lunet.check"
local module = require "lunet.nn.module"

local loss = {}

-- The class-label losses, NLLLoss and CrossEntropyLoss, share their options (PyTorch's):
--   weight          a float tensor of K class weights: row n counts weight[label n]
--   reduction       "mean" (default; the sum divided by the sum of the counted rows'
--                   weights), "sum", or "none" (the N losses; backward then takes their
--                   gradient, default ones)
--   ignoreIndex     rows with this label count nothing (and need not be a class number)
--   labelSmoothing  (CrossEntropyLoss) eps in [0, 1]: the target is (1 - eps) one-hot +
--                   eps uniform over the K classes
-- Input (N, K); labels a 1-D int or float tensor of N class numbers in 1..K (a float label
-- must be a whole number).
local LABEL_OPTIONS = {"weight", "reduction", "ignoreIndex", "labelSmoothing"}

local function labelOptions(self, fname, opts, known)
  opts = check.options(fname, opts, known, 4)
  self.reduction = opts.reduction or "mean"
  if self.reduction ~= "mean" and self.reduction ~= "sum" and self.reduction ~= "none" then
    check.fail(4, '%s: reduction must be "mean", "sum" or "none", got %s', fname, tostring(self.reduction))
  end
  if opts.weight ~= nil then self.weight = check.tensor(fname, "weight", opts.weight, {rank = 1, dtype = "float"}, 3) end
  if opts.ignoreIndex ~= nil then self.ignoreIndex = check.integer(fname, "ignoreIndex", opts.ignoreIndex, nil, nil, 3) end
  self.labelSmoothing = opts.labelSmoothing == nil and 0
    or check.number(fname, "labelSmoothing", opts.labelSmoothing, 0, 1, 3)
end

-- For input (N, K) and labels: the coefficients c (N, K) with which row n's loss is
-- -sum_k c[n][k] logp[n][k], and the divisor of the mean (the counted rows' weight).
local function coefficients(self, fname, input, labels)
  check.tensor(fname, "input", input, {rank = 2, dtype = "float", layout = "(N,K)"}, 3)
  local n, k = input:size(1), input:size(2)
  check.tensor(fname, "labels", labels, {rank = 1, layout = "of class numbers 1..K"}, 3)
  if labels:size(1) ~= n then
    check.fail(4, "%s: labels has %d entries for %d rows of input", fname, labels:size(1), n)
  end
  if labels:dtype() == "float" and n > 0 and labels:ne(labels:round()):any() then
    check.fail(4, "%s: a float label must be a whole class number, got %g", fname,
      labels:maskedSelect(labels:ne(labels:round()))[1])
  end
  local ignored = self.ignoreIndex and labels:eq(self.ignoreIndex)
  local safe = (ignored and lunet.where(ignored, 1, labels) or labels):int()
  if n > 0 and (safe:min() < 1 or safe:max() > k) then
    local bad = safe:lt(1):add_(safe:gt(k))
    check.fail(4, "%s: label %d is not a class number in 1..%d", fname, safe:maskedSelect(bad)[1], k)
  end
  if self.weight and self.weight:size(1) ~= k then
    check.fail(4, "%s: weight has %d entries for %d classes", fname, self.weight:size(1), k)
  end
  local wy = self.weight and self.weight:indexSelect(1, safe) or lunet.ones(n)
  if ignored then wy:maskedFill_(ignored, 0) end
  local c = lunet.zeros(n, k):scatter_(2, safe:view(n, 1), wy:mul(1 - self.labelSmoothing):view(n, 1))
  if self.labelSmoothing > 0 then
    c:add_((self.weight or lunet.ones(k)):mul(self.labelSmoothing / k):view(1, k))
    if ignored then c:maskedFill_(ignored:view(n, 1):expand(n, k), 0) end
  end
  return c, wy:sum()
end

-- coefficients() of the last forward, kept for the backward on the same input and labels
-- (self.coef), computed afresh for others.
local function lastCoefficients(self, fname, input, labels)
  local k = self.coef
  if k and k.input == input and k.labels == labels then return k.c, k.divisor end
  local c, divisor = coefficients(self, fname, input, labels)
  self.coef = {input = input, labels = labels, c = c, divisor = divisor}
  return c, divisor
end

-- The rows' factors of the gradient: 1/divisor, 1, or gradOutput (N).
local function rowScale(self, fname, divisor, n, gradOutput)
  if self.reduction == "mean" then return 1 / divisor end
  if self.reduction == "none" and gradOutput ~= nil then
    check.tensor(fname, "gradOutput", gradOutput, {rank = 1, dtype = "float"}, 3)
    if gradOutput:size(1) ~= n then
      check.fail(4, "%s: gradOutput has %d entries for %d rows", fname, gradOutput:size(1), n)
    end
    return gradOutput:view(n, 1)
  end
  return 1
end

-- The loss from the coefficients and the log-probabilities.
local function reduceRows(self, c, logp, divisor)
  local rows = c:mul(logp):sum(2):neg_()
  if self.reduction == "none" then return rows end
  return self.reduction == "sum" and rows:sum() or rows:sum() / divisor
end

--- NLLLoss([{weight, reduction = "mean", ignoreIndex}]): the negative log-likelihood of
-- log-probabilities (N, K) (e.g. a LogSoftmax's output) at the labels: -weight[y] logp[n][y]
-- per row. Options and labels as for CrossEntropyLoss (no labelSmoothing): logp (N, K)
-- float; labels (N) int or float class numbers. Raises for an unknown option or reduction,
-- a weight that is not a 1-D float tensor of K entries, an input that is not (N, K) float,
-- labels of another length, or a label outside 1..K (other than ignoreIndex).
-- @function NLLLoss
-- @tparam[opt] table opts `weight` (K float), `reduction` ("mean", "sum", "none"), `ignoreIndex` (integer)
-- @treturn NLLLoss
-- @usage local l = lunet.nn.NLLLoss():forward(logsoftmax:forward(x), labels)
local NLLLoss = module.class("NLLLoss", module.Criterion)
loss.NLLLoss = NLLLoss

function NLLLoss:__init(opts)
  module.Criterion.__init(self)
  labelOptions(self, "NLLLoss", opts, {"weight", "reduction", "ignoreIndex"})
end

function NLLLoss:updateOutput(logp, labels)
  local c, divisor = lastCoefficients(self, "NLLLoss", logp, labels)
  self.output = reduceRows(self, c, logp, divisor)
  return self.output
end

function NLLLoss:updateGradInput(logp, labels, gradOutput)
  local c, divisor = lastCoefficients(self, "NLLLoss:backward", logp, labels)
  self.gradInput = c:mul(rowScale(self, "NLLLoss:backward", divisor, logp:size(1), gradOutput)):neg_()
  return self.gradInput
end

NLLLoss.lastCallNames = {"input", "output", "gradInput", "coef"}

function NLLLoss:__tostring() return "NLLLoss" end

--- CrossEntropyLoss([{weight, reduction = "mean", ignoreIndex, labelSmoothing = 0}]):
-- forward(logits, labels) -> the mean over the batch of -log softmax(logits)[label];
-- backward(logits, labels) -> d loss / d logits. logits (N, K); labels a 1-D int or float
-- tensor of N class numbers in 1..K. The options (see above) are PyTorch's; without them
-- the loss is one C kernel each way. The log-probabilities of the last forward stay
-- reachable as module.logp. The class-label options: weight, a float tensor of K class
-- weights (row n counts weight[label n]); reduction "mean" (the sum divided by the counted
-- rows' weights), "sum" or "none" (the N losses); ignoreIndex, a label whose rows count
-- nothing; labelSmoothing eps in [0, 1], the target (1 - eps) one-hot + eps uniform.
-- Raises for an unknown option or reduction, logits that are not (N, K) float, labels of
-- another length, a float label that is not whole, a label outside 1..K, and a backward
-- on other logits than the last forward's.
-- @function CrossEntropyLoss
-- @tparam[opt] table opts `weight`, `reduction`, `ignoreIndex`, `labelSmoothing`
-- @treturn CrossEntropyLoss
-- @usage local loss = lunet.nn.CrossEntropyLoss{labelSmoothing = 0.1}:forward(logits, labels)
local CrossEntropyLoss = module.class("CrossEntropyLoss", module.Criterion)
loss.CrossEntropyLoss = CrossEntropyLoss

function CrossEntropyLoss:__init(opts)
  module.Criterion.__init(self)
  labelOptions(self, "CrossEntropyLoss", opts, LABEL_OPTIONS)
  self.plain = not self.weight and not self.ignoreIndex and self.labelSmoothing == 0 and self.reduction == "mean"
  self.logp = lunet.zeros(0)
  self.gradInput = lunet.zeros(0)
end

function CrossEntropyLoss:updateOutput(logits, labels)
  check.tensor("CrossEntropyLoss", "logits", logits)
  check.tensor("CrossEntropyLoss", "labels", labels, {layout = "of class numbers 1..K"})
  self.logits = logits
  if self.plain then
    self.output = core.crossentropy_forward(logits, labels, self:writable("logp", logits, labels))
    return self.output
  end
  check.tensor("CrossEntropyLoss", "logits", logits, {rank = 2, dtype = "float", layout = "(N,K)"})
  core.logsoftmax_forward(logits:contiguous(), self:writable("logp", logits, labels))
  local c, divisor = lastCoefficients(self, "CrossEntropyLoss", self.logp, labels)
  self.output = reduceRows(self, c, self.logp, divisor)
  return self.output
end

-- The gradient comes from the log-probabilities of the forward on these same logits:
-- with c the coefficients, (softmax sum_k c[n][k] - c[n]) times the row's factor.
function CrossEntropyLoss:updateGradInput(logits, labels, gradOutput)
  if self.logits ~= logits then
    check.fail(2, "CrossEntropyLoss:backward: call forward(logits, labels) on the same logits first")
  end
  if self.plain then
    return core.crossentropy_backward(self.logp, labels, self:writable("gradInput", self.logp, labels))
  end
  local c, divisor = lastCoefficients(self, "CrossEntropyLoss:backward", self.logp, labels)
  local g = self.logp:exp():mul_(c:sum(2, true)):sub_(c)
  self.gradInput = g:mul_(rowScale(self, "CrossEntropyLoss:backward", divisor, logits:size(1), gradOutput))
  return self.gradInput
end

CrossEntropyLoss.bufferNames = {"logp", "gradInput"}
CrossEntropyLoss.lastCallNames = {"input", "logits", "coef"}

function CrossEntropyLoss:__tostring() return "CrossEntropyLoss" end

---------------------------------------------------------------------------------

-- The losses below take a `reduction` option as PyTorch: "mean" (the default) returns the
-- mean of the per-element losses, "sum" their sum, "none" the tensor of them (then
-- backward(input, target, gradOutput) takes the gradient w.r.t. that tensor, default ones);
-- KLDivLoss also takes "batchmean", the sum divided by the first dimension's size.

-- The reduced value of the per-element losses l, as forward returns it.
local function reduce(r, l)
  if r == "none" then return l end
  if r == "sum" then return l:sum() end
  if r == "batchmean" then return l:sum() / math.max(l:dim() > 0 and l:size(1) or 1, 1) end
  return l:mean()
end

-- d(reduced)/d(input) from d(l)/d(input) elementwise (d, overwritten), and the gradOutput
-- backward was given for reduction "none".
local function reduceGrad(fname, r, d, gradOutput)
  if r == "mean" then
    d:div_(math.max(d:numel(), 1))
  elseif r == "batchmean" then
    d:div_(math.max(d:dim() > 0 and d:size(1) or 1, 1))
  elseif r == "none" and gradOutput ~= nil then
    check.tensor(fname, "gradOutput", gradOutput, {dtype = "float"})
    if gradOutput:shapeString() ~= d:shapeString() then
      check.fail(3, "%s: gradOutput %s must have the input's shape %s", fname, gradOutput:shapeString(),
        d:shapeString())
    end
    d:mul_(gradOutput)
  end
  return d
end

-- A loss comparing an input and a target of one shape elementwise, from spec: name; options
-- (the options besides reduction, with their defaults; false for none); reductions (default
-- mean, sum, none); validate(self) (checks the options, optional); f(self, x, y) -> the
-- per-element losses and df(self, x, y) -> their derivatives w.r.t. x, both new tensors.
local function pointwise(spec)
  local name = spec.name
  local cls = module.class(name, module.Criterion)
  loss[name] = cls
  local reductionList = spec.reductions or {"mean", "sum", "none"}
  local reductions = {}
  for _, r in ipairs(reductionList) do reductions[r] = true end
  local known = {"reduction"}
  for k in pairs(spec.options) do known[#known + 1] = k end
  table.sort(known)
  function cls:__init(opts)
    module.Criterion.__init(self)
    opts = check.options(name, opts, known, 3)
    self.reduction = opts.reduction or "mean"
    if not reductions[self.reduction] then
      check.fail(3, "%s: reduction must be %s, got %s", name, '"' .. table.concat(reductionList, '", "') .. '"',
        tostring(self.reduction))
    end
    for k, default in pairs(spec.options) do
      if opts[k] == nil then self[k] = default or nil else self[k] = opts[k] end
    end
    if spec.validate then spec.validate(self) end
  end
  local function args(fname, x, y)
    check.tensor(fname, "input", x, {dtype = "float"})
    check.tensor(fname, "target", y, {dtype = "float"})
    if x:shapeString() ~= y:shapeString() then
      check.fail(4, "%s: target %s must have the input's shape %s", fname, y:shapeString(), x:shapeString())
    end
  end
  function cls:updateOutput(x, y)
    args(name, x, y)
    self.output = reduce(self.reduction, spec.f(self, x, y))
    return self.output
  end
  function cls:updateGradInput(x, y, gradOutput)
    args(name .. ":backward", x, y)
    self.gradInput = reduceGrad(name .. ":backward", self.reduction, spec.df(self, x, y), gradOutput)
    return self.gradInput
  end
  cls.lastCallNames = {"input", "output", "gradInput"}
  function cls:__tostring() return name end
  return cls
end

-- A weight option (weight, posWeight): nil or a float tensor that broadcasts against the input.
local function checkWeight(fname, what, w)
  if w ~= nil then check.tensor(fname, what, w, {dtype = "float"}) end
end

-- t * w, w broadcast to t's shape (t overwritten); t when w is nil.
local function weighted(t, w)
  return w and t:mul_(w:expand(table.unpack(t:size()))) or t
end

--- MSELoss([{reduction = "mean"}]): (x - y)^2 per element; input and target float, of one
-- shape. reduction "mean", "sum" or "none" (the tensor of losses; backward then takes its
-- gradient as a third argument). Raises for an unknown option or reduction, a non-float
-- input or target, or shapes that differ.
-- @function MSELoss
-- @tparam[opt] table opts `reduction`
-- @treturn MSELoss
-- @usage local l = lunet.nn.MSELoss():forward(pred, target)
pointwise{name = "MSELoss", options = {},
  f = function(_, x, y) local d = x:sub(y); return d:mul_(d) end,
  df = function(_, x, y) return x:sub(y):mul_(2) end}

--- L1Loss([{reduction = "mean"}]): |x - y| per element (the gradient sign(x - y), 0 at 0);
-- input and target float, of one shape; reductions and errors as MSELoss.
-- @function L1Loss
-- @tparam[opt] table opts `reduction`
-- @treturn L1Loss
-- @usage local l = lunet.nn.L1Loss():forward(pred, target)
pointwise{name = "L1Loss", options = {},
  f = function(_, x, y) return x:sub(y):abs_() end,
  df = function(_, x, y) return x:sub(y):sign_() end}

--- SmoothL1Loss([{beta = 1, reduction = "mean"}]): with d = x - y, 0.5 d^2 / beta where
-- |d| < beta and |d| - 0.5 beta elsewhere; beta = 0 gives the L1 loss. Input and target
-- float, of one shape; reductions and errors as MSELoss, and a beta < 0 raises.
-- @function SmoothL1Loss
-- @tparam[opt] table opts `beta`, `reduction`
-- @treturn SmoothL1Loss
-- @usage local l = lunet.nn.SmoothL1Loss{beta = 0.5}:forward(pred, target)
pointwise{name = "SmoothL1Loss", options = {beta = 1},
  validate = function(self) check.number("SmoothL1Loss", "beta", self.beta, 0, nil, 4) end,
  f = function(self, x, y)
    local d = x:sub(y):abs_()
    if self.beta == 0 then return d end
    return lunet.where(d:lt(self.beta), d:mul(d):mul_(0.5 / self.beta), d:sub(0.5 * self.beta))
  end,
  df = function(self, x, y)
    local d = x:sub(y)
    if self.beta == 0 then return d:sign_() end
    return lunet.where(d:abs():lt(self.beta), d:div(self.beta), d:sign())
  end}

--- BCELoss([{weight, reduction = "mean"}]): -w (y log x + (1 - y) log(1 - x)) per element,
-- for probabilities x in [0, 1] (an input outside is an error), each log clamped at -100 as
-- PyTorch does; weight (optional, float) broadcasts against the input. Input and target
-- float, of one shape; reductions and errors as MSELoss.
-- @function BCELoss
-- @tparam[opt] table opts `weight`, `reduction`
-- @treturn BCELoss
-- @usage local l = lunet.nn.BCELoss():forward(probs, targets)
pointwise{name = "BCELoss", options = {weight = false},
  validate = function(self) checkWeight("BCELoss", "weight", self.weight) end,
  f = function(self, x, y)
    if x:numel() > 0 and not (x:min() >= 0 and x:max() <= 1) then
      check.fail(4, "BCELoss: input must hold probabilities in [0, 1], got values in [%g, %g]", x:min(), x:max())
    end
    local a = x:log():clamp_(-100):mul_(y)
    local b = x:neg():add_(1):log_():clamp_(-100):mul_(y:neg():add_(1))
    return weighted(a:add_(b):neg_(), self.weight)
  end,
  df = function(self, x, y) -- w (x - y) / max(x (1 - x), 1e-12)
    return weighted(x:sub(y):div_(x:neg():add_(1):mul_(x):clamp_(1e-12)), self.weight)
  end}

-- BCEWithLogitsLoss's m = 1 + (posWeight - 1) y, or nil without posWeight.
local function posFactor(self, y)
  return self.posWeight and y:mul(self.posWeight:sub(1):expand(table.unpack(y:size()))):add_(1)
end

--- BCEWithLogitsLoss([{weight, posWeight, reduction = "mean"}]): BCELoss of sigmoid(x),
-- computed stably from the logits x as (1 - y) x + m (log(1 + exp(-|x|)) + max(-x, 0)), with
-- m = 1 + (posWeight - 1) y; posWeight (optional) weighs each output's positive class and
-- broadcasts against the input as in PyTorch. Input (logits) and target float, of one
-- shape; weight and posWeight float tensors; reductions and errors as MSELoss.
-- @function BCEWithLogitsLoss
-- @tparam[opt] table opts `weight`, `posWeight`, `reduction`
-- @treturn BCEWithLogitsLoss
-- @usage local l = lunet.nn.BCEWithLogitsLoss{posWeight = lunet.tensor{3}}:forward(logits, targets)
pointwise{name = "BCEWithLogitsLoss", options = {weight = false, posWeight = false},
  validate = function(self)
    checkWeight("BCEWithLogitsLoss", "weight", self.weight)
    checkWeight("BCEWithLogitsLoss", "posWeight", self.posWeight)
  end,
  f = function(self, x, y)
    local sp = x:abs():neg_():exp_():add_(1):log_():add_(x:neg():relu_()) -- log(1 + exp(-x)), stably
    local m = posFactor(self, y)
    if m then sp:mul_(m) end
    return weighted(y:neg():add_(1):mul_(x):add_(sp), self.weight)
  end,
  df = function(self, x, y) -- (1 - y) - m (1 - sigmoid(x))
    local s = x:sigmoid():neg_():add_(1)
    local m = posFactor(self, y)
    if m then s:mul_(m) end
    return weighted(y:neg():add_(1):sub_(s), self.weight)
  end}

--- KLDivLoss([{reduction = "mean", logTarget = false}]): y (log y - x) per element, for an
-- input x of log-probabilities and a target y of probabilities (0 where y = 0), or exp(y)
-- (y - x) with logTarget. reduction "batchmean", the sum divided by the batch size (the
-- first dimension), is the true KL divergence, as PyTorch recommends. Input and target
-- float, of one shape; errors as MSELoss.
-- @function KLDivLoss
-- @tparam[opt] table opts `reduction` ("mean", "batchmean", "sum", "none"), `logTarget`
-- @treturn KLDivLoss
-- @usage local l = lunet.nn.KLDivLoss{reduction = "batchmean"}:forward(logp, q)
pointwise{name = "KLDivLoss", options = {logTarget = false}, reductions = {"mean", "batchmean", "sum", "none"},
  f = function(self, x, y)
    if self.logTarget then return y:exp():mul_(y:sub(x)) end
    return y:mul(y:log():sub_(x)):maskedFill_(y:eq(0), 0)
  end,
  df = function(self, _, y) return self.logTarget and y:exp():neg_() or y:neg() end}

return loss
