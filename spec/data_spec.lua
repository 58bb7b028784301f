local lunet = require "lunet"
local data = require "lunet.data"
local lfs = require "lfs"

local function tmpdir()
  local p = os.tmpname()
  os.remove(p)
  data.mkdirs(p)
  return p
end

local function rmtree(p)
  for f in lfs.dir(p) do
    if f ~= "." and f ~= ".." then
      local q = p .. "/" .. f
      if lfs.attributes(q, "mode") == "directory" then rmtree(q) else os.remove(q) end
    end
  end
  lfs.rmdir(p)
end

describe("data.imageFolder", function()
  local root
  before_each(function()
    root = tmpdir()
    for c = 0, 2 do
      data.mkdirs(root .. "/" .. c)
      for i = 1, 2 do
        lunet.image.save(("%s/%d/img%d.png"):format(root, c, i), lunet.full({1, 4, 3}, (c * 2 + i) / 10))
      end
    end
  end)
  after_each(function() rmtree(root) end)

  it("loads images and 1-based labels in class order, and caches them", function()
    local cache = root .. "_cache/set.lunet"
    local ds = data.imageFolder(root, {cache = cache})
    assert.same({6, 1, 4, 3}, ds.images:size())
    assert.same({1, 1, 2, 2, 3, 3}, ds.labels:totable())
    assert.same({"0", "1", "2"}, ds.classes)
    assert.near(0.2, ds.images[2]:mean(), 1 / 255)
    assert.near(0.3, ds.images[3]:mean(), 1 / 255)
    assert.equal("file", lfs.attributes(cache, "mode"))
    -- the cache is used when it matches: change a file's pixels behind its back
    lunet.image.save(root .. "/0/img1.png", lunet.zeros(1, 4, 3))
    local again = data.imageFolder(root, {cache = cache})
    assert.near(0.1, again.images[1]:mean(), 1 / 255)
    os.remove(cache)
    lfs.rmdir(root .. "_cache")
  end)
  it("rejects images of different sizes, naming the file", function()
    lunet.image.save(root .. "/1/img3.png", lunet.zeros(1, 5, 3))
    assert.has_error(function() data.imageFolder(root) end,
      ("imageFolder: %s/1/img3.png is 1x5x3 but the first image (%s/0/img1.png) is 1x4x3; all images must have one size")
        :format(root, root))
  end)
  it("rejects an empty class folder, an unreadable file and a missing folder", function()
    data.mkdirs(root .. "/3")
    assert.has_error(function() data.imageFolder(root) end,
      ("imageFolder: class folder %s/3 holds no PNG images"):format(root))
    lfs.rmdir(root .. "/3")
    local f = io.open(root .. "/2/bad.png", "w")
    f:write("not a png")
    f:close()
    local ok, err = pcall(data.imageFolder, root)
    assert.is_false(ok)
    assert.truthy(err:find("imageFolder: cannot read " .. root .. "/2/bad.png", 1, true))
    assert.has_error(function() data.imageFolder(root .. "/nope") end, "imageFolder: no such directory: " .. root .. "/nope")
  end)
end)

describe("data.cifar10", function()
  it("loads the course's subset: 10000 + 1000 images of 1x28x28 in [0,1]", function()
    local ok, dir = pcall(lunet.datapath.find, "CIFAR10")
    if not ok then pending("CIFAR10 data not found: " .. dir) return end
    local train, test = data.cifar10(dir)
    assert.same({10000, 1, 28, 28}, train.images:size())
    assert.same({1000, 1, 28, 28}, test.images:size())
    assert.is_true(train.images:min() >= 0 and train.images:max() <= 1)
    assert.equal(1, train.labels[1])
    assert.equal(10, test.labels[1000])
    assert.equal(100, test.labels:eq(4):sum())
    -- a pixel against the PNG loaded on its own
    local img = lunet.image.load(dir .. "/Test/9/Image00099.png")
    assert.same(img:totable(), test.images[1000]:totable())
  end)
  it("says where it looked when the data is missing", function()
    local ok, err = pcall(data.cifar10, "/nonexistent/CIFAR10")
    assert.is_false(ok)
    assert.truthy(err:find("/nonexistent/CIFAR10", 1, true))
    assert.truthy(err:find("cicconet/MachineLearning", 1, true))
  end)
end)

describe("data.Loader", function()
  local ds = {images = lunet.arange(10):view(10, 1), labels = lunet.arange(1, 11):int()}
  it("gives every example once per epoch, in a seeded random order", function()
    lunet.manualSeed(5)
    local l = data.Loader(ds, {batchSize = 5})
    local seen = {}
    for _ = 1, 2 do
      local x, y = l:next()
      assert.same({5, 1}, x:size())
      for i = 1, 5 do
        assert.equal(x[i][1] + 1, y[i]) -- inputs and labels stay paired
        seen[y[i]] = (seen[y[i]] or 0) + 1
      end
    end
    for i = 1, 10 do assert.equal(1, seen[i]) end
    assert.equal(1, l.epoch)
    l:next()
    assert.equal(2, l.epoch)
    lunet.manualSeed(5)
    local l2 = data.Loader(ds, {batchSize = 5})
    local _, y1 = l2:next()
    lunet.manualSeed(5)
    local _, y2 = data.Loader(ds, {batchSize = 5}):next()
    assert.same(y1:totable(), y2:totable())
  end)
  it("without shuffling goes in order; batches() covers the set", function()
    local l = data.Loader(ds, {batchSize = 4, shuffle = false})
    assert.same({1, 2, 3, 4}, select(2, l:next()):totable())
    local n = 0
    for x, _, i0 in data.batches(ds, 4) do
      assert.equal(i0 - 1, x[1][1])
      n = n + x:size(1)
    end
    assert.equal(10, n)
  end)
  it("rejects bad data sets and batch sizes", function()
    assert.has_error(function() data.Loader({}) end, "Loader: data set must have tensors `images` (or `inputs`) and `labels`")
    assert.has_error(function() data.Loader({images = lunet.zeros(3, 1), labels = lunet.zeros(2, "int")}) end,
      "Loader: 3 inputs but 2 labels")
    assert.has_error(function() data.Loader(ds, {batchSize = 11}) end, "Loader: batchSize must be an integer in 1..10, got 11")
  end)
end)

describe("data.mkdirs", function()
  it("creates nested folders and fails clearly", function()
    local root = tmpdir()
    data.mkdirs(root .. "/a/b/c")
    assert.equal("directory", lfs.attributes(root .. "/a/b/c", "mode"))
    local f = io.open(root .. "/file", "w")
    f:close()
    assert.has_error(function() data.mkdirs(root .. "/file/x") end)
    rmtree(root)
  end)
end)

describe("Loader state", function()
  it("continues exactly where it was after state() and loadState()", function()
    local ds = {images = lunet.arange(12):view(12, 1), labels = lunet.arange(1, 13):int()}
    lunet.manualSeed(2)
    local a = data.Loader(ds, {batchSize = 5})
    a:next()
    local s = a:state()
    local rng = lunet.getRNGState()
    local want = {}
    for i = 1, 4 do want[i] = select(2, a:next()):totable() end
    local b = data.Loader(ds, {batchSize = 5})
    b:loadState(s)
    lunet.setRNGState(rng)
    for i = 1, 4 do assert.same(want[i], select(2, b:next()):totable()) end
    assert.equal(a.epoch, b.epoch)
    assert.has_error(function() b:loadState({}) end, "Loader.loadState: not a loader state")
    local other = data.Loader({images = lunet.zeros(7, 1), labels = lunet.ones(7, "int")}, {batchSize = 2})
    assert.has_error(function() other:loadState(s) end,
      "Loader.loadState: the state is for a data set of 12 examples, this one has 7")
  end)
end)
