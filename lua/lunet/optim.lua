--- lunet.optim: optimizers and learning-rate schedules.
-- One calling convention for all:
--   local opt = optim.Adam(model, {lr = 1e-3})     -- or optim.Adam(params, grads, cfg)
--   ... model:zeroGrad(); loss = ...; model:backward(...); opt:step()
-- Updates are fused C loops (one pass over parameter, gradient and state).
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
  RMSProp = {"lr", "weightDecay", "alpha", "eps"},
  Adagrad = {"lr", "weightDecay", "eps"},
  StepLR = {"stepSize", "gamma"},
  ExponentialLR = {"gamma"},
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

--- Adam (Kingma & Ba 2015); defaults as TensorFlow's: beta1 0.9, beta2 0.999, eps 1e-8.
function optim.Adam(a, b, c)
  local self, cfg = new("Adam", {"m", "v"}, a, b, c)
  self.beta1 = checkNumber("Adam", cfg, "beta1", 0.9, 0, 1 - 1e-12)
  self.beta2 = checkNumber("Adam", cfg, "beta2", 0.999, 0, 1 - 1e-12)
  self.eps = checkNumber("Adam", cfg, "eps", 1e-8, 0, 1, "(]") -- 0 divides 0 by 0 on a zero gradient
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

--- Learning-rate schedules: call sched:step() once per iteration (or epoch).
-- optim.StepLR(opt, {stepSize = 1000, gamma = 0.1}): lr = lr0 * gamma^floor(n / stepSize)
-- optim.ExponentialLR(opt, {gamma = 0.999}):        lr = lr0 * gamma^n
local Schedule = {}
Schedule.__index = Schedule

local function schedule(name, opt, cfg, rate)
  if getmetatable(opt) ~= Optimizer then error(name .. ": first argument must be an optimizer", 3) end
  cfg = options(name, cfg)
  local self = setmetatable({opt = opt, lr0 = opt.lr, n = 0, rate = rate}, Schedule)
  self.gamma = checkNumber(name, cfg, "gamma", 0.1, 0, math.huge)
  return self
end

function optim.StepLR(opt, cfg)
  local size = type(cfg) == "table" and cfg.stepSize
  local self = schedule("StepLR", opt, cfg, function(s) return s.lr0 * s.gamma ^ (s.n // size) end)
  if type(size) ~= "number" or size < 1 then error("StepLR: stepSize must be a positive number", 2) end
  return self
end

function optim.ExponentialLR(opt, cfg)
  return schedule("ExponentialLR", opt, cfg, function(s) return s.lr0 * s.gamma ^ s.n end)
end

function Schedule:step()
  self.n = self.n + 1
  self.opt.lr = self.rate(self)
  return self.opt.lr
end

optim.Optimizer = Optimizer
return optim
