--- lunet.models: model definitions shared by the experiments.
--
--   local models = require "lunet.models"
--   local net = models.lenet5()      -- LeNet-5 as the course defines it, course initialization
local nn = require "lunet.nn"

local models = {}

--- LeNet-5 of the course, for 1×28×28 inputs and 10 classes:
-- conv 5x5 32 'same' → ReLU → max-pool 2 → conv 5x5 64 'same' → ReLU → max-pool 2 →
-- flatten (7·7·64) → fully connected 1024 → ReLU → dropout (keep 0.5) → fully connected 10
-- (logits; nn.CrossEntropyLoss applies the softmax). Weights truncated normal std 0.1,
-- biases 0.1 (the course's initialization). Modules are named as printed by tostring.
function models.lenet5()
  local m = nn.Sequential()
  m:add(nn.Conv2d(1, 32, 5, {padding = "same"}), "conv1")
  m:add(nn.ReLU(), "relu1")
  m:add(nn.MaxPool2d(2, 2), "pool1")
  m:add(nn.Conv2d(32, 64, 5, {padding = "same"}), "conv2")
  m:add(nn.ReLU(), "relu2")
  m:add(nn.MaxPool2d(2, 2), "pool2")
  m:add(nn.Flatten(), "flatten")
  m:add(nn.Linear(7 * 7 * 64, 1024), "fc1")
  m:add(nn.ReLU(), "relu3")
  m:add(nn.Dropout(0.5), "dropout")
  m:add(nn.Linear(1024, 10), "fc2")
  m:init("course")
  return m
end

return models
