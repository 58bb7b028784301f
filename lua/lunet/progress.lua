--- lunet.progress: a progress bar for training loops.
--
--   local bar = progress.new(total, {label = "adam 1e-3"})
--   for i = 1, total do ...; bar:update(i, {loss = loss, acc = acc}) end
--   bar:finish()
--
-- On a terminal it redraws one line in place (at most 10 times a second):
--   adam 1e-3  45% [#########-----------] 450/1000 00:12<00:15 37.5 it/s acc=0.52 loss=0.6931
-- Elsewhere (a pipe, a log file, CI) it prints a plain line at every 10% and at
-- least every `every` seconds. An update that draws nothing costs one clock read.
local core = require "lunet.core"
local check = require "lunet.check"

local progress = {}

local Bar = {}
Bar.__index = Bar

local REDRAW = 0.1 -- seconds between redraws on a terminal
local BAR_WIDTH = 20

local stdoutTty -- whether io.stdout is a terminal, asked once per process

local function isTerminal()
  if stdoutTty == nil then
    local term = os.getenv("TERM")
    stdoutTty = term ~= nil and term ~= "" and term ~= "dumb" and os.execute("test -t 1") == true
  end
  return stdoutTty
end

-- Columns of the terminal, asked once: a line longer than that would wrap and
-- break the redraw in place.
local terminalColumns

local function terminalWidth()
  if terminalColumns == nil then
    local n = tonumber(os.getenv("COLUMNS") or "")
    if not n then
      local p = io.popen("tput cols 2>/dev/null")
      n = p and tonumber(p:read("a"))
      if p then p:close() end
    end
    terminalColumns = n and n >= 20 and math.floor(n) or 80
  end
  return terminalColumns
end

local function clockText(s)
  s = math.floor(s + 0.5)
  local h, m = s // 3600, s // 60 % 60
  if h > 0 then return string.format("%d:%02d:%02d", h, m, s % 60) end
  return string.format("%02d:%02d", m, s % 60)
end

local function valueText(v)
  if math.type(v) == "integer" then return tostring(v) end
  if type(v) == "number" then return string.format("%.4g", v) end
  return tostring(v)
end

--- A bar counting up to `total` steps. opts: label (text before the bar), out
-- (file handle, default io.stdout), tty (force terminal or plain mode; default:
-- io.stdout on a terminal with TERM set), every (seconds between plain lines,
-- default 30), start (the count the run resumes from, default 0), columns (the
-- terminal's width: longer lines are cut; default $COLUMNS or `tput cols`), clock (a
-- function returning seconds, default lunet.wallclock).
function progress.new(total, opts)
  local fname = "progress.new"
  if math.type(total) ~= "integer" or total < 1 then
    error(string.format("%s: total must be a positive integer, got %s", fname, tostring(total)), 2)
  end
  opts = check.options(fname, opts, {"clock", "columns", "every", "label", "out", "start", "tty"})
  local out = opts.out or io.stdout
  if io.type(out) ~= "file" then
    error(string.format("%s: out must be an open file handle, got %s", fname, io.type(out) or type(out)), 2)
  end
  local tty = opts.tty
  if tty == nil then tty = out == io.stdout and isTerminal() end
  local clock = opts.clock or core.wallclock
  local start = opts.start or 0
  if math.type(start) ~= "integer" or start < 0 or start > total then
    error(string.format("%s: start must be an integer in 0..%d, got %s", fname, total, tostring(start)), 2)
  end
  local every = opts.every or 30
  if type(every) ~= "number" or not (every > 0) then
    error(string.format("%s: every must be a positive number of seconds, got %s", fname, tostring(every)), 2)
  end
  if opts.columns ~= nil and (math.type(opts.columns) ~= "integer" or opts.columns < 2) then
    error(string.format("%s: columns must be an integer >= 2, got %s", fname, tostring(opts.columns)), 2)
  end
  local now = clock()
  return setmetatable({
    total = total, label = opts.label and tostring(opts.label) .. "  " or "",
    out = out, tty = tty, every = every, clock = clock, columns = tty and (opts.columns or terminalWidth()),
    start = start, i = start, fields = nil,
    -- a terminal shows the bar at once; plain lines start at the first 10% or `every` seconds
    t0 = now, last = tty and -math.huge or now, drawn = nil, decile = start * 10 // total, done = false,
  }, Bar)
end

-- The status line for the current count at time `now`.
function Bar:line(now)
  local i, total = self.i, self.total
  local frac = math.min(math.max(i / total, 0), 1)
  local elapsed = now - self.t0
  local done = i - self.start
  local rate = elapsed > 0 and done / elapsed or nil
  local eta = i >= total and 0 or rate and rate > 0 and (total - i) / rate or nil
  local parts = {string.format("%s%3d%%", self.label, math.floor(frac * 100))}
  if self.tty then
    local filled = math.floor(frac * BAR_WIDTH)
    parts[#parts + 1] = "[" .. string.rep("#", filled) .. string.rep("-", BAR_WIDTH - filled) .. "]"
  end
  parts[#parts + 1] = string.format("%d/%d", i, total)
  parts[#parts + 1] = clockText(elapsed) .. "<" .. (eta and clockText(eta) or "?")
  parts[#parts + 1] = rate and string.format(rate >= 10 and "%.0f it/s" or "%.2f it/s", rate) or "? it/s"
  if self.fields then
    local keys = {}
    for k in pairs(self.fields) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    for _, k in ipairs(keys) do
      parts[#parts + 1] = k .. "=" .. valueText(self.fields[k])
    end
  end
  return table.concat(parts, " ")
end

function Bar:draw(now)
  self.last, self.drawn = now, self.i
  if self.tty then
    local line = self:line(now)
    local cut = utf8.offset(line, self.columns)
    if cut then line = line:sub(1, cut - 1) end
    -- \r back to the line start, \27[K clears what a longer previous line left
    self.out:write("\r", line, "\27[K")
  else
    self.out:write(self:line(now), "\n")
  end
  self.out:flush()
end

--- Record that `i` steps are done; `fields` (optional) is a table of values shown
-- beside the bar (loss, accuracy, ...). Redraws only when it is time to.
function Bar:update(i, fields)
  local n = type(i) == "number" and math.tointeger(i)
  if not n then
    error(string.format("progress:update: i must be an integer, got %s", tostring(i)), 2)
  end
  self.i = n
  if fields then self.fields = fields end
  local now = self.clock()
  if self.tty then
    if now - self.last >= REDRAW then self:draw(now) end
  else
    local decile = n * 10 // self.total
    if decile > self.decile or now - self.last >= self.every then
      self.decile = decile
      self:draw(now)
    end
  end
end

--- Draw the final state and end the line (optionally with last `fields`). In plain
-- mode a state already printed is not printed again. Later calls do nothing.
function Bar:finish(fields)
  if self.done then return end
  self.done = true
  if fields then self.fields = fields end
  local now = self.clock()
  if self.tty then
    self:draw(now)
    self.out:write("\n")
    self.out:flush()
  elseif fields or self.drawn ~= self.i then
    self:draw(now)
  end
end
-- `local bar <close> = progress.new(...)` finishes the bar however the block exits.
function Bar:__close()
  self:finish()
end

return progress
