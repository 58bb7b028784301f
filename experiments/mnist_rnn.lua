--- Part 3 of the assignment: recurrent networks on MNIST, each image read row by row
-- (28 time steps of 28 pixels); the last hidden state feeds a linear layer to 10 classes.
-- The sweep below (cells × hidden sizes, plus the LeNet-5 CNN of Part 1 on the same data)
-- writes under --out:
--   <run>/metrics.csv, <run>/accuracy.png, <run>/loss.png
--   compare_h<H>_{test_acc,train_acc,test_loss,train_loss}.png   cells at each hidden size
--   compare_<cell>_{test_acc,...}.png                             hidden sizes for each cell
--   compare_cnn_vs_rnn_test_acc.png, summary.md
--   lunet experiments/mnist_rnn.lua [--quick] [--iterations N] [--batch N] [--out DIR] [--data DIR]
-- Under `mpirun -n K lunet experiments/mnist_rnn.lua ...` the runs are dealt round-robin to the
-- K ranks and rank 0 writes the comparisons and the summary.
local lunet = require "lunet"
local nn, optim, data, plot = lunet.nn, lunet.optim, lunet.data, lunet.plot
local metrics, train, cli, dist = lunet.metrics, lunet.train, lunet.cli, lunet.distributed

-- The sweep, as data: edit to run another. kind = "RNN" | "LSTM" | "GRU" | "CNN".
local SWEEP = {}
for _, cell in ipairs{"RNN", "LSTM", "GRU"} do
  for _, hidden in ipairs{32, 64, 128} do SWEEP[#SWEEP + 1] = {kind = cell, hidden = hidden} end
end
SWEEP[#SWEEP + 1] = {kind = "CNN"}

local parser = cli.parser("mnist_rnn", "Part 3: RNN, LSTM and GRU on MNIST read row by row, beside LeNet-5.")
parser:option("--iterations", "Training iterations per run.", "30000"):convert(math.tointeger)
parser:option("--batch", "Minibatch size.", "10"):convert(math.tointeger)
parser:option("--lr", "Adam's learning rate.", "1e-3"):convert(tonumber)
parser:option("--eval-every", "Iterations between evaluations.", "100"):convert(math.tointeger)
parser:option("--eval-subset", "Test images used at the intermediate evaluations (the last uses all).", "1000")
  :convert(math.tointeger)
parser:option("--only", "Run only these kinds, comma-separated (e.g. LSTM,GRU).")
local _, size = dist.start()
local args = cli.parse(parser)
if args.quick then
  args.iterations = math.min(args.iterations, 300)
  args.eval_every = 100
  args.eval_subset = 500
end
local only
if args.only then
  only = {}
  for k in args.only:gmatch("[^,]+") do only[k:upper()] = true end
end

local t0 = lunet.wallclock()
local mnist = lunet.mnist
local seqTrain, seqTest = mnist.load(args.data, {layout = "sequences", split = "train55k"})
local imgTrain, imgTest = mnist.load(args.data, {layout = "images", split = "train55k"})
print(("data: %d training and %d test digits"):format(seqTrain.inputs:size(1), seqTest.inputs:size(1)))

local lenet5 = lunet.models.lenet5 -- the course's LeNet-5 and initialization

local function recurrent(kind, hidden)
  local m = nn.Sequential()
  m:add(nn[kind](28, hidden), kind:lower())
  m:add(nn.LastStep(), "last")
  m:add(nn.Linear(hidden, 10), "fc")
  return m
end

local runs = {}
for _, c in ipairs(SWEEP) do
  if not only or only[c.kind] then runs[#runs + 1] = c end
end
local results = {}
for _, c in ipairs(dist.shard(runs)) do
  local name = c.kind == "CNN" and "cnn_lenet5" or ("%s_h%d"):format(c.kind:lower(), c.hidden)
  -- the previous run's model, collected as in cifar10_lenet.lua
  collectgarbage()
  collectgarbage()
  local dir = data.mkdirs(args.out .. "/" .. name)
  lunet.manualSeed(args.seed)
  local model = c.kind == "CNN" and lenet5() or recurrent(c.kind, c.hidden)
  local trainSet, testSet = seqTrain, seqTest
  if c.kind == "CNN" then trainSet, testSet = imgTrain, imgTest end
  local hist = train.classifier{model = model, criterion = nn.CrossEntropyLoss(),
    optimizer = optim.Adam(model, {lr = args.lr}), loader = data.Loader(trainSet, {batchSize = args.batch}),
    iterations = args.iterations, test = testSet, evalEvery = args.eval_every, evalSubset = args.eval_subset,
    log = dir .. "/metrics.csv", label = name,
    checkpoint = dir .. "/run.ckpt", checkpointEvery = 50 * args.eval_every, resume = args.resume,
    config = {batch = args.batch, seed = args.seed, optimizer = "Adam", lr = args.lr, kind = c.kind,
      hidden = c.hidden or 0},
    command = cli.command()}
  local r = {name = name, kind = c.kind, hidden = c.hidden, hist = hist, params = model:numParameters()}
  results[#results + 1] = r
  plot.lines(dir .. "/accuracy.png", {title = "accuracy, " .. name, xlabel = "iteration", ylabel = "accuracy",
    legend = "bottom right", series = {{name = "train (running mean)", x = hist.iter, y = hist.train_acc},
      {name = "test", x = hist.iter, y = hist.test_acc}}})
  plot.lines(dir .. "/loss.png", {title = "loss, " .. name, xlabel = "iteration", ylabel = "cross-entropy",
    logy = true, series = {{name = "train (running mean)", x = hist.iter, y = hist.train_loss},
      {name = "test", x = hist.iter, y = hist.test_loss}}})
  print(("%-12s test accuracy %.4f  %.0f s  %.2f ms/iteration  %d parameters"):format(name,
    hist.final.test_acc, hist.final.seconds, 1000 * hist.final.seconds / args.iterations, r.params))
end
-- Rank 0 collects every rank's runs, in the sweep's order; the other ranks are done.
results = dist.gatherShards(results)
if not results then return end

-- Overlays: the four curves, grouped by hidden size and by cell.
local CURVES = {test_acc = "test accuracy", train_acc = "training accuracy (running mean)",
  test_loss = "test loss", train_loss = "training loss (running mean)"}
local function overlay(file, title, pick)
  for key, label in pairs(CURVES) do
    local series = {}
    for _, r in ipairs(results) do
      if pick(r) then series[#series + 1] = {name = r.name, x = r.hist.iter, y = r.hist[key]} end
    end
    if #series > 1 then
      plot.lines(("%s/%s_%s.png"):format(args.out, file, key), {title = title .. ": " .. label,
        xlabel = "iteration", ylabel = label, logy = key:find("loss") ~= nil, series = series,
        legend = key:find("acc") and "bottom right" or "top right"})
    end
  end
end
for _, h in ipairs{32, 64, 128} do
  overlay("compare_h" .. h, ("cells at %d hidden units"):format(h), function(r) return r.hidden == h end)
end
for _, cell in ipairs{"RNN", "LSTM", "GRU"} do
  overlay("compare_" .. cell:lower(), cell .. " by hidden size", function(r) return r.kind == cell end)
end
overlay("compare_cnn_vs_rnn", "CNN against the 64-unit cells",
  function(r) return r.kind == "CNN" or r.hidden == 64 end)

local rows = {}
for _, r in ipairs(results) do
  local f = r.hist.final
  rows[#rows + 1] = {r.name, r.kind, r.hidden and tostring(r.hidden) or "-", tostring(r.params),
    ("%.4f"):format(f.test_acc), ("%.4f"):format(f.test_loss), ("%.0f"):format(f.seconds),
    ("%.2f"):format(1000 * f.seconds / args.iterations)}
end
local summary = ("# Part 3: recurrent networks on MNIST\n\nAdam lr %g, batch %d, %d iterations, seed %d%s, "
  .. "%d thread(s)%s; training on the first 55,000 training digits, final test accuracy on all 10,000 test digits. "
  .. "Wall time %.0f s.\n\n%s\n"):format(args.lr, args.batch, args.iterations, args.seed,
  args.quick and " (--quick)" or "", lunet.getNumThreads(),
  size > 1 and (" on each of %d MPI ranks, runs dealt round-robin"):format(size) or "", lunet.wallclock() - t0,
  metrics.markdownTable({"run", "cell", "hidden", "parameters", "test accuracy", "test loss", "wall s",
    "ms/iteration"}, rows))
lunet.fileutil.writeAtomic(args.out .. "/summary.md", summary)
print(summary)
