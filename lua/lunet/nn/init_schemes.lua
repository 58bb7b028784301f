--- lunet.nn.init — parameter initializers, each filling a tensor in place (and
-- returning it) from lunet's generator, so lunet.manualSeed reproduces them;
-- and whole-model schemes: model:init("course") or nn.init.course(model).
-- Each initializer raises "nn.init.<name>: argument #1 ..." for a value that is not a tensor.
-- @module lunet.nn.init
local check = require "lunet.check"

local init = {}

local function checkTensor(t, fname)
  check.tensor("nn.init." .. fname, "argument #1", t, nil, 3)
end

--- Fill t in place from Normal(0, std), values beyond 2 std drawn again (TensorFlow's
-- truncated_normal).
-- @tparam Tensor t a float or double tensor, any shape
-- @tparam number std
-- @treturn Tensor t
-- @usage nn.init.truncnormal(fc.weight, 0.1)
function init.truncnormal(t, std)
  checkTensor(t, "truncnormal")
  return t:truncnormal_(std)
end

--- Fill t in place from Normal(0, std).
-- @tparam Tensor t a float or double tensor, any shape
-- @tparam number std
-- @treturn Tensor t
-- @usage nn.init.normal(fc.weight, 0.01)
function init.normal(t, std)
  checkTensor(t, "normal")
  return t:normal_(0, std)
end

--- Fill t in place with v.
-- @tparam Tensor t any dtype and shape
-- @tparam number v
-- @treturn Tensor t
-- @usage nn.init.constant(fc.bias, 0.1)
function init.constant(t, v)
  checkTensor(t, "constant")
  return t:fill(v)
end

--- Fill t in place from Uniform(a, b).
-- @tparam Tensor t a float or double tensor, any shape
-- @tparam number a low end
-- @tparam number b high end
-- @treturn Tensor t
-- @usage nn.init.uniform(fc.weight, -0.05, 0.05)
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

--- Glorot & Bengio (2010), uniform in +-gain sqrt(6 / (fanIn + fanOut)), for a weight (out,
-- in, k...): fanIn = in prod(k), fanOut = out prod(k). Raises for a tensor under 2-D.
-- @tparam Tensor t a float or double weight of at least 2 dimensions
-- @tparam[opt=1] number gain
-- @treturn Tensor t
-- @usage nn.init.xavier(fc.weight)
function init.xavier(t, gain)
  local fanIn, fanOut = fans(t, "xavier")
  local a = (gain or 1) * math.sqrt(6 / (fanIn + fanOut))
  return t:uniform_(-a, a)
end

--- He et al. (2015), Normal(0, gain / sqrt(fanIn)) for a weight (out, in, k...), fanIn = in
-- prod(k); the default gain sqrt(2) suits ReLU. Raises for a tensor under 2-D.
-- @tparam Tensor t a float or double weight of at least 2 dimensions
-- @tparam[opt=sqrt(2)] number gain
-- @treturn Tensor t
-- @usage nn.init.kaiming(conv.weight)
function init.kaiming(t, gain)
  local fanIn = fans(t, "kaiming")
  return t:normal_(0, (gain or math.sqrt(2)) / math.sqrt(fanIn))
end

-- Is the parameter called `name` a bias? (RNN modules name theirs biasIH, bias_h, ...)
local function isBias(name) return name:lower():find("bias", 1, true) ~= nil end

-- Calls fill(tensor, isBias) for each parameter a module holds itself (not its children).
-- A module whose weight is a vector (BatchNorm's and LayerNorm's scale) keeps its own
-- initialization, reset(): a scale of 1, a shift of 0.
local function eachOwnParameter(m, fill)
  if check.isTensor(m.weight) and m.weight:dim() < 2 then
    if m.reset then m:reset() end
    return
  end
  for _, name in ipairs(m.paramNames) do
    local p = m[name]
    if p ~= nil then fill(p, isBias(name)) end
  end
end

--- The course's (and TensorFlow tutorials'): weights truncated normal std 0.1, biases 0.1.
-- @function schemes.course
-- @tparam Module m a module
-- @usage nn.init.schemes.course(nn.Linear(4, 2))

--- Weights by nn.init.xavier, biases zero.
-- @function schemes.xavier
-- @tparam Module m a module
-- @usage model:apply(nn.init.schemes.xavier)

--- Weights by nn.init.kaiming, biases zero.
-- @function schemes.kaiming
-- @tparam Module m a module
-- @usage model:apply(nn.init.schemes.kaiming)

--- Each module's own default, its reset() (uniform +-1/sqrt(fanIn) for Conv2d and Linear).
-- @function schemes.default
-- @tparam Module m a module
-- @usage model:apply(nn.init.schemes.default)

-- Whole-model schemes, by name, for model:init(name) and nn.init.apply: each a
-- function(module) applied to every module, filling the parameters it holds itself (a
-- parameter whose name contains "bias" is a bias). Documented above, one by one.
init.schemes = {
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
  default = function(m)
    if m.reset then m:reset() end
  end,
}

--- Initialize a whole model: scheme applied to it and every descendant (model:init does
-- this). Raises for an unknown scheme name (listing the known ones) or a scheme that is
-- neither a name nor a function.
-- @tparam Module model
-- @tparam string|function scheme a name in nn.init.schemes or a function(module)
-- @treturn Module model
-- @usage nn.init.apply(model, "xavier")
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

--- The course's scheme in one line: weights truncated normal std 0.1, biases 0.1.
-- @tparam Module model
-- @treturn Module model
-- @usage nn.init.course(model)
function init.course(model) return init.apply(model, "course") end

return init
