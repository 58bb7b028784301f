--- A short training run for valgrind's memcheck (fuzz/valgrind.sh): every kind of kernel
-- and file format lunet has, a few iterations each, on small synthetic data plus one
-- CIFAR-10 PNG and the MNIST labels when the data folder is there.
local lunet = require "lunet"
local nn, optim, checkpoint = lunet.nn, lunet.optim, lunet.checkpoint

lunet.manualSeed(1)
local crit = nn.CrossEntropyLoss()
local function steps(model, opt, x, y, n)
  local loss
  for _ = 1, n do
    model:zeroGrad()
    local out = model:forward(x)
    loss = crit:forward(out, y)
    model:backward(x, crit:backward(out, y))
    opt:step()
  end
  return loss
end
local y = lunet.tensor{1, 2, 3, 4}:int()

-- LeNet-5 as the assignment defines it, on 4 random 1x28x28 images, with Adam
local cnn = nn.Sequential()
  :add(nn.Conv2d(1, 32, 5, {padding = "same"})):add(nn.ReLU()):add(nn.MaxPool2d(2))
  :add(nn.Conv2d(32, 64, 5, {padding = "same"})):add(nn.ReLU()):add(nn.MaxPool2d(2))
  :add(nn.Flatten()):add(nn.Linear(7 * 7 * 64, 1024)):add(nn.ReLU()):add(nn.Dropout{keep = 0.5})
  :add(nn.Linear(1024, 10))
local adam = optim.Adam(cnn, {lr = 1e-3})
print("cnn loss", steps(cnn, adam, lunet.rand(4, 1, 28, 28), y, 10))
cnn:evaluate()
print("cnn eval", cnn:forward(lunet.rand(4, 1, 28, 28)):argmax(2):totable()[1])

-- the three recurrent cells on 4 sequences of 28 steps of 28 inputs
for _, cell in ipairs{"RNN", "LSTM", "GRU"} do
  local rnn = nn.Sequential():add(nn[cell](28, 16)):add(nn.LastStep()):add(nn.Linear(16, 10))
  print(cell .. " loss", steps(rnn, optim.SGD(rnn, {lr = 0.1, momentum = 0.9}), lunet.randn(4, 28, 28), y, 10))
end

-- a checkpoint written and read back, and the image and IDX readers
local path = os.tmpname()
checkpoint.save(path, {model = cnn, optimizer = adam, iteration = 10, config = {lr = 1e-3}})
print("checkpoint iteration", checkpoint.load(path, cnn, adam).iteration)
os.remove(path)
local data = arg[1] or "../shared/data"
local ok, img = pcall(lunet.image.load, data .. "/CIFAR10/Train/0/Image00000.png")
print("png", ok and table.concat(img:size(), "x") or img)
local ok2, labels = pcall(lunet.loadIDX, data .. "/mnist/t10k-labels-idx1-ubyte.gz", "int")
print("idx", ok2 and labels:size(1) or labels)
