--- Part 2 of the assignment: Zeiler & Fergus (2014), "Visualizing and Understanding Convolutional
-- Networks": the paper's summary (experiments/zeiler_fergus.md) and its methods run on the trained
-- LeNet-5 of Part 1, written as one report page, summary.md and summary.html (figures embedded), under
-- --out with its figures:
--   filters_conv1.png                the 32 conv1 filters W and their learned change W − W0
--   top9_<layer>_maps<a>-<b>.png     the 9 strongest activations of each feature map (test set,
--                                    units seeing no zero padding): projection and input patch
--   methods_conv2.png                deconvnet, guided backpropagation and saliency side by side
--   evolution_<layer>.png            the strongest projections at logarithmic training iterations
--   evolution_metrics.csv            the analysed run's metrics at those iterations
--   invariance_*.png                 example strips, feature distance and class probability
--   occlusion_*.png                  images, their projections, true-class probability, class map
--   correspondence.md                the correspondence analysis tables
--   architecture_filters.png         conv1 filters before and after the architecture change
--   attribution.png                  class attribution (saliency, guided backpropagation, deconvnet,
--                                    integrated gradients, Grad-CAM) of one test image per class
-- The analysed model is the Part 1 checkpoint (--checkpoint) when it exists; its run (seed,
-- batch, optimizer, learning rate in the checkpoint) is replayed from the start for
-- --replay-iterations (the same seed and thread count give the same run, bit for bit), recording
-- the feature evolution, then the checkpoint itself is the final column. Without a checkpoint the
-- script trains its own model (--train-iterations), recording the same way.
--   lunet experiments/cifar10_deconvnet.lua [--quick] [--checkpoint FILE] [--out DIR] [--data DIR]
local lunet = require "lunet"
local nn, optim, data, plot, image = lunet.nn, lunet.optim, lunet.data, lunet.plot, lunet.image
local train, cli, checkpoint, metrics, viz = lunet.train, lunet.cli, lunet.checkpoint, lunet.metrics, lunet.viz
local fileutil, report = lunet.fileutil, require "lunet.report"
local models = require "lunet.models"
local lfs = require "lfs"

local parser = cli.parser("cifar10_deconvnet",
  "Part 2: Zeiler & Fergus's visualizations (deconvnet, top-9, occlusion, invariance, evolution, correspondence, "
  .. "architecture selection).")
parser:option("--checkpoint", "The trained LeNet-5 (Part 1's best run).", "results/cifar10_lenet/best.ckpt")
parser:option("--train-iterations", "Iterations of the run trained when the checkpoint is missing.", "1500")
  :convert(math.tointeger)
parser:option("--replay-iterations", "Iterations of the analysed run replayed for the feature evolution; also the "
  .. "budget of the architecture comparison.", "1000"):convert(math.tointeger)
parser:option("--batch", "Minibatch size of the run trained when the checkpoint is missing.", "50")
  :convert(math.tointeger)
parser:option("--occlusion-size", "Side of the occluding square, pixels.", "6"):convert(math.tointeger)
parser:option("--occlusion-stride", "Step of the occluding square, pixels.", "2"):convert(math.tointeger)
parser:option("--occlusion-fill", "Value of the occluding square (0.5: grey).", "0.5"):convert(tonumber)
parser:option("--per-class", "Test images per class for the occlusion maps.", "2"):convert(math.tointeger)
local args = cli.parse(parser)
if args.quick then
  args.train_iterations, args.replay_iterations = math.min(args.train_iterations, 50), math.min(args.replay_iterations, 50)
  args.per_class = 1
end
local out = args.out
data.mkdirs(out)
local t0 = lunet.wallclock()
local function stage(name)
  print(("[%6.1f s] %s"):format(lunet.wallclock() - t0, name))
end

local trainSet, testSet = data.cifar10(args.data, {cacheDir = args.cache})
local classes = testSet.classNames
local testLabels = testSet.labels:totable()
local byClass = {}
for c = 1, #classes do byClass[c] = {} end
for i, l in ipairs(testLabels) do table.insert(byClass[l], i) end

-- The test images of the given indices as a batch, with their labels.
local function pick(indices)
  local t = lunet.zeros(#indices, "int")
  for i, v in ipairs(indices) do t[i] = v end
  return testSet.images:index(t), testSet.labels:index(t)
end
-- The first n test images of every class, interleaved by class.
local function perClass(n)
  local list = {}
  for c = 1, #classes do
    for j = 1, n do list[#list + 1] = byClass[c][j] end
  end
  return list
end
local function pct(x) return ("%.0f%%"):format(100 * x) end
local function norm(t) return math.sqrt(t:dot(t)) end

-- The page: paragraphs and figures in order.
local index = {}
local function md(fmt, ...) index[#index + 1] = select("#", ...) > 0 and fmt:format(...) or fmt end
local function picture(file, caption)
  md("![%s](%s)\n\n*%s*\n", file, file, caption)
end

------------------------------------------------------------------------ the analysed run, replayed

-- The run analysed: Part 1's best (its settings are in the checkpoint) or one trained here.
local ckpt = lfs.attributes(args.checkpoint, "mode") == "file" and args.checkpoint or nil
local run
if ckpt then
  local info = checkpoint.load(ckpt, models.lenet5())
  local c = info.config or {}
  run = {name = c.name or "best.ckpt", seed = c.seed, batch = c.batch, optimizer = c.optimizer, lr = c.lr,
    iterations = info.iteration}
  for _, k in ipairs {"seed", "batch", "optimizer", "lr", "iterations"} do
    if run[k] == nil then error(("cifar10_deconvnet: %s does not record the run's %s"):format(ckpt, k)) end
  end
else
  run = {name = "trained here", seed = args.seed, batch = args.batch, optimizer = "Adam", lr = 1e-3,
    iterations = args.train_iterations}
end
-- With a checkpoint its run is replayed for part of its length; a run trained here is replayed whole.
local budget = ckpt and math.min(run.iterations, args.replay_iterations) or run.iterations
local function describeRun(r)
  return ("%s %g, batch %d, seed %d"):format(r.optimizer == "SGD" and "gradient descent" or r.optimizer, r.lr, r.batch, r.seed)
end

-- 0, 1, 10, 100, ... below n, then n.
local function logMarks(n)
  local marks, m = {0}, 1
  while m < n do marks[#marks + 1], m = m, m * 10 end
  marks[#marks + 1] = n
  return marks
end

-- Maps of a rectified layer that never fire on the test set.
local function deadMaps(model, layer)
  local dead = {}
  for _, e in ipairs(viz.top(model, testSet.images, {layer = layer, k = 1})) do
    if #e.hits == 0 then dead[#dead + 1] = e.map end
  end
  return dead
end

-- The relu2 map holding each test image's strongest activation: the most frequent one and its share.
local function dominantMap(model)
  local counts = {}
  model:evaluate()
  for xb in data.batches(testSet, 100) do
    local n = xb:size(1)
    model:forward(xb)
    local v = model:find("relu2").output:contiguous():view(n, 64, -1):max(3):argmax(2):totable()
    for i = 1, n do counts[v[i]] = (counts[v[i]] or 0) + 1 end
  end
  model:clearState()
  local best, count = nil, 0
  for m, c in pairs(counts) do
    if c > count then best, count = m, c end
  end
  return best, count / testSet.images:size(1)
end

-- Everything the architecture section compares, measured on a model.
local function measure(model, w0, acc)
  local w = model:find("conv1").weight
  local map, share = dominantMap(model)
  return {acc = acc, change = norm(w - w0) / norm(w0), dead1 = deadMaps(model, "relu1"),
    dead2 = deadMaps(model, "relu2"), dominant = map, share = share, filters = w:clone()}
end

-- Trains a LeNet-5 with the run's settings (its first layer changed by `firstLayer`, a function
-- of the model, when given) to `upto` iterations, evaluating on the whole test set and calling
-- at(iteration, model) at each of logMarks(upto) (iteration 0 before training). Each segment between
-- marks is one train.classifier call on the same model, optimizer and loader: the run is the one
-- train.classifier makes in one call, evaluated at other iterations (an evaluation draws nothing
-- from the generator).
local function replay(upto, firstLayer, at, label)
  lunet.manualSeed(run.seed)
  local model = models.lenet5()
  if firstLayer then firstLayer(model) end
  local w0 = model:find("conv1").weight:clone()
  local loader, opt = data.Loader(trainSet, {batchSize = run.batch}), optim[run.optimizer](model, {lr = run.lr})
  local done, rows = 0, {}
  for _, mark in ipairs(logMarks(upto)) do
    if mark > done then
      local h = train.classifier{model = model, criterion = nn.CrossEntropyLoss(), optimizer = opt, loader = loader,
        iterations = mark - done, evalEvery = mark - done, test = testSet, label = ("%s %d-%d"):format(label, done + 1, mark)}
      rows[#rows + 1] = {iter = mark, train_loss = h.final.train_loss, train_acc = h.final.train_acc,
        test_loss = h.final.test_loss, test_acc = h.final.test_acc}
      done = mark
    end
    at(mark, model)
  end
  return model, w0, rows
end

local EVOLUTION_MAPS = {1, 2, 3, 4, 5, 6, 7, 8}
local probe = testSet.images:narrow(1, 1, args.quick and 200 or 500)
local recorders = {}
stage(("replaying the analysed run (%s) for %d iterations, recording the feature evolution"):format(describeRun(run),
  budget))
local model, w0, evoRows = replay(budget, nil, function(it, m)
  if it == 0 then -- the recorders need the model: made at the first mark
    for _, layer in ipairs {"relu1", "relu2"} do
      recorders[layer] = viz.evolution{model = m, images = probe, layer = layer, maps = EVOLUTION_MAPS, inside = true}
    end
  end
  for _, r in pairs(recorders) do r:record(it) end
end, "replay")
local evoLog = metrics.Logger.new(out .. "/evolution_metrics.csv", {"iter", "train_loss", "train_acc", "test_loss", "test_acc"})
for _, r in ipairs(evoRows) do evoLog:write(r) end
evoLog:close()
model:evaluate()
local course = measure(model, w0, evoRows[#evoRows].test_acc)

-- The replay against Part 1's own log, where both evaluated the test set.
local replayCheck = ""
if ckpt then
  local logPath = ckpt:gsub("[^/]*$", "") .. run.name .. "/metrics.csv"
  local ok, cols = pcall(metrics.readCSV, logPath)
  if ok then
    local same, compared = true, {}
    for _, r in ipairs(evoRows) do
      for i, it in ipairs(cols.iter) do
        if it == r.iter then
          compared[#compared + 1] = tostring(it)
          same = same and math.abs(cols.test_acc[i] - r.test_acc) < 1e-9 and math.abs(cols.test_loss[i] - r.test_loss) < 1e-6
        end
      end
    end
    if #compared > 0 then
      replayCheck = (" The replay's test loss and accuracy at iteration%s %s %s those Part 1 logged (%s).")
        :format(#compared > 1 and "s" or "", table.concat(compared, " and "), same and "equal" or "differ from", logPath)
    end
  end
  if run.iterations > budget then
    checkpoint.load(ckpt, model)
    for _, r in pairs(recorders) do r:record(run.iterations) end
  end
end
lunet.manualSeed(run.seed)
model:evaluate()
local testAcc = train.evaluate(model, nn.CrossEntropyLoss(), testSet)
local w = model:find("conv1").weight
local analysed = {change = norm(w - w0) / norm(w0), dead1 = deadMaps(model, "relu1"), dead2 = deadMaps(model, "relu2")}
analysed.dominant, analysed.share = dominantMap(model)
model:evaluate()
stage(("test accuracy of the analysed model: %.3f"):format(testAcc))
print(model)

local source = ckpt and ("Part 1's best run, %s (%s, %d iterations), loaded from %s"):format(run.name,
  describeRun(run), run.iterations, ckpt)
  or ("a run trained here (%s, %d iterations), since %s does not exist"):format(describeRun(run), run.iterations,
  args.checkpoint)
md("## 2. The network analysed\n")
md("The LeNet-5 of Part 1 (conv 5×5×32 → ReLU → max-pool → conv 5×5×64 → ReLU → max-pool → fc 1024 → ReLU → "
  .. "dropout → fc 10), trained on the 10,000 training images: %s. Its test accuracy is %.3f on the %d test images.\n",
  source, testAcc, testSet.images:size(1))

------------------------------------------------------------------------ filters

stage("conv1 filters and their learned change")
local wInit = w0
local filterTiles, filterRows = {}, {}
local scaleW = w:abs():max()
for i = 1, 32 do filterTiles[i] = w[i]:div(2 * scaleW):add(0.5) end
for i = 1, 32 do filterTiles[32 + i] = image.normalize(w[i] - wInit[i], "symmetric") end
for r = 1, 4 do
  filterRows[r] = ("W, maps %d–%d"):format(8 * r - 7, 8 * r)
  filterRows[4 + r] = ("W − W₀, maps %d–%d"):format(8 * r - 7, 8 * r)
end
plot.imageGrid(out .. "/filters_conv1.png", filterTiles, {normalize = "none", ncol = 8, scale = 8, padding = 4,
  title = "conv1: the 32 learned 5×5 filters W (top) and their change from initialization W − W₀ (bottom)",
  rowLabels = filterRows})
md("## 3. The first layer's filters\n")
picture("filters_conv1.png", "Top four rows: the 32 conv1 filters after training, on one symmetric scale (grey 0, "
  .. "white positive, black negative). Bottom four rows: each filter's change from its initial value W₀, each on "
  .. "its own symmetric scale.")
md("The handout expects Gabor-like edge detectors; these filters look like noise. The reason is the initialization: "
  .. "the course draws every weight from a truncated normal of standard deviation 0.1, and over %d iterations of %s "
  .. "the filters moved by ‖W − W₀‖ / ‖W₀‖ = %.2f of their initial size, so what the picture shows is mostly the "
  .. "random draw W₀ (recreated here from the run's seed). The change W − W₀ (bottom rows) is where the learning is. A 5×5 "
  .. "filter on 28×28 grey images also has little room for the oriented, band-pass structure of the paper's 7×7 "
  .. "colour filters. Section 10 changes the initialization accordingly.\n",
  run.iterations, describeRun(run), analysed.change)

------------------------------------------------------------------------ top 9

stage("top-9 activations of every feature map over the test set")
local topSet = args.quick and testSet.images:narrow(1, 1, 300) or testSet.images
local H, W = topSet:size(3), topSet:size(4)
-- The share of hits in the ring of width `ring` (units) around the searched units, and the
-- share of the searched units in that ring (where hits would fall by chance).
local function borderShare(top, span, ring)
  local inRing, n = 0, 0
  local function onRing(y, x)
    return y < span[1] + ring or y > span[2] - ring or x < span[3] + ring or x > span[4] - ring
  end
  for _, e in ipairs(top) do
    for _, h in ipairs(e.hits) do
      n = n + 1
      if onRing(h.y, h.x) then inRing = inRing + 1 end
    end
  end
  local ny, nx = span[2] - span[1] + 1, span[4] - span[3] + 1
  return inRing / math.max(n, 1), 1 - (ny - 2 * ring) * (nx - 2 * ring) / (ny * nx)
end
local LAYERS_TOP = {{layer = "relu1", name = "conv1", ring = 2, scale = 8}, {layer = "relu2", name = "conv2", ring = 1, scale = 3}}
local shareRows, deadText = {}, {}
md("## 4. Feature visualization: the top-9 activations of every feature map\n")
for _, L in ipairs(LAYERS_TOP) do
  local rf = viz.receptiveField(model, L.layer)
  model:forward(topSet:narrow(1, 1, 1))
  local out1 = model:find(L.layer).output
  local all = viz.top(model, topSet, {layer = L.layer, k = 9})
  local top = viz.top(model, topSet, {layer = L.layer, k = 9, inside = true})
  local span = viz.insideUnits(model, L.layer, H, W)
  local sAll, cAll = borderShare(all, {1, out1:size(3), 1, out1:size(4)}, L.ring)
  local sIn, cIn = borderShare(top, span, L.ring)
  shareRows[#shareRows + 1] = {L.name, ("all %d×%d units"):format(out1:size(3), out1:size(4)), tostring(L.ring),
    pct(sAll), pct(cAll)}
  shareRows[#shareRows + 1] = {L.name, ("the %d×%d units seeing no padding (the grids)"):format(span[2] - span[1] + 1,
    span[4] - span[3] + 1), tostring(L.ring), pct(sIn), pct(cIn)}
  local dead = {}
  for _, e in ipairs(top) do
    if #e.hits == 0 then dead[#dead + 1] = tostring(e.map) end
  end
  deadText[#deadText + 1] = ("%s: %s"):format(L.name, #dead == 0 and "none" or ("maps " .. table.concat(dead, ", ")))
  for first = 1, #top, 16 do
    local last = math.min(first + 15, #top)
    local maps = {}
    for m = first, last do maps[#maps + 1] = m end
    local file = ("top9_%s_maps%02d-%02d.png"):format(L.name, first, last)
    viz.topGrid(out .. "/" .. file, model, topSet, {layer = L.layer, top = top, maps = maps, patches = "none",
      scale = L.scale, title = ("%s feature maps %d–%d: the 9 strongest activations, each as (projection, input patch)")
        :format(L.name, first, last)})
    picture(file, ("%s, feature maps %d–%d, one row each, strongest activation first. Each pair: the deconvnet "
      .. "projection of that one activation (symmetric scale: grey zero) and the input patch under it, both cropped "
      .. "to the unit's %d×%d receptive field."):format(L.name, first, last, rf.size[1], rf.size[2]))
  end
end
md("The search covers %d test images, one hit per image per map (its spatial maximum), and only units whose "
  .. "receptive field lies inside the image: a unit whose field reaches into the zero padding sees the edge "
  .. "between the padding and a bright image, the strongest edge there is, and would otherwise fill the grids with "
  .. "blank patches. The activations are the rectified ones (after the ReLU), so a map that never fires on these "
  .. "images has no hit and is reported dead rather than projected from a negative value: %s. The table gives "
  .. "the share of the hits lying in the outer ring of the searched units against the ring's share of the units "
  .. "(where hits would fall by chance), for the search over all units and for the grids above.\n",
  topSet:size(1), table.concat(deadText, "; "))
md("%s\n", metrics.markdownTable({"layer", "units searched", "ring width (units)", "hits in the ring",
  "by chance"}, shareRows))

------------------------------------------------------------------------ deconvnet, guided, saliency

stage("deconvnet, guided backpropagation and saliency")
local examples = pick(perClass(1))
local tiles, projs, where = {}, {}, nil
local RULES = {"deconvnet", "guided", "saliency"}
for _, rule in ipairs(RULES) do
  projs[rule], where = viz.project(model, examples, {layer = "relu2", rule = rule})
end
for i = 1, examples:size(1) do
  tiles[#tiles + 1] = image.normalize(examples[i], "minmax")
  for _, rule in ipairs(RULES) do tiles[#tiles + 1] = image.normalize(projs[rule][i], "symmetric") end
end
local methodRows = {}
for i, wh in ipairs(where) do methodRows[i] = ("%s (map %d)"):format(classes[i], wh.map) end
plot.imageGrid(out .. "/methods_conv2.png", tiles, {normalize = "none", ncol = 4, scale = 4, padding = 4,
  title = "the strongest conv2 activation projected to the input", rowLabels = methodRows,
  colLabels = {"image", "deconvnet", "guided backprop", "gradient (saliency)"}})
md("## 5. The deconvnet beside guided backpropagation and the gradient\n")
picture("methods_conv2.png", "One test image per class; the projection of its strongest conv2 (after ReLU) "
  .. "activation by the three rules, each on a symmetric scale.")
md("The three differ only in how a ReLU passes the signal down: the deconvnet rectifies the signal itself, the "
  .. "gradient (saliency) gates it by where the forward input was positive, guided backpropagation does both. "
  .. "The deconvnet's projection depends on the image only through the pooling switches, so it is the least "
  .. "specific to the image; the gradient is the most, and the noisiest; guided backpropagation keeps the "
  .. "parts of the image that raised the activation.\n")

------------------------------------------------------------------------ evolution

stage("feature evolution grids")
md("## 6. Feature evolution during training\n")
local marks = {}
for i, s in ipairs(recorders.relu1.snapshots) do marks[i] = tostring(s.iteration) end
md("%s Iterations %s are the replay (evaluated on the whole test set there: evolution_metrics.csv)%s.%s\n",
  ckpt and ("The analysed run was replayed here from its seed for its first %d iterations — the same seed and thread "
    .. "count give the same run, bit for bit — and its strongest projections recorded at logarithmic iterations; the "
    .. "last column is the checkpoint itself (iteration %d)."):format(budget, run.iterations)
    or "The strongest projections were recorded during the analysed model's own training, at logarithmic iterations.",
  table.concat(marks, ", ", 1, #evoRows + 1), ckpt and run.iterations > budget and "" or ", the last one the final model",
  replayCheck)
for _, layer in ipairs {"relu1", "relu2"} do
  local name = layer == "relu1" and "conv1" or "conv2"
  local file = "evolution_" .. name .. ".png"
  recorders[layer]:grid(out .. "/" .. file, {scale = layer == "relu1" and 8 or 3,
    title = name .. ": strongest projection by training iteration"})
  picture(file, ("%s feature maps %d–%d (rows) at iterations %s (columns): the deconvnet projection of each map's "
    .. "strongest activation over %d test images (units seeing no padding), cropped to its receptive field, symmetric "
    .. "scale; a grey tile where the map did not fire."):format(name, EVOLUTION_MAPS[1], EVOLUTION_MAPS[#EVOLUTION_MAPS],
    table.concat(marks, ", "), probe:size(1)))
end
local accs = {}
for i, r in ipairs(evoRows) do accs[i] = ("%.3f at %d"):format(r.test_acc, r.iter) end
md("Test accuracy along the replay: %s. The paper saw the lower layers settle within a few epochs and the upper "
  .. "ones keep changing; compare the columns above row by row.\n", table.concat(accs, ", "))

------------------------------------------------------------------------ invariance

stage("invariance to translation, rotation and scaling")
local invPer = args.quick and 2 or 5
local invIdx = perClass(invPer)
local SHOWN = {1, 3, 5, 7, 9} -- classes whose first image gets its own probability curve
local invImages, invLabels = pick(invIdx)
local LAYERS = {"pool1", "pool2", "relu3"}
local LAYER_LABEL = {pool1 = "conv1 block (after pooling)", pool2 = "conv2 block (after pooling)", relu3 = "fc1 (after ReLU)"}
local function range(a, b, step)
  local t = {}
  for i = 0, math.floor((b - a) / step + 0.5) do t[#t + 1] = a + i * step end
  return t
end
local TRANSFORMS = {
  {name = "translate_x", amounts = range(-8, 8, args.quick and 2 or 1), unit = "shift right (pixels)", moderate = 4,
    words = "a shift of 4 pixels to the right"},
  {name = "translate_y", amounts = range(-8, 8, args.quick and 2 or 1), unit = "shift down (pixels)", moderate = 4,
    words = "a shift of 4 pixels down"},
  {name = "rotate", amounts = range(0, 360, args.quick and 45 or 15), unit = "rotation (degrees, counter-clockwise)",
    moderate = 45, words = "a rotation by 45°"},
  {name = "scale", amounts = range(0.6, 1.6, args.quick and 0.2 or 0.1), unit = "scale factor", moderate = 1.4,
    words = "a zoom by 1.4"},
}
md("## 7. Invariance to translation, rotation and scaling\n")
md("%d test images (%d per class) are transformed (pixels moved in from outside are black). For the outputs of the "
  .. "conv1 block, the conv2 block and fc1: the distance of the transformed image's feature vector from the "
  .. "untransformed one's, relative to its length (‖φ(Tx) − φ(x)‖ / ‖φ(x)‖, mean over the images); and the "
  .. "probability of the true class. The strips show one image under the transformation (the paper's Fig. 5, "
  .. "first column).\n", #invIdx, invPer)
-- The index of the amount nearest v.
local function nearest(amounts, v)
  local best = 1
  for i, a in ipairs(amounts) do
    if math.abs(a - v) < math.abs(amounts[best] - v) then best = i end
  end
  return best
end
local exampleImage = invImages:narrow(1, (2 - 1) * invPer + 1, 1) -- the first automobile
local higher = {}
for _, t in ipairs(TRANSFORMS) do
  local r = viz.invariance(model, invImages, {transform = t.name, amounts = t.amounts, layers = LAYERS,
    labels = invLabels})
  local strip, labels = {}, {}
  local step = math.max(1, #t.amounts // 9)
  for a = 1, #t.amounts, step do
    local x = viz.transform(t.name, exampleImage, t.amounts[a])
    strip[#strip + 1], labels[#labels + 1] = x[1], ("%g"):format(t.amounts[a])
  end
  plot.imageGrid(out .. "/invariance_" .. t.name .. "_examples.png", strip, {normalize = "none", ncol = #strip,
    scale = 3, padding = 4, title = t.unit, colLabels = labels})
  local series = {}
  for _, l in ipairs(LAYERS) do
    series[#series + 1] = {name = LAYER_LABEL[l], x = t.amounts, y = r.distance[l], style = "linespoints"}
  end
  plot.lines(out .. "/invariance_" .. t.name .. "_distance.png", {title = "how far the features move: " .. t.unit,
    xlabel = t.unit, ylabel = "relative feature distance", series = series, legend = "outside", width = 1000})
  local ps = {}
  for _, c in ipairs(SHOWN) do
    local i = (c - 1) * invPer + 1 -- the first image of class c
    local y = {}
    for a = 1, #t.amounts do y[a] = r.prob[a][i] end
    ps[#ps + 1] = {name = ("%s (test #%d)"):format(classes[invLabels[i]], invIdx[i]), x = t.amounts, y = y}
  end
  ps[#ps + 1] = {name = ("mean over %d images"):format(#invIdx), x = t.amounts, y = r.meanProb, style = "linespoints"}
  plot.lines(out .. "/invariance_" .. t.name .. "_prob.png", {title = "probability of the true class: " .. t.unit,
    xlabel = t.unit, ylabel = "p(true class)", yrange = {0, 1}, series = ps, legend = "outside", width = 1000})
  picture("invariance_" .. t.name .. "_examples.png", ("A test automobile under the %s."):format(t.unit))
  picture("invariance_" .. t.name .. "_distance.png", ("Relative feature distance against the %s."):format(t.unit))
  picture("invariance_" .. t.name .. "_prob.png", ("Probability of the true class against the %s: the first "
    .. "image of five classes, and the mean over all."):format(t.unit))
  local a, a0 = nearest(t.amounts, t.moderate), nearest(t.amounts, t.name == "scale" and 1 or 0)
  local d1, d3 = r.distance.pool1[a], r.distance.relu3[a]
  higher[#higher + 1] = d3 > d1
  md("Under %s the conv1 block's features move by %.2f of their length, the conv2 block's by %.2f, fc1's by %.2f; "
    .. "the mean probability of the true class goes from %.2f to %.2f.\n", t.words, d1, r.distance.pool2[a], d3,
    r.meanProb[a0], r.meanProb[a])
end
local nHigher = 0
for _, h in ipairs(higher) do nHigher = nHigher + (h and 1 or 0) end
md("%s\n", nHigher > #higher / 2 and ("Under %d of the %d transformations fc1 moves more than the conv1 block, "
  .. "the opposite of the paper, where the top layers were the most stable. Likely reasons: this network pools only "
  .. "twice (a 4-pixel stride at the top of the convolutions, against the paper's five layers and three poolings), "
  .. "so a shift of a few pixels is not absorbed; its 28×28 images leave little margin, so transformations move "
  .. "content across the border; and a distance relative to the vector's length weighs fc1's sparse ReLU code, "
  .. "where a few units switching on or off is a large relative change."):format(nHigher, #higher)
  or ("Under %d of the %d transformations fc1 moves less than the conv1 block, as in the paper: the higher "
  .. "layers are more invariant."):format(#higher - nHigher, #higher))

------------------------------------------------------------------------ occlusion

stage("occlusion sensitivity")
local occIdx = perClass(args.per_class)
local occImages, occLabels = pick(occIdx)
local ncol = math.min(#occIdx, args.per_class == 1 and 5 or 2 * args.per_class)
local results, occMaps = {}, {}
for i = 1, #occIdx do
  results[i] = viz.occlusion(model, occImages[i], {size = args.occlusion_size, stride = args.occlusion_stride,
    fill = args.occlusion_fill, label = occLabels[i], layer = "relu2"})
  occMaps[i] = results[i].map
end
-- The maps of all images tiled into one matrix (rows of `ncol` images), a blank (NaN) line
-- between them, drawn as one heatmap; the y axis names the classes of each row of images.
local R, Q = #results[1].rows, #results[1].cols
local nrow = math.ceil(#results / ncol)
local xt, yt, rowNames = {}, {}, {}
for j = 1, ncol * (Q + 1) - 1 do xt[j] = "" end
for i = 1, nrow * (R + 1) - 1 do yt[i] = "" end
for b = 0, nrow - 1 do
  local names, seen = {}, {}
  for k = b * ncol + 1, math.min(#results, (b + 1) * ncol) do
    local n = classes[occLabels[k]]
    if not seen[n] then names[#names + 1], seen[n] = n, true end
  end
  rowNames[b + 1] = table.concat(names, " / ")
  yt[b * (R + 1) + (R + 1) // 2] = rowNames[b + 1]
end
local function heatmap(file, field, title, extra, value)
  local m = {}
  for i = 1, nrow * (R + 1) - 1 do
    m[i] = {}
    for j = 1, ncol * (Q + 1) - 1 do m[i][j] = 0 / 0 end
  end
  for k, r in ipairs(results) do
    local br, bc = (k - 1) // ncol, (k - 1) % ncol
    local v = r[field]:float():totable()
    for i = 1, R do
      for j = 1, Q do m[br * (R + 1) + i][bc * (Q + 1) + j] = value and value(r, v[i][j]) or v[i][j] end
    end
  end
  local o = {title = title, width = 260 * ncol + 380, height = 250 * nrow + 60, xticlabels = xt, yticlabels = yt}
  for k, v in pairs(extra or {}) do o[k] = v end
  plot.heatmap(out .. "/" .. file, m, o)
end
local occProj = viz.project(model, occImages, {layer = "relu2", map = occMaps})
local projTiles = {}
for i = 1, #occIdx do projTiles[i] = image.normalize(occProj[i], "symmetric") end
plot.imageGrid(out .. "/occlusion_images.png", occImages, {normalize = "none", ncol = ncol, scale = 4, padding = 6,
  title = "the test images", rowLabels = rowNames})
plot.imageGrid(out .. "/occlusion_projection.png", projTiles, {normalize = "none", ncol = ncol, scale = 4, padding = 6,
  title = "deconvnet projection of the strongest conv2 map (unoccluded image)", rowLabels = rowNames})
heatmap("occlusion_prob.png", "prob", "probability of the true class, square centred at each cell", {cbrange = {0, 1}})
heatmap("occlusion_class.png", "class", "most probable class, square centred at each cell", {categories = classes})
heatmap("occlusion_feature.png", "feature", "relative change of the strongest conv2 map's total activation",
  {palette = "diverging"}, function(r, v) return v / r.base.feature - 1 end)
local occRows, drops, mapCount = {}, {}, {}
for i, r in ipairs(results) do
  local lo, hi = r.prob:min(), r.prob:max()
  drops[i] = r.base.prob - lo
  mapCount[r.map] = (mapCount[r.map] or 0) + 1
  occRows[i] = {tostring(i), classes[occLabels[i]], classes[r.base.class], ("%.3f"):format(r.base.prob),
    ("%.3f"):format(lo), ("%.3f"):format(hi), tostring(r.map), ("%.2f"):format(r.base.feature)}
end
local topMap, topCount = nil, 0
for m, c in pairs(mapCount) do
  if c > topCount then topMap, topCount = m, c end
end
local bigDrops = 0
for _, d in ipairs(drops) do bigDrops = bigDrops + (d > 0.2 and 1 or 0) end
md("## 8. Occlusion sensitivity\n")
md("A %d×%d grey square (value %g) slides over each image in steps of %d pixels; each map cell is one position of "
  .. "the square's centre (the maps are half the image's resolution, aligned with it). %d test images per class, in "
  .. "the same places in every figure.\n", args.occlusion_size, args.occlusion_size, args.occlusion_fill,
  args.occlusion_stride, args.per_class)
picture("occlusion_images.png", "The images.")
picture("occlusion_projection.png", "The deconvnet projection of each image's strongest conv2 feature map (the map "
  .. "holding its largest activation after the ReLU) for the unoccluded image — the paper's Fig. 7(c): what in the "
  .. "image that map responds to.")
picture("occlusion_prob.png", "Probability of the true class with the square centred at each cell: dark where "
  .. "covering that part hurts the classification.")
picture("occlusion_class.png", "The most probable class with the square centred at each cell, one colour per class.")
picture("occlusion_feature.png", "The strongest conv2 map's total activation (sum over positions) with the square "
  .. "at each cell, as a relative change from the unoccluded value (blue: lower, red: higher). The grey square "
  .. "removes structure where it covers the image and adds its own edges, so the change has both signs.")
md("For %d of the %d images some position of the square lowers the true class's probability by more than 0.2. "
  .. "The strongest conv2 map is map %d for %d of the %d images; over the whole test set, map %d holds the strongest "
  .. "activation of %s of the images (against %s if the 64 maps shared them evenly)%s.\n", bigDrops, #results, topMap,
  topCount, #results, analysed.dominant, pct(analysed.share), pct(1 / 64),
  analysed.share > 4 / 64 and ": one map dominates this network's second layer, which section 10 takes up" or "")
md("%s\n", metrics.markdownTable({"image", "true class", "predicted", "p(true)", "min p(true) occluded",
  "max p(true) occluded", "strongest conv2 map", "its total activation"}, occRows))

------------------------------------------------------------------------ correspondence

stage("correspondence analysis")
local perCls = args.quick and 5 or 10
local SQ = 8
local DRAWS = args.quick and 2 or 5
local rf2 = viz.receptiveField(model, "relu2")
-- "The same part" on 28×28 images with no part labels: in each image of a class, the 8×8 square
-- centred on the receptive field of the strongest unit of the one conv2 map that responds most
-- to that class (the largest summed top-k over its images) — the part a shared detector picked.
local function partRegions(imgs)
  local best, bestSum
  for _, e in ipairs(viz.top(model, imgs, {layer = "relu2", k = imgs:size(1), inside = true})) do
    local s = 0
    for _, h in ipairs(e.hits) do s = s + h.value end
    if #e.hits == imgs:size(1) and (not best or s > bestSum) then best, bestSum = e, s end
  end
  if not best then return nil end
  local regions = {}
  for _, h in ipairs(best.hits) do
    local top, left, hh, ww = viz.window(rf2, h.y, h.x, imgs:size(3), imgs:size(4))
    regions[h.index] = {top + (hh - SQ) // 2, left + (ww - SQ) // 2, SQ, SQ}
  end
  return regions, best.map
end
local KINDS = {"part", "centre", "random"}
local delta, partMaps = {part = {}, centre = {}, random = {}}, {}
for _, k in ipairs(KINDS) do
  for _, l in ipairs(LAYERS) do delta[k][l] = {} end
end
for c = 1, #classes do
  local imgs = pick(table.move(byClass[c], 1, perCls, 1, {}))
  local regions, map = partRegions(imgs)
  partMaps[c] = map and ("%s: map %d"):format(classes[c], map) or ("%s: none fires on all"):format(classes[c])
  local d = regions and viz.correspondence(model, imgs, {layers = LAYERS, region = regions, fill = args.occlusion_fill})
  local dc = viz.correspondence(model, imgs, {layers = LAYERS, region = {11, 11, SQ, SQ}, fill = args.occlusion_fill})
  local sums = {}
  for _ = 1, DRAWS do
    local dr = viz.correspondence(model, imgs, {layers = LAYERS, region = viz.randomRegions(perCls, 28, 28, SQ, SQ),
      fill = args.occlusion_fill})
    for _, l in ipairs(LAYERS) do sums[l] = (sums[l] or 0) + dr[l] / DRAWS end
  end
  for _, l in ipairs(LAYERS) do
    delta.part[l][c], delta.centre[l][c], delta.random[l][c] = d and d[l] or 0 / 0, dc[l], sums[l]
  end
end
local function meanOf(v)
  local s, n = 0, 0
  for _, x in ipairs(v) do
    if x == x then s, n = s + x, n + 1 end
  end
  return s / n
end
local KIND_TEXT = {
  part = "the part under one conv2 map's strongest unit (one map per class, its square in each image)",
  centre = "the same fixed square in every image (rows and columns 11–18)",
  random = ("a random %d×%d square per image (mean of %d draws)"):format(SQ, SQ, DRAWS),
}
local summary, head = {}, {"occluded", "what"}
for _, l in ipairs(LAYERS) do head[#head + 1] = "Δ " .. LAYER_LABEL[l] end
for _, k in ipairs(KINDS) do
  local row = {k, KIND_TEXT[k]}
  for _, l in ipairs(LAYERS) do row[#row + 1] = ("%.3f"):format(meanOf(delta[k][l])) end
  summary[#summary + 1] = row
end
local corr = {("# Correspondence analysis\n\nFor each class, its first %d test images; an %d×%d square of value %g "
  .. "occludes a region of each; ε_i = sign(φ(x_i) − φ(x_i occluded)) for φ a layer's output; Δ = the mean over "
  .. "image pairs of the Hamming distance of ε_i and ε_j as a fraction of the layer's size (lower: the features "
  .. "change more consistently). Mean over the %d classes:\n"):format(perCls, SQ, SQ, args.occlusion_fill, #classes),
  metrics.markdownTable(head, summary),
  "\nThe conv2 map chosen for each class: " .. table.concat(partMaps, "; ") .. "."}
for _, l in ipairs(LAYERS) do
  local rowsL, h = {}, {"occluded"}
  for c = 1, #classes do h[#h + 1] = classes[c] end
  for _, k in ipairs(KINDS) do
    local row = {k}
    for c = 1, #classes do row[#row + 1] = ("%.3f"):format(delta[k][l][c]) end
    rowsL[#rowsL + 1] = row
  end
  corr[#corr + 1] = ("\n## %s, per class\n\n%s"):format(LAYER_LABEL[l], metrics.markdownTable(h, rowsL))
end
local fcPart, fcRandom = meanOf(delta.part.relu3), meanOf(delta.random.relu3)
corr[#corr + 1] = ("\nWhat this can and cannot show here. CIFAR-10's objects are not aligned: there is no \"left eye\" "
  .. "at a known place, and no part labels, so the paper's experiment (the same part masked in five aligned dog "
  .. "faces) cannot be repeated as such. The proxy above lets the network name the part: in every image of a class, "
  .. "the square under the strongest unit of the one conv2 map that responds most to that class. In the "
  .. "convolutional blocks an occluder changes only the components within its reach, the rest keeping sign 0 in "
  .. "every image, so a fixed square compares the images on the same components and scores low for its location "
  .. "alone; the part and random squares move from image to image. fc1's components have no spatial layout, so its "
  .. "column is the fair comparison: there masking the part gives Δ = %.3f against %.3f for random squares — %s.\n")
  :format(fcPart, fcRandom, fcPart < fcRandom - 0.01
    and "the changes are more consistent when the same detected part is masked, a weak implicit correspondence"
    or "no more consistent than random masking: on this data and network the measurement finds no implicit "
      .. "correspondence of parts")
local corrText = table.concat(corr, "\n") .. "\n"
fileutil.writeAtomic(out .. "/correspondence.md", corrText)
md("## 9. Correspondence analysis\n")
md("%s", (corrText:gsub("^# [^\n]*\n", ""):gsub("\n## ", "\n### ")))

------------------------------------------------------------------------ architecture selection

-- The change: conv1's initial weights ten times smaller (σ 0.01 instead of 0.1). The same draw
-- scaled, so the run differs from the course's in that alone (the minibatches and dropout masks
-- are the same).
local SMALLER = 0.1
stage(("architecture selection: conv1 initialized at σ %g, %d iterations"):format(0.1 * SMALLER, budget))
local variantStart = lunet.wallclock()
local variantModel, variantW0, variantRows = replay(budget, function(m) m:find("conv1").weight:mul_(SMALLER) end,
  function() end, "conv1 σ 0.01")
local secondsPerIteration = (lunet.wallclock() - variantStart) / budget -- evaluations included
variantModel:evaluate()
local variant = measure(variantModel, variantW0, variantRows[#variantRows].test_acc)
local archTiles, archRows = {}, {}
for i = 1, 32 do archTiles[i] = image.normalize(course.filters[i], "symmetric") end
for i = 1, 32 do archTiles[32 + i] = image.normalize(variant.filters[i], "symmetric") end
for r = 1, 4 do
  archRows[r] = ("σ 0.1, maps %d–%d"):format(8 * r - 7, 8 * r)
  archRows[4 + r] = ("σ 0.01, maps %d–%d"):format(8 * r - 7, 8 * r)
end
plot.imageGrid(out .. "/architecture_filters.png", archTiles, {normalize = "none", ncol = 8, scale = 8, padding = 4,
  title = ("conv1 filters after %d iterations: course initialization (top), σ 0.01 (bottom)"):format(budget),
  rowLabels = archRows})
local function deadList(t) return #t == 0 and "none" or ("%d (maps %s)"):format(#t, table.concat(t, ", ")) end
local archTable = metrics.markdownTable({"conv1 initialization", "test accuracy", "‖W − W₀‖ / ‖W₀‖ (conv1)",
  "dead conv1 maps", "dead conv2 maps", "most frequent strongest conv2 map"}, {
  {"truncated normal σ 0.1 (the course's)", ("%.3f"):format(course.acc), ("%.2f"):format(course.change),
    deadList(course.dead1), deadList(course.dead2), ("map %d, %s of the images"):format(course.dominant, pct(course.share))},
  {"truncated normal σ 0.01 (the same draw ÷ 10)", ("%.3f"):format(variant.acc), ("%.2f"):format(variant.change),
    deadList(variant.dead1), deadList(variant.dead2), ("map %d, %s of the images"):format(variant.dominant, pct(variant.share))}})
md("## 10. Architecture selection\n")
md("The paper looked at its first layers, found filters that were a mix of extreme frequencies and dead, changed "
  .. "the first layer and showed the result. The pictures above diagnose this network's first layers the same way: "
  .. "conv1's filters are the initial noise barely moved (‖W − W₀‖ / ‖W₀‖ = %.2f after %d iterations, section 3); "
  .. "conv2 has %s on the test set (section 4); and one conv2 map, map %d, holds the strongest activation of %s of "
  .. "the test images (section 8). With σ 0.1 the initial filters are large beside what Adam moves them in a run, "
  .. "so the change: the same conv1 initial weights ten times smaller (σ 0.01), the rest of the network, the data "
  .. "order and the dropout masks unchanged. Both variants are trained for the same %d iterations (%s)%s, and "
  .. "measured the same way:\n", analysed.change, run.iterations, deadList(analysed.dead2) .. " dead maps",
  analysed.dominant, pct(analysed.share), budget, describeRun(run),
  budget < run.iterations and (", not the analysed run's %d, which at this run's pace (%.0f ms per iteration) "
    .. "would cost about %s of training"):format(run.iterations, 1000 * secondsPerIteration,
    (function(m) return m == 1 and "1 more minute" or m .. " more minutes" end)(
      math.ceil(2 * (run.iterations - budget) * secondsPerIteration / 60))) or "")
md("%s\n", archTable)
picture("architecture_filters.png", "conv1's 32 filters after the same training, each on its own symmetric scale: "
  .. "the course's initialization above, the ten-times-smaller one below.")
local accDiff = variant.acc - course.acc
md("With the smaller initialization the filters are what training made of them (‖W − W₀‖ / ‖W₀‖ = %.2f against "
  .. "%.2f) instead of the initial noise. Test accuracy %s (%.3f against %.3f, one seed each: differences of a "
  .. "point or two are within the seed-to-seed spread Part 1 reports); dead conv2 maps: %d against %d.\n",
  variant.change, course.change,
  math.abs(accDiff) < 0.01 and "is about the same" or accDiff > 0 and "is higher" or "is lower",
  variant.acc, course.acc, #variant.dead2, #course.dead2)

------------------------------------------------------------------------ attribution

stage("class attribution: saliency, guided backpropagation, deconvnet, integrated gradients, Grad-CAM")
local IG_STEPS, CAM_LAYER = 50, "relu2"
local ATTRIBUTIONS = {
  {method = "saliency", label = "saliency", name = "saliency"},
  {method = "guided", label = "guided BP", name = "guided backpropagation"},
  {method = "deconvnet", label = "deconvnet", name = "the deconvnet"},
  {method = "ig", label = "integr. grad.", name = "integrated gradients"},
  {method = "gradcam", label = "Grad-CAM", name = "Grad-CAM"}}
-- Every method's maps of the images for the classes `targets` (one per image), by method.
local function attribute(images, targets)
  local maps, igInfo = {}, nil
  for _, a in ipairs(ATTRIBUTIONS) do
    local opts = {method = a.method, target = targets}
    if a.method == "ig" then opts.steps = IG_STEPS end
    if a.method == "gradcam" then opts.camLayer = CAM_LAYER end
    local info
    maps[a.method], info = viz.attribute(model, images, opts)
    if a.method == "ig" then igInfo = info end
  end
  return maps, igInfo
end
local function predictions(images)
  model:evaluate()
  return model:forward(images):argmax(2):totable()
end
-- The figure: one test image per class, a row for its predicted class and, when the network
-- gets it wrong, a second row for its true class.
local attrIdx = perClass(1)
local attrImages, attrLabels = pick(attrIdx)
local attrPred = predictions(attrImages)
local rowImage, rowTarget, attrRowNames = {}, {}, {}
for i, idx in ipairs(attrIdx) do
  local truth, pred = classes[attrLabels[i]], classes[attrPred[i]]
  rowImage[#rowImage + 1], rowTarget[#rowTarget + 1] = i, attrPred[i]
  attrRowNames[#attrRowNames + 1] = pred == truth and ("#%d %s (correct)"):format(idx, truth)
    or ("#%d %s, predicted %s"):format(idx, truth, pred)
  if pred ~= truth then
    rowImage[#rowImage + 1], rowTarget[#rowTarget + 1] = i, attrLabels[i]
    attrRowNames[#attrRowNames + 1] = ("#%d, for the true class %s"):format(idx, truth)
  end
end
local rowIdx = lunet.zeros(#rowImage, "int")
for r, i in ipairs(rowImage) do rowIdx[r] = i end
local rowImages = attrImages:index(rowIdx)
local attrMaps, igInfo = attribute(rowImages, rowTarget)
-- Grad-CAM over the image: grey image, red where the map is high (on its own scale).
local function overlay(gray, cam)
  local top = cam:max()
  local a = top > 0 and cam / top * 0.7 or cam * 0
  local dim = gray * (1 - a)
  return lunet.cat({dim + a, dim, dim}, 1)
end
local function rgb(t) return lunet.cat({t, t, t}, 1) end
local attrTiles = {}
for r = 1, #rowImage do
  local gray = image.normalize(rowImages[r], "minmax")
  attrTiles[#attrTiles + 1] = rgb(gray)
  attrTiles[#attrTiles + 1] = rgb(image.normalize(attrMaps.saliency[r], "minmax"))
  for _, m in ipairs {"guided", "deconvnet", "ig"} do
    attrTiles[#attrTiles + 1] = rgb(image.normalize(attrMaps[m][r], "symmetric"))
  end
  attrTiles[#attrTiles + 1] = overlay(gray, attrMaps.gradcam[r])
end
local attrCols = {"image"}
for _, a in ipairs(ATTRIBUTIONS) do attrCols[#attrCols + 1] = a.label end
plot.imageGrid(out .. "/attribution.png", attrTiles, {normalize = "none", ncol = #attrCols, scale = 5, padding = 4,
  title = "what in each test image the class score depends on", rowLabels = attrRowNames, colLabels = attrCols})

-- How much each method's map depends on the class: for misclassified test images, the
-- correlation of the map for the predicted class with the map for the true class.
local function correlation(a, b)
  a, b = a:contiguous():view(-1), b:contiguous():view(-1)
  a, b = a - a:mean(), b - b:mean()
  local d = math.sqrt(a:dot(a) * b:dot(b))
  return d > 0 and a:dot(b) / d or 0 / 0
end
local WRONG = args.quick and 8 or 20
local wrongIdx, wrongPred, wrongTrue = {}, {}, {}
for xb, _, i0 in data.batches(testSet, 100) do
  for j, p in ipairs(predictions(xb)) do
    local i = i0 + j - 1
    if p ~= testLabels[i] and #wrongIdx < WRONG then
      wrongIdx[#wrongIdx + 1], wrongPred[#wrongPred + 1], wrongTrue[#wrongTrue + 1] = i, p, testLabels[i]
    end
  end
  if #wrongIdx == WRONG then break end
end
local wrongImages = pick(wrongIdx)
local forPred, igPred = attribute(wrongImages, wrongPred)
local forTrue, igTrue = attribute(wrongImages, wrongTrue)
local corrRow, corrHead, corrMean = {"predicted vs true class"}, {"maps correlated"}, {}
for _, a in ipairs(ATTRIBUTIONS) do
  local list = {}
  for i = 1, #wrongIdx do list[i] = correlation(forPred[a.method][i], forTrue[a.method][i]) end
  corrMean[a.method] = meanOf(list)
  corrHead[#corrHead + 1] = a.label
  corrRow[#corrRow + 1] = ("%.2f"):format(corrMean[a.method])
end
-- Integrated gradients' completeness: the gap |Σ attribution - (F(x) - F(black))| against the
-- change it distributes, |F(x) - F(black)|, over every map computed (logit units).
local gaps, changes = {}, {}
for _, info in ipairs {igInfo, igPred, igTrue} do
  for _, e in ipairs(info) do
    gaps[#gaps + 1], changes[#changes + 1] = math.abs(e.gap), math.abs(e.score - e.baseline)
  end
end
table.sort(gaps)
table.sort(changes)
local function median(t) return (t[(#t + 1) // 2] + t[#t // 2 + 1]) / 2 end

md("## 11. Class attribution through the whole network\n")
md("The deconvnet of sections 4–5 starts from a feature map; the methods below start from a class score (the logit, "
  .. "before the softmax) and take it down through the fully connected layers (fc2, dropout in evaluation mode, the "
  .. "ReLU, fc1, the flattening) and then the convolutional stack to the pixels (lunet.viz.attribute). Saliency "
  .. "(Simonyan et al., 2014) is the magnitude of the gradient of the score; guided backpropagation "
  .. "(Springenberg et al., 2015) and the deconvnet take the signal through each ReLU by their rules (section 5); "
  .. "integrated gradients (Sundararajan et al., 2017) average the gradient along the straight path from a black "
  .. "image to the image (%d steps, trapezoid rule) and multiply by the image, so the map sums to the score's change "
  .. "from black; Grad-CAM (Selvaraju et al., 2017) weighs conv2's 64 rectified maps by the mean gradient of the "
  .. "score over each map and upsamples their rectified sum from 14×14 to 28×28.\n", IG_STEPS)
picture("attribution.png", "One test image per class (test set number, true class, prediction). Each row: the "
  .. "image; saliency (black: no influence, white: most); guided backpropagation, the deconvnet and integrated "
  .. "gradients on a symmetric scale (grey zero, white raises the score, black lowers it); Grad-CAM over the image "
  .. "(red: the regions whose conv2 features the class relies on). A misclassified image has a second row with the "
  .. "same maps for its true class.")
local blankCams = 0
for r = 1, #rowImage do blankCams = blankCams + (attrMaps.gradcam[r]:max() > 0 and 0 or 1) end
local byClassSpecificity = {}
for _, a in ipairs(ATTRIBUTIONS) do byClassSpecificity[#byClassSpecificity + 1] = a end
table.sort(byClassSpecificity, function(a, b) return corrMean[a.method] > corrMean[b.method] end)
local ranking = {}
for i, a in ipairs(byClassSpecificity) do
  ranking[i] = ("%s (%.2f)"):format(a.name, corrMean[a.method])
end
md("What the figure shows. Guided backpropagation gives the clearest pictures, the outlines of the objects on a flat "
  .. "grey: its rule passes only positive signal, and only where the forward pass was active, so what survives is "
  .. "the image's own edges that the first layers respond to. %s The deconvnet, which ignores where the forward "
  .. "pass's ReLUs were off, spreads the class score over the whole tile as a texture with little of the object in it. Saliency, the true "
  .. "gradient, is speckled over the whole image: the score of this network moves with single pixels everywhere, "
  .. "object and background alike, the strongest ones only sometimes on the object. Integrated gradients are "
  .. "speckled too, and signed; with a black baseline a pixel's attribution is its own value times an average "
  .. "gradient, so dark regions get almost nothing whatever their role (the darker images show it). Grad-CAM, at "
  .. "conv2's 14×14 resolution, is the coarsest and the easiest to read: blobs on parts of the objects, and also on "
  .. "background and borders; %s. From most to least alike across the two classes (the table below), so from least "
  .. "to most class-specific: %s.\n",
  corrMean.guided > 0.7 and ("But it draws almost the same picture whichever class is asked about (correlation %.2f "
    .. "between the maps for the predicted and the true class, table below): it shows what the network sees rather "
    .. "than why it chose a class, the class-insensitivity that Nie et al. (2018) and Adebayo et al. (2018) reported.")
    :format(corrMean.guided)
    or ("Its maps for the predicted and the true class correlate at %.2f (table below)."):format(corrMean.guided),
  blankCams == 0 and "none of the rows is empty (a map is empty where conv2's evidence for the class is negative "
    .. "everywhere)"
    or ("%d of the %d rows have none: there conv2's evidence for the class is negative everywhere, and the ReLU of "
    .. "the weighted sum leaves nothing"):format(blankCams, #rowImage),
  table.concat(ranking, ", "))
md("%s\n", metrics.markdownTable(corrHead, {corrRow}))
md("The table takes the first %d misclassified test images and correlates each method's map for the predicted "
  .. "class with its map for the true class (1: the same map whichever class is asked about). Integrated "
  .. "gradients are complete here to within the path's discretization: over the %d maps computed, the sum of a map "
  .. "differs from the change of the score from black to the image by at most %.3g (median %.2g), where the change "
  .. "itself has a median of %.3g (logit units).\n", #wrongIdx, #gaps, gaps[#gaps], median(gaps), median(changes))

------------------------------------------------------------------------ the page

local dir = arg[0]:match("^(.*)/[^/]*$") or "."
local f = assert(io.open(dir .. "/zeiler_fergus.md", "r"))
local paper = f:read("a"):gsub("^## [^\n]*\n", "")
f:close()
local pageHead = ("# Part 2: Visualizing and Understanding Convolutional Networks (Zeiler & Fergus, 2014)\n\n"
  .. "Written by experiments/cifar10_deconvnet.lua (lunet.viz); seed %d%s; %d thread(s); wall time %.0f s. "
  .. "Every number in the text below comes from this run.\n\n## 1. The paper's key ideas\n\n%s\n")
  :format(args.seed, args.quick and ", --quick (small budgets: numbers are not meaningful)" or "",
  lunet.getNumThreads(), lunet.wallclock() - t0, paper)
fileutil.writeAtomic(out .. "/summary.md", pageHead .. "\n" .. table.concat(index, "\n") .. "\n")
report.writeHtml(out .. "/summary.md")
stage("wrote " .. out .. "/summary.md and summary.html")
