-- bench/run.lua — lunet's benchmark suite, with PyTorch measured side by side.
--
--   bin/lunet bench/run.lua [--quick] [--threads-list 1,2] [--out DIR] [--rounds N] [--no-torch]
--                           [--only PATTERN]
--
-- Every workload runs in its own child process, one for lunet (this script with --worker)
-- and one for PyTorch (bench/torch_bench.py), so that each process's peak resident
-- memory (VmHWM) is that workload's alone. Both children stay up while the parent
-- alternates between them in rounds: each round asks one, then the other (the order
-- flips every round), for one untimed and K timed iterations. The figure is the median
-- over all timed iterations of all rounds. On a machine that others share, load comes
-- and goes; since both sides see the same rounds, their ratio is meaningful even when
-- the milliseconds are not.
--
-- A workload with an `against` (bench/workloads.lua: a model written with lunet.autograd)
-- has a third child in its rounds, the same model on the module path (side "module"), so
-- that the autograd targets compare figures taken under the same load.
--
-- A workload that counts FLOPs has one more child in its rounds, side "floor": the sgemm
-- under lunet's nn kernels at 1024³ (core.bench_sgemm(1024, 1, "lunet"), half a round's time),
-- whose rate makes the workload's floor; LeNet-5's batch-1 inference has another, side
-- "read": the machine's read bandwidth (core.bench_read over workloads.READ_BYTES), for its
-- bound. Measured in the same rounds, a floor sees the same load as its workload.
-- The report, a Markdown table per thread count (each workload against its floor and
-- PyTorch) plus the targets of the speed issues, is printed and written to
-- DIR/RESULTS-<date>.md (DIR defaults to bench/out).
-- PyTorch is optional: without it (or with --no-torch) lunet's figures come alone.
--
-- Child protocol (the same for both sides, see bench/torch_bench.py):
--   child prints "ready ..." (or "missing ..." / "error ..."); parent sends "run K", child
--   answers "times s1 ... sK"; parent sends "quit", child answers "rss <VmHWM kB>".
--   The lunet LeNet-5 training child also answers "layers K" with per-layer medians.
--
-- The files: bench/workloads.lua (what is measured), this one (the processes, rounds and
-- timing), bench/report.lua (the report).
local lunet = require "lunet"
local cli = require "lunet.cli"

local parser = cli.parser("bench", "lunet's benchmark suite, with PyTorch side by side.")
parser:option("--threads-list", "Thread counts to measure, comma-separated.", "1,2")
parser:option("--rounds", "Rounds of alternating measurements per workload (default 5, 2 with --quick).")
  :convert(math.tointeger)
parser:option("--only", "Measure only the workloads whose name contains this (Lua pattern).")
parser:flag("--no-torch", "Measure lunet alone.")
parser:option("--worker", "(internal) Run one workload as a child process."):hidden(true)
-- The suite's reports go beside it, not under results/ as an experiment's would.
for _, o in ipairs(parser._options) do
  if o._name == "--out" then o:default("bench/out") end
end
local args = cli.parse(parser)

local ROOT = arg[0]:match("^(.*)/bench/[^/]*$") or "."
local PYTHON = "/usr/bin/python3"
package.path = ROOT .. "/bench/?.lua;" .. package.path
local workloads = require "workloads"
local report = require "report"
local median, WORKLOADS = workloads.median, workloads.list

local function peakRSS()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmHWM:%s*(%d+)")
    if kb then return tonumber(kb) end
  end
  return -1
end

-- Child mode: one workload, driven over stdin/stdout.
local function worker(name)
  local it, layers, timed = workloads.build(name)
  -- what building the workload left behind is not the workload's memory (two cycles: a
  -- tensor with a finalizer is freed in the cycle after the one that finds it unreachable)
  collectgarbage()
  collectgarbage()
  io.write("ready lunet ", lunet.version, "\n")
  io.stdout:flush()
  for line in io.lines() do
    local cmd, k = line:match("^(%a+)%s*(%d*)$")
    k = tonumber(k)
    if cmd == "run" then
      local times = {}
      if timed then
        timed()
        for i = 1, k do times[i] = ("%.9f"):format(timed()) end
      else
        it()
        for i = 1, k do
          local t = lunet.wallclock()
          it()
          times[i] = ("%.9f"):format(lunet.wallclock() - t)
        end
      end
      io.write("times ", table.concat(times, " "), "\n")
    elseif cmd == "layers" and layers then
      io.write("layers ", layers(k), "\n")
    else
      break
    end
    io.stdout:flush()
  end
  io.write("rss ", peakRSS(), "\n")
end

if args.worker then
  worker(args.worker)
  return
end

---------------------------------------------------------------------------------
-- Parent mode.

local QUICK = args.quick
local ROUNDS = args.rounds or (QUICK and 2 or 5)
local ROUND_SECONDS = QUICK and 0.15 or 0.4 -- per side and round
local threadsList = {}
for t in args.threads_list:gmatch("[^,]+") do
  local n = math.tointeger(tonumber(t))
  if not n or n < 1 then parser:error("--threads-list must be positive integers separated by commas") end
  threadsList[#threadsList + 1] = n
end

local function quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- A child process with a command pipe to its stdin and its stdout read back through a
-- FIFO (io.popen is one-way).
local Child = {}
Child.__index = Child

function Child.spawn(cmd)
  local fifo = os.tmpname()
  os.remove(fifo)
  assert(os.execute("mkfifo " .. quote(fifo)), "bench: mkfifo failed")
  local w = assert(io.popen(cmd .. " > " .. quote(fifo), "w"))
  local r = assert(io.open(fifo, "r")) -- returns once the child's shell has opened the other end
  os.remove(fifo)
  local self = setmetatable({ w = w, r = r }, Child)
  self.hello = r:read("l")
  return self
end

function Child:ask(line)
  if self.dead then return nil end
  self.w:write(line, "\n")
  self.w:flush()
  local reply = self.r:read("l")
  if not reply then self.dead = true end
  return reply
end

-- Sends "quit"; returns the peak RSS in kB (or nil).
function Child:close()
  local rss = tonumber((self:ask("quit") or ""):match("^rss (%d+)"))
  self.w:close()
  self.r:close()
  return rss
end

local function lunetCmd(name, threads)
  return ("%s %s --worker %s --threads %d"):format(quote(ROOT .. "/bin/lunet"), quote(ROOT .. "/bench/run.lua"),
    name, threads)
end

local torchState = { available = not args.no_torch, note = args.no_torch and "not measured (--no-torch)" or nil }

local function torchCmd(name, threads)
  return ("%s %s %s %d"):format(PYTHON, quote(ROOT .. "/bench/torch_bench.py"), name, threads)
end

-- Measures the given sides ({label, cmd} each) of one comparison in alternating rounds.
-- Returns per label {ms = median, rss = kB, times = {...}} (nil for a side that failed).
local function compare(sides, opts)
  opts = opts or {}
  local kids, res = {}, {}
  for i, s in ipairs(sides) do
    local kid = Child.spawn(s.cmd)
    local hello = kid.hello or ""
    if hello:match("^ready") then
      kids[i] = kid
      res[s.label] = { times = {}, version = hello:match("^ready %S+ (.*)$") }
    else
      kid:close()
      if s.label == "torch" then
        torchState.available = false
        torchState.note = hello:match("^missing") and ("not installed (" .. hello:gsub("^missing ", "") .. ")")
          or ("failed to start: " .. (hello ~= "" and hello or "no answer"))
        io.stderr:write("bench: PyTorch " .. torchState.note .. "; measuring lunet alone\n")
      else
        io.stderr:write(("bench: %s child for %s failed to start: %s\n"):format(s.label, opts.name, hello))
      end
    end
  end
  -- one probe iteration per side sizes K so that a round takes about ROUND_SECONDS (times the
  -- side's share), unless the side fixes its k
  local k = {}
  for i, kid in pairs(kids) do
    local t = not sides[i].k and tonumber(((kid:ask("run 1") or ""):match("^times (%S+)")))
    local budget = ROUND_SECONDS * (sides[i].share or 1)
    k[i] = sides[i].k or t and math.max(1, math.min(200, math.floor(budget / math.max(t, 1e-6) + 0.5)))
  end
  for r = 1, ROUNDS do
    local order = {}
    for i = 1, #sides do order[i] = r % 2 == 1 and i or #sides + 1 - i end
    for _, i in ipairs(order) do
      local kid = kids[i]
      local reply = kid and k[i] and kid:ask("run " .. k[i])
      if reply then
        local list = res[sides[i].label].times
        for v in reply:gmatch("%S+") do
          local x = tonumber(v)
          if x then list[#list + 1] = x end
        end
      end
    end
  end
  if opts.layers and kids[1] then
    res[sides[1].label].layers = (kids[1]:ask("layers " .. (QUICK and 5 or 15)) or ""):match("^layers (.*)$")
  end
  for i, kid in pairs(kids) do
    local e = res[sides[i].label]
    e.rss = kid:close()
    e.ms = #e.times > 0 and median(e.times) * 1e3 or nil
    if not e.ms then res[sides[i].label] = nil end
  end
  return res
end


local function selected(name) return not args.only or name:match(args.only) end

local startedAt, loadBefore = os.date("%Y-%m-%d %H:%M"), report.loadavg()
local wall0 = lunet.wallclock()
local results = {} -- results[threads][workload] = {lunet=..., torch=..., floor=..., read=..., load=...}
local reference = {} -- reference[threads][n] = {matmul=..., cblas=..., gemm=...}
local torchVersion

for _, threads in ipairs(threadsList) do
  results[threads], reference[threads] = {}, {}
  io.stderr:write(("bench: %d thread(s)\n"):format(threads))
  -- the machine's reference first: lunet's matmul against cblas_sgemm called directly
  for _, n in ipairs({ 512, 1024 }) do
    if selected("matmul_" .. n) or selected("sgemm_1024") or not args.only then
      reference[threads][n] = compare({ { label = "matmul", cmd = lunetCmd("matmul_" .. n, threads) },
                                         { label = "addmm", cmd = lunetCmd("addmm_" .. n, threads) },
                                         { label = "cblas", cmd = lunetCmd("cblas_" .. n, threads) },
                                         { label = "gemm", cmd = lunetCmd("gemm_" .. n, threads) } },
                                       { name = "matmul_" .. n })
    end
  end
  for _, w in ipairs(WORKLOADS) do
    local name = w[1]
    if selected(name) then
      io.stderr:write(("bench:   %s\n"):format(name))
      local sides = { { label = "lunet", cmd = lunetCmd(name, threads) } }
      if w.against then sides[#sides + 1] = { label = "module", cmd = lunetCmd(w.against, threads) } end
      if torchState.available then sides[#sides + 1] = { label = "torch", cmd = torchCmd(name, threads) } end
      -- the floor's rate in the workload's own rounds, half a round's time each; the read
      -- bandwidth one pass a round (a pass over a fresh buffer: its allocation is not timed)
      if not w.elements then
        sides[#sides + 1] = { label = "floor", cmd = lunetCmd("gemm_1024", threads), share = 0.5 }
      end
      if name == "lenet_infer_b1" then
        sides[#sides + 1] = { label = "read", cmd = lunetCmd("read_memory", threads), k = 1 }
        -- the same model with its Linear weights quantized (nn.quantize), in the same rounds
        for _, format in ipairs({ "bf16", "int8" }) do
          sides[#sides + 1] = { label = format, cmd = lunetCmd("lenet_infer_" .. format .. "_b1", threads) }
        end
      end
      local r = compare(sides, { name = name, layers = name == "lenet_train_b50" })
      r.load = report.loadavg()
      results[threads][name] = r
      torchVersion = torchVersion or (r.torch and r.torch.version)
    end
  end
end

-- Start-up: wall time of the two commands, alternated, and in-process CPU time (which
-- waits for no core, so a loaded machine inflates it less); the same runs report the
-- process's VmHWM. bin/lunet execs lua5.4, so its CPU time includes the shell's.
local function startup()
  local reps = QUICK and 3 or 10
  local cmds = {
    lunet = quote(ROOT .. "/bin/lunet") .. " -e " .. quote('require "lunet"; for l in io.lines("/proc/self/status") do '
      .. 'local k = l:match("^VmHWM:%s*(%d+)") if k then print(k, os.clock()) end end'),
    torch = PYTHON .. " -c " .. quote('import torch, time; print([l.split()[1] for l in open("/proc/self/status") '
      .. 'if l.startswith("VmHWM")][0], time.process_time())'),
  }
  local out = {}
  local sides = torchState.available and { "lunet", "torch" } or { "lunet" }
  for _, s in ipairs(sides) do out[s] = { times = {}, cpu = {}, rss = {} } end
  for r = 1, reps do
    for i = 1, #sides do
      local s = sides[r % 2 == 1 and i or #sides + 1 - i]
      local t = lunet.wallclock()
      local p = io.popen(cmds[s] .. " 2>/dev/null")
      local rss, cpu = p:read("a"):match("(%d+)%s+([%d.e-]+)%s*$")
      p:close()
      table.insert(out[s].times, lunet.wallclock() - t)
      table.insert(out[s].cpu, tonumber(cpu) or 0 / 0)
      table.insert(out[s].rss, tonumber(rss) or 0 / 0)
    end
  end
  for _, s in ipairs(sides) do
    out[s].ms, out[s].cpuMs, out[s].rss = median(out[s].times) * 1e3, median(out[s].cpu) * 1e3, median(out[s].rss)
  end
  return out
end
io.stderr:write("bench: start-up\n")
local start = startup()

-- Which PyTorch build was measured, for the report's note on it.
local torchConfig
if torchState.available then
  local p = io.popen(PYTHON .. " " .. quote(ROOT .. "/bench/torch_bench.py") .. " --config 2>/dev/null")
  torchConfig = (p:read("a") or ""):match("^config (.-)%s*$")
  p:close()
end

report.write({results = results, reference = reference, start = start, threadsList = threadsList,
  rounds = ROUNDS, quick = QUICK, torchState = torchState, torchVersion = torchVersion, torchConfig = torchConfig,
  startedAt = startedAt, loadBefore = loadBefore, wall0 = wall0, out = args.out})
