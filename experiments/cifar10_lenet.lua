--- Part 1 of the assignment: LeNet-5 on the course's CIFAR-10 subset.
-- Runs the sweep below (edit SWEEP to run another), then writes under --out:
--   <run>/metrics.csv, <run>/loss.png, <run>/accuracy.png, <run>/activation_stats.md
--   overlay_test_acc.png, overlay_train_loss.png, filters_conv1.png (best run),
--   activation_stats.md (best run), summary.md, best.ckpt (checkpoint of the best run).
--   lunet experiments/cifar10_lenet.lua [--quick] [--out DIR] [--data DIR] [--seed N] [--threads N]
-- Under `mpirun -n K lunet experiments/cifar10_lenet.lua ...` the runs are dealt round-robin to
-- the K ranks and rank 0 writes the summary and overlays; with --data-parallel every run is
-- trained on all K ranks at once, each taking a block of every minibatch.
local lunet = require "lunet"
local nn, optim, data, plot = lunet.nn, lunet.optim, lunet.data, lunet.plot
local metrics, train, cli, checkpoint, dist = lunet.metrics, lunet.train, lunet.cli, lunet.checkpoint, lunet.distributed
local fileutil = lunet.fileutil

-- The report's table: optimizer, learning rate, iterations, the accuracy it reported.
-- `seeds` repeats a configuration with seeds seed, seed+1, ... to show the spread.
local SWEEP = {
  {optimizer = "SGD", lr = 1e-3, iterations = 2000, reported = 0.212},
  {optimizer = "Adam", lr = 1e-3, iterations = 2000, reported = 0.491, seeds = 3},
  {optimizer = "Adam", lr = 1e-4, iterations = 2000, reported = 0.362},
  {optimizer = "Adam", lr = 1e-6, iterations = 2000, reported = 0.118},
  {optimizer = "Adam", lr = 1e-3, iterations = 6000, reported = 0.482},
  {optimizer = "Adam", lr = 1e-3, iterations = 10000, reported = 0.499},
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
-- after ReLU (variance over all elements, as tf.nn.moments).
local function activationStats(model, ds)
  local layers = {{"conv1", "before ReLU"}, {"relu1", "after ReLU"}, {"conv2", "before ReLU"}, {"relu2", "after ReLU"}}
  local acc = {}
  for i = 1, #layers do acc[i] = {n = 0, sum = 0, sq = 0, max = -math.huge, min = math.huge} end
  -- the squares go to one buffer per layer (out:dot(out) would make a tensor per batch,
  -- garbage the collector reaches late)
  local squares = {}
  model:evaluate()
  for xb in data.batches(ds, 100) do
    model:forward(xb)
    for i, l in ipairs(layers) do
      local out, a = model:find(l[1]).output, acc[i]
      if not squares[i] or squares[i]:shapeString() ~= out:shapeString() then squares[i] = lunet.zeros(out:size()) end
      local sq = squares[i]:copy(out):mul_(out)
      a.n, a.sum, a.sq = a.n + out:numel(), a.sum + out:sum(), a.sq + sq:sum()
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
    rows[i] = {l[1], l[2], ("%.4g"):format(a.max), ("%.4g"):format(a.min), ("%.4g"):format(mean),
      ("%.4g"):format(var), ("%.4g"):format(math.sqrt(var))}
  end
  return metrics.markdownTable({"layer", "where", "max", "min", "mean", "variance", "std"}, rows)
end

local function runName(c, seed)
  return ("%s_lr%g_it%d_seed%d"):format(c.optimizer:lower(), c.lr, c.iterations, seed)
end

local t0 = lunet.wallclock()
local trainSet, testSet = dist.rootFirst(data.cifar10, args.data, {cacheDir = args.cache})
print(("data: %d training and %d test images of %s, %d classes"):format(trainSet.images:size(1),
  testSet.images:size(1), table.concat(trainSet.images[1]:size(), "x"), #trainSet.classes))
print(lenet5())

-- The runs: every configuration with each of its seeds (an --iterations override can make
-- configurations coincide: those run once).
local runs, named = {}, {}
for _, c in ipairs(SWEEP) do
  local cfg = {optimizer = c.optimizer, lr = c.lr, iterations = iterationsOf(c), reported = c.reported}
  for s = 0, (args.quick and 1 or c.seeds or 1) - 1 do
    local name = runName(cfg, args.seed + s)
    if not named[name] then
      named[name] = true
      runs[#runs + 1] = {config = cfg, seed = args.seed + s, name = name}
    end
  end
end

-- Under mpirun: each rank its round-robin share of the runs, or, data-parallel, every run
-- on all ranks with rank 0 writing the outputs.
local writes = not args.data_parallel or rank == 0
local bestDir = args.data_parallel and args.out or dist.rankDir(args.out)
local results, best = {}, nil
for _, run in ipairs(args.data_parallel and runs or dist.shard(runs)) do
  local c, seed, name = run.config, run.seed, run.name
  -- The previous run's model and optimizer are garbage now: collect them before this run
  -- allocates its own, not whenever the collector's pace reaches them. Twice: a tensor has
  -- a finalizer, so its memory goes in the cycle after the one that finds it unreachable.
  collectgarbage()
  collectgarbage()
  local dir = data.mkdirs(args.out .. "/" .. name)
  lunet.manualSeed(seed)
  local model = lenet5()
  local loader, opt = data.Loader(trainSet, {batchSize = args.batch}), optim[c.optimizer](model, {lr = c.lr})
  if args.data_parallel then
    local info
    loader, opt, info = dist.dataParallel(model, opt, loader)
    if writes then
      print(("%s: data-parallel over %d ranks, blocks of (%s) of every global minibatch of %d; learning rate %g")
        :format(name, size, table.concat(info.shards, ", "), info.batch, c.lr))
    end
  end
  local hist = train.classifier{model = model, criterion = nn.CrossEntropyLoss(), optimizer = opt,
    loader = loader, iterations = c.iterations, test = testSet, evalEvery = args.eval_every,
    log = writes and dir .. "/metrics.csv" or nil, label = name,
    checkpoint = not args.data_parallel and dir .. "/run.ckpt" or nil, checkpointEvery = 10 * args.eval_every, resume = args.resume,
    config = {batch = args.batch, seed = seed, optimizer = c.optimizer, lr = c.lr}, command = cli.command()}
  local r = {name = name, config = c, seed = seed, hist = hist, final = hist.final.test_acc,
    msPerIter = 1000 * hist.final.seconds / c.iterations, dir = dir, rank = rank}
  results[#results + 1] = r
  if writes then
    plot.lines(dir .. "/loss.png", {title = "training loss, " .. name, xlabel = "iteration",
      ylabel = "cross-entropy", series = {{name = "train (running mean)", x = hist.iter, y = hist.train_loss},
      {name = "test", x = hist.iter, y = hist.test_loss}}})
    plot.lines(dir .. "/accuracy.png", {title = "accuracy, " .. name, xlabel = "iteration", ylabel = "accuracy",
      yrange = {0, 1}, legend = "bottom right", series = {{name = "train (running mean)", x = hist.iter, y = hist.train_acc},
      {name = "test", x = hist.iter, y = hist.test_acc}}})
    fileutil.writeAtomic(dir .. "/activation_stats.md", ("# Activation statistics over the test set: %s\n\n%s\n")
      :format(name, activationStats(model, testSet)))
    print(("%-28s test accuracy %.3f (reported %.3f)  %.1f ms/iteration"):format(name, r.final, c.reported,
      r.msPerIter))
    if not best or r.final > best.final then
      best = r
      checkpoint.save(bestDir .. "/best.ckpt", {model = model, optimizer = opt, iteration = c.iterations,
        config = {name = name, optimizer = c.optimizer, lr = c.lr, batch = args.batch, seed = seed}})
      plot.imageGrid(bestDir .. "/filters_conv1.png", model:find("conv1").weight, {ncol = 8, padding = 2})
      fileutil.writeAtomic(bestDir .. "/activation_stats.md", table.concat{
        "# Activation statistics over the test set (best run: ", name, ")\n\n",
        activationStats(model, testSet), "\n\nThe report gave, for layer 1 after ReLU: max 0.751, min 0, ",
        "mean 0.0357, variance 0.00335, std 0.0579; for layer 2 before ReLU: max 0.805, min -0.897, ",
        "mean -0.0895, variance 0.0208, std 0.144.\n"})
    end
  end
end

-- Rank 0 collects every rank's runs, in the sweep's order, and keeps the best one's files;
-- the other ranks are done.
if not args.data_parallel then
  results = dist.gatherShards(results)
  if not results then return end
  best = nil
  for _, r in ipairs(results) do
    if not best or r.final > best.final then best = r end
  end
  dist.promoteRankDir(args.out, best.rank)
elseif rank ~= 0 then
  return
end

-- Overlays: every run's test accuracy and training loss on one plot each.
local accSeries, lossSeries = {}, {}
for _, r in ipairs(results) do
  accSeries[#accSeries + 1] = {name = r.name, x = r.hist.iter, y = r.hist.test_acc}
  lossSeries[#lossSeries + 1] = {name = r.name, x = r.hist.iter, y = r.hist.train_loss}
end
plot.lines(args.out .. "/overlay_test_acc.png", {title = "test accuracy, all runs", xlabel = "iteration",
  ylabel = "test accuracy", legend = "outside", series = accSeries})
plot.lines(args.out .. "/overlay_train_loss.png", {title = "training loss, all runs", xlabel = "iteration",
  ylabel = "cross-entropy (running mean)", logy = true, series = lossSeries})

-- Summary: one row per configuration, mean ± spread over its seeds, beside the report.
local rows, seen = {}, {}
for _, r in ipairs(results) do
  local key = ("%s %g %d"):format(r.config.optimizer, r.config.lr, r.config.iterations)
  if not seen[key] then
    seen[key] = {cfg = r.config, accs = {}, ms = {}}
    rows[#rows + 1] = seen[key]
  end
  table.insert(seen[key].accs, r.final)
  table.insert(seen[key].ms, r.msPerIter)
end
local tbl = {}
for _, row in ipairs(rows) do
  local n, sum, lo, hi, ms = #row.accs, 0, math.huge, -math.huge, 0
  for i, a in ipairs(row.accs) do
    sum, lo, hi, ms = sum + a, math.min(lo, a), math.max(hi, a), ms + row.ms[i]
  end
  local c = row.cfg
  tbl[#tbl + 1] = {c.optimizer == "SGD" and "gradient descent" or c.optimizer, ("%g"):format(c.lr),
    tostring(c.iterations), ("%.3f"):format(sum / n),
    n > 1 and ("%.3f – %.3f (%d seeds)"):format(lo, hi, n) or "1 seed", ("%.3f"):format(c.reported),
    ("%.1f"):format(ms / n)}
end
local ranks = size == 1 and "" or args.data_parallel and (" on each of %d MPI ranks, data-parallel"):format(size)
  or (" on each of %d MPI ranks, runs dealt round-robin"):format(size)
local summary = ("# Part 1: LeNet-5 on the CIFAR-10 subset\n\nbatch %d, seed %d%s, %d thread(s)%s; wall time %.0f s\n\n%s\n\n"
  .. "Best run: %s (test accuracy %.3f), checkpoint best.ckpt.\n"):format(args.batch, args.seed,
  args.quick and ", --quick" or "", lunet.getNumThreads(), ranks, lunet.wallclock() - t0,
  metrics.markdownTable({"optimizer", "learning rate", "iterations", "test accuracy", "spread", "reported",
    "ms/iteration"}, tbl), best.name, best.final)
fileutil.writeAtomic(args.out .. "/summary.md", summary)
print(summary)
