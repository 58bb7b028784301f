-- t:matmul, addmm and bmm compute through lt_sgemm (csrc/kernels/gemm.h), the product
-- under the nn kernels, so a product gives the same bits whichever entry point computes it
-- and whatever the thread count.
local lunet = require "lunet"
local core = lunet.core

local function withThreads(n, f)
  local saved = lunet.getNumThreads()
  lunet.setNumThreads(n)
  local ok, res = pcall(f)
  lunet.setNumThreads(saved)
  if not ok then error(res, 0) end
  return res
end

local function equal(a, b) return (a - b):abs():max() == 0 end

describe("matrix products", function()
  local x, w = lunet.randn(64, 300), lunet.randn(200, 300)

  it("matmul and addmm give the bits of the nn kernels' product", function()
    local y = core.linear_forward(x, w, nil, lunet.zeros(0))
    assert.is_true(equal(y, x:matmul(w:t())))
    assert.is_true(equal(y, lunet.zeros(64, 200):addmm(x, w:t())))
  end)

  it("bmm multiplies each matrix of the batch as matmul does", function()
    local a, b = lunet.randn(3, 64, 300), lunet.randn(3, 300, 200)
    local c = a:bmm(b)
    for i = 1, 3 do assert.is_true(equal(c[i], a[i]:matmul(b[i]))) end
    local shared = a:matmul(b[2])
    for i = 1, 3 do assert.is_true(equal(shared[i], a[i]:matmul(b[2]))) end
  end)

  it("do not depend on the thread count, with either backend", function()
    local one = withThreads(1, function() return x:matmul(w:t()) end)
    local two = withThreads(2, function() return x:matmul(w:t()) end)
    assert.is_true(equal(one, two))
  end)
end)

describe("products of few rows against B^T (a linear layer's forward at a small batch)", function()
  -- their own path on CPUs with AVX2 (gemm.c, up to 16 rows): every shape around its 2-row,
  -- 4-column and 8-lane steps and its last row count, against the float64 product
  it("match the float64 product for 1..17 rows, odd columns and lengths, alpha and beta", function()
    for _, m in ipairs({1, 2, 3, 7, 8, 9, 10, 15, 16, 17}) do
      for _, n in ipairs({1, 3, 4, 5, 130}) do
        for _, k in ipairs({1, 7, 8, 13, 300}) do
          local a, b, c = lunet.randn(m, k), lunet.randn(n, k), lunet.randn(m, n)
          local want = c:double():addmm(a:double(), b:double():t(), 0.5, 2)
          local got = c:addmm(a, b:t(), 0.5, 2)
          local err = (got:double() - want):abs():max()
          assert.is_true(err <= 1e-5 * (1 + want:abs():max()),
            ("m=%d n=%d k=%d: off by %g"):format(m, n, k, err))
          assert.is_true((a:matmul(b:t()):double() - a:double():matmul(b:double():t())):abs():max() <= 1e-4)
        end
      end
    end
  end)
end)
