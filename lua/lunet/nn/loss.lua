-- lunet.nn losses: CrossEntropyLoss (log-softmax + negative log-likelihood).
local lunet = require "lunet"
local core = require "lunet.core"
local nn = require "lunet.nn"

-- CrossEntropyLoss(): forward(logits, labels) -> the mean over the batch of
-- -log softmax(logits)[label]; backward(logits, labels) -> d loss / d logits.
-- logits (N, K); labels a 1-D int or float tensor of N class numbers in 1..K.
-- The log-probabilities of the last forward stay reachable as module.logp.
local CrossEntropyLoss = nn.class("CrossEntropyLoss", nn.Criterion)
nn.CrossEntropyLoss = CrossEntropyLoss

function CrossEntropyLoss:__init()
  nn.Criterion.__init(self)
  self.logp = lunet.zeros(0)
  self.gradInput = lunet.zeros(0)
end

function CrossEntropyLoss:updateOutput(logits, labels)
  if not lunet.isTensor(logits) then
    error(("CrossEntropyLoss: logits must be a tensor, got %s"):format(type(logits)), 2)
  end
  if not lunet.isTensor(labels) then
    error(("CrossEntropyLoss: labels must be a tensor of class numbers 1..K, got %s"):format(
      type(labels)), 2)
  end
  self.output = core.crossentropy_forward(logits, labels, self.logp)
  self.logits = logits
  return self.output
end

-- The gradient comes from the log-probabilities of the forward on these same logits.
function CrossEntropyLoss:updateGradInput(logits, labels)
  if self.logits ~= logits then
    error("CrossEntropyLoss:backward: call forward(logits, labels) on the same logits first", 2)
  end
  return core.crossentropy_backward(self.logp, labels, self.gradInput)
end

function CrossEntropyLoss:__tostring() return "CrossEntropyLoss" end
