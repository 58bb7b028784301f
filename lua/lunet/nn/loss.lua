-- lunet.nn losses: CrossEntropyLoss (log-softmax + negative log-likelihood).
local lunet = require "lunet"
local core = require "lunet.core"
local check = require "lunet.check"
local module = require "lunet.nn.module"

local loss = {}

-- CrossEntropyLoss(): forward(logits, labels) -> the mean over the batch of
-- -log softmax(logits)[label]; backward(logits, labels) -> d loss / d logits.
-- logits (N, K); labels a 1-D int or float tensor of N class numbers in 1..K.
-- The log-probabilities of the last forward stay reachable as module.logp.
-- It takes no options (no class weights, no label smoothing): passing any is an error.
local CrossEntropyLoss = module.class("CrossEntropyLoss", module.Criterion)
loss.CrossEntropyLoss = CrossEntropyLoss

function CrossEntropyLoss:__init(opts)
  module.Criterion.__init(self)
  check.options("CrossEntropyLoss", opts, {}, 3)
  self.logp = lunet.zeros(0)
  self.gradInput = lunet.zeros(0)
end

function CrossEntropyLoss:updateOutput(logits, labels)
  check.tensor("CrossEntropyLoss", "logits", logits)
  check.tensor("CrossEntropyLoss", "labels", labels, {layout = "of class numbers 1..K"})
  self.output = core.crossentropy_forward(logits, labels, self:writable("logp", logits, labels))
  self.logits = logits
  return self.output
end

-- The gradient comes from the log-probabilities of the forward on these same logits.
function CrossEntropyLoss:updateGradInput(logits, labels)
  if self.logits ~= logits then
    check.fail(2, "CrossEntropyLoss:backward: call forward(logits, labels) on the same logits first")
  end
  return core.crossentropy_backward(self.logp, labels, self:writable("gradInput", self.logp, labels))
end

CrossEntropyLoss.bufferNames = {"logp", "gradInput"}

function CrossEntropyLoss:__tostring() return "CrossEntropyLoss" end

return loss
