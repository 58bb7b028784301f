-- Unknown options are an error everywhere, naming the option and the known ones: an
-- option spelled as another framework spells it (Torch7's learningRate, PyTorch's
-- groups) must not be silently ignored while the run goes on with the default.
local lunet = require "lunet"
local nn = require "lunet.nn"
local optim = require "lunet.optim"
local data = require "lunet.data"
local train = require "lunet.train"

local function errorOf(f)
  local ok, err = pcall(f)
  assert.is_false(ok, "expected an error")
  return tostring(err)
end

describe("unknown options", function()
  local cases = {
    {"Conv2d padding_mode", function() nn.Conv2d(1, 8, 3, {padding_mode = "reflect"}) end,
      'Conv2d: unknown option "padding_mode" (known: bias, dilation, groups, padding, stride)'},
    {"ConvTranspose2d output_padding (PyTorch's spelling)",
      function() nn.ConvTranspose2d(1, 8, 3, {stride = 2, output_padding = 1}) end,
      'ConvTranspose2d: unknown option "output_padding" (did you mean \'outputPadding\'? known: bias, dilation, '
      .. 'groups, outputPadding, padding, stride)'},
    {"MaxPool2d ceilMode", function() nn.MaxPool2d(2, {ceilMode = true}) end,
      'MaxPool2d: unknown option "ceilMode" (known: padding, stride)'},
    {"Linear", function() nn.Linear(2, 3, {bais = false}) end, 'Linear: unknown option "bais" (known: bias)'},
    {"Dropout", function() nn.Dropout{keepProb = 0.5} end, 'Dropout: unknown option "keepProb" (known: keep, p)'},
    {"GRU projSize", function() nn.GRU(28, 64, {projSize = 32}) end,
      'GRU: unknown option "projSize" (known: layers, bidirectional, dropout, batchFirst)'},
    {"LSTM batch_first (PyTorch's spelling)", function() nn.LSTM(28, 64, {batch_first = true}) end,
      'LSTM: unknown option "batch_first" (known: forgetBias, layers, bidirectional, dropout, batchFirst)'},
    {"CrossEntropyLoss", function() nn.CrossEntropyLoss({weights = lunet.ones(10)}) end,
      'CrossEntropyLoss: unknown option "weights" (known: weight, reduction, ignoreIndex, labelSmoothing)'},
    {"Adam learningRate (Torch7's spelling)", function() optim.Adam(nn.Linear(2, 2), {learningRate = 0.1}) end,
      "Adam: unknown option \"learningRate\" (did you mean 'lr'? known: lr, weightDecay, beta1, beta2, eps)"},
    {"SGD", function() optim.SGD(nn.Linear(2, 2), {lr = 0.1, dampening = 0}) end,
      'SGD: unknown option "dampening" (known: lr, weightDecay, momentum, nesterov)'},
    {"StepLR", function() optim.StepLR(optim.SGD(nn.Linear(2, 2)), {stepSize = 10, gama = 0.5}) end,
      'StepLR: unknown option "gama" (known: stepSize, gamma)'},
    {"Loader", function() data.Loader({images = lunet.zeros(4, 1), labels = lunet.ones(4, "int")}, {batch = 2}) end,
      'Loader: unknown option "batch" (known: batchSize, shuffle, seed, transform)'},
    {"mnist.load", function() require("lunet.mnist").load(nil, {normalize = true}) end,
      'mnist.load: unknown option "normalize" (known: layout, split)'},
    {"train.classifier", function() train.classifier{model = nn.Linear(2, 2), iters = 5} end,
      'train.classifier: unknown option "iters"'},
  }
  for _, c in ipairs(cases) do
    it(c[1], function()
      assert.matches(c[3], errorOf(c[2]), 1, true)
    end)
  end
end)

describe("data.Loader{seed}", function()
  local ds = {images = lunet.arange(1, 101):view(100, 1), labels = lunet.ones(100, "int")}

  local function firstBatches(loader, n)
    local out = {}
    for i = 1, n do out[i] = loader:next():clone():totable() end
    return out
  end

  it("draws the same batches for the same seed, whatever the global generator did", function()
    lunet.manualSeed(1)
    local a = firstBatches(data.Loader(ds, {batchSize = 30, seed = 7}), 7)
    lunet.manualSeed(2)
    lunet.randn(10)
    local b = firstBatches(data.Loader(ds, {batchSize = 30, seed = 7}), 7)
    assert.same(a, b)
    assert.are_not.same(a, firstBatches(data.Loader(ds, {batchSize = 30, seed = 8}), 7))
  end)

  it("leaves lunet's generator where it was", function()
    lunet.manualSeed(3)
    local expected = lunet.rand(3):totable()
    lunet.manualSeed(3)
    firstBatches(data.Loader(ds, {batchSize = 30, seed = 7}), 5)
    assert.same(expected, lunet.rand(3):totable())
  end)

  it("continues from its state as if never interrupted", function()
    local whole = firstBatches(data.Loader(ds, {batchSize = 30, seed = 5}), 8)
    local first = data.Loader(ds, {batchSize = 30, seed = 5})
    firstBatches(first, 4)
    local resumed = data.Loader(ds, {batchSize = 30, seed = 5})
    resumed:loadState(first:state())
    local rest = firstBatches(resumed, 4)
    for i = 1, 4 do assert.same(whole[4 + i], rest[i]) end
  end)

  it("rejects a seed that is not an integer", function()
    assert.matches("Loader: seed must be an integer, got 1.5",
      errorOf(function() data.Loader(ds, {seed = 1.5}) end), 1, true)
  end)
end)

describe("MaxPool2d options", function()
  it("takes the options table as the other layers do, and the positional form", function()
    assert.equal("MaxPool2d(3x3, stride 2, padding 1)", tostring(nn.MaxPool2d(3, {stride = 2, padding = 1})))
    assert.equal("MaxPool2d(3x3, stride 2, padding 1)", tostring(nn.MaxPool2d(3, 2, 1)))
    assert.equal("MaxPool2d(2x2, stride 2, padding 0)", tostring(nn.MaxPool2d(2, {})))
    assert.equal("MaxPool2d(2x2, stride 1x2, padding 0)", tostring(nn.MaxPool2d(2, {1, 2})))
  end)
end)

describe("projections owned by the modules", function()
  it("need a forward first and name an unknown rule", function()
    assert.matches("Conv2d:project: no forward has run yet",
      errorOf(function() nn.Conv2d(1, 1, 3):project(lunet.zeros(1, 1, 2, 2)) end), 1, true)
    local relu = nn.ReLU()
    relu:forward(lunet.randn(2, 3))
    assert.matches('ReLU:project: rule must be "deconvnet", "guided" or "saliency", got backprop',
      errorOf(function() relu:project(lunet.randn(2, 3), "backprop") end), 1, true)
  end)

  it("ReLU:project applies each rule", function()
    local relu = nn.ReLU()
    relu:forward(lunet.tensor{{-1, 2, 3}})
    local g = lunet.tensor{{5, -6, 7}}
    assert.same({{5, 0, 7}}, relu:project(g):totable())
    assert.same({{0, -6, 7}}, relu:project(g, "saliency"):totable())
    assert.same({{0, 0, 7}}, relu:project(g, "guided"):totable())
  end)
end)
