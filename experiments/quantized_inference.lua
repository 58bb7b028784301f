--- LeNet-5's inference with compact weights: the trained LeNet-5 of Part 1 with its Linear
-- layers in float32, bf16 and int8 (one float32 scale per output row; nn.quantize).
-- At batch 1 the forward is paced by reading fc1's weights (3136 x 1024, 12.8 MB in float32);
-- bf16 halves them and int8 quarters them. This script measures what that costs in accuracy
-- on the CIFAR-10 subset's 1,000 test images (and how often the predictions agree with
-- float32's) and what it gains in batch-1 latency (the median of many timed forwards, the
-- formats alternating so that the machine's load falls on each alike), and writes under --out:
--   results.md   the table and how it was measured (and results.html, the same page)
--   results.csv  format, accuracy, agreement, max_logit_diff, weight_bytes, model_ms, fc1_ms
-- The model is --checkpoint when given; else the final checkpoint of Part 1's 10,000-iteration
-- Adam run (--part1's adam_lr0.001_seed<seed>/run.ckpt), else Part 1's best.ckpt; with none of
-- them the script trains a LeNet-5 itself (Adam, lr 1e-3, --train-iterations) and says so.
--   lunet experiments/quantized_inference.lua [--quick] [--checkpoint FILE] [--part1 DIR] [--out DIR]
--     [--data DIR] [--seed N] [--threads N]
local lunet = require "lunet"
local nn, optim, data, train, cli = lunet.nn, lunet.optim, lunet.data, lunet.train, lunet.cli
local checkpoint, metrics, fileutil, report = lunet.checkpoint, lunet.metrics, lunet.fileutil, require "lunet.report"
local lfs = require "lfs"

local parser = cli.parser("quantized_inference",
  "LeNet-5 (Part 1) with bf16 and int8 Linear weights: test accuracy beside float32's, batch-1 latency.")
parser:option("--checkpoint", "The LeNet-5 to quantize (default: Part 1's 10,000-iteration Adam run, see --part1).")
parser:option("--part1", "Part 1's output folder (default: cifar10_lenet beside --out).")
parser:option("--train-iterations", "Iterations of the LeNet-5 trained here when there is no checkpoint.", "2000")
  :convert(math.tointeger)
parser:option("--reps", "Timed batch-1 forwards per format.", "300"):convert(math.tointeger)
local args = cli.parse(parser)
local reps = args.quick and 40 or args.reps
if reps < 1 then parser:error("--reps must be at least 1") end
local part1 = args.part1 or ((args.out:match("^(.*[^/])/+[^/]+/*$") or ".") .. "/cifar10_lenet")

local FORMATS = {"float32", "bf16", "int8"}
local function isFile(path) return lfs.attributes(path, "mode") == "file" end

local trainSet, testSet = data.cifar10(args.data, {cacheDir = args.cache})
local n = testSet.images:size(1)

-- The float32 model: from a checkpoint, or trained here.
local model, source = lunet.models.lenet5(), nil
local candidates = args.checkpoint and {args.checkpoint}
  or {("%s/adam_lr0.001_seed%d/run.ckpt"):format(part1, args.seed), part1 .. "/best.ckpt"}
for _, path in ipairs(candidates) do
  if isFile(path) then
    local info = checkpoint.load(path, model)
    -- best.ckpt records the run's settings in config; a run's own checkpoint in config.settings
    local c = info.config or {}
    c = c.settings or c
    source = ("checkpoint %s (%s, lr %s, seed %s, %s iterations)"):format(path, tostring(c.optimizer), tostring(c.lr),
      tostring(c.seed), tostring(info.iteration))
    break
  end
end
if not source and args.checkpoint then error(("quantized_inference: no checkpoint at %s"):format(args.checkpoint)) end
if not source then
  local iterations = args.quick and 100 or args.train_iterations
  print(("quantized_inference: no checkpoint in %s: training a LeNet-5 here (Adam, lr 1e-3, %d iterations)")
    :format(part1, iterations))
  train.classifier{model = model, criterion = nn.CrossEntropyLoss(), optimizer = optim.Adam(model, {lr = 1e-3}),
    loader = data.Loader(trainSet, {batchSize = 50}), iterations = iterations, label = "lenet5"}
  source = ("trained here (no checkpoint in %s): Adam, lr 1e-3, %d iterations, seed %d"):format(part1, iterations,
    args.seed)
end
print("model: " .. source)
model:evaluate()

-- One model per format (the float32 one and two quantized copies), the Linear weights' bytes of each.
local models, weightBytes = {float32 = model}, {}
for _, f in ipairs(FORMATS) do
  if f ~= "float32" then models[f] = nn.quantize(model:clone(), f) end
  local bytes = 0
  models[f]:apply(function(m)
    if m.typename == "Linear" then bytes = bytes + (m.qweight and m.qweight:nbytes() or m.weight:numel() * 4) end
  end)
  weightBytes[f] = bytes
end

-- Test accuracy, the predictions, and the largest logit difference from float32's.
local logits, preds = {}, {}
for _, f in ipairs(FORMATS) do
  local out = lunet.zeros(n, 10)
  for xb, _, i0 in data.batches(testSet, 100) do
    out:narrow(1, i0, xb:size(1)):copy(models[f]:forward(xb))
  end
  models[f]:clearState()
  logits[f], preds[f] = out, out:argmax(2)
end

-- Batch-1 latency: the whole forward and fc1 alone, one test image, the formats in turn.
local x1 = testSet.images:narrow(1, 1, 1)
local times = {}
for _, f in ipairs(FORMATS) do
  models[f]:forward(x1) -- buffers at batch 1, caches warm
  times[f] = {model = {}, fc1 = {}}
end
local clock = lunet.wallclock
for _ = 1, reps do
  for _, f in ipairs(FORMATS) do
    local m = models[f]
    local t0 = clock()
    m:forward(x1)
    local t1 = clock()
    local fc1 = m:find("fc1")
    fc1:forward(fc1.input)
    times[f].model[#times[f].model + 1] = t1 - t0
    times[f].fc1[#times[f].fc1 + 1] = clock() - t1
  end
end
local function median(list)
  table.sort(list)
  local k = #list
  return k % 2 == 1 and list[(k + 1) // 2] or (list[k // 2] + list[k // 2 + 1]) / 2
end

local rows, csv = {}, {"format,accuracy,agreement,max_logit_diff,weight_bytes,model_ms,fc1_ms"}
local fc1Bytes = {}
for _, f in ipairs(FORMATS) do
  local fc1 = models[f]:find("fc1")
  fc1Bytes[f] = fc1.qweight and fc1.qweight:nbytes() or fc1.weight:numel() * 4
  local acc = metrics.accuracy(logits[f], testSet.labels)
  local agree = preds[f]:eq(preds.float32):sum() / n
  local diff = (logits[f] - logits.float32):abs():max()
  local modelMs, fc1Ms = 1e3 * median(times[f].model), 1e3 * median(times[f].fc1)
  rows[#rows + 1] = {f, ("%.3f"):format(acc), ("%.3f"):format(agree), ("%.3g"):format(diff),
    ("%.2f"):format(weightBytes[f] / 2 ^ 20), ("%.3f"):format(modelMs), ("%.3f"):format(fc1Ms),
    ("%.1f"):format(fc1Bytes[f] / (fc1Ms * 1e-3) / 1e9)}
  csv[#csv + 1] = ("%s,%.4f,%.4f,%.6g,%d,%.5f,%.5f"):format(f, acc, agree, diff, weightBytes[f], modelMs, fc1Ms)
end

local fh = io.open("/proc/loadavg")
local load = fh and fh:read("l") or "?"
if fh then fh:close() end
local table_ = metrics.markdownTable({"weights", "test accuracy", "agreement with float32", "max |Δ logit|",
  "Linear weights (MiB)", "batch-1 forward (ms)", "fc1 alone (ms)", "fc1 weights read (GB/s)"}, rows)
local text = table.concat({
  "# LeNet-5 inference with bf16 and int8 weights",
  "",
  ("Model: %s. Test set: the CIFAR-10 subset's %d images. nn.quantize converts the two Linear layers (fc1 3136 → 1024, "
    .. "fc2 1024 → 10); the convolutions stay float32. bf16 rounds each weight to 8 significant bits (7 stored; relative "
    .. "error at most 2^-8); int8 stores round(w / s) with one float32 scale s = max |w| / 127 per output row. The sums "
    .. "are float32 in every format.")
    :format(source, n),
  "",
  table_,
  "",
  ("Agreement: the fraction of test images whose predicted class is float32's. Latency: the median of %d timed "
    .. "batch-1 forwards per format (one test image), the formats alternating, so each forward finds its weights "
    .. "evicted (in part) by the other formats' forwards; fc1 alone is the same layer run again right after the "
    .. "forward, its weights still in cache as far as they fit, and its GB/s are its weights' bytes over that time. %d thread(s), load average %s, %s.")
    :format(reps, lunet.getNumThreads(), load:match("^(%S+ %S+ %S+)") or load, os.date("!%Y-%m-%d %H:%M UTC")),
  "",
}, "\n")
fileutil.writeAtomic(args.out .. "/results.md", text)
fileutil.writeAtomic(args.out .. "/results.csv", table.concat(csv, "\n") .. "\n")
report.writeHtml(args.out .. "/results.md")
print(table_)
print("wrote " .. args.out .. "/results.md, results.html and results.csv")
