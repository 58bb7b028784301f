local lunet = require "lunet"
local metrics = require "lunet.metrics"

-- The message of the error fn raises (fn must fail).
local function err(fn, ...)
  local ok, e = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return tostring(e)
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

describe("metrics.accuracy", function()
  it("counts rows whose largest score is at the label", function()
    local logits = lunet.tensor{{0.1, 2, 0}, {3, 1, 0}, {0, 0, 5}, {1, 0, 0}, {0, 4, 4.5}}
    local labels = lunet.tensor({2, 1, 1, 2, 3}, "int")
    local frac, n = metrics.accuracy(logits, labels)
    assert.equal(3, n)
    assert.equal(3 / 5, frac)
    -- float labels work as well
    assert.equal(3 / 5, metrics.accuracy(logits, labels:float()))
    assert.equal(1, metrics.accuracy(lunet.tensor{{0, 1}}, lunet.tensor({2}, "int")))
  end)
  it("rejects bad shapes", function()
    local labels = lunet.tensor({1, 2}, "int")
    assert.matches("metrics.accuracy: logits must be 2-D (N,K), got 1-D (2)",
      err(metrics.accuracy, lunet.zeros(2), labels), 1, true)
    assert.matches("metrics.accuracy: labels must be 1-D of size 3 (one per example), got 1-D (2)",
      err(metrics.accuracy, lunet.zeros(3, 4), labels), 1, true)
    assert.matches("metrics.accuracy: logits must be a tensor, got table",
      err(metrics.accuracy, {{1, 2}}, labels), 1, true)
    assert.matches("metrics.accuracy: labels must be class indices in 1..3 (1-based), got values in 0..1",
      err(metrics.accuracy, lunet.zeros(2, 3), lunet.tensor({0, 1}, "int")), 1, true)
    assert.matches("metrics.accuracy: no examples (N = 0)",
      err(metrics.accuracy, lunet.zeros(0, 3), lunet.zeros(0, "int")), 1, true)
  end)
  it("blames the caller's line", function()
    assert.matches("metrics_spec%.lua:%d+: metrics%.accuracy:", err(function()
      metrics.accuracy(lunet.zeros(2), lunet.zeros(2))
    end))
  end)
end)

describe("metrics.confusion", function()
  local labels = lunet.tensor({1, 1, 2, 3, 3, 3}, "int")
  local pred = lunet.tensor({1, 2, 2, 3, 1, 3}, "int")
  local want = {{1, 1, 0}, {0, 1, 0}, {1, 0, 2}}
  it("counts true class (row) against prediction (column)", function()
    local cm = metrics.confusion(pred, labels, 3)
    assert.equal("int", cm:dtype())
    assert.same(want, cm:totable())
  end)
  it("takes scores and predicts their argmax", function()
    local scores = lunet.zeros(6, 3)
    for i, p in ipairs(pred:totable()) do scores[i][p] = 1 end
    assert.same(want, metrics.confusion(scores, labels, 3):totable())
  end)
  it("rejects labels and predictions outside 1..K", function()
    assert.matches("metrics.confusion: label 2 is 4, expected an integer in 1..3",
      err(metrics.confusion, lunet.tensor({1, 1}, "int"), lunet.tensor({1, 4}, "int"), 3), 1, true)
    assert.matches("metrics.confusion: prediction 1 is 0, expected an integer in 1..3",
      err(metrics.confusion, lunet.tensor({0, 1}, "int"), lunet.tensor({1, 1}, "int"), 3), 1, true)
    assert.matches("metrics.confusion: label 1 is 1.5",
      err(metrics.confusion, lunet.tensor({1}), lunet.tensor({1.5}), 3), 1, true)
    assert.matches("metrics.confusion: K (argument #3) must be a positive integer, got 0",
      err(metrics.confusion, pred, labels, 0), 1, true)
    assert.matches("metrics.confusion: pred must be 1-D (N) class indices or 2-D (N,K) scores, got 3-D (1,1,1)",
      err(metrics.confusion, lunet.zeros(1, 1, 1), labels, 3), 1, true)
    assert.matches("metrics.confusion: labels must be 1-D of size 2",
      err(metrics.confusion, lunet.tensor({1, 2}), labels, 3), 1, true)
  end)
end)

describe("metrics.markdownTable", function()
  it("pads columns and right-aligns numeric ones", function()
    local t = metrics.markdownTable({"optimizer", "lr", "acc"},
      {{"Adam", 1e-3, 0.4912345}, {"gradient descent", 1e-3, 0.2}, {"a|b", 10, "-"}})
    assert.equal(table.concat({
      "| optimizer        |    lr |    acc |",
      "| ---------------- | ----: | -----: |",
      "| Adam             | 0.001 | 0.4912 |",
      "| gradient descent | 0.001 |    0.2 |",
      "| a\\|b             |    10 |      - |",
    }, "\n") .. "\n", t)
  end)
  it("measures width in characters, not bytes", function()
    local t = metrics.markdownTable({"µ", "x"}, {{"−0.9", "ab"}})
    assert.equal("| µ    | x   |\n| ---- | --- |\n| −0.9 | ab  |\n", t)
  end)
  it("rejects a bad header or row", function()
    assert.matches("metrics.markdownTable: header (argument #1) must be a non-empty list of column titles, got an empty table",
      err(metrics.markdownTable, {}, {}), 1, true)
    assert.matches("metrics.markdownTable: row 2 must be a list of 2 cells, got 1 cells",
      err(metrics.markdownTable, {"a", "b"}, {{1, 2}, {3}}), 1, true)
    assert.matches("metrics.markdownTable: rows (argument #2) must be a list of rows, got nil",
      err(metrics.markdownTable, {"a"}), 1, true)
  end)
end)

describe("metrics.confusionMarkdown", function()
  it("names the classes and gives each row's recall", function()
    local cm = lunet.tensor({{3, 1}, {0, 0}}, "int")
    assert.equal(table.concat({
      "| true \\ predicted | cat | dog | recall |",
      "| ---------------- | --: | --: | -----: |",
      "| cat              |   3 |   1 |   0.75 |",
      "| dog              |   0 |   0 |      - |",
    }, "\n") .. "\n", metrics.confusionMarkdown(cm, {"cat", "dog"}))
    assert.matches("|                1 |   3 |   1 |   0.75 |", metrics.confusionMarkdown(cm), 1, true)
  end)
  it("rejects a non-square matrix or the wrong number of names", function()
    assert.matches("metrics.confusionMarkdown: cm must be a square 2-D (K,K) tensor, got 2-D (2,3)",
      err(metrics.confusionMarkdown, lunet.zeros(2, 3)), 1, true)
    assert.matches("metrics.confusionMarkdown: classNames must be a list of 2 names, got 3 names",
      err(metrics.confusionMarkdown, lunet.zeros(2, 2), {"a", "b", "c"}), 1, true)
  end)
end)

describe("metrics.Logger and metrics.readCSV", function()
  local path
  before_each(function() path = os.tmpname() end)
  after_each(function() os.remove(path) end)

  it("round-trips numbers, gaps, NaN, infinities and quoted strings", function()
    local log = metrics.Logger.new(path, {"iter", "loss", "test_acc", "note"})
    log:write{iter = 10, loss = 2.25, note = 'a, "b"'}
    log:write{iter = 20, loss = 0 / 0, test_acc = 0.125, note = "line\nbreak"}
    log:write{iter = 30, loss = math.huge, note = true}
    log:close()
    assert.equal('iter,loss,test_acc,note\n10,2.25,,"a, ""b"""\n20,nan,0.125,"line\nbreak"\n30,inf,,true\n',
      read(path))
    local cols, header = metrics.readCSV(path)
    assert.same({"iter", "loss", "test_acc", "note"}, header)
    assert.same({10, 20, 30}, cols.iter)
    assert.equal(2.25, cols.loss[1])
    assert.is_true(cols.loss[2] ~= cols.loss[2])
    assert.equal(math.huge, cols.loss[3])
    local acc = cols.test_acc
    assert.is_true(acc[1] ~= acc[1] and acc[3] ~= acc[3])
    assert.equal(0.125, acc[2])
    assert.same({'a, "b"', "line\nbreak", "true"}, cols.note)
  end)
  it("flushes every row, so a crash keeps what was written", function()
    local log = metrics.Logger.new(path, {"iter", "loss"})
    assert.equal("iter,loss\n", read(path))
    log:write{iter = 1, loss = 0.5}
    assert.equal("iter,loss\n1,0.5\n", read(path))
    log:close()
  end)
  it("appends to a log with the same columns, header written once", function()
    local log = metrics.Logger.new(path, {"iter", "loss"})
    log:write{iter = 1, loss = 1}
    log:close()
    log = metrics.Logger.new(path, {"iter", "loss"}, {append = true})
    log:write{iter = 2, loss = 0.5}
    log:close()
    assert.equal("iter,loss\n1,1\n2,0.5\n", read(path))
    assert.matches('has columns "iter,loss", expected "iter,acc"',
      err(metrics.Logger.new, path, {"iter", "acc"}, {append = true}), 1, true)
    -- without append the file starts over
    metrics.Logger.new(path, {"iter", "loss"}):close()
    assert.equal("iter,loss\n", read(path))
  end)
  it("closes with a <close> variable", function()
    do
      local log <close> = metrics.Logger.new(path, {"a"})
      log:write{a = 1}
    end
    assert.equal("a\n1\n", read(path))
  end)
  it("rejects unknown columns, bad values and writes after close", function()
    local log = metrics.Logger.new(path, {"iter", "loss"})
    assert.matches('metrics.Logger:write: unknown column "los" (columns: iter, loss)',
      err(log.write, log, {los = 1}), 1, true)
    assert.matches('metrics.Logger:write: column "loss" must be a number, string or boolean, got table',
      err(log.write, log, {loss = {}}), 1, true)
    log:close()
    assert.matches("metrics.Logger:write: the log " .. path .. " is closed", err(log.write, log, {iter = 1}), 1, true)
    assert.matches('metrics.Logger.new: column "a" appears twice',
      err(metrics.Logger.new, path, {"a", "a"}), 1, true)
    assert.matches("metrics.Logger.new: columns (argument #2) must be a non-empty list of names, got nil",
      err(metrics.Logger.new, path), 1, true)
    assert.matches("metrics.Logger.new: cannot open /nonexistent-dir/x.csv",
      err(metrics.Logger.new, "/nonexistent-dir/x.csv", {"a"}), 1, true)
  end)
  it("readCSV reports missing files and ragged lines", function()
    assert.matches("metrics.readCSV: cannot open /nonexistent-dir/x.csv",
      err(metrics.readCSV, "/nonexistent-dir/x.csv"), 1, true)
    local f = assert(io.open(path, "w"))
    f:write("a,b\n1,2\n3\n")
    f:close()
    assert.matches("line 3 has 1 fields, the header has 2", err(metrics.readCSV, path), 1, true)
    f = assert(io.open(path, "w"))
    f:write('a\n"open\n')
    f:close()
    assert.matches("unterminated quoted field", err(metrics.readCSV, path), 1, true)
  end)
  it("is reachable as lunet.metrics", function()
    assert.equal(metrics, lunet.metrics)
  end)
end)
