local lunet = require "lunet"
local optim = require "lunet.optim"

-- Reference updates written out element by element in float64.
local function reference(kind, p, g, steps, cfg)
  local state = {}
  for t = 1, steps do
    for i = 1, #p do
      local gi = g[i] + (cfg.weightDecay or 0) * p[i]
      local s = state[i] or {m = 0, v = 0}
      state[i] = s
      if kind == "SGD" then
        if (cfg.momentum or 0) > 0 then
          s.v = cfg.momentum * s.v + gi
          p[i] = p[i] - cfg.lr * (cfg.nesterov and gi + cfg.momentum * s.v or s.v)
        else
          p[i] = p[i] - cfg.lr * gi
        end
      elseif kind == "Adam" then
        s.m = 0.9 * s.m + 0.1 * gi
        s.v = 0.999 * s.v + 0.001 * gi * gi
        local mh, vh = s.m / (1 - 0.9 ^ t), s.v / (1 - 0.999 ^ t)
        p[i] = p[i] - cfg.lr * mh / (math.sqrt(vh) + 1e-8)
      elseif kind == "RMSProp" then
        s.v = 0.99 * s.v + 0.01 * gi * gi
        p[i] = p[i] - cfg.lr * gi / (math.sqrt(s.v) + 1e-8)
      elseif kind == "Adagrad" then
        s.v = s.v + gi * gi
        p[i] = p[i] - cfg.lr * gi / (math.sqrt(s.v) + 1e-10)
      end
    end
  end
  return p
end

describe("optimizers", function()
  local cases = {
    {"SGD", {lr = 0.1}}, {"SGD", {lr = 0.1, momentum = 0.9}}, {"SGD", {lr = 0.1, momentum = 0.9, nesterov = true}},
    {"SGD", {lr = 0.1, weightDecay = 0.01}}, {"Adam", {lr = 0.01}}, {"Adam", {lr = 0.01, weightDecay = 0.1}},
    {"RMSProp", {lr = 0.01}}, {"Adagrad", {lr = 0.1}},
  }
  for _, case in ipairs(cases) do
    local kind, cfg = case[1], case[2]
    it(kind .. " matches the reference update " .. (cfg.momentum and "with momentum" or ""), function()
      local p0, g0 = {0.5, -1.25, 2.0}, {0.3, -0.2, 0.05}
      local p, g = lunet.tensor(p0), lunet.tensor(g0)
      local o = optim[kind]({p}, {g}, cfg)
      for _ = 1, 5 do o:step() end
      local want = reference(kind, {table.unpack(p0)}, g0, 5, cfg)
      for i = 1, 3 do assert.near(want[i], p[i], 1e-5 * math.max(1, math.abs(want[i]))) end
      assert.equal(5, o.t)
    end)
  end
  it("accepts a model, and minimizes a quadratic", function()
    local w = lunet.tensor{3, -2}
    local gw = lunet.zeros(2)
    local model = {parameters = function() return {w}, {gw} end}
    local o = optim.Adam(model, {lr = 0.1})
    for _ = 1, 300 do
      gw:copy(w * 2) -- d/dw of |w|^2
      o:step()
    end
    assert.is_true(w:abs():max() < 0.05)
  end)
  it("state round-trips through lunet.save and loadState", function()
    local p, g = lunet.tensor{1, 2}, lunet.tensor{0.1, -0.1}
    local a = optim.Adam({p}, {g}, {lr = 0.1})
    a:step()
    local path = os.tmpname()
    lunet.save(path, a:state())
    local p2 = p:clone()
    local b = optim.Adam({p2}, {g}, {lr = 0.1})
    b:loadState(lunet.load(path))
    os.remove(path)
    a:step()
    b:step()
    assert.same(p:totable(), p2:totable())
    assert.has_error(function() optim.SGD({p}, {g}):loadState(a:state()) end, "SGD.loadState: state is for Adam")
  end)
  it("zeroGrad zeroes every gradient", function()
    local g = lunet.ones(3)
    optim.SGD({lunet.ones(3)}, {g}):zeroGrad()
    assert.equal(0, g:abs():sum())
  end)
  it("rejects bad configurations and mismatched lists", function()
    local p = lunet.ones(2)
    assert.has_error(function() optim.Adam({p}, {lunet.ones(3)}) end, "Adam: parameter 1 has 2 elements but its gradient 3")
    assert.has_error(function() optim.Adam({p}, {}) end, "Adam: 1 parameters but 0 gradients")
    assert.has_error(function() optim.SGD({p}, {p}, {lr = -1}) end, "SGD: lr must be a number in [0, inf], got -1")
    assert.has_error(function() optim.SGD({p}, {p}, {nesterov = true}) end, "SGD: nesterov needs momentum > 0")
    assert.has_error(function() optim.Adam("x") end, "Adam: expected a model or two lists (parameters, gradients)")
    assert.has_error(function() lunet.core.adam_step(p, lunet.ones(3), p, p, 0.1, 0.9, 0.999, 1e-8, 0, 1) end,
      "adam_step: gradient (3) does not match the parameter (2)")
    assert.has_error(function() lunet.core.adam_step(p, p, p, p, 0.1, 0.9, 0.999, 1e-8, 0, 0) end,
      "adam_step: step number must be >= 1, got 0")
  end)
end)

describe("learning-rate schedules", function()
  it("StepLR and ExponentialLR", function()
    local p = lunet.ones(1)
    local o = optim.SGD({p}, {p}, {lr = 1})
    local s = optim.StepLR(o, {stepSize = 2, gamma = 0.5})
    local seen = {}
    for i = 1, 5 do seen[i] = s:step() end
    assert.same({1, 0.5, 0.5, 0.25, 0.25}, seen)
    local o2 = optim.SGD({p}, {p}, {lr = 1})
    local e = optim.ExponentialLR(o2, {gamma = 0.9})
    e:step()
    e:step()
    assert.near(0.81, o2.lr, 1e-12)
    assert.has_error(function() optim.StepLR(o, {}) end, "StepLR: stepSize must be a positive number")
    assert.has_error(function() optim.StepLR({}, {stepSize = 1}) end, "StepLR: first argument must be an optimizer")
  end)
end)
