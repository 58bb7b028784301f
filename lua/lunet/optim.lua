--- lunet.optim: optimizers, gradient clipping and learning-rate schedules.
-- One calling convention for all:
--   local opt = optim.Adam(model, {lr = 1e-3})     -- or optim.Adam(params, grads, cfg)
--   ... model:zeroGrad(); loss = ...; model:backward(...); opt:step()
-- Updates are fused C loops (one pass over parameter, gradient and state).
-- weightDecay (every optimizer, default 0; AdamW's 0.01) is the L2 penalty's gradient
-- weightDecay * p added to the gradient before the update, as in PyTorch's SGD, Adam,
-- RMSProp and Adagrad; AdamW decouples it (Loshchilov & Hutter): p shrinks by lr *
-- weightDecay * p beside the Adam step, whatever the gradient's scale.
-- opt:state() returns a plain table (tensors and numbers) for lunet.save;
-- opt:loadState(t) restores it.
local lunet = require "lunet"
local core = require "lunet.core"
local check = require "lunet.check"

local optim = {}

-- params, grads, cfg and, for a model, where its parameters live (nn's parameterSlots).
local function resolve(a, b, c)
  if type(a) == "table" and type(a.parameters) == "function" then
    local p, g = a:parameters()
    return p, g, b, type(a.parameterSlots) == "function" and a:parameterSlots() or nil
  end
  return a, b, c
end

local function checkLists(name, params, grads)
  if type(params) ~= "table" or type(grads) ~= "table" then
    error(name .. ": expected a model or two lists (parameters, gradients)", 3)
  end
  if #params ~= #grads then
    error(("%s: %d parameters but %d gradients"):format(name, #params, #grads), 3)
  end
  for i, p in ipairs(params) do
    if not lunet.isTensor(p) or not lunet.isTensor(grads[i]) then
      error(("%s: parameter %d and its gradient must be tensors"):format(name, i), 3)
    end
    if p:numel() ~= grads[i]:numel() then
      error(("%s: parameter %d has %d elements but its gradient %d"):format(name, i, p:numel(), grads[i]:numel()), 3)
    end
  end
end

local function checkNumber(name, cfg, key, default, lo, hi, brackets)
  local v = cfg[key]
  if v == nil then v = default end
  return check.number(name, key, v, lo, hi, 3, brackets)
end

-- Other frameworks' spellings of lunet's options (Torch7's optim, PyTorch), named in the
-- error so that a script ported from them does not go on with the default rate.
local SPELLINGS = {learningRate = "lr", epsilon = "eps", weight_decay = "weightDecay",
  learningRateDecay = "a schedule (optim.StepLR, optim.ExponentialLR)", step_size = "stepSize"}

-- The options each optimizer and schedule knows.
local OPTIONS = {
  SGD = {"lr", "weightDecay", "momentum", "nesterov"},
  Adam = {"lr", "weightDecay", "beta1", "beta2", "eps"},
  AdamW = {"lr", "weightDecay", "beta1", "beta2", "eps"},
  RMSProp = {"lr", "weightDecay", "alpha", "eps"},
  Adagrad = {"lr", "weightDecay", "eps"},
  StepLR = {"stepSize", "gamma"},
  ExponentialLR = {"gamma"},
  MultiStepLR = {"milestones", "gamma"},
  CosineAnnealingLR = {"tMax", "etaMin", "warmup"},
  ReduceLROnPlateau = {"mode", "factor", "patience", "threshold", "thresholdMode", "cooldown", "minLr"},
  OneCycleLR = {"maxLr", "totalSteps", "pctStart", "annealStrategy", "divFactor", "finalDivFactor",
    "cycleMomentum", "baseMomentum", "maxMomentum"},
  LambdaLR = {},
}

local function options(name, cfg)
  return check.options(name, cfg, OPTIONS[name], 4, nil, SPELLINGS)
end

local Optimizer = {}
Optimizer.__index = Optimizer

local function new(kind, slots, a, b, c)
  local params, grads, cfg, where = resolve(a, b, c)
  cfg = options(kind, cfg)
  checkLists(kind, params, grads)
  local self = setmetatable({kind = kind, params = params, grads = grads, where = where, t = 0, buffers = {}},
    Optimizer)
  self.lr = checkNumber(kind, cfg, "lr", 1e-3, 0, math.huge)
  self.weightDecay = checkNumber(kind, cfg, "weightDecay", 0, 0, math.huge)
  for _, slot in ipairs(slots) do
    self.buffers[slot] = {}
    for i, p in ipairs(params) do self.buffers[slot][i] = lunet.zeros(p:size()) end
  end
  return self, cfg
end

--- Plain gradient descent, with optional momentum (nesterov = true for Nesterov's).
function optim.SGD(a, b, c)
  local _, _, cfg = resolve(a, b, c)
  -- checked before it decides the buffers: a momentum of 1 would never decay
  local momentum = checkNumber("SGD", type(cfg) == "table" and cfg or {}, "momentum", 0, 0, 1, "[)")
  local self
  self, cfg = new("SGD", momentum > 0 and {"velocity"} or {}, a, b, c)
  self.momentum = momentum
  self.nesterov = cfg.nesterov and true or false
  if self.nesterov and self.momentum == 0 then error("SGD: nesterov needs momentum > 0", 2) end
  return self
end

local function adam(kind, a, b, c)
  local self, cfg = new(kind, {"m", "v"}, a, b, c)
  self.beta1 = checkNumber(kind, cfg, "beta1", 0.9, 0, 1 - 1e-12)
  self.beta2 = checkNumber(kind, cfg, "beta2", 0.999, 0, 1 - 1e-12)
  self.eps = checkNumber(kind, cfg, "eps", 1e-8, 0, 1, "(]") -- 0 divides 0 by 0 on a zero gradient
  return self, cfg
end

--- Adam (Kingma & Ba 2015); defaults as TensorFlow's: beta1 0.9, beta2 0.999, eps 1e-8.
-- @usage local opt = lunet.optim.Adam(model, {lr = 1e-3, weightDecay = 1e-4})
function optim.Adam(a, b, c)
  return (adam("Adam", a, b, c))
end

--- AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay, default 0.01 as in
-- PyTorch; each step first shrinks p by lr * weightDecay * p, then takes Adam's step
-- without the decay in the gradient.
-- @usage local opt = lunet.optim.AdamW(model, {lr = 1e-3, weightDecay = 0.05})
function optim.AdamW(a, b, c)
  local self, cfg = adam("AdamW", a, b, c)
  if cfg.weightDecay == nil then self.weightDecay = 0.01 end
  return self
end

--- RMSProp (Tieleman & Hinton): alpha 0.99, eps 1e-8.
function optim.RMSProp(a, b, c)
  local self, cfg = new("RMSProp", {"square"}, a, b, c)
  self.alpha = checkNumber("RMSProp", cfg, "alpha", 0.99, 0, 1)
  self.eps = checkNumber("RMSProp", cfg, "eps", 1e-8, 0, 1, "(]")
  return self
end

--- Adagrad (Duchi et al.): eps 1e-10.
function optim.Adagrad(a, b, c)
  local self, cfg = new("Adagrad", {"sum"}, a, b, c)
  self.eps = checkNumber("Adagrad", cfg, "eps", 1e-10, 0, 1, "(]")
  return self
end

-- A model's parameter replaced by another tensor after the optimizer was made
-- (`model.weight = lunet.zeros(...)`) would not be trained any more, the optimizer updating
-- the old one: refused at the next step.
local function checkSlots(self)
  local where, P, G = self.where, self.params, self.grads
  for i = 1, #where do
    local s = where[i]
    local m = s.module
    if not rawequal(m[s.name], P[i]) or not rawequal(m[s.grad], G[i]) then
      check.fail(3, "%s:step: the model's parameter %s (or its gradient %s) was replaced by another tensor "
        .. "after the optimizer was made, which updates the old one; copy the new values into it "
        .. "(%s:copy(new)) or make the optimizer again", self.kind, s.path, s.grad, s.name)
    end
  end
end

--- Apply one update from the current gradients.
function Optimizer:step()
  if self.where then checkSlots(self) end
  self.t = self.t + 1
  local P, G, B, lr, wd = self.params, self.grads, self.buffers, self.lr, self.weightDecay
  if self.kind == "SGD" then
    local vel = B.velocity
    for i = 1, #P do
      core.sgd_step(P[i], G[i], vel and vel[i], lr, self.momentum, self.nesterov, wd)
    end
  elseif self.kind == "Adam" then
    for i = 1, #P do
      core.adam_step(P[i], G[i], B.m[i], B.v[i], lr, self.beta1, self.beta2, self.eps, wd, self.t)
    end
  elseif self.kind == "AdamW" then
    for i = 1, #P do
      if wd ~= 0 then P[i]:mul_(1 - lr * wd) end
      core.adam_step(P[i], G[i], B.m[i], B.v[i], lr, self.beta1, self.beta2, self.eps, 0, self.t)
    end
  elseif self.kind == "RMSProp" then
    for i = 1, #P do core.rmsprop_step(P[i], G[i], B.square[i], lr, self.alpha, self.eps, wd) end
  else
    for i = 1, #P do core.adagrad_step(P[i], G[i], B.sum[i], lr, self.eps, wd) end
  end
end

--- Zero every gradient.
function Optimizer:zeroGrad()
  for _, g in ipairs(self.grads) do g:zero() end
end

--- The optimizer's state as a plain table (for lunet.save).
function Optimizer:state()
  return {kind = self.kind, t = self.t, lr = self.lr, buffers = self.buffers}
end

--- Restore what state() returned; the buffers must match the parameters.
function Optimizer:loadState(s)
  local fname = self.kind .. ".loadState"
  if type(s) ~= "table" or s.kind ~= self.kind then
    check.fail(2, "%s: state is for %s", fname, type(s) == "table" and tostring(s.kind) or type(s))
  end
  -- every check before the first copy, so a bad state changes nothing
  check.integer(fname, "t (the step count)", s.t, 0)
  check.number(fname, "lr", s.lr, 0, math.huge)
  if type(s.buffers) ~= "table" then check.fail(2, "%s: buffers must be a table, got %s", fname, type(s.buffers)) end
  for slot in pairs(s.buffers) do
    if not self.buffers[slot] then
      check.fail(2, "%s: the state has buffer %q, which this %s does not keep (made with other options?)", fname,
        tostring(slot), self.kind)
    end
  end
  for slot, list in pairs(self.buffers) do
    local src = s.buffers[slot]
    if type(src) ~= "table" or #src ~= #list then
      check.fail(2, "%s: buffer %q does not match the parameters", fname, slot)
    end
    for i, buf in ipairs(list) do
      local q = src[i]
      if not lunet.isTensor(q) or q:dtype() ~= buf:dtype() or q:shapeString() ~= buf:shapeString() then
        check.fail(2, "%s: buffer %q entry %d must be a %s tensor %s like parameter %d, got %s", fname, slot, i,
          buf:dtype(), buf:shapeString(), i, lunet.isTensor(q) and (q:dtype() .. " " .. q:shapeString()) or type(q))
      end
    end
  end
  for slot, list in pairs(self.buffers) do
    for i, buf in ipairs(list) do buf:copy(s.buffers[slot][i]) end
  end
  self.t, self.lr = s.t, s.lr
end

function Optimizer:__tostring()
  return ("optim.%s(lr=%g, t=%d)"):format(self.kind, self.lr, self.t)
end

-- The gradient list of a model (its parameters()' second list), an optimizer's, or a list
-- of gradient tensors given as such; fname names the caller in errors.
local function gradientsOf(fname, x)
  local grads
  if getmetatable(x) == Optimizer then
    grads = x.grads
  elseif type(x) == "table" and type(x.parameters) == "function" then
    grads = select(2, x:parameters())
  elseif type(x) == "table" then
    grads = x
  else
    check.fail(3, "%s: expected a model, an optimizer or a list of gradient tensors, got %s", fname, type(x))
  end
  for i, g in ipairs(grads) do
    if not lunet.isTensor(g) then check.fail(3, "%s: gradient %d must be a tensor, got %s", fname, i, type(g)) end
  end
  return grads
end

--- Gradient clipping, between backward and step.
-- clipGradNorm(model or grads, maxNorm [, normType = 2]): scales every gradient by maxNorm /
-- (total + 1e-6) when the norm of all of them together, total, exceeds maxNorm (normType a
-- number >= 1 or math.huge); returns total, as PyTorch's clip_grad_norm_. A non-finite total
-- (a NaN or inf gradient) leaves the gradients as they are and is returned for the caller to see.
-- @usage local norm = lunet.optim.clipGradNorm(model, 1.0)
function optim.clipGradNorm(model, maxNorm, normType)
  local grads = gradientsOf("clipGradNorm", model)
  check.number("clipGradNorm", "maxNorm", maxNorm, 0, nil, 2)
  normType = normType == nil and 2 or check.number("clipGradNorm", "normType", normType, 1, math.huge, 2)
  local total = 0
  for _, g in ipairs(grads) do
    local n = g:norm(normType)
    total = normType == math.huge and math.max(total, n) or total + n ^ normType
  end
  if normType ~= math.huge then total = total ^ (1 / normType) end
  local coef = maxNorm / (total + 1e-6)
  if coef < 1 then
    for _, g in ipairs(grads) do g:mul_(coef) end
  end
  return total
end

--- clipGradValue(model or grads, clipValue): clamps every gradient element to [-clipValue, clipValue].
-- @usage lunet.optim.clipGradValue(model, 0.5)
function optim.clipGradValue(model, clipValue)
  local grads = gradientsOf("clipGradValue", model)
  check.number("clipGradValue", "clipValue", clipValue, 0, nil, 2)
  for _, g in ipairs(grads) do g:clamp_(-clipValue, clipValue) end
end

-- Learning-rate schedules. Each sets its optimizer's lr at every step() (once per
-- iteration, or epoch); sched.n counts the steps, sched.lr0 is the optimizer's lr when the
-- schedule was made (OneCycleLR sets its own). train.classifier steps one after every update.
--   StepLR(opt, {stepSize, gamma = 0.1})          lr0 gamma^floor(n / stepSize)
--   MultiStepLR(opt, {milestones, gamma = 0.1})   lr0 gamma^(milestones passed: n >= m)
--   ExponentialLR(opt, {gamma = 0.1})             lr0 gamma^n
--   CosineAnnealingLR(opt, {tMax, etaMin = 0, warmup = 0})
--       a linear warm-up lr0 (n + 1) / (warmup + 1) over the first warmup steps, then
--       etaMin + (lr0 - etaMin) (1 + cos(pi m / tMax)) / 2 with m = n - warmup (PyTorch's
--       without warm-up)
--   ReduceLROnPlateau(opt, {mode = "min", factor = 0.1, patience = 10, threshold = 1e-4,
--       thresholdMode = "rel", cooldown = 0, minLr = 0}): step(metric) with the watched
--       value (a validation loss, say); lr *= factor after more than patience steps without
--       an improvement beyond threshold, then waits cooldown steps; PyTorch's rules
--   OneCycleLR(opt, {maxLr, totalSteps, pctStart = 0.3, annealStrategy = "cos", divFactor =
--       25, finalDivFactor = 1e4, cycleMomentum = true, baseMomentum = 0.85, maxMomentum = 0.95})
--       Smith's one cycle, PyTorch's two-phase form: from maxLr / divFactor up to maxLr over
--       pctStart of the steps, then down to maxLr / divFactor / finalDivFactor; the momentum
--       (SGD's momentum, Adam's beta1) cycles the other way when the optimizer has one;
--       stepping past totalSteps is an error
--   LambdaLR(opt, f)                              lr0 f(n): write one's own as a function
-- Every schedule raises when its first argument is not an optimizer, and for an unknown
-- option (naming it and the known ones).
local Schedule = {}
Schedule.__index = Schedule

local function schedule(name, opt, cfg, rate)
  if getmetatable(opt) ~= Optimizer then error(name .. ": first argument must be an optimizer", 3) end
  cfg = options(name, cfg)
  local self = setmetatable({name = name, opt = opt, lr0 = opt.lr, n = 0, rate = rate}, Schedule)
  self.gamma = checkNumber(name, cfg, "gamma", 0.1, 0, math.huge)
  return self, cfg
end

--- Step decay: lr = lr0 gamma^floor(n / stepSize) after the n-th step(). Raises for a
-- stepSize that is not a positive number or a negative gamma.
-- @tparam Optimizer opt
-- @tparam table cfg `stepSize` (required), `gamma` (0.1)
-- @treturn Schedule call sched:step() after every update
-- @usage local sched = lunet.optim.StepLR(opt, {stepSize = 1000, gamma = 0.5})
function optim.StepLR(opt, cfg)
  local size = type(cfg) == "table" and cfg.stepSize
  local self = schedule("StepLR", opt, cfg, function(s) return s.lr0 * s.gamma ^ (s.n // size) end)
  if type(size) ~= "number" or size < 1 then error("StepLR: stepSize must be a positive number", 2) end
  return self
end

--- Exponential decay: lr = lr0 gamma^n after the n-th step(). Raises for a negative gamma.
-- @tparam Optimizer opt
-- @tparam[opt] table cfg `gamma` (0.1)
-- @treturn Schedule
-- @usage local sched = lunet.optim.ExponentialLR(opt, {gamma = 0.999})
function optim.ExponentialLR(opt, cfg)
  return (schedule("ExponentialLR", opt, cfg, function(s) return s.lr0 * s.gamma ^ s.n end))
end

--- Decay at milestones: lr = lr0 gamma^(number of milestones m with n >= m). Raises for
-- milestones that are not a non-empty, increasing list of positive integers, or a
-- negative gamma.
-- @tparam Optimizer opt
-- @tparam table cfg `milestones` (required), `gamma` (0.1)
-- @treturn Schedule
-- @usage local sched = lunet.optim.MultiStepLR(opt, {milestones = {3000, 6000}})
function optim.MultiStepLR(opt, cfg)
  local self
  self, cfg = schedule("MultiStepLR", opt, cfg, function(s)
    local passed = 0
    for _, m in ipairs(s.milestones) do if s.n >= m then passed = passed + 1 end end
    return s.lr0 * s.gamma ^ passed
  end)
  local ms = cfg.milestones
  if type(ms) ~= "table" or #ms == 0 then check.fail(2, "MultiStepLR: milestones must be a list of step numbers") end
  for i, m in ipairs(ms) do
    check.integer("MultiStepLR", ("milestone %d"):format(i), m, i > 1 and ms[i - 1] + 1 or 1, nil, 2)
  end
  self.milestones = ms
  return self
end

--- Cosine annealing with an optional linear warm-up: lr0 (n + 1) / (warmup + 1) over the
-- first warmup steps (set at once for step 0), then etaMin + (lr0 - etaMin) (1 + cos(pi m /
-- tMax)) / 2 with m = n - warmup (PyTorch's without warm-up). Raises for a tMax that is not
-- a positive integer, a negative etaMin or warmup.
-- @tparam Optimizer opt
-- @tparam table cfg `tMax` (required), `etaMin` (0), `warmup` (0)
-- @treturn Schedule
-- @usage local sched = lunet.optim.CosineAnnealingLR(opt, {tMax = 1000, warmup = 100})
function optim.CosineAnnealingLR(opt, cfg)
  local self
  self, cfg = schedule("CosineAnnealingLR", opt, cfg, function(s)
    if s.n < s.warmup then return s.lr0 * (s.n + 1) / (s.warmup + 1) end
    return s.etaMin + (s.lr0 - s.etaMin) * (1 + math.cos(math.pi * (s.n - s.warmup) / s.tMax)) / 2
  end)
  self.tMax = check.integer("CosineAnnealingLR", "tMax", cfg.tMax, 1, nil, 2)
  self.etaMin = checkNumber("CosineAnnealingLR", cfg, "etaMin", 0, 0, math.huge)
  self.warmup = check.integer("CosineAnnealingLR", "warmup", cfg.warmup == nil and 0 or cfg.warmup, 0, nil, 2)
  if self.warmup > 0 then opt.lr = self.rate(self) end
  return self
end

--- A schedule of one's own: lr = lr0 f(n), f(0) applied at once. Raises when f is not a
-- function, and at a step where f returns anything but a finite number >= 0.
-- @tparam Optimizer opt
-- @tparam function f n -> the factor
-- @treturn Schedule
-- @usage local sched = lunet.optim.LambdaLR(opt, function(n) return 0.95 ^ (n // 100) end)
function optim.LambdaLR(opt, f)
  if getmetatable(opt) ~= Optimizer then error("LambdaLR: first argument must be an optimizer", 2) end
  if type(f) ~= "function" then check.fail(2, "LambdaLR: the factor must be a function(n), got %s", type(f)) end
  local self = setmetatable({name = "LambdaLR", opt = opt, lr0 = opt.lr, n = 0}, Schedule)
  self.rate = function(s)
    local v = f(s.n)
    if not check.isFinite(v) or v < 0 then
      check.fail(4, "LambdaLR: the factor function returned %s at step %d; it must be a number >= 0", tostring(v), s.n)
    end
    return s.lr0 * v
  end
  opt.lr = self.rate(self)
  return self
end

-- The momentum OneCycleLR cycles: SGD's momentum or Adam's beta1 (nil for neither).
local function momentumField(opt)
  if opt.kind == "SGD" then return opt.momentum > 0 and "momentum" or nil end
  return (opt.kind == "Adam" or opt.kind == "AdamW") and "beta1" or nil
end

--- Smith's one cycle, PyTorch's two-phase form: lr from maxLr / divFactor up to maxLr over
-- pctStart of totalSteps, then down to maxLr / divFactor / finalDivFactor, by cosine
-- ("cos") or linear annealing; the momentum (SGD's momentum, Adam's and AdamW's beta1)
-- cycles the other way, baseMomentum..maxMomentum, when the optimizer has one and
-- cycleMomentum is not false. The first lr is set at once. Raises for a maxLr or a factor
-- <= 0, a totalSteps below 2, a pctStart that leaves a phase without steps, an unknown
-- annealStrategy, and when stepped past totalSteps.
-- @tparam Optimizer opt
-- @tparam table cfg `maxLr`, `totalSteps` (required), `pctStart` (0.3), `annealStrategy`,
-- `divFactor` (25), `finalDivFactor` (1e4), `cycleMomentum` (true), `baseMomentum` (0.85), `maxMomentum` (0.95)
-- @treturn Schedule
-- @usage local sched = lunet.optim.OneCycleLR(opt, {maxLr = 0.1, totalSteps = 5000})
function optim.OneCycleLR(opt, cfg)
  local name = "OneCycleLR"
  local self
  self, cfg = schedule(name, opt, cfg, function(s)
    if s.n > s.totalSteps - 1 then
      check.fail(4, "OneCycleLR: stepped %d times, past totalSteps = %d", s.n, s.totalSteps)
    end
    local up = s.pctStart * s.totalSteps - 1
    local pct, a, b, ma, mb
    if s.n <= up then
      pct, a, b, ma, mb = s.n / up, s.initialLr, s.maxLr, s.maxMomentum, s.baseMomentum
    else
      pct, a, b, ma, mb = (s.n - up) / (s.totalSteps - 1 - up), s.maxLr, s.minLr, s.baseMomentum, s.maxMomentum
    end
    if s.momentum then s.opt[s.momentum] = s.anneal(ma, mb, pct) end
    return s.anneal(a, b, pct)
  end)
  self.maxLr = check.positive(name, "maxLr", cfg.maxLr, 2)
  self.totalSteps = check.integer(name, "totalSteps", cfg.totalSteps, 2, nil, 2)
  self.pctStart = checkNumber(name, cfg, "pctStart", 0.3, 0, 1, "()")
  if self.pctStart * self.totalSteps - 1 <= 0 or self.pctStart * self.totalSteps >= self.totalSteps then
    check.fail(2, "OneCycleLR: pctStart %g leaves no steps in a phase of %d steps", self.pctStart, self.totalSteps)
  end
  local strategy = cfg.annealStrategy or "cos"
  if strategy == "cos" then
    self.anneal = function(a, b, pct) return b + (a - b) / 2 * (math.cos(math.pi * pct) + 1) end
  elseif strategy == "linear" then
    self.anneal = function(a, b, pct) return a + (b - a) * pct end
  else
    check.fail(2, 'OneCycleLR: annealStrategy must be "cos" or "linear", got %s', tostring(strategy))
  end
  self.initialLr = self.maxLr / check.positive(name, "divFactor", cfg.divFactor or 25, 2)
  self.minLr = self.initialLr / check.positive(name, "finalDivFactor", cfg.finalDivFactor or 1e4, 2)
  if cfg.cycleMomentum ~= false then
    self.momentum = momentumField(opt)
    self.baseMomentum = checkNumber(name, cfg, "baseMomentum", 0.85, 0, 1, "[)")
    self.maxMomentum = checkNumber(name, cfg, "maxMomentum", 0.95, 0, 1, "[)")
  end
  self.lr0 = self.initialLr
  opt.lr = self.rate(self)
  return self
end

-- Is v better than the best so far, by ReduceLROnPlateau's threshold?
local function improves(s, v)
  local t = s.thresholdMode == "rel" and (s.mode == "min" and s.best * (1 - s.threshold) or s.best * (1 + s.threshold))
    or (s.mode == "min" and s.best - s.threshold or s.best + s.threshold)
  return s.mode == "min" and v < t or s.mode == "max" and v > t
end

-- ReduceLROnPlateau's step(metric), set on each instance in place of Schedule.step.
local function plateauStep(self, metric)
  self.n = self.n + 1
  if not check.isFinite(metric) then
    check.fail(2, "ReduceLROnPlateau:step: needs the watched value (e.g. the validation loss) as a finite "
      .. "number, got %s; call it yourself once per evaluation, not through train.classifier's schedule",
      tostring(metric))
  end
  if improves(self, metric) then self.best, self.bad = metric, 0 else self.bad = self.bad + 1 end
  if self.cooling > 0 then self.cooling, self.bad = self.cooling - 1, 0 end
  if self.bad > self.patience then
    local lr = math.max(self.opt.lr * self.factor, self.minLr)
    if self.opt.lr - lr > 1e-8 then self.opt.lr = lr end
    self.cooling, self.bad = self.cooldown, 0
  end
  return self.opt.lr
end

--- Reduce the lr when a watched value stops improving: sched:step(metric) once per
-- evaluation; lr = max(lr factor, minLr) after more than patience steps without an
-- improvement beyond threshold ("rel": relative, "abs": absolute; mode "min" for a loss,
-- "max" for an accuracy), then cooldown steps of waiting; PyTorch's rules. Raises for a
-- mode or thresholdMode not listed, a factor outside [0, 1), a negative patience,
-- threshold, cooldown or minLr; step raises without a finite metric.
-- @tparam Optimizer opt
-- @tparam[opt] table cfg `mode` ("min"), `factor` (0.1), `patience` (10), `threshold` (1e-4),
-- `thresholdMode` ("rel"), `cooldown` (0), `minLr` (0)
-- @treturn Schedule
-- @usage local sched = lunet.optim.ReduceLROnPlateau(opt, {patience = 3})
-- sched:step(validationLoss)
function optim.ReduceLROnPlateau(opt, cfg)
  local name = "ReduceLROnPlateau"
  local self
  self, cfg = schedule(name, opt, cfg)
  self.mode = cfg.mode or "min"
  if self.mode ~= "min" and self.mode ~= "max" then
    check.fail(2, 'ReduceLROnPlateau: mode must be "min" or "max", got %s', tostring(self.mode))
  end
  self.thresholdMode = cfg.thresholdMode or "rel"
  if self.thresholdMode ~= "rel" and self.thresholdMode ~= "abs" then
    check.fail(2, 'ReduceLROnPlateau: thresholdMode must be "rel" or "abs", got %s', tostring(self.thresholdMode))
  end
  self.factor = checkNumber(name, cfg, "factor", 0.1, 0, 1, "[)")
  self.patience = check.integer(name, "patience", cfg.patience == nil and 10 or cfg.patience, 0, nil, 2)
  self.threshold = checkNumber(name, cfg, "threshold", 1e-4, 0, math.huge)
  self.cooldown = check.integer(name, "cooldown", cfg.cooldown == nil and 0 or cfg.cooldown, 0, nil, 2)
  self.minLr = checkNumber(name, cfg, "minLr", 0, 0, math.huge)
  self.best = self.mode == "min" and math.huge or -math.huge
  self.bad, self.cooling = 0, 0
  self.step = plateauStep
  return self
end

--- sched:step() -> the new lr (ReduceLROnPlateau's step takes the value it watches).
function Schedule:step()
  self.n = self.n + 1
  self.opt.lr = self.rate(self)
  return self.opt.lr
end

optim.Optimizer = Optimizer
return optim
