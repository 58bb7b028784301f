--- Part 2 of the assignment: the methods of Zeiler & Fergus (2014) run on the trained LeNet-5.
-- Loads the Part 1 checkpoint (--checkpoint; trains a short run itself when there is none) and
-- writes under --out, with index.md showing every picture with its caption:
--   top9_<layer>_maps<a>-<b>.png   the 9 strongest activations of each feature map (test set):
--                                  projection and input patch, cropped to the receptive field
--   conv1_mean_patches.png         each conv1 filter above the mean patch of its strongest units
--   methods_conv2.png              deconvnet, guided backpropagation and saliency side by side
--   occlusion_*.png                occlusion sensitivity for a few test images per class
--   invariance_*.png               feature distance and class probability under transformations
--   correspondence.md              the correspondence analysis tables
--   evolution_<layer>.png          the strongest projections at chosen training iterations
--   lunet experiments/cifar10_deconvnet.lua [--quick] [--checkpoint FILE] [--out DIR] [--data DIR]
local lunet = require "lunet"
local nn, optim, data, plot, image = lunet.nn, lunet.optim, lunet.data, lunet.plot, lunet.image
local train, cli, checkpoint, metrics, viz = lunet.train, lunet.cli, lunet.checkpoint, lunet.metrics, lunet.viz
local models = require "lunet.models"
local lfs = require "lfs"

local parser = cli.parser("cifar10_deconvnet",
  "Part 2: Zeiler & Fergus's visualizations (deconvnet, top-9, occlusion, invariance, evolution, correspondence).")
parser:option("--checkpoint", "The trained LeNet-5 (Part 1's best run).", "results/cifar10_lenet/best.ckpt")
parser:option("--train-iterations", "Iterations of the run trained when the checkpoint is missing.", "1500")
  :convert(math.tointeger)
parser:option("--evolution-iterations", "Iterations of the feature-evolution run (with a checkpoint).", "500")
  :convert(math.tointeger)
parser:option("--batch", "Minibatch size of the training runs.", "50"):convert(math.tointeger)
parser:option("--occlusion-size", "Side of the occluding square, pixels.", "6"):convert(math.tointeger)
parser:option("--occlusion-stride", "Step of the occluding square, pixels.", "2"):convert(math.tointeger)
parser:option("--occlusion-fill", "Value of the occluding square (0.5: grey).", "0.5"):convert(tonumber)
parser:option("--per-class", "Test images per class for the occlusion maps.", "2"):convert(math.tointeger)
local args = cli.parse(parser)
if args.quick then
  args.train_iterations, args.evolution_iterations, args.per_class = 100, 50, 1
end
local out = args.out
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

-- The first n test images of class c (or of every class, interleaved by class) as a batch.
local function pick(indices)
  local t = lunet.zeros(#indices, "int")
  for i, v in ipairs(indices) do t[i] = v end
  return testSet.images:index(t), testSet.labels:index(t)
end
local function perClass(n)
  local list = {}
  for c = 1, #classes do
    for j = 1, n do list[#list + 1] = byClass[c][j] end
  end
  return list
end

------------------------------------------------------------------------ the model, and the evolution run

local EVOLUTION_MAPS = {1, 2, 3, 4, 5, 6, 7, 8}
local probe = testSet.images:narrow(1, 1, args.quick and 200 or 500)

-- Trains a fresh LeNet-5 for `iterations`, recording the strongest projections of
-- EVOLUTION_MAPS of conv1 and conv2 (over `probe`) at a few iterations along the way.
local function trainWithEvolution(iterations, label)
  lunet.manualSeed(args.seed)
  local model = models.lenet5()
  local marks = {0}
  for _, i in ipairs {25, 50, 100, 200, 400, 800, 1500, 3000} do
    if i < iterations then marks[#marks + 1] = i end
  end
  marks[#marks + 1] = iterations
  local recorders = {}
  for _, layer in ipairs {"conv1", "conv2"} do
    recorders[layer] = viz.evolution{model = model, images = probe, layer = layer, maps = EVOLUTION_MAPS,
      iterations = marks}
    recorders[layer]:record(0)
  end
  local hist = train.classifier{model = model, criterion = nn.CrossEntropyLoss(),
    optimizer = optim.Adam(model, {lr = 1e-3}), loader = data.Loader(trainSet, {batchSize = args.batch}),
    iterations = iterations, evalEvery = 25, log = out .. "/evolution_metrics.csv", label = label,
    onEval = function(it)
      for _, r in pairs(recorders) do r:record(it) end
    end}
  return model, recorders, marks, hist
end

local model, recorders, marks, source
if lfs.attributes(args.checkpoint, "mode") == "file" then
  model = models.lenet5()
  local info = checkpoint.load(args.checkpoint, model)
  source = ("the checkpoint %s (%s)"):format(args.checkpoint, info.config and info.config.name or "no run name")
  stage("loaded " .. source)
  stage(("feature-evolution run: %d iterations, Adam 1e-3, batch %d"):format(args.evolution_iterations, args.batch))
  local _
  _, recorders, marks = trainWithEvolution(args.evolution_iterations, "evolution")
else
  stage(("no checkpoint at %s: training LeNet-5 for %d iterations (Adam 1e-3, batch %d); it is also the "
    .. "feature-evolution run"):format(args.checkpoint, args.train_iterations, args.batch))
  model, recorders, marks = trainWithEvolution(args.train_iterations, "train")
  checkpoint.save(out .. "/trained.ckpt", {model = model, iteration = args.train_iterations,
    config = {name = "cifar10_deconvnet", optimizer = "Adam", lr = 1e-3, batch = args.batch, seed = args.seed}})
  source = ("a run trained here for %d iterations (Adam 1e-3, batch %d; saved as trained.ckpt), since %s "
    .. "does not exist"):format(args.train_iterations, args.batch, args.checkpoint)
end
lunet.manualSeed(args.seed)
model:evaluate()
local testAcc = train.evaluate(model, nn.CrossEntropyLoss(), testSet)
stage(("test accuracy of the model: %.3f"):format(testAcc))
print(model)

local index = {}
local function md(fmt, ...) index[#index + 1] = select("#", ...) > 0 and fmt:format(...) or fmt end
local function picture(file, caption)
  md("![%s](%s)\n\n*%s*\n", file, file, caption)
end

------------------------------------------------------------------------ top 9

stage("top-9 activations of every feature map over the test set")
local topSet = args.quick and testSet.images:narrow(1, 1, 300) or testSet.images
md("## Top-9 activations\n")
md("For every feature map, the 9 test images (one per image, by spatial maximum) where it responds "
  .. "most, strongest first: each pair is the deconvnet projection of that one activation (symmetric "
  .. "scale: grey is zero, light positive, dark negative) and the input patch under it (its own "
  .. "intensities, black 0 to white 1), both cropped to the unit's receptive field — %dx%d pixels for conv1, %dx%d for "
  .. "conv2 — moved inside the image where it reaches past the border. Searched over %d test images. A row "
  .. "of bright, featureless patches belongs to a map whose strongest units sit at the border, where the zero "
  .. "padding meets a bright image: a strong edge for an edge detector (conv1_mean_patches.png below leaves "
  .. "those units out).\n",
  viz.receptiveField(model, "conv1").size[1], viz.receptiveField(model, "conv1").size[2],
  viz.receptiveField(model, "conv2").size[1], viz.receptiveField(model, "conv2").size[2], topSet:size(1))
for _, layer in ipairs {"conv1", "conv2"} do
  local top = viz.top(model, topSet, {layer = layer, k = 9})
  for first = 1, #top, 16 do
    local last = math.min(first + 15, #top)
    local maps = {}
    for m = first, last do maps[#maps + 1] = m end
    local file = ("top9_%s_maps%02d-%02d.png"):format(layer, first, last)
    viz.topGrid(out .. "/" .. file, model, topSet, {layer = layer, top = top, maps = maps, patches = "none",
      scale = layer == "conv1" and 8 or 3})
    picture(file, ("%s, feature maps %d–%d (one row each): 9 × (projection, input patch)."):format(layer, first, last))
  end
end

-- What the first layer's maps respond to, away from the zero padding (whose border with a bright
-- image is itself a strong edge): each filter above the mean of the input patches under its
-- strongest activations over the test set, one per image, among the units seeing no padding.
local MEAN_OF = args.quick and 20 or 50
local rf1 = viz.receptiveField(model, "conv1")
local top1 = viz.top(model, topSet, {layer = "conv1", k = MEAN_OF, inside = true})
local filters, means = {}, {}
for i, e in ipairs(top1) do
  local sum = lunet.zeros(1, rf1.size[1], rf1.size[2])
  for _, h in ipairs(e.hits) do
    local t, l, hh, ww = viz.window(rf1, h.y, h.x, topSet:size(3), topSet:size(4))
    sum:add_(image.crop(topSet[h.index], t, l, hh, ww))
  end
  filters[i] = image.normalize(model:find("conv1").weight[i], "symmetric")
  means[i] = image.normalize(sum:div(#e.hits), "minmax")
end
local meanTiles = {}
for r = 0, #top1 // 8 - 1 do
  for j = 1, 8 do meanTiles[#meanTiles + 1] = filters[r * 8 + j] end
  for j = 1, 8 do meanTiles[#meanTiles + 1] = means[r * 8 + j] end
end
plot.imageGrid(out .. "/conv1_mean_patches.png", meanTiles, {normalize = "none", ncol = 8, scale = 8, padding = 4})
picture("conv1_mean_patches.png", ("The 32 conv1 filters (rows 1, 3, 5, 7; symmetric scale) above the mean of the "
  .. "%d input patches (5x5, each stretched to its range) under each map's strongest activations over the test "
  .. "images, one per image, among the units whose receptive field lies inside the image (the top-9 grids "
  .. "above include the border units, where the zero padding meets the image)."):format(MEAN_OF))

------------------------------------------------------------------------ deconvnet, guided, saliency

stage("deconvnet, guided backpropagation and saliency")
local oneEach = perClass(1)
local examples = pick(oneEach)
local tiles, projs, where = {}, {}, nil
for _, rule in ipairs {"deconvnet", "guided", "saliency"} do
  projs[rule], where = viz.project(model, examples, {layer = "conv2", rule = rule})
end
for i = 1, examples:size(1) do
  tiles[#tiles + 1] = image.normalize(examples[i], "minmax")
  for _, rule in ipairs {"deconvnet", "guided", "saliency"} do
    tiles[#tiles + 1] = image.normalize(projs[rule][i], "symmetric")
  end
end
plot.imageGrid(out .. "/methods_conv2.png", tiles, {normalize = "none", ncol = 4, scale = 3})
md("## Deconvnet, guided backpropagation, saliency\n")
local units = {}
for i, w in ipairs(where) do units[i] = ("%s: map %d at (%d,%d)"):format(classes[i], w.map, w.y, w.x) end
picture("methods_conv2.png", "One test image per class (rows, airplane to truck); columns: the image, then the "
  .. "projection of its strongest conv2 activation by the deconvnet (ReLU on the signal), guided "
  .. "backpropagation (ReLU on the signal and the forward mask) and the plain gradient (forward mask "
  .. "only), each on a symmetric scale. Units: " .. table.concat(units, "; ") .. ".")

------------------------------------------------------------------------ occlusion

stage("occlusion sensitivity")
local occIdx = perClass(args.per_class)
local occImages, occLabels = pick(occIdx)
local ncol = math.min(#occIdx, args.per_class == 1 and 5 or 2 * args.per_class)
local results = {}
for i = 1, #occIdx do
  results[i] = viz.occlusion(model, occImages[i], {size = args.occlusion_size, stride = args.occlusion_stride,
    fill = args.occlusion_fill, label = occLabels[i], layer = "relu2"})
end
-- The maps of all images tiled into one matrix (rows of `ncol` images), a blank (NaN) line
-- between them, drawn as one heatmap; the y axis names the classes of each row of images.
local R, Q = #results[1].rows, #results[1].cols
local nrow = math.ceil(#results / ncol)
local xt, yt = {}, {}
for j = 1, ncol * (Q + 1) - 1 do xt[j] = "" end
for i = 1, nrow * (R + 1) - 1 do yt[i] = "" end
for b = 0, nrow - 1 do
  local names, seen = {}, {}
  for k = b * ncol + 1, math.min(#results, (b + 1) * ncol) do
    local n = classes[occLabels[k]]
    if not seen[n] then names[#names + 1], seen[n] = n, true end
  end
  yt[b * (R + 1) + (R + 1) // 2] = table.concat(names, " / ")
end
local function heatmap(file, field, title, cbrange, palette, value)
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
  plot.heatmap(out .. "/" .. file, m, {title = title, cbrange = cbrange, palette = palette, width = 260 * ncol + 220,
    height = 250 * nrow + 60, xticlabels = xt, yticlabels = yt})
end
plot.imageGrid(out .. "/occlusion_images.png", occImages, {normalize = "none", ncol = ncol, scale = 4, padding = 4})
heatmap("occlusion_prob.png", "prob", "probability of the true class")
heatmap("occlusion_class.png", "class", "most probable class (1 airplane ... 10 truck)", {0.5, #classes + 0.5})
heatmap("occlusion_feature.png", "feature", "relative change of the strongest relu2 map's total activation",
  nil, "diverging", function(r, v) return v / r.base.feature - 1 end)
local occRows = {}
for i, r in ipairs(results) do
  local lo, hi = r.prob:min(), r.prob:max()
  occRows[i] = {tostring(i), classes[occLabels[i]], classes[r.base.class], ("%.3f"):format(r.base.prob),
    ("%.3f"):format(lo), ("%.3f"):format(hi), tostring(r.map), ("%.2f"):format(r.base.feature)}
end
md("## Occlusion sensitivity\n")
md("A %dx%d square of value %g slides over each image in steps of %d pixels; each map cell is one "
  .. "position of the square's centre (the maps are half the image's resolution, aligned with it). "
  .. "%d test images per class, laid out in rows of %d, in the same places in every figure.\n",
  args.occlusion_size, args.occlusion_size, args.occlusion_fill, args.occlusion_stride, args.per_class, ncol)
picture("occlusion_images.png", "The images.")
picture("occlusion_prob.png", "Probability of the true class with the square centred at each cell: dark where "
  .. "covering that part hurts the classification.")
picture("occlusion_class.png", "Most probable class with the square centred at each cell (classes: "
  .. table.concat((function()
    local t = {}
    for c, n in ipairs(classes) do t[c] = c .. " " .. n end
    return t
  end)(), ", ") .. ").")
picture("occlusion_feature.png", "Total activation (sum over positions) of the strongest relu2 feature map, chosen "
  .. "on the unoccluded image (the map holding its largest activation), with the square at each cell: its relative "
  .. "change from the unoccluded value (blue: lower, red: higher). The grey square removes structure where it "
  .. "covers the image and adds its own edges, so the change has both signs.")
md("%s\n", metrics.markdownTable({"image", "true class", "predicted", "p(true)", "min p(true) occluded",
  "max p(true) occluded", "relu2 map", "its total activation"}, occRows))

------------------------------------------------------------------------ invariance

stage("invariance to translation, rotation and scaling")
local invPer = args.quick and 2 or 5
local invIdx = perClass(invPer)
local SHOWN = {1, 3, 5, 7, 9} -- classes whose first image gets its own probability curve
local invImages, invLabels = pick(invIdx)
local LAYERS = {"pool1", "pool2", "relu3"}
local LAYER_LABEL = {pool1 = "conv1 block (pool1)", pool2 = "conv2 block (pool2)", relu3 = "fc1 (relu3)"}
local function range(a, b, step)
  local t = {}
  for i = 0, math.floor((b - a) / step + 0.5) do t[#t + 1] = a + i * step end
  return t
end
local TRANSFORMS = {
  {name = "translate_x", amounts = range(-8, 8, args.quick and 2 or 1), unit = "horizontal shift, pixels"},
  {name = "translate_y", amounts = range(-8, 8, args.quick and 2 or 1), unit = "vertical shift, pixels"},
  {name = "rotate", amounts = range(0, 360, args.quick and 45 or 15), unit = "rotation, degrees"},
  {name = "scale", amounts = range(0.6, 1.6, args.quick and 0.2 or 0.1), unit = "scale factor"},
}
md("## Invariance\n")
md("%d test images (%d per class) are transformed (pixels moved in from outside are 0); for the outputs "
  .. "of the conv1 block (pool1), the conv2 block (pool2) and fc1 (relu3), the distance of the "
  .. "transformed image's feature vector from the untransformed one, relative to the latter's length "
  .. "(||φ(Tx) − φ(x)|| / ||φ(x)||, averaged over the images), and the probability of the true class.\n",
  #invIdx, #invIdx // #classes)
for _, t in ipairs(TRANSFORMS) do
  local r = viz.invariance(model, invImages, {transform = t.name, amounts = t.amounts, layers = LAYERS,
    labels = invLabels})
  local series = {}
  for _, l in ipairs(LAYERS) do series[#series + 1] = {name = LAYER_LABEL[l], x = t.amounts, y = r.distance[l], style = "linespoints"} end
  plot.lines(out .. "/invariance_" .. t.name .. "_distance.png", {title = "feature distance under " .. t.name,
    xlabel = t.unit, ylabel = "relative Euclidean distance", series = series, legend = "top left"})
  local ps = {}
  for _, c in ipairs(SHOWN) do
    local i = (c - 1) * invPer + 1 -- the first image of class c
    local y = {}
    for a = 1, #t.amounts do y[a] = r.prob[a][i] end
    ps[#ps + 1] = {name = ("%s (test #%d)"):format(classes[invLabels[i]], invIdx[i]), x = t.amounts, y = y}
  end
  ps[#ps + 1] = {name = ("mean over %d images"):format(#invIdx), x = t.amounts, y = r.meanProb, style = "linespoints"}
  plot.lines(out .. "/invariance_" .. t.name .. "_prob.png", {title = "probability of the true class under " .. t.name,
    xlabel = t.unit, ylabel = "p(true class)", yrange = {0, 1}, series = ps, legend = "outside", width = 1000})
  picture("invariance_" .. t.name .. "_distance.png", ("Relative feature distance against the %s."):format(t.unit))
  picture("invariance_" .. t.name .. "_prob.png", ("Probability of the true class against the %s: the first "
    .. "image of five classes, and the mean over all."):format(t.unit))
end

------------------------------------------------------------------------ correspondence

stage("correspondence analysis")
local perCls = args.quick and 5 or 10
local SQ = 8
local REGIONS = {
  {name = "centre", region = {11, 11, SQ, SQ}},
  {name = "top", region = {3, 11, SQ, SQ}},
  {name = "bottom", region = {19, 11, SQ, SQ}},
  {name = "left", region = {11, 3, SQ, SQ}},
  {name = "right", region = {11, 19, SQ, SQ}},
}
local DRAWS = args.quick and 2 or 5
local delta = {} -- delta[region][layer][class]
for _, reg in ipairs(REGIONS) do delta[reg.name] = {} end
delta.random = {}
for _, l in ipairs(LAYERS) do
  for _, reg in ipairs(REGIONS) do delta[reg.name][l] = {} end
  delta.random[l] = {}
end
for c = 1, #classes do
  local imgs = pick(table.move(byClass[c], 1, perCls, 1, {}))
  for _, reg in ipairs(REGIONS) do
    local d = viz.correspondence(model, imgs, {layers = LAYERS, region = reg.region, fill = args.occlusion_fill})
    for _, l in ipairs(LAYERS) do delta[reg.name][l][c] = d[l] end
  end
  local sums = {}
  for _ = 1, DRAWS do
    local d = viz.correspondence(model, imgs, {layers = LAYERS, region = viz.randomRegions(perCls, 28, 28, SQ, SQ),
      fill = args.occlusion_fill})
    for _, l in ipairs(LAYERS) do sums[l] = (sums[l] or 0) + d[l] / DRAWS end
  end
  for _, l in ipairs(LAYERS) do delta.random[l][c] = sums[l] end
end
local function meanStd(v)
  local s, q = 0, 0
  for _, x in ipairs(v) do s = s + x end
  local m = s / #v
  for _, x in ipairs(v) do q = q + (x - m) ^ 2 end
  return m, math.sqrt(q / #v)
end
local regionNames = {}
for _, reg in ipairs(REGIONS) do regionNames[#regionNames + 1] = reg.name end
regionNames[#regionNames + 1] = "random"
local regionText = {
  centre = "rows 11–18, columns 11–18", top = "rows 3–10, columns 11–18", bottom = "rows 19–26, columns 11–18",
  left = "rows 11–18, columns 3–10", right = "rows 11–18, columns 19–26",
  random = ("a random %dx%d square per image, mean of %d draws"):format(SQ, SQ, DRAWS),
}
local summary = {}
for _, r in ipairs(regionNames) do
  local row = {r, regionText[r]}
  for _, l in ipairs(LAYERS) do
    local m, s = meanStd(delta[r][l])
    row[#row + 1] = ("%.3f ± %.3f"):format(m, s)
  end
  summary[#summary + 1] = row
end
local head = {"occluded region", "where"}
for _, l in ipairs(LAYERS) do head[#head + 1] = "Δ " .. LAYER_LABEL[l] end
local corr = {("# Correspondence analysis\n\nFor each class, %d test images of that class; an %dx%d square of value %g "
  .. "occludes the same region in each; ε_i = sign(φ(x_i) − φ(x_i occluded)) for φ a layer's output; Δ = the "
  .. "mean over image pairs of the Hamming distance of ε_i and ε_j as a fraction of the layer's size (lower: the "
  .. "features change more consistently). Mean ± standard deviation over the %d classes:\n"):format(perCls, SQ, SQ,
  args.occlusion_fill, #classes), metrics.markdownTable(head, summary)}
for _, l in ipairs(LAYERS) do
  local rowsL = {}
  for _, r in ipairs(regionNames) do
    local row = {r}
    for c = 1, #classes do row[#row + 1] = ("%.3f"):format(delta[r][l][c]) end
    rowsL[#rowsL + 1] = row
  end
  local h = {"region"}
  for c = 1, #classes do h[#h + 1] = classes[c] end
  corr[#corr + 1] = ("\n## %s, per class\n\n%s"):format(LAYER_LABEL[l], metrics.markdownTable(h, rowsL))
end
corr[#corr + 1] = "\nReading the table: in the convolutional blocks an occluder changes only the components within "
  .. "its reach, the rest keeping sign 0 in every image; a fixed region therefore compares every image on the same "
  .. "components, random regions on different ones, and part of the gap to the random row is location alone. fc1's "
  .. "components have no spatial layout, so its column compares like with like.\n"
local corrText = table.concat(corr, "\n") .. "\n"
lunet.fileutil.writeAtomic(out .. "/correspondence.md", corrText)
md("%s", corrText:gsub("^# ", "## "):gsub("\n## ", "\n### "))

------------------------------------------------------------------------ evolution

stage("feature evolution grids")
md("## Feature evolution during training\n")
local marksText = {}
for i, m in ipairs(marks) do marksText[i] = tostring(m) end
for _, layer in ipairs {"conv1", "conv2"} do
  local file = "evolution_" .. layer .. ".png"
  recorders[layer]:grid(out .. "/" .. file)
  picture(file, ("%s feature maps %d–%d (rows) at iterations %s (columns) of a fresh run (Adam 1e-3, batch %d): "
    .. "the deconvnet projection of each map's strongest activation over %d test images, cropped to its "
    .. "receptive field, symmetric scale."):format(layer, EVOLUTION_MAPS[1], EVOLUTION_MAPS[#EVOLUTION_MAPS],
    table.concat(marksText, ", "), args.batch, probe:size(1)))
end

------------------------------------------------------------------------ the index page

local page = {("# Part 2: Zeiler & Fergus's visualizations of LeNet-5\n\nModel: %s; test accuracy %.3f. "
  .. "Seed %d%s; wall time %.0f s. Written by experiments/cifar10_deconvnet.lua (lunet.viz).\n"):format(source,
  testAcc, args.seed, args.quick and ", --quick" or "", lunet.wallclock() - t0)}
lunet.fileutil.writeAtomic(out .. "/index.md", page[1] .. "\n" .. table.concat(index, "\n") .. "\n")
stage("wrote " .. out .. "/index.md")
