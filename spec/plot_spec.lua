local lunet = require "lunet"
local plot = require "lunet.plot"
local image = require "lunet.image"
local metrics = require "lunet.metrics"

local function err(fn, ...)
  local ok, e = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return tostring(e)
end

local PNG_SIGNATURE = "\137PNG\r\n\26\n"

-- Check `path` holds a PNG of width × height pixels.
local function assertPng(path, width, height)
  local f = assert(io.open(path, "rb"))
  local head = f:read(8)
  f:close()
  assert.equal(PNG_SIGNATURE, head)
  local size = image.load(path):size()
  assert.equal(height, size[2])
  assert.equal(width, size[3])
end

local dir
setup(function()
  dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir " .. dir))
end)
teardown(function()
  os.execute("rm -rf " .. dir)
end)

describe("plot.lines", function()
  it("writes a PNG of the requested size, from lists and tensors, NaN and log-invalid points skipped", function()
    local path = dir .. "/lines.png"
    local x = lunet.linspace(1, 50, 50)
    plot.lines(path, {
      title = "loss of run_1 (it's \"quoted\")", xlabel = "iteration", ylabel = "loss", logy = true,
      width = 640, height = 400, legend = "bottom left", yrange = {1e-3, 10},
      series = {
        {name = "train_loss", x = x, y = x:pow(-1)},
        {name = "test", x = {1, 10, 20, 30}, y = {1, 0 / 0, 0, 0.05}, style = "linespoints"},
        {y = {2, 1, math.huge}, style = "points"},
      },
    })
    assertPng(path, 640, 400)
  end)
  it("uses 800×500 by default", function()
    local path = dir .. "/default.png"
    plot.lines(path, {series = {{y = {3, 1, 2}}}})
    assertPng(path, 800, 500)
  end)
  it("rejects bad arguments, naming what was expected", function()
    local ok1 = {series = {{y = {1, 2}}}}
    assert.matches("plot.lines: path (argument #1) must be a non-empty string, got nil",
      err(plot.lines, nil, ok1), 1, true)
    assert.matches("plot.lines: spec.series must be a non-empty list of series, got an empty list",
      err(plot.lines, dir .. "/x.png", {series = {}}), 1, true)
    assert.matches("plot.lines: series 1 (a) has 3 x values and 2 y values",
      err(plot.lines, dir .. "/x.png", {series = {{name = "a", x = {1, 2, 3}, y = {1, 2}}}}), 1, true)
    assert.matches("plot.lines: series 2 y[2] must be a number, got string",
      err(plot.lines, dir .. "/x.png", {series = {{y = {1}}, {y = {1, "2"}}}}), 1, true)
    assert.matches("plot.lines: series 1 y must be a 1-D tensor or a list of numbers, got 2-D (2,2)",
      err(plot.lines, dir .. "/x.png", {series = {{y = lunet.zeros(2, 2)}}}), 1, true)
    assert.matches('plot.lines: unknown spec field "ylable"',
      err(plot.lines, dir .. "/x.png", {ylable = "y", series = {{y = {1}}}}), 1, true)
    assert.matches('plot.lines: unknown series 1 field "colour"',
      err(plot.lines, dir .. "/x.png", {series = {{y = {1}, colour = "red"}}}), 1, true)
    assert.matches('plot.lines: series 1 style must be "lines", "points" or "linespoints", got dots',
      err(plot.lines, dir .. "/x.png", {series = {{y = {1}, style = "dots"}}}), 1, true)
    assert.matches("plot.lines: yrange must be {lo, hi} with finite numbers lo < hi, got {1, 0}",
      err(plot.lines, dir .. "/x.png", {yrange = {1, 0}, series = {{y = {1}}}}), 1, true)
    assert.matches("plot.lines: width must be an integer number of pixels in 16..20000, got 0",
      err(plot.lines, dir .. "/x.png", {width = 0, series = {{y = {1}}}}), 1, true)
    assert.matches("plot.lines: nothing to draw: no series has a finite point",
      err(plot.lines, dir .. "/x.png", {series = {{y = {0 / 0, math.huge}}}}), 1, true)
    assert.matches("plot.lines: nothing to draw: no series has a finite point (positive on the log axes)",
      err(plot.lines, dir .. "/x.png", {logy = true, series = {{y = {0, -1}}}}), 1, true)
    assert.matches('plot.lines: spec.legend must be "top right"',
      err(plot.lines, dir .. "/x.png", {legend = "middle", series = {{y = {1}}}}), 1, true)
  end)
  it("blames the caller's line", function()
    assert.matches("plot_spec%.lua:%d+: plot%.lines:", err(function() plot.lines(dir .. "/x.png", {}) end))
  end)
  it("reports a missing gnuplot clearly", function()
    local saved = plot.gnuplot
    plot.gnuplot = "lunet-no-such-gnuplot"
    local e = err(plot.lines, dir .. "/x.png", {series = {{y = {1, 2}}}})
    plot.gnuplot = saved
    assert.matches('plot.lines: gnuplot not found (tried "lunet-no-such-gnuplot"); install gnuplot-nox', e, 1, true)
  end)
  it("passes on gnuplot's message when gnuplot fails, leaving no file", function()
    local e = err(plot.lines, dir .. "/no-such-dir/x.png", {series = {{y = {1, 2}}}})
    assert.matches("plot.lines: gnuplot failed (exit status 1) writing " .. dir .. "/no-such-dir/x.png", e, 1, true)
    assert.matches("cannot open file", e, 1, true)
  end)
end)

describe("plot.csv", function()
  it("plots logged columns against one of them, gaps skipped", function()
    local csv = dir .. "/metrics.csv"
    local log = metrics.Logger.new(csv, {"iter", "loss", "test_acc"})
    for i = 1, 30 do log:write{iter = i * 10, loss = 2 / i, test_acc = i % 10 == 0 and i / 40 or nil} end
    log:close()
    local path = dir .. "/csv.png"
    plot.csv(path, {file = csv, x = "iter", y = {"loss", "test_acc"}, title = "run", width = 500, height = 300})
    assertPng(path, 500, 300)
    plot.csv(path, {file = csv, x = "iter", y = "test_acc", style = "points"})
    assertPng(path, 800, 500)
  end)
  it("names a missing column and the columns there are", function()
    local csv = dir .. "/m2.csv"
    local log = metrics.Logger.new(csv, {"iter", "loss"})
    log:write{iter = 1, loss = 1}
    log:close()
    assert.matches('plot.csv: ' .. csv .. ' has no column "acc" (columns: iter, loss)',
      err(plot.csv, dir .. "/x.png", {file = csv, x = "iter", y = "acc"}), 1, true)
    assert.matches("plot.csv: metrics.readCSV: cannot open",
      err(plot.csv, dir .. "/x.png", {file = dir .. "/none.csv", x = "iter", y = "loss"}), 1, true)
    assert.matches("plot.csv: spec.x must be a column name",
      err(plot.csv, dir .. "/x.png", {file = csv, y = "loss"}), 1, true)
    assert.matches("plot_spec%.lua:%d+: plot%.csv: series 1 %(loss%) style", err(function()
      plot.csv(dir .. "/x.png", {file = csv, x = "iter", y = "loss", style = "bars"})
    end))
  end)
end)

describe("plot.heatmap", function()
  it("draws a confusion matrix with labels and values, and a signed map", function()
    local path = dir .. "/cm.png"
    plot.heatmap(path, lunet.tensor({{5, 1}, {2, 7}}, "int"), {
      title = "confusion", values = true, xticlabels = {"cat", "dog"}, yticlabels = {"cat", "dog"},
      width = 400, height = 380,
    })
    assertPng(path, 400, 380)
    plot.heatmap(path, {{-1, 0.5}, {0 / 0, 2}}, {palette = "diverging"})
    assertPng(path, 640, 560)
    plot.heatmap(path, lunet.full({3, 3}, 2), {palette = "gray", cbrange = {0, 4}})
    assertPng(path, 640, 560)
  end)
  it("draws categories in distinct colours, the colour bar naming them, and leaves empty tick labels out", function()
    local path = dir .. "/cat.png"
    plot.heatmap(path, {{1, 2}, {3, 0 / 0}}, {categories = {"airplane", "bird", "cat"}, xticlabels = {"", ""},
      yticlabels = {"first", ""}, width = 400, height = 300})
    assertPng(path, 400, 300)
    local g = image.load(path)
    -- three distinct colours (tab10's first three) appear in the drawing
    local seen = {}
    for _, rgb in ipairs {{0x1f, 0x77, 0xb4}, {0xff, 0x7f, 0x0e}, {0x2c, 0xa0, 0x2c}} do
      local d = (g:select(1, 1) - rgb[1] / 255):abs() + (g:select(1, 2) - rgb[2] / 255):abs()
        + (g:select(1, 3) - rgb[3] / 255):abs()
      seen[#seen + 1] = d:min() < 0.02
    end
    assert.same({true, true, true}, seen)
    assert.matches("plot.heatmap: opts.categories must be a list of 1..10 names, got 0 names",
      err(plot.heatmap, path, {{1}}, {categories = {}}), 1, true)
    assert.matches("plot.heatmap: opts.categories sets the colours and their range; leave out opts.palette and opts.cbrange",
      err(plot.heatmap, path, {{1}}, {categories = {"a"}, palette = "gray"}), 1, true)
  end)
  it("rejects bad matrices and options", function()
    local p = dir .. "/x.png"
    assert.matches("plot.heatmap: matrix must be 2-D (rows,columns), got 3-D (1,2,2)",
      err(plot.heatmap, p, lunet.zeros(1, 2, 2)), 1, true)
    assert.matches("plot.heatmap: matrix row 2 must be a list of 2 numbers like row 1",
      err(plot.heatmap, p, {{1, 2}, {3}}), 1, true)
    assert.matches("plot.heatmap: matrix[1][2] must be a number, got string",
      err(plot.heatmap, p, {{1, "2"}}), 1, true)
    assert.matches("plot.heatmap: matrix[1][1] is infinite",
      err(plot.heatmap, p, {{math.huge}}), 1, true)
    assert.matches("plot.heatmap: every value of the matrix is NaN", err(plot.heatmap, p, {{0 / 0}}), 1, true)
    assert.matches("plot.heatmap: matrix is empty (0×0)", err(plot.heatmap, p, {}), 1, true)
    assert.matches('plot.heatmap: opts.palette must be "viridis", "gray" or "diverging", got jet',
      err(plot.heatmap, p, {{1}}, {palette = "jet"}), 1, true)
    assert.matches("plot.heatmap: opts.xticlabels must be a list of 2 labels, got 1 labels",
      err(plot.heatmap, p, {{1, 2}}, {xticlabels = {"a"}}), 1, true)
  end)
end)

describe("plot.imageGrid", function()
  -- Five 1×3×2 images with distinct values; image k holds k*10 + (0..5).
  local function inputs()
    local x = lunet.zeros(5, 1, 3, 2)
    for k = 1, 5 do
      for r = 1, 3 do
        for c = 1, 2 do x[k][1][r][c] = k * 10 + (r - 1) * 2 + (c - 1) end
      end
    end
    return x
  end

  it("draws a title, row and column labels around the grid, the grid itself unchanged", function()
    local path = dir .. "/labelled.png"
    local x = inputs()
    local bare = plot.imageGrid(dir .. "/bare.png", x, {scale = 8, ncol = 3})
    local g = plot.imageGrid(path, x, {scale = 8, ncol = 3, title = "five images", rowLabels = {"row one", "row two"},
      colLabels = {"a", "b", "c"}})
    assert.same(bare:totable(), g:totable())
    local drawn = image.load(path)
    assert.is_true(drawn:size(2) > g:size(2) and drawn:size(3) > g:size(3))
    assert.matches("plot.imageGrid: opts.rowLabels must be a list of 2 labels, got 1 labels",
      err(plot.imageGrid, path, x, {ncol = 3, rowLabels = {"one"}}), 1, true)
    assert.matches("plot.imageGrid: opts.title must be a string, got number",
      err(plot.imageGrid, path, x, {title = 5}), 1, true)
  end)

  it("lays tiles out with exact geometry, each min-max normalized and upscaled", function()
    local path = dir .. "/grid.png"
    local x = inputs()
    local g = plot.imageGrid(path, x, {scale = 2, padding = 1, ncol = 3, padValue = 0.25})
    -- 2 rows of 3 tiles of 6×4 pixels, 1 px around each
    assert.same({1, 2 * (6 + 1) + 1, 3 * (4 + 1) + 1}, g:size())
    local G = g:totable()[1]
    for k = 1, 5 do
      local top, left = 1 + (k - 1) // 3 * 7 + 1, 1 + (k - 1) % 3 * 5 + 1
      for r = 1, 6 do
        for c = 1, 4 do
          local v = ((r - 1) // 2 * 2 + (c - 1) // 2) / 5 -- (x - min) / (max - min)
          assert.is_true(math.abs(G[top + r - 1][left + c - 1] - v) < 1e-6,
            string.format("tile %d pixel (%d,%d) is %g, expected %g", k, r, c, G[top + r - 1][left + c - 1], v))
        end
      end
    end
    -- padding rows/columns and the empty sixth slot hold padValue
    for c = 1, 16 do
      assert.equal(0.25, G[1][c])
      assert.equal(0.25, G[8][c])
    end
    for r = 9, 14 do
      for c = 12, 15 do assert.equal(0.25, G[r][c]) end
    end
    -- the file holds the same picture, to 8 bits
    assertPng(path, 16, 15)
    local back = image.load(path)
    assert.is_true((back[1] - g[1]):abs():max() <= 0.5 / 255 + 1e-6)
  end)
  it("picks scale and columns by default: tiles of at least 40 px, ceil(sqrt(N)) per row", function()
    local g = plot.imageGrid(dir .. "/g2.png", lunet.randn(32, 1, 5, 5))
    -- scale 8 (40 px tiles), 6 columns, 6 rows, padding 2
    assert.same({1, 6 * 42 + 2, 6 * 42 + 2}, g:size())
    g = plot.imageGrid(dir .. "/g3.png", lunet.rand(3, 28, 28), {padding = 0})
    assert.same({1, 2 * 56, 2 * 56}, g:size())
  end)
  it("normalizes symmetric maps around mid grey, or not at all", function()
    local x = lunet.tensor{{{{-2, 0, 1}}}}
    local g = plot.imageGrid(dir .. "/s.png", x, {normalize = "symmetric", scale = 1, padding = 0})
    assert.same({{{0, 0.5, 0.75}}}, g:totable())
    g = plot.imageGrid(dir .. "/n.png", lunet.tensor{{{{0.2, 0.4}}}}, {normalize = "none", scale = 1, padding = 0})
    assert.is_true(math.abs(g[1][1][2] - 0.4) < 1e-7)
  end)
  it("takes a list of C×H×W tensors, RGB included", function()
    local a, b = lunet.rand(3, 4, 4), lunet.rand(3, 4, 4)
    local path = dir .. "/rgb.png"
    local g = plot.imageGrid(path, {a, b}, {scale = 1, padding = 1})
    assert.same({3, 6, 11}, g:size())
    assertPng(path, 11, 6)
    -- channels are normalized together: image b's tile is (b - min b) / (max b - min b)
    local nb = (b - b:min()) / (b:max() - b:min())
    assert.is_true((g:narrow(2, 2, 4):narrow(3, 7, 4) - nb):abs():max() < 1e-6)
  end)
  it("rejects bad images and options", function()
    local p = dir .. "/x.png"
    assert.matches("plot.imageGrid: images must have 1 (gray) or 3 (RGB) channels, got C = 2 in (1,2,3,3)",
      err(plot.imageGrid, p, lunet.zeros(1, 2, 3, 3)), 1, true)
    assert.matches("plot.imageGrid: images must be 4-D (N,C,H,W), 3-D (N,H,W) or a list of (C,H,W) tensors, got 2-D (3,3)",
      err(plot.imageGrid, p, lunet.zeros(3, 3)), 1, true)
    assert.matches("plot.imageGrid: images[2] is (1,3,3) but images[1] is (1,2,2); all must have one shape",
      err(plot.imageGrid, p, {lunet.zeros(1, 2, 2), lunet.zeros(1, 3, 3)}), 1, true)
    assert.matches("plot.imageGrid: images must be a tensor or a non-empty list of (C,H,W) tensors, got an empty list",
      err(plot.imageGrid, p, {}), 1, true)
    assert.matches('plot.imageGrid: opts.normalize must be "minmax", "symmetric" or "none", got max',
      err(plot.imageGrid, p, lunet.zeros(1, 2, 2), {normalize = "max"}), 1, true)
    assert.matches("plot.imageGrid: opts.scale must be an integer in 1..4096, got 1.5",
      err(plot.imageGrid, p, lunet.zeros(1, 2, 2), {scale = 1.5}), 1, true)
    assert.matches('plot.imageGrid: unknown opts field "cols"',
      err(plot.imageGrid, p, lunet.zeros(1, 2, 2), {cols = 2}), 1, true)
  end)
  it("is reachable as lunet.plot", function()
    assert.equal(plot, lunet.plot)
  end)
end)
