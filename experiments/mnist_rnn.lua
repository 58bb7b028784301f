--- Part 3 of the assignment: recurrent networks on MNIST, each image read row by row
-- (28 time steps of 28 pixels); the last hidden state feeds a linear layer to 10 classes.
-- The sweep below (cells × hidden sizes; learning rates and optimizers of the 64-unit cells;
-- the LeNet-5 CNN of Part 1 on the same data) writes under --out:
--   <run>/metrics.csv, <run>/accuracy.png, <run>/loss.png
--   compare_h<H>_{test_acc,train_acc,test_loss,train_loss}.png   cells at each hidden size
--   compare_<cell>_{test_acc,train_loss}.png                      hidden sizes for each cell
--   sweep_<cell>_{test_acc,train_loss}.png                        learning rates and optimizers
--   compare_cnn_vs_rnn_time_test_acc.png, compare_cnn_vs_rnn_params.png
--   results.csv (the tables, for the README), summary.md and summary.html (the page answering Part 3)
--   lunet experiments/mnist_rnn.lua [--quick] [--iterations N] [--batch N] [--out DIR] [--data DIR]
-- Under `mpirun -n K lunet experiments/mnist_rnn.lua ...` the runs are dealt to the K ranks by
-- their expected length and rank 0 writes the comparisons and the summary.
local lunet = require "lunet"
local nn, optim, data, plot = lunet.nn, lunet.optim, lunet.data, lunet.plot
local metrics, train, cli, dist = lunet.metrics, lunet.train, lunet.cli, lunet.distributed
local report = require "lunet.report"

-- The sweep, as data: edit to run another. kind = "RNN" | "LSTM" | "GRU" | "CNN"; group: the
-- question a run answers. The hidden-size runs use Adam at --lr for --iterations (the report's
-- setup); the learning-rate and optimizer runs of the 64-unit cells, a third of that (`length`),
-- and are compared with the hidden-size runs read at the same iteration. The iterations
-- question is answered by reading the hidden-size runs' curves: with no schedule nothing in a
-- run depends on its total length.
local SWEEP = {}
for _, cell in ipairs{"RNN", "LSTM", "GRU"} do
  for _, hidden in ipairs{32, 64, 128} do
    SWEEP[#SWEEP + 1] = {group = "hidden", kind = cell, hidden = hidden, optimizer = "Adam", lrScale = 1, length = 1}
  end
end
for _, cell in ipairs{"RNN", "LSTM", "GRU"} do
  for _, o in ipairs{{"Adam", 0.1}, {"Adam", 10}, {"RMSProp", 1}, {"SGD", 10, 0.9}} do
    SWEEP[#SWEEP + 1] = {group = "optimizer", kind = cell, hidden = 64, optimizer = o[1], lrScale = o[2],
      momentum = o[3], length = 1 / 3}
  end
end
SWEEP[#SWEEP + 1] = {group = "cnn", kind = "CNN", optimizer = "Adam", lrScale = 1, length = 1}

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

-- A run's length: its share of --iterations, on an evaluation point.
local function lengthOf(c)
  return math.max(args.eval_every, math.floor(args.iterations * c.length) // args.eval_every * args.eval_every)
end
local function lrOf(c) return args.lr * c.lrScale end
local function modelLabel(c)
  return c.kind == "CNN" and "LeNet-5 CNN" or ("%s, %d units"):format(c.kind, c.hidden)
end
local function optimizerLabel(c)
  return report.optimizerLabel(c.optimizer, {lr = lrOf(c), momentum = c.momentum})
end
local function runName(c)
  if c.kind == "CNN" then return "cnn_lenet5" end
  local name = ("%s_h%d"):format(c.kind:lower(), c.hidden)
  if c.group == "hidden" then return name end
  return ("%s_%s%s_lr%g"):format(name, c.optimizer:lower(), c.momentum and ("_m%g"):format(c.momentum) or "", lrOf(c))
end

local runs = {}
for _, c in ipairs(SWEEP) do
  if not only or only[c.kind] then runs[#runs + 1] = c end
end
-- A run's expected seconds on one core, by which dist.shard deals the runs to mpirun's
-- ranks so that they end together: its iterations times a training step's FLOPs (about
-- 3x the forward's) at the rates these kernels reach, LeNet-5's large products about
-- 40 GFLOP/s and a recurrent cell's small ones 17 plus 0.2 ms of overhead per step.
local GATES = {RNN = 1, LSTM = 4, GRU = 3}
local function expectedSeconds(c)
  if c.kind == "CNN" then return lengthOf(c) * 3 * 27.8e6 * args.batch / 40e9 end
  local flops = 3 * 28 * 2 * args.batch * GATES[c.kind] * c.hidden * (28 + c.hidden)
  return lengthOf(c) * (flops / 17e9 + 2e-4)
end

local results = {}
local mine, mineAt = dist.shard(runs, expectedSeconds)
for _, c in ipairs(mine) do
  local name, iterations, lr = runName(c), lengthOf(c), lrOf(c)
  local title = ("%s, %s"):format(modelLabel(c), optimizerLabel(c))
  -- the previous run's model, collected as in cifar10_lenet.lua
  collectgarbage()
  collectgarbage()
  local dir = data.mkdirs(args.out .. "/" .. name)
  lunet.manualSeed(args.seed)
  local model = c.kind == "CNN" and lenet5() or recurrent(c.kind, c.hidden)
  local trainSet, testSet = seqTrain, seqTest
  if c.kind == "CNN" then trainSet, testSet = imgTrain, imgTest end
  local hist = train.classifier{model = model, criterion = nn.CrossEntropyLoss(),
    optimizer = optim[c.optimizer](model, {lr = lr, momentum = c.momentum}),
    loader = data.Loader(trainSet, {batchSize = args.batch}),
    iterations = iterations, test = testSet, evalEvery = args.eval_every, evalSubset = args.eval_subset,
    log = dir .. "/metrics.csv", label = name,
    checkpoint = dir .. "/run.ckpt", checkpointEvery = 50 * args.eval_every, resume = args.resume,
    config = {batch = args.batch, seed = args.seed, optimizer = c.optimizer, lr = lr, momentum = c.momentum,
      kind = c.kind, hidden = c.hidden or 0},
    command = cli.command()}
  local r = {name = name, config = c, kind = c.kind, hidden = c.hidden, hist = hist, params = model:numParameters(),
    iterations = iterations, msPerIter = 1000 * hist.final.seconds / iterations}
  results[#results + 1] = r
  local trainName = ("training (mean of the last %d minibatches)"):format(args.eval_every)
  local testName = ("test (%d digits; the last point all %d)"):format(args.eval_subset, testSet.labels:size(1))
  plot.lines(dir .. "/accuracy.png", {title = "accuracy, " .. title, xlabel = "iteration", ylabel = "accuracy",
    legend = "outside", width = 900, series = {{name = trainName, x = hist.iter, y = hist.train_acc},
      {name = testName, x = hist.iter, y = hist.test_acc}}})
  plot.lines(dir .. "/loss.png", {title = "loss, " .. title, xlabel = "iteration", ylabel = "cross-entropy",
    logy = true, legend = "outside", width = 900, series = {{name = trainName, x = hist.iter, y = hist.train_loss},
      {name = testName, x = hist.iter, y = hist.test_loss}}})
  print(("%-28s test accuracy %.4f  %.0f s  %.2f ms/iteration  %d parameters"):format(name,
    hist.final.test_acc, hist.final.seconds, r.msPerIter, r.params))
end
-- Rank 0 collects every rank's runs, in the sweep's order; the other ranks are done.
results = dist.gatherShards(results, 0, mineAt)
if not results then return end

-- A run's curves at iteration `it`, an evaluation point.
local function at(r, it)
  for i, v in ipairs(r.hist.iter) do
    if v == it then
      return {test_acc = r.hist.test_acc[i], test_loss = r.hist.test_loss[i], train_acc = r.hist.train_acc[i],
        seconds = r.hist.seconds[i]}
    end
  end
end
local function find(pick)
  for _, r in ipairs(results) do if pick(r) then return r end end
end
local function mainRun(kind, hidden)
  return find(function(r) return r.config.group ~= "optimizer" and r.kind == kind and r.hidden == hidden end)
end

-- Figures: the four curves of a group of runs, each named in words.
local CURVES = {{"test_acc", "test accuracy"}, {"train_acc", "training accuracy (mean of the last %d minibatches)"},
  {"test_loss", "test loss"}, {"train_loss", "training loss (mean of the last %d minibatches)"}}
local function overlay(file, title, pick, name, keys, extra)
  local series = {}
  for _, r in ipairs(results) do
    if pick(r) then series[#series + 1] = {name = name(r), x = r.hist[extra and extra.x or "iter"], y = nil, run = r} end
  end
  if #series < 2 then return nil end
  local files = {}
  for _, cv in ipairs(CURVES) do
    if not keys or keys[cv[1]] then
      local list = {}
      for k, sr in ipairs(series) do list[k] = {name = sr.name, x = sr.x, y = sr.run.hist[cv[1]]} end
      local label = cv[2]:format(args.eval_every)
      local f = ("%s_%s.png"):format(file, cv[1])
      plot.lines(args.out .. "/" .. f, {title = title .. ": " .. label, xlabel = extra and extra.xlabel or "iteration",
        ylabel = label, logy = cv[1]:find("loss") ~= nil, logx = extra and extra.logx, series = list,
        legend = "outside", width = 900, xrange = extra and extra.xrange,
        yrange = cv[1]:find("acc") and not (extra and extra.zoom) and {0, 1} or nil})
      files[#files + 1] = f
    end
  end
  return files
end
local isMain = function(r) return r.config.group == "hidden" end
local cellName = function(r) return modelLabel(r.config) end
local figures = {}
for _, h in ipairs{32, 64, 128} do
  figures["h" .. h] = overlay("compare_h" .. h, ("the three cells at %d hidden units, Adam"):format(h),
    function(r) return isMain(r) and r.hidden == h end, cellName)
end
for _, cell in ipairs{"RNN", "LSTM", "GRU"} do
  figures[cell] = overlay("compare_" .. cell:lower(), cell .. " by hidden size, Adam",
    function(r) return isMain(r) and r.kind == cell end, cellName, {test_acc = true, train_loss = true})
  local sweepLength = 0
  for _, r in ipairs(results) do
    if r.config.group == "optimizer" then sweepLength = math.max(sweepLength, r.iterations) end
  end
  figures["sweep" .. cell] = overlay("sweep_" .. cell:lower(), cell .. ", 64 units: learning rates and optimizers",
    function(r) return r.kind == cell and r.hidden == 64 end, function(r) return optimizerLabel(r.config) end,
    {test_acc = true, train_loss = true}, {xrange = {0, sweepLength}})
end
figures.cnnTime = overlay("compare_cnn_vs_rnn_time", "test accuracy against wall time, Adam",
  function(r) return r.config.group == "cnn" or isMain(r) and r.hidden ~= 32 end, cellName, {test_acc = true},
  {x = "seconds", xlabel = "wall time since the run's start (s)", logx = true})

-- Final test accuracy against the number of parameters: one line per kind of model.
do
  local series = {}
  for _, kind in ipairs{"RNN", "LSTM", "GRU", "CNN"} do
    local x, y = {}, {}
    for _, r in ipairs(results) do
      if r.kind == kind and (isMain(r) or r.config.group == "cnn") then
        x[#x + 1], y[#y + 1] = r.params, r.hist.final.test_acc
      end
    end
    if #x > 0 then
      series[#series + 1] = {name = kind == "CNN" and "LeNet-5 CNN" or kind .. " (32, 64, 128 units)", x = x, y = y,
        style = "linespoints"}
    end
  end
  plot.lines(args.out .. "/compare_cnn_vs_rnn_params.png", {title = "final test accuracy against the number of parameters",
    xlabel = "parameters (log scale)", ylabel = "test accuracy (all test digits)", logx = true, legend = "outside",
    width = 900, series = series})
end

------------------------------------------------------------------------ tables
local function f4(x) return x and ("%.4f"):format(x) or "-" end
local CELLS = {"RNN", "LSTM", "GRU"}
local testDigits = seqTest.labels:size(1)
local sweepRuns = {}
for _, r in ipairs(results) do if r.config.group == "optimizer" then sweepRuns[#sweepRuns + 1] = r end end
local sweepLength = sweepRuns[1] and sweepRuns[1].iterations

-- results.csv: every run's final numbers, and the hidden-size runs read at the sweep's length,
-- for the README (experiments/readme_tables.lua).
do
  local log <close> = metrics.Logger.new(args.out .. "/results.csv", {"group", "model", "cell", "hidden",
    "optimizer", "lr", "iterations", "parameters", "test_acc", "test_digits", "seconds", "ms_per_iter"})
  local function row(r, group, it)
    local p = at(r, it)
    log:write{group = group, model = modelLabel(r.config), cell = r.kind, hidden = r.hidden or 0,
      optimizer = optimizerLabel(r.config), lr = lrOf(r.config), iterations = it, parameters = r.params,
      test_acc = f4(p.test_acc), test_digits = it == r.iterations and testDigits or args.eval_subset,
      seconds = ("%.0f"):format(p.seconds), ms_per_iter = ("%.2f"):format(r.msPerIter)}
  end
  for _, r in ipairs(results) do row(r, r.config.group, r.iterations) end
  if sweepLength then
    for _, r in ipairs(results) do
      if isMain(r) and r.hidden == 64 and at(r, sweepLength) then row(r, "optimizer", sweepLength) end
    end
  end
end

local page = {}
local function add(fmt, ...) page[#page + 1] = select("#", ...) > 0 and fmt:format(...) or fmt end
local function embed(files, what)
  for _, f in ipairs(files or {}) do add("![%s](%s)\n", what, f) end
end
add("# Part 3: recurrent networks on MNIST\n")
add("Each 28×28 digit is read as a sequence of 28 rows of 28 pixels; the last hidden state feeds a linear layer to "
  .. "10 classes, with softmax cross-entropy. The report's setup: Adam at lr %s, minibatches of %d, %d iterations%s. "
  .. "Training on the first 55,000 training digits; the test accuracy of every evaluation (each %d iterations) is on "
  .. "%d test digits, the final one on all %d. Seed %d, %d thread(s)%s; wall time %.0f s. One run per setting: "
  .. "the final accuracies on %d digits carry a sampling error of about ±%.4f (one standard error at 0.98).\n",
  report.sci(args.lr), args.batch, args.iterations, args.quick and " (`--quick`: 300 iterations)" or "",
  args.eval_every, args.eval_subset, testDigits, args.seed, lunet.getNumThreads(),
  size > 1 and (" on each of %d MPI ranks, runs dealt by length"):format(size) or "", lunet.wallclock() - t0,
  testDigits, math.sqrt(0.98 * 0.02 / testDigits))

add("## 3(a) Hidden units, learning rate, iterations and optimizer\n")
add("*The handout: vary the number of hidden units, the learning rate, the number of iterations and the "
  .. "optimizer, and compare.*\n")
add("**Hidden units.** Final test accuracy after %d iterations of Adam at %s (parameters in brackets):\n",
  args.iterations, report.sci(args.lr))
local grid = {}
for _, h in ipairs{32, 64, 128} do
  local row = {tostring(h)}
  for _, cell in ipairs(CELLS) do
    local r = mainRun(cell, h)
    row[#row + 1] = r and ("%s (%d)"):format(f4(r.hist.final.test_acc), r.params) or "-"
  end
  grid[#grid + 1] = row
end
add(metrics.markdownTable({"hidden units", "RNN", "LSTM", "GRU"}, grid))
embed(figures.RNN and {figures.RNN[1]}, "RNN by hidden size: test accuracy")
embed(figures.LSTM and {figures.LSTM[1]}, "LSTM by hidden size: test accuracy")
embed(figures.GRU and {figures.GRU[1]}, "GRU by hidden size: test accuracy")
local function spreadOf(cell)
  local lo, hi, loH, hiH = math.huge, -math.huge, nil, nil
  for _, h in ipairs{32, 64, 128} do
    local r = mainRun(cell, h)
    if r then
      local a = r.hist.final.test_acc
      if a < lo then lo, loH = a, h end
      if a > hi then hi, hiH = a, h end
    end
  end
  return lo, hi, loH, hiH
end
local words = {}
for _, cell in ipairs(CELLS) do
  local lo, hi, loH, hiH = spreadOf(cell)
  if loH then
    words[#words + 1] = ("the %s ranges over %s (%d units) to %s (%d units)"):format(cell, f4(lo), loH, f4(hi), hiH)
  end
end
local function gain(cell)
  local a, b = mainRun(cell, 64), mainRun(cell, 128)
  return a and b and b.hist.final.test_acc - a.hist.final.test_acc
end
local gains = {}
for _, cell in ipairs(CELLS) do
  if gain(cell) then gains[#gains + 1] = ("%s %+.4f"):format(cell, gain(cell)) end
end
add("Across hidden sizes %s. From 64 to 128 units: %s; a change within about ±0.003 (twice the sampling error) is "
  .. "not a difference. More units cost time: see the ms/iteration of each run in 3(c) and in its folder.\n",
  table.concat(words, "; "), table.concat(gains, ", "))

if sweepLength then
  add("**Learning rate and optimizer** (64 units, %d iterations, a third of the main runs, enough to separate the "
    .. "settings). The Adam lr %s row is read off the hidden-size runs at iteration %d (its accuracy there on %d "
    .. "test digits, marked †); the others are the final accuracies on all %d:\n", sweepLength, report.sci(args.lr),
    sweepLength, args.eval_subset, testDigits)
  local settings, seenS = {}, {}
  for _, r in ipairs(sweepRuns) do
    local key = optimizerLabel(r.config)
    if not seenS[key] then
      seenS[key] = true
      settings[#settings + 1] = r.config
    end
  end
  table.insert(settings, 2, {optimizer = "Adam", lrScale = 1})
  local tbl = {}
  for _, s in ipairs(settings) do
    local label = optimizerLabel(s)
    local row = {label}
    for _, cell in ipairs(CELLS) do
      local r = s.group and find(function(x) return x.kind == cell and x.config.group == "optimizer"
        and optimizerLabel(x.config) == label end)
      if r then
        row[#row + 1] = f4(r.hist.final.test_acc)
      else
        local m = mainRun(cell, 64)
        local p = m and at(m, sweepLength)
        row[#row + 1] = p and f4(p.test_acc) .. (sweepLength == m.iterations and "" or " †") or "-"
      end
    end
    tbl[#tbl + 1] = row
  end
  add(metrics.markdownTable({"optimizer", "RNN, 64 units", "LSTM, 64 units", "GRU, 64 units"}, tbl))
  for _, cell in ipairs(CELLS) do embed(figures["sweep" .. cell], cell .. ", 64 units: learning rates and optimizers") end
  -- each setting against the default, cell by cell, in the table's numbers
  local rowOf = {}
  for _, row in ipairs(tbl) do rowOf[row[1]] = row end
  local default = rowOf[optimizerLabel{optimizer = "Adam", lrScale = 1}]
  local function versus(setting, what, why)
    local row, parts = rowOf[optimizerLabel(setting)], {}
    if not row then return "" end
    for j, cell in ipairs(CELLS) do
      local x, d = tonumber((row[j + 1]:gsub(" †", ""))), tonumber((default[j + 1]:gsub(" †", "")))
      if x and d then parts[#parts + 1] = ("%s %+.3f"):format(cell, x - d) end
    end
    return ("%s against Adam at %s: %s (%s)."):format(what, report.sci(args.lr), table.concat(parts, ", "), why)
  end
  add("%s %s %s %s\n", versus({optimizer = "Adam", lrScale = 10}, "Adam at " .. report.sci(10 * args.lr), "a step 10 times larger; the vanilla RNN "
    .. "repeats its recurrent weights 28 times, so a large change to them is amplified along the sequence"),
    versus({optimizer = "Adam", lrScale = 0.1}, "Adam at " .. report.sci(args.lr / 10), "a step 10 times smaller: slower progress in the same number "
    .. "of iterations"),
    versus({optimizer = "RMSProp", lrScale = 1}, "RMSProp at " .. report.sci(args.lr), "also divides each gradient by the root of its running mean "
    .. "square, without Adam's momentum and bias correction"),
    versus({optimizer = "SGD", lrScale = 10, momentum = 0.9}, "SGD with momentum 0.9 at " .. report.sci(10 * args.lr), "no per-weight scaling: the vanilla RNN's "
    .. "gradient from the first rows, shrunk through 28 tanh steps, is left as small as it is"))
end

-- The iterations question: the main 64-unit runs read at a few points of their curves.
local points, seenP = {}, {}
for _, frac in ipairs{1 / 30, 1 / 10, 1 / 3, 1} do
  local it = lengthOf{length = frac}
  if not seenP[it] then
    seenP[it] = true
    points[#points + 1] = it
  end
end
local itRows = {}
for _, cell in ipairs(CELLS) do
  local r = mainRun(cell, 64)
  if r then
    local row = {modelLabel(r.config)}
    for _, it in ipairs(points) do row[#row + 1] = f4((at(r, it) or {}).test_acc) end
    itRows[#itRows + 1] = row
  end
end
local itHeader = {"model"}
for _, it in ipairs(points) do itHeader[#itHeader + 1] = ("%d iterations"):format(it) end
add("**Iterations.** Adam has no schedule here, so nothing in a run depends on its total length: the accuracy after "
  .. "fewer iterations is read off the %d-iteration runs' curves (on %d test digits, the last column on all %d), "
  .. "instead of rerunning shorter:\n", args.iterations, args.eval_subset, testDigits)
add(metrics.markdownTable(itHeader, itRows))

add("## 3(b) RNN, LSTM and GRU: training and test curves\n")
add("*The handout: plot train and test accuracy and loss against iterations; what do you notice, are the LSTM or GRU "
  .. "better?*\n")
embed(figures.h64, "the three cells at 64 hidden units")
local early = lengthOf{length = 1 / 60}
local final, earlyAcc = {}, {}
for _, cell in ipairs(CELLS) do
  local r = mainRun(cell, 64)
  final[cell] = r and r.hist.final.test_acc
  earlyAcc[cell] = r and (at(r, early) or {}).test_acc
end
if final.RNN and final.LSTM and final.GRU then
  local gap = final.LSTM - final.GRU
  local se = math.sqrt(0.98 * 0.02 / testDigits)
  add("At 64 units the LSTM ends at %s, the GRU at %s and the vanilla RNN at %s. %s After %d iterations the LSTM is "
    .. "at %s and the GRU at %s: %s. The gated cells are better than the vanilla RNN by %.1f–%.1f points. The reason is the gradient's path through 28 time steps: the vanilla RNN multiplies "
    .. "it by the recurrent weights and the tanh derivative at every step, so it vanishes (or explodes) before it "
    .. "reaches the first rows of the digit; the LSTM's cell state and the GRU's interpolated state add to the previous "
    .. "state instead, a path along which the gradient passes through the gates' factors only. The GRU does it with "
    .. "three weight blocks instead of four, so with %d parameters against the LSTM's %d.\n",
    f4(final.LSTM), f4(final.GRU), f4(final.RNN),
    math.abs(gap) < 2 * se and ("The LSTM and the GRU are level: their difference, %.4f, is within twice the "
      .. "sampling error of one run (%.4f)."):format(gap, 2 * se)
      or ("The %s is ahead by %.4f, more than twice the sampling error of one run (%.4f), though one seed cannot say "
      .. "whether that holds over seeds."):format(gap > 0 and "LSTM" or "GRU", math.abs(gap), 2 * se),
    early, f4(earlyAcc.LSTM), f4(earlyAcc.GRU),
    (earlyAcc.LSTM or 0) > (earlyAcc.GRU or 0) and "the LSTM starts faster, as the report observed"
      or "here the GRU starts faster, unlike the report's observation that the LSTM did",
    100 * (math.min(final.LSTM, final.GRU) - final.RNN), 100 * (math.max(final.LSTM, final.GRU) - final.RNN),
    mainRun("GRU", 64).params, mainRun("LSTM", 64).params)
end

add("## 3(c) Against the CNN on the same digits\n")
add("*The handout: compare against the CNN; describe similarities and differences.*\n")
local cnn = find(function(r) return r.config.group == "cnn" end)
local cmp = {}
for _, r in ipairs(results) do
  if isMain(r) or r == cnn then
    cmp[#cmp + 1] = {modelLabel(r.config), tostring(r.params), f4(r.hist.final.test_acc), f4(r.hist.final.test_loss),
      ("%.0f"):format(r.hist.final.seconds), ("%.2f"):format(r.msPerIter)}
  end
end
add(metrics.markdownTable({"model", "parameters", "test accuracy", "test loss", "wall s", "ms/iteration"}, cmp))
embed(figures.cnnTime, "test accuracy against wall time")
add("![final test accuracy against the number of parameters](compare_cnn_vs_rnn_params.png)\n")
local lstm = mainRun("LSTM", 64)
if cnn and lstm then
  -- the wall time at which a run's test accuracy first reaches `level`, or nil
  local function reach(r, level)
    for i, a in ipairs(r.hist.test_acc) do
      if a >= level then return r.hist.seconds[i], r.hist.iter[i] end
    end
  end
  local level = 0.9
  local function reached(r)
    local sec, it = reach(r, level)
    return sec and ("after %.0f s (iteration %d)"):format(sec, it) or "not within the run"
  end
  add("Same data, same optimizer, same minibatches of %d and the same %d iterations. The CNN reaches %s with %d "
    .. "parameters (%.0f× the 64-unit LSTM's %d, most of them in its 3136→1024 fully connected layer) at %.2f ms per "
    .. "iteration against the LSTM's %.2f; the LSTM ends at %s, %.1f points %s. Test accuracy %.1f is reached by the "
    .. "CNN %s and by the LSTM %s. Similar: both are trained end to end from pixels to classes with the same loss and "
    .. "both share weights, and on this task the gated cell %s. Different: the CNN sees each 5×5 neighbourhood at once "
    .. "and shares its filters across positions (translation equivariance, then pooling); the recurrent cells read one "
    .. "row at a time, share their weights across rows (time), and must carry everything they saw in a %d-number state "
    .. "to the last row. Per parameter the recurrent models are far more economical (the parameter figure); per second "
    .. "of training, the wall-time figure compares them.\n",
    args.batch, args.iterations, f4(cnn.hist.final.test_acc), cnn.params, cnn.params / lstm.params, lstm.params,
    cnn.msPerIter, lstm.msPerIter, f4(lstm.hist.final.test_acc),
    100 * math.abs(cnn.hist.final.test_acc - lstm.hist.final.test_acc),
    cnn.hist.final.test_acc >= lstm.hist.final.test_acc and "behind" or "ahead", level, reached(cnn), reached(lstm),
    cnn.hist.final.test_acc - lstm.hist.final.test_acc < 0.01 and "comes within a point of the CNN"
      or "stays more than a point behind the CNN", lstm.hidden)
end
add("Each run's folder holds its `metrics.csv`, `accuracy.png` and `loss.png`; `compare_*` and `sweep_*` hold every "
  .. "overlay (the four curves at each hidden size).\n")

local summary = table.concat(page, "\n")
lunet.fileutil.writeAtomic(args.out .. "/summary.md", summary)
report.writeHtml(args.out .. "/summary.md")
print(summary)
