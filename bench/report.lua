-- bench/report.lua — the benchmark suite's report: a Markdown table per thread count,
-- start-up figures and the targets of the speed issue, printed and written to
-- <out>/RESULTS-<date>.md. bench/run.lua measures and calls report.write.
local lunet = require "lunet"
local core = lunet.core
local WORKLOADS = require("workloads").list

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
-- rounds, quick, torchState, torchVersion, startedAt, loadBefore, wall0, out.
function report.write(run)
  local results, reference, start, threadsList = run.results, run.reference, run.start, run.threadsList
  local ROUNDS, QUICK, torchState, torchVersion = run.rounds, run.quick, run.torchState, run.torchVersion
  local startedAt, loadBefore, wall0 = run.startedAt, run.loadBefore, run.wall0
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
  add("- lunet %s on %s; sgemm under the nn kernels: %s; PyTorch: %s",
    lunet.version, _VERSION, lunet.gemmBackend(),
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
    -- The autograd issue's targets: a model written with lunet.autograd against the module
    -- path, measured in the same rounds (the workload's `against`, the side "module").
    local r = results[threads] or {}
    local ag = r.autograd_lenet_train_b50
    if ag and ag.lunet and ag.module then
      local t = ag.lunet.ms / ag.module.ms
      target(("LeNet-5 step b50 with autograd / module path, %dt: ≤ 1.15"):format(threads), t, t <= 1.15,
        ("%.2f (%.1f ms / %.1f ms)"):format(t, ag.lunet.ms, ag.module.ms))
      local m = ag.lunet.rss and ag.module.rss and ag.lunet.rss / ag.module.rss
      target(("LeNet-5 step b50 with autograd / module path, peak memory, %dt: ≤ 1.2"):format(threads), m,
        m and m <= 1.2, m and ("%.2f (%s MB / %s MB)"):format(m, mb(ag.lunet.rss), mb(ag.module.rss)))
    end
    local lstmCell = r.autograd_lstm_cell_train_b10
    if lstmCell and lstmCell.lunet and lstmCell.module then
      local t = lstmCell.lunet.ms / lstmCell.module.ms
      target(("LSTM cell from autograd ops / fused LSTM kernel, step b10 H=128, %dt: ≤ 3"):format(threads), t,
        t <= 3, ("%.2f (%.1f ms / %.1f ms; PyTorch's same unfused cell: %s ms)"):format(t, lstmCell.lunet.ms,
        lstmCell.module.ms, fmt(lstmCell.torch and lstmCell.torch.ms, "%.1f")))
    end
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

  local text = table.concat(lines, "\n") .. "\n"
  io.write(text)
  local path = ("%s/RESULTS-%s.md"):format(run.out, os.date("%Y-%m-%d-%H%M"))
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  io.stderr:write("bench: report written to " .. path .. "\n")
end

return report
