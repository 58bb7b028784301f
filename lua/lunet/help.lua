--- The reference at the prompt: `help(lunet.cat)`, `lunet.help("nn.Linear")`, `help()`.
-- Entries come from the sources LDoc builds the HTML reference from (config.ld): the LDoc
-- comments of lua/lunet/ and the doc/*.luadoc files that document the C functions. An
-- entry is named as the reference names it: `lunet.cat`, `lunet.Tensor:sum`,
-- `lunet.nn.Linear`, `lunet.nn.Module:forward`, `lunet.optim.Optimizer:step`.
-- @module lunet.help
local lfs = require "lfs"

local help = {}

-- Where the sources are: the folder holding lunet/ (lua/ in a checkout, share/lua/5.4 in
-- an install) and the folder of the doc/*.luadoc files, doc/ beside lua/ in a checkout and
-- lunet/doc/ in an install (CMakeLists.txt puts them there); nil when not found.
local function sources()
  local here = package.searchpath("lunet.help", package.path)
  local base = here and here:match("^(.-)/?lunet/help%.lua$")
  if not base then return nil end
  base = base == "" and "." or base
  for _, doc in ipairs{base .. "/lunet/doc", base .. "/../doc"} do
    if lfs.attributes(doc, "mode") == "directory" then return base, doc end
  end
end

local function files(dir, ext, out)
  for name in lfs.dir(dir) do
    local p = dir .. "/" .. name
    if name:sub(1, 1) ~= "." then
      if lfs.attributes(p, "mode") == "directory" then files(p, ext, out)
      elseif name:sub(-#ext) == ext then out[#out + 1] = p end
    end
  end
  table.sort(out)
  return out
end

-- lua/lunet/nn/init.lua -> lunet.nn, lua/lunet/optim.lua -> lunet.optim (LDoc's names,
-- with config.ld's package = "lunet"); share/lua/5.4/lunet/optim.lua alike.
local function moduleFromPath(path)
  local rel = ("/" .. path):match(".*/(lunet/.*)%.lua$")
  if not rel then return nil end
  return (rel:gsub("/init$", ""):gsub("/", "."))
end

-- The name LDoc gives the item a code line defines, or nil (locals and other code): the
-- module's own table (`return optim`) drops out of optim.SGD, other tables stay (Logger.new).
local function itemFromCode(line, modTable)
  local name = line:match("^function%s+([%w_.:]+)%s*%(")
    or line:match("^([%w_.]+)%s*=")
  if not name or line:match("^local%s") then return nil end
  local owner, rest = name:match("^([%w_]+)%.(.+)$")
  if owner == modTable then return rest end
  return name
end

--- Parse one source file's LDoc comments into entries (name -> text), added to index.
-- @tparam string path a .lua or .luadoc file
-- @tparam table index entries so far, by qualified name
-- @treturn table index
-- @usage local idx = help.parse("doc/tensor.luadoc", {})
function help.parse(path, index)
  local fh = assert(io.open(path))
  local lines = {}
  for l in fh:lines() do lines[#lines + 1] = l end
  fh:close()
  local module = moduleFromPath(path)
  local modTable
  for _, l in ipairs(lines) do modTable = l:match("^return%s+setmetatable%(([%w_]+)") or l:match("^return%s+([%w_]+)") or modTable end
  local i = 1
  while i <= #lines do
    local first = lines[i]:match("^%s*%-%-%-(.*)$")
    if first and not first:match("^%-") then
      local block = {first}
      i = i + 1
      while i <= #lines and lines[i]:match("^%s*%-%-") do
        block[#block + 1] = lines[i]:match("^%s*%-%-(.*)$")
        i = i + 1
      end
      local text = table.concat(block, "\n")
      local mod = text:match("@module%s+([%w_.]+)") or text:match("@classmod%s+([%w_.]+)")
        or text:match("@submodule%s+([%w_.]+)")
      if mod then
        module = mod
      elseif not text:match("@type%s") then
        local name = text:match("@function%s+([%w_.:]+)")
          or (lines[i] and itemFromCode(lines[i]:match("^%s*(.-)%s*$"), modTable))
        if name and module then
          local entry = {name = module .. "." .. name, text = text, file = path, module = module}
          index[entry.name] = entry
        end
      end
    else
      i = i + 1
    end
  end
  return index
end

local cached
--- Every entry of the reference, by qualified name ("lunet.cat", "lunet.Tensor:sum").
-- Raises when the sources are not there (an install without doc/).
-- @treturn table entries: name -> {name, text, file, module}
-- @usage for name in pairs(lunet.help.index()) do print(name) end
function help.index()
  if cached then return cached end
  local base, doc = sources()
  if not doc then
    error("help: the reference's sources (lunet's Lua files and doc/) are not found beside lunet; see docs/api/index.html", 2)
  end
  local index = {}
  for _, p in ipairs(files(base .. "/lunet", ".lua", {})) do help.parse(p, index) end
  for _, p in ipairs(files(doc, ".luadoc", {})) do help.parse(p, index) end
  cached = index
  return index
end

-- The lazy submodules of lunet, as lua/lunet/init.lua lists them.
local function submodules(lunet)
  local names = {}
  for k in pairs(lunet.modules) do names[#names + 1] = k end
  table.sort(names)
  return names
end

-- An entry by name; a class's function is found whether the reference spells it Class:m
-- (a method) or Class.m (Logger.new).
local function entry(index, name)
  return index[name] or index[(name:gsub(":([%w_]+)$", ".%1"))]
end

local function isClass(v) return type(v) == "table" and rawget(v, "__index") == v end

--- The public namespace: every public function and method, by qualified name -> value.
-- Walks lunet, its submodules (a table of functions inside one, such as nn.init, counts
-- as a namespace), the tensor methods, and the methods each class (nn modules,
-- optim.Optimizer, metrics.Logger) defines itself; names starting with "_" are private.
-- @treturn table name -> function (or class table, for a class that is called to make one)
-- @treturn table name -> the class a method belongs to (for documented-in-a-parent)
-- @usage local names = lunet.help.namespace()
function help.namespace()
  local lunet = require "lunet"
  local out, owner = {}, {}
  local function walk(prefix, t, seen)
    if seen[t] then return end
    seen[t] = true
    for k, v in pairs(t) do
      if type(k) == "string" and k:sub(1, 1) ~= "_" then
        local name = prefix .. "." .. k
        if type(v) == "function" then
          out[name] = v
        elseif isClass(v) then
          local mt = getmetatable(v)
          if mt and mt.__call then out[name] = v end
          for m, f in pairs(v) do
            if type(f) == "function" and type(m) == "string" and m:sub(1, 1) ~= "_" then
              out[name .. ":" .. m] = f
              owner[name .. ":" .. m] = v
            end
          end
        elseif type(v) == "table" and k ~= "core" and k ~= "modules" and k ~= "Tensor" then
          walk(name, v, seen)
        end
      end
    end
  end
  local seen = {}
  walk("lunet", lunet, seen)
  -- required, not read through lunet's lazy fields, which would keep them in lunet's table
  for _, m in ipairs(submodules(lunet)) do walk("lunet." .. m, require(lunet.modules[m]), seen) end
  for k, f in pairs(lunet.core.Tensor.methods) do out["lunet.Tensor:" .. k] = f end
  return out, owner
end

-- Is method name (Class:m) of class cls documented on cls or a class it inherits from?
local function documentedInParent(index, name, cls, names)
  local m = name:match(":([%w_]+)$")
  local parent = getmetatable(cls) and getmetatable(cls).__index
  while type(parent) == "table" do
    local pname = names[parent]
    if pname and entry(index, pname .. ":" .. m) then return true end
    parent = getmetatable(parent) and getmetatable(parent).__index
  end
  return false
end

--- The public functions without a reference entry, sorted. A class's method that
-- overrides a documented method of a class it inherits from (Linear:updateOutput and
-- Module:updateOutput) shares that entry.
-- @tparam[opt] table index entries (default help.index())
-- @treturn {string,...} qualified names
-- @usage assert(#lunet.help.undocumented() == 0)
function help.undocumented(index)
  index = index or help.index()
  local ns, owner = help.namespace()
  local classNames = {}
  for name, v in pairs(ns) do if isClass(v) then classNames[v] = name end end
  for name, cls in pairs(owner) do classNames[cls] = classNames[cls] or name:match("^(.*):") end
  local missing = {}
  for name in pairs(ns) do
    if not entry(index, name) and not (owner[name] and documentedInParent(index, name, owner[name], classNames)) then
      missing[#missing + 1] = name
    end
  end
  table.sort(missing)
  return missing
end

-- The entry for a value (a function or a class) or a name: "cat", "lunet.cat", "nn.Linear",
-- "Tensor:sum", "sum" (a tensor method), "optim.Optimizer:step".
local function find(x)
  local index = help.index()
  if type(x) == "string" then
    for _, name in ipairs{x, "lunet." .. x, "lunet.Tensor:" .. x, "lunet." .. x:gsub("^Tensor[.:]", "Tensor:")} do
      if index[name] then return index[name] end
    end
    return nil
  end
  for name, v in pairs(help.namespace()) do
    if rawequal(v, x) and entry(index, name) then return entry(index, name) end
  end
end

-- An entry as text: its name, then the comment without LDoc's markers.
local function render(e)
  local out = {e.name}
  for line in (e.text .. "\n"):gmatch("(.-)\n") do
    line = line:gsub("^ ", "")
    if not line:match("^@function") then
      out[#out + 1] = "  " .. line
    end
  end
  return table.concat(out, "\n")
end

local function modulesList()
  local index = help.index()
  local mods = {}
  for _, e in pairs(index) do mods[e.module] = true end
  local names = {}
  for m in pairs(mods) do names[#names + 1] = m end
  table.sort(names)
  return "lunet's modules (help(\"nn\") lists one's entries, help(lunet.cat) or help(\"cat\") shows one):\n  "
    .. table.concat(names, "\n  ")
end

-- The entries of one module, when x names one ("nn", "lunet.optim").
local function moduleEntries(x)
  local index = help.index()
  for _, m in ipairs{x, "lunet." .. x} do
    local names = {}
    for name, e in pairs(index) do if e.module == m then names[#names + 1] = name end end
    if #names > 0 then
      table.sort(names)
      return m .. ":\n  " .. table.concat(names, "\n  ")
    end
  end
end

--- The reference entry of a function, a class or a name, as text; with no argument, the
-- list of modules; a module's name lists its entries. Raises for a name or value that has
-- no entry, saying so.
-- @tparam[opt] function|table|string x what to look up: `lunet.cat`, `"cat"`, `"nn.Linear"`, `"Tensor:sum"`, `"nn"`
-- @treturn string the text help prints
-- @usage print(lunet.help.text("cat"))
function help.text(x)
  if x == nil then return modulesList() end
  local e = find(x)
  if e then return render(e) end
  local list = type(x) == "string" and moduleEntries(x)
  if list then return list end
  if type(x) == "string" then
    error(("help: no reference entry named %q (help() lists the modules)"):format(x), 2)
  end
  error(("help: no reference entry for this %s (it is not a public lunet function; help() lists the modules)")
    :format(type(x)), 2)
end

--- Print a reference entry: `help(lunet.cat)`, `help("nn.Linear")`, `help()` for the modules.
-- bin/lunet's REPL and `lunet -e` have it as the global `help`; lunet.help is the same.
-- @tparam[opt] function|table|string x as for help.text
-- @usage lunet.help("cat")
function help.print(x)
  local ok, text = pcall(help.text, x)
  print(ok and text or (tostring(text):gsub("^.-:%d+: ", "")))
end

return setmetatable(help, {__call = function(_, x) return help.print(x) end})
