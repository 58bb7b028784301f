-- fuzz/api.lua — a model-based fuzzer of lunet's Lua API.
--   bin/lunet fuzz/api.lua [--seed N] [--iterations N | --seconds S] [--out DIR] [--keep-going]
--
-- Each iteration builds a few small tensors and runs a random program of tensor and
-- nn calls on them: hostile arguments (huge, negative, zero, NaN, inf, maxinteger,
-- wrong types and dtypes), views of every kind and aliases (the same storage as input
-- and output, overlapping views, out arguments that are views). A plain Lua model
-- keeps the expected contents of every storage; each call either raises an error that
-- names a function, or returns what the naive Lua reference computes, and leaves every
-- storage as the model says. Anything else is a finding, printed as a one-line
-- `bin/lunet -e '...'` reproducer (the statements of the iteration that lead to it).
--
-- Crashes (segfaults, sanitizer reports) and hangs inside C cannot be caught in the
-- process, so the command runs the fuzzing in a child (`--worker`) under `timeout`;
-- the child writes the reproducer of the call in progress to DIR/current.txt before
-- each call, and the parent reports it when the child dies. Iteration k of seed s is
-- seeded with s * 1000003 + k alone, so any iteration replays with
-- `--seed s --first k --iterations 1`.
local lunet = require "lunet"

local opts = { seed = 1, iterations = nil, seconds = nil, out = "build-fuzz/api", first = 1 }
do
  local i = 1
  while i <= #arg do
    local a = arg[i]
    if a == "--worker" or a == "--keep-going" then
      opts[a:sub(3):gsub("%-(%a)", string.upper)] = true
      i = i + 1
    elseif a == "--seed" or a == "--iterations" or a == "--seconds" or a == "--first" then
      opts[a:sub(3)] = math.tointeger(tonumber(arg[i + 1])) or error(a .. " needs an integer", 0)
      i = i + 2
    elseif a == "--out" then
      opts.out = arg[i + 1] or error("--out needs a folder", 0)
      i = i + 2
    else
      io.stderr:write("usage: bin/lunet fuzz/api.lua [--seed N] [--iterations N | --seconds S] "
                      .. "[--out DIR] [--keep-going]\n")
      os.exit(2)
    end
  end
  if not opts.iterations and not opts.seconds then opts.seconds = 20 end
end

---------------------------------------------------------------------------------
-- The parent: runs the worker under a time limit and reports how it ended. The worker
-- exits with 10 after findings it reported itself, 11 on an error of the fuzzer, 0
-- when all went well; anything else is a crash. With --keep-going, a crash ends only
-- its iteration: the worker starts again at the next one.
local FOUND, INTERNAL = 10, 11
if not opts.worker then
  os.execute("mkdir -p '" .. opts.out .. "'")
  local current = opts.out .. "/current.txt"
  local deadline = opts.seconds and os.time() + opts.seconds
  local first, last = opts.first, opts.iterations and opts.first + opts.iterations - 1
  local crashes, status = 0, 0
  while true do
    os.remove(current)
    -- A hang in C shows only as the run overrunning: 30 s of slack covers a slow
    -- sanitizer start-up and the last iteration.
    local secs = deadline and math.max(1, deadline - os.time())
    local limit = (secs or 600) + 30
    local cmd = ("timeout -s KILL %d lua5.4 %q --worker --first %d --seed %d --out %q"):format(
      limit, arg[0], first, opts.seed, opts.out)
    if secs then cmd = cmd .. " --seconds " .. secs end
    if last then cmd = cmd .. " --iterations " .. (last - first + 1) end
    if opts.keepGoing then cmd = cmd .. " --keep-going" end
    local ok, how, code = os.execute(cmd)
    if ok then break end
    if how == "exit" and code == FOUND then status = 1; break end
    if how == "exit" and code == INTERNAL then os.exit(4) end
    local f = io.open(current)
    local k = f and tonumber(f:read("l"):match("%d+"))
    local repro = f and f:read("a") or "(no call recorded)\n"
    if f then f:close() end
    local kind = (how == "signal" or code == 137) and "hang (killed after " .. limit .. " s)" or "crash (exit " .. code .. ")"
    io.stdout:write(("\nFINDING %s (seed %d, iteration %s) in this call:\n  %s"):format(kind, opts.seed, tostring(k), repro))
    local log = io.open(opts.out .. "/findings.txt", "a")
    if log then
      log:write(("%s\tseed %d iteration %s\t%s"):format(kind, opts.seed, tostring(k), repro))
      log:close()
    end
    crashes, status = crashes + 1, 1
    if not opts.keepGoing or not k or (deadline and os.time() >= deadline) or (last and k >= last) then break end
    first = k + 1
  end
  if crashes > 0 then io.stdout:write(("api.lua: crashes or hangs %d\n"):format(crashes)) end
  os.exit(status)
end

---------------------------------------------------------------------------------
-- Floats as lunet stores them.
local FLT_MAX = 3.4028234663852886e38
local function f32(x)
  if x ~= x or x == math.huge or x == -math.huge then return x end
  if x >= 3.4028235677973366e38 then return math.huge end
  if x <= -3.4028235677973366e38 then return -math.huge end
  return (string.unpack("<f", string.pack("<f", x)))
end

local function isNan(x) return x ~= x end

-- Lua source for a value: the reproducers are made of these.
local function lit(x)
  local ty = math.type(x)
  if ty == "integer" then
    if x == math.maxinteger then return "math.maxinteger" end
    if x == math.mininteger then return "math.mininteger" end
    return ("%d"):format(x)
  elseif ty == "float" then
    if isNan(x) then return "0/0" end
    if x == math.huge then return "1/0" end
    if x == -math.huge then return "-1/0" end
    local s = ("%.9g"):format(x)
    if tonumber(s) ~= x then s = ("%.17g"):format(x) end
    if not s:find("[%.eEn]") then s = s .. ".0" end
    return s
  elseif type(x) == "string" then
    return ("%q"):format(x)
  elseif type(x) == "table" then
    if x.name then return x.name end
    local parts = {}
    for i = 1, x.n or #x do parts[i] = lit(x[i]) end
    return "{" .. table.concat(parts, ", ") .. "}"
  end
  return tostring(x)
end

local function flatten(v, out)
  out = out or {}
  if type(v) == "table" then
    for i = 1, #v do flatten(v[i], out) end
  else
    out[#out + 1] = v
  end
  return out
end

local function numelOf(shape)
  local n = 1
  for i = 1, #shape do n = n * shape[i] end
  return n
end

local function shapeStr(shape) return "(" .. table.concat(shape, ",") .. ")" end

local function sameShape(a, b)
  if #a ~= #b then return false end
  for i = 1, #a do if a[i] ~= b[i] then return false end end
  return true
end

-- Row-major multi-index <-> flat position (1-based both).
local function unflat(shape, k)
  local idx, r = {}, k - 1
  for d = #shape, 1, -1 do
    idx[d] = r % shape[d] + 1
    r = r // shape[d]
  end
  return idx
end

local function flat(shape, idx)
  local k = 0
  for d = 1, #shape do k = k * shape[d] + (idx[d] - 1) end
  return k + 1
end

-- Nested table literal of flat values in a shape, for L.tensor.
local function nested(shape, vals, d, k)
  d, k = d or 1, k or 1
  if d > #shape then return lit(vals[k]), k + 1 end
  local parts = {}
  for i = 1, shape[d] do parts[i], k = nested(shape, vals, d + 1, k) end
  return "{" .. table.concat(parts, ", ") .. "}", k
end

---------------------------------------------------------------------------------
-- Random choices: math.random seeded per iteration, never lunet's generator.
local R = math.random
local function pick(list) return list[R(#list)] end
local function chance(p) return R() < p end

-- Values an element may hold: mostly small, sometimes special.
local SPECIAL = { 0.0, -0.0, math.huge, -math.huge, 0 / 0, FLT_MAX, -FLT_MAX, 1e-45, 16777217.0, 1e30 }
local function randValue(dtype)
  if dtype == "int" then
    if chance(0.1) then return pick({ 2147483647, -2147483648, 0, -1 }) end
    return R(-9, 9)
  end
  if chance(0.08) then return f32(pick(SPECIAL)) end
  return f32(R(-40, 40) / 8)
end

-- Hostile integers for sizes, dimensions, indices: every one must be refused cleanly.
local HOSTILE = { -1, 0, math.maxinteger, math.mininteger, 1 << 32, 1 << 41, 1 << 62, -(1 << 31),
                  1.5, 0 / 0, math.huge, -math.huge, true, {} }
local function hostile() return pick(HOSTILE) end

---------------------------------------------------------------------------------
-- The model. A storage ("root") has expected flat values; a variable is a tensor of
-- the program with its shape, dtype and map: the root positions of its elements in
-- row-major order (an expanded view repeats positions).
local iter -- the state of the current iteration

local function newRoot(t, vals, dtype)
  local root = { t = t, vals = vals, dtype = dtype, id = #iter.roots + 1 }
  iter.roots[root.id] = root
  return root
end

local function addVar(t, root, shape, map, dtype)
  iter.nvar = iter.nvar + 1
  local v = { name = "t" .. iter.nvar, t = t, root = root, shape = shape, map = map, dtype = dtype, isVar = true }
  iter.vars[#iter.vars + 1] = v
  return v
end

local function identity(n)
  local m = {}
  for i = 1, n do m[i] = i end
  return m
end

local function values(v)
  local out = {}
  for i, k in ipairs(v.map) do out[i] = v.root.vals[k] end
  return out
end

local function hasRepeats(map)
  local seen = {}
  for _, k in ipairs(map) do
    if seen[k] then return true end
    seen[k] = true
  end
  return false
end

local function consecutive(map)
  for i = 2, #map do if map[i] ~= map[1] + i - 1 then return false end end
  return true
end

---------------------------------------------------------------------------------
-- Statements: the program so far, for reproducers.
local function record(code, def, uses, mutates)
  iter.stmts[#iter.stmts + 1] = { code = code, def = def, uses = uses or {}, mutates = mutates }
end

-- The statements that the last one needs: what defines the variables it uses and
-- what writes into their storages, transitively.
local function slice(last)
  local needVar, needRoot, keep = {}, {}, {}
  local function need(uses)
    for _, u in ipairs(uses) do
      needVar[u.name] = true
      if u.root then needRoot[u.root] = true end
    end
  end
  need(last.uses)
  if last.mutates then needRoot[last.mutates] = true end
  for i = #iter.stmts, 1, -1 do
    local s = iter.stmts[i]
    if (s.def and needVar[s.def.name]) or (s.mutates and needRoot[s.mutates]) then
      keep[#keep + 1] = s.code
      need(s.uses)
      if s.def then needVar[s.def.name] = true end
      if s.def and s.def.root then needRoot[s.def.root] = true end
    end
  end
  local lines = { "L = lunet" }
  for i = #keep, 1, -1 do lines[#lines + 1] = keep[i] end
  lines[#lines + 1] = last.code
  lines[#lines + 1] = "print(r)"
  return "bin/lunet -e '" .. table.concat(lines, "; ") .. "'"
end

---------------------------------------------------------------------------------
-- Findings and the error oracle.
local stats = { calls = 0, errors = 0, findings = 0 }
local seenFindings = {}

local function finding(kind, op, call, detail)
  stats.findings = stats.findings + 1
  local key = kind .. " " .. op
  local repro = slice(call)
  io.stdout:write(("\nFINDING %s in %s (seed %d, iteration %d): %s\n  %s\n"):format(kind, op, opts.seed,
    iter.k, detail, repro))
  io.stdout:flush()
  if not seenFindings[key] then
    seenFindings[key] = true
    local f = io.open(opts.out .. "/findings.txt", "a")
    if f then
      f:write(("%s in %s\t%s\t%s\n"):format(kind, op, detail:gsub("\n", " "), repro))
      f:close()
    end
  end
  if not opts.keepGoing then
    io.stdout:write(("api.lua: executions %d, findings %d\n"):format(stats.calls, stats.findings))
    os.exit(FOUND)
  end
  error({ finding = true }) -- ends the iteration: its model may be off from here
end

-- Names a function: "narrow: ...", or luaL_argerror's "bad argument #2 to 'narrow'".
-- Lua's own runtime errors inside lunet (indexing nil, arithmetic on a string, a
-- library function called wrongly) are findings.
local LUA_BUILTINS = { ipairs = true, pairs = true, ["for iterator"] = true, insert = true, concat = true,
                       format = true, unpack = true, tostring = true, setmetatable = true, ["?"] = true,
                       rep = true, floor = true }
local function wellFormed(msg)
  if type(msg) ~= "string" then return false end
  -- the position of the caller, when there is one, comes first
  msg = msg:gsub('^%[string ".-"%]:%d+: ', ""):gsub("^[^\n:]*%.lua:%d+: ", "")
  local fn = msg:match("^bad argument #%d+ to '([^']*)'") or msg:match("^calling '([^']*)' on bad self")
  if fn then return not LUA_BUILTINS[fn] end
  if msg:find("^attempt to") or msg:find("^C stack overflow") or msg:find("^stack overflow") then return false end
  local name = msg:match("^([%a_][%w_%.:]*): ")
  return name ~= nil
end

-- Every call goes through here: records it, writes the crash reproducer, runs it
-- under the instruction-count watchdog. Returns ok, results... or false, message.
local WATCHDOG = 20000000
local currentFile = opts.out .. "/current.txt"
local function invoke(call, fn, ...)
  stats.calls = stats.calls + 1
  local f = io.open(currentFile, "w")
  if f then
    f:write("iteration ", iter.k, "\n", slice(call), "\n")
    f:close()
  end
  debug.sethook(function() error("api.lua watchdog: call did not return", 0) end, "", WATCHDOG)
  local res = table.pack(pcall(fn, ...))
  debug.sethook()
  if not res[1] and res[2] == "api.lua watchdog: call did not return" then
    finding("hang", call.op, call, "more than " .. WATCHDOG .. " Lua instructions")
  end
  return table.unpack(res, 1, res.n)
end

---------------------------------------------------------------------------------
-- Comparisons with float32 tolerance. scale: the size of the terms that were summed.
local function close(got, want, scale)
  if type(got) ~= "number" then return false end
  -- Terms (or their sum) reaching float max may overflow in float32 where float64 does
  -- not, or the other way round: any of inf, -inf, NaN (inf - inf) or a finite value is
  -- then float32's honest answer.
  if scale and scale > FLT_MAX * 0.999 then return true end
  if isNan(want) then return isNan(got) end
  if want == math.huge or want == -math.huge then return got == want end
  if isNan(got) or got == math.huge or got == -math.huge then
    return math.abs(want) > FLT_MAX * 0.999 -- the float32 sum may overflow where float64 does not
  end
  local tol = 2e-6 * math.max(1, math.abs(want), scale or 0)
  return math.abs(got - want) <= tol
end

-- Checks a result tensor against a shape and expected flat values (a nil entry: any).
local function checkTensor(call, op, got, shape, want, scale)
  if not lunet.isTensor(got) then
    finding("wrong result", op, call, "expected a tensor " .. shapeStr(shape) .. ", got " .. type(got))
  end
  local gs = got:size()
  if not sameShape(gs, shape) then
    finding("wrong shape", op, call, ("expected %s, got %s"):format(shapeStr(shape), shapeStr(gs)))
  end
  -- an empty tensor with a huge dimension would make totable build that many tables
  if not want or #want == 0 then return end
  local vals = flatten(got:totable())
  for i = 1, #want do
    if want[i] ~= nil and not close(vals[i], want[i], type(scale) == "table" and scale[i] or scale) then
      finding("wrong result", op, call, ("element %d: expected %s, got %s"):format(i, lit(want[i]), lit(vals[i])))
    end
  end
end

-- Every storage holds what the model says (within float32 tolerance); the model then
-- takes the exact values, so that later exact comparisons agree with lunet's.
local function checkRoots(call, op)
  for _, root in pairs(iter.roots) do
    local got = flatten(root.t:totable())
    for i, w in ipairs(root.vals) do
      if not close(got[i], w) then
        finding("storage corrupted", op, call, ("storage of %s, element %d: expected %s, got %s"):format(
          root.var.name, i, lit(w), lit(got[i])))
      end
    end
    root.vals = got
  end
end

---------------------------------------------------------------------------------
-- Running one operation: gen() returns a call description:
--   op       a name for the report
--   code     the Lua statement (result in `r`), fn and args the real call
--   expect   "error", "either" (a well-formed error or any result) or a function(res)
--            checking the results of a call that must succeed
--   writes   {var = v, vals = {...}} the elements the call writes (model update), or
--            resync = root whose expected values are read back afterwards
local function run(c)
  -- a write into a storage that is also read may be refused
  local target = c.writes and c.writes.var.root or c.resync
  if target then
    for _, u in ipairs(c.uses or {}) do
      if u.root == target and u ~= c.uses[1] then c.mayRefuse = true end
    end
    if c.writes and c.uses[1] and c.uses[1].root == target and c.uses[1] ~= c.writes.var then c.mayRefuse = true end
  end
  local call = { code = "r = " .. c.code, uses = c.uses or {}, op = c.op,
                 mutates = c.writes and c.writes.var.root.id or c.resync and c.resync.id or c.mutates }
  local res = table.pack(invoke(call, c.fn, table.unpack(c.args, 1, c.args.n or #c.args)))
  if not res[1] then
    if type(res[2]) == "table" and res[2].finding then error(res[2]) end
    stats.errors = stats.errors + 1
    if not wellFormed(res[2]) then
      finding("raw Lua error", c.op, call, tostring(res[2]):gsub("\n.*", ""))
    end
    if c.expect ~= "error" and c.expect ~= "either" and not c.mayRefuse then
      finding("refused valid call", c.op, call, tostring(res[2]):gsub("\n.*", ""))
    end
    checkRoots(call, c.op)
    return false
  end
  if c.expect == "error" then
    finding("accepted invalid call", c.op, call, c.why or "the arguments are out of range")
  end
  if c.writes then
    local w = c.writes
    for i, k in ipairs(w.var.map) do w.var.root.vals[k] = w.vals[i] end
  end
  if c.resync then c.resync.vals = flatten(c.resync.t:totable()) end
  if type(c.expect) == "function" then c.expect(call, table.unpack(res, 2, res.n)) end
  checkRoots(call, c.op)
  if c.def then
    record(c.def.name .. " = " .. c.code, c.def, c.uses, call.mutates)
  elseif call.mutates then
    record(call.code, nil, c.uses, call.mutates)
  end
  return true, table.unpack(res, 2, res.n)
end

-- Calls through `r:name(...)`, so that Lua names the method in argument errors.
local callers = setmetatable({}, { __index = function(t, name)
  local f = assert(load(("return function(r, ...) return r:%s(...) end"):format(name)))()
  t[name] = f
  return f
end })

-- A method call on a variable, as code and as a function.
local function method(recv, name, ...)
  local args = table.pack(...)
  local parts = {}
  for i = 1, args.n do parts[i] = lit(args[i]) end
  local real = { n = args.n }
  for i = 1, args.n do
    local a = args[i]
    real[i] = type(a) == "table" and a.isVar and a.t or (type(a) == "table" and a.obj) or a
  end
  local uses = { recv }
  for i = 1, args.n do if type(args[i]) == "table" and args[i].name then uses[#uses + 1] = args[i] end end
  return {
    code = ("%s:%s(%s)"):format(recv.name, name, table.concat(parts, ", ")),
    fn = callers[name],
    args = table.pack(recv.t or recv.obj, table.unpack(real, 1, real.n)),
    uses = uses,
  }
end

local function func(path, fn, ...)
  local args = table.pack(...)
  local parts = {}
  for i = 1, args.n do parts[i] = lit(args[i]) end
  local real = { n = args.n }
  local uses = {}
  for i = 1, args.n do
    local a = args[i]
    real[i] = type(a) == "table" and a.isVar and a.t or a
    if type(a) == "table" and a.isVar then uses[#uses + 1] = a end
  end
  return { code = ("%s(%s)"):format(path, table.concat(parts, ", ")), fn = fn, args = real, uses = uses }
end

---------------------------------------------------------------------------------
-- Tensors of the program.
local function pickVar(pred)
  local cands = {}
  for _, v in ipairs(iter.vars) do if not pred or pred(v) then cands[#cands + 1] = v end end
  return #cands > 0 and pick(cands) or nil
end

local function floatVar() return pickVar(function(v) return v.dtype == "float" end) end

-- A new storage with chosen values, defined by a literal so reproducers need no RNG.
local function makeRoot(shape, dtype, vals)
  if not vals then
    vals = {}
    for i = 1, numelOf(shape) do vals[i] = randValue(dtype) end
  end
  local code
  if #shape == 0 then
    code = ("L.tensor(%s%s)"):format(lit(vals[1]), dtype == "int" and ', "int"' or "")
  elseif numelOf(shape) == 0 then
    code = ("L.zeros(%s%s)"):format(table.concat(shape, ", "), dtype == "int" and ', "int"' or "")
  else
    code = ("L.tensor(%s%s)"):format((nested(shape, vals)), dtype == "int" and ', "int"' or "")
  end
  local t = assert(load("local L = ...; return " .. code))(lunet)
  local root = newRoot(t, vals, dtype)
  local v = addVar(t, root, shape, identity(#vals), dtype)
  root.var = v
  v.name = v.name
  record(v.name .. " = " .. code, v, {})
  return v
end

local function randShape(maxDim, maxSize)
  local shape = {}
  for d = 1, R(0, maxDim or 3) do shape[d] = R(chance(0.1) and 0 or 1, maxSize or 4) end
  return shape
end

-- A result that is a new tensor joins the program as a new storage (its values as
-- lunet computed them, already checked).
local function adopt(t, stmtCode, uses)
  local shape, dtype = t:size(), t:dtype()
  local vals = flatten(t:totable())
  local root = newRoot(t, vals, dtype)
  local v = addVar(t, root, shape, identity(#vals), dtype)
  root.var = v
  -- Reproducers rebuild it from its values (rand and friends would differ).
  local code
  if #shape == 0 then
    code = ("L.tensor(%s%s)"):format(lit(vals[1]), dtype == "int" and ', "int"' or "")
  elseif #vals == 0 then
    code = ("L.zeros(%s%s)"):format(table.concat(shape, ", "), dtype == "int" and ', "int"' or "")
  else
    code = ("L.tensor(%s%s)"):format((nested(shape, vals)), dtype == "int" and ', "int"' or "")
  end
  record(v.name .. " = " .. code, v, {})
  return v
end

---------------------------------------------------------------------------------
-- The operations. Each returns a call description for run(), or nil if it does not
-- apply to the current program.
local ops = {}

-- Creation ----------------------------------------------------------------------
local function sizeArg()
  if chance(0.15) then
    -- a size lunet may really allocate (up to 2^40 elements) would only test the machine
    local h = hostile()
    if math.type(h) == "integer" and h > 4096 and h <= 1 << 40 then h = 1 << 41 end
    return h
  end
  return R(0, 4)
end

-- Is this size list valid, and its element count? (nil: refused; "either": odd type)
local function judgeSizes(sizes)
  local n, odd = 1, false
  for _, s in ipairs(sizes) do
    if type(s) ~= "number" then return "either" end
    if math.type(s) == "float" then
      if s ~= s or s == math.huge or s == -math.huge or s ~= math.floor(s) then return nil end
      odd = true
    end
    if s < 0 then return nil end
  end
  -- an empty shape's contiguous strides are the products of its nonzero sizes, which
  -- must fit int64 (lt_shape_numel)
  local empty = false
  for _, s in ipairs(sizes) do
    if s == 0 then empty = true
    elseif s > math.maxinteger // n then return nil
    else n = n * s end
  end
  if empty then return odd and "either" or 0 end
  if n > 1 << 40 then return nil end
  -- a big allocation may fail for want of memory
  return (odd or n > 4096) and "either" or n
end

ops.create = function()
  local which = pick({ "zeros", "ones", "full", "arange", "linspace", "rand", "randn", "randperm" })
  local dtype = chance(0.3) and "int" or nil
  local sizes = {}
  for d = 1, R(0, 3) do sizes[d] = sizeArg() end
  local n = judgeSizes(sizes)
  local L = lunet
  if which == "zeros" or which == "ones" or which == "rand" or which == "randn" then
    local args = { table.unpack(sizes) }
    if (which == "zeros" or which == "ones") and dtype then args[#args + 1] = dtype end
    local c = func("L." .. which, L[which], table.unpack(args))
    -- trailing non-numbers end the size list: only plain integer lists are judged
    if n == "either" or n == nil and not (which == "rand" or which == "randn") then
      c.expect = n == nil and "error" or "either"
      if n == nil then
        for _, s in ipairs(sizes) do if type(s) ~= "number" then c.expect = "either" end end
      end
      return c
    end
    if n == nil then c.expect = "either"; return c end
    -- totable builds a table per row, even of an empty tensor
    local small = true
    for _, s in ipairs(sizes) do small = small and s <= 64 end
    c.expect = function(call, r)
      if not small then checkTensor(call, which, r, sizes); return end
      local want
      if which == "zeros" or which == "ones" then
        want = {}
        for i = 1, n do want[i] = which == "ones" and 1 or 0 end
      end
      checkTensor(call, which, r, sizes, want)
      if which == "rand" then
        for i, x in ipairs(flatten(r:totable())) do
          if not (x >= 0 and x < 1) then finding("wrong result", which, call, ("element %d = %s outside [0,1)"):format(i, lit(x))) end
        end
      elseif which == "randn" then
        for i, x in ipairs(flatten(r:totable())) do
          if x ~= x or x == math.huge or x == -math.huge then finding("wrong result", which, call, ("element %d = %s"):format(i, lit(x))) end
        end
      end
      if n <= 64 and r:dim() <= 3 then adopt(r) end
    end
    c.op = which
    return c
  elseif which == "full" then
    local v = chance(0.3) and pick(SPECIAL) or R(-5, 5) + 0.5
    local c = func("L.full", L.full, sizes, v, dtype)
    c.op = "full"
    if n == nil then c.expect = "error"; return c end
    if n == "either" then c.expect = "either"; return c end
    if dtype == "int" and (v ~= v or v >= 2 ^ 31 or v <= -2 ^ 31 - 1) then
      c.expect = "error"
      c.why = "value " .. lit(v) .. " does not fit an int tensor"
      return c
    end
    c.expect = function(call, r)
      local want = {}
      local w = dtype == "int" and math.tointeger(v < 0 and math.ceil(v) or math.floor(v)) or f32(v)
      for i = 1, n do want[i] = w end
      checkTensor(call, "full", r, sizes, want)
    end
    return c
  elseif which == "arange" then
    local a, b, s = R(-5, 5), R(-5, 8), pick({ 1, 1, 2, -1, 0.5, 0.25 })
    if chance(0.3) then
      local h = pick({ 0, 0 / 0, math.huge, -math.huge, 1e300, 2 ^ 41, 1e-300 })
      if chance(0.5) then s = h elseif chance(0.5) then b = h else a = h end
    end
    local c = func("L.arange", L.arange, a, b, s)
    c.op = "arange"
    local cnt = math.ceil((b - a) / s)
    if s == 0 or s ~= s or a ~= a or b ~= b or math.abs(a) == math.huge or math.abs(b) == math.huge
        or math.abs(s) == math.huge or cnt ~= cnt or cnt > (1 << 40) then
      c.expect = "error"
      return c
    end
    if cnt > 4096 then c.expect = "either"; return c end
    cnt = cnt < 0 and 0 or math.tointeger(cnt)
    c.expect = function(call, r)
      local want = {}
      for i = 1, cnt do want[i] = f32(a + (i - 1) * s) end
      checkTensor(call, "arange", r, { cnt }, want)
    end
    return c
  elseif which == "linspace" then
    local a, b, cnt = R(-5, 5) + 0.0, R(-5, 5) + 0.0, chance(0.15) and hostile() or R(0, 6)
    if math.type(cnt) == "integer" and cnt > 4096 and cnt <= 1 << 40 then cnt = 1 << 41 end
    local c = func("L.linspace", L.linspace, a, b, cnt)
    c.op = "linspace"
    if math.type(cnt) ~= "integer" then c.expect = type(cnt) == "number" and (cnt ~= cnt or cnt ~= math.floor(cnt)) and "error" or "either"; return c end
    if cnt < 0 or cnt > (1 << 40) then c.expect = "error"; return c end
    if cnt > 4096 then c.expect = "either"; return c end
    c.expect = function(call, r)
      local want = {}
      for i = 1, cnt do want[i] = f32(cnt == 1 and a or a + (b - a) * (i - 1) / (cnt - 1)) end
      checkTensor(call, "linspace", r, { cnt }, want)
    end
    return c
  else
    local m = chance(0.2) and pick({ -1, 1 << 31, math.maxinteger, math.mininteger, 0 }) or R(0, 8)
    local c = func("L.randperm", L.randperm, m)
    c.op = "randperm"
    if m < 0 or m >= (1 << 31) then c.expect = "error"; return c end
    c.expect = function(call, r)
      checkTensor(call, "randperm", r, { m })
      local seen = {}
      for i, x in ipairs(flatten(r:totable())) do
        if math.type(x) ~= "integer" or x < 1 or x > m or seen[x] then
          finding("wrong result", "randperm", call, ("element %d = %s is not part of a permutation"):format(i, lit(x)))
        end
        seen[x] = true
      end
      if r:dtype() ~= "int" then finding("wrong result", "randperm", call, "dtype " .. r:dtype()) end
    end
    return c
  end
end

-- Views -------------------------------------------------------------------------
-- A dimension argument of v: usually valid (sometimes negative), sometimes hostile.
local function dimArg(v, extra)
  local nd = #v.shape + (extra or 0)
  if chance(0.12) or nd == 0 then return hostile() end
  local d = R(1, nd)
  if chance(0.25) then d = d - nd - 1 end
  return d
end

-- A valid 0-based dimension for a dimension argument, or nil.
local function normDim(d, nd)
  if math.type(d) ~= "integer" then return nil end
  if d < 0 then d = d + nd + 1 end
  if d < 1 or d > nd then return nil end
  return d
end

-- The view's new variable, defined by its statement; checked against the model.
local function viewResult(c, v, shape, srcIndex)
  c.expect = function(call, r)
    for _, s in ipairs(shape) do
      if s > 64 then return checkTensor(call, c.op, r, shape, {}) end -- empty, too big to model
    end
    local map = {}
    for k = 1, numelOf(shape) do map[k] = v.map[flat(v.shape, srcIndex(unflat(shape, k)))] end
    local nv = addVar(r, v.root, shape, map, v.dtype)
    c.def = nv
    checkTensor(call, c.op, r, shape, values(nv))
  end
end

local function intArg(lo, hi)
  if chance(0.12) then return hostile() end
  return R(lo, hi)
end

ops.view = function()
  local v = pickVar()
  if not v then return nil end
  local nd = #v.shape
  local which = pick({ "narrow", "select", "transpose", "t", "permute", "expand", "view", "reshape",
                       "unsqueeze", "squeeze", "contiguous", "clone", "index1" })
  local c
  if which == "narrow" then
    local d, start = dimArg(v), intArg(0, 5)
    local len = chance(0.1) and pick({ math.maxinteger, 1 << 62, math.mininteger }) or intArg(0, 4)
    if chance(0.05) then start = math.maxinteger end
    c = method(v, "narrow", d, start, len)
    local dd = normDim(d, nd)
    if not dd or math.type(start) ~= "integer" or math.type(len) ~= "integer" or start < 1 or len < 0
        or start > v.shape[dd] + 1 or len > v.shape[dd] - start + 1 then
      c.expect = (type(d) == "number" and type(start) == "number" and type(len) == "number") and "error" or "either"
      if c.expect == "either" and math.type(start) == "integer" and math.type(len) == "integer" and dd then c.expect = "error" end
    else
      local shape = { table.unpack(v.shape) }
      shape[dd] = len
      viewResult(c, v, shape, function(ix) ix = { table.unpack(ix) }; ix[dd] = ix[dd] + start - 1; return ix end)
    end
  elseif which == "select" or which == "index1" then
    local d, i = dimArg(v), intArg(-5, 5)
    if which == "index1" then d = 1 end
    c = which == "select" and method(v, "select", d, i) or nil
    if which == "index1" then
      c = { code = ("%s[%s]"):format(v.name, lit(i)), fn = function(t, k) return t[k] end, args = { v.t, i, n = 2 }, uses = { v } }
    end
    local dd = normDim(d, nd)
    local ii = math.type(i) == "integer" and dd and (i < 0 and i + v.shape[dd] + 1 or i)
    if not dd or not ii or ii < 1 or ii > v.shape[dd] then
      c.expect = (type(i) == "number" and type(d) == "number") and "error" or "either"
    elseif which == "index1" and nd == 1 then
      c.expect = function(call, r)
        local want = v.root.vals[v.map[ii]]
        if not close(r, want) then finding("wrong result", "index", call, ("expected %s, got %s"):format(lit(want), lit(r))) end
      end
    else
      local shape = { table.unpack(v.shape) }
      table.remove(shape, dd)
      viewResult(c, v, shape, function(ix) ix = { table.unpack(ix) }; table.insert(ix, dd, ii); return ix end)
    end
  elseif which == "transpose" or which == "t" then
    local a, b = dimArg(v), dimArg(v)
    c = which == "t" and method(v, "t") or method(v, "transpose", a, b)
    if which == "t" then a, b = 1, 2 end
    local da, db = normDim(a, nd), normDim(b, nd)
    if which == "t" and nd ~= 2 then da = nil end
    if not da or not db then
      c.expect = (type(a) == "number" and type(b) == "number") and "error" or "either"
    else
      local shape = { table.unpack(v.shape) }
      shape[da], shape[db] = v.shape[db], v.shape[da]
      viewResult(c, v, shape, function(ix) ix = { table.unpack(ix) }; ix[da], ix[db] = ix[db], ix[da]; return ix end)
    end
  elseif which == "permute" then
    local perm = identity(nd)
    for i = nd, 2, -1 do local j = R(i); perm[i], perm[j] = perm[j], perm[i] end
    if chance(0.15) and nd > 0 then perm[R(nd)] = hostile() end
    if chance(0.05) then perm[#perm + 1] = 1 end
    c = method(v, "permute", perm)
    local ok, seen = #perm == nd, {}
    for i = 1, #perm do
      local p = perm[i]
      if math.type(p) ~= "integer" or p < 1 or p > nd or seen[p] then ok = false else seen[p] = true end
    end
    if not ok then
      c.expect = "either"
      for i = 1, #perm do if math.type(perm[i]) == "integer" then c.expect = "error" end end
      if #perm ~= nd then c.expect = "error" end
      for i = 1, #perm do if type(perm[i]) ~= "number" then c.expect = "either" end end
    else
      local shape = {}
      for i = 1, nd do shape[i] = v.shape[perm[i]] end
      viewResult(c, v, shape, function(ix) local o = {}; for i = 1, nd do o[perm[i]] = ix[i] end; return o end)
    end
  elseif which == "expand" then
    local extra = R(0, 2)
    local sizes = {}
    for i = 1, extra do sizes[i] = R(0, 3) end
    for i = 1, nd do sizes[extra + i] = v.shape[i] == 1 and R(0, 3) or v.shape[i] end
    if chance(0.2) and #sizes > 0 then sizes[R(#sizes)] = pick({ 1 << 32, math.maxinteger, -1, 1 << 62 }) end
    if chance(0.1) then sizes = { 1 << 32, 1 << 32 } end
    c = method(v, "expand", table.unpack(sizes))
    local ok = #sizes >= nd
    local total = 1
    for i, s in ipairs(sizes) do
      local j = i - (#sizes - nd)
      if s < 0 or (j >= 1 and v.shape[j] ~= 1 and v.shape[j] ~= s) then ok = false end
    end
    -- lunet refuses a shape whose nonzero sizes multiply beyond int64 (lt_shape_numel):
    -- they are an empty view's strides
    local span = 1
    for _, s in ipairs(sizes) do
      if s > 0 then
        if span > math.maxinteger // s then ok = false; break end
        span = span * s
      end
    end
    -- the element count must be representable and allocatable as a view of anything
    for _, s in ipairs(sizes) do if s > 0 and total > 0 then total = s > (1 << 40) // total and (1 << 41) or total * s end end
    for _, s in ipairs(sizes) do if s == 0 then total = 0 end end
    if not ok or total > 4096 then
      c.expect = ok and "either" or "error"
      -- a huge expand may work as long as it describes its elements honestly
      if ok then
        c.mayRefuse = true
        c.expect = function(call, r)
          local n = r:numel()
          local want = 1
          for _, s in ipairs(sizes) do want = want * s end
          local exact = 1.0
          for _, s in ipairs(sizes) do exact = exact * s end
          if n ~= want or exact ~= n + 0.0 then
            finding("wrong result", "expand", call, ("numel() = %d for sizes %s"):format(n, shapeStr(sizes)))
          end
        end
      end
    else
      viewResult(c, v, sizes, function(ix)
        local o = {}
        for j = 1, nd do o[j] = v.shape[j] == 1 and 1 or ix[#sizes - nd + j] end
        return o
      end)
    end
  elseif which == "view" or which == "reshape" then
    local n = numelOf(v.shape)
    local shape = {}
    local rest = n
    while rest > 1 and #shape < 3 do
      local dvs = {}
      for k = 1, rest do if rest % k == 0 then dvs[#dvs + 1] = k end end
      local s = pick(dvs)
      shape[#shape + 1] = s
      rest = rest // s
    end
    if rest ~= 1 or chance(0.3) then shape[#shape + 1] = rest end
    if chance(0.3) and #shape > 0 then table.insert(shape, R(#shape + 1), 1) end
    local args = { table.unpack(shape) }
    if chance(0.3) and #args > 0 then args[R(#args)] = -1 end
    if chance(0.1) and #args > 0 then args[R(#args)] = pick({ 0, -2, -1, math.maxinteger, 1 << 32 }) end
    c = method(v, which, table.unpack(args))
    -- what the arguments mean
    -- the sizes' product; with a size 0, that of the others (an empty tensor's strides) must
    -- still fit int64
    local known, infer, bad, empty = 1, nil, false, false
    for i, s in ipairs(args) do
      if s == -1 then if infer then bad = true end infer = i
      elseif s < 0 then bad = true
      elseif s == 0 then empty = true
      elseif known > math.maxinteger // s then bad = true
      else known = known * s end
    end
    if empty then known = 0 end
    local target = { table.unpack(args) }
    if infer and not bad then
      if known == 0 or known == math.huge or n % known ~= 0 then bad = true else target[infer] = n // known end
    elseif not bad and known ~= n then bad = true end
    if bad then
      c.expect = "error"
    elseif which == "view" and not consecutive(v.map) then
      c.expect = (#v.map <= 1 or not hasRepeats(v.map)) and "either" or "error"
      if c.expect == "either" then viewResult(c, v, target, function(ix) return unflat(v.shape, flat(target, ix)) end); c.mayRefuse = true end
    else
      if which == "view" or consecutive(v.map) then
        viewResult(c, v, target, function(ix) return unflat(v.shape, flat(target, ix)) end)
        c.mayRefuse = which == "view"
      else
        c.expect = function(call, r)
          adopt(r)
          checkTensor(call, "reshape", r, target, values(v))
        end
      end
    end
  elseif which == "unsqueeze" then
    local d = chance(0.12) and hostile() or R(-nd - 1, nd + 1)
    c = method(v, "unsqueeze", d)
    local dd = math.type(d) == "integer" and (d < 0 and d + nd + 2 or d)
    if not dd or dd < 1 or dd > nd + 1 or nd >= 8 then
      c.expect = type(d) == "number" and "error" or "either"
    else
      local shape = { table.unpack(v.shape) }
      table.insert(shape, dd, 1)
      viewResult(c, v, shape, function(ix) ix = { table.unpack(ix) }; table.remove(ix, dd); return ix end)
    end
  elseif which == "squeeze" then
    local d = chance(0.5) and dimArg(v) or nil
    c = d ~= nil and method(v, "squeeze", d) or method(v, "squeeze")
    local dd = d ~= nil and normDim(d, nd)
    if d ~= nil and not dd then
      c.expect = type(d) == "number" and "error" or "either"
    else
      local shape, keepDims = {}, {}
      for i = 1, nd do
        if not (v.shape[i] == 1 and (d == nil or dd == i)) then shape[#shape + 1] = v.shape[i]; keepDims[#keepDims + 1] = i end
      end
      viewResult(c, v, shape, function(ix)
        local o = {}
        for i = 1, nd do o[i] = 1 end
        for k, i in ipairs(keepDims) do o[i] = ix[k] end
        return o
      end)
    end
  else -- contiguous, clone
    c = method(v, which)
    c.expect = function(call, r)
      checkTensor(call, which, r, v.shape, values(v))
      if not r:isContiguous() then finding("wrong result", which, call, "result is not contiguous") end
      if which == "clone" or not consecutive(v.map) then
        adopt(r)
      else
        c.def = addVar(r, v.root, v.shape, v.map, v.dtype)
      end
    end
  end
  c.op = which == "index1" and "index" or which
  return c
end

-- Writes ------------------------------------------------------------------------
-- A second operand: often the same storage as the first (itself, transposed, an
-- overlapping view), else any variable.
local function partner(v, pred)
  if chance(0.5) then
    local same = pickVar(function(u) return u.root == v.root and (not pred or pred(u)) end)
    if same then return same end
  end
  return pickVar(pred)
end

local function toInt(x)
  if x ~= x or x >= 2 ^ 31 or x < -2 ^ 31 then return nil end
  return math.tointeger(x < 0 and math.ceil(x) or math.floor(x))
end

-- Stores w into an element of a tensor of dtype: nil when it cannot be stored.
local function store(dtype, w)
  if dtype == "int" then return toInt(w) end
  return f32(w)
end

ops.fill = function()
  local v = pickVar()
  if not v then return nil end
  local x = chance(0.2) and pick(SPECIAL) or R(-5, 5) + 0.0
  local c = method(v, "fill", x)
  c.op = "fill"
  local s = store(v.dtype, x)
  if hasRepeats(v.map) then c.expect = "either"; c.resync = v.root; c.mutates = v.root.id; return c end
  if s == nil then c.expect = "error"; c.why = lit(x) .. " does not fit an int tensor"; return c end
  local vals = {}
  for i = 1, #v.map do vals[i] = s end
  c.writes = { var = v, vals = vals }
  c.expect = function() end
  return c
end

ops.copy = function()
  local v = pickVar()
  if not v then return nil end
  local src = partner(v, function(u) return #u.map == #v.map end) or pickVar()
  local c = method(v, "copy", src)
  c.op = "copy"
  if #src.map ~= #v.map then c.expect = "error"; return c end
  if hasRepeats(v.map) then c.expect = "either"; c.resync = v.root; c.mutates = v.root.id; return c end
  local vals = {}
  for i, x in ipairs(values(src)) do
    vals[i] = store(v.dtype, x)
    if vals[i] == nil then c.expect = "either"; c.resync = v.root; c.mutates = v.root.id; return c end
  end
  c.writes = { var = v, vals = vals }
  c.expect = function() end
  return c
end

-- Elementwise -------------------------------------------------------------------
local BINOPS = {
  add = function(a, b) return a + b end, sub = function(a, b) return a - b end,
  mul = function(a, b) return a * b end, div = function(a, b) return a / b end,
  pow = function(a, b) return a ^ b end,
  maximum = function(a, b) if a ~= a or b ~= b then return 0 / 0 end return math.max(a, b) end,
  minimum = function(a, b) if a ~= a or b ~= b then return 0 / 0 end return math.min(a, b) end,
}
local CMPOPS = {
  eq = function(a, b) return a == b end, ne = function(a, b) return a ~= b end,
  lt = function(a, b) return a < b end, le = function(a, b) return a <= b end,
  gt = function(a, b) return a > b end, ge = function(a, b) return a >= b end,
}

-- Broadcast shape of two shapes, or nil.
local function broadcast(a, b)
  local nd = math.max(#a, #b)
  local out = {}
  for i = 1, nd do
    local sa, sb = a[i - (nd - #a)] or 1, b[i - (nd - #b)] or 1
    if sa ~= sb and sa ~= 1 and sb ~= 1 then return nil end
    out[i] = sa == 1 and sb or sa
  end
  return out
end

-- Values of v broadcast to shape.
local function broadcastValues(v, shape)
  local vals, nd = values(v), #shape
  local out = {}
  for k = 1, numelOf(shape) do
    local ix = unflat(shape, k)
    local src = {}
    for j = 1, #v.shape do src[j] = v.shape[j] == 1 and 1 or ix[nd - #v.shape + j] end
    out[k] = vals[flat(v.shape, src)]
  end
  return out
end

-- The elementwise reference: float32 operands, the result rounded to float32. The
-- comparisons take the values exactly as stored (an int above 2^24 keeps every bit), a
-- number against a float tensor first rounded to float.
local function elementwise(name, fn, a, b, shape)
  local av = type(a) ~= "number" and broadcastValues(a, shape)
  local bv = type(b) ~= "number" and broadcastValues(b, shape)
  local cmp = CMPOPS[name]
  local function operand(vals, k, num, other)
    if vals then return cmp and vals[k] or f32(vals[k]) end
    return (cmp and other.dtype ~= "float") and num or f32(num)
  end
  local out = {}
  for k = 1, numelOf(shape) do
    local x, y = operand(av, k, a, b), operand(bv, k, b, a)
    out[k] = cmp and (fn(x, y) and 1.0 or 0.0) or f32(fn(x, y))
  end
  return out
end

local function scalarArg()
  if chance(0.25) then return pick(SPECIAL) end
  return R(-6, 6) / 2
end

ops.binary = function()
  local a = pickVar()
  if not a then return nil end
  local name = pick({ "add", "sub", "mul", "div", "pow", "maximum", "minimum", "eq", "ne", "lt", "le", "gt", "ge" })
  local inplace = BINOPS[name] and name ~= "maximum" and name ~= "minimum" and chance(0.5)
  local b = chance(0.3) and scalarArg() or partner(a)
  local swap = type(b) == "number" and not inplace and not CMPOPS[name] and chance(0.3)
  local c = swap and func("L.Tensor.methods." .. name, lunet.Tensor.methods[name], b, a)
    or method(a, inplace and name .. "_" or name, b)
  c.op = inplace and name .. "_" or name
  local fn = BINOPS[name] or CMPOPS[name]
  local bshape = type(b) == "number" and a.shape or b.shape
  local shape = broadcast(a.shape, bshape)
  if not shape then c.expect = "error"; return c end
  local want = swap and elementwise(name, fn, b, a, shape) or elementwise(name, fn, a, b, shape)
  if inplace then
    if a.dtype == "int" or not sameShape(shape, a.shape) then c.expect = "error"; return c end
    if hasRepeats(a.map) then c.expect = "either"; c.resync = a.root; c.mutates = a.root.id; return c end
    c.writes = { var = a, vals = want }
    c.expect = function() end
    return c
  end
  c.expect = function(call, r) checkTensor(call, c.op, r, shape, want) end
  return c
end

local UNOPS = {
  neg = function(x) return -x end, exp = math.exp,
  log = function(x) if x < 0 then return 0 / 0 end return math.log(x) end,
  sqrt = function(x) if x < 0 then return 0 / 0 end return math.sqrt(x) end,
  tanh = function(x) if x ~= x then return x end if x > 20 then return 1.0 elseif x < -20 then return -1.0 end local e = math.exp(2 * x); return (e - 1) / (e + 1) end,
  sigmoid = function(x) if x ~= x then return x end if x < -100 then return 0.0 end return 1 / (1 + math.exp(-x)) end,
  relu = function(x) if x ~= x then return x end return x > 0 and x or 0.0 end,
  abs = math.abs,
}

ops.unary = function()
  local a = pickVar()
  if not a then return nil end
  local name = pick({ "neg", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs", "clamp" })
  local inplace = chance(0.4)
  local lo, hi
  if name == "clamp" then lo, hi = R(-4, 1) + 0.0, R(-1, 4) + 0.0 end
  local c = name == "clamp" and method(a, inplace and "clamp_" or "clamp", lo, hi) or method(a, inplace and name .. "_" or name)
  c.op = inplace and name .. "_" or name
  if name == "clamp" and lo > hi then c.expect = "error"; return c end
  local want = {}
  for i, x in ipairs(values(a)) do
    x = f32(x)
    if name == "clamp" then
      want[i] = x ~= x and x or math.min(math.max(x, lo), hi)
    else
      want[i] = f32(UNOPS[name](x))
    end
    -- relu of NaN may give either NaN or 0
    if name == "relu" and x ~= x then want[i] = nil end
  end
  if inplace then
    if a.dtype == "int" then c.expect = "error"; return c end
    if hasRepeats(a.map) then c.expect = "either"; c.resync = a.root; c.mutates = a.root.id; return c end
    c.resync = a.root
    c.writes = { var = a, vals = want }
    for i = 1, #want do if want[i] == nil then c.expect = "either"; c.writes = nil; c.mutates = a.root.id; return c end end
    c.expect = function() end
    return c
  end
  c.expect = function(call, r) checkTensor(call, c.op, r, a.shape, want, 1e-6) end
  return c
end

-- Reductions --------------------------------------------------------------------
local function reduceRef(name, xs)
  local n = #xs
  local hasNan = false
  for _, x in ipairs(xs) do if x ~= x then hasNan = true end end
  if name == "sum" or name == "mean" or name == "var" or name == "std" then
    local s, sa = 0, 0
    for _, x in ipairs(xs) do s = s + x; sa = sa + math.abs(x) end
    if name == "sum" then return f32(s), sa end
    local m = s / n
    if name == "mean" then return f32(m), sa / n end
    if n < 2 then return 0 / 0, 0 end
    local q, qa = 0, 0
    for _, x in ipairs(xs) do q = q + (x - m) ^ 2; qa = qa + (math.abs(x) + math.abs(m)) ^ 2 end
    local var = q / (n - 1)
    if name == "var" then return var, qa / (n - 1) * 1e2 end
    return math.sqrt(var), math.sqrt(qa / (n - 1)) * 1e2
  end
  -- max/min/argmax/argmin: with NaN the answer is undefined enough to skip
  if hasNan then return nil end
  local best, at = xs[1], 1
  for i = 2, n do
    if (name == "max" or name == "argmax") and xs[i] > best or (name == "min" or name == "argmin") and xs[i] < best then
      best, at = xs[i], i
    end
  end
  if name == "argmax" or name == "argmin" then return at, 0 end
  return best, 0
end

ops.reduce = function()
  local a = pickVar()
  if not a then return nil end
  local name = pick({ "sum", "mean", "max", "min", "var", "std", "argmax", "argmin" })
  local nd = #a.shape
  local withDim = chance(0.6)
  local d = withDim and dimArg(a) or nil
  local keep = withDim and chance(0.3) or nil
  local c = withDim and (keep and method(a, name, d, true) or method(a, name, d)) or method(a, name)
  c.op = name
  local xs = {}
  for i, x in ipairs(values(a)) do xs[i] = f32(x) end
  if not withDim then
    if #xs == 0 and name ~= "sum" then c.expect = "error"; return c end
    local want, scale = reduceRef(name, xs)
    c.expect = function(call, r)
      if want ~= nil and not close(r, want, scale) then
        finding("wrong result", name, call, ("expected %s, got %s"):format(lit(want), lit(r)))
      end
    end
    return c
  end
  local dd = normDim(d, nd)
  if not dd then c.expect = type(d) == "number" and "error" or "either"; return c end
  -- Along an empty dimension only the sum is defined (0, as over an empty tensor).
  if a.shape[dd] == 0 and name ~= "sum" then c.expect = "error"; return c end
  local shape = { table.unpack(a.shape) }
  shape[dd] = 1
  local want, scale = {}, {}
  for k = 1, numelOf(shape) do
    local ix = unflat(shape, k)
    local line = {}
    for j = 1, a.shape[dd] do ix[dd] = j; line[j] = xs[flat(a.shape, ix)] end
    want[k], scale[k] = reduceRef(name, line)
  end
  if not keep then table.remove(shape, dd) end
  c.expect = function(call, r, ix)
    checkTensor(call, name, r, shape, want, scale)
    if (name == "max" or name == "min") then
      local iw = {}
      for k = 1, #want do
        iw[k] = want[k] ~= nil and select(1, reduceRef("arg" .. name, (function()
          local ixx, line = unflat(keep and shape or (function() local s = { table.unpack(a.shape) }; s[dd] = 1; return s end)(), k), {}
          for j = 1, a.shape[dd] do ixx[dd] = j; line[j] = xs[flat(a.shape, ixx)] end
          return line
        end)())) or nil
      end
      checkTensor(call, name .. " (indices)", ix, shape, iw)
    end
  end
  return c
end

-- Matrix products ---------------------------------------------------------------
-- A naive product of v (n,k) values and w (k,m) values given as 2-D accessors.
local function naiveMM(n, k, m, A, B)
  local out, scale = {}, {}
  for i = 1, n do
    for j = 1, m do
      local s, sa = 0, 0
      for p = 1, k do s = s + A(i, p) * B(p, j); sa = sa + math.abs(A(i, p) * B(p, j)) end
      out[#out + 1], scale[#scale + 1] = s, sa
    end
  end
  return out, scale
end

local function acc2(v)
  local vals = values(v)
  if #v.shape == 1 then return function(_, p) return f32(vals[p]) end end
  return function(i, p) return f32(vals[(i - 1) * v.shape[2] + p]) end
end

ops.matmul = function()
  local a = floatVar()
  if not a then return nil end
  local which = pick({ "matmul", "matmul", "addmm_", "addmm", "bmm", "dot" })
  local b = partner(a, function(u) return u.dtype == "float" end)
  if which == "dot" then
    local c = method(a, "dot", b)
    c.op = "dot"
    if not sameShape(a.shape, b.shape) then c.expect = "error"; return c end
    local s, sa = 0, 0
    local av, bv = values(a), values(b)
    for i = 1, #av do s = s + f32(av[i]) * f32(bv[i]); sa = sa + math.abs(f32(av[i]) * f32(bv[i])) end
    c.expect = function(call, r)
      if not close(r, s, sa) then finding("wrong result", "dot", call, ("expected %s, got %s"):format(lit(s), lit(r))) end
    end
    return c
  end
  if which == "addmm_" or which == "addmm" then
    -- C (n,m) += A (n,k) @ B (k,m), A and B often views of C's own storage
    local A = partner(a, function(u) return u.dtype == "float" and #u.shape == 2 end)
    local B = pickVar(function(u) return u.dtype == "float" and #u.shape == 2 end)
    if not A or not B then return nil end
    local beta, alpha = chance(0.5) and 1 or R(-2, 2) + 0.5, chance(0.5) and 1 or R(-2, 2) + 0.5
    local c = method(a, which, A, B, beta, alpha)
    c.op = which
    if #a.shape ~= 2 or A.shape[2] ~= B.shape[1] or a.shape[1] ~= A.shape[1] or a.shape[2] ~= B.shape[2] then
      c.expect = "error"
      return c
    end
    local prod, scale = naiveMM(A.shape[1], A.shape[2], B.shape[2], acc2(A), acc2(B))
    local cv = values(a)
    local want = {}
    for i = 1, #prod do
      want[i] = f32(beta * f32(cv[i]) + alpha * prod[i])
      -- the float32 sum of the products may overflow before alpha scales it down
      local overflows = scale[i] > FLT_MAX * 0.999
      scale[i] = math.abs(alpha) * scale[i] + math.abs(beta * cv[i])
      if scale[i] ~= scale[i] or overflows then scale[i] = math.huge end
    end
    if which == "addmm" then
      c.expect = function(call, r) checkTensor(call, "addmm", r, a.shape, want, scale) end
      return c
    end
    if hasRepeats(a.map) then c.expect = "either"; c.resync = a.root; c.mutates = a.root.id; return c end
    -- the model takes lunet's values where the tolerance allows, then checks them
    c.mutates = a.root.id
    c.expect = function(call, r)
      checkTensor(call, "addmm_", a.t, a.shape, want, scale)
      local got = flatten(a.t:totable())
      for i, k in ipairs(a.map) do a.root.vals[k] = got[i] end
    end
    return c
  end
  local c = which == "bmm" and func("L.bmm", lunet.bmm, a, b) or method(a, "matmul", b)
  c.op = which
  local na, nb = #a.shape, #b.shape
  if which == "bmm" and (na ~= 3 or nb ~= 3) then c.expect = "error"; return c end
  if na < 1 or na > 3 or nb < 1 or nb > 3 then c.expect = "error"; return c end
  local av, bv = values(a), values(b)
  local shape, want, scale
  if na <= 2 and nb <= 2 then
    local n, k = na == 1 and 1 or a.shape[1], a.shape[na]
    local k2, m = b.shape[1], nb == 1 and 1 or b.shape[2]
    if k ~= k2 then c.expect = "error"; return c end
    want, scale = naiveMM(n, k, m, acc2(a), nb == 1 and function(p) return f32(bv[p]) end or acc2(b))
    if na == 1 and nb == 1 then
      c.expect = function(call, r)
        if not close(r, want[1], scale[1]) then finding("wrong result", "matmul", call, ("expected %s, got %s"):format(lit(want[1]), lit(r))) end
      end
      return c
    end
    shape = na == 1 and { m } or nb == 1 and { n } or { n, m }
  else
    if na ~= 3 or nb == 1 then c.expect = "error"; return c end
    local B, n, k = a.shape[1], a.shape[2], a.shape[3]
    local k2, m = nb == 3 and b.shape[2] or b.shape[1], nb == 3 and b.shape[3] or b.shape[2]
    if k ~= k2 or (nb == 3 and b.shape[1] ~= B) then c.expect = "error"; return c end
    want, scale = {}, {}
    for bi = 1, B do
      local o, s = naiveMM(n, k, m, function(i, p) return f32(av[((bi - 1) * n + i - 1) * k + p]) end,
        function(p, j) return f32(bv[nb == 3 and ((bi - 1) * k + p - 1) * m + j or (p - 1) * m + j]) end)
      table.move(o, 1, #o, #want + 1, want)
      table.move(s, 1, #s, #scale + 1, scale)
    end
    shape = { B, n, m }
  end
  c.expect = function(call, r) checkTensor(call, which, r, shape, want, scale) end
  return c
end

-- index(ix [, out]) ---------------------------------------------------------------
ops.index = function()
  local t = pickVar(function(v) return #v.shape >= 1 end)
  if not t then return nil end
  local ix = pickVar(function(v) return v.dtype == "int" and #v.shape == 1 end)
  if not ix or chance(0.3) then
    local n = R(0, 4)
    local vals = {}
    for i = 1, n do vals[i] = chance(0.1) and pick({ 0, -1, 2147483647, t.shape[1] + 1 }) or R(1, math.max(1, t.shape[1])) end
    ix = makeRoot({ n }, "int", vals)
  end
  local out
  if chance(0.5) then
    out = chance(0.5) and pickVar(function(v) return v.root == ix.root or v.root == t.root end) or pickVar()
  end
  local c = out and method(t, "index", ix, out) or method(t, "index", ix)
  c.op = out and "index (out)" or "index"
  local ixs = values(ix)
  for _, k in ipairs(ixs) do if k < 1 or k > t.shape[1] then c.expect = "error"; return c end end
  local shape = { table.unpack(t.shape) }
  shape[1] = #ixs
  local rowLen = numelOf(t.shape) // math.max(1, t.shape[1])
  if t.shape[1] == 0 then rowLen = numelOf({ table.unpack(t.shape, 2) }) end
  local tv = values(t)
  local want = {}
  for i, k in ipairs(ixs) do
    for j = 1, rowLen do want[(i - 1) * rowLen + j] = tv[(k - 1) * rowLen + j] end
  end
  if out and out.dtype ~= t.dtype then c.expect = "error"; return c end
  if out and sameShape(out.shape, shape) and not hasRepeats(out.map) then
    -- an out argument of the right shape is written where it points
    c.writes = { var = out, vals = want }
    c.expect = function(call, r) checkTensor(call, c.op, r, shape, want) end
    return c
  end
  if out then
    -- of another shape: refused, or the result is right and nothing but out's own
    -- storage changed (which then leaves the model)
    c.mayRefuse = true
    c.expect = function(call, r)
      checkTensor(call, c.op, r, shape, want)
      local root = out.root
      iter.roots[root.id] = nil
      for i = #iter.vars, 1, -1 do if iter.vars[i].root == root then table.remove(iter.vars, i) end end
    end
    return c
  end
  c.expect = function(call, r) checkTensor(call, "index", r, shape, want) end
  return c
end

-- nn ------------------------------------------------------------------------------
-- A module joins the program as a variable-like entry with a name.
local function newModule(code, ctor, uses)
  iter.nvar = iter.nvar + 1
  local m = { name = "m" .. iter.nvar }
  local call = { code = m.name .. " = " .. code, uses = uses or {}, op = code:match("L%.nn%.(%w+)") }
  local ok, obj = invoke(call, ctor)
  if not ok then return nil, obj end
  m.obj = obj
  record(call.code, m, call.uses)
  return m
end

-- float64 ----------------------------------------------------------------------
-- A variable converted to double (and back), and arithmetic in double, which the model
-- computes exactly: Lua's numbers are doubles, so every element must match to the bit.
local function sameNumber(a, b) return a == b or a ~= a and b ~= b end

ops.double = function()
  local v = pickVar()
  if not v then return nil end
  local s = scalarArg()
  local form = pick({
    { "%s:double()", function(t) return t:double() end, function(x) return x end },
    { "%s:double():float()", function(t) return t:double():float() end, f32, "float" },
    { "%s:double():add(%s)", function(t) return t:double():add(s) end, function(x) return x + s end },
    { "%s:double():sub(%s)", function(t) return t:double():sub(s) end, function(x) return x - s end },
    { "%s:double():mul(%s)", function(t) return t:double():mul(s) end, function(x) return x * s end },
    { "%s:double():sum()", function(t) return t:double():sum() end },
  })
  local code, fn, each, dtype = form[1], form[2], form[3], form[4] or "double"
  local c = { code = code:format(v.name, lit(s)), fn = fn, args = table.pack(v.t), uses = { v }, op = "double" }
  local xs = values(v)
  c.expect = function(call, r)
    if not each then -- the sum, in row-major order as the kernel adds
      local want = 0.0
      for _, x in ipairs(xs) do want = want + x end
      if not sameNumber(r, want) then finding("wrong result", "double", call, ("expected %s, got %s"):format(lit(want), lit(r))) end
      return
    end
    if not lunet.isTensor(r) or r:dtype() ~= dtype then
      finding("wrong result", "double", call, "expected a " .. dtype .. " tensor, got " .. (lunet.isTensor(r) and r:dtype() or type(r)))
    end
    if not sameShape(r:size(), v.shape) then
      finding("wrong shape", "double", call, ("expected %s, got %s"):format(shapeStr(v.shape), shapeStr(r:size())))
    end
    local got = flatten(r:totable())
    for i, x in ipairs(xs) do
      if not sameNumber(got[i], each(x)) then
        finding("wrong result", "double", call, ("element %d: expected %s, got %s"):format(i, lit(each(x)), lit(got[i])))
      end
    end
  end
  return c
end

-- A fresh float input of a shape, sometimes as a non-contiguous view of a bigger one.
local function inputOf(shape)
  local v = makeRoot(shape, "float")
  return v
end

local function weights(m, field)
  return flatten(m.obj[field]:totable())
end

ops.nn = function()
  local L = lunet
  local which = pick({ "Linear", "Linear2", "Conv2d", "MaxPool2d", "ReLU", "Dropout", "Flatten",
                       "CrossEntropyLoss", "RNN", "LSTM", "GRU" })
  if which == "Linear" or which == "Linear2" then
    local inF = R(1, 4)
    local outF = which == "Linear2" and inF or R(1, 4)
    local m = newModule(("L.nn.Linear(%d, %d)"):format(inF, outF), function() return L.nn.Linear(inF, outF) end)
    local target = m
    if which == "Linear2" then
      -- the same module twice in a row: its output buffer is its next input
      target = newModule(("L.nn.Sequential():add(%s):add(%s)"):format(m.name, m.name),
        function() return L.nn.Sequential():add(m.obj):add(m.obj) end, { m })
    end
    local x = chance(0.7) and inputOf({ R(0, 3), chance(0.9) and inF or R(1, 4) }) or pickVar()
    local c = method(target, "forward", x)
    c.op = which == "Linear2" and "Sequential(Linear, same Linear)" or "Linear"
    -- an output buffer that is also an input may be refused
    c.mayRefuse = which == "Linear2"
    if x.dtype ~= "float" or #x.shape ~= 2 or x.shape[2] ~= inF then c.expect = "either"; return c end
    -- the linear kernel, like ReLU's, refuses a view that is not contiguous
    if not x.t:isContiguous() then c.expect = "error"; return c end
    local W, b = weights(m, "weight"), weights(m, "bias")
    local function lin(xs, N)
      local out, scale = {}, {}
      for n = 1, N do
        for o = 1, outF do
          local s, sa = b[o], math.abs(b[o])
          for i = 1, inF do local p = xs[(n - 1) * inF + i] * W[(o - 1) * inF + i]; s = s + p; sa = sa + math.abs(p) end
          out[#out + 1], scale[#scale + 1] = f32(s), sa
        end
      end
      return out, scale
    end
    local xs = {}
    for i, v in ipairs(values(x)) do xs[i] = f32(v) end
    local want, scale = lin(xs, x.shape[1])
    if which == "Linear2" then
      want, scale = lin(want, x.shape[1])
      for i = 1, #scale do scale[i] = scale[i] * 10 end
    end
    c.expect = function(call, r) checkTensor(call, c.op, r, { x.shape[1], outF }, want, scale) end
    return c
  elseif which == "Conv2d" then
    local inC, outC, k = R(1, 2), R(1, 2), chance(0.1) and hostile() or R(1, 3)
    local stride, pad = R(1, 2), R(0, 1)
    if math.type(k) ~= "integer" or k < 1 then
      local _, err = newModule(("L.nn.Conv2d(%d, %d, %s)"):format(inC, outC, lit(k)), function() return L.nn.Conv2d(inC, outC, k) end)
      if err and not wellFormed(err) then finding("raw Lua error", "Conv2d", { code = "L.nn.Conv2d(" .. inC .. ", " .. outC .. ", " .. lit(k) .. ")", uses = {} }, tostring(err)) end
      return nil
    end
    local m = newModule(("L.nn.Conv2d(%d, %d, %s, {stride = %d, padding = %d})"):format(inC, outC, lit(k), stride, pad),
      function() return L.nn.Conv2d(inC, outC, k, { stride = stride, padding = pad }) end)
    if not m then return nil end
    local N, H, Wd = R(0, 2), R(1, 5), R(1, 5)
    local x = inputOf({ N, chance(0.9) and inC or inC + 1, H, Wd })
    local c = method(m, "forward", x)
    c.op = "Conv2d"
    local oh, ow = (H + 2 * pad - k) // stride + 1, (Wd + 2 * pad - k) // stride + 1
    if x.shape[2] ~= inC or H + 2 * pad < k or Wd + 2 * pad < k then c.expect = "either"; return c end
    local W, b, xs = weights(m, "weight"), weights(m, "bias"), values(x)
    local want, scale = {}, {}
    for n = 1, N do for o = 1, outC do for i = 1, oh do for j = 1, ow do
      local s, sa = b[o], math.abs(b[o])
      for ci = 1, inC do for p = 1, k do for q = 1, k do
        local y, z = (i - 1) * stride + p - pad, (j - 1) * stride + q - pad
        if y >= 1 and y <= H and z >= 1 and z <= Wd then
          local prod = f32(xs[(((n - 1) * inC + ci - 1) * H + y - 1) * Wd + z]) * W[(((o - 1) * inC + ci - 1) * k + p - 1) * k + q]
          s, sa = s + prod, sa + math.abs(prod)
        end
      end end end
      want[#want + 1], scale[#scale + 1] = f32(s), sa
    end end end end
    c.expect = function(call, r) checkTensor(call, "Conv2d", r, { N, outC, oh, ow }, want, scale) end
    return c
  elseif which == "MaxPool2d" then
    local k = chance(0.1) and pick({ math.maxinteger, 1 << 32, 0, -1 }) or R(1, 3)
    local stride = chance(0.5) and k or R(1, 2)
    local pad = (math.type(k) == "integer" and k >= 2 and chance(0.3)) and 1 or 0
    local m, err = newModule(("L.nn.MaxPool2d(%s, %s, %d)"):format(lit(k), lit(stride), pad),
      function() return L.nn.MaxPool2d(k, stride, pad) end)
    if not m then
      if not wellFormed(err) then finding("raw Lua error", "MaxPool2d", { code = ("L.nn.MaxPool2d(%s)"):format(lit(k)), uses = {} }, tostring(err)) end
      return nil
    end
    local N, C, H, Wd = R(0, 2), R(1, 2), R(1, 5), R(1, 5)
    local x = makeRoot({ N, C, H, Wd }, "float")
    if chance(0.3) then
      -- all -inf windows: the max is -inf
      local vals = {}
      for i = 1, #x.map do vals[i] = chance(0.8) and -math.huge or randValue("float") end
      x = makeRoot({ N, C, H, Wd }, "float", vals)
    end
    local c = method(m, "forward", x)
    c.op = "MaxPool2d"
    if k > 64 or H + 2 * pad < k or Wd + 2 * pad < k then c.expect = "either"; return c end
    local oh, ow = (H + 2 * pad - k) // stride + 1, (Wd + 2 * pad - k) // stride + 1
    local xs, want = values(x), {}
    for n = 1, N do for ch = 1, C do for i = 1, oh do for j = 1, ow do
      local best, seen = -math.huge, false
      for p = 1, k do for q = 1, k do
        local y, z = (i - 1) * stride + p - pad, (j - 1) * stride + q - pad
        if y >= 1 and y <= H and z >= 1 and z <= Wd then
          local v = xs[(((n - 1) * C + ch - 1) * H + y - 1) * Wd + z]
          if v ~= v then seen = "nan" elseif v > best or not seen then best = math.max(best, v); seen = seen or true end
        end
      end end
      want[(((n - 1) * C + ch - 1) * oh + i - 1) * ow + j] = seen ~= "nan" and best or nil
    end end end end
    c.expect = function(call, r) checkTensor(call, "MaxPool2d", r, { N, C, oh, ow }, want) end
    return c
  elseif which == "ReLU" or which == "Dropout" or which == "Flatten" then
    local m = newModule(("L.nn.%s(%s)"):format(which, which == "Dropout" and "0.5" or ""),
      function() return which == "Dropout" and L.nn.Dropout(0.5):evaluate() or L.nn[which]() end)
    if which == "Dropout" then iter.stmts[#iter.stmts].code = iter.stmts[#iter.stmts].code .. ":evaluate()" end
    local x = chance(0.6) and floatVar() or pickVar()
    if not x then return nil end
    local c = method(m, "forward", x)
    c.op = which
    local xs = values(x)
    if which == "Flatten" then
      if #x.shape < 1 then c.expect = "error"; return c end
      local shape = { x.shape[1], x.shape[1] > 0 and numelOf(x.shape) // x.shape[1] or numelOf({ table.unpack(x.shape, 2) }) }
      c.expect = function(call, r) checkTensor(call, "Flatten", r, shape, xs) end
      return c
    end
    if x.dtype ~= "float" then c.expect = "either"; return c end
    -- ReLU's kernel, like every module's, refuses a view that is not contiguous
    if which == "ReLU" and not x.t:isContiguous() then c.expect = "error"; return c end
    local want = {}
    for i, v in ipairs(xs) do want[i] = which == "Dropout" and v or (v ~= v and nil or math.max(v, 0.0)) end
    c.expect = function(call, r) checkTensor(call, which, r, x.shape, want) end
    return c
  elseif which == "CrossEntropyLoss" then
    local m = newModule("L.nn.CrossEntropyLoss()", function() return L.nn.CrossEntropyLoss() end)
    local N, K = R(0, 3), R(1, 4)
    local logits = chance(0.8) and makeRoot({ N, K }, "float") or pickVar()
    local labs = {}
    for i = 1, N do labs[i] = chance(0.1) and pick({ 0, K + 1, -1, 2147483647 }) or R(1, K) end
    local dtype = chance(0.5) and "int" or "float"
    local labels = makeRoot({ N }, dtype, N > 0 and labs or nil)
    local c = method(m, "forward", logits, labels)
    c.op = "CrossEntropyLoss"
    if logits.dtype ~= "float" or #logits.shape ~= 2 or logits.shape[1] ~= N or logits.shape[2] ~= K or N == 0 then c.expect = "either"; return c end
    for _, l in ipairs(labs) do if l < 1 or l > K then c.expect = "error"; return c end end
    local xs = values(logits)
    local loss, finite = 0, true
    for n = 1, N do
      local mx = -math.huge
      for j = 1, K do mx = math.max(mx, xs[(n - 1) * K + j]) end
      local s = 0
      for j = 1, K do s = s + math.exp(xs[(n - 1) * K + j] - mx) end
      loss = loss - (xs[(n - 1) * K + labs[n]] - mx - math.log(s))
      for j = 1, K do local v = xs[(n - 1) * K + j]; if v ~= v or v == math.huge or v == -math.huge then finite = false end end
    end
    loss = loss / N
    c.expect = function(call, r)
      if finite and not close(r, loss, 1e2 * math.max(1, math.abs(loss))) then
        finding("wrong result", "CrossEntropyLoss", call, ("expected %s, got %s"):format(lit(loss), lit(r)))
      end
    end
    return c
  else -- RNN, LSTM, GRU
    local D, H = R(1, 3), R(1, 3)
    local m = newModule(("L.nn.%s(%d, %d)"):format(which, D, H), function() return L.nn[which](D, H) end)
    local N, T = R(0, 2), R(0, 3)
    local x = chance(0.85) and makeRoot({ N, T, chance(0.9) and D or D + 1 }, "float") or pickVar()
    local c = method(m, "forward", x)
    c.op = which
    if x.dtype ~= "float" or #x.shape ~= 3 or x.shape[3] ~= D then c.expect = "either"; return c end
    N, T = x.shape[1], x.shape[2] -- x may be a variable picked from the program
    if N == 0 or T == 0 then c.expect = "either"; return c end
    local want, scale
    if which == "RNN" then
      local Wx, Wh, b = weights(m, "weightIH1"), weights(m, "weightHH1"), weights(m, "bias1")
      local xs = values(x)
      want = {}
      local h = {}
      for n = 1, N do h[n] = {} for j = 1, H do h[n][j] = 0 end end
      for t = 1, T do
        local hn = {}
        for n = 1, N do
          hn[n] = {}
          for j = 1, H do
            local s = b[j]
            for i = 1, D do s = s + Wx[(j - 1) * D + i] * f32(xs[((n - 1) * T + t - 1) * D + i]) end
            for i = 1, H do s = s + Wh[(j - 1) * H + i] * h[n][i] end
            hn[n][j] = UNOPS.tanh(s)
          end
        end
        h = hn
        for n = 1, N do for j = 1, H do want[((n - 1) * T + t - 1) * H + j] = h[n][j] end end
      end
      scale = 1e2
    end
    c.expect = function(call, r) checkTensor(call, which, r, { N, T, H }, want, scale) end
    return c
  end
end

-- The modules beyond LeNet-5's (nn breadth), nn.quantize and the convolution setting:
-- built from random and hostile arguments and run forward, forward and backward, or with a
-- gradient of the wrong shape. Their values are checked by their specs against PyTorch;
-- here every call must return or raise an error that names a function, and leave every
-- storage of the program as it was.
local function smallArg(lo, hi)
  if not chance(0.08) then return R(lo, hi) end
  local h = hostile()
  -- a size lunet may really allocate would only test the machine (as sizeArg)
  if math.type(h) == "integer" and h > 4096 and h <= 1 << 40 then h = 1 << 41 end
  return h
end

-- An options table as Lua source, its keys in order.
local function optsLit(o)
  local keys, parts = {}, {}
  for key in pairs(o) do keys[#keys + 1] = key end
  table.sort(keys)
  for i, key in ipairs(keys) do parts[i] = key .. " = " .. lit(o[key]) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

-- Each returns the module's name, its constructor's arguments and its input's shape.
local BREADTH = {
  function() local c = smallArg(1, 3); return "BatchNorm2d", { c }, { R(0, 3), c, R(1, 4), R(1, 4) } end,
  function() local d = smallArg(1, 4); return "LayerNorm", { d }, { R(0, 3), R(1, 2), d } end,
  function() return "AvgPool2d", { smallArg(1, 3) }, { R(0, 2), R(1, 2), R(1, 5), R(1, 5) } end,
  function() return "AdaptiveAvgPool2d", { smallArg(1, 3) }, { R(0, 2), R(1, 2), R(1, 5), R(1, 5) } end,
  function()
    return pick({ "GELU", "SiLU", "Tanh", "Sigmoid", "LeakyReLU", "ELU", "Softplus" }), {}, randShape(4, 4)
  end,
  function() return "Embedding", { smallArg(1, 6), smallArg(1, 3) }, { R(0, 3), R(0, 3) } end,
  function()
    local name = pick({ "Conv2d", "ConvTranspose2d", "Conv1d" })
    local groups = chance(0.6) and 1 or smallArg(1, 3)
    local g = math.type(groups) == "integer" and groups >= 1 and groups <= 3 and groups or 1
    local inC, outC = g * R(1, 2), g * R(1, 2)
    if chance(0.05) then inC = inC + 1 end
    local o = { groups = groups, stride = smallArg(1, 2), padding = chance(0.95) and R(0, 2) or hostile(),
                dilation = chance(0.95) and R(1, 2) or hostile() }
    local shape = name == "Conv1d" and { R(0, 2), inC, R(1, 7) } or { R(0, 2), inC, R(1, 6), R(1, 6) }
    return name, { inC, outC, smallArg(1, 3), o }, shape
  end,
  function() return "quantize", { R(1, 4), R(1, 4), pick({ "bf16", "int8", "int4", 8 }) }, nil end,
}

ops.nnbreadth = function()
  local L = lunet
  local name, args, shape = pick(BREADTH)()
  local m, err
  if name == "quantize" then
    local inF, outF, format = table.unpack(args)
    shape = { R(0, 3), inF }
    m, err = newModule(("L.nn.quantize(L.nn.Linear(%d, %d), %s)"):format(inF, outF, lit(format)),
      function() return L.nn.quantize(L.nn.Linear(inF, outF), format) end)
  else
    local parts = {}
    for i, a in ipairs(args) do parts[i] = type(a) == "table" and next(a) ~= nil and optsLit(a) or lit(a) end
    m, err = newModule(("L.nn.%s(%s)"):format(name, table.concat(parts, ", ")),
      function() return L.nn[name](table.unpack(args)) end)
  end
  if not m then
    if not wellFormed(err) then
      finding("raw Lua error", name, { code = "L.nn." .. name .. "(...)", uses = {} }, tostring(err))
    end
    return nil
  end
  local x
  if name == "Embedding" then
    local n, vals = args[1], {}
    for i = 1, numelOf(shape) do
      vals[i] = chance(0.9) and math.type(n) == "integer" and n >= 1 and R(1, math.min(n, 6)) or pick({ 0, -1, 7, 2147483647 })
    end
    x = makeRoot(shape, "int", vals)
  else
    for d = 1, #shape do if math.type(shape[d]) ~= "integer" or shape[d] > 6 then shape[d] = R(1, 3) end end
    x = chance(0.85) and makeRoot(shape, "float") or pickVar()
  end
  local mode = R(3)
  local c
  if mode == 1 then
    c = method(m, "forward", x)
  else
    -- forward, then backward with a gradient of the output's shape (mode 2) or of a
    -- variable of the program (mode 3)
    local g = mode == 3 and pickVar() or nil
    local code = ("(function() local y = %s:forward(%s); return %s:backward(%s, %s) end)()"):format(m.name, x.name,
      m.name, x.name, g and g.name or "L.ones(table.unpack(y:size()))")
    c = { code = code, uses = { m, x, g }, args = { m.obj, x.t, g and g.t },
          fn = function(mod, input, grad)
            local y = mod:forward(input)
            return mod:backward(input, grad or L.ones(table.unpack(y:size())))
          end }
  end
  c.op, c.expect = name, "either"
  return c
end

-- The convolution algorithm setting, and a convolution Winograd computes under "auto".
ops.convsetting = function()
  local L = lunet
  local setting = pick({ "auto", "im2col", "auto", "winograd", 1 })
  local n, h, w, k = R(0, 2), R(1, 7), R(1, 7), pick({ 3, 5 })
  local seed = iter.k
  local code = ("(function() L.setConvAlgorithm(%s); L.manualSeed(%d); local m = L.nn.Conv2d(32, 32, %d, {padding = %d}); "
    .. "local x = L.randn(%d, 32, %d, %d); local y = m:forward(x); return m:backward(x, y) end)()"):format(lit(setting),
    seed, k, k // 2, n, h, w)
  -- what code says, run with the setting put back afterwards
  local function conv()
    L.setConvAlgorithm(setting)
    L.manualSeed(seed)
    local m, x = L.nn.Conv2d(32, 32, k, { padding = k // 2 }), L.randn(n, 32, h, w)
    local y = m:forward(x)
    return m:backward(x, y)
  end
  return { code = code, fn = function()
    local ok, r = pcall(conv)
    L.setConvAlgorithm("auto")
    if not ok then error(r, 0) end
    return r
  end, args = {}, uses = {}, op = "setConvAlgorithm", expect = "either" }
end

---------------------------------------------------------------------------------
local WEIGHTS = { create = 2, view = 6, fill = 1, copy = 2, binary = 5, unary = 3, reduce = 3,
                  matmul = 3, index = 2, nn = 2, double = 2, nnbreadth = 2, convsetting = 1 }
local opNames = {}
for name, w in pairs(WEIGHTS) do for _ = 1, w do opNames[#opNames + 1] = name end end
table.sort(opNames)

local function iteration(k)
  math.randomseed(opts.seed * 1000003 + k)
  iter = { k = k, roots = {}, vars = {}, stmts = {}, nvar = 0 }
  for _ = 1, R(1, 3) do
    makeRoot(randShape(3, 4), chance(0.2) and "int" or "float")
  end
  for _ = 1, R(10, 40) do
    local c = ops[pick(opNames)]()
    if c then run(c) end
  end
end

local started = os.time()
local clock = os.clock
local t0 = clock()
local k = opts.first
while true do
  if opts.iterations and k >= opts.first + opts.iterations then break end
  if opts.seconds and os.time() - started >= opts.seconds then break end
  local ok, err = xpcall(iteration, function(e) return type(e) == "table" and e or debug.traceback(e) end, k)
  if not ok and not (type(err) == "table" and err.finding) then
    -- an error of the fuzzer itself: say so, with the iteration to replay
    io.stderr:write(("api.lua: internal error in iteration %d: %s\n"):format(k, tostring(err)))
    os.exit(INTERNAL)
  end
  k = k + 1
  if k % 200 == 0 then collectgarbage() end
end
local secs = math.max(clock() - t0, 1e-9)
io.stdout:write(("api.lua: seed %d, iterations %d, executions %d (%.0f/s), %d errors raised, findings %d\n"):format(
  opts.seed, k - opts.first, stats.calls, stats.calls / secs, stats.errors, stats.findings))
os.exit(stats.findings > 0 and FOUND or 0)
