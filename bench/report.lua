-- bench/report.lua — the benchmark suite's report: a Markdown table per thread count, each
-- workload against its floor (its FLOPs at the rate of lunet's own sgemm) and PyTorch,
-- start-up figures and the targets of the speed issues, printed and written to
-- <out>/RESULTS-<date>.md. bench/run.lua measures and calls report.write.
local lunet = require "lunet"
local core = lunet.core
local workloads = require "workloads"
local WORKLOADS = workloads.list

local report = {}

function report.loadavg()
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
local loadavg = report.loadavg

--- run: what bench/run.lua measured and how: results, reference, start, threadsList,
-- rounds, quick, torchState, torchVersion, torchConfig, startedAt, loadBefore, wall0, out.
function report.write(run)
  local results, reference, start, threadsList = run.results, run.reference, run.start, run.threadsList
  local ROUNDS, QUICK, torchState, torchVersion = run.rounds, run.quick, run.torchState, run.torchVersion
  local startedAt, loadBefore, wall0 = run.startedAt, run.loadBefore, run.wall0
  local blasConfig, blasCore = core.blasInfo()
  local lines = {}
  local function add(s, ...) lines[#lines + 1] = select("#", ...) > 0 and s:format(...) or s end
  local function fmt(v, f) return v and (f):format(v) or "—" end
  local function mb(kb) return kb and ("%.0f"):format(kb / 1024) or "—" end
  local function ms(v) return fmt(v, v and v < 1 and "%.3f" or "%.2f") end

  local byName = {}
  for _, w in ipairs(WORKLOADS) do byName[w[1]] = w end
  -- The floor's rate (GFLOP/s) in a workload's rounds (the side "floor": the sgemm under
  -- lunet's nn kernels at 1024³), and the workload's floor in ms: its FLOPs at that rate.
  local function floorRate(r) return r and r.floor and 2 * 1024 ^ 3 / (r.floor.ms * 1e-3) / 1e9 end
  local function floorMs(threads, name)
    local rate = floorRate(results[threads][name])
    return rate and not byName[name].elements and byName[name][3] / (rate * 1e9) * 1e3 or nil
  end
  -- LeNet-5's batch-1 inference: the read bandwidth in its rounds (bytes/s, the side "read")
  -- and its bound in ms, its parameters' bytes at that bandwidth.
  local LENET_BYTES = workloads.lenetParameterBytes()
  local function readBound(threads)
    local r = results[threads].lenet_infer_b1
    local bw = r and r.read and workloads.READ_BYTES / (r.read.ms * 1e-3)
    return bw and LENET_BYTES / bw * 1e3, bw
  end

  add("# lunet benchmark — %s", startedAt)
  add("")
  add("- CPU: %s, %d cores online; load average %s at the start, %s at the end", cpuModel(),
    tonumber(io.popen("nproc"):read("l")) or 0, loadBefore, loadavg())
  add("- BLAS: %s; kernel set: **%s** (OPENBLAS_CORETYPE=%s)", blasConfig, blasCore, os.getenv("OPENBLAS_CORETYPE") or "unset")
  add("- lunet %s on %s; sgemm under the nn kernels: %s; PyTorch: %s",
    lunet.version, _VERSION, lunet.gemmBackend(),
    torchState.available and ("torch " .. (torchVersion or "?")) or (torchState.note or "—"))
  add("- threads: %s; %d rounds per workload, lunet and PyTorch alternating; figures are medians%s",
    table.concat(threadsList, ", "), ROUNDS, QUICK and " (--quick)" or "")
  add("- MFLOP counts 2 FLOPs per multiply-add of every product (conv, linear, recurrent); elementwise work is not")
  add("  counted. The **floor** of a workload is its FLOPs at the rate of the sgemm under lunet's nn kernels")
  add("  (\"kernels' sgemm\", 1024³) measured in the workload's own rounds, alternating with it: the time it would")
  add("  take if all its products ran as fast as one large, well-shaped product. \"× floor\" is the time over the floor")
  add("  (1 = at the floor). Workloads that move data rather than compute count elements instead of FLOPs")
  add("  (GFLOP/s then reads as elements per ns) and have no floor. Memory is the peak resident set (VmHWM)")
  add("  of the child process that ran that workload alone (interpreter and libraries included).")
  add("- Convolutions: `lunet.convAlgorithm()` = %s. Under \"auto\", the 3x3 and 5x5 stride-1 convolutions with 32 or",
    lunet.convAlgorithm())
  add("  more channels in and out (LeNet-5's conv2) run Winograd's F(2x2, 5x5) or F(4x4, 3x3): 36 multiplies per")
  add("  channel pair and output tile where the direct product does 100 or 144. Their MFLOP and floor still count")
  add("  the direct product's multiply-adds, so such a workload can run below its floor (× floor < 1).")
  add("")
  add("**Which PyTorch, and why the floor is the target.** The PyTorch measured beside lunet is Debian's")
  add("python3-torch, `%s`. Debian builds it for any amd64 machine: its products go through the generic BLAS",
    run.torchConfig or (torchVersion and "torch " .. torchVersion) or "not measured in this run")
  add("interface (whichever libblas.so.3 the system selects) and its convolutions outside oneDNN's fast paths run")
  add("generic code (its 1-input-channel convolution is tens of times slower than lunet's). It is a weak anchor: beating it")
  add("says little. The target is the machine itself: each workload's floor (its FLOPs at the rate of lunet's own")
  add("sgemm) and, for LeNet-5's batch-1 inference, which must read all its weights once, the time to read them at")
  add("the machine's read bandwidth (core.bench_read, a streaming sum over %d MB, far beyond the L3 cache). The",
    workloads.READ_BYTES >> 20)
  add("PyTorch columns stay as a cross-check of lunet's results and of the machine's state.")
  add("")

  for _, threads in ipairs(threadsList) do
    add("## %d thread%s", threads, threads > 1 and "s" or "")
    add("")
    local refs = reference[threads]
    if refs[512] and refs[512].cblas or refs[1024] and refs[1024].cblas then
      add("lunet's `a:matmul(b)` (a new result each call) and `c:addmm_(a, b, 0, 1)` (into a kept tensor), both")
      add("OpenBLAS underneath, against cblas_sgemm called directly (core.bench_sgemm); and the sgemm under")
      add("lunet's nn kernels (gemm.h, backend %s). ms (GFLOP/s):", lunet.gemmBackend())
      add("")
      add("| n | matmul | addmm_ | cblas_sgemm | matmul / cblas | addmm_ / cblas | kernels' sgemm |")
      add("|---|---:|---:|---:|---:|---:|---:|")
      for _, n in ipairs({ 512, 1024 }) do
        local r = refs[n]
        if r and r.matmul and r.addmm and r.cblas then
          local f = 2 * n ^ 3 / 1e9
          local function cell(e) return e and ("%.2f (%.1f)"):format(e.ms, f / (e.ms * 1e-3)) or "—" end
          add("| %d³ | %s | %s | %s | %.3f | %.3f | %s |", n, cell(r.matmul), cell(r.addmm), cell(r.cblas),
            r.matmul.ms / r.cblas.ms, r.addmm.ms / r.cblas.ms, cell(r.gemm))
        end
      end
      add("")
    end
    local rates = {}
    for _, w in ipairs(WORKLOADS) do rates[#rates + 1] = floorRate(results[threads][w[1]]) end
    if #rates > 0 then
      table.sort(rates)
      add("The floor's rate, the kernels' sgemm at 1024³ in each workload's rounds: %.1f to %.1f GFLOP/s (median %.1f).",
        rates[1], rates[#rates], workloads.median(rates))
      add("")
    end
    add("| workload | MFLOP | floor ms | lunet ms | GFLOP/s | × floor | MB | PyTorch ms | GFLOP/s | × floor | MB | lunet / PyTorch |")
    add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for _, w in ipairs(WORKLOADS) do
      local r = results[threads][w[1]]
      if r then
        local floor = floorMs(threads, w[1])
        local cells = { w[2], ("%.1f"):format(w[3] / 1e6), fmt(floor, floor and floor < 1 and "%.3f" or "%.2f") }
        for _, side in ipairs({ "lunet", "torch" }) do
          local e = r[side]
          cells[#cells + 1] = ms(e and e.ms)
          cells[#cells + 1] = fmt(e and w[3] / (e.ms * 1e-3) / 1e9, "%.1f")
          cells[#cells + 1] = fmt(e and floor and e.ms / floor, "%.2f")
          cells[#cells + 1] = mb(e and e.rss)
        end
        cells[#cells + 1] = (r.lunet and r.torch) and ("**%.2f**"):format(r.lunet.ms / r.torch.ms) or "—"
        add("| " .. table.concat(cells, " | ") .. " |")
      end
    end
    add("")
    local b1, bound, bw = results[threads].lenet_infer_b1, readBound(threads)
    if b1 and b1.lunet and bound then
      add("LeNet-5 inference at batch 1 reads its %.1f MB of parameters at least once: at the read bandwidth measured in",
        LENET_BYTES / 1e6)
      add("its rounds (core.bench_read over %d MB, %.1f GB/s) that takes %.3f ms, the bound; lunet takes %.3f ms, %.2f×",
        workloads.READ_BYTES >> 20, bw / 1e9, bound, b1.lunet.ms, b1.lunet.ms / bound)
      add("the bound.")
      for _, format in ipairs({ "bf16", "int8" }) do
        local q = b1[format]
        if q then
          local bytes = workloads.lenetQuantizedBytes(format)
          local qbound = bytes / bw * 1e3
          add("With its Linear weights in %s (nn.quantize; %.1f MB in all): %.3f ms, %.2f× float32's time, %.2f× its own bound",
            format, bytes / 1e6, q.ms, q.ms / b1.lunet.ms, q.ms / qbound)
          add("(%.3f ms), %.2f× float32's bound.", qbound, q.ms / bound)
        end
      end
      add("")
    end
    local b10, adam, floor10 = results[threads].lenet_train_b10, results[threads].adam_lenet,
      floorMs(threads, "lenet_train_b10")
    if b10 and b10.lunet and adam and adam.lunet and floor10 then
      local params = workloads.lenetParameterBytes() / 4
      add("At batch 10 the LeNet-5 step computes little per byte it moves. Adam's update of its %.2f M parameters",
        params / 1e6)
      add("(the adam_lenet line, in its own rounds) takes %.2f ms and moves %.0f MB: each parameter's value, gradient",
        adam.lunet.ms, 28 * params / 1e6)
      add("and two moments read, three of them written. With the products' floor (%.2f ms) that is %.2f ms, %.2f× the",
        floor10, floor10 + adam.lunet.ms, (floor10 + adam.lunet.ms) / floor10)
      add("floor, before the step's other memory traffic (fc1's 12.8 MB of weights read forward and backward, its")
      add("gradient written, the activations). lunet's step takes %.2f ms, %.2f× the floor.", b10.lunet.ms,
        b10.lunet.ms / floor10)
      add("")
    end
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

  -- The targets, judged on this run: issue 17's (the machine's floor) first, then those of
  -- earlier issues it does not replace.
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
  local function entry(threads, name) return results[threads] and results[threads][name] end
  local function ratio(threads, name)
    local r = entry(threads, name)
    return r and r.lunet and r.torch and r.lunet.ms / r.torch.ms
  end
  -- time / floor of lunet's side, shown with both
  local function ofFloor(threads, name, what, limit)
    local r, floor = entry(threads, name), floorMs(threads, name)
    local v = r and r.lunet and floor and r.lunet.ms / floor
    target(("%s, %dt: ≤ %.2f× floor"):format(what, threads, limit), v, v and v <= limit,
      v and ("%.2f× (%.2f ms, floor %.2f ms)"):format(v, r.lunet.ms, floor))
  end
  for _, threads in ipairs(threadsList) do
    ofFloor(threads, "lenet_train_b50", "LeNet-5 step b50", 1.25)
    ofFloor(threads, "lenet_train_b10", "LeNet-5 step b10", 1.4)
    local v = ratio(threads, "conv2_bwd")
    target(("conv2d 32->64 backward, %dt: lunet/PyTorch ≤ 0.8"):format(threads), v, v and v <= 0.8)
    ofFloor(threads, "conv2_bwd", "conv2d 32->64 backward", 1.25)
    local b1, bound = entry(threads, "lenet_infer_b1"), readBound(threads)
    v = b1 and b1.lunet and bound and b1.lunet.ms / bound
    target(("LeNet-5 inference b1, %dt: ≤ 1.2× the read bound"):format(threads), v, v and v <= 1.2,
      v and ("%.2f× (%.3f ms, bound %.3f ms)"):format(v, b1.lunet.ms, bound))
  end
  local one, two = entry(1, "lenet_train_b50"), entry(2, "lenet_train_b50")
  local speedup = one and two and one.lunet and two.lunet and one.lunet.ms / two.lunet.ms
  target("LeNet-5 step b50, 2 threads vs 1: ≥ 1.7× (on an idle machine)", speedup, speedup and speedup >= 1.7,
    speedup and ("%.2f× (load average %s during the 1-thread run, %s during the 2-thread run)"):format(speedup,
      one.load, two.load))
  for _, threads in ipairs(threadsList) do
    -- The autograd issue's targets: a model written with lunet.autograd against the module
    -- path, measured in the same rounds (the workload's `against`, the side "module").
    local ag = entry(threads, "autograd_lenet_train_b50")
    if ag and ag.lunet and ag.module then
      local t = ag.lunet.ms / ag.module.ms
      target(("LeNet-5 step b50 with autograd / module path, %dt: ≤ 1.15"):format(threads), t, t <= 1.15,
        ("%.2f (%.1f ms / %.1f ms)"):format(t, ag.lunet.ms, ag.module.ms))
      local m = ag.lunet.rss and ag.module.rss and ag.lunet.rss / ag.module.rss
      target(("LeNet-5 step b50 with autograd / module path, peak memory, %dt: ≤ 1.2"):format(threads), m,
        m and m <= 1.2, m and ("%.2f (%s MB / %s MB)"):format(m, mb(ag.lunet.rss), mb(ag.module.rss)))
    end
    local lstmCell = entry(threads, "autograd_lstm_cell_train_b10")
    if lstmCell and lstmCell.lunet and lstmCell.module then
      local t = lstmCell.lunet.ms / lstmCell.module.ms
      target(("LSTM cell from autograd ops / fused LSTM kernel, step b10 H=128, %dt: ≤ 3"):format(threads), t,
        t <= 3, ("%.2f (%.1f ms / %.1f ms; PyTorch's same unfused cell: %s ms)"):format(t, lstmCell.lunet.ms,
        lstmCell.module.ms, fmt(lstmCell.torch and lstmCell.torch.ms, "%.1f")))
    end
    -- The first speed issue's recurrent targets (issue 17 sets none for them).
    for _, cell in ipairs({ "rnn", "lstm", "gru" }) do
      for _, b in ipairs({ 10, 128 }) do
        local limit = b == 10 and 0.25 or 0.7
        local v = ratio(threads, ("%s_train_b%d"):format(cell, b))
        target(("%s step b%d, %dt: lunet/PyTorch ≤ %.2f"):format(cell:upper(), b, threads, limit), v,
          v and v <= limit)
      end
    end
  end
  local lt1 = one or two
  local memRatio = lt1 and lt1.lunet and lt1.torch and lt1.lunet.rss and lt1.torch.rss and lt1.lunet.rss / lt1.torch.rss
  target("LeNet-5 training, peak memory lunet/PyTorch ≤ 1/3", memRatio, memRatio and memRatio <= 1 / 3,
    memRatio and ("%.2f (%s MB / %s MB)"):format(memRatio, mb(lt1.lunet.rss), mb(lt1.torch.rss)))
  target("start-up ≤ 20 ms (wall)", start.lunet.ms, start.lunet.ms <= 20,
    ("%.1f ms wall, %.1f ms CPU"):format(start.lunet.ms, start.lunet.cpuMs))
  add("")
  add("Suite wall time: %.0f s.", lunet.wallclock() - wall0)

  local text = table.concat(lines, "\n") .. "\n"
  io.write(text)
  local path = ("%s/RESULTS-%s.md"):format(run.out, os.date("%Y-%m-%d-%H%M"))
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  io.stderr:write("bench: report written to " .. path .. "\n")
end

return report
