--- lunet.train: the classifier training loop the experiments share.
--
--   local hist = train.classifier{
--     model = model, criterion = nn.CrossEntropyLoss(), optimizer = optim.Adam(model, {lr = 1e-3}),
--     loader = data.Loader(train, {batchSize = 50}), iterations = 2000,
--     test = testSet, evalEvery = 100, evalSubset = 1000,   -- test accuracy every 100 iterations
--     log = "results/run/metrics.csv", label = "adam 1e-3",
--     onEval = function(iter, row) end,                     -- optional hook (e.g. snapshots)
--     progressOut = io.stderr,                              -- where the progress bar goes
--     checkpoint = "results/run/run.ckpt", checkpointEvery = 1000, resume = true,
--     schedule = optim.StepLR(opt, {stepSize = 1000}),      -- stepped after every update
--     config = {batch = 50, seed = 1, optimizer = "Adam", lr = 1e-3},  -- the run's settings
--     command = cli.command(),                              -- the command that runs it again
--   }
-- An unknown key is an error naming it. Each iteration is one train.step.
-- Each evaluation row holds iter, train_loss and train_acc (running means over the
-- minibatches since the previous row), test_loss and test_acc; the CSV holds exactly these,
-- so the same seed and thread count give the same file, run to run. hist.seconds has the
-- wall time at each row.
-- With `checkpoint`, the model, optimizer, generator, loader position and metrics are saved
-- (atomically) at every evaluation whose iteration is a multiple of checkpointEvery, and at
-- the end. With `resume` as well, a run finds its checkpoint and continues from it: the
-- result, CSV included, is bit-identical to a run that was never interrupted (same seed,
-- same thread count); a finished run returns its history at once. The checkpoint holds the
-- run's settings (`config`, whatever else changes its results, with iterations, evalEvery
-- and evalSubset) and a resume under other settings is refused, naming each one that
-- differs; a checkpoint that cannot be read is refused with the command that restarts
-- the run (`command`, the script's own).
-- Training stops with an error naming the iteration at the first non-finite loss.
-- While it trains, denormal floats flush to zero (lunet.setFlushDenormals: tiny Adam
-- moments and fading activations would otherwise take the CPU's slow path; values
-- below 1.2e-38 become 0) and the model skips the gradient w.r.t. its input
-- (model.needInputGrad = false, see lunet.nn); both are restored at the end, and the
-- model's buffers released (model:clearState()).
local lunet = require "lunet"
local check = require "lunet.check"
local metrics = require "lunet.metrics"
local progress = require "lunet.progress"
local data = require "lunet.data"
local checkpoint = require "lunet.checkpoint"
local fileutil = require "lunet.fileutil"
local lfs = require "lfs"

local train = {}

-- Evaluation runs in batches of EVAL_BATCH: the buffers of LeNet-5 at 500 images take
-- ~210 MB, at 100 ~45 MB, and 100 is no slower (one evaluation of the 10,000 CIFAR-10
-- test images on the shared 2-core machine: 0.49-0.57 s at 500, 0.35-0.42 s at 100).
local EVAL_BATCH = 100

-- train.evaluate without the release: train.classifier evaluates every evalEvery
-- iterations and keeps the buffers until it ends (released after each evaluation they
-- would be allocated again, for both batch sizes, every time: ~80 MB of garbage per
-- evaluation of LeNet-5 for the collector to catch up with).
local function evaluate(model, criterion, ds, batchSize, limit)
  local wasTraining = model.training
  model:evaluate()
  local x, y = ds.inputs or ds.images, ds.labels
  local n = math.min(limit or x:size(1), x:size(1))
  local correct, lossSum = 0, 0
  for xb, yb in data.batches({inputs = x:narrow(1, 1, n), labels = y:narrow(1, 1, n)}, batchSize or EVAL_BATCH) do
    local out = model:forward(xb)
    lossSum = lossSum + criterion:forward(out, yb) * xb:size(1)
    correct = correct + metrics.accuracy(out, yb) * xb:size(1)
  end
  if wasTraining then model:train() end
  return correct / n, lossSum / n
end

--- Accuracy and mean loss of model on a data set, in batches, in evaluation mode.
-- limit: use only the first `limit` examples. The model's buffers are released at the
-- end (model:clearState()): they would otherwise keep the evaluation's batch size.
function train.evaluate(model, criterion, ds, batchSize, limit)
  local acc, loss = evaluate(model, criterion, ds, batchSize, limit)
  model:clearState()
  criterion:clearState()
  return acc, loss
end

--- Predicted classes (int tensor, 1-based) of a whole data set; the model's buffers are
-- released at the end, as by train.evaluate.
function train.predict(model, ds, batchSize)
  local wasTraining = model.training
  model:evaluate()
  local x = ds.inputs or ds.images
  local pred = lunet.zeros(x:size(1), "int")
  for xb, _, i0 in data.batches(ds, batchSize or EVAL_BATCH) do
    pred:narrow(1, i0, xb:size(1)):copy(model:forward(xb):argmax(2))
  end
  model:clearState()
  if wasTraining then model:train() end
  return pred
end

--- One training step on a minibatch: zero the gradients, forward, loss, backward, update.
-- beforeUpdate (optional): called as beforeUpdate(loss, output) once the loss is known and
-- before any gradient is taken, so it can look at the loss or stop the step (by raising an
-- error) before the parameters change. Returns the loss and the model's output (the logits).
function train.step(model, criterion, optimizer, x, y, beforeUpdate)
  model:zeroGrad()
  local out = model:forward(x)
  local loss = criterion:forward(out, y)
  if beforeUpdate then beforeUpdate(loss, out) end
  model:backward(x, criterion:backward(out, y))
  optimizer:step()
  return loss, out
end

local CLASSIFIER_OPTIONS = {"model", "criterion", "optimizer", "loader", "iterations", "test", "evalEvery",
  "evalSubset", "evalBatch", "log", "label", "onEval", "progressOut", "checkpoint", "checkpointEvery", "resume",
  "schedule", "config", "command"}

-- The settings a checkpoint is resumed under: the caller's config and the loop's own.
local function settingsOf(cfg, iterations, evalEvery)
  local s = {iterations = iterations, evalEvery = evalEvery, evalSubset = cfg.evalSubset or "all"}
  for k, v in pairs(cfg.config or {}) do
    local t = type(v)
    if type(k) ~= "string" or (t ~= "number" and t ~= "string" and t ~= "boolean") then
      check.fail(3, "train.classifier: config must map names to numbers, strings or booleans, got %s = %s",
        tostring(k), t)
    end
    s[k] = v
  end
  return s
end

-- "batch 50, lr 0.001" for the given names of a settings table.
local function describe(settings, names)
  local out = {}
  for i, k in ipairs(names) do out[i] = ("%s %s"):format(k, tostring(settings[k])) end
  return table.concat(out, ", ")
end

-- Continue from the checkpoint at `path`: model, optimizer, generator and loader restored;
-- returns the history so far and the checkpoint's iteration. Raises (at train.classifier's
-- caller) when the file cannot be read or was made under other settings.
local function resume(cfg, path, settings)
  local restart = ("delete it to restart this run: rm %s%s"):format(fileutil.shellWord(path),
    cfg.command and (" && " .. cfg.command) or "")
  local ok, info = pcall(function()
    local info = checkpoint.load(path, cfg.model, cfg.optimizer)
    if type(info.state) ~= "table" or type(info.state.hist) ~= "table" then
      error(("%s was not written by train.classifier"):format(path), 0)
    end
    return info
  end)
  if not ok then
    -- the reason without the position of the line that raised it, which is lunet's, not the user's
    local reason = tostring(info):gsub("^[^\n]-:%d+: ", "")
    check.fail(3, "train.classifier: cannot resume from %s: %s; %s", path, reason, restart)
  end
  local saved = type(info.config) == "table" and info.config.settings
  if type(saved) ~= "table" then
    check.fail(3, "train.classifier: %s does not record the settings it was made with (an older lunet); %s",
      path, restart)
  end
  local differ = {}
  for k, v in pairs(settings) do
    if saved[k] ~= v then differ[#differ + 1] = k end
  end
  for k in pairs(saved) do
    if settings[k] == nil then differ[#differ + 1] = k end
  end
  if #differ > 0 then
    table.sort(differ)
    check.fail(3, "train.classifier: %s was made with %s but this run has %s; resume with the settings it was "
      .. "made with, or %s", path, describe(saved, differ), describe(settings, differ), restart)
  end
  local loaded, err = pcall(cfg.loader.loadState, cfg.loader, info.state.loader)
  if not loaded then check.fail(3, "train.classifier: cannot resume from %s: %s; %s", path, tostring(err), restart) end
  return info.state.hist, info.iteration
end

--- Train a classifier: cfg.iterations steps of train.step on minibatches from cfg.loader,
-- evaluating on cfg.test every evalEvery iterations, with the options, CSV log, checkpoints
-- and resume described at the top of this file. Raises for an unknown or missing key
-- (model, criterion, optimizer, loader, iterations), a non-finite loss (naming the
-- iteration), a checkpoint that cannot be read or whose settings differ on resume.
-- @tparam table cfg see the top of the file
-- @treturn table hist: the evaluation rows (iter, train_loss, train_acc, test_loss,
-- test_acc) and hist.seconds, the wall time at each
-- @usage local hist = train.classifier{model = model, criterion = nn.CrossEntropyLoss(),
--   optimizer = optim.Adam(model), loader = data.Loader(trainSet), iterations = 2000, test = testSet}
function train.classifier(cfg)
  check.options("train.classifier", cfg, CLASSIFIER_OPTIONS)
  local model, crit, opt, loader = cfg.model, cfg.criterion, cfg.optimizer, cfg.loader
  assert(model and crit and opt and loader, "train.classifier: model, criterion, optimizer and loader are required")
  local iters, every = cfg.iterations, cfg.evalEvery or 100
  if math.type(iters) ~= "integer" or iters < 1 then
    error("train.classifier: iterations must be a positive integer, got " .. tostring(iters), 2)
  end
  local ckptEvery = cfg.checkpointEvery or every
  if math.type(ckptEvery) ~= "integer" or ckptEvery < 1 or ckptEvery % every ~= 0 then
    error(("train.classifier: checkpointEvery must be a positive multiple of evalEvery (%d), got %s")
      :format(every, tostring(ckptEvery)), 2)
  end
  local COLUMNS = {"iter", "train_loss", "train_acc", "test_loss", "test_acc"}
  local hist = {iter = {}, train_loss = {}, train_acc = {}, test_loss = {}, test_acc = {}, seconds = {}}
  local start = 1
  local settings = settingsOf(cfg, iters, every)
  if cfg.command ~= nil and type(cfg.command) ~= "string" then
    check.fail(2, "train.classifier: command must be a string, got %s", type(cfg.command))
  end
  if cfg.resume and cfg.checkpoint and lfs.attributes(cfg.checkpoint, "mode") then
    local last
    hist, last = resume(cfg, cfg.checkpoint, settings)
    start = last + 1
  end
  local log = cfg.log and metrics.Logger.new(cfg.log, COLUMNS)
  if log then -- a resumed run rewrites the rows up to its checkpoint
    for i = 1, #hist.iter do
      local row = {}
      for _, k in ipairs(COLUMNS) do row[k] = hist[k][i] end
      log:write(row)
    end
  end
  local bar = progress.new(iters, {label = cfg.label, out = cfg.progressOut, start = start - 1})
  local t0 = os.clock()
  local wall0 = lunet.wallclock() - (hist.seconds[#hist.seconds] or 0)
  local lossSum, accSum, count = 0, 0, 0
  model:train()
  local flushed, needInputGrad = lunet.setFlushDenormals(true), model.needInputGrad
  model.needInputGrad = false
  local function restore()
    if flushed ~= nil then lunet.setFlushDenormals(flushed) end
    model.needInputGrad = needInputGrad
  end
  -- Made once, not per step: a training step allocates nothing.
  local it
  local function finiteLoss(loss)
    if not check.isFinite(loss) then
      local what = loss ~= loss and "NaN" or (loss > 0 and "+inf" or "-inf")
      restore()
      -- level 4: this hook, train.step, train.classifier, its caller
      error(("train.classifier: loss is %s at iteration %d (%s); stopping"):format(what, it,
        cfg.label or "run"), 4)
    end
  end
  for i = start, iters do
    it = i
    local x, y = loader:next()
    local loss, out = train.step(model, crit, opt, x, y, finiteLoss)
    if cfg.schedule then cfg.schedule:step() end
    lossSum, accSum, count = lossSum + loss, accSum + metrics.accuracy(out, y), count + 1
    if it % every == 0 or it == iters then
      local final = it == iters
      local ta, tl = math.huge, math.huge
      if cfg.test then
        ta, tl = evaluate(model, crit, cfg.test, cfg.evalBatch,
          (not final) and cfg.evalSubset or nil)
      end
      local row = {iter = it, train_loss = lossSum / count, train_acc = accSum / count,
        test_loss = cfg.test and tl or 0 / 0, test_acc = cfg.test and ta or 0 / 0}
      if log then log:write(row) end
      row.seconds = lunet.wallclock() - wall0
      for k, v in pairs(row) do hist[k][#hist[k] + 1] = v end
      if cfg.checkpoint and (it % ckptEvery == 0 or final) then
        checkpoint.save(cfg.checkpoint, {model = model, optimizer = opt, iteration = it,
          config = {label = cfg.label, settings = settings}, state = {loader = loader:state(), hist = hist}})
      end
      if cfg.onEval then cfg.onEval(it, row) end
      lossSum, accSum, count = 0, 0, 0
      bar:update(it, {loss = row.train_loss, acc = row.train_acc, test = cfg.test and row.test_acc or nil})
    elseif it % 10 == 0 then
      bar:update(it, {loss = lossSum / count})
    end
  end
  bar:finish()
  restore()
  model:clearState() -- the buffers of the last training step and evaluation
  crit:clearState()
  if log then log:close() end
  hist.cpuSeconds = os.clock() - t0
  hist.final = {test_acc = hist.test_acc[#hist.test_acc], test_loss = hist.test_loss[#hist.test_loss],
    train_acc = hist.train_acc[#hist.train_acc], train_loss = hist.train_loss[#hist.train_loss],
    seconds = hist.seconds[#hist.seconds]}
  return hist
end

return train
