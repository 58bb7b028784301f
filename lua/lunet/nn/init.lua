--- lunet.nn — neural-network modules in the manner of Torch7's nn, without globals.
--
-- The protocol (every module, including the RNN modules in nn/rnn.lua):
--   module:forward(input)              sets and returns module.output
--   module:backward(input, gradOutput) sets and returns module.gradInput and ADDS the
--                                      parameter gradients into module.grad<Param>
--   module.needInputGrad = false       backward skips the gradient w.r.t. the input
--                                      (returns nil): nothing upstream wants it, as for
--                                      a whole network in training (train.classifier
--                                      sets it); on a Sequential it passes to the first
--                                      child, so LeNet-5's conv1 computes only its
--                                      parameter gradients
--   module:parameters()                two lists: {weights...}, {gradients...}
--   module:zeroGrad()
--   module:clearState()                release the buffers (outputs, gradInputs,
--                                      workspaces: class field `bufferNames`) and the
--                                      references to the last call's tensors
--                                      (`lastCallNames`), keeping the parameters
--   module:train(), module:evaluate()  switch the mode (Dropout drops only in training);
--                                      the mode itself is the field module.training, which
--                                      is why the method is not Torch7's training()
-- A subclass implements updateOutput(input), updateGradInput(input, gradOutput) and,
-- when it has parameters, accGradParameters(input, gradOutput); it names its
-- parameters in the class field `paramNames` (default {"weight", "bias"}), each
-- parameter `p` having its gradient in the field "grad" .. P (gradWeight, gradBias).
-- Containers keep their children in the list `modules`; parameters(), zeroGrad(),
-- train(), evaluate() and apply() recurse through it.
-- Modules reuse their output, gradInput and workspace tensors between calls: once the
-- shapes are known, a training step allocates nothing. A module given its own buffer as
-- input (the same Linear twice in a Sequential) writes a fresh one instead
-- (Module:writable), and a Sequential hands each child the input it had in the forward,
-- so a module used twice computes what two copies of it would.
--
-- Batch-first throughout: images are (N,C,H,W), feature vectors (N,D).
-- Options tables are checked: an unknown key is an error naming it and the known ones.
--
-- How the code is laid out (this file only assembles; no file below requires lunet.nn):
--   nn/module.lua        nn.class, nn.isModule, nn.Module, nn.Criterion, nn.Sequential
--   nn/layers.lua        Conv2d, ConvTranspose2d, Conv1d, MaxPool2d, ReLU, Linear, Dropout, Flatten,
--                        Softmax, LogSoftmax;
--                        the deconvnet steps live beside them (Conv2d:project,
--                        ReLU:project, MaxPool2d:unpool) for lunet.viz
--   nn/norm.lua          BatchNorm1d, BatchNorm2d, LayerNorm, AvgPool2d, AdaptiveAvgPool2d,
--                        Embedding (BatchNorm's running statistics: the modules' `stateNames`)
--   nn/activation.lua    Tanh, Sigmoid, LeakyReLU, ELU, GELU, SiLU, Softplus, Identity
--   nn/containers.lua    Residual, Concat
--   nn/persist.lua       whole models as data: lunet.save/lunet.load of a model, clone()
--   nn/quant.lua         nn.quantize: Linear weights in bf16 or int8 for inference
--   nn/rnn.lua           RNN, LSTM, GRU, SelectTime, LastStep
--   nn/loss.lua          CrossEntropyLoss
--   nn/init_schemes.lua  nn.init: initializers and whole-model schemes
-- Each of layers, rnn and loss returns its classes by name; argument checks come from
-- lunet.check; the arithmetic is lunet.core's kernels.
-- @module lunet.nn
local module = require "lunet.nn.module"

local nn = {
  class = module.class, isModule = module.isModule,
  Module = module.Module, Criterion = module.Criterion, Sequential = module.Sequential,
  init = require "lunet.nn.init_schemes",
}
local FILES = {"lunet.nn.layers", "lunet.nn.norm", "lunet.nn.activation", "lunet.nn.containers", "lunet.nn.loss",
  "lunet.nn.rnn", "lunet.nn.functional", "lunet.nn.quant"}
for _, file in ipairs(FILES) do
  for name, cls in pairs(require(file)) do nn[name] = cls end
end

return nn
