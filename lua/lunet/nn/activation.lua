--- lunet.nn activations beyond ReLU (which lives in nn/layers.lua with its deconvnet rules):
-- Tanh, Sigmoid, LeakyReLU, ELU, GELU, SiLU, Softplus, each one C kernel forward and one
-- backward (lunet.core.activation_forward/_backward), with PyTorch's definitions; and
-- Identity. Each takes a tensor of any shape and returns one of the same shape.
-- @submodule lunet.nn
local lunet = require "lunet"
local core = require "lunet.core"
local check = require "lunet.check"
local module = require "lunet.nn.module"
local Module = module.Module

local activation = {}

-- One class per kernel: name (the class), kernel (its name in lunet.core.activation_*), and
-- init(...) -> the kernel's parameters p, q, the text __tostring shows after the name and,
-- when it depends on the arguments, the kernel's name.
local function define(name, kernel, init)
  local cls = module.class(name, Module)
  activation[name] = cls
  function cls:__init(...)
    Module.__init(self)
    self.output = lunet.zeros(0)
    self.gradInput = lunet.zeros(0)
    local p, q, args, k = init(...)
    self.p, self.q, self.args, self.kernel = p or 0, q or 0, args or "", k or kernel
  end
  cls.bufferNames = {"output", "gradInput"}
  cls.lastCallNames = {"input"}
  function cls:updateOutput(input)
    check.tensor(name, "input", input)
    core.activation_forward(self.kernel, input, self:writable("output", input), self.p, self.q)
    return self.output
  end
  function cls:updateGradInput(input, gradOutput)
    check.tensor(name .. ":backward", "gradOutput", gradOutput)
    if self.input ~= input then check.fail(3, "%s:backward: call forward(input) on this input first", name) end
    core.activation_backward(self.kernel, input, self.output, gradOutput,
      self:writable("gradInput", input, gradOutput), self.p, self.q)
    return self.gradInput
  end
  function cls:__tostring() return name .. self.args end
  return cls
end

--- Tanh(): y = tanh(x), elementwise on a float32 tensor of any shape (another dtype raises,
-- as do arguments).
-- @function Tanh
-- @treturn Tanh
-- @usage local m = lunet.nn.Tanh()
define("Tanh", "tanh", function(...)
  if select("#", ...) > 0 then check.fail(4, "Tanh: takes no arguments") end
end)

--- Sigmoid(): y = 1 / (1 + exp(-x)), elementwise on a float32 tensor of any shape (another
-- dtype raises, as do arguments).
-- @function Sigmoid
-- @treturn Sigmoid
-- @usage local m = lunet.nn.Sigmoid()
define("Sigmoid", "sigmoid", function(...)
  if select("#", ...) > 0 then check.fail(4, "Sigmoid: takes no arguments") end
end)

--- SiLU() (swish): y = x sigmoid(x), elementwise on a float32 tensor of any shape (another
-- dtype raises, as do arguments).
-- @function SiLU
-- @treturn SiLU
-- @usage local m = lunet.nn.SiLU()
define("SiLU", "silu", function(...)
  if select("#", ...) > 0 then check.fail(4, "SiLU: takes no arguments") end
end)

--- LeakyReLU([negativeSlope = 0.01]): y = x for x >= 0, negativeSlope * x below;
-- elementwise on a float32 tensor of any shape. Raises for a slope that is not a number
-- or a second argument.
-- @function LeakyReLU
-- @tparam[opt=0.01] number negativeSlope
-- @treturn LeakyReLU
-- @usage local m = lunet.nn.LeakyReLU(0.2)
define("LeakyReLU", "leaky_relu", function(slope, extra)
  if extra ~= nil then check.fail(4, "LeakyReLU: takes one argument, the negative slope") end
  slope = slope == nil and 0.01 or check.number("LeakyReLU", "negative slope", slope, nil, nil, 4)
  return slope, 0, ("(%g)"):format(slope)
end)

--- ELU([alpha = 1]): y = x for x > 0, alpha (exp(x) - 1) below; elementwise on a float32
-- tensor of any shape. Raises for an alpha that is not a number or a second argument.
-- @function ELU
-- @tparam[opt=1] number alpha
-- @treturn ELU
-- @usage local m = lunet.nn.ELU(1.0)
define("ELU", "elu", function(alpha, extra)
  if extra ~= nil then check.fail(4, "ELU: takes one argument, alpha") end
  alpha = alpha == nil and 1 or check.number("ELU", "alpha", alpha, nil, nil, 4)
  return alpha, 0, ("(%g)"):format(alpha)
end)

--- GELU([{approximate = "none"}]): y = x Phi(x), Phi the standard normal CDF;
-- approximate = "tanh" uses 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) as PyTorch does.
-- Elementwise on a float32 tensor of any shape. Raises for an unknown option or an
-- approximate other than "none" and "tanh".
-- @function GELU
-- @tparam[opt] table opts `approximate` ("none" or "tanh")
-- @treturn GELU
-- @usage local m = lunet.nn.GELU{approximate = "tanh"}
define("GELU", "gelu", function(opts)
  opts = check.options("GELU", opts, {"approximate"}, 4)
  local a = opts.approximate or "none"
  if a ~= "none" and a ~= "tanh" then
    check.fail(4, "GELU: approximate must be \"none\" or \"tanh\", got %s", tostring(a))
  end
  if a == "tanh" then return 0, 0, "{approximate = \"tanh\"}", "gelu_tanh" end
end)
--- Softplus([beta = 1 [, threshold = 20]]): y = log(1 + exp(beta x)) / beta, and y = x
-- where beta x > threshold (PyTorch's linear region); elementwise on a float32 tensor of
-- any shape. Raises for a beta <= 0, a threshold that is not a number, or a third argument.
-- @function Softplus
-- @tparam[opt=1] number beta
-- @tparam[opt=20] number threshold
-- @treturn Softplus
-- @usage local m = lunet.nn.Softplus(2)
define("Softplus", "softplus", function(beta, threshold, extra)
  if extra ~= nil then check.fail(4, "Softplus: takes two arguments, beta and threshold") end
  beta = beta == nil and 1 or check.number("Softplus", "beta", beta, 0, nil, 4, "(]")
  threshold = threshold == nil and 20 or check.number("Softplus", "threshold", threshold, nil, nil, 4)
  return beta, threshold, ("(%g, %g)"):format(beta, threshold)
end)

---------------------------------------------------------------------------------
--- Identity(): returns its input (and the gradient it is given) unchanged; a placeholder
-- in a container, as in PyTorch. Any tensor (any dtype); raises when given arguments.
-- @function Identity
-- @treturn Identity
-- @usage local m = lunet.nn.Identity()
local Identity = module.class("Identity", Module)
activation.Identity = Identity

function Identity:__init(...)
  if select("#", ...) > 0 then check.fail(3, "Identity: takes no arguments") end
  Module.__init(self)
end

function Identity:updateOutput(input)
  self.output = input
  return input
end

function Identity:updateGradInput(_, gradOutput)
  self.gradInput = gradOutput
  return gradOutput
end

Identity.lastCallNames = {"output", "gradInput"}

return activation
