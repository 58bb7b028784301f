-- AdamW and the learning-rate schedules against PyTorch (spec/fixtures/optim/torch.lua,
-- written by spec/parity/optim_torch.py), and gradient clipping.
local lunet = require "lunet"
local optim, nn = lunet.optim, lunet.nn

local cases = dofile("spec/fixtures/optim/torch.lua")

local function close(a, b, tol)
  return math.abs(a - b) <= tol * math.max(1, math.abs(b))
end

describe("optim against PyTorch", function()
  for i, c in ipairs(cases) do
    if c.kind == "AdamW" then
      it(("%d AdamW, weightDecay %g, 50 steps"):format(i, c.weightDecay), function()
        local p, target = lunet.tensor(c.start), lunet.tensor(c.target)
        local g = lunet.zeros(#c.start)
        local opt = optim.AdamW({p}, {g}, {lr = 0.05, weightDecay = c.weightDecay})
        for step = 1, 50 do
          g:copy(p:sub(target):mul_(2))
          opt:step()
          for j, v in ipairs(c.trajectory[step]) do
            assert.is_true(close(p[j], v, 1e-5), ("step %d element %d: %g vs %g"):format(step, j, p[j], v))
          end
        end
      end)
    else
      it(("%d %s"):format(i, c.lunet), function()
        local p, g = lunet.zeros(1), lunet.zeros(1)
        local opt = c.optimizer == "SGD" and optim.SGD({p}, {g}, {lr = 0.1, momentum = 0.9})
          or optim.Adam({p}, {g}, {lr = 0.1})
        local sched = assert(load("local optim, opt = ...; return optim." .. c.lunet))(optim, opt)
        local mom = function() return c.optimizer == "SGD" and opt.momentum or opt.beta1 end
        assert.is_true(close(opt.lr, c.lr[1], 1e-6), ("lr at 0: %g vs %g"):format(opt.lr, c.lr[1]))
        for n = 1, 49 do
          sched:step(c.metrics and c.metrics[n])
          assert.is_true(close(opt.lr, c.lr[n + 1], 1e-6), ("lr at %d: %g vs %g"):format(n, opt.lr, c.lr[n + 1]))
          assert.is_true(close(mom(), c.momentum[n + 1], 1e-6), ("momentum at %d"):format(n))
        end
      end)
    end
  end
end)

describe("optim schedules", function()
  local function sgd(lr) return optim.SGD({lunet.zeros(1)}, {lunet.zeros(1)}, {lr = lr}) end

  it("CosineAnnealingLR warms up linearly, then follows the cosine", function()
    local opt = sgd(1)
    local s = optim.CosineAnnealingLR(opt, {tMax = 4, warmup = 3})
    local lrs = {opt.lr}
    for _ = 1, 7 do lrs[#lrs + 1] = s:step() end
    local want = {0.25, 0.5, 0.75, 1, (1 + math.cos(math.pi / 4)) / 2, 0.5, (1 + math.cos(3 * math.pi / 4)) / 2, 0}
    for k, v in ipairs(want) do assert.is_true(math.abs(lrs[k] - v) < 1e-12, ("step %d"):format(k - 1)) end
  end)

  it("OneCycleLR refuses to step past totalSteps", function()
    local s = optim.OneCycleLR(sgd(1), {maxLr = 1, totalSteps = 10})
    for _ = 1, 9 do s:step() end
    assert.has_error(function() s:step() end, "OneCycleLR: stepped 10 times, past totalSteps = 10")
  end)

  it("refuse bad options with a message", function()
    assert.has_error(function() optim.MultiStepLR(sgd(1), {milestones = {5, 3}}) end,
      "MultiStepLR: milestone 2 must be an integer >= 6, got 3")
    assert.has_error(function() optim.MultiStepLR(sgd(1), {}) end, "MultiStepLR: milestones must be a list of step numbers")
    assert.has_error(function() optim.CosineAnnealingLR(sgd(1), {}) end, "CosineAnnealingLR: tMax must be an integer >= 1, got nil")
    assert.has_error(function() optim.CosineAnnealingLR(sgd(1), {tMax = 5, T_max = 5}) end)
    assert.has_error(function() optim.ReduceLROnPlateau(sgd(1), {mode = "up"}) end,
      'ReduceLROnPlateau: mode must be "min" or "max", got up')
    assert.has_error(function() optim.ReduceLROnPlateau(sgd(1)):step() end)
    assert.has_error(function() optim.OneCycleLR(sgd(1), {totalSteps = 10}) end)
    assert.has_error(function() optim.OneCycleLR(sgd(1), {maxLr = 1, totalSteps = 10, annealStrategy = "exp"}) end,
      'OneCycleLR: annealStrategy must be "cos" or "linear", got exp')
    assert.has_error(function() optim.LambdaLR(sgd(1), 0.5) end, "LambdaLR: the factor must be a function(n), got number")
    assert.has_error(function() optim.LambdaLR(sgd(1), function() return -1 end) end)
    assert.has_error(function() optim.MultiStepLR({}, {milestones = {1}}) end, "MultiStepLR: first argument must be an optimizer")
  end)
end)

describe("optim.AdamW", function()
  it("defaults to weight decay 0.01 and decays even a zero gradient's parameter", function()
    local p, g = lunet.full({3}, 2), lunet.zeros(3)
    local opt = optim.AdamW({p}, {g}, {lr = 0.1})
    assert.are.equal(0.01, opt.weightDecay)
    opt:step()
    assert.is_true(math.abs(p[1] - 2 * (1 - 0.1 * 0.01)) < 1e-6)
  end)

  it("names lunet's spelling for another framework's", function()
    assert.has_error(function() optim.AdamW(nn.Linear(2, 2), {weight_decay = 0.1}) end)
  end)
end)

describe("optim.clipGradNorm and clipGradValue", function()
  it("scale the gradients to maxNorm and return the norm before", function()
    local m = nn.Linear(3, 2)
    local _, grads = m:parameters()
    grads[1]:fill(1); grads[2]:fill(2) -- norm sqrt(6 + 8) = sqrt(14)
    local total = optim.clipGradNorm(m, 1)
    assert.is_true(math.abs(total - math.sqrt(14)) < 1e-5)
    local after = math.sqrt(grads[1]:pow(2):sum() + grads[2]:pow(2):sum())
    assert.is_true(math.abs(after - 1) < 1e-5)
    assert.is_true(math.abs(optim.clipGradNorm(m, 5) - after) < 1e-5) -- below maxNorm: unchanged
    assert.is_true(math.abs(grads[2][1] - 2 / math.sqrt(14)) < 1e-5)
  end)

  it("take the inf norm, an optimizer or a list of gradients", function()
    local g = {lunet.tensor{3, -4}, lunet.tensor{1}}
    assert.are.equal(4, optim.clipGradNorm(g, 2, math.huge))
    assert.is_true(math.abs(g[1][2] + 2) < 1e-5)
    local opt = optim.SGD({lunet.zeros(2)}, {lunet.tensor{3, 4}}, {lr = 1})
    assert.is_true(math.abs(optim.clipGradNorm(opt, 1) - 5) < 1e-6)
  end)

  it("clipGradValue clamps each element", function()
    local g = {lunet.tensor{-3, 0.5, 2}}
    optim.clipGradValue(g, 1)
    assert.are.same({-1, 0.5, 1}, g[1]:totable())
  end)

  it("refuse bad arguments", function()
    assert.has_error(function() optim.clipGradNorm(42, 1) end,
      "clipGradNorm: expected a model, an optimizer or a list of gradient tensors, got number")
    assert.has_error(function() optim.clipGradNorm({lunet.zeros(1)}, -1) end, "clipGradNorm: maxNorm must be a number >= 0, got -1")
    assert.has_error(function() optim.clipGradNorm({lunet.zeros(1)}, 1, 0.5) end)
    assert.has_error(function() optim.clipGradValue({1}, 1) end, "clipGradValue: gradient 1 must be a tensor, got number")
  end)
end)
