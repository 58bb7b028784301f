-- Every public function, method and module of lunet has a reference entry (the LDoc
-- sources config.ld names; lunet.help reads the same ones).
local lunet = require "lunet"
local help = require "lunet.help"

-- What LDoc itself publishes: its parser's items, through a filter, as qualified names.
local function ldocNames()
  assert(os.execute("command -v ldoc >/dev/null"), "doc coverage: the ldoc command is missing (apt-get install lua-ldoc)")
  local p = assert(io.popen("LUA_PATH='spec/?.lua;;' ldoc --filter ldoc_names.names . 2>/dev/null"))
  local names = {}
  for line in p:lines() do
    local m, item = line:match("^([%w_.]+)\t([%w_.:]+)$")
    if m then names[m .. "." .. item] = true end
  end
  p:close()
  return names
end

local function keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  table.sort(out)
  return out
end

describe("the reference", function()
  it("holds what LDoc publishes, entry for entry (help reads what the HTML shows)", function()
    local ldoc = ldocNames()
    assert.is_true(next(ldoc) ~= nil)
    assert.same(keys(ldoc), keys(help.index()))
  end)

  it("has an entry for every public function, tensor method, class and method", function()
    assert.same({}, help.undocumented())
  end)

  it("notices an entry removed", function()
    local index = {}
    for k, v in pairs(help.index()) do index[k] = v end
    assert.is_true(index["lunet.cat"] ~= nil and index["lunet.Tensor:sum"] ~= nil)
    index["lunet.cat"], index["lunet.Tensor:sum"] = nil, nil
    local missing = help.undocumented(index)
    local set = {}
    for _, n in ipairs(missing) do set[n] = true end
    assert.is_true(set["lunet.cat"] and set["lunet.Tensor:sum"])
  end)

  it("walks every submodule lunet loads lazily, and the tensor methods", function()
    local ns = help.namespace()
    for name in pairs(lunet.modules) do
      local found = false
      for k in pairs(ns) do
        if k:find("lunet." .. name .. "[.:]") == 1 then found = true break end
      end
      assert.is_true(found, "no public function found in lunet." .. name)
    end
    assert.equal(lunet.core.Tensor.methods.sum, ns["lunet.Tensor:sum"])
    assert.equal(require("lunet.nn").Linear, ns["lunet.nn.Linear"])
  end)
end)

describe("the lunet namespace", function()
  it("holds the public functions only: the kernels stay in lunet.core", function()
    local kernels = 0
    for k, v in pairs(lunet.core) do
      if type(v) == "function" and k:find("_") and not k:find("_$") then
        kernels = kernels + 1
        assert.is_nil(rawget(lunet, k), "lunet." .. k .. " is a kernel")
        assert.is_nil(lunet[k], "lunet." .. k .. " is a kernel")
      end
    end
    assert.is_true(kernels > 10)
  end)
end)
