--- The README's results tables, generated from a results folder's results.csv files (the run
-- committed under docs/results by default), so that no table is typed by hand. The text between
-- `<!-- results:part1 -->` and `<!-- /results:part1 -->` is replaced, and the same for part3,
-- for time (each part's wall time, as its summary.md records it) and for speed (the targets
-- table of the benchmark report, bench/RESULTS.md).
--   lunet experiments/readme_tables.lua [--results DIR] [--bench FILE] [--readme FILE] [--check]
-- Without --check the README is rewritten; with it nothing changes and the exit status is 1
-- when the README's tables differ from the generated ones (spec/readme_tables_spec.lua).
local argparse = require "argparse"
local lunet = require "lunet"
local metrics, fileutil, report = lunet.metrics, lunet.fileutil, require "lunet.report"

local parser = argparse("readme_tables", "Generate the README's results tables from a run's results.csv files.")
parser:option("--results", "The results folder (one subfolder per experiment).", "docs/results")
parser:option("--bench", "The benchmark report whose targets table goes in.", "bench/RESULTS.md")
parser:option("--readme", "The README to update.", "README.md")
parser:flag("--check", "Change nothing; exit 1 when the README's tables differ from the generated ones.")
local args = parser:parse(arg)

-- A results.csv as a list of rows (column name → value).
local function rows(path)
  local columns, header = metrics.readCSV(path)
  local out = {}
  for i = 1, #columns[header[1]] do
    local row = {}
    for _, name in ipairs(header) do row[name] = columns[name][i] end
    out[i] = row
  end
  return out
end

local function part1(dir)
  local tbl = {}
  for _, r in ipairs(rows(dir .. "/cifar10_lenet/results.csv")) do
    local acc = ("%.3f"):format(r.test_acc)
    if r.seeds > 1 then acc = ("%s (%.3f–%.3f, %d seeds)"):format(acc, r.acc_lo, r.acc_hi, r.seeds) end
    tbl[#tbl + 1] = {r.optimizer, report.sci(r.lr), tostring(r.iterations), acc,
      r.reported == r.reported and ("%.3f"):format(r.reported) or "-"}
  end
  return "Part 1, LeNet-5 on the CIFAR-10 subset, batch 50, test accuracy on the 1,000 test images "
    .. "(`" .. dir .. "/cifar10_lenet/summary.html` has the curves and the discussion):\n\n"
    .. metrics.markdownTable({"optimizer", "learning rate", "iterations", "lunet", "report"}, tbl)
end

local function part3(dir)
  local all = rows(dir .. "/mnist_rnn/results.csv")
  local cells, grid, sweep, order, cnn = {"RNN", "LSTM", "GRU"}, {}, {}, {}, nil
  local mainIterations, sweepIterations, subset
  for _, r in ipairs(all) do
    if r.group == "hidden" then
      grid[r.hidden] = grid[r.hidden] or {}
      grid[r.hidden][r.cell] = ("%.3f"):format(r.test_acc)
      mainIterations = r.iterations
    elseif r.group == "optimizer" then
      if not sweep[r.optimizer] then
        sweep[r.optimizer] = {}
        order[#order + 1] = r.optimizer
      end
      local marked = r.test_digits < 10000
      sweep[r.optimizer][r.cell] = ("%.3f%s"):format(r.test_acc, marked and " †" or "")
      subset = marked and r.test_digits or subset
      sweepIterations = r.iterations
    elseif r.group == "cnn" then
      cnn = r
    end
  end
  local hidden = {}
  for _, h in ipairs{32, 64, 128} do
    if grid[h] then hidden[#hidden + 1] = {tostring(h), grid[h].RNN or "-", grid[h].LSTM or "-", grid[h].GRU or "-"} end
  end
  local opt = {}
  table.sort(order, function(a, b) return a < b end)
  for _, o in ipairs(order) do
    local row = {o}
    for _, c in ipairs(cells) do row[#row + 1] = sweep[o][c] or "-" end
    opt[#opt + 1] = row
  end
  local out = {("Part 3, MNIST read row by row, Adam 1e-3, batch 10, %d iterations (test accuracy on all 10,000; "
    .. "`%s/mnist_rnn/summary.html` has the curves and the discussion):\n"):format(mainIterations, dir),
    metrics.markdownTable({"hidden", "RNN", "LSTM", "GRU"}, hidden)}
  if #opt > 0 then
    out[#out + 1] = ("The 64-unit cells under other learning rates and optimizers, %d iterations%s:\n")
      :format(sweepIterations, subset and (" († read off the longer runs, on %d test digits)"):format(subset) or "")
    out[#out + 1] = metrics.markdownTable({"optimizer", "RNN", "LSTM", "GRU"}, opt)
  end
  if cnn then
    out[#out + 1] = ("The LeNet-5 CNN on the same digits: %.3f, with %d parameters.\n"):format(cnn.test_acc, cnn.parameters)
  end
  return table.concat(out, "\n")
end

local function readAll(path)
  local f, err = io.open(path, "rb")
  if not f then
    io.stderr:write(("readme_tables: %s\n"):format(err))
    os.exit(2)
  end
  local text = f:read("a")
  f:close()
  return text
end

-- The wall time each part's page records ("wall time ... N s", the first such figure).
local PARTS = {{"Part 1 (the optimizer sweep)", "cifar10_lenet"}, {"Part 2 (deconvnet methods)", "cifar10_deconvnet"},
  {"Part 3 (recurrent cells and the CNN)", "mnist_rnn"}}
local function time(dir)
  local tbl, total = {}, 0
  for _, p in ipairs(PARTS) do
    local path = ("%s/%s/summary.md"):format(dir, p[2])
    local seconds = tonumber(readAll(path):match("wall time[^%d]-(%d+) s"))
    if not seconds then
      io.stderr:write(("readme_tables: %s records no wall time\n"):format(path))
      os.exit(2)
    end
    total = total + seconds
    tbl[#tbl + 1] = {p[1], tostring(seconds), ("%.1f"):format(seconds / 60)}
  end
  tbl[#tbl + 1] = {"all three", tostring(total), ("%.1f"):format(total / 60)}
  return "The parts' wall times, as their pages in `" .. dir .. "` record them:\n\n"
    .. metrics.markdownTable({"part", "seconds", "minutes"}, tbl)
end

-- The benchmark report's first line (its date) and its targets table.
local function speed()
  local text = readAll(args.bench)
  local date = text:match("^# [^\n]*— ([^\n]+)")
  local targets = text:match("\n## Targets\n\n(|.-)\n\n")
  if not date or not targets then
    io.stderr:write(("readme_tables: %s has no dated title or no targets table\n"):format(args.bench))
    os.exit(2)
  end
  return ("The targets of the speed issue as `%s` (run on %s) measured them:\n\n%s\n"):format(args.bench, date, targets)
end

local readme = readAll(args.readme)
local updated = readme
for name, make in pairs{part1 = part1, part3 = part3, time = time, speed = speed} do
  local open, close = ("<!-- results:%s -->"):format(name), ("<!-- /results:%s -->"):format(name)
  local a, b = updated:find(open, 1, true)
  local c = updated:find(close, 1, true)
  if not a or not c or c < b then
    io.stderr:write(("readme_tables: %s has no %s ... %s block\n"):format(args.readme, open, close))
    os.exit(2)
  end
  updated = updated:sub(1, b) .. "\n" .. make(args.results) .. updated:sub(c)
end
if args.check then
  if updated ~= readme then
    io.stderr:write(("readme_tables: %s's tables differ from those generated from %s; run "
      .. "`bin/lunet experiments/readme_tables.lua`\n"):format(args.readme, args.results))
    os.exit(1)
  end
  print(("readme_tables: %s's tables match %s"):format(args.readme, args.results))
elseif updated ~= readme then
  fileutil.writeAtomic(args.readme, updated)
  print(("readme_tables: %s updated from %s"):format(args.readme, args.results))
end
