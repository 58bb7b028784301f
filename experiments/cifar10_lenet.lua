--- Part 1 of the assignment: LeNet-5 on the course's CIFAR-10 subset.
-- Runs the sweep below (edit SWEEP to run another), then writes under --out:
--   <run>/metrics.csv, <run>/loss.png, <run>/accuracy.png, <run>/activation_stats.md
--   curves_{train_loss,train_acc,test_acc}.png (the report's settings), search_{test_acc,train_loss}.png
--   (the search beyond them), filters_conv1.png and activation_stats.md (best run), best.ckpt
--   (checkpoint of the best run), results.csv (the table, for the README), summary.md and summary.html
--   (the page answering the handout's Part 1).
--   lunet experiments/cifar10_lenet.lua [--quick] [--out DIR] [--data DIR] [--seed N] [--threads N]
-- Under `mpirun -n K lunet experiments/cifar10_lenet.lua ...` the runs are dealt to the K ranks
-- by length (the longest first, each to the least loaded rank) and rank 0 writes the summary and overlays; with --data-parallel every run is
-- trained on all K ranks at once, each taking a block of every minibatch.
local lunet = require "lunet"
local nn, optim, data, plot = lunet.nn, lunet.optim, lunet.data, lunet.plot
local metrics, train, cli, checkpoint, dist = lunet.metrics, lunet.train, lunet.cli, lunet.checkpoint, lunet.distributed
local fileutil, report = lunet.fileutil, require "lunet.report"

-- The table's rows: optimizer, learning rate (momentum), iterations, the accuracy the report gave.
-- `seeds` repeats a row with seeds seed, seed+1, ... to show the spread. The rows of one
-- optimizer setting and seed share one run, as long as the longest of them, each reading the
-- test accuracy off its curve: nothing depends on the total (no schedule), so the first 2000
-- iterations of the 10000-iteration run are the 2000-iteration run, minibatch for minibatch.
local SWEEP = {
  {optimizer = "SGD", lr = 1e-3, iterations = 2000, reported = 0.212},
  {optimizer = "Adam", lr = 1e-3, iterations = 2000, reported = 0.491, seeds = 3},
  {optimizer = "Adam", lr = 1e-4, iterations = 2000, reported = 0.362},
  {optimizer = "Adam", lr = 1e-6, iterations = 2000, reported = 0.118},
  {optimizer = "Adam", lr = 1e-3, iterations = 6000, reported = 0.482},
  {optimizer = "Adam", lr = 1e-3, iterations = 10000, reported = 0.499},
  -- the handout's 1(b), beyond the report: momentum, and two other adaptive methods
  {optimizer = "SGD", lr = 1e-3, momentum = 0.5, iterations = 2000},
  {optimizer = "SGD", lr = 1e-3, momentum = 0.9, iterations = 2000, seeds = 3},
  {optimizer = "SGD", lr = 1e-3, momentum = 0.99, iterations = 2000},
  {optimizer = "RMSProp", lr = 1e-3, iterations = 2000},
  {optimizer = "Adagrad", lr = 1e-2, iterations = 2000},
}

local parser = cli.parser("cifar10_lenet", "Part 1: LeNet-5 on the CIFAR-10 subset, the optimizer sweep.")
parser:option("--batch", "Minibatch size.", "50"):convert(math.tointeger)
parser:option("--eval-every", "Iterations between test evaluations.", "100"):convert(math.tointeger)
parser:option("--iterations", "Run every configuration for this many iterations instead."):convert(math.tointeger)
parser:flag("--data-parallel", "Under mpirun: train each run on all ranks, --batch being the global minibatch.")
local rank, size = dist.start()
local args = cli.parse(parser)
if args.resume and args.data_parallel then parser:error("--resume does not work with --data-parallel yet") end
-- --quick keeps the sweep's shape at 1/50 of its length (40, 120 and 200 iterations).
local function iterationsOf(c)
  return args.iterations or (args.quick and c.iterations // 50 or c.iterations)
end
if args.quick then args.eval_every = 20 end

local lenet5 = lunet.models.lenet5 -- the course's LeNet-5 and initialization

--- max, min, mean, variance, std of the conv layers' outputs over a data set, before and
-- after ReLU (variance over all elements, as tf.nn.moments), and the fraction above 0.
local function activationStats(model, ds)
  local layers = {{"conv1", "before ReLU"}, {"relu1", "after ReLU"}, {"conv2", "before ReLU"}, {"relu2", "after ReLU"}}
  local acc = {}
  for i = 1, #layers do acc[i] = {n = 0, sum = 0, sq = 0, pos = 0, max = -math.huge, min = math.huge} end
  -- the squares and the positive counts go through one buffer per layer (out:dot(out) would
  -- make a tensor per batch, garbage the collector reaches late)
  local buffers = {}
  model:evaluate()
  for xb in data.batches(ds, 100) do
    model:forward(xb)
    for i, l in ipairs(layers) do
      local out, a = model:find(l[1]).output, acc[i]
      if not buffers[i] or buffers[i]:shapeString() ~= out:shapeString() then buffers[i] = lunet.zeros(out:size()) end
      local buf = buffers[i]
      a.n, a.sum, a.sq = a.n + out:numel(), a.sum + out:sum(), a.sq + buf:copy(out):mul_(out):sum()
      -- the count of positive elements, in the same buffer: x·1e38 clamped to [0, 1] is 1 for
      -- every positive float32 of normal size (≥ 1.2e-38), 0 for the others (out:gt(0) would
      -- allocate a tensor per batch and layer)
      a.pos = a.pos + buf:copy(out):mul_(1e38):clamp_(0, 1):sum()
      a.max, a.min = math.max(a.max, out:max()), math.min(a.min, out:min())
    end
  end
  model:clearState() -- the buffers at this batch size would stay with the model
  model:train()
  local rows = {}
  for i, l in ipairs(layers) do
    local a = acc[i]
    local mean = a.sum / a.n
    local var = math.max(a.sq / a.n - mean * mean, 0)
    rows[i] = {layer = l[1], where = l[2], max = a.max, min = a.min, mean = mean, variance = var, std = math.sqrt(var),
      positive = a.pos / a.n}
  end
  return rows
end

local STATS = {"max", "min", "mean", "variance", "std"}
-- The report's statistics of its trained network, for the layers it gave.
local REPORTED_STATS = {
  relu1 = {max = 0.751, min = 0, mean = 0.0357, variance = 0.00335, std = 0.0579},
  conv2 = {max = 0.805, min = -0.897, mean = -0.0895, variance = 0.0208, std = 0.144},
}

-- Activation statistics as a Markdown table; with `reported`, the report's row under each
-- layer it measured.
local function statsTable(stats, reported)
  local rows = {}
  for _, st in ipairs(stats) do
    local row = {st.layer, st.where}
    for _, k in ipairs(STATS) do row[#row + 1] = ("%.4g"):format(st[k]) end
    row[#row + 1] = ("%.3f"):format(st.positive)
    rows[#rows + 1] = row
    local r = reported and REPORTED_STATS[st.layer]
    if r then
      row = {st.layer, "*the report*"}
      for _, k in ipairs(STATS) do row[#row + 1] = ("%.4g"):format(r[k]) end
      row[#row + 1] = "-"
      rows[#rows + 1] = row
    end
  end
  return metrics.markdownTable({"layer", "where", "max", "min", "mean", "variance", "std", "fraction > 0"}, rows)
end

-- ‖W − W₀‖ / ‖W₀‖ over the given weights and their copies at the start.
local function relativeChange(ws, w0s)
  local d2, n2 = 0, 0
  for i, w in ipairs(ws) do
    local d <close> = w:clone():sub_(w0s[i])
    d2, n2 = d2 + d:dot(d), n2 + w0s[i]:dot(w0s[i])
  end
  return math.sqrt(d2 / n2)
end

-- A run's folder: optimizer, momentum, learning rate and seed; not the length, which the
-- rows sharing the run decide.
local function runName(c, seed)
  return ("%s%s_lr%g_seed%d"):format(c.optimizer:lower(), c.momentum and ("_m%g"):format(c.momentum) or "", c.lr, seed)
end
local function label(c) return report.optimizerLabel(c.optimizer, c) end

local t0 = lunet.wallclock()
local trainSet, testSet = dist.rootFirst(data.cifar10, args.data, {cacheDir = args.cache})
print(("data: %d training and %d test images of %s, %d classes"):format(trainSet.images:size(1),
  testSet.images:size(1), table.concat(trainSet.images[1]:size(), "x"), #trainSet.classes))
print(lenet5())

-- The runs: every optimizer setting with each of its seeds, as long as its longest row.
local runs, byName = {}, {}
for _, c in ipairs(SWEEP) do
  for s = 0, (args.quick and 1 or c.seeds or 1) - 1 do
    local name = runName(c, args.seed + s)
    if not byName[name] then
      byName[name] = {config = c, seed = args.seed + s, name = name, iterations = 0}
      runs[#runs + 1] = byName[name]
    end
    byName[name].iterations = math.max(byName[name].iterations, iterationsOf(c))
  end
end

-- Under mpirun: each rank its share of the runs, dealt by length so that the ranks end
-- together, or, data-parallel, every run on all ranks with rank 0 writing the outputs.
local writes = not args.data_parallel or rank == 0
local bestDir = args.data_parallel and args.out or dist.rankDir(args.out)
local results, best = {}, nil
local mine, mineAt = runs, nil
if not args.data_parallel then mine, mineAt = dist.shard(runs, function(run) return run.iterations end) end
for _, run in ipairs(mine) do
  local c, seed, name, iterations = run.config, run.seed, run.name, run.iterations
  local title = ("%s, seed %d"):format(label(c), seed)
  -- The previous run's model and optimizer are garbage now: collect them before this run
  -- allocates its own, not whenever the collector's pace reaches them. Twice: a tensor has
  -- a finalizer, so its memory goes in the cycle after the one that finds it unreachable.
  collectgarbage()
  collectgarbage()
  local dir = data.mkdirs(args.out .. "/" .. name)
  lunet.manualSeed(seed)
  local model = lenet5()
  local ws = model:parameters()
  local w0s = {}
  for i, w in ipairs(ws) do w0s[i] = w:clone() end
  local loader = data.Loader(trainSet, {batchSize = args.batch})
  local opt = optim[c.optimizer](model, {lr = c.lr, momentum = c.momentum})
  if args.data_parallel then
    local info
    loader, opt, info = dist.dataParallel(model, opt, loader)
    if writes then
      print(("%s: data-parallel over %d ranks, blocks of (%s) of every global minibatch of %d; learning rate %g")
        :format(name, size, table.concat(info.shards, ", "), info.batch, c.lr))
    end
  end
  local hist = train.classifier{model = model, criterion = nn.CrossEntropyLoss(), optimizer = opt,
    loader = loader, iterations = iterations, test = testSet, evalEvery = args.eval_every,
    log = writes and dir .. "/metrics.csv" or nil, label = name,
    checkpoint = not args.data_parallel and dir .. "/run.ckpt" or nil, checkpointEvery = 10 * args.eval_every, resume = args.resume,
    config = {batch = args.batch, seed = seed, optimizer = c.optimizer, lr = c.lr, momentum = c.momentum},
    command = cli.command()}
  local conv1 = model:find("conv1").weight
  local r = {name = name, config = c, seed = seed, hist = hist, final = hist.final.test_acc,
    msPerIter = 1000 * hist.final.seconds / iterations, dir = dir, rank = rank,
    change = relativeChange(ws, w0s), conv1Change = relativeChange({conv1}, {w0s[1]})}
  results[#results + 1] = r
  if writes then
    r.stats = activationStats(model, testSet)
    plot.lines(dir .. "/loss.png", {title = "loss, " .. title, xlabel = "iteration",
      ylabel = "cross-entropy", logy = true, legend = "outside", series = {
      {name = "training (mean of the last " .. args.eval_every .. " minibatches)", x = hist.iter, y = hist.train_loss},
      {name = "test", x = hist.iter, y = hist.test_loss}}})
    plot.lines(dir .. "/accuracy.png", {title = "accuracy, " .. title, xlabel = "iteration", ylabel = "accuracy",
      yrange = {0, 1}, legend = "outside", series = {
      {name = "training (mean of the last " .. args.eval_every .. " minibatches)", x = hist.iter, y = hist.train_acc},
      {name = "test", x = hist.iter, y = hist.test_acc}}})
    fileutil.writeAtomic(dir .. "/activation_stats.md", ("# Activation statistics over the test set: %s\n\n%s\n")
      :format(title, statsTable(r.stats)))
    print(("%-28s test accuracy %.3f  %.1f ms/iteration"):format(name, r.final, r.msPerIter))
    if not best or r.final > best.final then
      best = r
      checkpoint.save(bestDir .. "/best.ckpt", {model = model, optimizer = opt, iteration = iterations,
        config = {name = name, optimizer = c.optimizer, lr = c.lr, momentum = c.momentum, batch = args.batch, seed = seed}})
      plot.imageGrid(bestDir .. "/filters_conv1.png", conv1, {ncol = 8, padding = 2})
      fileutil.writeAtomic(bestDir .. "/activation_stats.md", ("# Activation statistics over the test set (best run: %s)\n\n%s\n")
        :format(title, statsTable(r.stats, true)))
    end
  end
end

-- Rank 0 collects every rank's runs, in the sweep's order, and keeps the best one's files;
-- the other ranks are done.
if not args.data_parallel then
  results = dist.gatherShards(results, 0, mineAt)
  if not results then return end
  best = nil
  for _, r in ipairs(results) do
    if not best or r.final > best.final then best = r end
  end
  dist.promoteRankDir(args.out, best.rank)
elseif rank ~= 0 then
  return
end
local runOf = {}
for _, r in ipairs(results) do runOf[r.name] = r end

-- A run's curves at iteration `it` (an evaluation point: the rows' lengths are multiples of
-- --eval-every).
local function at(r, it)
  for i, v in ipairs(r.hist.iter) do
    if v == it then
      return {test_acc = r.hist.test_acc[i], train_acc = r.hist.train_acc[i], train_loss = r.hist.train_loss[i],
        test_loss = r.hist.test_loss[i]}
    end
  end
  error(("%s has no evaluation at iteration %d (rows must be multiples of --eval-every)"):format(r.name, it))
end

-- The table's rows: each SWEEP row read off its runs (one per seed) at its iteration count;
-- rows an --iterations override makes equal appear once.
local rows, seenRow = {}, {}
for _, c in ipairs(SWEEP) do
  local its = iterationsOf(c)
  local key = runName(c, 0) .. "@" .. its
  if not seenRow[key] then
    seenRow[key] = true
    local row = {config = c, iterations = its, accs = {}, runs = {}}
    for s = 0, (args.quick and 1 or c.seeds or 1) - 1 do
      local r = runOf[runName(c, args.seed + s)]
      row.runs[#row.runs + 1] = r
      row.accs[#row.accs + 1] = at(r, its).test_acc
    end
    local sum, lo, hi = 0, math.huge, -math.huge
    for _, a in ipairs(row.accs) do sum, lo, hi = sum + a, math.min(lo, a), math.max(hi, a) end
    row.mean, row.lo, row.hi, row.first = sum / #row.accs, lo, hi, row.runs[1]
    rows[#rows + 1] = row
  end
end

-- Figures. The report's settings: one run each (the first seed), all three curves.
local CURVES = {{"train_loss", "training loss (mean of the last %d minibatches)", true},
  {"train_acc", "training accuracy (mean of the last %d minibatches)"}, {"test_acc", "test accuracy"}}
local function overlay(file, title, list, key, ylabel, logy, xmax)
  local series = {}
  for _, r in ipairs(list) do
    series[#series + 1] = {name = label(r.config), x = r.hist.iter, y = r.hist[key]}
  end
  plot.lines(("%s/%s_%s.png"):format(args.out, file, key), {title = title, xlabel = "iteration",
    ylabel = ylabel:format(args.eval_every), logy = logy, legend = "outside", series = series, width = 900,
    xrange = xmax and {0, xmax} or nil, yrange = not logy and key:find("acc") and {0, 1} or nil})
end
local reportRuns, searchRuns, seenRun = {}, {}, {}
local searchLength = 0
for _, row in ipairs(rows) do
  local r = row.first
  if not seenRun[r.name] then
    seenRun[r.name] = true
    if row.config.reported then
      reportRuns[#reportRuns + 1] = r
    else
      searchRuns[#searchRuns + 1] = r
      searchLength = math.max(searchLength, row.iterations)
    end
  end
end
for _, cv in ipairs(CURVES) do
  overlay("curves", cv[2]:format(args.eval_every) .. ", the report's settings", reportRuns, cv[1], cv[2], cv[3])
end
-- The search: its runs beside the report's gradient descent and Adam at 1e-3 (the first two).

-- results.csv: the table, for the README (experiments/readme_tables.lua).
do
  local log <close> = metrics.Logger.new(args.out .. "/results.csv", {"optimizer", "lr", "momentum", "iterations",
    "test_acc", "acc_lo", "acc_hi", "seeds", "reported", "ms_per_iter"})
  for _, row in ipairs(rows) do
    local c = row.config
    log:write{optimizer = report.optimizerLabel(c.optimizer, {momentum = c.momentum}), lr = c.lr,
      momentum = c.momentum or 0, iterations = row.iterations, test_acc = ("%.3f"):format(row.mean),
      acc_lo = ("%.3f"):format(row.lo), acc_hi = ("%.3f"):format(row.hi), seeds = #row.accs,
      reported = c.reported or "", ms_per_iter = ("%.1f"):format(row.first.msPerIter)}
  end
end

------------------------------------------------------------------------ the page
local function pct(x) return ("%.2g%%"):format(100 * x) end
local function f3(x) return ("%.3f"):format(x) end
-- the row of a setting at an iteration count, or nil
local function rowOf(optimizer, lr, momentum, its)
  for _, row in ipairs(rows) do
    local c = row.config
    if c.optimizer == optimizer and c.lr == lr and c.momentum == momentum and (not its or row.iterations == its) then
      return row
    end
  end
end
local short = iterationsOf{iterations = 2000}
local gd, adam, adam4, adam6 = rowOf("SGD", 1e-3, nil, short), rowOf("Adam", 1e-3, nil, short),
  rowOf("Adam", 1e-4, nil, short), rowOf("Adam", 1e-6, nil, short)
local compared = {gd.first, adam.first}
table.move(searchRuns, 1, #searchRuns, 3, compared)
for _, cv in ipairs{CURVES[1], CURVES[3]} do
  overlay("search", cv[2]:format(args.eval_every) .. ", momentum and other optimizers", compared, cv[1], cv[2],
    cv[3], searchLength)
end

local tbl = {}
for _, row in ipairs(rows) do
  local c = row.config
  tbl[#tbl + 1] = {report.optimizerLabel(c.optimizer, {momentum = c.momentum}), report.sci(c.lr),
    tostring(row.iterations), f3(row.mean),
    #row.accs > 1 and ("%.3f – %.3f (%d seeds)"):format(row.lo, row.hi, #row.accs) or "1 seed",
    c.reported and f3(c.reported) or "-", ("%.1f"):format(row.first.msPerIter)}
end

local page = {}
local function add(fmt, ...) page[#page + 1] = select("#", ...) > 0 and fmt:format(...) or fmt end
local ranks = size == 1 and "" or args.data_parallel and (" on each of %d MPI ranks, data-parallel"):format(size)
  or (" on each of %d MPI ranks, runs dealt by length"):format(size)
add("# Part 1: visualizing a CNN (LeNet-5) on the CIFAR-10 subset\n")
add("LeNet-5 as the course defines it (two 5×5 convolutions with 32 and 64 filters, max-pooling, a 1024-unit "
  .. "fully connected layer with dropout, σ 0.1 truncated-normal weights, biases 0.1), trained on the course's "
  .. "10,000 28×28 grayscale CIFAR-10 images in minibatches of %d drawn at random, tested on its 1,000 test images. "
  .. "Seed %d%s, %d thread(s)%s; wall time of the whole sweep %.0f s.\n", args.batch, args.seed,
  args.quick and " (`--quick`: every length divided by 50)" or "", lunet.getNumThreads(), ranks, lunet.wallclock() - t0)

add("## 1(a) Training loss, training accuracy and test accuracy against iterations\n")
add("*The handout: train the network and plot the training loss, training accuracy and test accuracy.*\n")
for _, cv in ipairs(CURVES) do add("![%s, the report's settings](curves_%s.png)\n", cv[2]:format(args.eval_every), cv[1]) end
local first = adam.first.hist
add("Each curve is one run (seed %d) of one of the report's settings. The training curves are means over the "
  .. "%d minibatches before each point, so they lag the test curves and are noisier. The first training loss, %.2f, "
  .. "is far above the %.2f of a uniform guess (ln 10): the σ 0.1 initialization makes the 3136→1024 layer's outputs "
  .. "large, so the first predictions are confident and mostly wrong; the loss axis is logarithmic for that reason. "
  .. "After %d iterations Adam at lr 1e-3 has a training loss of %.2f and a test accuracy of %s; "
  .. "Adam at 1e-4 %.2f and %s; gradient descent at 1e-3 %.2f and %s; Adam at 1e-6 %.2f and %s.\n",
  args.seed, args.eval_every, first.train_loss[1], math.log(10), short, at(adam.first, short).train_loss,
  f3(at(adam.first, short).test_acc), at(adam4.first, short).train_loss, f3(at(adam4.first, short).test_acc),
  at(gd.first, short).train_loss, f3(at(gd.first, short).test_acc), at(adam6.first, short).train_loss,
  f3(at(adam6.first, short).test_acc))

add("## 1(b) The sweep: optimizers, learning rates, momentum, iterations\n")
add("*The handout: search for good hyperparameters (training methods, learning rate, momentum values, ...).*\n")
add(metrics.markdownTable({"optimizer", "learning rate", "iterations", "test accuracy", "spread", "reported",
  "ms/iteration"}, tbl))
add("Test accuracy on the 1,000 test images (the mean over the seeds where there are several); *reported* is the "
  .. "course report's single TensorFlow run; ms/iteration is the run's wall time (with its evaluations) over its "
  .. "iterations. The rows of one setting and seed share one run: the %d- and %d-iteration rows of Adam at 1e-3 are "
  .. "read off the %d-iteration run's curve, which is exact because nothing in training depends on the total (no "
  .. "learning-rate schedule; the same seed draws the same minibatches and dropout masks).\n",
  short, iterationsOf{iterations = 6000}, iterationsOf{iterations = 10000})
for _, cv in ipairs{CURVES[1], CURVES[3]} do
  add("![%s, momentum and other optimizers](search_%s.png)\n", cv[2]:format(args.eval_every), cv[1])
end

-- ranking at the short length
local ranked = {}
for _, row in ipairs(rows) do if row.iterations == short then ranked[#ranked + 1] = row end end
table.sort(ranked, function(a, b) return a.mean > b.mean end)
local list = {}
for _, row in ipairs(ranked) do list[#list + 1] = ("%s (%s)"):format(label(row.config), f3(row.mean)) end
local holds = adam.mean > adam4.mean and adam4.mean > gd.mean and adam4.mean > adam6.mean
local lo, hi = math.huge, -math.huge
for _, row in ipairs(rows) do
  if row.config.reported then
    local d = row.mean - row.config.reported
    lo, hi = math.min(lo, d), math.max(hi, d)
  end
end
add("**Ordering.** After %d iterations: %s. The report's finding %s: Adam at 1e-3 %s, then Adam at 1e-4, with gradient descent at 1e-3 and Adam at 1e-6 "
  .. "far behind. On the report's rows lunet's accuracy differs from the report's by %+.3f to %+.3f.\n",
  short, table.concat(list, ", "), holds and "holds" or "does not hold in this run", holds and "is best of the report's settings" or "should be best",
  lo, hi)
local m5, m9, m99 = rowOf("SGD", 1e-3, 0.5, short), rowOf("SGD", 1e-3, 0.9, short), rowOf("SGD", 1e-3, 0.99, short)
add("**Why gradient descent at 1e-3 is far behind.** Gradient descent moves each weight by the learning rate times "
  .. "its gradient; at 1e-3 that is slow for this network, whose weights moved by %s of their initial norm in %d "
  .. "iterations, against %s under Adam at the same learning rate. Adam divides each gradient by the root of its "
  .. "running mean square, so every weight moves by about the learning rate per step whatever the scale of its "
  .. "gradient. Momentum β adds up a steady gradient into steps 1/(1−β) times larger (2, 10 and 100 times for 0.5, "
  .. "0.9 and 0.99): momentum 0.5 reaches %s, 0.9 %s and 0.99 %s%s.\n",
  pct(gd.first.change), short, pct(adam.first.change), f3(m5.mean), f3(m9.mean), f3(m99.mean),
  math.max(m9.mean, m99.mean) > gd.mean + 0.05
    and ", so the missing speed, not the direction of the gradient, is what holds plain gradient descent back"
    or ": in this run momentum alone does not close the gap")
add("**Why Adam at 1e-6 is near chance.** Adam's step is at most about the learning rate, so in %d steps no weight "
  .. "moves by more than about %s, against initial weights of standard deviation 0.1: the weights moved by %s of "
  .. "their norm, the network is still its random initialization, and its test accuracy %s is near the 0.1 of a "
  .. "guess among 10 classes.\n", short, report.sci(1e-6 * short), pct(adam6.first.change), f3(adam6.mean))
local long = rowOf("Adam", 1e-3, nil, iterationsOf{iterations = 10000})
local mid = iterationsOf{iterations = 6000}
local p2, p6, p10 = at(long.first, short), at(long.first, mid), at(long.first, long.iterations)
local dTrain, dTest = p10.train_acc - p2.train_acc, p10.test_acc - p2.test_acc
add("**What more iterations bring.** Adam at 1e-3 (seed %d) after %d, %d and %d iterations: test accuracy %s, %s and "
  .. "%s; training accuracy %s, %s and %s. From %d to %d iterations the training accuracy changes by %+.3f and the "
  .. "test accuracy by %+.3f%s; the test loss %s from %.3f to %.3f%s.\n", long.first.seed, short, mid, long.iterations,
  f3(p2.test_acc), f3(p6.test_acc), f3(p10.test_acc), f3(p2.train_acc), f3(p6.train_acc), f3(p10.train_acc), short,
  long.iterations, dTrain, dTest,
  dTrain > dTest + 0.02 and ": the further iterations fit the 10,000 training images more than they help on the test images" or "",
  p10.test_loss > p2.test_loss and "rises" or "falls", p2.test_loss, p10.test_loss,
  p10.test_loss > p2.test_loss and ", as the network grows confident on test images it gets wrong: overfitting, with "
    .. "dropout as the only regularizer" or "")
local spreads = {}
for _, row in ipairs(rows) do
  if #row.accs > 1 then
    spreads[#spreads + 1] = ("%s at %d iterations spans %s–%s over %d seeds"):format(label(row.config), row.iterations,
      f3(row.lo), f3(row.hi), #row.accs)
  end
end
if #spreads > 0 then
  add("**Seed spread.** %s: differences between single runs smaller than that are noise, not findings.\n",
    table.concat(spreads, "; "))
end
local rms, ada = rowOf("RMSProp", 1e-3, nil, short), rowOf("Adagrad", 1e-2, nil, short)
local bestRow = ranked[1]
add("**Other optimizers.** RMSProp at 1e-3, which scales steps as Adam does but without momentum and bias "
  .. "correction, reaches %s; Adagrad at 1e-2, whose step shrinks as the squared gradients add up, %s. The best "
  .. "setting at %d iterations is %s at %s.\n", f3(rms.mean), f3(ada.mean), short, label(bestRow.config), f3(bestRow.mean))

add("## 1(c) The first layer's filters and the activation statistics\n")
add("*The handout: visualize the first convolutional layer's weights (they should look like Gabor filters, edge "
  .. "detectors) and report the statistics of each convolutional layer's activations over the test set.*\n")
add("![the 32 filters of conv1 (5×5 each), best run](filters_conv1.png)\n")
add("The 32 filters of the best run (%s, seed %d, %d iterations), each 5×5 and scaled to its own range. They do not "
  .. "look like Gabor filters: training moved conv1's weights by %s of their norm from the random σ 0.1 start, "
  .. "so what shows is %s. "
  .. "[Part 2's page](../cifar10_deconvnet/summary.html) shows the learned change W − W₀ beside W and discusses the "
  .. "first layer in depth.\n", label(best.config), best.seed, best.hist.iter[#best.hist.iter],
  pct(best.conv1Change), best.conv1Change < 0.5 and "mostly the initial noise, which the network learns on top of"
    or "the learned change mixed with the initial noise")
add("Activation statistics of the best run over the 1,000 test images, before and after each ReLU (variance over all "
  .. "elements, as `tf.nn.moments`), with the report's figures under the rows it gave:\n")
add(statsTable(best.stats, true))
local s1, s2 = best.stats[2], best.stats[3]
add("After its ReLU layer 1's minimum is 0 and its mean %.4g is the mean of the positive part; %s of layer 1's and "
  .. "%s of layer 2's outputs are above 0 on the test images (the last column). Against the report: layer 1's mean "
  .. "after ReLU is %.2g× the report's and its standard deviation %.2g×; layer 2's mean before ReLU %.2g× and its "
  .. "standard deviation %.2g×. Both networks start from the same σ 0.1 initialization on the same [0, 1] pixels; "
  .. "the report's figures are of its own single TensorFlow run, whose length it does not say.\n",
  s1.mean, pct(s1.positive), pct(s2.positive), s1.mean / REPORTED_STATS.relu1.mean, s1.std / REPORTED_STATS.relu1.std,
  s2.mean / REPORTED_STATS.conv2.mean, s2.std / REPORTED_STATS.conv2.std)
add("Each run's folder holds its own curves (`loss.png`, `accuracy.png`), `metrics.csv` and `activation_stats.md`; "
  .. "`best.ckpt` is the best run's checkpoint.\n")

local summary = table.concat(page, "\n")
fileutil.writeAtomic(args.out .. "/summary.md", summary)
report.writeHtml(args.out .. "/summary.md")
print(summary)
