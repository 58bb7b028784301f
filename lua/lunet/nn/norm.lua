--- lunet.nn normalization, average pooling and embedding layers: BatchNorm1d,
-- BatchNorm2d, LayerNorm, AvgPool2d, AdaptiveAvgPool2d, Embedding.
-- Each is a thin Lua shell over the C kernels of lunet.core (csrc/kernels/norm.c, pool.c,
-- embedding.c), following the module protocol of lunet.nn (lua/lunet/nn/init.lua): the
-- module owns its parameters and buffers, the kernels resize and fill them, so once the
-- shapes are known a training step allocates nothing. The layers compute what PyTorch's
-- of the same names compute (spec/norm_spec.lua compares them on fixed inputs).
-- @module lunet.nn
local lunet = require "lunet"
local core = require "lunet.core"
local check = require "lunet.check"
local module = require "lunet.nn.module"

local Module = module.Module
local pair, pairString, kernelString = module.pair, module.pairString, module.kernelString
local norm = {}

-- opts[key], which must be a boolean when given; default otherwise.
local function flag(fname, opts, key, default)
  local v = opts[key]
  if v == nil then return default end
  if type(v) ~= "boolean" then check.fail(4, "%s: option %s must be true or false, got %s", fname, key, tostring(v)) end
  return v
end

-- The backward entry points of a normalization class from two functions of its own:
--   statistics(self, input, mean, invstd) computes into mean and invstd the statistics a
--     forward of input would use, leaving the module as it is;
--   gradients(self, input, gradOutput, mean, invstd, gradInput|nil, gradWeight|nil,
--     gradBias|nil, scale) computes what it is given (the input's gradient overwritten, the
--     parameters' accumulated) in one kernel call.
-- The statistics are those the last forward saved, or (the module used twice in a model,
-- the backward of an earlier call) computed again. backward asks for every gradient at
-- once, so the sums they share are taken once.
local function normBackward(cls, statistics, gradients)
  local function saved(self, input)
    if rawequal(input, self.input) then return self.saveMean, self.saveInvstd end
    local mean, invstd = lunet.zeros(0), lunet.zeros(0)
    statistics(self, input, mean, invstd)
    return mean, invstd
  end
  function cls:updateGradInput(input, gradOutput)
    local mean, invstd = saved(self, input)
    gradients(self, input, gradOutput, mean, invstd, self:writable("gradInput", input, gradOutput), nil, nil, 1)
    return self.gradInput
  end
  function cls:accGradParameters(input, gradOutput, scale)
    if not self.weight then return end
    local mean, invstd = saved(self, input)
    gradients(self, input, gradOutput, mean, invstd, nil, self.gradWeight, self.gradBias, scale or 1)
  end
  function cls:backward(input, gradOutput)
    local mean, invstd = saved(self, input)
    local gradInput = self.needInputGrad ~= false and self:writable("gradInput", input, gradOutput) or nil
    gradients(self, input, gradOutput, mean, invstd, gradInput, self.gradWeight, self.gradBias, 1)
    return gradInput
  end
end

-- The learnable scale (ones) and shift (zeros) of a normalization, and their gradients.
local function affineParameters(self, ...)
  self.weight, self.gradWeight = lunet.ones(...), lunet.zeros(...)
  self.bias, self.gradBias = lunet.zeros(...), lunet.zeros(...)
end

-- BatchNorm1d and BatchNorm2d: one class each, built by batchNorm below.
-- What batch norm prints after its class name: "(32, eps 1e-05, momentum 0.1[, no affine][, no running stats])".
local function batchNormString(self)
  return ("%s(%d, eps %g, momentum %g%s%s)"):format(self.typename, self.numFeatures, self.eps, self.momentum,
    self.weight and "" or ", no affine", self.runningMean and "" or ", no running stats")
end

-- Does the forward normalize with the batch's statistics? In training, and always
-- without running statistics (as PyTorch).
local function batchStatistics(self)
  return self.training or self.runningMean == nil
end

local function batchNorm(name, ranks, layout)
  local cls = module.class(name, Module)
  norm[name] = cls
  cls.bufferNames = {"output", "gradInput", "saveMean", "saveInvstd"}
  cls.stateNames = {"runningMean", "runningVar"}
  cls.__tostring = batchNormString

  function cls:__init(numFeatures, opts)
    Module.__init(self)
    self.numFeatures = check.integer(name, "numFeatures", numFeatures, 1, nil, 3)
    opts = check.options(name, opts, {"affine", "eps", "momentum", "trackRunningStats"}, 3)
    self.eps = check.positive(name, "eps", opts.eps == nil and 1e-5 or opts.eps, 3)
    self.momentum = check.number(name, "momentum", opts.momentum == nil and 0.1 or opts.momentum, 0, 1, 3)
    if flag(name, opts, "affine", true) then affineParameters(self, numFeatures) end
    if flag(name, opts, "trackRunningStats", true) then
      self.runningMean, self.runningVar = lunet.zeros(numFeatures), lunet.ones(numFeatures)
    end
    self.output, self.gradInput = lunet.zeros(0), lunet.zeros(0)
    self.saveMean, self.saveInvstd = lunet.zeros(0), lunet.zeros(0)
  end

  local function checkInput(self, input)
    check.tensor(name, "input", input, {dtype = "float"}, 3)
    if not ranks[input:dim()] then
      check.fail(4, "%s: input must be %s, got %d-D %s", name, layout, input:dim(), input:shapeString())
    end
    if input:size(2) ~= self.numFeatures then
      check.fail(4, "%s: input %s has %d channels (dimension 2), the module expects %d", name,
        input:shapeString(), input:size(2), self.numFeatures)
    end
    if self.training and input:numel() < 2 * self.numFeatures then
      check.fail(4, "%s: training needs more than 1 value per channel, got input %s", name, input:shapeString())
    end
  end

  function cls:updateOutput(input)
    checkInput(self, input)
    core.batchnorm_forward(input, self.weight, self.bias, self.runningMean, self.runningVar,
      self:writable("output", input), self.saveMean, self.saveInvstd, self.training, self.momentum, self.eps)
    return self.output
  end

  -- The statistics of the forward of input without its side effect on the running ones.
  local function statistics(self, input, mean, invstd)
    local batch = batchStatistics(self)
    core.batchnorm_forward(input, nil, nil, not batch and self.runningMean or nil, not batch and self.runningVar or nil,
      lunet.zeros(0), mean, invstd, batch, self.momentum, self.eps)
  end

  local function gradients(self, input, gradOutput, mean, invstd, gradInput, gradWeight, gradBias, scale)
    checkInput(self, input)
    core.batchnorm_backward(input, gradOutput, self.weight, mean, invstd, gradInput, gradWeight, gradBias,
      batchStatistics(self), scale)
  end

  normBackward(cls, statistics, gradients)
  return cls
end

--- BatchNorm1d(numFeatures [, opts]): batch normalization of (N,C) or (N,C,L) inputs,
-- each of the C channels over its N (times L) values, as PyTorch's.
-- In training, y = (x - mean) / sqrt(var + eps) * weight + bias with the batch's mean and
-- biased variance, and the running statistics (the module's state, which checkpoints keep)
-- move towards the batch's: runningMean = (1 - momentum) runningMean + momentum mean, and
-- likewise runningVar with the unbiased variance. In evaluation (module:evaluate()) the
-- running statistics normalize instead. Training needs more than one value per channel.
-- @function BatchNorm1d
-- @tparam integer numFeatures C, the number of channels
-- @tparam[opt] table opts `eps` (1e-5), `momentum` (0.1, in [0, 1]), `affine` (true: a
-- learnable weight (ones) and bias (zeros) of C elements), `trackRunningStats` (true; false
-- normalizes with the batch's statistics in evaluation too)
-- @treturn nn.BatchNorm1d the module; fields runningMean, runningVar (C)
-- @usage local bn = nn.BatchNorm1d(64)            -- after nn.Linear(..., 64)
-- @usage local y = bn:forward(lunet.randn(32, 64))
norm.BatchNorm1d = batchNorm("BatchNorm1d", {[2] = true, [3] = true}, "2-D (N,C) or 3-D (N,C,L)")

--- BatchNorm2d(numFeatures [, opts]): batch normalization of (N,C,H,W) images, each of
-- the C channels over its N*H*W values; otherwise as BatchNorm1d, with the same options.
-- @function BatchNorm2d
-- @tparam integer numFeatures C, the number of channels
-- @tparam[opt] table opts `eps`, `momentum`, `affine`, `trackRunningStats` (see BatchNorm1d)
-- @treturn nn.BatchNorm2d the module
-- @usage local model = nn.Sequential():add(nn.Conv2d(3, 16, 3, {padding = 1, bias = false}))
--   :add(nn.BatchNorm2d(16)):add(nn.ReLU())
norm.BatchNorm2d = batchNorm("BatchNorm2d", {[4] = true}, "4-D (N,C,H,W)")

---------------------------------------------------------------------------------
--- LayerNorm(normalizedShape [, opts]): layer normalization over the input's trailing
-- dimensions, as PyTorch's: each slice x of shape normalizedShape becomes
-- (x - mean) / sqrt(var + eps) * weight + bias, with the slice's mean and biased variance,
-- in training and evaluation alike.
-- @function LayerNorm
-- @tparam integer|table normalizedShape the trailing sizes, a number (the last dimension) or a
-- list {d1, d2, ...}
-- @tparam[opt] table opts `eps` (1e-5), `elementwiseAffine` (true: a learnable weight
-- (ones) and bias (zeros) of shape normalizedShape)
-- @treturn nn.LayerNorm the module
-- @usage local ln = nn.LayerNorm(64)
-- @usage local y = ln:forward(lunet.randn(8, 10, 64))  -- each of the 80 rows normalized
local LayerNorm = module.class("LayerNorm", Module)
norm.LayerNorm = LayerNorm
LayerNorm.bufferNames = {"output", "gradInput", "saveMean", "saveInvstd"}

function LayerNorm:__init(normalizedShape, opts)
  Module.__init(self)
  local shape = type(normalizedShape) == "table" and normalizedShape or {normalizedShape}
  if #shape < 1 or #shape > 7 then
    check.fail(3, "LayerNorm: normalizedShape must be a positive integer or a list of 1 to 7 of them, got %s",
      type(normalizedShape) == "table" and ("a list of %d"):format(#shape) or tostring(normalizedShape))
  end
  for i = 1, #shape do check.integer("LayerNorm", "normalizedShape[" .. i .. "]", shape[i], 1, nil, 3) end
  opts = check.options("LayerNorm", opts, {"elementwiseAffine", "eps"}, 3)
  self.normalizedShape = table.move(shape, 1, #shape, 1, {})
  self.eps = check.positive("LayerNorm", "eps", opts.eps == nil and 1e-5 or opts.eps, 3)
  if flag("LayerNorm", opts, "elementwiseAffine", true) then affineParameters(self, self.normalizedShape) end
  self.output, self.gradInput = lunet.zeros(0), lunet.zeros(0)
  self.saveMean, self.saveInvstd = lunet.zeros(0), lunet.zeros(0)
end

-- "(4,5)", or "(5)" for one dimension.
local function shapeString(shape) return "(" .. table.concat(shape, ",") .. ")" end

local function checkLayerInput(self, input)
  check.tensor("LayerNorm", "input", input, {dtype = "float"}, 2)
  local k, n = #self.normalizedShape, input:dim()
  local ok = n >= k
  for i = 1, k do ok = ok and input:size(n - k + i) == self.normalizedShape[i] end
  if not ok then
    check.fail(3, "LayerNorm: input %s must end with the normalized shape %s", input:shapeString(),
      shapeString(self.normalizedShape))
  end
end

function LayerNorm:updateOutput(input)
  checkLayerInput(self, input)
  core.layernorm_forward(input, self.weight, self.bias, self:writable("output", input), self.saveMean,
    self.saveInvstd, #self.normalizedShape, self.eps)
  return self.output
end

normBackward(LayerNorm, function(self, input, mean, invstd)
  core.layernorm_forward(input, nil, nil, lunet.zeros(0), mean, invstd, #self.normalizedShape, self.eps)
end, function(self, input, gradOutput, mean, invstd, gradInput, gradWeight, gradBias, scale)
  checkLayerInput(self, input)
  core.layernorm_backward(input, gradOutput, self.weight, mean, invstd, gradInput, gradWeight, gradBias,
    #self.normalizedShape, scale)
end)

function LayerNorm:__tostring()
  return ("LayerNorm(%s, eps %g%s)"):format(shapeString(self.normalizedShape), self.eps,
    self.weight and "" or ", no affine")
end

---------------------------------------------------------------------------------
--- AvgPool2d(k [, opts]): the average over k windows of (N,C,H,W) images, as PyTorch's
-- AvgPool2d. A window reaching into the zero padding divides by its whole size with
-- countIncludePad (the default), by the input cells it covers without; windows never
-- reach past the padding.
-- @function AvgPool2d
-- @tparam integer|table k the window, a number or a pair {h, w}
-- @tparam[opt] table opts `stride` (k; a number or a pair), `padding` (0, at most half the
-- window), `ceilMode` (false: output sizes round down; true: up, keeping a last window
-- that starts inside the input or its left padding), `countIncludePad` (true)
-- @treturn nn.AvgPool2d the module
-- @usage local pool = nn.AvgPool2d(2)          -- (N,C,32,32) -> (N,C,16,16)
-- @usage local pool3 = nn.AvgPool2d(3, {stride = 2, padding = 1, countIncludePad = false})
local AvgPool2d = module.class("AvgPool2d", Module)
norm.AvgPool2d = AvgPool2d

function AvgPool2d:__init(k, opts)
  Module.__init(self)
  opts = check.options("AvgPool2d", opts, {"ceilMode", "countIncludePad", "padding", "stride"}, 3)
  self.kH, self.kW = pair(k, "AvgPool2d", "kernel size")
  self.sH, self.sW = pair(opts.stride or k, "AvgPool2d", "stride")
  self.pH, self.pW = pair(opts.padding or 0, "AvgPool2d", "padding")
  if self.kH < 1 or self.kW < 1 or self.sH < 1 or self.sW < 1 then
    check.fail(3, "AvgPool2d: kernel and stride must be >= 1")
  end
  if self.pH < 0 or self.pW < 0 or 2 * self.pH > self.kH or 2 * self.pW > self.kW then
    check.fail(3, "AvgPool2d: padding must be between 0 and half the kernel, got %s for kernel %s",
      pairString(self.pH, self.pW), kernelString(self.kH, self.kW))
  end
  self.ceilMode = flag("AvgPool2d", opts, "ceilMode", false)
  self.countIncludePad = flag("AvgPool2d", opts, "countIncludePad", true)
  self.output, self.gradInput = lunet.zeros(0), lunet.zeros(0)
end

function AvgPool2d:updateOutput(input)
  check.tensor("AvgPool2d", "input", input)
  core.avgpool2d_forward(input, self:writable("output", input), self.kH, self.kW, self.sH, self.sW, self.pH,
    self.pW, self.ceilMode, self.countIncludePad)
  return self.output
end

function AvgPool2d:updateGradInput(input, gradOutput)
  check.tensor("AvgPool2d", "input", input)
  core.avgpool2d_backward(input, gradOutput, self:writable("gradInput", gradOutput), self.kH, self.kW, self.sH,
    self.sW, self.pH, self.pW, self.ceilMode, self.countIncludePad)
  return self.gradInput
end

function AvgPool2d:__tostring()
  return ("AvgPool2d(%s, stride %s, padding %s%s%s)"):format(kernelString(self.kH, self.kW),
    pairString(self.sH, self.sW), pairString(self.pH, self.pW), self.ceilMode and ", ceil mode" or "",
    self.countIncludePad and "" or ", padding not counted")
end

---------------------------------------------------------------------------------
--- AdaptiveAvgPool2d(size): the average of (N,C,H,W) images over the windows that divide
-- each plane into size cells, as PyTorch's: output row i averages input rows
-- floor(i*H/oH) .. ceil((i+1)*H/oH) - 1 (0-based), and likewise for columns. size 1 is
-- global average pooling.
-- @function AdaptiveAvgPool2d
-- @tparam integer|table size the output size, a number or a pair {oH, oW}
-- @treturn nn.AdaptiveAvgPool2d the module
-- @usage local gap = nn.AdaptiveAvgPool2d(1)   -- (N,C,H,W) -> (N,C,1,1)
local AdaptiveAvgPool2d = module.class("AdaptiveAvgPool2d", Module)
norm.AdaptiveAvgPool2d = AdaptiveAvgPool2d

function AdaptiveAvgPool2d:__init(size)
  Module.__init(self)
  self.oH, self.oW = pair(size, "AdaptiveAvgPool2d", "output size")
  if self.oH < 1 or self.oW < 1 then
    check.fail(3, "AdaptiveAvgPool2d: output size must be >= 1, got %s", pairString(self.oH, self.oW))
  end
  self.output, self.gradInput = lunet.zeros(0), lunet.zeros(0)
end

function AdaptiveAvgPool2d:updateOutput(input)
  check.tensor("AdaptiveAvgPool2d", "input", input)
  core.adaptive_avgpool2d_forward(input, self:writable("output", input), self.oH, self.oW)
  return self.output
end

function AdaptiveAvgPool2d:updateGradInput(input, gradOutput)
  check.tensor("AdaptiveAvgPool2d", "input", input)
  core.adaptive_avgpool2d_backward(input, gradOutput, self:writable("gradInput", gradOutput), self.oH, self.oW)
  return self.gradInput
end

function AdaptiveAvgPool2d:__tostring()
  return ("AdaptiveAvgPool2d(%s)"):format(kernelString(self.oH, self.oW))
end

---------------------------------------------------------------------------------
--- Embedding(numEmbeddings, dim [, opts]): a table of numEmbeddings vectors of dim
-- values, looked up by index, as PyTorch's. The input is an int tensor of indices in
-- 1..numEmbeddings (1-based, as every index in lunet) of any shape; the output has that
-- shape followed by dim. An index out of range is an error. The backward adds each
-- output row's gradient into gradWeight's row for its index (only the rows used, each
-- summed in a fixed order) and returns nil: indices have no gradient. The weight starts
-- standard normal.
-- @function Embedding
-- @tparam integer numEmbeddings the number of rows
-- @tparam integer dim the size of each vector
-- @tparam[opt] table opts `paddingIdx`: a row (1-based; negative counts from the end) that
-- starts at zero and gets no gradient, for the padding of sequences
-- @treturn nn.Embedding the module; weight (numEmbeddings, dim)
-- @usage local emb = nn.Embedding(1000, 32, {paddingIdx = 1})
-- @usage local y = emb:forward(lunet.tensor({{5, 7, 1}, {2, 2, 1}}):int())  -- (2,3,32)
local Embedding = module.class("Embedding", Module)
norm.Embedding = Embedding
Embedding.paramNames = {"weight"}
Embedding.bufferNames = {"output", "workspace"}

function Embedding:__init(numEmbeddings, dim, opts)
  Module.__init(self)
  self.numEmbeddings = check.integer("Embedding", "numEmbeddings", numEmbeddings, 1, nil, 3)
  self.dim = check.integer("Embedding", "dim", dim, 1, nil, 3)
  opts = check.options("Embedding", opts, {"paddingIdx"}, 3)
  if opts.paddingIdx ~= nil then
    local p = check.integer("Embedding", "paddingIdx", opts.paddingIdx, -numEmbeddings, numEmbeddings, 3)
    if p == 0 then check.fail(3, "Embedding: paddingIdx must be a row, 1..%d or -%d..-1, got 0", numEmbeddings,
      numEmbeddings) end
    self.paddingIdx = p > 0 and p or numEmbeddings + 1 + p
  end
  self.weight, self.gradWeight = lunet.zeros(numEmbeddings, dim), lunet.zeros(numEmbeddings, dim)
  self.output, self.workspace = lunet.zeros(0), lunet.zeros(0, "int")
  self:reset()
end

--- reset(): the weight drawn standard normal again (from lunet's generator), the padding
-- row zero.
-- @treturn nn.Embedding the module
-- @usage emb:reset()
function Embedding:reset()
  self.weight:normal_(0, 1)
  if self.paddingIdx then self.weight[self.paddingIdx]:zero() end
  return self
end

function Embedding:updateOutput(input)
  check.tensor("Embedding", "indices", input, {dtype = "int"})
  core.embedding_forward(input, self.weight, self.output)
  return self.output
end

function Embedding:updateGradInput()
  self.gradInput = nil
  return nil
end

function Embedding:accGradParameters(input, gradOutput, scale)
  check.tensor("Embedding", "indices", input, {dtype = "int"})
  core.embedding_backward(input, gradOutput, self.gradWeight, self.workspace, self.paddingIdx or 0, scale or 1)
end

function Embedding:__tostring()
  return ("Embedding(%d, %d%s)"):format(self.numEmbeddings, self.dim,
    self.paddingIdx and (", paddingIdx %d"):format(self.paddingIdx) or "")
end

return norm
