--- lunet.plot: figures written as PNG files, with no display needed.
--
--   plot.lines(path, spec)              line plots through gnuplot (pngcairo)
--   plot.csv(path, spec)                columns of a metrics CSV, through plot.lines
--   plot.heatmap(path, matrix, opts)    a matrix as a colour image with a colour bar (gnuplot)
--   plot.imageGrid(path, images, opts)  images side by side, each normalized, as a PNG
--
-- Lines and heatmaps are drawn by gnuplot's pngcairo terminal, as Torch7's gnuplot
-- package did: the script (data inline, in datablocks) goes to a temporary file that
-- gnuplot runs; its messages come back in the error when it fails. Debian: gnuplot-nox.
-- Text is taken literally (no enhanced-text markup), so names like `test_acc` print as written.
local core = require "lunet.core"
local check = require "lunet.check"
local fileutil = require "lunet.fileutil"
local image = require "lunet.image"
local metrics = require "lunet.metrics"

local plot = {}

--- The gnuplot program run (a name on PATH or a path).
plot.gnuplot = "gnuplot"

local function checkPath(fname, path, level)
  if type(path) ~= "string" or path == "" then
    check.fail(level + 1, "%s: path (argument #1) must be a non-empty string, got %s", fname,
      type(path) == "string" and "an empty string" or type(path))
  end
  fileutil.checkOutput(fname, path, level + 1)
end

local function checkSize(fname, what, v, default, level)
  if v == nil then return default end
  if math.type(v) ~= "integer" or v < 16 or v > 20000 then
    check.fail(level + 1, "%s: %s must be an integer number of pixels in 16..20000, got %s", fname, what, tostring(v))
  end
  return v
end

local function checkRange(fname, what, r, level)
  if r == nil then return nil end
  if type(r) ~= "table" or type(r[1]) ~= "number" or type(r[2]) ~= "number" or not (r[1] < r[2])
      or not check.isFinite(r[1]) or not check.isFinite(r[2]) then
    check.fail(level + 1, "%s: %s must be {lo, hi} with finite numbers lo < hi, got %s", fname, what,
      type(r) == "table" and string.format("{%s, %s}", tostring(r[1]), tostring(r[2])) or type(r))
  end
  return r
end

-- A gnuplot string literal: single quotes take everything literally but '' for '.
local function gq(s)
  return "'" .. (tostring(s):gsub("[\r\n]", " "):gsub("'", "''")) .. "'"
end


local function num(v)
  return string.format("%.9g", v)
end

-- Run a gnuplot script that writes `path`; raise with gnuplot's messages on failure,
-- at `level` (as for error()) relative to the function calling this one.
local function runGnuplot(fname, script, path, level)
  local tmp = os.tmpname()
  local f, err = io.open(tmp, "w")
  if not f then check.fail(level + 1, "%s: cannot write gnuplot's script: %s", fname, err) end
  f:write(script)
  f:close()
  local p
  p, err = io.popen(fileutil.shellWord(tostring(plot.gnuplot)) .. " " .. fileutil.shellWord(tmp) .. " 2>&1", "r")
  if not p then
    os.remove(tmp)
    check.fail(level + 1, "%s: cannot run gnuplot: %s", fname, err)
  end
  local output = p:read("a")
  local ok, how, code = p:close()
  os.remove(tmp)
  if how == "exit" and code == 127 then
    check.fail(level + 1, "%s: gnuplot not found (tried %q); install gnuplot-nox", fname, plot.gnuplot)
  end
  if not ok then
    os.remove(path) -- gnuplot leaves an empty file behind when a plot fails
    check.fail(level + 1, "%s: gnuplot failed (%s status %s) writing %s:\n%s", fname, how, tostring(code), path,
      (output:gsub("%s+$", "")))
  end
end

-- Common header of every figure: terminal, output, title and axis labels.
local function preamble(spec, width, height, path)
  local s = {
    string.format("set terminal pngcairo noenhanced size %d,%d font 'Sans,11'", width, height),
    "set output " .. gq(path),
  }
  if spec.title then s[#s + 1] = "set title " .. gq(spec.title) end
  if spec.xlabel then s[#s + 1] = "set xlabel " .. gq(spec.xlabel) end
  if spec.ylabel then s[#s + 1] = "set ylabel " .. gq(spec.ylabel) end
  return s
end

-- --------------------------------------------------------------------- lines

local styles = {
  lines = "lines lw 2",
  points = "points pt 7 ps 0.6",
  linespoints = "linespoints lw 2 pt 7 ps 0.6",
}

local legends = {
  ["top right"] = "top right", ["top left"] = "top left", ["bottom right"] = "bottom right",
  ["bottom left"] = "bottom left", outside = "outside right top", off = false,
}

-- Colours of successive series (matplotlib's tab10), clearer than gnuplot's defaults.
local colours = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
  "#7f7f7f", "#bcbd22", "#17becf"}

-- A series' x or y values as a Lua list of numbers.
local function values(fname, what, v, level)
  if check.isTensor(v) then
    if v:dim() ~= 1 then
      check.fail(level + 1, "%s: %s must be a 1-D tensor or a list of numbers, got %d-D %s", fname, what, v:dim(), v:shapeString())
    end
    return v:totable()
  end
  if type(v) ~= "table" then
    check.fail(level + 1, "%s: %s must be a 1-D tensor or a list of numbers, got %s", fname, what, type(v))
  end
  for i = 1, #v do
    if type(v[i]) ~= "number" then
      check.fail(level + 1, "%s: %s[%d] must be a number, got %s", fname, what, i, type(v[i]))
    end
  end
  return v
end

local lineFields = {"title", "xlabel", "ylabel", "logx", "logy", "width", "height", "series",
  "xrange", "yrange", "legend"}
local seriesFields = {"name", "x", "y", "style"}

-- The body of plot.lines (and plot.csv); errors are raised at the level of their caller.
local function drawLines(fname, path, spec)
  checkPath(fname, path, 3)
  if spec == nil then check.fail(3, "%s: spec (argument #2) must be a table with a series list, got nil", fname) end
  spec = check.options(fname, spec, lineFields, 3, "spec field")
  local width = checkSize(fname, "width", spec.width, 800, 3)
  local height = checkSize(fname, "height", spec.height, 500, 3)
  checkRange(fname, "xrange", spec.xrange, 3)
  checkRange(fname, "yrange", spec.yrange, 3)
  local series = spec.series
  if type(series) ~= "table" or #series == 0 then
    check.fail(3, "%s: spec.series must be a non-empty list of series, got %s", fname,
      type(series) == "table" and "an empty list" or type(series))
  end
  local legend = legends[spec.legend or "top right"]
  if legend == nil then
    check.fail(3, "%s: spec.legend must be \"top right\", \"top left\", \"bottom right\", \"bottom left\", "
      .. "\"outside\" or \"off\", got %s", fname, tostring(spec.legend))
  end
  local s = preamble(spec, width, height, path)
  s[#s + 1] = "set grid"
  s[#s + 1] = legend and "set key " .. legend .. " Left reverse box opaque" or "unset key"
  if spec.logx then s[#s + 1] = "set logscale x" end
  if spec.logy then s[#s + 1] = "set logscale y" end
  if spec.xrange then s[#s + 1] = string.format("set xrange [%s:%s]", num(spec.xrange[1]), num(spec.xrange[2])) end
  if spec.yrange then s[#s + 1] = string.format("set yrange [%s:%s]", num(spec.yrange[1]), num(spec.yrange[2])) end
  local plots, drawn = {}, 0
  for k, sr in ipairs(series) do
    local what = string.format("series %d", k)
    sr = check.options(fname, sr, seriesFields, 3, what .. " field")
    if sr.name ~= nil then what = string.format("series %d (%s)", k, tostring(sr.name)) end
    local y = values(fname, what .. " y", sr.y, 3)
    local x
    if sr.x == nil then
      x = {}
      for i = 1, #y do x[i] = i end
    else
      x = values(fname, what .. " x", sr.x, 3)
    end
    if #x ~= #y then check.fail(3, "%s: %s has %d x values and %d y values", fname, what, #x, #y) end
    local style = styles[sr.style or "lines"]
    if not style then
      check.fail(3, "%s: %s style must be \"lines\", \"points\" or \"linespoints\", got %s", fname, what, tostring(sr.style))
    end
    s[#s + 1] = string.format("$d%d << EOD", k)
    for i = 1, #y do
      local xi, yi = x[i], y[i]
      if check.isFinite(xi) and check.isFinite(yi) and not (spec.logx and xi <= 0) and not (spec.logy and yi <= 0) then
        s[#s + 1] = num(xi) .. " " .. num(yi)
        drawn = drawn + 1
      end
    end
    s[#s + 1] = "EOD"
    plots[k] = string.format("$d%d using 1:2 with %s lc rgb '%s' %s", k, style, colours[(k - 1) % #colours + 1],
      sr.name ~= nil and "title " .. gq(sr.name) or "notitle")
  end
  if drawn == 0 then
    check.fail(3, "%s: nothing to draw: no series has a finite point%s", fname,
      (spec.logx or spec.logy) and " (positive on the log axes)" or "")
  end
  s[#s + 1] = "plot " .. table.concat(plots, ", \\\n  ")
  runGnuplot(fname, table.concat(s, "\n") .. "\n", path, 3)
end

--- A line plot written to `path` as a PNG. spec:
--   series = { {name=, x=, y=, style=}, ... }  at least one; x and y lists of numbers or
--            1-D tensors of one length (x defaults to 1..#y); style "lines" (default),
--            "points" or "linespoints"; named series appear in the legend
--   title, xlabel, ylabel; logx, logy (log scales); xrange, yrange = {lo, hi}
--   width, height in pixels (default 800×500); legend = "top right" (default), "top left",
--   "bottom right", "bottom left", "outside" or "off"
-- Points that cannot be drawn are skipped: NaN and infinite values (a diverged run, a
-- column logged every few rows), and values <= 0 on a log axis.
function plot.lines(path, spec)
  drawLines("plot.lines", path, spec)
end

local csvFields = {"file", "x", "y", "style"}
for _, k in ipairs(lineFields) do
  if k ~= "series" then csvFields[#csvFields + 1] = k end
end

--- Plot columns of a CSV file (as lunet.metrics.Logger writes) against one column.
-- spec: file (the CSV), x (column name), y (a column name or a list of them; each a
-- series named after its column), style (of every series), and plot.lines' title,
-- labels, ranges, log scales, size and legend. Empty cells are skipped.
function plot.csv(path, spec)
  local fname = "plot.csv"
  checkPath(fname, path, 2)
  spec = check.options(fname, spec, csvFields, 2, "spec field")
  if type(spec.file) ~= "string" then check.fail(2, "%s: spec.file must be the CSV file's path, got %s", fname, type(spec.file)) end
  local ycols = type(spec.y) == "string" and {spec.y} or spec.y
  if type(spec.x) ~= "string" or type(ycols) ~= "table" or #ycols == 0 then
    check.fail(2, "%s: spec.x must be a column name and spec.y a column name or a non-empty list of them", fname)
  end
  local ok, columns, header = pcall(metrics.readCSV, spec.file)
  if not ok then check.fail(2, "%s: %s", fname, columns) end
  local function column(name)
    local c = columns[name]
    if not c then
      check.fail(3, "%s: %s has no column %q (columns: %s)", fname, spec.file, name, table.concat(header, ", "))
    end
    if type(c[1]) == "string" then check.fail(3, "%s: column %q of %s is not numeric", fname, name, spec.file) end
    return c
  end
  local x = column(spec.x)
  local lines = {series = {}}
  for k, v in pairs(spec) do
    if k ~= "file" and k ~= "x" and k ~= "y" and k ~= "style" then lines[k] = v end
  end
  lines.xlabel = lines.xlabel or spec.x
  for k, name in ipairs(ycols) do
    lines.series[k] = {name = name, x = x, y = column(name), style = spec.style}
  end
  drawLines(fname, path, lines)
end

-- --------------------------------------------------------------------- heatmap

local palettes = {
  -- perceptually uniform, dark (low) to yellow (high); viridis at five stops
  viridis = "set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21918c', 0.75 '#5ec962', 1 '#fde725')",
  gray = "set palette gray",
  -- signed maps: blue below zero, white at zero, red above
  diverging = "set palette defined (0 '#2166ac', 0.5 '#f7f7f7', 1 '#b2182b')",
}

-- Text colour (as gnuplot's 24-bit integer) readable on a cell at palette position t in [0,1].
local function labelColour(palette, t)
  local dark
  if palette == "diverging" then dark = math.abs(t - 0.5) > 0.35 else dark = t < 0.5 end
  return dark and 0xffffff or 0x000000
end

local function cellText(v)
  if v ~= v then return "" end
  if v == math.floor(v) and math.abs(v) < 1e6 then return string.format("%d", v) end
  return string.format("%.2g", v)
end

local heatmapFields = {"title", "xlabel", "ylabel", "width", "height", "palette", "cbrange",
  "xticlabels", "yticlabels", "values", "categories"}

local function ticLabels(fname, what, labels, n, axis, level)
  if labels == nil then return nil end
  if type(labels) ~= "table" or #labels ~= n then
    check.fail(level + 1, "%s: %s must be a list of %d labels, got %s", fname, what, n,
      type(labels) == "table" and (#labels .. " labels") or type(labels))
  end
  local t = {}
  for i = 1, n do
    if labels[i] ~= "" then t[#t + 1] = gq(labels[i]) .. " " .. i end
  end
  if #t == 0 then return string.format("unset %stics", axis) end
  return string.format("set %stics (%s)%s", axis, table.concat(t, ", "),
    axis == "x" and " rotate by 45 right" or "")
end

--- A matrix drawn as an image with a colour bar, row 1 at the top (like a printed
-- matrix), e.g. an occlusion-sensitivity map or a confusion matrix. matrix: a 2-D
-- tensor or a list of rows. opts: title, xlabel, ylabel, width, height (default
-- 640×560); palette "viridis" (default), "gray" or "diverging" (for signed maps: zero
-- is white, the colour range symmetric about it); cbrange = {lo, hi} (default: the
-- data's range); xticlabels, yticlabels (lists naming the columns and rows);
-- values = true writes each cell's value in it. NaN cells stay blank.
function plot.heatmap(path, matrix, opts)
  local fname = "plot.heatmap"
  checkPath(fname, path, 2)
  opts = check.options(fname, opts, heatmapFields, 2, "opts field")
  local rows
  if check.isTensor(matrix) then
    if matrix:dim() ~= 2 then
      check.fail(2, "%s: matrix must be 2-D (rows,columns), got %d-D %s", fname, matrix:dim(), matrix:shapeString())
    end
    rows = matrix:totable()
  elseif type(matrix) == "table" then
    rows = matrix
    for i = 1, #rows do
      if type(rows[i]) ~= "table" or #rows[i] ~= #rows[1] then
        check.fail(2, "%s: matrix row %d must be a list of %d numbers like row 1", fname, i, #rows[1])
      end
      for j = 1, #rows[i] do
        if type(rows[i][j]) ~= "number" then
          check.fail(2, "%s: matrix[%d][%d] must be a number, got %s", fname, i, j, type(rows[i][j]))
        end
      end
    end
  else
    check.fail(2, "%s: matrix (argument #2) must be a 2-D tensor or a list of rows, got %s", fname, type(matrix))
  end
  local nr, nc = #rows, rows[1] and #rows[1] or 0
  if nr == 0 or nc == 0 then check.fail(2, "%s: matrix is empty (%d×%d)", fname, nr, nc) end
  local categories = opts.categories
  if categories ~= nil then
    if type(categories) ~= "table" or #categories == 0 or #categories > #colours then
      check.fail(2, "%s: opts.categories must be a list of 1..%d names, got %s", fname, #colours,
        type(categories) == "table" and (#categories .. " names") or type(categories))
    end
    if opts.palette ~= nil or opts.cbrange ~= nil then
      check.fail(2, "%s: opts.categories sets the colours and their range; leave out opts.palette and opts.cbrange", fname)
    end
  end
  local palette = opts.palette or "viridis"
  if not palettes[palette] then
    check.fail(2, "%s: opts.palette must be \"viridis\", \"gray\" or \"diverging\", got %s", fname, tostring(palette))
  end
  local lo, hi = math.huge, -math.huge
  for i = 1, nr do
    for j = 1, nc do
      local v = rows[i][j]
      if v == math.huge or v == -math.huge then
        check.fail(2, "%s: matrix[%d][%d] is infinite; only finite values and NaN (blank) can be drawn", fname, i, j)
      end
      if v == v then lo, hi = math.min(lo, v), math.max(hi, v) end
    end
  end
  if lo > hi then check.fail(2, "%s: every value of the matrix is NaN", fname) end
  local cb = categories and {0.5, #categories + 0.5} or checkRange(fname, "opts.cbrange", opts.cbrange, 2)
  if cb then
    lo, hi = cb[1], cb[2]
  elseif palette == "diverging" then
    local m = math.max(math.abs(lo), math.abs(hi))
    lo, hi = -m, m
  end
  if lo == hi then lo, hi = lo - 0.5, hi + 0.5 end
  local width = checkSize(fname, "width", opts.width, 640, 2)
  local height = checkSize(fname, "height", opts.height, 560, 2)
  local s = preamble(opts, width, height, path)
  if categories then
    local stops, tics = {}, {}
    for i, name in ipairs(categories) do
      stops[i] = string.format("%d '%s'", i, colours[i])
      tics[i] = gq(name) .. " " .. i
    end
    s[#s + 1] = string.format("set palette maxcolors %d", #categories)
    s[#s + 1] = "set palette defined (" .. table.concat(stops, ", ") .. ")"
    s[#s + 1] = "set cbtics (" .. table.concat(tics, ", ") .. ") scale 0"
    local longest = 0
    for _, name in ipairs(categories) do longest = math.max(longest, #tostring(name)) end
    s[#s + 1] = string.format("set rmargin %d", longest + 8) -- room for the names beside the colour bar
  else
    s[#s + 1] = palettes[palette]
  end
  s[#s + 1] = string.format("set cbrange [%s:%s]", num(lo), num(hi))
  s[#s + 1] = string.format("set xrange [0.5:%s]", num(nc + 0.5))
  s[#s + 1] = string.format("set yrange [%s:0.5]", num(nr + 0.5))
  s[#s + 1] = "set size ratio -1"
  s[#s + 1] = "set tics out nomirror"
  s[#s + 1] = "unset key"
  s[#s + 1] = ticLabels(fname, "opts.xticlabels", opts.xticlabels, nc, "x", 2)
  s[#s + 1] = ticLabels(fname, "opts.yticlabels", opts.yticlabels, nr, "y", 2)
  s[#s + 1] = "$m << EOD"
  for i = 1, nr do
    local line = {}
    for j = 1, nc do
      local v = rows[i][j]
      line[j] = v == v and num(v) or "NaN"
    end
    s[#s + 1] = table.concat(line, " ")
  end
  s[#s + 1] = "EOD"
  local layers = {"$m matrix using ($1+1):($2+1):3 with image"}
  if opts.values then
    s[#s + 1] = "$v << EOD"
    for i = 1, nr do
      for j = 1, nc do
        local v = rows[i][j]
        if v == v then
          local t = math.min(math.max((v - lo) / (hi - lo), 0), 1)
          s[#s + 1] = string.format("%d %d \"%s\" %d", j, i, cellText(v), labelColour(palette, t))
        end
      end
    end
    s[#s + 1] = "EOD"
    layers[2] = "$v using 1:2:3:4 with labels textcolor rgb variable"
  end
  s[#s + 1] = "plot " .. table.concat(layers, ", ")
  runGnuplot(fname, table.concat(s, "\n") .. "\n", path, 2)
end

-- --------------------------------------------------------------------- image grid

local gridFields = {"normalize", "scale", "padding", "padValue", "ncol", "title", "rowLabels", "colLabels"}

-- A list of `n` labels (strings or numbers) or nil.
local function gridLabels(fname, what, labels, n, level)
  if labels == nil then return nil end
  if type(labels) ~= "table" or #labels ~= n then
    check.fail(level + 1, "%s: %s must be a list of %d labels, got %s", fname, what, n,
      type(labels) == "table" and (#labels .. " labels") or type(labels))
  end
  return labels
end

-- The grid image at `src` (gh×gw pixels) redrawn at 1:1 into `path` by gnuplot, with a title
-- above it, the row labels to its left and the column labels above each column; `rowAt`
-- and `colAt` give the centre (pixels from the top/left) of row or column i.
local function labelGrid(fname, path, src, gh, gw, opts, rowAt, colAt)
  local FONT = 13 -- points; a line of text is about 2 × FONT pixels
  local CHAR = FONT * 4 // 5 -- the width of an average character, pixels, with some room
  local function width(text) return (utf8.len(tostring(text)) or #tostring(text)) * CHAR end
  local left = 16
  for _, l in ipairs(opts.rowLabels or {}) do left = math.max(left, 24 + width(l)) end
  local top = 8 + (opts.title and 2 * FONT + 6 or 0) + (opts.colLabels and 2 * FONT or 0)
  local W, H = math.max(gw + left + 8, opts.title and width(opts.title) + 2 * CHAR or 0), gh + top + 8
  local s = {
    string.format("set terminal pngcairo noenhanced size %d,%d font 'Sans,%d'", W, H, FONT),
    "set output " .. gq(path),
    string.format("set lmargin at screen %s", num(left / W)), string.format("set rmargin at screen %s", num((left + gw) / W)),
    string.format("set tmargin at screen %s", num(1 - top / H)), string.format("set bmargin at screen %s", num(8 / H)),
    string.format("set xrange [-0.5:%s]", num(gw - 0.5)), string.format("set yrange [%s:-0.5]", num(gh - 0.5)),
    "unset border", "unset tics", "unset key", "unset colorbox",
  }
  if opts.title then
    s[#s + 1] = string.format("set label %s at screen 0.5, screen %s center font 'Sans Bold,%d'", gq(opts.title),
      num(1 - (4 + FONT) / H), FONT)
  end
  for i, l in ipairs(opts.rowLabels or {}) do
    s[#s + 1] = string.format("set label %s at first -6, first %s right", gq(l), num(rowAt(i)))
  end
  for i, l in ipairs(opts.colLabels or {}) do
    s[#s + 1] = string.format("set label %s at first %s, first %s center", gq(l), num(colAt(i)), num(-FONT))
  end
  s[#s + 1] = "plot " .. gq(src) .. " binary filetype=png flipy with rgbimage"
  runGnuplot(fname, table.concat(s, "\n") .. "\n", path, 3)
end

-- The images as one contiguous float tensor N×C×H×W.
local function batchOf(fname, images)
  if check.isTensor(images) then
    local d = images:dim()
    if d ~= 3 and d ~= 4 then
      check.fail(3, "%s: images must be 4-D (N,C,H,W), 3-D (N,H,W) or a list of (C,H,W) tensors, got %d-D %s",
        fname, d, images:shapeString())
    end
    images = images:float():contiguous()
    if d == 3 then images = images:view(images:size(1), 1, images:size(2), images:size(3)) end
    return images
  end
  if type(images) ~= "table" or #images == 0 then
    check.fail(3, "%s: images must be a tensor or a non-empty list of (C,H,W) tensors, got %s", fname,
      type(images) == "table" and "an empty list" or type(images))
  end
  local first = images[1]
  for i, x in ipairs(images) do
    if not check.isTensor(x) or x:dim() ~= 3 then
      check.fail(3, "%s: images[%d] must be a 3-D (C,H,W) tensor, got %s", fname, i,
        check.isTensor(x) and string.format("%d-D %s", x:dim(), x:shapeString()) or type(x))
    end
    if x:shapeString() ~= first:shapeString() then
      check.fail(3, "%s: images[%d] is %s but images[1] is %s; all must have one shape", fname, i, x:shapeString(), first:shapeString())
    end
  end
  local b = core.zeros(#images, first:size(1), first:size(2), first:size(3))
  for i, x in ipairs(images) do b[i] = x end
  return b
end

--- Images side by side in one PNG, and the grid as a C×H×W tensor (returned).
-- images: an N×C×H×W or N×H×W tensor, or a list of C×H×W tensors; C is 1 (gray) or 3 (RGB).
-- opts:
--   normalize  "minmax" (default: each image's min -> 0, max -> 1), "symmetric" (each
--              image x / (2 max|x|) + 0.5: zero is mid-grey, for signed maps) or "none"
--              (values as they are, clamped to [0,1] when written)
--   scale      integer upscaling, nearest neighbour (default: the least making tiles >= 40 px)
--   padding    pixels between tiles and around them (default 2); padValue their value (default 1)
--   ncol       tiles per row (default ceil(sqrt(N)))
--   title      a title above the grid; rowLabels, colLabels: lists naming each row (left of
--              it) and each column (above it). With any of these the PNG is drawn by gnuplot
--              (the grid at 1:1, the words around it); the returned tensor is the bare grid.
-- The grid is (rows·(H·scale + padding) + padding) × (ncol·(W·scale + padding) + padding).
function plot.imageGrid(path, images, opts)
  local fname = "plot.imageGrid"
  checkPath(fname, path, 2)
  opts = check.options(fname, opts, gridFields, 2, "opts field")
  local x = batchOf(fname, images)
  local n, c, h, w = x:size(1), x:size(2), x:size(3), x:size(4)
  if n == 0 or h == 0 or w == 0 then check.fail(2, "%s: images are empty %s", fname, x:shapeString()) end
  if c ~= 1 and c ~= 3 then
    check.fail(2, "%s: images must have 1 (gray) or 3 (RGB) channels, got C = %d in %s", fname, c, x:shapeString())
  end
  local mode = opts.normalize or "minmax"
  if mode == "minmax" or mode == "symmetric" then
    x = image.normalize(x, mode, {perImage = true})
  elseif mode ~= "none" then
    check.fail(2, "%s: opts.normalize must be \"minmax\", \"symmetric\" or \"none\", got %s", fname, tostring(mode))
  end
  local scale = opts.scale or math.max(1, math.ceil(40 / math.min(h, w)))
  local pad = opts.padding or 2
  local ncol = opts.ncol or math.ceil(math.sqrt(n))
  for _, o in ipairs {{"scale", scale, 1}, {"padding", pad, 0}, {"ncol", ncol, 1}} do
    if math.type(o[2]) ~= "integer" or o[2] < o[3] or o[2] > 4096 then
      check.fail(2, "%s: opts.%s must be an integer in %d..4096, got %s", fname, o[1], o[3], tostring(o[2]))
    end
  end
  local padValue = opts.padValue or 1
  if type(padValue) ~= "number" then check.fail(2, "%s: opts.padValue must be a number, got %s", fname, type(padValue)) end
  ncol = math.min(ncol, n)
  local nrow = math.ceil(n / ncol)
  if opts.title ~= nil and type(opts.title) ~= "string" then
    check.fail(2, "%s: opts.title must be a string, got %s", fname, type(opts.title))
  end
  gridLabels(fname, "opts.rowLabels", opts.rowLabels, nrow, 2)
  gridLabels(fname, "opts.colLabels", opts.colLabels, ncol, 2)
  local th, tw = h * scale, w * scale
  local gh, gw = nrow * (th + pad) + pad, ncol * (tw + pad) + pad
  if gh * gw > 1e8 then check.fail(2, "%s: the grid would be %d×%d pixels; lower opts.scale", fname, gh, gw) end
  -- nearest-neighbour upscaling as a broadcast: each pixel repeated over a scale×scale block
  local up = x:view(n, c, h, 1, w, 1):expand(n, c, h, scale, w, scale):contiguous():view(n, c, th, tw)
  local grid = core.full({c, gh, gw}, padValue)
  for i = 1, n do
    local r, k = (i - 1) // ncol, (i - 1) % ncol
    grid:narrow(2, pad + r * (th + pad) + 1, th):narrow(3, pad + k * (tw + pad) + 1, tw):copy(up[i])
  end
  if opts.title or opts.rowLabels or opts.colLabels then
    local tmp = os.tmpname()
    image.save(tmp, grid)
    local ok, err = pcall(labelGrid, fname, path, tmp, gh, gw, opts,
      function(i) return pad + (i - 1) * (th + pad) + th / 2 end,
      function(i) return pad + (i - 1) * (tw + pad) + tw / 2 end)
    os.remove(tmp)
    if not ok then error(err, 2) end
  else
    image.save(path, grid)
  end
  return grid
end

return plot
