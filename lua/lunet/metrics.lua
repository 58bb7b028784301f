--- lunet.metrics: what a training loop measures and writes down.
--
--   metrics.accuracy(logits, labels)            -> fraction correct, count correct
--   metrics.confusion(pred, labels, K)          -> K×K int tensor (rows true, columns predicted)
--   metrics.confusionMarkdown(cm, classNames)   -> Markdown table of a confusion matrix
--   metrics.markdownTable(header, rows)         -> Markdown table with aligned columns
--   metrics.Logger.new(path, columns, opts)     -> CSV logger: log:write{...}, log:close()
--   metrics.readCSV(path)                       -> columns by name, header
--
-- Labels are 1-based class indices (int or float tensors), batch-first.
local core = require "lunet.core"
local check = require "lunet.check"
local fileutil = require "lunet.fileutil"

local metrics = {}

local function checkLabels(fname, labels, n, level)
  check.tensor(fname, "labels", labels, nil, level + 1)
  if labels:dim() ~= 1 or labels:size(1) ~= n then
    check.fail(level + 1, "%s: labels must be 1-D of size %d (one per example), got %d-D %s",
      fname, n, labels:dim(), labels:shapeString())
  end
end

--- Fraction of rows of `logits` (N×K scores) whose largest entry is at the label
-- (N, 1-based). Returns the fraction and the number correct. Ties go to the lowest index.
function metrics.accuracy(logits, labels)
  local fname = "metrics.accuracy"
  check.tensor(fname, "logits", logits)
  if logits:dim() ~= 2 then
    check.fail(2, "%s: logits must be 2-D (N,K), got %d-D %s", fname, logits:dim(), logits:shapeString())
  end
  local n = logits:size(1)
  checkLabels(fname, labels, n, 2)
  if n == 0 then check.fail(2, "%s: no examples (N = 0)", fname) end
  -- a label outside 1..K never matches: almost always 0-based labels, so say so
  local K, lo, hi = logits:size(2), labels:min(), labels:max()
  if lo < 1 or hi > K then
    check.fail(2, "%s: labels must be class indices in 1..%d (1-based), got values in %g..%g", fname, K, lo, hi)
  end
  local correct = math.tointeger(logits:argmax(2):eq(labels):sum())
  return correct / n, correct
end

--- Confusion matrix of predictions against labels over K classes: entry (i, j)
-- counts examples of true class i predicted as j. `pred` is either N class indices
-- (1-based) or N×K scores (their argmax is the prediction).
function metrics.confusion(pred, labels, K)
  local fname = "metrics.confusion"
  check.tensor(fname, "pred", pred)
  if pred:dim() == 2 then
    pred = pred:argmax(2)
  elseif pred:dim() ~= 1 then
    check.fail(2, "%s: pred must be 1-D (N) class indices or 2-D (N,K) scores, got %d-D %s",
      fname, pred:dim(), pred:shapeString())
  end
  checkLabels(fname, labels, pred:size(1), 2)
  if math.type(K) ~= "integer" or K < 1 then
    check.fail(2, "%s: K (argument #3) must be a positive integer, got %s", fname, tostring(K))
  end
  local p, l = pred:totable(), labels:totable()
  local counts = {}
  for i = 1, K * K do counts[i] = 0 end
  for i = 1, #p do
    local a, b = l[i], p[i]
    if a ~= math.floor(a) or a < 1 or a > K then
      check.fail(2, "%s: label %d is %s, expected an integer in 1..%d", fname, i, tostring(a), K)
    end
    if b ~= math.floor(b) or b < 1 or b > K then
      check.fail(2, "%s: prediction %d is %s, expected an integer in 1..%d", fname, i, tostring(b), K)
    end
    local k = (math.tointeger(a) - 1) * K + math.tointeger(b)
    counts[k] = counts[k] + 1
  end
  return core.tensor(counts, "int"):view(K, K)
end

local function cellText(v)
  if math.type(v) == "integer" then return tostring(v) end
  if type(v) == "number" then
    if v ~= v then return "nan" end
    return string.format("%.4g", v)
  end
  return tostring(v)
end

-- What tonumber misses of the numbers lunet writes: "%g" spells these out.
local special = {nan = 0 / 0, ["-nan"] = 0 / 0, inf = math.huge, ["-inf"] = -math.huge}

local function toNumber(s)
  local v = tonumber(s)
  if v ~= nil then return v end
  return special[s]
end

local function isNumeric(s)
  return toNumber(s) ~= nil
end

local function textWidth(s)
  return utf8.len(s) or #s
end

--- A Markdown table: `header` a list of column titles, `rows` a list of lists
-- (numbers are printed with 4 significant digits, integers in full). Columns are
-- padded to a common width; columns holding only numbers (or "" and "-" for
-- missing values) are right-aligned.
function metrics.markdownTable(header, rows)
  local fname = "metrics.markdownTable"
  if type(header) ~= "table" or #header == 0 then
    check.fail(2, "%s: header (argument #1) must be a non-empty list of column titles, got %s",
      fname, type(header) == "table" and "an empty table" or type(header))
  end
  if type(rows) ~= "table" then
    check.fail(2, "%s: rows (argument #2) must be a list of rows, got %s", fname, type(rows))
  end
  local ncol = #header
  local cells, width, numeric = {}, {}, {}
  for j = 1, ncol do
    width[j] = math.max(3, textWidth(tostring(header[j])))
    numeric[j] = #rows > 0
  end
  for i, row in ipairs(rows) do
    if type(row) ~= "table" or #row ~= ncol then
      check.fail(2, "%s: row %d must be a list of %d cells, got %s", fname, i, ncol,
        type(row) == "table" and (#row .. " cells") or type(row))
    end
    cells[i] = {}
    for j = 1, ncol do
      local s = cellText(row[j]):gsub("|", "\\|")
      cells[i][j] = s
      width[j] = math.max(width[j], textWidth(s))
      numeric[j] = numeric[j] and (isNumeric(s) or s == "" or s == "-")
    end
  end
  local function line(texts)
    local out = {}
    for j = 1, ncol do
      local s = texts[j]
      local pad = string.rep(" ", width[j] - textWidth(s))
      out[j] = numeric[j] and pad .. s or s .. pad
    end
    return "| " .. table.concat(out, " | ") .. " |"
  end
  local rule = {}
  for j = 1, ncol do
    rule[j] = numeric[j] and string.rep("-", width[j] - 1) .. ":" or string.rep("-", width[j])
  end
  local titles = {}
  for j = 1, ncol do titles[j] = tostring(header[j]):gsub("|", "\\|") end
  local out = {line(titles), "| " .. table.concat(rule, " | ") .. " |"}
  for i = 1, #cells do out[#out + 1] = line(cells[i]) end
  return table.concat(out, "\n") .. "\n"
end

--- A confusion matrix (K×K, rows true, columns predicted) as a Markdown table,
-- with each class's recall (diagonal / row total) in the last column.
-- classNames: a list of K names (default 1..K).
function metrics.confusionMarkdown(cm, classNames)
  local fname = "metrics.confusionMarkdown"
  check.tensor(fname, "cm", cm)
  if cm:dim() ~= 2 or cm:size(1) ~= cm:size(2) then
    check.fail(2, "%s: cm must be a square 2-D (K,K) tensor, got %d-D %s", fname, cm:dim(), cm:shapeString())
  end
  local K = cm:size(1)
  if classNames ~= nil and (type(classNames) ~= "table" or #classNames ~= K) then
    check.fail(2, "%s: classNames must be a list of %d names, got %s", fname, K,
      type(classNames) == "table" and (#classNames .. " names") or type(classNames))
  end
  local m = cm:totable()
  local header = {"true \\ predicted"}
  for j = 1, K do header[j + 1] = classNames and tostring(classNames[j]) or tostring(j) end
  header[K + 2] = "recall"
  local rows = {}
  for i = 1, K do
    local row, total = {classNames and tostring(classNames[i]) or tostring(i)}, 0
    for j = 1, K do
      row[j + 1] = m[i][j]
      total = total + m[i][j]
    end
    row[K + 2] = total > 0 and m[i][i] / total or "-"
    rows[i] = row
  end
  return metrics.markdownTable(header, rows)
end

-- --------------------------------------------------------------------- CSV

local function csvField(v)
  local s
  if math.type(v) == "integer" then
    s = tostring(v)
  elseif type(v) == "number" then
    s = v ~= v and "nan" or string.format("%.10g", v) -- one spelling of NaN on every libc
  else
    s = tostring(v)
  end
  if s:find('[,"\r\n]') then s = '"' .. s:gsub('"', '""') .. '"' end
  return s
end

-- Parse CSV text into a list of records (lists of strings); quoted fields may hold
-- commas, doubled quotes and newlines.
local function parseCsv(text, fname, path)
  local records, record, pos, n = {}, {}, 1, #text
  while pos <= n do
    local field
    if text:sub(pos, pos) == '"' then
      local parts, i = {}, pos + 1
      while true do
        local q = text:find('"', i, true)
        if not q then check.fail(3, "%s: %s: unterminated quoted field", fname, path) end
        parts[#parts + 1] = text:sub(i, q - 1)
        if text:sub(q + 1, q + 1) == '"' then
          parts[#parts + 1] = '"'
          i = q + 2
        else
          pos = q + 1
          break
        end
      end
      field = table.concat(parts)
    else
      local e = text:find("[,\r\n]", pos) or n + 1
      field = text:sub(pos, e - 1)
      pos = e
    end
    record[#record + 1] = field
    local c = text:sub(pos, pos)
    if c == "," then
      pos = pos + 1
    else
      if c == "\r" then pos = pos + 1 end
      if text:sub(pos, pos) == "\n" then pos = pos + 1 end
      records[#records + 1] = record
      record = {}
    end
  end
  return records
end

--- Read a CSV file with a header line. Returns a table mapping each column name
-- to a list of its values, and the list of column names in file order. A column
-- whose non-empty cells are all numbers holds numbers, its empty cells NaN (so a
-- value logged only every few rows leaves gaps a plot skips); other columns hold
-- strings.
function metrics.readCSV(path)
  local fname = "metrics.readCSV"
  if type(path) ~= "string" then check.fail(2, "%s: path must be a string, got %s", fname, type(path)) end
  local f, err = io.open(path, "rb")
  if not f then check.fail(2, "%s: cannot open %s", fname, err) end
  local text = f:read("a")
  f:close()
  local records = parseCsv(text, fname, path)
  if #records == 0 then check.fail(2, "%s: %s is empty (no header line)", fname, path) end
  local header = records[1]
  local columns = {}
  for j, name in ipairs(header) do
    local raw, numeric = {}, true
    for i = 2, #records do
      local r = records[i]
      if #r ~= #header then
        check.fail(2, "%s: %s line %d has %d fields, the header has %d", fname, path, i, #r, #header)
      end
      raw[i - 1] = r[j]
      numeric = numeric and (r[j] == "" or isNumeric(r[j]))
    end
    if numeric then
      for i, s in ipairs(raw) do raw[i] = toNumber(s) or 0 / 0 end
    end
    columns[name] = raw
  end
  return columns, header
end

local Logger = {}
Logger.__index = Logger
metrics.Logger = Logger

-- One line, flushed, both results checked: a full disk fails at the flush (the write
-- only fills the buffer), and a log that cannot be written stops the run that keeps it.
-- The file is closed first, so the error is not hit again by __gc.
local function writeLine(self, line, fname, level)
  local f = self.file
  local ok, err = f:write(line, "\n")
  if ok then ok, err = f:flush() end
  if not ok then
    self.file = nil
    f:close()
    fileutil.checked(fname, self.path, level + 1, false, err)
  end
end

local function headerLine(columns)
  local out = {}
  for j, c in ipairs(columns) do out[j] = csvField(c) end
  return table.concat(out, ",")
end

--- Open a CSV metrics log at `path` with the given list of column names.
-- log:write{iter = 100, loss = 0.7} appends a row (columns not given stay empty)
-- and flushes it, so a crash keeps every row written. opts.append: keep an existing
-- file with the same columns and add rows after it (resuming a run).
function Logger.new(path, columns, opts)
  local fname = "metrics.Logger.new"
  if type(path) ~= "string" then check.fail(2, "%s: path must be a string, got %s", fname, type(path)) end
  if type(columns) ~= "table" or #columns == 0 then
    check.fail(2, "%s: columns (argument #2) must be a non-empty list of names, got %s", fname,
      type(columns) == "table" and "an empty table" or type(columns))
  end
  local index = {}
  for j, c in ipairs(columns) do
    if type(c) ~= "string" then check.fail(2, "%s: column %d must be a string, got %s", fname, j, type(c)) end
    if index[c] then check.fail(2, "%s: column %q appears twice", fname, c) end
    index[c] = j
  end
  opts = check.options(fname, opts, {"append"})
  local head = headerLine(columns)
  local mode = "w"
  if opts.append then
    local f = io.open(path, "r")
    if f then
      local first = f:read("l")
      f:close()
      if first and first ~= head then
        check.fail(2, "%s: %s has columns %q, expected %q", fname, path, first, head)
      end
      mode = first and "a" or "w"
    end
  end
  fileutil.checkOutput(fname, path, 2, true)
  local f, err = io.open(path, mode)
  if not f then check.fail(2, "%s: cannot open %s", fname, err) end
  local self = setmetatable({path = path, columns = {table.unpack(columns)}, index = index, file = f}, Logger)
  if mode == "w" then writeLine(self, head, fname, 3) end
  return self
end

--- Append one row: a table from column name to value (number, string or boolean).
function Logger:write(row)
  local fname = "metrics.Logger:write"
  if not self.file then check.fail(2, "%s: the log %s is closed", fname, self.path) end
  if type(row) ~= "table" then check.fail(2, "%s: row must be a table, got %s", fname, type(row)) end
  local out = {}
  for j = 1, #self.columns do out[j] = "" end
  for k, v in pairs(row) do
    local j = self.index[k]
    if not j then
      check.fail(2, "%s: unknown column %q (columns: %s)", fname, tostring(k), table.concat(self.columns, ", "))
    end
    local t = type(v)
    if t ~= "number" and t ~= "string" and t ~= "boolean" then
      check.fail(2, "%s: column %q must be a number, string or boolean, got %s", fname, k, t)
    end
    out[j] = csvField(v)
  end
  writeLine(self, table.concat(out, ","), fname, 2)
end

--- Close the file (also done by `<close>` variables and the garbage collector).
function Logger:close()
  local f = self.file
  if f then
    self.file = nil
    fileutil.checked("metrics.Logger:close", self.path, 2, f:close())
  end
end
Logger.__close = Logger.close
Logger.__gc = Logger.close

return metrics
