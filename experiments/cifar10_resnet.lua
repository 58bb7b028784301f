--- Beyond the handout's search for good hyperparameters: a small residual network on the
-- course's CIFAR-10 subset, against LeNet-5 on the same data.
--
-- The network: a 3x3 stem, then three stages of one residual block each (two 3x3
-- convolutions with batch normalization; the second and third stages halve the size and
-- double the width, their shortcut a strided 1x1 convolution with batch normalization),
-- global average pooling and a linear classifier (He et al. 2016's CIFAR design, shallow).
-- Trained with augmentation (random crops of the 2-pixel-padded image, horizontal flips),
-- AdamW and a cosine schedule with a linear warm-up.
--
-- Writes into --out (default results/cifar10_resnet): metrics.csv, loss.png, accuracy.png,
-- results.csv (this run and, when Part 1's results are found, LeNet-5's best run beside
-- it), model.lunet (the trained model, lunet.load gives it back), summary.md and summary.html.
--   lunet experiments/cifar10_resnet.lua [--quick] [--out DIR] [--data DIR] [--seed N] [--threads N]
--     [--epochs N] [--width N] [--batch N] [--lr X] [--weight-decay X] [--lenet DIR]
local lunet = require "lunet"
local nn, optim, data, train, plot, cli, metrics = lunet.nn, lunet.optim, lunet.data, lunet.train, lunet.plot,
  lunet.cli, lunet.metrics
local fileutil, report = lunet.fileutil, require "lunet.report"
local T = data.transforms

local parser = cli.parser("cifar10_resnet", "A small ResNet with BatchNorm, augmentation, AdamW and a cosine schedule.")
parser:option("--epochs", "Passes over the 10,000 training images.", "15"):convert(math.tointeger)
parser:option("--width", "Channels of the first stage (the others 2x and 4x).", "16"):convert(math.tointeger)
parser:option("--batch", "Minibatch size.", "64"):convert(math.tointeger)
parser:option("--lr", "AdamW's peak learning rate.", "3e-3"):convert(tonumber)
parser:option("--weight-decay", "AdamW's decoupled weight decay.", "0.05"):convert(tonumber)
parser:option("--lenet", "Part 1's output folder, for LeNet-5's row.", "results/cifar10_lenet")
local args = cli.parse(parser)
if args.quick then args.epochs = 1 end

-- conv 3x3 (no bias: the batch normalization's shift takes its place) and BatchNorm2d
local function convBN(cin, cout, k, stride)
  return nn.Sequential()
    :add(nn.Conv2d(cin, cout, k, {stride = stride, padding = (k - 1) // 2, bias = false}))
    :add(nn.BatchNorm2d(cout))
end

local function block(cin, cout, stride)
  local body = nn.Sequential():add(convBN(cin, cout, 3, stride)):add(nn.ReLU()):add(convBN(cout, cout, 3, 1))
  local shortcut = (stride ~= 1 or cin ~= cout) and convBN(cin, cout, 1, stride) or nil
  return nn.Sequential():add(nn.Residual(body, shortcut)):add(nn.ReLU())
end

local function resnet(w)
  return nn.Sequential()
    :add(convBN(1, w, 3, 1), "stem"):add(nn.ReLU())
    :add(block(w, w, 1), "stage1")
    :add(block(w, 2 * w, 2), "stage2")
    :add(block(2 * w, 4 * w, 2), "stage3")
    :add(nn.AdaptiveAvgPool2d(1, 1)):add(nn.Flatten())
    :add(nn.Linear(4 * w, 10), "fc")
end

local t0 = lunet.wallclock()
local trainSet, testSet = data.cifar10(args.data, {cacheDir = args.cache})
-- the training set's mean and standard deviation, for the normalization of both sets
local mean, std = trainSet.images:mean(), trainSet.images:std()
local normalize = T.Normalize({mean}, {std})
-- a Normalize of its own for the test set: a transform's result is its buffer, which the
-- training batches would overwrite
local testNorm = {images = T.Normalize({mean}, {std})(testSet.images), labels = testSet.labels,
  classes = testSet.classes}

local model = resnet(args.width)
model:init("kaiming")
print(model)
local perEpoch = trainSet.images:size(1) // args.batch
local iterations = args.epochs * perEpoch
local loader = data.Loader(trainSet, {batchSize = args.batch, seed = args.seed,
  transform = T.Compose{T.RandomCrop(28, {padding = 2}), T.RandomHorizontalFlip(), normalize}})
local opt = optim.AdamW(model, {lr = args.lr, weightDecay = args.weight_decay})
local warmup = math.min(perEpoch, iterations // 10)
local schedule = optim.CosineAnnealingLR(opt, {tMax = iterations - warmup, warmup = warmup})
local evalEvery = args.quick and perEpoch // 4 or perEpoch
local hist = train.classifier{model = model, criterion = nn.CrossEntropyLoss(), optimizer = opt, loader = loader,
  iterations = iterations, test = testNorm, evalEvery = evalEvery, evalBatch = 100, schedule = schedule,
  log = args.out .. "/metrics.csv", label = "resnet",
  config = {epochs = args.epochs, width = args.width, batch = args.batch, lr = args.lr,
    weightDecay = args.weight_decay, seed = args.seed},
  command = cli.command()}
local seconds = lunet.wallclock() - t0
local acc = hist.final.test_acc
lunet.save(args.out .. "/model.lunet", model:clearState())

plot.lines(args.out .. "/loss.png", {title = "ResNet loss", xlabel = "iteration", ylabel = "cross-entropy",
  logy = true, legend = "outside", series = {
    {name = "training (mean since the last evaluation)", x = hist.iter, y = hist.train_loss},
    {name = "test", x = hist.iter, y = hist.test_loss}}})
plot.lines(args.out .. "/accuracy.png", {title = "ResNet accuracy", xlabel = "iteration", ylabel = "accuracy",
  yrange = {0, 1}, legend = "outside", series = {
    {name = "training (augmented, mean since the last evaluation)", x = hist.iter, y = hist.train_acc},
    {name = "test", x = hist.iter, y = hist.test_acc}}})

-- LeNet-5's best row of Part 1 (the highest test accuracy of its table), when its results are here.
local lenet
local csv = args.lenet .. "/results.csv"
local fh = io.open(csv)
if fh then
  fh:close()
  local cols, header = metrics.readCSV(csv)
  for i = 1, #cols[header[1]] do
    if not lenet or cols.test_acc[i] > lenet.acc then
      local m = cols.momentum[i]
      lenet = {acc = cols.test_acc[i], iterations = cols.iterations[i], optimizer = cols.optimizer[i],
        cfg = {lr = cols.lr[i], momentum = type(m) == "number" and m or nil}, ms = cols.ms_per_iter[i]}
    end
  end
end
local lenetParams = lunet.models.lenet5():numParameters()

local log <close> = metrics.Logger.new(args.out .. "/results.csv",
  {"model", "parameters", "iterations", "batch", "test_acc", "seconds"})
log:write{model = "resnet", parameters = model:numParameters(), iterations = iterations, batch = args.batch,
  test_acc = acc, seconds = seconds}
if lenet then
  log:write{model = "lenet5", parameters = lenetParams, iterations = lenet.iterations, batch = 50,
    test_acc = lenet.acc, seconds = lenet.ms * lenet.iterations / 1000}
end

local rows = {{("ResNet (width %d, 3 stages)"):format(args.width), tostring(model:numParameters()),
  ("%d (%d epochs of %d)"):format(iterations, args.epochs, args.batch), ("%.3f"):format(acc),
  ("%.0f s for the whole script"):format(seconds)}}
if lenet then
  rows[2] = {"LeNet-5, Part 1's best row (" .. report.optimizerLabel(lenet.optimizer, lenet.cfg) .. ")",
    tostring(lenetParams), ("%d of 50"):format(lenet.iterations), ("%.3f"):format(lenet.acc),
    ("%.0f s of training"):format(lenet.ms * lenet.iterations / 1000)}
end
local lines = {
  "# A small ResNet on the CIFAR-10 subset, beside LeNet-5",
  "",
  ("Generated by `%s` in %.0f s on %d thread%s%s."):format(cli.command(), seconds, lunet.getNumThreads(),
    lunet.getNumThreads() == 1 and "" or "s", args.quick and " (`--quick`: one epoch, the numbers mean nothing)" or ""),
  "",
  "The handout's Part 1 asks for a search for good hyperparameters of LeNet-5. This page takes the search one "
    .. "step further, to the architecture: a shallow residual network (He et al., 2016) with batch normalization, "
    .. "trained with data augmentation (random 28x28 crops of the image padded by 2 pixels, horizontal flips), "
    .. "AdamW (decoupled weight decay " .. report.sci(args.weight_decay) .. ") and a cosine learning-rate schedule "
    .. "with a one-epoch linear warm-up to " .. report.sci(args.lr) .. ", on the same 10,000 training and 1,000 test "
    .. "images as LeNet-5.",
  "",
  metrics.markdownTable({"model", "parameters", "iterations (batch)", "test accuracy", "time"}, rows),
  "",
  lenet and "(LeNet-5's time is its run's in Part 1, at batch 50 and at the load of that run; Part 1's page "
    .. "gives its milliseconds per iteration.)\n"
    or ("(LeNet-5's row appears when Part 1's results are in `%s`.)\n"):format(args.lenet),
  "![loss](loss.png)",
  "",
  "![accuracy](accuracy.png)",
  "",
  "**What makes the difference.** LeNet-5 here has most of its parameters in its first fully connected layer and "
    .. "overfits quickly: its training accuracy reaches nearly 1 while the test accuracy stops in the low 0.5s "
    .. "(Part 1's page). The residual network has fewer parameters, shared by convolution over the whole image, "
    .. "batch normalization lets it train fast at a high learning rate, and the augmentation shows it a "
    .. "slightly different image every epoch, so its training accuracy stays below 1 (the curves above) and the "
    .. "gap to the test accuracy stays small. Global average pooling leaves no large dense layer to memorize with.",
  "",
  "The trained model is `model.lunet`: `lunet.load(\"model.lunet\")` gives it back, ready to evaluate "
    .. "(the inputs normalized by the training set's mean " .. ("%.4f"):format(mean) .. " and standard deviation "
    .. ("%.4f"):format(std) .. ").",
  "",
}
fileutil.writeAtomic(args.out .. "/summary.md", table.concat(lines, "\n"))
report.writeHtml(args.out .. "/summary.md")
print(("resnet: test accuracy %.3f after %d iterations, %.0f s"):format(acc, iterations, seconds))
