local lfs = require "lfs"
local datapath = require "lunet.datapath"
local IO = require "spec.io_helper"

local tmp, home
before_each(function()
  tmp = IO.tmpdir()
  home = lfs.currentdir()
end)
after_each(function()
  lfs.chdir(home)
  IO.rmtree(tmp)
end)

local function mkdirs(...)
  for _, d in ipairs{...} do
    local acc = ""
    for part in d:gmatch("[^/]+") do
      acc = acc .. "/" .. part
      lfs.mkdir(acc)
    end
  end
end

describe("datapath.find", function()
  it("returns an explicit folder as it is, or says it is missing without looking elsewhere", function()
    mkdirs(tmp .. "/mine")
    assert.equal(tmp .. "/mine", datapath.find("mnist", tmp .. "/mine"))
    local msg = IO.errmsg(datapath.find, "mnist", tmp .. "/nope")
    assert.equal(table.concat({
      "datapath.find: data set 'mnist' not found; looked in:",
      "  " .. tmp .. "/nope (no such folder)",
      "Public copy: MNIST: the four IDX .gz files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        .. "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) from http://yann.lecun.com/exdb/mnist/",
    }, "\n"), msg)
  end)

  it("prefers ./data over ../shared/data, and skips folders that lack the contents", function()
    mkdirs(tmp .. "/work/data/CIFAR10/Train", tmp .. "/shared/data/CIFAR10/Train", tmp .. "/shared/data/CIFAR10/Test")
    assert.is_true(lfs.chdir(tmp .. "/work"))
    assert.equal("./data/CIFAR10", datapath.find("CIFAR10"))
    assert.equal("../shared/data/CIFAR10", datapath.find("CIFAR10", nil, {"Train", "Test"}))
    lfs.rmdir(tmp .. "/shared/data/CIFAR10/Test")
    local msg = IO.errmsg(datapath.find, "CIFAR10", nil, {"Train", "Test"})
    assert.matches("  ./data/CIFAR10 (lacks Test)\n  ../shared/data/CIFAR10 (lacks Test)\n", msg, 1, true)
    assert.matches("or set LUNET_DATA", msg, 1, true)
    assert.matches("GitHub repository cicconet/MachineLearning, folder CIFAR10", msg, 1, true)
  end)

  it("looks in $LUNET_DATA first", function()
    mkdirs(tmp .. "/env/mnist")
    local cmd = string.format("LUNET_DATA=%q LUA_PATH=%q lua5.4 -e %q", tmp .. "/env", package.path,
      'io.write(require("lunet.datapath").find("mnist"))')
    local p = assert(io.popen(cmd))
    local out = p:read("a")
    p:close()
    assert.equal(tmp .. "/env/mnist", out)
  end)

  it("rejects bad arguments", function()
    assert.equal("datapath.find: argument #1 (subdir) must be a string, got nil", IO.errmsg(datapath.find))
    assert.equal("datapath.find: argument #2 (explicit) must be a string or nil, got number",
      IO.errmsg(datapath.find, "mnist", 3))
    assert.equal("datapath.find: argument #3 (contents) must be a list of names or nil, got string",
      IO.errmsg(datapath.find, "mnist", nil, "Train"))
  end)
end)
