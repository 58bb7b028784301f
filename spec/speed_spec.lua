-- What the speed work added (csrc/kernels/gemm.c, threadpool.c, speed.c through csrc/lua/speed.c):
-- both sgemm backends against OpenBLAS through every transpose the kernels use, the
-- nn specs re-run on the backend that is not the default, results that do not depend
-- on the thread count, denormal flushing on every thread, model.needInputGrad, and
-- the errors of the bindings.
local lunet = require "lunet"
local core = lunet.core
local nn = lunet.nn

-- Runs f with n threads and puts the previous count back.
local function withThreads(n, f)
  local saved = lunet.getNumThreads()
  lunet.setNumThreads(n)
  local ok, err = pcall(f)
  lunet.setNumThreads(saved)
  if not ok then error(err, 0) end
end

-- Runs f with the named sgemm backend and puts the previous one back.
local function withBackend(name, f)
  local saved = lunet.gemmBackend()
  lunet.setGemmBackend(name)
  local ok, err = pcall(f)
  lunet.setGemmBackend(saved)
  if not ok then error(err, 0) end
end

-- Largest difference between a and b, relative to sqrt(k) (the size of float rounding
-- of a k-term dot product of unit normals).
local function err(a, b, k) return (a - b):abs():max() / math.sqrt(k) end

local function equal(a, b) return (a - b):abs():max() == 0 end

describe("the sgemm under the nn kernels (gemm.h)", function()
  it("lists its backends and names the one in use", function()
    local list = lunet.gemmBackends()
    local has = {}
    for _, b in ipairs(list) do has[b] = true end
    assert.is_true(has.blas)
    assert.is_true(has[lunet.gemmBackend()])
  end)

  -- Sizes around the micro-kernel's tile (8 x 32) and the packing blocks (k slices of
  -- 256, transposes of 16), and a few large ones that split over the thread pool.
  local shapes = { { 1, 1, 1 }, { 7, 9, 15 }, { 8, 32, 16 }, { 9, 33, 17 }, { 17, 31, 257 }, { 3, 300, 1 },
                   { 50, 64, 200 }, { 65, 129, 33 }, { 200, 517, 300 }, { 50, 1030, 700 } }
  for _, backend in ipairs(lunet.gemmBackends()) do
    for _, threads in ipairs({ 1, 2 }) do
      it(("%s, %d thread(s): the linear kernels match matmul for (A,B), (A,B^T), (A^T,B)"):format(backend, threads),
        function()
          withBackend(backend, function()
            withThreads(threads, function()
              for _, s in ipairs(shapes) do
                local n, i, o = s[1], s[2], s[3]
                local x, w, b, gy = lunet.randn(n, i), lunet.randn(o, i), lunet.randn(o), lunet.randn(n, o)
                -- (A, B^T) and beta 1 over a bias
                local y = core.linear_forward(x, w, b, lunet.zeros(0))
                assert.is_true(err(y, x:matmul(w:t()) + b, i) < 1e-5)
                -- (A, B) and beta 0 over garbage
                local gx = lunet.full({ n, i }, 0 / 0)
                core.linear_backward_input(gy, w, gx)
                assert.is_true(err(gx, gy:matmul(w), o) < 1e-5)
                -- (A^T, B), alpha 0.5, accumulating
                local gw, gb = lunet.ones(o, i), lunet.ones(o)
                core.linear_backward_params(x, gy, gw, gb, 0.5)
                assert.is_true(err(gw, gy:t():matmul(x) * 0.5 + 1, n) < 1e-5)
              end
            end)
          end)
        end)
    end
    it(backend .. ": conv2d's products (A^T,B) and (A,B^T) match the blas backend", function()
      local x, w, b = lunet.randn(6, 5, 9, 11), lunet.randn(7, 5, 3, 3), lunet.randn(7)
      local function run()
        local out = core.conv2d_forward(x, w, b, lunet.zeros(0), lunet.zeros(0), 1, 2, 1, 0)
        local r = out:clone():fill(0.5)
        local gin = core.conv2d_backward_input(x, r, w, lunet.zeros(0), lunet.zeros(0), 1, 2, 1, 0)
        local gw, gb = lunet.zeros(7, 5, 3, 3), lunet.zeros(7)
        core.conv2d_backward_params(x, r, gw, gb, lunet.zeros(0), 1, 2, 1, 0)
        return { out, gin, gw, gb }
      end
      local mine, ref
      withBackend(backend, function() mine = run() end)
      withBackend("blas", function() ref = run() end)
      for k = 1, 4 do assert.is_true(err(mine[k], ref[k], 45 * 6) < 1e-5) end
    end)
  end

  it("the CNN and RNN specs pass on every backend (each one not in use runs in a child process)", function()
    for _, backend in ipairs(lunet.gemmBackends()) do
      if backend ~= lunet.gemmBackend() then
        local ok = os.execute(("LUNET_GEMM=%s bin/lunet /usr/bin/busted -o TAP spec/nn_kernels_spec.lua "
          .. "spec/nn_spec.lua spec/rnn_spec.lua > /dev/null 2>&1"):format(backend))
        assert.is_true(ok, "the specs fail with LUNET_GEMM=" .. backend)
      end
    end
  end)

  it("rejects unknown backends", function()
    assert.has_error(function() lunet.setGemmBackend("mkl") end,
      "setGemmBackend: unknown backend 'mkl' (expected 'avx512' or 'blas')")
    assert.has_error(function() lunet.setGemmBackend() end)
  end)
end)

describe("results that do not depend on the thread count", function()
  local function both(f)
    local one, two
    withThreads(1, function() one = f() end)
    withThreads(2, function() two = f() end)
    return one, two
  end

  it("conv2d parameter gradients are summed in the same order (batch 20, 8 blocks)", function()
    local x, r = lunet.randn(20, 3, 10, 10), lunet.randn(20, 6, 10, 10)
    local one, two = both(function()
      local gw, gb = lunet.zeros(6, 3, 5, 5), lunet.zeros(6)
      core.conv2d_backward_params(x, r, gw, gb, lunet.zeros(0), 1, 1, 2, 2)
      return { gw, gb }
    end)
    assert.is_true(equal(one[1], two[1]))
    assert.is_true(equal(one[2], two[2]))
  end)

  it("a product split over the thread pool, Adam and the elementwise kernels", function()
    local x, w, gy = lunet.randn(64, 700), lunet.randn(600, 700), lunet.randn(64, 600)
    local one, two = both(function()
      local y = core.linear_forward(x, w, nil, lunet.zeros(0))
      local gw = lunet.zeros(600, 700)
      core.linear_backward_params(x, gy, gw, nil, 1)
      local p, m, v = w:clone(), lunet.zeros(600, 700), lunet.zeros(600, 700)
      core.adam_step(p, gw, m, v, 1e-3, 0.9, 0.999, 1e-8, 0, 1)
      local relu = core.relu_forward(gw, lunet.zeros(0))
      return { y, gw, p, relu }
    end)
    for k = 1, 4 do assert.is_true(equal(one[k], two[k])) end
  end)
end)

describe("lunet.setFlushDenormals", function()
  it("flushes denormal results to zero on the calling thread and the pool's workers", function()
    local was = lunet.getFlushDenormals()
    if was == nil then return pending("this CPU has no flush-to-zero control") end
    -- 16 chunks of the pool, 40 times in a row: the worker, awake after the first
    -- loops, takes some of them (which chunks it takes is up to the scheduler)
    local x, mask, y = lunet.full({ 1 << 20 }, 1e-39), lunet.ones(1 << 20), lunet.zeros(0)
    -- Does any of 40 dropouts that keep everything leave a nonzero output? The bytes
    -- are inspected: reading the floats with DAZ on would see zeros.
    local function anyNonzero()
      local found = false
      for _ = 1, 40 do
        core.dropout_forward(x, mask, y, 1)
        found = found or y:tobytes():find("[^%z]") ~= nil
      end
      return found
    end
    withThreads(2, function()
      assert.equal(was, lunet.setFlushDenormals(true))
      assert.is_true(lunet.getFlushDenormals())
      assert.is_false(anyNonzero())
      assert.is_true(lunet.setFlushDenormals(false))
      assert.is_true(anyNonzero())
    end)
    lunet.setFlushDenormals(was)
  end)

  it("rejects a non-boolean", function()
    assert.has_error(function() lunet.setFlushDenormals(1) end)
  end)
end)

describe("model.needInputGrad = false", function()
  it("skips the input gradient of a Sequential's first module and keeps its parameter gradients", function()
    local x, y = lunet.randn(4, 2, 8, 8), lunet.tensor({ 1, 2, 3, 1 }):int()
    local model = nn.Sequential():add(nn.Conv2d(2, 3, 3, { padding = 1 })):add(nn.ReLU()):add(nn.Flatten())
      :add(nn.Linear(3 * 64, 3))
    local crit = nn.CrossEntropyLoss()
    local function grads()
      model:zeroGrad()
      local out = model:forward(x)
      crit:forward(out, y)
      local gin = model:backward(x, crit:backward(out, y))
      local _, gs = model:parameters()
      local copies = {}
      for i, g in ipairs(gs) do copies[i] = g:clone() end
      return gin, copies
    end
    local gin, full = grads()
    assert.is_true(lunet.isTensor(gin))
    model.needInputGrad = false
    local none, skipped = grads()
    assert.is_nil(none)
    for i = 1, #full do assert.is_true(equal(full[i], skipped[i])) end
  end)

  it("skips the bottom layer's input gradient of a recurrent module", function()
    local x, y = lunet.randn(3, 5, 4), lunet.tensor({ 1, 2, 2 }):int()
    local model = nn.Sequential():add(nn.LSTM(4, 6, { layers = 2 })):add(nn.LastStep()):add(nn.Linear(6, 2))
    local crit = nn.CrossEntropyLoss()
    local function grads()
      model:zeroGrad()
      local out = model:forward(x)
      crit:forward(out, y)
      local gin = model:backward(x, crit:backward(out, y))
      local _, gs = model:parameters()
      local copies = {}
      for i, g in ipairs(gs) do copies[i] = g:clone() end
      return gin, copies
    end
    local gin, full = grads()
    assert.are.same({ 3, 5, 4 }, gin:size())
    model.needInputGrad = false
    local none, skipped = grads()
    assert.is_nil(none)
    for i = 1, #full do assert.is_true(equal(full[i], skipped[i])) end
  end)
end)

describe("core.bench_sgemm", function()
  it("times cblas_sgemm and lunet's sgemm", function()
    assert.is_true(core.bench_sgemm(32, 2) > 0)
    assert.is_true(core.bench_sgemm(32, 2, "lunet") > 0)
  end)

  it("rejects bad sizes and counts", function()
    assert.has_error(function() core.bench_sgemm(0) end, "bench_sgemm: n must be in 1..16384, got 0")
    assert.has_error(function() core.bench_sgemm(8, 0) end, "bench_sgemm: reps must be >= 1, got 0")
    assert.has_error(function() core.bench_sgemm(8, 1, "mkl") end)
  end)
end)

describe("core.bench_read", function()
  it("measures a rate over one lane and over the pool, a partial block and a partial chunk included", function()
    for _, threads in ipairs({ 1, 2 }) do
      withThreads(threads, function()
        for _, bytes in ipairs({ 4, 4096 + 12, 3 * 2 ^ 20 + 132 }) do
          local rate = core.bench_read(bytes, 2)
          assert.is_true(rate > 0 and rate < math.huge, ("%d bytes, %d threads: %s"):format(bytes, threads, rate))
        end
      end)
    end
    assert.is_true(core.bench_read(4096) > 0)
  end)

  it("rejects bad sizes and counts", function()
    assert.has_error(function() core.bench_read(0) end, "bench_read: bytes must be in 4..1099511627776, got 0")
    assert.has_error(function() core.bench_read(2 ^ 41) end,
      "bench_read: bytes must be in 4..1099511627776, got 2199023255552")
    assert.has_error(function() core.bench_read(4098) end,
      "bench_read: bytes must be a multiple of 4 (whole floats), got 4098")
    assert.has_error(function() core.bench_read(4096.5) end,
      "bench_read: bytes (argument #1) must be an integer, got 4096.5")
    assert.has_error(function() core.bench_read("a lot") end,
      "bench_read: bytes (argument #1) must be an integer, got string")
    assert.has_error(function() core.bench_read(4096, 0) end, "bench_read: reps must be in 1..2147483647, got 0")
  end)
end)
