--- lunet.nn layers: Conv2d, ConvTranspose2d, Conv1d, MaxPool2d, ReLU, Linear, Dropout, Flatten,
-- Softmax, LogSoftmax.
-- Each is a thin Lua shell over the C kernels of lunet.core (csrc/kernels/conv.c, pool.c,
-- activ.c): the module owns its parameters and buffers, the kernels resize and fill
-- them, so once the shapes are known a training step allocates nothing.
-- The deconvnet's steps down the stack (lunet.viz) are methods here too, each module
-- projecting a signal from its output back to its input: Conv2d:project,
-- MaxPool2d:project (= unpool), ReLU:project.
-- @submodule lunet.nn
local lunet = require "lunet"
local core = require "lunet.core"
local check = require "lunet.check"
local module = require "lunet.nn.module"

local Module = module.Module
local layers = {}

local pair, pairString, kernelString = module.pair, module.pairString, module.kernelString

-- geometry(): the sliding window of a Conv2d or MaxPool2d, as three {h, w} pairs: kernel
-- size, stride and padding (what a receptive field is composed from).
local function geometry(self)
  return {self.kH, self.kW}, {self.sH, self.sW}, {self.pH, self.pW}
end

-- The buffer a module projects into (see the top): its own, reused between calls.
local function projection(m)
  m.projection = m.projection or lunet.zeros(0)
  return m.projection
end

-- The input of the last forward, which a projection needs for its shape (and ReLU's
-- rules for its signs).
local function lastInput(m, fname)
  if not lunet.isTensor(m.input) then
    check.fail(3, "%s: no forward has run yet (the projection goes through its input)", fname)
  end
  return m.input
end

-- Default initialization of Torch7's nn: weight and bias uniform in +-1/sqrt(fanIn).
local function resetUniform(m, fanIn)
  local stdv = 1 / math.sqrt(fanIn)
  m.weight:uniform_(-stdv, stdv)
  if m.bias then m.bias:uniform_(-stdv, stdv) end
  return m
end

-- -----------------------------------------------------------------------------
-- The convolutions: Conv2d, ConvTranspose2d and Conv1d, all over the conv2d kernels
-- (csrc/kernels/conv.c); the transposed convolution is the convolution's adjoint and
-- Conv1d a convolution of height 1.

-- Sets m.inC, m.outC, m.kH, m.kW from k, and from opts m.sH, m.sW (stride), m.pH, m.pW
-- (padding; m.same for 'same' where `sameOK`), m.dH, m.dW (dilation) and m.groups;
-- returns opts, checked against the `known` names. rank 1 (Conv1d) takes plain integers
-- and fills the height's fields with 1 (0 for the padding). Errors blame the
-- constructor's caller.
local function convOptions(m, fname, rank, inC, outC, k, opts, known, sameOK)
  local hints = {} -- PyTorch's spelling of lunet's options, where it differs
  for _, name in ipairs(known) do
    if name == "outputPadding" then hints.output_padding = name end
  end
  opts = check.options(fname, opts, known, 4, nil, hints)
  if math.type(inC) ~= "integer" or inC < 1 or math.type(outC) ~= "integer" or outC < 1 then
    check.fail(4, "%s: channel counts must be positive integers, got %s and %s", fname, tostring(inC),
      tostring(outC))
  end
  m.inC, m.outC = inC, outC
  local function read(v, what)
    if rank == 1 then
      if type(v) == "table" then
        check.fail(5, "%s: %s must be an integer (the convolution is 1-D), got a table", fname, what)
      end
      return 1, check.integer(fname, what, v, nil, nil, 5)
    end
    local h, w = pair(v, fname, what, 6)
    return h, w
  end
  m.kH, m.kW = read(k, "kernel size")
  m.sH, m.sW = read(opts.stride or 1, "stride")
  m.dH, m.dW = read(opts.dilation or 1, "dilation")
  m.groups = check.integer(fname, "groups", opts.groups or 1, 1, nil, 4)
  -- sizes as the message shows them: a Conv1d's alone, a Conv2d's as pairs
  local function show(h, w, kernel)
    if rank == 1 then return tostring(w) end
    return kernel and kernelString(h, w) or pairString(h, w)
  end
  if m.kH < 1 or m.kW < 1 or m.sH < 1 or m.sW < 1 or m.dH < 1 or m.dW < 1 then
    check.fail(4, "%s: kernel size, stride and dilation must be >= 1, got %s, %s and %s", fname,
      show(m.kH, m.kW, true), show(m.sH, m.sW), show(m.dH, m.dW))
  end
  -- the dilated kernel's span: dilation*(k-1)+1 input cells
  local spanH, spanW = m.dH * (m.kH - 1) + 1, m.dW * (m.kW - 1) + 1
  if opts.padding == "same" and sameOK then
    if spanH % 2 == 0 or spanW % 2 == 0 or m.sH ~= 1 or m.sW ~= 1 then
      check.fail(4, "%s: padding 'same' needs an odd kernel and stride 1, got kernel %s%s, stride %s; "
        .. "give the padding as a number", fname, show(m.kH, m.kW, true),
        (m.dH ~= 1 or m.dW ~= 1) and (" dilated %s (spanning %s)"):format(show(m.dH, m.dW),
          show(spanH, spanW, true)) or "", show(m.sH, m.sW))
    end
    m.same = true
    m.pH, m.pW = (spanH - 1) // 2, (spanW - 1) // 2
  else
    m.pH, m.pW = read(opts.padding or 0, "padding")
    if rank == 1 then m.pH = 0 end
  end
  if m.pH < 0 or m.pW < 0 then
    check.fail(4, "%s: padding must be >= 0, got %s", fname, show(m.pH, m.pW))
  end
  for _, c in ipairs({ { inC, "input" }, { outC, "output" } }) do
    if c[1] % m.groups ~= 0 then
      check.fail(4, "%s: the %s channels (%d) are not divisible by groups = %d", fname, c[2], c[1], m.groups)
    end
  end
  return opts
end

-- Weight and bias (when opts.bias is not false) of the given weight shape, and their
-- gradients, plus the buffers every convolution has.
local function convParameters(m, opts, biasSize, ...)
  m.weight, m.gradWeight = lunet.zeros(...), lunet.zeros(...)
  if opts.bias ~= false then
    m.bias, m.gradBias = lunet.zeros(biasSize), lunet.zeros(biasSize)
  end
  m.output, m.gradInput, m.workspace = lunet.zeros(0), lunet.zeros(0), lunet.zeros(0)
  m:reset()
end

-- The options beyond kernel, stride and padding that differ from the defaults, for
-- __tostring (a Conv1d's height, always 1, is left out).
local function convExtras(m)
  local s = ""
  if m.opH and (m.opH ~= 0 or m.opW ~= 0) then
    s = s .. ", output padding " .. pairString(m.opH, m.opW)
  end
  if m.dW ~= 1 and m.typename == "Conv1d" then
    s = s .. ", dilation " .. m.dW
  elseif m.dH ~= 1 or m.dW ~= 1 then
    s = s .. ", dilation " .. pairString(m.dH, m.dW)
  end
  if m.groups ~= 1 then s = s .. ", groups " .. m.groups end
  return s .. (m.bias and "" or ", no bias")
end

--- A 2-D convolution over a batch of images (cross-correlation, as PyTorch's Conv2d).
-- `Conv2d(inC, outC, k, {stride = 1, padding = 0 | 'same', dilation = 1, groups = 1, bias = true})`:
-- k, stride, padding and dilation are integers or {h, w} pairs. padding = 'same' keeps
-- the spatial size (stride 1 and an odd dilated span dilation*(k-1)+1, where it equals
-- TensorFlow's 'same'). groups splits the channels into that many independent
-- convolutions (groups = inC is the depthwise convolution); both channel counts must be
-- divisible by it. weight (outC, inC/groups, kH, kW), bias (outC);
-- input (N, inC, H, W) -> (N, outC, H', W'), H' = floor((H + 2pH - dH(kH-1) - 1)/sH) + 1.
-- Bad options raise an error naming the option at the caller's line; an input the
-- dilated kernel does not fit raises one at the forward.
-- @function Conv2d
-- @tparam integer inC input channels
-- @tparam integer outC output channels
-- @tparam integer|table k kernel size, or {kH, kW}
-- @tparam[opt] table opts stride, padding, dilation, groups, bias
-- @usage local depthwise = nn.Conv2d(32, 32, 3, {padding = 1, groups = 32})
local Conv2d = module.class("Conv2d", Module)
layers.Conv2d = Conv2d

function Conv2d:__init(inC, outC, k, opts)
  Module.__init(self)
  opts = convOptions(self, "Conv2d", 2, inC, outC, k, opts, { "bias", "dilation", "groups", "padding", "stride" },
    true)
  convParameters(self, opts, outC, outC, inC // self.groups, self.kH, self.kW)
end

Conv2d.bufferNames = { "output", "gradInput", "workspace", "projection" }

--- The sliding window as three {h, w} pairs: the dilated kernel's span, stride and
-- padding (what a receptive field is composed from, see viz.receptiveField).
-- @treturn table {spanH, spanW}, dH*(kH-1)+1 and likewise
-- @treturn table {sH, sW}
-- @treturn table {pH, pW}
-- @usage local span, stride, padding = conv:geometry()
function Conv2d:geometry()
  return { self.dH * (self.kH - 1) + 1, self.dW * (self.kW - 1) + 1 }, { self.sH, self.sW }, { self.pH, self.pW }
end

--- Re-draws weight and bias uniform in +-1/sqrt(fanIn), fanIn = inC/groups*kH*kW (Torch7's and PyTorch's default).
-- @treturn Conv2d self
-- @usage conv:reset()
function Conv2d:reset()
  return resetUniform(self, self.inC // self.groups * self.kH * self.kW)
end

--- Forward: sets and returns self.output (N, outC, H', W').
-- @tparam Tensor input (N, inC, H, W), float, contiguous
-- @treturn Tensor self.output
-- @usage local y = conv:forward(x)
function Conv2d:updateOutput(input)
  check.tensor("Conv2d", "input", input)
  core.conv2d_forward(input, self.weight, self.bias, self:writable("output", input), self.workspace,
                      self.sH, self.sW, self.pH, self.pW, self.dH, self.dW, self.groups)
  return self.output
end

--- The gradient with respect to the input: sets and returns self.gradInput (N, inC, H, W).
-- @tparam Tensor input the forward's input
-- @tparam Tensor gradOutput (N, outC, H', W')
-- @treturn Tensor self.gradInput
-- @usage local gx = conv:updateGradInput(x, gy)
function Conv2d:updateGradInput(input, gradOutput)
  core.conv2d_backward_input(input, gradOutput, self.weight, self:writable("gradInput", gradOutput), self.workspace,
                             self.sH, self.sW, self.pH, self.pW, self.dH, self.dW, self.groups)
  return self.gradInput
end

--- Adds scale times the parameter gradients into gradWeight and gradBias.
-- @tparam Tensor input the forward's input
-- @tparam Tensor gradOutput (N, outC, H', W')
-- @tparam[opt=1] number scale
-- @usage conv:accGradParameters(x, gy)
function Conv2d:accGradParameters(input, gradOutput, scale)
  core.conv2d_backward_params(input, gradOutput, self.gradWeight, self.gradBias, self.workspace,
                              self.sH, self.sW, self.pH, self.pW, scale or 1, self.dH, self.dW, self.groups)
end

--- The deconvnet's filtering step (lunet.viz): signal (N, outC, H', W') at the output of
-- the last forward -> (N, inC, H, W) at its input, through this layer's filters
-- transposed (the gradient w.r.t. the input) and without the bias. Only for an
-- ungrouped, undilated convolution, the deconvnet's; others raise an error.
-- @tparam Tensor signal (N, outC, H', W')
-- @treturn Tensor the module's projection buffer, which the next call overwrites
-- @usage local back = conv:project(signal)
function Conv2d:project(signal)
  if self.groups ~= 1 or self.dH ~= 1 or self.dW ~= 1 then
    check.fail(2, "Conv2d:project: the deconvnet projects through ungrouped, undilated convolutions only; "
      .. "this one has groups %d, dilation %s", self.groups, pairString(self.dH, self.dW))
  end
  core.conv2d_backward_input(lastInput(self, "Conv2d:project"), signal, self.weight, projection(self),
                             self.workspace, self.sH, self.sW, self.pH, self.pW)
  return self.projection
end

function Conv2d:__tostring()
  local pad = pairString(self.pH, self.pW)
  return ("Conv2d(%d -> %d, %s, stride %s, padding %s%s)"):format(
    self.inC, self.outC, kernelString(self.kH, self.kW), pairString(self.sH, self.sW),
    self.same and ("'same' = " .. pad) or pad, convExtras(self))
end

--- The transposed convolution (PyTorch's ConvTranspose2d), the adjoint of Conv2d: it maps
-- a Conv2d's output shape back to its input shape, upsampling by the stride.
-- `ConvTranspose2d(inC, outC, k, {stride = 1, padding = 0, outputPadding = 0, dilation = 1, groups = 1,
-- bias = true})`: k, stride, padding, outputPadding and dilation are integers or {h, w}
-- pairs; outputPadding (added to one side of the output) must be smaller than the
-- stride or the dilation. weight (inC, outC/groups, kH, kW), bias (outC);
-- input (N, inC, H, W) -> (N, outC, H', W'), H' = (H-1)sH - 2pH + dH(kH-1) + opH + 1.
-- Its forward is the conv2d kernels' gradient w.r.t. the input, and its gradient
-- w.r.t. the input their forward.
-- @function ConvTranspose2d
-- @tparam integer inC input channels
-- @tparam integer outC output channels
-- @tparam integer|table k kernel size, or {kH, kW}
-- @tparam[opt] table opts stride, padding, outputPadding, dilation, groups, bias
-- @usage local up = nn.ConvTranspose2d(16, 8, 3, {stride = 2, padding = 1, outputPadding = 1})  -- doubles H, W
local ConvTranspose2d = module.class("ConvTranspose2d", Module)
layers.ConvTranspose2d = ConvTranspose2d

function ConvTranspose2d:__init(inC, outC, k, opts)
  Module.__init(self)
  opts = convOptions(self, "ConvTranspose2d", 2, inC, outC, k, opts,
    { "bias", "dilation", "groups", "outputPadding", "padding", "stride" }, false)
  self.opH, self.opW = pair(opts.outputPadding or 0, "ConvTranspose2d", "outputPadding")
  if self.opH < 0 or self.opW < 0 or (self.opH >= self.sH and self.opH >= self.dH)
      or (self.opW >= self.sW and self.opW >= self.dW) then
    check.fail(3, "ConvTranspose2d: outputPadding must be >= 0 and smaller than the stride or the dilation, "
      .. "got %s (stride %s, dilation %s)", pairString(self.opH, self.opW), pairString(self.sH, self.sW),
      pairString(self.dH, self.dW))
  end
  convParameters(self, opts, outC, inC, outC // self.groups, self.kH, self.kW)
end

ConvTranspose2d.bufferNames = { "output", "gradInput", "workspace" }

--- Re-draws weight and bias uniform in +-1/sqrt(fanIn), fanIn = outC/groups*kH*kW (PyTorch's default:
-- the fan of weight's second dimension).
-- @treturn ConvTranspose2d self
-- @usage up:reset()
function ConvTranspose2d:reset()
  return resetUniform(self, self.outC // self.groups * self.kH * self.kW)
end

-- The kernels' trailing arguments: stride, padding, output padding, dilation, groups
-- (and the gradients' scale, when given).
local function transposedArgs(m, scale)
  return m.sH, m.sW, m.pH, m.pW, m.opH, m.opW, m.dH, m.dW, m.groups, scale
end

--- Forward: sets and returns self.output (N, outC, H', W').
-- @tparam Tensor input (N, inC, H, W), float, contiguous
-- @treturn Tensor self.output
-- @usage local y = up:forward(x)
function ConvTranspose2d:updateOutput(input)
  check.tensor("ConvTranspose2d", "input", input)
  core.conv_transpose2d_forward(input, self.weight, self.bias, self:writable("output", input), self.workspace,
                                transposedArgs(self))
  return self.output
end

--- The gradient with respect to the input: sets and returns self.gradInput (N, inC, H, W).
-- @tparam Tensor input the forward's input
-- @tparam Tensor gradOutput (N, outC, H', W')
-- @treturn Tensor self.gradInput
-- @usage local gx = up:updateGradInput(x, gy)
function ConvTranspose2d:updateGradInput(input, gradOutput)
  core.conv_transpose2d_backward_input(input, gradOutput, self.weight, self:writable("gradInput", gradOutput),
                                       self.workspace, transposedArgs(self))
  return self.gradInput
end

--- Adds scale times the parameter gradients into gradWeight and gradBias.
-- @tparam Tensor input the forward's input
-- @tparam Tensor gradOutput (N, outC, H', W')
-- @tparam[opt=1] number scale
-- @usage up:accGradParameters(x, gy)
function ConvTranspose2d:accGradParameters(input, gradOutput, scale)
  core.conv_transpose2d_backward_params(input, gradOutput, self.gradWeight, self.gradBias, self.workspace,
                                        transposedArgs(self, scale or 1))
end

function ConvTranspose2d:__tostring()
  return ("ConvTranspose2d(%d -> %d, %s, stride %s, padding %s%s)"):format(self.inC, self.outC,
    kernelString(self.kH, self.kW), pairString(self.sH, self.sW), pairString(self.pH, self.pW), convExtras(self))
end

--- A 1-D convolution over a batch of sequences (PyTorch's Conv1d), computed by the
-- conv2d kernels as a convolution of height 1.
-- `Conv1d(inC, outC, k, {stride = 1, padding = 0 | 'same', dilation = 1, groups = 1, bias = true})`,
-- all integers; the options mean what they mean for Conv2d. weight (outC, inC/groups, k),
-- bias (outC); input (N, inC, L) -> (N, outC, L'), L' = floor((L + 2p - d(k-1) - 1)/s) + 1.
-- @function Conv1d
-- @tparam integer inC input channels
-- @tparam integer outC output channels
-- @tparam integer k kernel size
-- @tparam[opt] table opts stride, padding, dilation, groups, bias
-- @usage local conv = nn.Conv1d(16, 32, 3, {dilation = 2, padding = 'same'})
local Conv1d = module.class("Conv1d", Module)
layers.Conv1d = Conv1d

function Conv1d:__init(inC, outC, k, opts)
  Module.__init(self)
  opts = convOptions(self, "Conv1d", 1, inC, outC, k, opts, { "bias", "dilation", "groups", "padding", "stride" },
    true)
  self.output4, self.gradInput4 = lunet.zeros(0), lunet.zeros(0)
  convParameters(self, opts, outC, outC, inC // self.groups, self.kW)
end

-- output4 and gradInput4 are what the kernels write, (N, C, 1, L); output and gradInput
-- are (N, C, L) views of them.
Conv1d.bufferNames = { "output", "gradInput", "output4", "gradInput4", "workspace" }

--- Re-draws weight and bias uniform in +-1/sqrt(fanIn), fanIn = inC/groups*k.
-- @treturn Conv1d self
-- @usage conv:reset()
function Conv1d:reset()
  return resetUniform(self, self.inC // self.groups * self.kW)
end

-- (N, C, L) -> (N, C, 1, L): a view of a contiguous tensor (a copy otherwise).
local function asImages(x)
  return x:reshape(x:size(1), x:size(2), 1, x:size(3))
end

-- The (N, C, 1, L) result of a kernel as the module's (N, C, L) field.
local function asSequences(m, field, t)
  m[field] = t:view(t:size(1), t:size(2), t:size(4))
  return m[field]
end

-- The input's checks in the module's terms: (N, inC, L) with room for the dilated kernel.
local function checkSequences(m, input)
  check.tensor("Conv1d", "input", input, { rank = 3, layout = "(N,C,L)" }, 3)
  if input:size(2) ~= m.inC then
    check.fail(3, "Conv1d: input has %d channels, expected %d", input:size(2), m.inC)
  end
  local span = m.dW * (m.kW - 1) + 1
  if input:size(3) + 2 * m.pW < span then
    check.fail(3, "Conv1d: a kernel of %d%s with padding %d does not fit the input length %d", m.kW,
      m.dW ~= 1 and (" dilated %d (spanning %d)"):format(m.dW, span) or "", m.pW, input:size(3))
  end
  return asImages(input)
end

--- Forward: sets and returns self.output (N, outC, L').
-- @tparam Tensor input (N, inC, L), float
-- @treturn Tensor self.output
-- @usage local y = conv:forward(x)
function Conv1d:updateOutput(input)
  local out = core.conv2d_forward(checkSequences(self, input), asImages(self.weight), self.bias,
    self:writable("output4", input), self.workspace, 1, self.sW, 0, self.pW, 1, self.dW, self.groups)
  return asSequences(self, "output", out)
end

--- The gradient with respect to the input: sets and returns self.gradInput (N, inC, L).
-- @tparam Tensor input the forward's input
-- @tparam Tensor gradOutput (N, outC, L')
-- @treturn Tensor self.gradInput
-- @usage local gx = conv:updateGradInput(x, gy)
function Conv1d:updateGradInput(input, gradOutput)
  check.tensor("Conv1d", "gradOutput", gradOutput, { rank = 3, layout = "(N,C,L)" })
  local gx = core.conv2d_backward_input(checkSequences(self, input), asImages(gradOutput), asImages(self.weight),
    self:writable("gradInput4", gradOutput), self.workspace, 1, self.sW, 0, self.pW, 1, self.dW, self.groups)
  return asSequences(self, "gradInput", gx)
end

--- Adds scale times the parameter gradients into gradWeight and gradBias.
-- @tparam Tensor input the forward's input
-- @tparam Tensor gradOutput (N, outC, L')
-- @tparam[opt=1] number scale
-- @usage conv:accGradParameters(x, gy)
function Conv1d:accGradParameters(input, gradOutput, scale)
  check.tensor("Conv1d", "gradOutput", gradOutput, { rank = 3, layout = "(N,C,L)" })
  core.conv2d_backward_params(checkSequences(self, input), asImages(gradOutput), asImages(self.gradWeight),
    self.gradBias, self.workspace, 1, self.sW, 0, self.pW, scale or 1, 1, self.dW, self.groups)
end

function Conv1d:__tostring()
  return ("Conv1d(%d -> %d, %d, stride %d, padding %s%s)"):format(self.inC, self.outC, self.kW, self.sW,
    self.same and ("'same' = " .. self.pW) or tostring(self.pW), convExtras(self))
end

---------------------------------------------------------------------------------
--- 2-D max pooling over kH x kW windows: input (N,C,H,W) -> (N,C,H',W'), H' = floor((H + 2
-- padH - kH) / strideH) + 1, float32 (another dtype raises). The forward records the argmax switches
-- (module.switches, int (N,C,H',W'), 1-based flat indices into each input plane), which the
-- backward routes gradients through and unpool() uses. Also called positionally,
-- MaxPool2d(k, stride, padding). Raises for a kernel or stride below 1, a padding beyond
-- half the kernel, an unknown option, or (forward) an input that is not 4-D.
-- @function MaxPool2d
-- @tparam integer|{int,int} k kernel size, or {kH, kW}
-- @tparam[opt] table opts `stride` (default k) and `padding` (default 0), integers or {h, w} pairs
-- @treturn MaxPool2d
-- @usage local pool = nn.MaxPool2d(2)   -- (N,C,28,28) -> (N,C,14,14)
local MaxPool2d = module.class("MaxPool2d", Module)
layers.MaxPool2d = MaxPool2d

function MaxPool2d:__init(k, stride, padding)
  Module.__init(self)
  -- An options table is a table that is not a {h, w} pair.
  if type(stride) == "table" and stride[1] == nil then
    if padding ~= nil then check.fail(3, "MaxPool2d: give the options table or stride and padding, not both") end
    local opts = check.options("MaxPool2d", stride, {"padding", "stride"}, 3)
    stride, padding = opts.stride, opts.padding
  end
  self.kH, self.kW = pair(k, "MaxPool2d", "kernel size")
  self.sH, self.sW = pair(stride or k, "MaxPool2d", "stride")
  self.pH, self.pW = pair(padding or 0, "MaxPool2d", "padding")
  if self.kH < 1 or self.kW < 1 or self.sH < 1 or self.sW < 1 then
    check.fail(3, "MaxPool2d: kernel and stride must be >= 1")
  end
  if self.pH < 0 or self.pW < 0 or 2 * self.pH > self.kH or 2 * self.pW > self.kW then
    check.fail(3, "MaxPool2d: padding must be between 0 and half the kernel, got %s for kernel %s",
      pairString(self.pH, self.pW), kernelString(self.kH, self.kW))
  end
  self.output = lunet.zeros(0)
  self.switches = lunet.zeros(0, "int")
  self.gradInput = lunet.zeros(0)
end

--- The pooling window: kernel size, stride and padding as {h, w} pairs (what a receptive
-- field is composed from, lunet.viz.receptiveField).
-- @function MaxPool2d:geometry
-- @treturn {int,int} kernel {kH, kW}
-- @treturn {int,int} stride {sH, sW}
-- @treturn {int,int} padding {pH, pW}
-- @usage local k, s, p = nn.MaxPool2d(2):geometry()
MaxPool2d.geometry = geometry
MaxPool2d.bufferNames = {"output", "gradInput", "switches", "projection"}

local function maxpool(self, input, output, switches)
  return core.maxpool2d_forward(input, output, switches, self.kH, self.kW, self.sH, self.sW, self.pH, self.pW)
end

function MaxPool2d:updateOutput(input)
  check.tensor("MaxPool2d", "input", input)
  maxpool(self, input, self:writable("output", input), self.switches)
  return self.output
end

-- The switches are those of the last forward; a backward through an earlier one (the
-- module used twice in a model) finds them again with a forward of its own.
function MaxPool2d:updateGradInput(input, gradOutput)
  local switches = self.switches
  if not rawequal(input, self.input) then
    switches = lunet.zeros(0, "int")
    maxpool(self, input, lunet.zeros(0), switches)
  end
  core.maxpool2d_backward(input, gradOutput, switches, self:writable("gradInput", gradOutput), self.kH, self.kW,
                          self.sH, self.sW, self.pH, self.pW)
  return self.gradInput
end

--- Max unpooling: values shaped like the last output (N,C,H',W'), placed back at the
-- switches of the last forward into a tensor shaped like its input (N,C,H,W), zero
-- elsewhere. Raises when no forward has run, or for values whose shape is not the output's.
-- @tparam Tensor values (N,C,H',W')
-- @tparam[opt] Tensor output where to write (resized; default a new tensor)
-- @treturn Tensor (N,C,H,W)
-- @usage pool:forward(x); local up = pool:unpool(pool.output)
function MaxPool2d:unpool(values, output)
  local input = self.input
  if not lunet.isTensor(input) then
    check.fail(2, "MaxPool2d:unpool: no forward has run yet (the switches come from it)")
  end
  return core.maxunpool2d(values, self.switches, output or lunet.zeros(0),
                          input:size(3), input:size(4))
end

--- The deconvnet's unpooling step (lunet.viz): unpool(signal) into the module's
-- projection buffer, which the next call overwrites. Raises as unpool.
-- @tparam Tensor signal (N,C,H',W'), at the output of the last forward
-- @treturn Tensor (N,C,H,W), at its input
-- @usage local down = pool:project(signal)
function MaxPool2d:project(signal)
  return self:unpool(signal, projection(self))
end

function MaxPool2d:__tostring()
  return ("MaxPool2d(%s, stride %s, padding %s)"):format(kernelString(self.kH, self.kW),
    pairString(self.sH, self.sW), pairString(self.pH, self.pW))
end

---------------------------------------------------------------------------------
--- The rectifier y = max(x, 0), elementwise on a float tensor of any shape (float32 only). Its
-- input, the pre-activation, stays reachable as module.preact.
-- @function ReLU
-- @treturn ReLU
-- @usage local y = nn.ReLU():forward(lunet.randn(4, 10))
local ReLU = module.class("ReLU", Module)
layers.ReLU = ReLU

function ReLU:__init()
  Module.__init(self)
  self.output = lunet.zeros(0)
  self.gradInput = lunet.zeros(0)
end

ReLU.bufferNames = {"output", "gradInput", "projection"}
ReLU.lastCallNames = {"input", "preact"}

function ReLU:updateOutput(input)
  check.tensor("ReLU", "input", input)
  self.preact = input
  core.relu_forward(input, self:writable("output", input))
  return self.output
end

function ReLU:updateGradInput(input, gradOutput)
  core.relu_backward(input, gradOutput, self:writable("gradInput", input, gradOutput))
  return self.gradInput
end

-- How a projection passes a signal g down through the ReLU whose forward input was x:
--   deconvnet  relu(g)                 (Zeiler & Fergus)
--   saliency   g where x > 0           (the gradient, Simonyan et al.)
--   guided     relu(g) where x > 0     (guided backpropagation, Springenberg et al.)
ReLU.projectRules = {
  deconvnet = function(_, g, out) return core.relu_forward(g, out) end,
  saliency = function(x, g, out) return core.relu_backward(x, g, out) end,
  guided = function(x, g, out) return core.relu_backward(x, g, out):relu_() end,
}

--- Take a signal at the output of the last forward to its input by a rule: "deconvnet"
-- relu(signal) (Zeiler & Fergus), "saliency" signal where the input > 0 (the gradient),
-- "guided" both (guided backpropagation). Returns the module's projection buffer, which
-- the next call overwrites. Raises for an unknown rule or when no forward has run.
-- @tparam Tensor signal the output's shape
-- @tparam[opt="deconvnet"] string rule
-- @treturn Tensor the input's shape
-- @usage local down = relu:project(signal, "guided")
function ReLU:project(signal, rule)
  local fn = ReLU.projectRules[rule or "deconvnet"]
  if not fn then
    check.fail(2, "ReLU:project: rule must be \"deconvnet\", \"guided\" or \"saliency\", got %s", tostring(rule))
  end
  return fn(lastInput(self, "ReLU:project"), signal, projection(self))
end

function ReLU:__tostring() return "ReLU" end

---------------------------------------------------------------------------------
--- A fully connected layer, y = x W^T + b: input (N, in) -> (N, out); weight (out, in),
-- bias (out), float32 (a double input raises), initialized uniform in +-1/sqrt(in) (reset). Raises for feature
-- counts that are not positive integers or an unknown option; the forward raises for an
-- input that is not (N, in). For inference its weight can be made bf16 or int8
-- (nn.quantize, weightFormat).
-- @function Linear
-- @tparam integer in input features
-- @tparam integer out output features
-- @tparam[opt] table opts `bias` (default true; false for none)
-- @treturn Linear
-- @usage local fc = nn.Linear(784, 10)
local Linear = module.class("Linear", Module)
layers.Linear = Linear

function Linear:__init(inF, outF, opts)
  Module.__init(self)
  if math.type(inF) ~= "integer" or inF < 1 or math.type(outF) ~= "integer" or outF < 1 then
    check.fail(3, "Linear: feature counts must be positive integers, got %s and %s", tostring(inF), tostring(outF))
  end
  opts = check.options("Linear", opts, {"bias"}, 3)
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

-- A Linear given compact weights (useQuantized) holds them in self.qweight, a
-- lunet.core.QuantWeight, and no float32 weight nor gradients: what would train it
-- raises, naming the method.
local function inferenceOnly(self, what)
  if self.qweight then
    check.fail(3, "Linear:%s: this layer is quantized for inference (%s weights, nn.quantize) and cannot be "
      .. "trained; keep a float32 copy of the model to train", what, self.qweight:format())
  end
end

--- Initialize weight and bias again, uniform in +-1/sqrt(in) (Torch7's default), from
-- lunet's generator. Raises for a quantized layer (nn.quantize).
-- @treturn Linear self
-- @usage lunet.manualSeed(1); fc:reset()
function Linear:reset()
  inferenceOnly(self, "reset")
  return resetUniform(self, self.inF)
end

--- The format of the weight: "float32", or "bf16" or "int8" after nn.quantize.
-- @treturn string "float32", "bf16" or "int8"
-- @usage print(nn.quantize(nn.Linear(4, 2), "int8"):weightFormat()) -- int8
function Linear:weightFormat()
  return self.qweight and self.qweight:format() or "float32"
end

--- Use compact weights for inference (what nn.quantize and lunet.load do): qweight, a
-- lunet.core.QuantWeight of (out, in) from lunet.core.quantize_weight, replaces the float32
-- weight, which is dropped with the gradients (the memory is the point). The bias stays
-- float32. From then on the forward runs in evaluation mode only, and backward, parameters,
-- zeroGrad and reset raise. Raises for a value that is not a QuantWeight or one of other sizes.
-- @tparam QuantWeight qweight the compact weights
-- @treturn Linear self
-- @usage fc:useQuantized(lunet.core.quantize_weight(fc.weight, "bf16"))
function Linear:useQuantized(qweight)
  local mt = getmetatable(qweight)
  if type(mt) ~= "table" or mt.__index ~= core.QuantWeight then
    check.fail(2, "Linear:useQuantized: argument #1 must be a QuantWeight (lunet.core.quantize_weight), got %s",
      type(qweight))
  end
  local out, inF = qweight:size()
  if out ~= self.outF or inF ~= self.inF then
    check.fail(2, "Linear:useQuantized: the layer is %d -> %d, the weights are (%d,%d)", self.inF, self.outF, out, inF)
  end
  self.qweight = qweight
  self.weight, self.gradWeight, self.gradBias = nil, nil, nil
  return self
end

function Linear:updateOutput(input)
  check.tensor("Linear", "input", input)
  if self.qweight then
    if self.training then
      check.fail(2, "Linear:forward: this layer is quantized for inference (%s weights, nn.quantize) and runs in "
        .. "evaluation mode only (call model:evaluate())", self.qweight:format())
    end
    core.qlinear_forward(input, self.qweight, self.bias, self:writable("output", input))
  else
    core.linear_forward(input, self.weight, self.bias, self:writable("output", input))
  end
  return self.output
end

function Linear:updateGradInput(input, gradOutput)
  inferenceOnly(self, "backward")
  core.linear_backward_input(gradOutput, self.weight, self:writable("gradInput", gradOutput))
  return self.gradInput
end

function Linear:accGradParameters(input, gradOutput, scale)
  inferenceOnly(self, "backward")
  core.linear_backward_params(input, gradOutput, self.gradWeight, self.gradBias, scale or 1)
end

function Linear:parameters()
  inferenceOnly(self, "parameters")
  return Module.parameters(self)
end

function Linear:parameterSlots(prefix, slots)
  inferenceOnly(self, "parameterSlots")
  return Module.parameterSlots(self, prefix, slots)
end

function Linear:zeroGrad()
  inferenceOnly(self, "zeroGrad")
  return Module.zeroGrad(self)
end

function Linear:numParameters()
  return self.qweight and self.inF * self.outF + (self.bias and self.outF or 0) or Module.numParameters(self)
end

function Linear:__tostring()
  return ("Linear(%d -> %d%s%s)"):format(self.inF, self.outF, self.bias and "" or ", no bias",
    self.qweight and ", " .. self.qweight:format() .. " weights" or "")
end

---------------------------------------------------------------------------------
--- Inverted dropout: in training, y = x * mask / keep, the mask drawn from lunet's
-- generator (lunet.manualSeed reproduces it) and kept as module.mask; in evaluation, y = x
-- (the input itself). Any shape, float32. Dropout(p) takes p the probability of
-- DROPPING a unit (as PyTorch), Dropout{keep = k} the probability of keeping it (as
-- TensorFlow's keep_prob); module.p and module.keep hold both views. Raises for p outside
-- [0, 1), keep outside (0, 1], or both given.
-- @function Dropout
-- @tparam[opt=0.5] number|table p drop probability, or `{p = ...}` / `{keep = ...}`
-- @treturn Dropout
-- @usage local drop = nn.Dropout{keep = 0.5}
local Dropout = module.class("Dropout", Module)
layers.Dropout = Dropout
Dropout.bufferNames = {"output", "gradInput", "outputBuffer", "gradInputBuffer", "mask"}

function Dropout:__init(p)
  Module.__init(self)
  local keep
  if type(p) == "table" then
    check.options("Dropout", p, {"keep", "p"}, 3)
    if p.keep ~= nil and p.p ~= nil then check.fail(3, "Dropout: give either p or keep, not both") end
    keep = p.keep or (p.p and 1 - p.p)
  elseif p == nil then
    keep = 0.5
  else
    keep = type(p) == "number" and 1 - p or nil
  end
  if type(keep) ~= "number" or not (keep > 0 and keep <= 1) then
    check.fail(3, "Dropout: p (drop probability) must be in [0,1) and keep in (0,1], got %s",
      type(p) == "table" and ("{p=%s, keep=%s}"):format(tostring(p.p), tostring(p.keep)) or tostring(p))
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
  check.tensor("Dropout", "input", input)
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
--- Flatten all but the batch dimension: (N, d2, d3, ...) -> (N, d2*d3*...), a view of a
-- contiguous input (a copy otherwise); any dtype. Raises for a 0-D input, and in the
-- backward for a gradOutput that does not match the output.
-- @function Flatten
-- @treturn Flatten
-- @usage local y = nn.Flatten():forward(lunet.zeros(8, 16, 4, 4))  -- (8, 256)
local Flatten = module.class("Flatten", Module)
layers.Flatten = Flatten

function Flatten:updateOutput(input)
  check.tensor("Flatten", "input", input)
  if input:dim() < 1 then check.fail(2, "Flatten: input must have a batch dimension, got a scalar") end
  -- the size is given, not -1: an empty batch (N = 0) leaves nothing to infer it from
  local features = 1
  for d = 2, input:dim() do features = features * input:size(d) end
  self.output = input:reshape(input:size(1), features)
  return self.output
end

function Flatten:updateGradInput(input, gradOutput)
  check.tensor("Flatten", "gradOutput", gradOutput)
  if gradOutput:numel() ~= input:numel() or gradOutput:size(1) ~= input:size(1) then
    check.fail(2, "Flatten: gradOutput %s does not match the output (%d,%d)", gradOutput:shapeString(),
      input:size(1), input:numel() // math.max(input:size(1), 1))
  end
  self.gradInput = gradOutput:reshape(input:size())
  return self.gradInput
end

function Flatten:__tostring() return "Flatten" end

---------------------------------------------------------------------------------
-- Softmax and LogSoftmax over the second dimension of an (N, K) input.
local function rowwise(name, kernel)
  local cls = module.class(name, Module)
  layers[name] = cls
  local fwd, bwd = core[kernel .. "_forward"], core[kernel .. "_backward"]
  function cls:__init()
    Module.__init(self)
    self.output = lunet.zeros(0)
    self.gradInput = lunet.zeros(0)
  end
  function cls:updateOutput(input)
    check.tensor(name, "input", input)
    fwd(input, self:writable("output", input))
    return self.output
  end
  -- The gradient comes from the output of the forward on this input: the last one's, or
  -- (the module used twice in a model) one computed again.
  function cls:updateGradInput(input, gradOutput)
    local out = rawequal(input, self.input) and self.output or fwd(input, lunet.zeros(0))
    bwd(out, gradOutput, self:writable("gradInput", out, gradOutput))
    return self.gradInput
  end
  function cls:__tostring() return name end
end

--- Softmax over the second dimension of an (N, K) float input (float32 only: another dtype raises): each row becomes
-- probabilities, exp(x_k) / sum_j exp(x_j) (computed stably). Raises for an input that is
-- not 2-D.
-- @function Softmax
-- @treturn Softmax
-- @usage local p = nn.Softmax():forward(logits)
rowwise("Softmax", "softmax")
--- Log-softmax over the second dimension of an (N, K) float input (float32 only: another dtype raises):
-- x_k - log sum_j exp(x_j), computed stably; the input nn.NLLLoss takes. Raises for an
-- input that is not 2-D.
-- @function LogSoftmax
-- @treturn LogSoftmax
-- @usage local logp = nn.LogSoftmax():forward(logits)
rowwise("LogSoftmax", "logsoftmax")

return layers
