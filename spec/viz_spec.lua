-- lunet.viz: projections (deconvnet, guided backpropagation, saliency) on tiny networks whose
-- weights are set by hand and whose results are worked out by hand below; receptive fields;
-- top-k; occlusion; invariance; correspondence; evolution; and the error messages.
local lunet = require "lunet"
local H = require "spec.helper"
local nn = require "lunet.nn"
local viz = require "lunet.viz"
local image = require "lunet.image"
local core = require "lunet.core"

-- expected: a nested Lua table; exact up to float rounding.
local function near(expected, got, tol)
  local e = lunet.tensor(expected)
  assert.same(e:size(), got:size())
  local err = (e - got):abs():max()
  assert.is_true(err <= (tol or 1e-6), ("max |difference| %g\nexpected\n%s\ngot\n%s"):format(err,
    tostring(e), tostring(got)))
end

local function conv(inC, outC, k, weights, opts)
  local m = nn.Conv2d(inC, outC, k, opts or {bias = false})
  m.weight:copy(lunet.tensor(weights))
  if m.bias then m.bias:zero() end
  return m
end

-- The image of every hand-worked example:
--   x = [ 2  1  0 ]
--       [ 0  1  2 ]
--       [ 1 -2  3 ]
local X = {{{{2, 1, 0}, {0, 1, 2}, {1, -2, 3}}}}

-- conv1 (filter [1 0; 0 -1], so pre1[y][x] = x[y][x] - x[y+1][x+1]) -> ReLU -> conv2 ([3 1; -1 2]).
--   pre1 = [1 -1; 2 -2], relu1 = [1 0; 2 0], conv2 = 3·1 + 1·0 - 1·2 + 2·0 = 1 (its only unit).
-- Going down from that unit (value a = 1): the signal on relu1's output is a·w2 = [3 1; -1 2];
--   deconvnet: relu(signal)             = [3 1; 0 2]
--   saliency:  signal where pre1 > 0    = [3 0; -1 0]
--   guided:    both                     = [3 0; 0 0]
-- then the transposed conv1 puts each s[y][x] at (y, x) and -s[y][x] at (y+1, x+1).
local function twoConvNet()
  return nn.Sequential()
    :add(conv(1, 1, 2, {{{{1, 0}, {0, -1}}}}), "conv1")
    :add(nn.ReLU(), "relu1")
    :add(conv(1, 1, 2, {{{{3, 1}, {-1, 2}}}}), "conv2")
end

-- conv (two maps: [1 0; 0 -1] as above, and [-1 0; 0 0], whose pre-activations -x[y][x] are
-- <= 0 everywhere) -> ReLU -> max-pool 2x2:
--   map 1: relu = [1 0; 2 0], pooled 2 with its switch at (2,1); map 2: all zero.
local function poolNet()
  return nn.Sequential()
    :add(conv(1, 2, 2, {{{{1, 0}, {0, -1}}}, {{{-1, 0}, {0, 0}}}}), "conv")
    :add(nn.ReLU(), "relu")
    :add(nn.MaxPool2d(2), "pool")
    :add(nn.Flatten(), "flatten")
    :add(nn.Linear(2, 2), "fc")
end

describe("viz.project", function()
  it("deconvnet through two conv layers, worked out by hand", function()
    local p, where = viz.project(twoConvNet(), lunet.tensor(X), {layer = "conv2"})
    assert.same({{map = 1, y = 1, x = 1, value = 1}}, where)
    near({{{{3, 1, 0}, {0, -3 + 2, -1}, {0, 0, -2}}}}, p)
  end)

  it("saliency: the gradient times the activation, worked out by hand", function()
    local p = viz.project(twoConvNet(), lunet.tensor(X), {layer = "conv2", rule = "saliency"})
    near({{{{3, 0, 0}, {-1, -3, 0}, {0, 1, 0}}}}, p)
  end)

  it("guided backpropagation: both rules, worked out by hand", function()
    local p = viz.project(twoConvNet(), lunet.tensor(X), {layer = 3, rule = "guided"})
    near({{{{3, 0, 0}, {0, -3, 0}, {0, 0, 0}}}}, p)
  end)

  it("unpools through the switch of the forward pass, worked out by hand", function()
    local net = poolNet()
    local p, where = viz.project(net, lunet.tensor(X), {layer = "pool"})
    assert.same({{map = 1, y = 1, x = 1, value = 2}}, where)
    -- unpooled: [0 0; 2 0] on map 1; transposed conv: +2 at (2,1), -2 at (3,2)
    near({{{{0, 0, 0}, {2, 0, 0}, {0, -2, 0}}}}, p)
    -- the same from the ReLU's output at the switch, and from the conv's
    near({{{{0, 0, 0}, {2, 0, 0}, {0, -2, 0}}}}, (viz.project(net, lunet.tensor(X), {layer = "relu"})))
    near({{{{0, 0, 0}, {2, 0, 0}, {0, -2, 0}}}}, (viz.project(net, lunet.tensor(X), {layer = "conv", map = 1,
      position = {2, 1}})))
    -- another position of map 1: relu1 = 1 at (1,1)
    near({{{{1, 0, 0}, {0, -1, 0}, {0, 0, 0}}}}, (viz.project(net, lunet.tensor(X), {layer = "relu", map = 1,
      position = {1, 1}})))
  end)

  it("puts each unpooled value back at its switch", function()
    local net = nn.Sequential():add(nn.MaxPool2d(2), "pool")
    local x = lunet.tensor{{{{1, 9, 2, 0}, {3, 4, 8, 7}, {5, 0, 1, 1}, {6, 2, 3, 4}}}}
    -- maxima: 9 at (1,2), 8 at (2,3), 6 at (4,1), 4 at (4,4)
    local want = {[1] = {{1, 1}, {1, 2}, 9}, [2] = {{1, 2}, {2, 3}, 8}, [3] = {{2, 1}, {4, 1}, 6},
      [4] = {{2, 2}, {4, 4}, 4}}
    for _, w in ipairs(want) do
      local p = viz.project(net, x, {layer = "pool", map = 1, position = w[1]})
      local e = lunet.zeros(1, 1, 4, 4)
      e[1][1][w[2][1]][w[2][2]] = w[3]
      near(e:totable(), p)
    end
  end)

  it("projects a map whose activations are all zero to zero", function()
    local net = poolNet()
    local p, where = viz.project(net, lunet.tensor(X), {layer = "pool", map = 2})
    assert.equal(0, where[1].value)
    assert.equal(0, p:abs():max())
    -- and a zeroed filter, anywhere in a bigger network
    lunet.manualSeed(3)
    local big = nn.Sequential():add(nn.Conv2d(2, 3, 3, {padding = 1}), "c1"):add(nn.ReLU())
      :add(nn.Conv2d(3, 4, 3, {padding = 1}), "c2"):add(nn.ReLU(), "r2")
    big:find("c2").weight[2]:zero()
    big:find("c2").bias[2] = -1
    local q = viz.project(big, lunet.randn(2, 2, 5, 5), {layer = "r2", map = 2})
    assert.equal(0, q:abs():max())
  end)

  it("of a single conv layer equals the transposed convolution of the isolated activation", function()
    lunet.manualSeed(7)
    for _, geom in ipairs {{stride = 1, padding = 1}, {stride = 2, padding = 2}} do
      local c = nn.Conv2d(3, 4, 3, geom)
      local x = lunet.randn(2, 3, 7, 7)
      local net = nn.Sequential():add(c, "conv")
      local out = net:forward(x)
      local oh, ow = out:size(3), out:size(4)
      local p, where = viz.project(net, x, {layer = "conv", map = {3, 2}, position = {{2, oh}, {ow, 1}}})
      for n = 1, 2 do
        local w = where[n]
        local a = out[n][w.map][w.y][w.x]
        assert.equal(a, w.value)
        -- reference: in[ci][(y-1)s - p + i][(x-1)s - p + j] += a · weight[map][ci][i][j]
        local ref = lunet.zeros(3, 7, 7)
        for ci = 1, 3 do
          for i = 1, 3 do
            for j = 1, 3 do
              local r = (w.y - 1) * geom.stride - geom.padding + i
              local q = (w.x - 1) * geom.stride - geom.padding + j
              if r >= 1 and r <= 7 and q >= 1 and q <= 7 then
                ref[ci][r][q] = ref[ci][r][q] + a * c.weight[w.map][ci][i][j]
              end
            end
          end
        end
        assert.is_true(H.relerr(ref, p[n]) < 1e-5)
      end
    end
  end)

  it("defaults to the strongest activation, per image", function()
    local net = nn.Sequential():add(conv(1, 2, 1, {{{{1}}}, {{{-1}}}}), "conv")
    local x = lunet.tensor{{{{1, 5}, {2, 3}}}, {{{-4, 0}, {1, 2}}}}
    local _, where = viz.project(net, x, {layer = "conv"})
    assert.same({map = 1, y = 1, x = 2, value = 5}, where[1])
    assert.same({map = 2, y = 1, x = 1, value = 4}, where[2])
    local _, w2 = viz.project(net, x, {layer = "conv", map = 2})
    assert.same({map = 2, y = 1, x = 1, value = -1}, w2[1]) -- map 2 is -x: its largest is -1
  end)

  it("saliency is the activation times its gradient (finite differences)", function()
    lunet.manualSeed(11)
    local net = nn.Sequential():add(nn.Conv2d(1, 3, 3, {padding = 1}), "c1"):add(nn.ReLU())
      :add(nn.MaxPool2d(2)):add(nn.Conv2d(3, 2, 3, {padding = 1}), "c2"):add(nn.ReLU(), "r2")
    local x = lunet.randn(1, 1, 8, 8)
    local p, where = viz.project(net, x, {layer = "r2", rule = "saliency"})
    local w = where[1]
    local g = H.numgrad(function()
      local o = x
      for i = 1, 5 do o = net.modules[i]:forward(o) end
      return o[1][w.map][w.y][w.x]
    end, x, 1e-3)
    assert.is_true(H.relerr(g:mul(w.value), p) < 1e-2)
  end)

  it("guided backpropagation is the deconvnet and saliency rules at once (random network)", function()
    lunet.manualSeed(5)
    local net = nn.Sequential():add(nn.Conv2d(1, 4, 3, {padding = 1}), "c1"):add(nn.ReLU())
      :add(nn.Conv2d(4, 3, 3, {padding = 1}), "c2")
    local x = lunet.randn(1, 1, 6, 6)
    local c2 = net:find("c2")
    net:forward(x)
    local _, where = viz.project(net, x, {layer = "c2"})
    local w = where[1]
    local seed = lunet.zeros(1, 3, 6, 6)
    seed[1][w.map][w.y][w.x] = w.value
    local s = core.conv2d_backward_input(c2.input, seed, c2.weight, lunet.zeros(0), lunet.zeros(0), 1, 1, 1, 1)
    local mask = net.modules[1].output:gt(0)
    local c1 = net.modules[1]
    local function down(sig)
      return core.conv2d_backward_input(x, sig, c1.weight, lunet.zeros(0), lunet.zeros(0), 1, 1, 1, 1)
    end
    assert.is_true(H.relerr(down(s:relu() * mask), viz.project(net, x, {layer = "c2", rule = "guided"})) < 1e-6)
    assert.is_true(H.relerr(down(s:relu()), viz.project(net, x, {layer = "c2"})) < 1e-6)
    assert.is_true(H.relerr(down(s * mask), viz.project(net, x, {layer = "c2", rule = "saliency"})) < 1e-6)
  end)

  it("returns a new tensor each call", function()
    local net = twoConvNet()
    local a = viz.project(net, lunet.tensor(X), {layer = "conv2"})
    local b = viz.project(net, lunet.tensor(X):mul(2), {layer = "conv2"})
    near({{{{3, 1, 0}, {0, -1, -1}, {0, 0, -2}}}}, a)
    near({{{{6, 2, 0}, {0, -2, -2}, {0, 0, -4}}}}, b) -- twice the input: a = 2, the signal doubled
  end)

  it("rejects bad arguments with messages naming them", function()
    local net = poolNet()
    local x = lunet.tensor(X)
    assert.has_error(function() viz.project(net, x, {layer = "conv9"}) end,
      "viz.project: no layer named 'conv9' (layers: conv, relu, pool, flatten, fc)")
    assert.has_error(function() viz.project(net, x, {layer = "fc"}) end,
      "viz.project: layer 'fc' (module 5, Linear) is past the convolutional stack, which ends at module 3 (pool)")
    assert.has_error(function() viz.project(net, x, {layer = 9}) end,
      "viz.project: opts.layer index 9 out of range (the model has 5 modules)")
    assert.has_error(function() viz.project(net, x, {}) end,
      "viz.project: opts.layer must be a layer name or module index, got nil")
    local flat = nn.Sequential():add(nn.Flatten(), "flatten"):add(nn.Linear(9, 2), "fc")
    assert.has_error(function() viz.project(flat, x, {layer = "fc"}) end,
      "viz.project: the model must begin with Conv2d, ReLU and MaxPool2d layers; its module 1 is Flatten")
    assert.has_error(function() viz.project(nn.ReLU(), x, {layer = 1}) end,
      "viz.project: model must be an nn.Sequential, got ReLU")
    assert.has_error(function() viz.project(net, lunet.zeros(1, 3, 3), {layer = "conv"}) end,
      "viz.project: images must be 4-D (N,C,H,W), got 3-D (1,3,3)")
    assert.has_error(function() viz.project(net, {}, {layer = "conv"}) end,
      "viz.project: images must be a tensor (N,C,H,W), got table")
    assert.has_error(function() viz.project(net, x, {layer = "conv", rule = "backprop"}) end,
      "viz.project: opts.rule must be \"deconvnet\", \"guided\" or \"saliency\", got backprop")
    assert.has_error(function() viz.project(net, x, {layer = "conv", map = 3}) end,
      "viz.project: opts.map must be an integer in 1..2, got 3")
    assert.has_error(function() viz.project(net, x, {layer = "conv", map = 1, position = {3, 1}}) end,
      "viz.project: opts.position y must be an integer in 1..2, got 3")
    assert.has_error(function() viz.project(net, x, {layer = "conv", map = {1, 2}}) end,
      "viz.project: opts.map as a list must have one entry per image (1), got 2")
    assert.has_error(function() viz.project(net, x, {layer = "conv", maps = 1}) end,
      "viz.project: unknown option \"maps\" (known: layer, map, position, rule)")
  end)
end)

describe("viz.receptiveField and viz.window", function()
  local function lenetStack()
    return nn.Sequential()
      :add(nn.Conv2d(1, 2, 5, {padding = "same"}), "conv1"):add(nn.ReLU(), "relu1"):add(nn.MaxPool2d(2), "pool1")
      :add(nn.Conv2d(2, 2, 5, {padding = "same"}), "conv2"):add(nn.ReLU(), "relu2"):add(nn.MaxPool2d(2), "pool2")
  end

  it("composes kernel, stride and padding through the stack (LeNet-5's, by hand)", function()
    local net = lenetStack()
    -- conv1: 5 wide from -1; pool1: 6 wide, stride 2; conv2: 6 + 4·2 = 14 from -1 - 2·2 = -5; pool2: 16, stride 4
    assert.same({first = {-1, -1}, stride = {1, 1}, size = {5, 5}}, viz.receptiveField(net, "conv1"))
    assert.same({first = {-1, -1}, stride = {1, 1}, size = {5, 5}}, viz.receptiveField(net, "relu1"))
    assert.same({first = {-1, -1}, stride = {2, 2}, size = {6, 6}}, viz.receptiveField(net, "pool1"))
    assert.same({first = {-5, -5}, stride = {2, 2}, size = {14, 14}}, viz.receptiveField(net, "conv2"))
    assert.same({first = {-5, -5}, stride = {4, 4}, size = {16, 16}}, viz.receptiveField(net, "pool2"))
  end)

  it("bounds the support of every projection", function()
    lunet.manualSeed(2)
    local net = lenetStack()
    local x = lunet.randn(1, 1, 28, 28)
    local rf = viz.receptiveField(net, "conv2")
    for _, pos in ipairs {{1, 1}, {7, 9}, {14, 14}} do
      local p = viz.project(net, x, {layer = "conv2", map = 1, position = pos, rule = "saliency"})[1][1]
      local r0, c0 = rf.first[1] + (pos[1] - 1) * rf.stride[1], rf.first[2] + (pos[2] - 1) * rf.stride[2]
      local outside = p:clone()
      local top, left = math.max(1, r0), math.max(1, c0)
      local bottom, right = math.min(28, r0 + rf.size[1] - 1), math.min(28, c0 + rf.size[2] - 1)
      outside:narrow(1, top, bottom - top + 1):narrow(2, left, right - left + 1):zero()
      assert.equal(0, outside:abs():max())
      assert.is_true(p:abs():max() > 0)
    end
  end)

  it("window: the field's size, moved inside the image at the borders", function()
    local rf = {first = {-5, -5}, stride = {2, 2}, size = {14, 14}}
    assert.same({1, 1, 14, 14}, {viz.window(rf, 1, 1, 28, 28)})
    assert.same({5, 7, 14, 14}, {viz.window(rf, 6, 7, 28, 28)}) -- -5 + 5·2 = 5, -5 + 6·2 = 7
    assert.same({15, 15, 14, 14}, {viz.window(rf, 14, 14, 28, 28)}) -- would start at 21
    assert.same({1, 1, 10, 14}, {viz.window(rf, 3, 1, 10, 20)}) -- taller than the image
  end)

  it("rejects layers outside the stack", function()
    assert.has_error(function() viz.receptiveField(lenetStack():add(nn.Flatten(), "flat"), "flat") end,
      "viz.receptiveField: layer 'flat' (module 7, Flatten) is past the convolutional stack, which ends at module 6 (pool2)")
  end)
end)

describe("viz.top and viz.topGrid", function()
  -- conv 1x1 with weight 1: the map is the image itself
  local net = nn.Sequential():add(conv(1, 1, 1, {{{{1}}}}), "id")
  local x = lunet.tensor{
    {{{0, 1}, {2, 0}}}, {{{7, 0}, {0, 0}}}, {{{0, 0}, {0, 3}}}, {{{5, 6}, {0, 0}}}}

  it("finds the k strongest images of each map, one per image, strongest first", function()
    local top = viz.top(net, x, {layer = "id", k = 3, batch = 3}) -- batches of 3: the list spans them
    assert.same({{map = 1, hits = {
      {index = 2, value = 7, y = 1, x = 1}, {index = 4, value = 6, y = 1, x = 2}, {index = 3, value = 3, y = 2, x = 2}}}},
      top)
    local all = viz.top(net, x, {layer = "id", k = 9})
    assert.equal(4, #all[1].hits)
    assert.equal(1, all[1].hits[4].index)
  end)

  it("writes a grid of (projection, patch) pairs, a row per map, grey tiles for missing hits", function()
    local path = os.tmpname() .. ".png"
    local top, g = viz.topGrid(path, net, x, {layer = "id", k = 5, scale = 10, title = "one map"})
    assert.equal(4, #top[1].hits)
    assert.is_true(image.load(path):size(3) > g:size(3)) -- the grid, with its title and row label
    os.remove(path)
    -- one row of 5 tiles, each 1x2 input pixels at scale 10, padding 5
    assert.same({1, 10 + 2 * 5, 5 * (20 + 5) + 5}, g:size())
    -- the last tile (no fifth image) is uniform grey
    local last = g:narrow(2, 6, 10):narrow(3, 5 + 4 * 25 + 1, 20)
    assert.is_true((last - 0.5):abs():max() < 0.01)
  end)

  it("searches only units whose receptive field is inside the image, with opts.inside", function()
    -- a 3x3 conv passing the centre pixel, padding 1: units 2..3 of 4 see no padding
    local c = nn.Sequential():add(conv(1, 1, 3, {{{{0, 0, 0}, {0, 1, 0}, {0, 0, 0}}}}, {padding = 1, bias = false}), "c")
    local img = lunet.tensor{{{{9, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 2, 0}, {0, 0, 0, 0}}}}
    assert.same({{index = 1, value = 9, y = 1, x = 1}}, viz.top(c, img, {layer = "c", k = 1})[1].hits)
    assert.same({{index = 1, value = 2, y = 3, x = 3}}, viz.top(c, img, {layer = "c", k = 1, inside = true})[1].hits)
    assert.has_error(function() viz.top(c, lunet.zeros(1, 1, 2, 2), {layer = "c", inside = true}) end,
      "viz.top: no unit of layer 'c' has its 3x3 receptive field inside the 2x2 images (opts.inside)")
  end)

  it("counts only positive maxima in a rectified layer: a map that never fires has no hits", function()
    local pooled = poolNet()
    local top = viz.top(pooled, lunet.tensor(X), {layer = "relu", k = 3})
    assert.same({{map = 1, hits = {{index = 1, value = 2, y = 2, x = 1}}}, {map = 2, hits = {}}}, top)
    -- before the ReLU the negative maximum of map 2 is a hit
    assert.equal(1, #viz.top(pooled, lunet.tensor(X), {layer = "conv", k = 3})[2].hits)
    local path = os.tmpname() .. ".png"
    local _, g = viz.topGrid(path, pooled, lunet.tensor(X), {layer = "pool", k = 1, scale = 10})
    os.remove(path)
    -- the dead map's row is a grey tile (each tile: a 3x3 field, projection and patch, at scale 10)
    local row2 = g:narrow(2, 5 + 30 + 5 + 1, 30)
    assert.is_true((row2:narrow(3, 6, 60) - 0.5):abs():max() < 0.01)
  end)

  it("insideUnits: the units whose receptive field is inside the image", function()
    local c = nn.Sequential():add(conv(1, 1, 3, {{{{0, 0, 0}, {0, 1, 0}, {0, 0, 0}}}}, {padding = 1, bias = false}), "c")
    assert.same({2, 3, 2, 3}, viz.insideUnits(c, "c", 4, 4))
    assert.same({2, 5, 2, 2}, viz.insideUnits(c, "c", 6, 3))
    assert.has_error(function() viz.insideUnits(c, "c", 2, 2) end,
      "viz.insideUnits: no unit of layer 'c' has its 3x3 receptive field inside the 2x2 images (opts.inside)")
  end)

  it("shows the patches as they are with opts.patches = \"none\"", function()
    local path = os.tmpname() .. ".png"
    local _, g = viz.topGrid(path, net, x:div(10), {layer = "id", k = 1, scale = 10, patches = "none"})
    os.remove(path)
    -- the one tile: the projection at columns 6..15, the patch (0.7, image 2) at 16..25
    assert.is_true(math.abs(g[1][10][20] - 0.7) < 1 / 255)
    assert.has_error(function() viz.topGrid(path, net, x, {layer = "id", patches = "symmetric"}) end,
      "viz.topGrid: opts.patches must be \"minmax\" or \"none\", got symmetric")
  end)

  it("rejects bad options", function()
    assert.has_error(function() viz.top(net, x, {layer = "id", k = 0}) end,
      "viz.top: opts.k must be an integer >= 1, got 0")
    assert.has_error(function() viz.top(net, x, {layer = "id", maps = {2}}) end,
      "viz.top: opts.maps[1] must be an integer in 1..1, got 2")
    assert.has_error(function() viz.topGrid("/tmp/x.png", net, x, {layer = "id", top = {}}) end,
      "viz.topGrid: opts.top must be a result of viz.top, got table")
  end)
end)

describe("viz.occlusion", function()
  -- conv 1x1 (weight 1) -> ReLU -> Linear with rows e1 and e4: logits (x11, x22) of a 2x2 image.
  -- x = [1 2; 3 4]: logits (1, 4); covering one pixel with 0:
  --   (1,1) -> (0, 4)   (1,2) -> (1, 4)   (2,1) -> (1, 4)   (2,2) -> (1, 0)
  -- p(class 2) = sigmoid(l2 - l1); the conv map's total is 10 minus the covered pixel.
  local function handNet()
    local fc = nn.Linear(4, 2)
    fc.weight:copy(lunet.tensor{{1, 0, 0, 0}, {0, 0, 0, 1}})
    fc.bias:zero()
    return nn.Sequential():add(conv(1, 1, 1, {{{{1}}}}), "conv"):add(nn.ReLU()):add(nn.Flatten()):add(fc)
  end
  local function sig(v) return 1 / (1 + math.exp(-v)) end
  local x = lunet.tensor{{{1, 2}, {3, 4}}}

  it("maps the true class's probability, the most probable class and the feature total, by hand", function()
    local r = viz.occlusion(handNet(), x, {size = 1, stride = 1, fill = 0, label = 2, layer = "conv"})
    near({{sig(4), sig(3)}, {sig(3), sig(-1)}}, r.prob, 1e-6)
    assert.same({{2, 2}, {2, 1}}, r.class:totable())
    near({{9, 8}, {7, 6}}, r.feature)
    assert.equal(2, r.label)
    assert.equal(1, r.map)
    assert.is_true(math.abs(r.base.prob - sig(3)) < 1e-6)
    assert.equal(2, r.base.class)
    assert.equal(10, r.base.feature)
    assert.same({1, 2}, r.rows)
  end)

  it("places squares of even size and strides by hand, leaving the image as it was", function()
    -- size 2 at centre c covers c .. c+1 (clipped); stride 2 visits only (1,1)
    local r = viz.occlusion(handNet(), x, {size = 2, stride = 2, fill = 0, label = 2})
    near({{0.5}}, r.prob, 1e-6) -- everything covered: logits (0, 0)
    local s = viz.occlusion(handNet(), x, {size = 2, stride = 1, fill = 0})
    near({{0.5, sig(-1)}, {sig(-1), sig(-1)}}, s.prob, 1e-6)
    assert.equal(2, s.label) -- the predicted class by default
    -- a fill of 4 everywhere: at (1,1) the logits become (4, 4)
    near({{0.5}}, viz.occlusion(handNet(), x, {size = 1, stride = 2, fill = 4, label = 1}).prob, 1e-6)
    near({{1, 2}, {3, 4}}, x[1])
  end)

  it("changes nothing when the square holds the image's own values", function()
    lunet.manualSeed(4)
    local net = nn.Sequential():add(nn.Conv2d(1, 3, 3, {padding = 1}), "c1"):add(nn.ReLU(), "r1")
      :add(nn.MaxPool2d(2)):add(nn.Flatten()):add(nn.Linear(3 * 16, 5)):add(nn.LogSoftmax())
    local img = lunet.randn(1, 8, 8)
    local r = viz.occlusion(net, img, {size = 3, stride = 1, fill = img, label = 4, layer = "r1", batch = 7})
    assert.equal(0, (r.prob - r.base.prob):abs():max())
    assert.equal(0, (r.class - r.base.class):abs():max())
    assert.equal(0, (r.feature - r.base.feature):abs():max())
    -- while a grey square does change it (the test can fail)
    local g = viz.occlusion(net, img, {size = 3, stride = 1, label = 4, layer = "r1"})
    assert.is_true((g.prob - g.base.prob):abs():max() > 1e-4)
  end)

  it("runs in evaluation mode and restores the mode", function()
    local net = handNet():add(nn.Dropout(0.5))
    net:train()
    local a = viz.occlusion(net, x, {size = 1, stride = 1, fill = 0, label = 2})
    assert.is_true(net.training)
    near({{sig(4), sig(3)}, {sig(3), sig(-1)}}, a.prob, 1e-6)
  end)

  it("rejects bad arguments", function()
    local net = handNet()
    assert.has_error(function() viz.occlusion(net, lunet.zeros(1, 1, 2, 2)) end,
      "viz.occlusion: image must be 3-D (C,H,W), got 4-D (1,1,2,2)")
    assert.has_error(function() viz.occlusion(net, x, {size = 0}) end,
      "viz.occlusion: opts.size must be an integer >= 1, got 0")
    assert.has_error(function() viz.occlusion(net, x, {label = 3}) end,
      "viz.occlusion: opts.label must be a class number in 1..2, got 3")
    assert.has_error(function() viz.occlusion(net, x, {fill = lunet.zeros(2, 2)}) end,
      "viz.occlusion: opts.fill must be a number or a (1,2,2) tensor like the image, got (2,2)")
    assert.has_error(function() viz.occlusion(net, x, {layer = 3}) end,
      "viz.occlusion: opts.layer 'module 3' must output feature maps (N,C,H,W), got 2-D (1,4)")
  end)
end)

describe("viz.invariance", function()
  local net = nn.Sequential():add(conv(1, 1, 1, {{{{2}}}}), "conv"):add(nn.Flatten(), "flat")
    :add(nn.Linear(4, 2), "fc")

  it("gives zero distance at the identity and the relative distance of a scaled input", function()
    lunet.manualSeed(6)
    local x = lunet.rand(3, 1, 2, 2):add(0.1)
    local r = viz.invariance(net, x, {transform = function(xx, a) return xx * a end, amounts = {1, 2, 0},
      layers = {"conv", 3}, labels = {1, 2, 1}})
    assert.same({"conv", "fc"}, r.layers)
    assert.is_true(math.abs(r.distance.conv[1]) < 1e-6)
    assert.is_true(math.abs(r.distance.conv[2] - 1) < 1e-6) -- ||2φ - φ|| / ||φ||, φ linear
    assert.is_true(math.abs(r.distance.conv[3] - 1) < 1e-6) -- ||0 - φ|| / ||φ||
    local p = core.softmax_forward(net:forward(x), lunet.zeros(0))
    for i, l in ipairs {1, 2, 1} do assert.is_true(math.abs(r.prob[1][i] - p[i][l]) < 1e-6) end
    assert.is_true(math.abs(r.meanProb[1] - (p[1][1] + p[2][2] + p[3][1]) / 3) < 1e-6)
  end)

  it("applies the named transforms", function()
    local x = lunet.rand(2, 1, 2, 2):add(0.1)
    local r = viz.invariance(net, x, {transform = "translate_x", amounts = {0, 1}, layers = {"conv"}})
    assert.is_true(r.distance.conv[1] < 1e-6)
    -- one pixel right, 0 coming in: φ' = 2·(0, x11; 0, x21)
    local xs = x:totable()
    local d = 0
    for n = 1, 2 do
      local a, b, c, e = xs[n][1][1][1], xs[n][1][1][2], xs[n][1][2][1], xs[n][1][2][2]
      d = d + math.sqrt(a ^ 2 + (b - a) ^ 2 + c ^ 2 + (e - c) ^ 2) / math.sqrt(a ^ 2 + b ^ 2 + c ^ 2 + e ^ 2)
    end
    assert.is_true(math.abs(r.distance.conv[2] - d / 2) < 1e-5)
    for _, t in ipairs {"translate_y", "rotate", "scale"} do
      local q = viz.invariance(net, x, {transform = t, amounts = {t == "scale" and 1 or 0}, layers = {"fc"}})
      assert.is_true(q.distance.fc[1] < 1e-6)
    end
  end)

  it("rejects bad arguments", function()
    local x = lunet.rand(2, 1, 2, 2)
    assert.has_error(function() viz.invariance(net, x, {transform = "shear", amounts = {1}, layers = {"fc"}}) end,
      "viz.invariance: opts.transform must be \"translate_x\", \"translate_y\", \"rotate\", \"scale\" or a function, got shear")
    assert.has_error(function() viz.invariance(net, x, {transform = "rotate", amounts = {}, layers = {"fc"}}) end,
      "viz.invariance: opts.amounts must be a non-empty list of numbers, got table")
    assert.has_error(function() viz.invariance(net, x, {transform = "rotate", amounts = {1}, layers = {"fc2"}}) end,
      "viz.invariance: no layer named 'fc2' (layers: conv, flat, fc)")
    assert.has_error(function() viz.invariance(net, x, {transform = "rotate", amounts = {1}, layers = {"fc"},
      labels = {1}}) end, "viz.invariance: opts.labels must hold one class number per image (2)")
  end)
end)

describe("viz.transform", function()
  it("applies viz.invariance's named transforms to a batch, and rejects unknown names", function()
    local x = lunet.tensor{{{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}}}
    near({{{{0, 1, 2}, {0, 4, 5}, {0, 7, 8}}}}, viz.transform("translate_x", x, 1))
    near({{{{9, 9, 9}, {1, 2, 3}, {4, 5, 6}}}}, viz.transform("translate_y", x, 1, 9))
    near(x:totable(), viz.transform("rotate", x, 360), 1e-5)
    assert.has_error(function() viz.transform("shear", x, 1) end,
      'viz.transform: name must be "translate_x", "translate_y", "rotate" or "scale", got shear')
  end)
end)

describe("viz.correspondence", function()
  -- conv 1x1 with weight 1: φ(x) - φ(x occluded with 0) = x on the region, 0 elsewhere.
  local net = nn.Sequential():add(conv(1, 1, 1, {{{{1}}}}), "id")
  local x = lunet.tensor{{{{1, -1}, {2, 3}}}, {{{1, 1}, {2, -3}}}, {{{-1, 1}, {2, 3}}}}

  it("is the mean pairwise Hamming distance of the signs of the changes, by hand", function()
    -- the whole image: ε = (1,-1,1,1), (1,1,1,-1), (-1,1,1,1); distances 2/4, 2/4, 2/4 -> 0.5
    local full = lunet.ones(2, 2)
    assert.is_true(math.abs(viz.correspondence(net, x, {layers = {"id"}, region = full, fill = 0}).id - 0.5) < 1e-9)
    -- the first row only: ε = (1,-1,0,0), (1,1,0,0), (-1,1,0,0); distances 1/4, 2/4, 1/4 -> 1/3
    local d = viz.correspondence(net, x, {layers = {1}, region = {1, 1, 1, 2}, fill = 0})
    assert.is_true(math.abs(d.id - 1 / 3) < 1e-9)
    -- pixel (2,1), the same sign everywhere: 0
    assert.equal(0, viz.correspondence(net, x, {layers = {"id"}, region = {2, 1, 1, 1}, fill = 0}).id)
    -- one region per image: (1,1) in the first two, (2,2) in the third:
    -- ε = (1,0,0,0), (1,0,0,0), (0,0,0,1): distances 0, 2/4, 2/4 -> 1/3
    local per = viz.correspondence(net, x, {layers = {"id"}, fill = 0,
      region = {{1, 1, 1, 1}, {1, 1, 1, 1}, {2, 2, 1, 1}}})
    assert.is_true(math.abs(per.id - 1 / 3) < 1e-9)
    -- with a tolerance of 0.5 · max|φ| = 1.5, only the changes 2 and ±3 count:
    -- ε = (0,0,1,1), (0,0,1,-1), (0,0,1,1): distances 1/4, 0, 1/4 -> 1/6
    local tol = viz.correspondence(net, x, {layers = {"id"}, region = full, fill = 0, tolerance = 0.5})
    assert.is_true(math.abs(tol.id - 1 / 6) < 1e-9)
    -- regions are clipped at the borders
    assert.is_true(math.abs(viz.correspondence(net, x, {layers = {"id"}, region = {0, 0, 5, 5}, fill = 0}).id - 0.5)
      < 1e-9)
  end)

  it("draws random regions inside the image, reproducibly", function()
    lunet.manualSeed(9)
    local a = viz.randomRegions(50, 28, 20, 8, 5)
    lunet.manualSeed(9)
    assert.same(a, viz.randomRegions(50, 28, 20, 8, 5))
    local seenTop, seenBottom = false, false
    for _, r in ipairs(a) do
      assert.is_true(r[1] >= 1 and r[1] + r[3] - 1 <= 28 and r[2] >= 1 and r[2] + r[4] - 1 <= 20)
      seenTop = seenTop or r[1] == 1
      seenBottom = seenBottom or r[1] == 21
    end
    assert.is_true(seenTop and seenBottom)
  end)

  it("rejects bad arguments", function()
    assert.has_error(function() viz.correspondence(net, x:narrow(1, 1, 1), {layers = {"id"}, region = {1, 1, 1, 1}}) end,
      "viz.correspondence: needs at least 2 images to compare, got 1")
    assert.has_error(function() viz.correspondence(net, x, {layers = {"id"}, region = {3, 3, 1, 1}}) end,
      "viz.correspondence: opts.region {3, 3, 1, 1} lies outside the 2x2 image")
    assert.has_error(function() viz.correspondence(net, x, {layers = {"id"}}) end,
      "viz.correspondence: opts.region is required ({top, left, h, w}, an (H,W) mask, or one per image)")
    assert.has_error(function() viz.correspondence(net, x, {layers = {}, region = {1, 1, 1, 1}}) end,
      "viz.correspondence: opts.layers must be a non-empty list of layer names or indices, got an empty list")
    assert.has_error(function() viz.randomRegions(2, 4, 4, 5, 1) end,
      "viz.randomRegions: h must be an integer in 1..4, got 5")
  end)
end)

describe("viz.evolution", function()
  it("records the strongest projections at the chosen iterations and lays them out", function()
    lunet.manualSeed(8)
    local net = nn.Sequential():add(nn.Conv2d(1, 3, 3, {padding = 1}), "c1"):add(nn.ReLU(), "r1")
    local x = lunet.randn(5, 1, 6, 6)
    local evo = viz.evolution{model = net, images = x, layer = "r1", maps = {1, 3}, iterations = {0, 10}}
    assert.is_true(evo:record(0))
    assert.is_false(evo:record(5))
    net:find("c1").weight:mul(-1)
    assert.is_true(evo:record(10))
    assert.equal(2, #evo.snapshots)
    -- each tile: the projection of the map's strongest activation over x, cropped to 3x3
    local top = viz.top(net, x, {layer = "r1", k = 1, maps = {3}})[1].hits[1]
    local p = viz.project(net, x:narrow(1, top.index, 1), {layer = "r1", map = 3, position = {top.y, top.x}})
    local t, l, h, w = viz.window(viz.receptiveField(net, "r1"), top.y, top.x, 6, 6)
    near(image.crop(p[1], t, l, h, w):totable(), evo.snapshots[2].tiles[2])
    local path = os.tmpname() .. ".png"
    local g = evo:grid(path, {title = "two maps"})
    assert.equal(3, image.load(path):size(1)) -- drawn with its labels by gnuplot, in colour
    os.remove(path)
    -- 2 maps × 2 iterations of 3x3 tiles at the default scale 14, padding 2
    assert.same({1, 2 * (42 + 2) + 2, 2 * (42 + 2) + 2}, g:size())
  end)

  it("rejects a grid before any record, and bad layers", function()
    local net = nn.Sequential():add(nn.Conv2d(1, 3, 3), "c1")
    local evo = viz.evolution{model = net, images = lunet.randn(2, 1, 5, 5), layer = "c1"}
    assert.has_error(function() evo:grid("/tmp/never.png") end,
      "viz.evolution: grid: nothing recorded yet (call record(iteration))")
    assert.has_error(function() viz.evolution{model = net, images = lunet.randn(2, 1, 5, 5), layer = "c2"} end,
      "viz.evolution: no layer named 'c2' (layers: c1)")
  end)
end)
