-- lunet.nn.init — parameter initializers, each filling a tensor in place (and
-- returning it) from lunet's generator, so lunet.manualSeed reproduces them;
-- and whole-model schemes: model:init("course") or nn.init.course(model).
local check = require "lunet.check"

local init = {}

local function checkTensor(t, fname)
  check.tensor("nn.init." .. fname, "argument #1", t, nil, 3)
end

-- Normal(0, std) resampled beyond 2 std, as TensorFlow's truncated_normal.
function init.truncnormal(t, std)
  checkTensor(t, "truncnormal")
  return t:truncnormal_(std)
end

function init.normal(t, std)
  checkTensor(t, "normal")
  return t:normal_(0, std)
end

function init.constant(t, v)
  checkTensor(t, "constant")
  return t:fill(v)
end

function init.uniform(t, a, b)
  checkTensor(t, "uniform")
  return t:uniform_(a, b)
end

-- fan in and fan out of a weight (out, in, k...): in*prod(k) and out*prod(k).
local function fans(t, fname)
  checkTensor(t, fname)
  if t:dim() < 2 then
    check.fail(3, "nn.init.%s: needs a weight of at least 2 dimensions (out, in, ...), got %d-D",
      fname, t:dim())
  end
  local field = 1
  for d = 3, t:dim() do field = field * t:size(d) end
  return t:size(2) * field, t:size(1) * field
end

-- Glorot & Bengio (2010), uniform: +-gain*sqrt(6 / (fanIn + fanOut)).
function init.xavier(t, gain)
  local fanIn, fanOut = fans(t, "xavier")
  local a = (gain or 1) * math.sqrt(6 / (fanIn + fanOut))
  return t:uniform_(-a, a)
end

-- He et al. (2015), normal: std = gain / sqrt(fanIn), gain sqrt(2) for ReLU.
function init.kaiming(t, gain)
  local fanIn = fans(t, "kaiming")
  return t:normal_(0, (gain or math.sqrt(2)) / math.sqrt(fanIn))
end

-- Is the parameter called `name` a bias? (RNN modules name theirs biasIH, bias_h, ...)
local function isBias(name) return name:lower():find("bias", 1, true) ~= nil end

-- Calls fill(tensor, isBias) for each parameter a module holds itself (not its children).
local function eachOwnParameter(m, fill)
  for _, name in ipairs(m.paramNames) do
    local p = m[name]
    if p ~= nil then fill(p, isBias(name)) end
  end
end

-- Whole-model schemes: functions of one module, applied to every module.
init.schemes = {
  -- The course's (and TensorFlow tutorials'): weights truncated normal std 0.1, biases 0.1.
  course = function(m)
    eachOwnParameter(m, function(p, bias)
      if bias then p:fill(0.1) else p:truncnormal_(0.1) end
    end)
  end,
  xavier = function(m)
    eachOwnParameter(m, function(p, bias)
      if bias then p:zero() else init.xavier(p) end
    end)
  end,
  kaiming = function(m)
    eachOwnParameter(m, function(p, bias)
      if bias then p:zero() else init.kaiming(p) end
    end)
  end,
  -- Each module's own default (uniform +-1/sqrt(fanIn) for Conv2d and Linear).
  default = function(m)
    if m.reset then m:reset() end
  end,
}

-- init.apply(model, scheme): scheme a name in init.schemes or a function(module).
function init.apply(model, scheme)
  local fn = scheme
  if type(scheme) == "string" then
    fn = init.schemes[scheme]
    if not fn then
      local names = {}
      for k in pairs(init.schemes) do names[#names + 1] = k end
      table.sort(names)
      error(("init: unknown scheme '%s' (known: %s)"):format(scheme, table.concat(names, ", ")), 2)
    end
  elseif type(scheme) ~= "function" then
    error(("init: scheme must be a name or a function(module), got %s"):format(type(scheme)), 2)
  end
  return model:apply(fn)
end

-- The course's scheme in one line: nn.init.course(model).
function init.course(model) return init.apply(model, "course") end

return init
