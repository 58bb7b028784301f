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
-- The report, a Markdown table per thread count plus the targets of the speed issue, is
-- printed and written to DIR/RESULTS-<date>.md (DIR defaults to bench/out).
-- PyTorch is optional: without it (or with --no-torch) lunet's figures come alone.
--
-- Child protocol (the same for both sides, see bench/torch_bench.py):
--   child prints "ready ..." (or "missing ..." / "error ..."); parent sends "run K", child
--   answers "times s1 ... sK"; parent sends "quit", child answers "rss <VmHWM kB>".
--   The lunet LeNet-5 training child also answers "layers K" with per-layer medians.
local lunet = require "lunet"
local cli = require "lunet.cli"
local nn = lunet.nn
local optim = lunet.optim
local models = require "lunet.models"
local core = lunet.core

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

local function peakRSS()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmHWM:%s*(%d+)")
    if kb then return tonumber(kb) end
  end
  return -1
end

local function median(t)
  local s = table.move(t, 1, #t, 1, {})
  table.sort(s)
  local n = #s
  if n == 0 then return 0 / 0 end
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end

---------------------------------------------------------------------------------
-- The workloads. FLOPs are counted per layer: 2 per multiply-add of every product
-- (convolutions, linear layers, recurrent projections); elementwise work is not counted.

local function convFlops(n, c, hw, oc, k) return 2 * n * oc * hw * hw * c * k * k end -- 'same' padding
local function linearFlops(n, i, o) return 2 * n * i * o end

-- LeNet-5 of MISSION.md at batch n: per-layer forward FLOPs.
local function lenetForward(n)
  return { conv1 = convFlops(n, 1, 28, 32, 5), conv2 = convFlops(n, 32, 14, 64, 5),
           fc1 = linearFlops(n, 3136, 1024), fc2 = linearFlops(n, 1024, 10) }
end

local function lenetFlops(n, train)
  local f = lenetForward(n)
  local fwd = f.conv1 + f.conv2 + f.fc1 + f.fc2
  if not train then return fwd end
  -- backward: weight and input gradients (2x the forward) except conv1, whose input
  -- needs no gradient
  return fwd + f.conv1 + 2 * (f.conv2 + f.fc1 + f.fc2)
end

-- A recurrent training step: forward input projections (x) and recurrent products (h)
-- over T steps plus the linear layer; backward the recurrent products again, dW_x, dW_h
-- and the linear layer's two gradients (no gradient w.r.t. the input sequence).
local function rnnFlops(gates, n)
  local T, D, H = 28, 28, 64
  local x, h, lin = 2 * n * T * D * gates * H, 2 * n * T * H * gates * H, linearFlops(n, H, 10)
  return 2 * x + 3 * h + 3 * lin
end

local SGEMM = { ["1024"] = { 1024, 1024, 1024 }, conv1 = { 32, 25, 50 * 784 }, conv2 = { 64, 800, 50 * 196 },
                fc1 = { 50, 3136, 1024 }, fc2 = { 50, 1024, 10 } }

-- name, description, FLOPs per iteration; `torch`: measured on both sides.
local WORKLOADS = {
  { "lenet_train_b50", "LeNet-5 training step, batch 50", lenetFlops(50, true) },
  { "lenet_infer_b50", "LeNet-5 inference, batch 50", lenetFlops(50) },
  { "lenet_infer_b1", "LeNet-5 inference, batch 1 (latency)", lenetFlops(1) },
  { "lenet_infer_b256", "LeNet-5 inference, batch 256 (throughput)", lenetFlops(256) },
  { "conv1_fwd", "conv2d 1->32 5x5, 50x28x28, forward", lenetForward(50).conv1 },
  { "conv1_bwd", "conv2d 1->32, backward (input+weight)", 2 * lenetForward(50).conv1 },
  { "conv2_fwd", "conv2d 32->64 5x5, 50x14x14, forward", lenetForward(50).conv2 },
  { "conv2_bwd", "conv2d 32->64, backward (input+weight)", 2 * lenetForward(50).conv2 },
}
for _, c in ipairs({ { "rnn", "RNN", 1 }, { "lstm", "LSTM", 4 }, { "gru", "GRU", 3 } }) do
  for _, n in ipairs({ 10, 128 }) do
    WORKLOADS[#WORKLOADS + 1] = { ("%s_train_b%d"):format(c[1], n),
      ("%s training step, batch %d (T=28, D=28, H=64)"):format(c[2], n), rnnFlops(c[3], n) }
  end
end
for _, s in ipairs({ "1024", "conv1", "conv2", "fc1", "fc2" }) do
  local m, k, n = table.unpack(SGEMM[s])
  WORKLOADS[#WORKLOADS + 1] = { "sgemm_" .. s,
    ("sgemm %dx%d . %dx%d%s"):format(m, k, k, n, s == "1024" and "" or (" (%s, batch 50)"):format(s)),
    2 * m * k * n }
end

local function labels(n)
  local y = lunet.zeros(n, "int")
  for i = 1, n do y[i] = (i - 1) % 10 + 1 end
  return y
end

-- One training step as train.classifier takes it (denormals flushed, no gradient
-- w.r.t. the input, as there).
local function trainStep(model, x, y)
  local crit, opt = nn.CrossEntropyLoss(), optim.Adam(model, { lr = 1e-3 })
  lunet.setFlushDenormals(true)
  model.needInputGrad = false
  return function()
    model:zeroGrad()
    local out = model:forward(x)
    crit:forward(out, y)
    model:backward(x, crit:backward(out, y))
    opt:step()
  end
end

-- Per-layer medians (ms) of forward and backward over k training steps, as
-- Sequential:forward and :backward run them.
local function layerTimes(model, x, y, k)
  local crit, mods = nn.CrossEntropyLoss(), model.modules
  local fwd, bwd = {}, {}
  for i = 1, #mods do fwd[i], bwd[i] = {}, {} end
  for it = 1, k do
    model:zeroGrad()
    local h = x
    for i, m in ipairs(mods) do
      local t = lunet.wallclock()
      h = m:forward(h)
      fwd[i][it] = lunet.wallclock() - t
    end
    crit:forward(h, y)
    local g = crit:backward(h, y)
    mods[1].needInputGrad = model.needInputGrad
    for i = #mods, 1, -1 do
      local t = lunet.wallclock()
      g = mods[i]:backward(i > 1 and mods[i - 1].output or x, g)
      bwd[i][it] = lunet.wallclock() - t
    end
  end
  local parts = {}
  for i = 1, #mods do
    parts[i] = ("%s=%.4f,%.4f"):format(model.names[i] or ("m" .. i), median(fwd[i]) * 1e3, median(bwd[i]) * 1e3)
  end
  return table.concat(parts, " ")
end

-- The function one iteration of workload `name` calls, and an optional per-layer
-- report function.
local function build(name)
  lunet.manualSeed(1)
  local batch = tonumber(name:match("_b(%d+)$"))
  if name:match("^lenet_") then
    local model, x = models.lenet5(), lunet.rand(batch, 1, 28, 28)
    if name:match("^lenet_train") then
      local y = labels(batch)
      return trainStep(model, x, y), function(k) return layerTimes(model, x, y, k) end
    end
    model:evaluate()
    return function() model:forward(x) end
  end
  local conv = name:match("^(conv%d)_")
  if conv then
    local c, oc, hw = table.unpack(({ conv1 = { 1, 32, 28 }, conv2 = { 32, 64, 14 } })[conv])
    local m, x = nn.Conv2d(c, oc, 5, { padding = "same" }), lunet.rand(50, c, hw, hw)
    if name:match("_fwd$") then return function() m:forward(x) end end
    local g = lunet.rand(table.unpack(m:forward(x):size()))
    return function()
      m:updateGradInput(x, g)
      m:accGradParameters(x, g)
    end
  end
  local cell = name:match("^(%a+)_train")
  if cell then
    local model = nn.Sequential():add(nn[cell:upper()](28, 64)):add(nn.LastStep()):add(nn.Linear(64, 10))
    return trainStep(model, lunet.rand(batch, 28, 28), labels(batch))
  end
  local shape = name:match("^sgemm_(.*)$")
  if shape then
    local m, k, n = table.unpack(SGEMM[shape])
    local a, b, c = lunet.rand(m, k), lunet.rand(k, n), lunet.zeros(m, n)
    return function() c:addmm_(a, b, 0, 1) end
  end
  local n = tonumber(name:match("^matmul_(%d+)$"))
  if n then
    local a, b = lunet.rand(n, n), lunet.rand(n, n)
    return function() return a:matmul(b) end
  end
  n = tonumber(name:match("^addmm_(%d+)$"))
  if n then
    local a, b, c = lunet.rand(n, n), lunet.rand(n, n), lunet.zeros(n, n)
    return function() c:addmm_(a, b, 0, 1) end
  end
  n = tonumber(name:match("^cblas_(%d+)$"))
  if n then return nil, nil, function() return core.bench_sgemm(n, 1) end end
  n = tonumber(name:match("^gemm_(%d+)$"))
  if n then return nil, nil, function() return core.bench_sgemm(n, 1, "lunet") end end
  error("unknown workload " .. name)
end

-- Child mode: one workload, driven over stdin/stdout.
local function worker(name)
  local it, layers, timed = build(name)
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

-- PyTorch runs as its users get it: without the OMP_WAIT_POLICY that bin/lunet sets.
local function torchCmd(name, threads)
  return ("env -u OMP_WAIT_POLICY %s %s %s %d"):format(PYTHON, quote(ROOT .. "/bench/torch_bench.py"), name, threads)
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
  -- one probe iteration per side sizes K so that a round takes about ROUND_SECONDS
  local k = {}
  for i, kid in pairs(kids) do
    local t = tonumber(((kid:ask("run 1") or ""):match("^times (%S+)")))
    if t then k[i] = math.max(1, math.min(200, math.floor(ROUND_SECONDS / math.max(t, 1e-6) + 0.5))) end
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

local function loadavg()
  local f = io.open("/proc/loadavg")
  local s = f and f:read("l") or "?"
  if f then f:close() end
  return s:match("^(%S+ %S+ %S+)") or s
end

local function cpuModel()
  for line in io.lines("/proc/cpuinfo") do
    local m = line:match("^model name%s*:%s*(.-)%s*$")
    if m then return m end
  end
  return "unknown"
end

local function selected(name) return not args.only or name:match(args.only) end

local startedAt, loadBefore = os.date("%Y-%m-%d %H:%M"), loadavg()
local wall0 = lunet.wallclock()
local results = {} -- results[threads][workload] = {lunet=..., torch=...}
local reference = {} -- reference[threads][n] = {matmul=..., cblas=...}
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
      if torchState.available then sides[2] = { label = "torch", cmd = torchCmd(name, threads) } end
      local r = compare(sides, { name = name, layers = name == "lenet_train_b50" })
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

---------------------------------------------------------------------------------
-- The report.

local blasConfig, blasCore = core.blasInfo()
local lines = {}
local function add(s, ...) lines[#lines + 1] = select("#", ...) > 0 and s:format(...) or s end
local function fmt(v, f) return v and (f):format(v) or "—" end
local function mb(kb) return kb and ("%.0f"):format(kb / 1024) or "—" end

local function refRate(threads)
  local ref = reference[threads][1024]
  return ref and ref.cblas and 2 * 1024 ^ 3 / (ref.cblas.ms * 1e-3) / 1e9
end

add("# lunet benchmark — %s", startedAt)
add("")
add("- CPU: %s, %d cores online; load average %s at the start, %s at the end", cpuModel(),
  tonumber(io.popen("nproc"):read("l")) or 0, loadBefore, loadavg())
add("- BLAS: %s; kernel set: **%s** (OPENBLAS_CORETYPE=%s)", blasConfig, blasCore, os.getenv("OPENBLAS_CORETYPE") or "unset")
add("- lunet %s on %s with OMP_WAIT_POLICY=%s (PyTorch without it); sgemm under the nn kernels: %s; PyTorch: %s",
  lunet.version, _VERSION, os.getenv("OMP_WAIT_POLICY") or "unset", lunet.gemmBackend(),
  torchState.available and ("torch " .. (torchVersion or "?")) or (torchState.note or "—"))
add("- threads: %s; %d rounds per workload, lunet and PyTorch alternating; figures are medians%s",
  table.concat(threadsList, ", "), ROUNDS, QUICK and " (--quick)" or "")
add("- GFLOP/s counts 2 FLOPs per multiply-add of every product (conv, linear, recurrent); \"of sgemm\" is that")
add("  rate over cblas_sgemm's 1024³ rate measured at the same thread count. Memory is the peak resident set")
add("  (VmHWM) of the child process that ran that workload alone (interpreter and libraries included).")
add("")

for _, threads in ipairs(threadsList) do
  local ref = refRate(threads)
  add("## %d thread%s", threads, threads > 1 and "s" or "")
  add("")
  if next(reference[threads]) then
    add("lunet's `a:matmul(b)` (a new result each call) and `c:addmm_(a, b, 0, 1)` (into a kept tensor), both")
    add("OpenBLAS underneath, against cblas_sgemm called directly (core.bench_sgemm); and the sgemm under")
    add("lunet's nn kernels (gemm.h, backend %s). ms (GFLOP/s):", lunet.gemmBackend())
    add("")
    add("| n | matmul | addmm_ | cblas_sgemm | matmul / cblas | addmm_ / cblas | kernels' sgemm |")
    add("|---|---:|---:|---:|---:|---:|---:|")
    for _, n in ipairs({ 512, 1024 }) do
      local r = reference[threads][n]
      if r and r.matmul and r.addmm and r.cblas then
        local f = 2 * n ^ 3 / 1e9
        local function cell(e) return e and ("%.2f (%.1f)"):format(e.ms, f / (e.ms * 1e-3)) or "—" end
        add("| %d³ | %s | %s | %s | %.3f | %.3f | %s |", n, cell(r.matmul), cell(r.addmm), cell(r.cblas),
          r.matmul.ms / r.cblas.ms, r.addmm.ms / r.cblas.ms, cell(r.gemm))
      end
    end
    add("")
  end
  add("| workload | MFLOP | lunet ms | GFLOP/s | of sgemm | MB | PyTorch ms | GFLOP/s | of sgemm | MB | lunet / PyTorch |")
  add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
  for _, w in ipairs(WORKLOADS) do
    local r = results[threads][w[1]]
    if r then
      local cells = { w[2], ("%.1f"):format(w[3] / 1e6) }
      for _, side in ipairs({ "lunet", "torch" }) do
        local e = r[side]
        local gf = e and w[3] / (e.ms * 1e-3) / 1e9
        cells[#cells + 1] = fmt(e and e.ms, e and e.ms < 1 and "%.3f" or "%.2f")
        cells[#cells + 1] = fmt(gf, "%.1f")
        cells[#cells + 1] = fmt(gf and ref and gf / ref, "%.2f")
        cells[#cells + 1] = mb(e and e.rss)
      end
      cells[#cells + 1] = (r.lunet and r.torch) and ("**%.2f**"):format(r.lunet.ms / r.torch.ms) or "—"
      add("| " .. table.concat(cells, " | ") .. " |")
    end
  end
  add("")
  local lt = results[threads].lenet_train_b50
  if lt and lt.lunet and lt.lunet.layers then
    add("<details><summary>lunet's LeNet-5 training step by layer (ms, medians)</summary>")
    add("")
    add("| layer | forward | backward |")
    add("|---|---:|---:|")
    for name, f, b in lt.lunet.layers:gmatch("(%S+)=([%d.]+),([%d.]+)") do
      add("| %s | %.2f | %.2f |", name, tonumber(f), tonumber(b))
    end
    add("")
    add("</details>")
    add("")
  end
end

add("## Start-up")
add("")
add("| command | wall ms | CPU ms | peak RSS MB |")
add("|---|---:|---:|---:|")
add("| `bin/lunet -e 'require \"lunet\"'` | %.1f | %.1f | %s |", start.lunet.ms, start.lunet.cpuMs, mb(start.lunet.rss))
if start.torch then
  add("| `python3 -c 'import torch'` | %.1f | %.1f | %s |", start.torch.ms, start.torch.cpuMs, mb(start.torch.rss))
end
add("")
add("Medians of %d runs each, alternated; CPU time is the process's own (user + system).", QUICK and 3 or 10)
add("")

-- The targets of the speed issue, judged on this run.
add("## Targets")
add("")
add("| target | measured | met |")
add("|---|---|---|")
local function target(what, value, ok, shown)
  if value == nil then
    add("| %s | — | not measured |", what)
  else
    add("| %s | %s | %s |", what, shown or ("%.2f"):format(value), ok and "yes" or "**no**")
  end
end
local function ratio(threads, name)
  local r = results[threads] and results[threads][name]
  return r and r.lunet and r.torch and r.lunet.ms / r.torch.ms
end
for _, threads in ipairs(threadsList) do
  local lim = threads == 1 and 0.7 or 0.5
  local v = ratio(threads, "lenet_train_b50")
  target(("LeNet-5 step b50, %dt: lunet/PyTorch ≤ %.1f"):format(threads, lim), v, v and v <= lim)
  v = ratio(threads, "lenet_infer_b1")
  target(("LeNet-5 inference b1, %dt: ≤ 0.3"):format(threads), v, v and v <= 0.3)
  for _, cell in ipairs({ "rnn", "lstm", "gru" }) do
    for _, b in ipairs({ 10, 128 }) do
      local limit = b == 10 and 0.25 or 0.7
      v = ratio(threads, ("%s_train_b%d"):format(cell, b))
      target(("%s step b%d, %dt: ≤ %.2f"):format(cell:upper(), b, threads, limit), v, v and v <= limit)
    end
  end
end
local one, two = results[1] and results[1].lenet_train_b50, results[2] and results[2].lenet_train_b50
local speedup = one and two and one.lunet and two.lunet and one.lunet.ms / two.lunet.ms
target("LeNet-5 step, 2 threads vs 1: ≥ 1.6×", speedup, speedup and speedup >= 1.6,
  speedup and ("%.2f×"):format(speedup))
local lt1 = one or two
local memRatio = lt1 and lt1.lunet and lt1.torch and lt1.lunet.rss and lt1.torch.rss and lt1.lunet.rss / lt1.torch.rss
target("LeNet-5 training, peak memory lunet/PyTorch ≤ 1/3", memRatio, memRatio and memRatio <= 1 / 3,
  memRatio and ("%.2f (%s MB / %s MB)"):format(memRatio, mb(lt1.lunet.rss), mb(lt1.torch.rss)))
target("start-up ≤ 20 ms (wall)", start.lunet.ms, start.lunet.ms <= 20,
  ("%.1f ms wall, %.1f ms CPU"):format(start.lunet.ms, start.lunet.cpuMs))
add("")
add("Suite wall time: %.0f s.", lunet.wallclock() - wall0)

local report = table.concat(lines, "\n") .. "\n"
io.write(report)
local path = ("%s/RESULTS-%s.md"):format(args.out, os.date("%Y-%m-%d-%H%M"))
local f = assert(io.open(path, "w"))
f:write(report)
f:close()
io.stderr:write("bench: report written to " .. path .. "\n")
