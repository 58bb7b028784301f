local lunet = require "lunet"
local nn, optim, data = lunet.nn, lunet.optim, lunet.data
local train, checkpoint, cli = lunet.train, lunet.checkpoint, lunet.cli

local H = require "spec.helper"
local bars, smallNet = H.bars, H.smallNet

describe("train.classifier", function()
  it("learns a small synthetic problem: loss falls, accuracy far above chance", function()
    local trainSet, testSet = bars(200, 1), bars(100, 2)
    lunet.manualSeed(3)
    local model = smallNet()
    local log = os.tmpname()
    local hist = train.classifier{model = model, criterion = nn.CrossEntropyLoss(),
      optimizer = optim.Adam(model, {lr = 1e-2}), loader = data.Loader(trainSet, {batchSize = 20}),
      iterations = 150, test = testSet, evalEvery = 50, log = log, label = "bars",
      progressOut = io.open("/dev/null", "w")}
    assert.same({50, 100, 150}, hist.iter)
    assert.is_true(hist.train_loss[3] < hist.train_loss[1])
    assert.is_true(hist.final.test_acc > 0.9, "test accuracy " .. hist.final.test_acc)
    local csv = lunet.metrics.readCSV(log)
    os.remove(log)
    assert.same({50, 100, 150}, csv.iter)
    assert.near(hist.final.test_acc, csv.test_acc[3], 1e-6)
    local acc, loss = train.evaluate(model, nn.CrossEntropyLoss(), testSet, 30)
    assert.near(hist.final.test_acc, acc, 1e-9)
    assert.is_true(loss < 1)
    assert.equal(100, train.predict(model, testSet):eq(testSet.labels):sum() / acc)
  end)
  it("stops at the first non-finite loss and names the iteration", function()
    local ds = bars(20, 1)
    ds.images[3][1][1][1] = 0 / 0
    local model = smallNet()
    assert.has_error(function()
      train.classifier{model = model, criterion = nn.CrossEntropyLoss(), optimizer = optim.SGD(model, {lr = 0.1}),
        loader = data.Loader(ds, {batchSize = 20, shuffle = false}), iterations = 5, label = "nan run",
        progressOut = io.open("/dev/null", "w")}
    end, "train.classifier: loss is NaN at iteration 1 (nan run); stopping")
  end)
  it("rejects a bad iteration count", function()
    local model = smallNet()
    assert.has_error(function()
      train.classifier{model = model, criterion = nn.CrossEntropyLoss(), optimizer = optim.SGD(model),
        loader = data.Loader(bars(4, 1), {batchSize = 2}), iterations = 0}
    end, "train.classifier: iterations must be a positive integer, got 0")
  end)
end)

describe("checkpoint", function()
  it("restores parameters, optimizer state and the generator", function()
    local model = smallNet()
    local opt = optim.Adam(model, {lr = 1e-2})
    local x, y = bars(8, 4).images, bars(8, 4).labels
    local crit = nn.CrossEntropyLoss()
    local function step()
      train.step(model, crit, opt, x, y)
    end
    step()
    local path = os.tmpname()
    checkpoint.save(path, {model = model, optimizer = opt, iteration = 1, config = {lr = 1e-2}})
    local r1 = lunet.rand(3):totable()
    step()
    local after = model:parameters()[1]:clone()
    local model2 = smallNet()
    local opt2 = optim.Adam(model2, {lr = 1e-2})
    local info = checkpoint.load(path, model2, opt2)
    assert.equal(1, info.iteration)
    assert.equal(1e-2, info.config.lr)
    assert.same(r1, lunet.rand(3):totable())
    model, opt = model2, opt2
    step()
    assert.same(after:totable(), model2:parameters()[1]:totable())
    local other = nn.Sequential():add(nn.Linear(3, 2))
    assert.has_error(function() checkpoint.load(path, other) end,
      ("checkpoint.load: %s holds 4 parameter tensors but the model has 2 (another model?)"):format(path))
    local wide = nn.Sequential():add(nn.Conv2d(1, 5, 3)):add(nn.Linear(5, 4))
    local ok, err = pcall(checkpoint.load, path, wide)
    assert.is_false(ok)
    assert.truthy(err:find("parameter 1 is (4,1,3,3) in " .. path .. " but (5,1,3,3) in the model", 1, true))
    os.remove(path)
    lunet.save(path, {1, 2})
    assert.has_error(function() checkpoint.load(path, model) end, "checkpoint.load: " .. path .. " is not a lunet checkpoint")
    os.remove(path)
  end)
end)

describe("cli", function()
  it("parses the common flags, seeds the generator and creates the output folder", function()
    local out = os.tmpname()
    os.remove(out)
    local p = cli.parser("t", "test")
    local args = cli.parse(p, {"--out", out .. "/x", "--seed", "9", "--threads", "1", "--quick"})
    assert.equal(9, args.seed)
    assert.is_true(args.quick)
    assert.equal(1, lunet.getNumThreads())
    assert.equal("directory", require("lfs").attributes(out .. "/x", "mode"))
    local a = lunet.rand(2):totable()
    lunet.manualSeed(9)
    assert.same(a, lunet.rand(2):totable())
    os.remove(out .. "/x")
    os.remove(out)
    assert.equal(out .. "/cache", args.cache)
    assert.equal("results/t", cli.parser("t", "test"):parse({}).out)
    lunet.setNumThreads(2)
  end)
end)

describe("train.classifier checkpoints", function()
  -- One run of 60 iterations; `stopAt` interrupts it (as a crash would) after that evaluation.
  local function run(dir, opts)
    lunet.manualSeed(11)
    local trainSet, testSet = bars(120, 5), bars(40, 6)
    lunet.manualSeed(12)
    local model = smallNet()
    model:add(nn.Dropout(0.2)) -- draws from the generator every step: its state must resume too
    model:add(nn.Linear(4, 4))
    local opt = optim.Adam(model, {lr = 1e-2})
    local hist = train.classifier{model = model, criterion = nn.CrossEntropyLoss(), optimizer = opt,
      loader = data.Loader(trainSet, {batchSize = 10}), iterations = 60, test = testSet, evalEvery = 10,
      log = dir .. "/metrics.csv", checkpoint = opts.checkpoint and dir .. "/run.ckpt", checkpointEvery = 20,
      resume = opts.resume, progressOut = io.open("/dev/null", "w"),
      onEval = function(it) if it == opts.stopAt then error("interrupted at " .. it, 0) end end}
    return model, hist
  end
  local function read(path)
    local f = assert(io.open(path, "rb"))
    local s = f:read("a")
    f:close()
    return s
  end

  it("a resumed run ends bit-identical to an uninterrupted one, CSV included", function()
    local a, b = os.tmpname(), os.tmpname()
    os.remove(a); os.remove(b)
    data.mkdirs(a); data.mkdirs(b)
    local whole = run(a, {})
    assert.has_error(function() run(b, {checkpoint = true, stopAt = 50}) end, "interrupted at 50")
    local resumed, hist = run(b, {checkpoint = true, resume = true})
    local pa, pb = whole:parameters(), resumed:parameters()
    for i = 1, #pa do assert.same(pa[i]:totable(), pb[i]:totable()) end
    assert.equal(read(a .. "/metrics.csv"), read(b .. "/metrics.csv"))
    assert.same({10, 20, 30, 40, 50, 60}, hist.iter)
    -- a finished run comes back at once with its history
    local again, h2 = run(b, {checkpoint = true, resume = true, stopAt = 10})
    assert.same(hist.test_acc, h2.test_acc)
    assert.same(pa[1]:totable(), again:parameters()[1]:totable())
    for _, d in ipairs{a, b} do
      os.remove(d .. "/metrics.csv"); os.remove(d .. "/run.ckpt"); os.remove(d)
    end
  end)
  it("the same seed gives the same metrics CSV, run to run", function()
    local a, b = os.tmpname(), os.tmpname()
    os.remove(a); os.remove(b)
    data.mkdirs(a); data.mkdirs(b)
    run(a, {})
    run(b, {})
    assert.equal(read(a .. "/metrics.csv"), read(b .. "/metrics.csv"))
    for _, d in ipairs{a, b} do os.remove(d .. "/metrics.csv"); os.remove(d) end
  end)
  it("rejects a checkpoint interval that is not a multiple of the evaluation interval", function()
    local model = smallNet()
    assert.has_error(function()
      train.classifier{model = model, criterion = nn.CrossEntropyLoss(), optimizer = optim.SGD(model),
        loader = data.Loader(bars(4, 1), {batchSize = 2}), iterations = 10, evalEvery = 4, checkpointEvery = 6}
    end, "train.classifier: checkpointEvery must be a positive multiple of evalEvery (4), got 6")
  end)
end)

describe("train.step", function()
  it("does one update and returns the loss before it and the logits", function()
    lunet.manualSeed(4)
    local model = nn.Sequential():add(nn.Linear(3, 2))
    local crit, opt = nn.CrossEntropyLoss(), optim.SGD(model, {lr = 0.5})
    local x, y = lunet.randn(4, 3), lunet.tensor({1, 2, 2, 1}, "int")
    local before = crit:forward(model:forward(x), y)
    local loss, out = train.step(model, crit, opt, x, y)
    assert.near(before, loss, 1e-6)
    assert.same({4, 2}, out:size())
    assert.is_true(crit:forward(model:forward(x), y) < loss)
  end)
end)
