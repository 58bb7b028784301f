-- experiments/mnist_custom_cell.lua in --quick mode, a few iterations of tiny cells on the
-- real MNIST (pending without it): it writes every output, and its check finds the peephole
-- LSTM written with autograd equal to the fused kernel's LSTM at the start.
local IO = require "spec.io_helper"
local H = require "spec.helper"

local MNIST = H.dataDir("mnist")

describe("experiments/mnist_custom_cell.lua", function()
  local out
  before_each(function() out = IO.tmpdir() end)
  after_each(function() IO.rmtree(out) end)

  it("runs in --quick mode and writes its results, figures and page", function()
    if not MNIST then return pending("mnist data set not found (set LUNET_DATA)") end
    local p = io.popen(("LUNET_NUM_THREADS=1 timeout 300 bin/lunet experiments/mnist_custom_cell.lua --quick "
      .. "--iterations 20 --hidden 8 --data '%s' --out '%s' 2>&1"):format(MNIST, out))
    local log = p:read("a")
    local ok = p:close()
    assert.is_true(ok, log)
    for _, f in ipairs({"results.csv", "summary.md", "summary.html", "test_acc.png", "train_loss.png",
                        "lstm_fused/metrics.csv", "lstm_peephole/metrics.csv", "mgu/metrics.csv"}) do
      assert.is_truthy(io.open(out .. "/" .. f), f .. " is missing")
    end
    local rows = {}
    for line in io.lines(out .. "/results.csv") do rows[#rows + 1] = line end
    assert.equal(4, #rows) -- a header and the three models
    local f = assert(io.open(out .. "/summary.md"))
    local page = f:read("a")
    f:close()
    assert.truthy(page:find("local function peepholeLSTM(p, x)", 1, true), "the cell's source is on the page")
    local a, b = page:match("its loss is (%d+%.%d+) against the fused kernel's (%d+%.%d+)")
    assert.is_truthy(a, page)
    assert.is_true(math.abs(tonumber(a) - tonumber(b)) < 1e-6)
    local gap = tonumber(page:match("gradients differ from the kernel's by at most (%S+) of the largest"))
    assert.is_true(gap < 1e-5, "gradient difference " .. tostring(gap))
  end)
end)
