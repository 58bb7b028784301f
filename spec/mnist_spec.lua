-- Specs of lunet.mnist: layouts, scaling, labels, splits and errors, on small IDX files
-- written here and on the real data set.
local mnist = require "lunet.mnist"
local IO = require "spec.io_helper"

local H = require "spec.helper"
local MNIST = H.dataDir("mnist")

-- An MNIST-shaped pair of IDX files for `part`: n images whose pixel k (0-based, of
-- 784) of image i holds (i + k) % 256, and labels (i - 1) % 10.
local function writePart(dir, part, n, gz)
  local body = {}
  for i = 1, n do
    local px = {}
    for k = 0, 783 do px[k + 1] = string.char((i + k) % 256) end
    body[i] = table.concat(px)
  end
  local labels = {}
  for i = 1, n do labels[i] = string.char((i - 1) % 10) end
  local images = string.char(0, 0, 8, 3) .. string.pack(">I4I4I4", n, 28, 28) .. table.concat(body)
  local lab = string.char(0, 0, 8, 1) .. string.pack(">I4", n) .. table.concat(labels)
  local ext = gz and ".gz" or ""
  IO.write(("%s/%s-images-idx3-ubyte%s"):format(dir, part, ext), gz and IO.gzip(images) or images)
  IO.write(("%s/%s-labels-idx1-ubyte%s"):format(dir, part, ext), gz and IO.gzip(lab) or lab)
end

local tmp
before_each(function() tmp = IO.tmpdir() end)
after_each(function() IO.rmtree(tmp) end)

describe("mnist.load on small files", function()
  it("reads raw and gzip'd files as images in [0,1] and labels digit + 1", function()
    writePart(tmp, "train", 6, false)
    writePart(tmp, "t10k", 3, true)
    local train, test = mnist.load(tmp)
    assert.same({ 6, 1, 28, 28 }, train.inputs:size())
    assert.equal(train.images, train.inputs)
    assert.same({ 3, 1, 28, 28 }, test.images:size())
    assert.same({ 1, 2, 3, 4, 5, 6 }, train.labels:totable())
    assert.equal("int", train.labels:dtype())
    -- image 2, row 1, column 3 holds byte (2 + 2) % 256
    assert.near(4 / 255, train.images[2][1][1][3], 1e-7)
    assert.near(255 / 255, train.images[1][1][10][3], 1e-7) -- k = 9*28 + 2 = 254, + 1
    assert.equal(10, #train.classNames)
    assert.equal("0", train.classNames[1])
  end)

  it("gives row sequences (N,28,28) sharing the images' storage", function()
    writePart(tmp, "train", 4, true)
    writePart(tmp, "t10k", 2, true)
    local train = mnist.load(tmp, { layout = "sequences" })
    assert.same({ 4, 28, 28 }, train.inputs:size())
    assert.equal(train.sequences, train.inputs)
    assert.same(train.images[3][1]:totable(), train.sequences[3]:totable())
    train.sequences[1][1][1] = 0.5
    assert.equal(0.5, train.images[1][1][1][1])
  end)

  it("rejects bad options, missing files and mismatched labels", function()
    assert.has_error(function() mnist.load(tmp, { layout = "rows" }) end,
      'mnist.load: layout must be "images" or "sequences", got rows')
    assert.has_error(function() mnist.load(tmp, { split = "80/20" }) end,
      'mnist.load: split must be "full" or "train55k", got 80/20')
    assert.has_error(function() mnist.load(tmp, "images") end,
      "mnist.load: options must be a table, got string")
    assert.has_error(function() mnist.load(tmp) end,
      ("mnist.load: %s/train-images-idx3-ubyte[.gz] is missing"):format(tmp))
    writePart(tmp, "train", 6, false)
    writePart(tmp, "t10k", 3, false)
    assert.has_error(function() mnist.load(tmp, { split = "train55k" }) end,
      "mnist.load: split train55k needs more than 5000 training digits, the files hold 6")
    IO.write(tmp .. "/t10k-labels-idx1-ubyte", string.char(0, 0, 8, 1) .. string.pack(">I4", 2) .. "\1\2")
    assert.has_error(function() mnist.load(tmp) end, "mnist.load: 3 t10k images but 2 labels")
  end)
end)

describe("mnist.load on the data set", function()
  it("splits 55,000 / 10,000 / 5,000 with the last 5,000 training digits for validation", function()
    if not MNIST then return pending("mnist data set not found (set LUNET_DATA)") end
    local train, test, valid = mnist.load(MNIST, { split = "train55k", layout = "sequences" })
    assert.same({ 55000, 28, 28 }, train.inputs:size())
    assert.same({ 10000, 28, 28 }, test.inputs:size())
    assert.same({ 5000, 28, 28 }, valid.inputs:size())
    assert.same({ 6, 1, 5, 2, 10 }, train.labels:narrow(1, 1, 5):totable()) -- digits 5 0 4 1 9
    assert.same({ 2, 3, 9, 8, 5 }, valid.labels:narrow(1, 1, 5):totable()) -- digits 1 2 8 7 4 (55,001..)
    assert.equal(8, test.labels[1]) -- digit 7
    assert.equal(1, math.max(train.inputs:max(), test.inputs:max()))
    assert.equal(0, math.min(train.inputs:min(), test.inputs:min()))
    assert.equal(60000, select(1, mnist.load(MNIST)).labels:size(1))
  end)
end)
