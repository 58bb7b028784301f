local lunet = require "lunet"
local progress = require "lunet.progress"

local function err(fn, ...)
  local ok, e = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return tostring(e)
end

-- A bar writing into a temporary file, on a clock the test moves by hand.
local function fake(total, opts)
  local out = io.tmpfile()
  local clock = {t = 100}
  opts = opts or {}
  opts.out, opts.clock = out, function() return clock.t end
  local bar = progress.new(total, opts)
  local function text()
    out:seek("set", 0)
    return out:read("a")
  end
  return bar, clock, text
end

local function lines(s)
  local t = {}
  for l in s:gmatch("[^\n]*\n") do t[#t + 1] = l end
  return t
end

describe("progress in plain mode (not a terminal)", function()
  it("prints a line at every 10% with count, times, rate and fields", function()
    local bar, clock, text = fake(100, {label = "adam"})
    for i = 1, 100 do
      clock.t = clock.t + 0.5
      bar:update(i, {loss = 1 / i, acc = i // 4})
    end
    bar:finish()
    local l = lines(text())
    assert.equal(10, #l)
    assert.equal("adam   50% 50/100 00:25<00:25 2.00 it/s acc=12 loss=0.02\n", l[5])
    assert.equal("adam  100% 100/100 00:50<00:00 2.00 it/s acc=25 loss=0.01\n", l[10])
    assert.is_nil(text():find("\r", 1, true))
  end)
  it("prints at least every `every` seconds between the 10% marks", function()
    local bar, clock, text = fake(1000, {every = 5})
    for i = 1, 50 do
      clock.t = clock.t + 1
      bar:update(i)
    end
    -- 50 s without reaching 10%: a line every 5 s
    assert.equal(10, #lines(text()))
    assert.matches("^  5%% 50/1000 00:50<15:50 1.00 it/s\n$", lines(text())[10])
  end)
  it("finish prints the last state once, unless it was just printed", function()
    local bar, clock, text = fake(100)
    clock.t = clock.t + 1
    bar:update(3)
    bar:finish({loss = 0.25})
    bar:finish()
    assert.same({"  3% 3/100 00:01<00:32 3.00 it/s loss=0.25\n"}, lines(text()))
    local bar2, _, text2 = fake(10)
    bar2:update(10)
    bar2:finish()
    assert.equal(1, #lines(text2()))
    -- new fields are news: printed even at a count already shown
    local bar3, _, text3 = fake(10)
    bar3:update(10)
    bar3:finish({acc = 1})
    assert.same({"100% 10/10 00:00<00:00 ? it/s\n", "100% 10/10 00:00<00:00 ? it/s acc=1\n"}, lines(text3()))
  end)
  it("measures the rate from `start` when a run resumes", function()
    local bar, clock, text = fake(100, {start = 50})
    clock.t = clock.t + 10
    bar:update(60)
    assert.equal(" 60% 60/100 00:10<00:40 1.00 it/s\n", text())
  end)
end)

describe("progress on a terminal", function()
  it("redraws one line in place, at most 10 times a second", function()
    local bar, clock, text = fake(1000, {tty = true, label = "run", columns = 200})
    for i = 1, 1000 do
      clock.t = clock.t + 0.001 -- 1000 updates in one second
      bar:update(i, {loss = 0.5})
    end
    bar:finish()
    local s = text()
    local _, draws = s:gsub("\r", "")
    assert.is_true(draws >= 10 and draws <= 12, "drew " .. draws .. " times")
    assert.is_nil(s:sub(1, -2):find("\n", 1, true))
    assert.equal("\n", s:sub(-1))
    assert.matches("\rrun  100% [####################] 1000/1000 00:01<00:00 1000 it/s loss=0.5\27[K\n", s, 1, true)
    assert.matches(" 50%% %[##########%-%-%-%-%-%-%-%-%-%-%] 50%d/1000", s)
  end)
  it("cuts lines to the terminal's width", function()
    local bar, _, text = fake(10, {tty = true, label = "é", columns = 12})
    bar:update(5)
    assert.equal("\ré   50% [##", text():sub(1, -4))
  end)
  it("redraws at most ten times a second, however often it is updated", function()
    local bar, clock, text = fake(1000000, {tty = true})
    bar:update(1)
    local once = #text()
    for i = 2, 5000 do bar:update(i) end -- the clock stands still: no redraw
    assert.equal(once, #text())
    clock.t = clock.t + 0.05
    bar:update(5001)
    assert.equal(once, #text())
    clock.t = clock.t + 0.06
    bar:update(5002)
    assert.is_true(#text() > once)
  end)
end)

describe("progress errors", function()
  it("rejects a bad total, options and counts", function()
    assert.matches("progress.new: total must be a positive integer, got 0", err(progress.new, 0), 1, true)
    assert.matches("progress.new: total must be a positive integer, got 2.5", err(progress.new, 2.5), 1, true)
    assert.matches('progress.new: unknown option "lable"', err(progress.new, 10, {lable = "x"}), 1, true)
    assert.matches("progress.new: out must be an open file handle, got table",
      err(progress.new, 10, {out = {}}), 1, true)
    local bar = fake(10)
    assert.matches("progress:update: i must be an integer, got 3", err(bar.update, bar, "3"), 1, true)
    assert.matches("progress:update: i must be an integer, got 2.5", err(bar.update, bar, 2.5), 1, true)
    assert.matches("progress.new: start must be an integer in 0..10, got 11", err(progress.new, 10, {start = 11}), 1, true)
    assert.matches("progress.new: every must be a positive number of seconds, got 0",
      err(progress.new, 10, {every = 0}), 1, true)
  end)
  it("finishes when a <close> variable goes out of scope, even on an error", function()
    local out = io.tmpfile()
    pcall(function()
      local bar <close> = progress.new(4, {out = out, tty = true, columns = 80, clock = function() return 0 end})
      bar:update(1)
      error("stop")
    end)
    out:seek("set", 0)
    assert.equal("\r 25% [#####---------------] 1/4 00:00<? ? it/s\27[K" ..
      "\r 25% [#####---------------] 1/4 00:00<? ? it/s\27[K\n", out:read("a"))
  end)
  it("is reachable as lunet.progress", function()
    assert.equal(progress, lunet.progress)
  end)
end)
