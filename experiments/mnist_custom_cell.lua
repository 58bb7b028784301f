--- Recurrent cells that lunet has no kernel for, each written in about ten lines of
-- lunet.autograd ops with no backward, trained on MNIST read row by row (Part 3's task: 28
-- steps of 28 pixels, the last hidden state into a linear layer) beside nn.LSTM's fused kernel:
--   * an LSTM with peephole connections (Gers, Schraudolph & Schmidhuber 2002): the input and
--     forget gates also see the previous cell state, the output gate the new one, through
--     per-unit weights. The peephole weights start at zero, so at iteration 0 this cell is the
--     fused LSTM; the script checks it (same loss, same gradients) before training;
--   * a minimal gated unit (MGU, Zhou et al. 2016): one gate deciding both what to forget and
--     what to write, about half an LSTM's parameters.
-- On the module path either cell would need a C kernel and a hand-derived backward.
-- Writes under --out: <run>/metrics.csv, test_acc.png, train_loss.png, results.csv,
-- summary.md and summary.html.
--   lunet experiments/mnist_custom_cell.lua [--quick] [--iterations N] [--hidden H] [--batch N] [--out DIR]
--                                            [--data DIR] [--seed N] [--threads N]
local lunet = require "lunet"
local autograd = require "lunet.autograd"
local nn, optim, data, plot = lunet.nn, lunet.optim, lunet.data, lunet.plot
local metrics, train, cli = lunet.metrics, lunet.train, lunet.cli
local report = require "lunet.report"

local parser = cli.parser("mnist_custom_cell",
  "Recurrent cells written with lunet.autograd (peephole LSTM, minimal gated unit) beside the fused LSTM on MNIST rows.")
parser:option("--iterations", "Training iterations per model.", "3000"):convert(math.tointeger)
parser:option("--hidden", "Hidden units of every cell.", "64"):convert(math.tointeger)
parser:option("--batch", "Minibatch size.", "10"):convert(math.tointeger)
local args = cli.parse(parser)
-- Part 3's optimizer; the test accuracy every 250 iterations on 1000 test digits (100 and
-- 500 with --quick), the last evaluation on all of them.
args.lr, args.eval_every, args.eval_subset = 1e-3, 250, 1000
if args.quick then
  args.iterations = math.min(args.iterations, 200)
  args.eval_every, args.eval_subset = 100, 500
end
local H = args.hidden

local t0 = lunet.wallclock()
local trainSet, testSet = lunet.mnist.load(args.data, {layout = "sequences", split = "train55k"})

------------------------------------------------------------------------ the cells
local sigmoid, tanh = autograd.sigmoid, autograd.tanh

-- The input side of every step's gates in one product: x (N,T,D) -> (N,T,G*H).
local function inputSide(x, w, b)
  local n, steps = x:size(1), x:size(2)
  return autograd.linear(x:reshape(n * steps, -1), w, b):view(n, steps, -1)
end

-- The LSTM's gates i, f, g, o as nn.LSTM stacks them, plus peepholes from the cell state.
local function peepholeLSTM(p, x)
  local xg, c, h = inputSide(x, p.weightIH, p.bias), lunet.zeros(x:size(1), H), lunet.zeros(x:size(1), H)
  for t = 1, x:size(2) do
    local a = xg:select(2, t) + autograd.linear(h, p.weightHH)
    local i = sigmoid(a:narrow(2, 1, H) + c * p.peepI)
    local f = sigmoid(a:narrow(2, H + 1, H) + c * p.peepF)
    c = f * c + i * tanh(a:narrow(2, 2 * H + 1, H))
    h = sigmoid(a:narrow(2, 3 * H + 1, H) + c * p.peepO) * tanh(c)
  end
  return h
end

-- f = σ(W_f x + U_f h + b_f), candidate = tanh(W_h x + U_h (f h) + b_h), h = h + f (candidate - h)
local function minimalGatedUnit(p, x)
  local xg, h = inputSide(x, p.weightIH, p.bias), lunet.zeros(x:size(1), H)
  for t = 1, x:size(2) do
    local a = xg:select(2, t)
    local f = sigmoid(a:narrow(2, 1, H) + autograd.linear(h, p.weightF))
    local candidate = tanh(a:narrow(2, H + 1, H) + autograd.linear(f * h, p.weightH))
    h = h + f * (candidate - h)
  end
  return h
end

------------------------------------------------------------------------ the models
-- Built right after the same seed: the fused LSTM and the peephole LSTM draw the same weights.
local MODELS = {
  {name = "lstm_fused", label = "LSTM, fused kernel (nn.LSTM)", build = function()
    return nn.Sequential():add(nn.LSTM(28, H), "lstm"):add(nn.LastStep()):add(nn.Linear(H, 10), "fc")
  end},
  {name = "lstm_peephole", label = "LSTM with peepholes (autograd)", fn = peepholeLSTM, build = function()
    local ref = nn.LSTM(28, H)
    local cell = nn.Function(peepholeLSTM, {weightIH = ref.weightIH1, weightHH = ref.weightHH1, bias = ref.bias1,
      peepI = lunet.zeros(H), peepF = lunet.zeros(H), peepO = lunet.zeros(H)})
    return nn.Sequential():add(cell, "cell"):add(nn.Linear(H, 10), "fc")
  end},
  {name = "mgu", label = "minimal gated unit (autograd)", fn = minimalGatedUnit, build = function()
    local a = 1 / math.sqrt(H) -- PyTorch's initialization of its recurrent cells
    local function u(...) return lunet.zeros(...):uniform_(-a, a) end
    local cell = nn.Function(minimalGatedUnit, {weightIH = u(2 * H, 28), bias = u(2 * H), weightF = u(H, H),
      weightH = u(H, H)})
    return nn.Sequential():add(cell, "cell"):add(nn.Linear(H, 10), "fc")
  end},
}

local function build(m)
  lunet.manualSeed(args.seed)
  return m.build()
end

-- The check: the peephole LSTM at its start against the fused LSTM, one minibatch, loss and
-- every gradient (the peephole weights' own excepted, which the fused cell does not have).
local check = {}
do
  local fused, peep = build(MODELS[1]), build(MODELS[2])
  local x, y = trainSet.inputs:narrow(1, 1, args.batch), trainSet.labels:narrow(1, 1, args.batch)
  local losses = {}
  for k, model in ipairs({fused, peep}) do
    local crit = nn.CrossEntropyLoss()
    model:zeroGrad()
    losses[k] = crit:forward(model:forward(x), y)
    model:backward(x, crit:backward(model.output, y))
  end
  local grads = {{fused:find("lstm").gradWeightIH1, peep:find("cell").gradWeightIH},
    {fused:find("lstm").gradWeightHH1, peep:find("cell").gradWeightHH},
    {fused:find("lstm").gradBias1, peep:find("cell").gradBias}, {fused:find("fc").gradWeight, peep:find("fc").gradWeight}}
  check.losses, check.grad = losses, 0
  for _, p in ipairs(grads) do
    check.grad = math.max(check.grad, (p[1] - p[2]):abs():max() / math.max(p[1]:abs():max(), 1e-30))
  end
  print(("check: fused LSTM loss %.7f, peephole LSTM at its start %.7f; largest gradient difference %.2e of the "
    .. "largest gradient"):format(losses[1], losses[2], check.grad))
end

------------------------------------------------------------------------ training
-- The time of a training step alone (the runs' wall time includes the evaluations): the
-- median of 30 forward and backward passes on minibatches, after training.
local function stepMs(model)
  local crit, loader, times = nn.CrossEntropyLoss(), data.Loader(trainSet, {batchSize = args.batch}), {}
  for k = 1, 31 do
    local x, y = loader:next()
    local t = lunet.wallclock()
    model:zeroGrad()
    local out = model:forward(x)
    crit:forward(out, y)
    model:backward(x, crit:backward(out, y))
    times[k] = lunet.wallclock() - t
  end
  table.remove(times, 1)
  table.sort(times)
  return 1000 * (times[15] + times[16]) / 2
end

local results = {}
for _, m in ipairs(MODELS) do
  collectgarbage()
  collectgarbage()
  local dir = data.mkdirs(args.out .. "/" .. m.name)
  local model = build(m)
  local hist = train.classifier{model = model, criterion = nn.CrossEntropyLoss(),
    optimizer = optim.Adam(model, {lr = args.lr}), loader = data.Loader(trainSet, {batchSize = args.batch}),
    iterations = args.iterations, test = testSet, evalEvery = args.eval_every, evalSubset = args.eval_subset,
    log = dir .. "/metrics.csv", label = m.name,
    config = {batch = args.batch, seed = args.seed, lr = args.lr, hidden = H, model = m.name},
    command = cli.command()}
  local r = {m = m, model = model, hist = hist, params = model:numParameters(), msPerIter = stepMs(model)}
  results[#results + 1] = r
  print(("%-16s test accuracy %.4f  %.0f s  %.2f ms/iteration  %d parameters"):format(m.name,
    hist.final.test_acc, hist.final.seconds, r.msPerIter, r.params))
end

------------------------------------------------------------------------ figures, tables, page
local testDigits = testSet.labels:size(1)
for _, curve in ipairs({{"test_acc", "test accuracy (%d digits; the last point all %d)", false},
                        {"train_loss", "training loss (mean of the last %d minibatches)", true}}) do
  local series = {}
  for _, r in ipairs(results) do series[#series + 1] = {name = r.m.label, x = r.hist.iter, y = r.hist[curve[1]]} end
  local what = curve[1] == "test_acc" and curve[2]:format(args.eval_subset, testDigits) or curve[2]:format(args.eval_every)
  plot.lines(("%s/%s.png"):format(args.out, curve[1]), {title = what, xlabel = "iteration", ylabel = what,
    logy = curve[3], legend = "outside", width = 900, series = series})
end

local function f4(x) return ("%.4f"):format(x) end
do
  local log <close> = metrics.Logger.new(args.out .. "/results.csv",
    {"model", "parameters", "iterations", "test_acc", "test_digits", "seconds", "ms_per_step"})
  for _, r in ipairs(results) do
    log:write{model = r.m.label, parameters = r.params, iterations = args.iterations, test_acc = f4(r.hist.final.test_acc),
      test_digits = testDigits, seconds = ("%.0f"):format(r.hist.final.seconds), ms_per_step = ("%.2f"):format(r.msPerIter)}
  end
end

-- A function's source lines, for the page.
local function source(fn)
  local info, lines = debug.getinfo(fn, "S"), {}
  local i = 0
  for line in io.lines(info.source:sub(2)) do
    i = i + 1
    if i >= info.linedefined and i <= info.lastlinedefined then lines[#lines + 1] = line end
  end
  return table.concat(lines, "\n")
end

local page = {}
local function add(fmt, ...) page[#page + 1] = select("#", ...) > 0 and fmt:format(...) or fmt end
local fused = results[1]
add("# Recurrent cells written with lunet.autograd, on MNIST rows\n")
add("Part 3's task (each digit read as 28 rows of 28 pixels, the last hidden state into a linear layer to 10 classes) "
  .. "with two cells lunet has no kernel for, each written as its forward alone in lunet.autograd's ops and wrapped "
  .. "in `nn.Function`, which makes it a module that `train.classifier`, Adam and the checkpoints take as any other. "
  .. "Beside them, nn.LSTM's fused kernel. %d hidden units, Adam at lr %s, minibatches of %d, %d iterations%s, the "
  .. "same minibatches for the three; test accuracy every %d iterations on %d test digits, the last on all %d. "
  .. "Seed %d, %d thread(s); wall time %.0f s.\n", H, report.sci(args.lr), args.batch, args.iterations,
  args.quick and " (`--quick`)" or "", args.eval_every, args.eval_subset, testDigits, args.seed,
  lunet.getNumThreads(), lunet.wallclock() - t0)
add("## The cells\n")
add("An LSTM with peephole connections (the gates see the cell state through per-unit weights `peepI`, `peepF`, "
  .. "`peepO`):\n")
add("```lua\n%s\n```\n", source(peepholeLSTM))
add("A minimal gated unit, one gate `f` both forgetting and writing:\n")
add("```lua\n%s\n```\n", source(minimalGatedUnit))
add("Both share `inputSide`, the input's contribution to every step's gates as one matrix product, as the fused "
  .. "kernel computes it. No backward is written: the tape recorded while the forward runs gives the gradients.\n")
add("**Check.** With its peephole weights at zero the peephole LSTM is the LSTM. Built from the same seed, on the "
  .. "first minibatch its loss is %.7f against the fused kernel's %.7f (difference %.1e) and its gradients differ "
  .. "from the kernel's by at most %.1e of the largest: the autograd cell and the hand-written C backward compute the "
  .. "same function and the same derivatives.\n", check.losses[2], check.losses[1],
  math.abs(check.losses[1] - check.losses[2]), check.grad)
add("## Results\n")
local rows = {}
for _, r in ipairs(results) do
  rows[#rows + 1] = {r.m.label, tostring(r.params), f4(r.hist.final.test_acc), ("%.0f"):format(r.hist.final.seconds),
    ("%.2f"):format(r.msPerIter), ("%.1f×"):format(r.msPerIter / fused.msPerIter)}
end
add(metrics.markdownTable({"model", "parameters", ("test accuracy (%d digits)"):format(testDigits),
  "run's wall time (s, with evaluations)", "ms per training step", "step time against the fused LSTM"}, rows))
add("A training step's time is the median of 30 forward and backward passes timed after training (without the "
  .. "optimizer, the same for the three).\n")
add("![test accuracy](test_acc.png)\n")
add("![training loss](train_loss.png)\n")
local peep, mgu = results[2], results[3]
local cell = peep.model:find("cell")
local function meanAbs(t) return t:abs():mean() end
add("The peephole LSTM ends at %s against the fused LSTM's %s, and the minimal gated unit at %s with %d parameters "
  .. "against the LSTM's %d; one run each, so a difference within about ±%.3f (two standard errors at this "
  .. "accuracy on %d digits) is not one. The peephole weights moved from zero to a mean magnitude of %.3f (input "
  .. "gate), %.3f (forget gate) and %.3f (output gate): the optimizer used the path the cell opened. The cost of "
  .. "writing a cell in Lua is time: a step of the sequence records 22 small operations (peephole LSTM) or 13 "
  .. "(minimal gated unit), each a node on the tape and a few kernel calls, where the fused kernel makes one pass; "
  .. "a training step takes %.1f× and %.1f× the fused kernel's.\n",
  f4(peep.hist.final.test_acc), f4(fused.hist.final.test_acc), f4(mgu.hist.final.test_acc), mgu.params, fused.params,
  2 * math.sqrt(fused.hist.final.test_acc * (1 - fused.hist.final.test_acc) / testDigits), testDigits, meanAbs(cell.peepI), meanAbs(cell.peepF), meanAbs(cell.peepO),
  peep.msPerIter / fused.msPerIter, mgu.msPerIter / fused.msPerIter)
add("Each model's folder holds its `metrics.csv`; `results.csv` holds the table.\n")

local summary = table.concat(page, "\n")
lunet.fileutil.writeAtomic(args.out .. "/summary.md", summary)
report.writeHtml(args.out .. "/summary.md")
print(summary)
