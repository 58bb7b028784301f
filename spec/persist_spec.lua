-- Whole models as data: lunet.save(path, model), lunet.load(path), model:clone()
-- (lua/lunet/nn/persist.lua). Every class of lunet.nn round-trips; bad files are refused.
local lunet = require "lunet"
local nn = lunet.nn

local tmp = os.tmpname()
local function roundTrip(m)
  lunet.save(tmp, m)
  return lunet.load(tmp)
end

-- One instance of each class, with an input it takes; a class of lunet.nn missing here
-- fails the first spec, so a new module cannot skip the round trip.
local function samples()
  lunet.manualSeed(11)
  local seq = function(...) local s = nn.Sequential(); for _, m in ipairs({...}) do s:add(m) end; return s end
  local img, vec, series = lunet.randn(2, 1, 8, 8), lunet.randn(3, 4), lunet.randn(2, 5, 3)
  -- a training forward moves the running statistics away from their start
  local trained = function(m, x) m:forward(x); return m end
  return {
    Conv2d = {nn.Conv2d(1, 2, 3, {padding = 1}), img},
    ["Conv2d{groups, dilation}"] = {nn.Conv2d(2, 4, 3, {padding = 2, dilation = 2, groups = 2}), lunet.randn(2, 2, 6, 6)},
    ConvTranspose2d = {nn.ConvTranspose2d(1, 2, 3, {stride = 2, padding = 1, outputPadding = 1}), img},
    Conv1d = {nn.Conv1d(3, 2, 3, {dilation = 2}), lunet.randn(2, 3, 9)},
    MaxPool2d = {nn.MaxPool2d(2, 2), img},
    ReLU = {nn.ReLU(), vec}, Tanh = {nn.Tanh(), vec}, Sigmoid = {nn.Sigmoid(), vec},
    LeakyReLU = {nn.LeakyReLU(0.3), vec}, ELU = {nn.ELU(0.5), vec}, GELU = {nn.GELU{approximate = "tanh"}, vec},
    SiLU = {nn.SiLU(), vec}, Softplus = {nn.Softplus(2, 10), vec}, Identity = {nn.Identity(), vec},
    Linear = {nn.Linear(4, 3), vec},
    BatchNorm1d = {trained(nn.BatchNorm1d(4, {momentum = 0.5}), vec), vec},
    BatchNorm2d = {trained(nn.BatchNorm2d(1, {eps = 1e-3}), img), img},
    LayerNorm = {nn.LayerNorm(4, {eps = 1e-3}), vec},
    AvgPool2d = {nn.AvgPool2d(3, {stride = 2, padding = 1, countIncludePad = false}), img},
    AdaptiveAvgPool2d = {nn.AdaptiveAvgPool2d({3, 2}), img},
    Embedding = {nn.Embedding(5, 3, {paddingIdx = 2}), lunet.tensor({{1, 2}, {5, 3}}):int()},
    Dropout = {nn.Dropout(0.3), vec},
    Flatten = {nn.Flatten(), img},
    Softmax = {nn.Softmax(), vec}, LogSoftmax = {nn.LogSoftmax(), vec},
    RNN = {nn.RNN(3, 4, {layers = 2}), series},
    LSTM = {nn.LSTM(3, 4, {forgetBias = 0.5}), series},
    GRU = {nn.GRU(3, 4), series},
    SelectTime = {nn.SelectTime(2), series}, LastStep = {nn.LastStep(), series},
    Sequential = {seq(nn.Linear(4, 4), nn.ReLU()), vec},
    Residual = {nn.Residual(seq(nn.Linear(4, 4), nn.Tanh()), nn.Linear(4, 4)), vec},
    Concat = {nn.Concat(-1):add(nn.Linear(4, 2)):add(nn.Identity()), vec},
    CrossEntropyLoss = {nn.CrossEntropyLoss{labelSmoothing = 0.1}},
    NLLLoss = {nn.NLLLoss{weight = lunet.tensor{1, 2, 3}}},
    MSELoss = {nn.MSELoss{reduction = "sum"}}, L1Loss = {nn.L1Loss()}, SmoothL1Loss = {nn.SmoothL1Loss{beta = 2}},
    BCELoss = {nn.BCELoss()}, BCEWithLogitsLoss = {nn.BCEWithLogitsLoss{posWeight = lunet.tensor{2}}},
    KLDivLoss = {nn.KLDivLoss{reduction = "batchmean"}},
  }
end

-- Classes that are not modules one saves: the abstract bases, and nn.Function (code).
local NOT_SAVED = {Module = true, Criterion = true, Function = true}

describe("lunet.save and lunet.load of whole models", function()
  after_each(function() os.remove(tmp) end)

  it("cover every class of lunet.nn", function()
    local have = samples()
    for name, v in pairs(nn) do
      if type(v) == "table" and rawget(v, "typename") == name and not NOT_SAVED[name] then
        assert.is_not_nil(have[name], "no round-trip sample for nn." .. name)
      end
    end
  end)

  for name, s in pairs(samples()) do
    it(("round-trip nn.%s: same class, description, values and output"):format(name), function()
      local m, x = s[1], s[2]
      local m2 = roundTrip(m)
      assert.are.equal(getmetatable(m), getmetatable(m2))
      assert.are.equal(tostring(m), tostring(m2))
      local w, w2 = m:parameters(), m2:parameters()
      assert.are.equal(#w, #w2)
      for i = 1, #w do
        assert.are.same(w[i]:totable(), w2[i]:totable())
        assert.is_false(w[i]:sharesStorage(w2[i]))
      end
      if x then
        m:evaluate(); m2:evaluate()
        assert.are.same(m:forward(x):totable(), m2:forward(x):totable())
      end
    end)
  end

  it("keep the mode, the children's names and options", function()
    local s = nn.Sequential():add(nn.Linear(2, 2), "fc"):add(nn.Dropout(0.25), "drop")
    s:evaluate()
    local s2 = roundTrip(s)
    assert.is_false(s2.training)
    assert.is_false(s2:find("drop").training)
    assert.are.equal(s2:find("fc"), s2:get(1))
    assert.are.equal(tostring(s:find("drop")), tostring(s2:find("drop")))
  end)

  it("save LeNet-5 and load a model that trains on", function()
    lunet.manualSeed(12)
    local m = lunet.models.lenet5()
    local m2 = roundTrip(m):evaluate() -- no dropout: the two losses see one network
    local opt = lunet.optim.SGD(m2, {lr = 1e-3})
    local x, y = lunet.rand(4, 1, 28, 28), lunet.tensor{1, 2, 3, 4} -- images in [0, 1]
    local crit = nn.CrossEntropyLoss()
    m2:zeroGrad()
    local before = crit:forward(m2:forward(x), y)
    m2:backward(x, crit:backward(m2.output, y))
    opt:step()
    assert.is_true(crit:forward(m2:forward(x), y) < before)
  end)

  it("clone: a deep copy", function()
    local m = nn.Sequential():add(nn.Linear(3, 2)):add(nn.Tanh())
    local c = m:clone()
    assert.are.same(m:get(1).weight:totable(), c:get(1).weight:totable())
    c:get(1).weight:fill(0)
    assert.is_true(m:get(1).weight:abs():sum() > 0)
  end)

  it("refuse what is not data: nn.Function, a class of one's own, a function argument", function()
    assert.has_error(function() lunet.save(tmp, nn.Function(function(x) return x end)) end,
      "lunet.save: model: nn.Function holds Lua code, which a model file never does; save its parameters instead")
    local Mine = nn.class("Mine", nn.Module)
    function Mine:__init() nn.Module.__init(self) end
    assert.has_error(function() lunet.save(tmp, nn.Sequential():add(Mine())) end)
    assert.has_error(function() nn.Sequential():add(Mine()):clone() end)
  end)

  describe("refuse a bad file, naming the place", function()
    local serialize = require "lunet.serialize"
    local function tampered(change)
      lunet.save(tmp, nn.Sequential():add(nn.Linear(3, 2)):add(nn.ReLU()))
      local d = serialize.load(tmp)
      change(d)
      serialize.save(tmp, d)
      return function() return lunet.load(tmp) end
    end

    it("an unknown class", function()
      assert.has_error(tampered(function(d) d.model.children[2].module.class = "os.execute" end),
        ("lunet.load: %s: model.modules[2]: unknown module class \"os.execute\" (not one of lunet.nn's)"):format(tmp))
    end)
    it("a tensor of the wrong shape", function()
      assert.has_error(tampered(function(d) d.model.children[1].module.tensors.weight = lunet.zeros(3, 3) end),
        ("lunet.load: %s: model.modules[1].tensors.weight: is a float tensor (3,3) but nn.Linear made with these "
          .. "arguments has float (2,3)"):format(tmp))
    end)
    it("a missing or unknown tensor", function()
      assert.has_error(tampered(function(d) d.model.children[1].module.tensors.bias = nil end),
        ("lunet.load: %s: model.modules[1]: has no tensor bias, which nn.Linear has"):format(tmp))
      assert.has_error(tampered(function(d) d.model.children[1].module.tensors.extra = lunet.zeros(1) end),
        ("lunet.load: %s: model.modules[1].tensors.extra: is not a tensor of nn.Linear"):format(tmp))
    end)
    it("constructor arguments the class refuses", function()
      assert.has_error(tampered(function(d) d.model.children[1].module.args[1] = -3 end))
      assert.has_error(tampered(function(d) d.model.children[1].module.args = {n = 1e9} end),
        ("lunet.load: %s: model.modules[1]: args must be a table with a count n in 0..64"):format(tmp))
    end)
    it("another format version", function()
      assert.has_error(tampered(function(d) d.version = 99 end),
        ("lunet.load: %s: model format version 99, this lunet reads 1"):format(tmp))
    end)
  end)
end)
