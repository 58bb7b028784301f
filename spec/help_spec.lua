-- help at the prompt (lua/lunet/help.lua; bin/lunet's global `help`): entries from the
-- reference's sources, the ones LDoc builds docs/api from.
local lunet = require "lunet"
local help = require "lunet.help"

local function source(entry)
  local fh = assert(io.open(entry.file))
  local text = fh:read("a")
  fh:close()
  return text
end

describe("lunet.help", function()
  it("shows a function's entry, found by value or by name, from the doc source itself", function()
    local byValue = help.text(lunet.cat)
    assert.equal(byValue, help.text("cat"))
    assert.equal(byValue, help.text("lunet.cat"))
    assert.equal("lunet.cat", byValue:match("^[^\n]+"))
    local e = help.index()["lunet.cat"]
    assert.equal("doc/lunet.luadoc", e.file:match("doc/[^/]+$"))
    -- every line shown is a line of the source's comment (not a copy kept elsewhere)
    local src = source(e)
    for line in byValue:gmatch("\n  ([^\n]+)") do
      assert.truthy(src:find(line, 1, true), line)
    end
  end)

  it("finds tensor methods, classes and submodule functions", function()
    assert.truthy(help.text("Tensor:sum"):find("^lunet.Tensor:sum\n"))
    assert.equal(help.text("Tensor:sum"), help.text("sum"))
    assert.equal(help.text("Tensor:sum"), help.text(lunet.zeros(1).sum))
    assert.truthy(help.text("optim.SGD"):find("^lunet.optim.SGD\n"))
    assert.equal(help.text("optim.SGD"), help.text(require("lunet.optim").SGD))
    assert.truthy(help.text("help.text"):find("^lunet.help.text\n"))
  end)

  it("help() lists the modules, a module's name its entries", function()
    local all = help.text()
    assert.truthy(all:find("\n  lunet.optim\n", 1, true))
    assert.truthy(all:find("\n  lunet\n", 1, true))
    local optim = help.text("optim")
    assert.truthy(optim:find("^lunet.optim:\n"))
    assert.truthy(optim:find("\n  lunet.optim.SGD", 1, true))
  end)

  it("says clearly when there is no entry", function()
    assert.has_error(function() help.text("nosuchthing") end,
      'help: no reference entry named "nosuchthing" (help() lists the modules)')
    assert.has_error(function() help.text(print) end,
      "help: no reference entry for this function (it is not a public lunet function; help() lists the modules)")
  end)

  it("is callable, printing the entry or the message", function()
    local printed = {}
    local saved = _G.print
    _G.print = function(s) printed[#printed + 1] = s end
    local ok, err = pcall(function() lunet.help("cat") lunet.help("nosuchthing") end)
    _G.print = saved
    assert(ok, err)
    assert.equal(help.text("cat"), printed[1])
    assert.equal('help: no reference entry named "nosuchthing" (help() lists the modules)', printed[2])
  end)

  it("is the global help of bin/lunet -e", function()
    local p = assert(io.popen([[bin/lunet -e 'help(lunet.cat) help("nn.nope")' 2>&1]]))
    local out = p:read("a")
    p:close()
    assert.equal(help.text("cat") .. '\nhelp: no reference entry named "nn.nope" (help() lists the modules)\n', out)
  end)

  it("finds its sources in an install (CMake's rules, as LuaRocks runs them)", function()
    local build = os.getenv("LUNET_BUILD") or "build"
    local cache = assert(io.open(build .. "/CMakeCache.txt")):read("a")
    local luaDir = assert(cache:match("\nLUNET_LUA_DIR:PATH=([^\n]+)"))
    local dest = os.tmpname()
    os.remove(dest)
    assert.is_true(os.execute(("DESTDIR=%s cmake --install %s >/dev/null"):format(dest, build)))
    local tree = dest .. luaDir
    local p = assert(io.popen(("cd / && LUA_PATH_5_4='%s/?.lua;%s/?/init.lua;;' lua5.4 -e "
      .. "'local h = require \"lunet.help\" io.write(h.text(\"cat\"), \"\\n\", h.text(\"nn.Linear\"))' 2>&1")
      :format(tree, tree)))
    local out = p:read("a")
    p:close()
    os.execute("rm -rf " .. dest)
    assert.equal(help.text("cat") .. "\n" .. help.text("nn.Linear"), out)
  end)
end)
