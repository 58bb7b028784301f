--- lunet.nn.persist: whole models as data, for lunet.save(path, model), lunet.load(path)
-- and model:clone().
--
-- describe(model) gives a plain table, per module: its class name; its constructor's
-- arguments (numbers, strings, booleans, tensors, tables of those, and modules, described
-- in turn), which every nn class records when it is made; its tensors (its parameters,
-- paramNames, and the state its class lists in stateNames, such as running statistics);
-- its mode (training or not); for a Linear quantized for inference (nn.quantize), its
-- compact weights as `quantized = {format =, bytes = the values as a string, scales =
-- int8's row scales}`; and, for the containers filled by add() (Sequential, Concat), the
-- children with their names. No code is ever written: a module that holds a
-- function (nn.Function, an argument that is a function) or whose class is not one of
-- lunet.nn's is refused when described.
--
-- build(desc) makes the model again: each class looked up by name in lunet.nn (an unknown
-- name is an error naming it and where it is), constructed with the recorded arguments,
-- children added, compact weights validated (lunet.core.qweight_frombytes: sizes, byte
-- count, values, scales) and installed, then every tensor copied in after its dtype and
-- shape are checked against what the constructor made. A malformed description is an error naming the place
-- (model.modules[2].tensors.weight, say), never a crash or a half-built model.
-- @module lunet.nn.persist
local lunet = require "lunet"
local check = require "lunet.check"

local persist = {}

local FORMAT, VERSION = "lunet.model", 1

-- The class named name in lunet.nn, or nil. Always through the lunet table, never
-- require "lunet.nn" here: under busted's insulation a second require gives new classes.
local function nnClass(name)
  local cls = type(name) == "string" and rawget(lunet.nn, name) or nil
  return type(cls) == "table" and rawget(cls, "typename") == name and cls or nil
end

local function fail(where, fmt, ...)
  error(("%s: " .. fmt):format(where, ...), 0)
end

local encodeValue

-- A module's description; where names it for messages.
local function describe(m, where)
  local name = m.typename
  if nnClass(name) ~= getmetatable(m) then
    fail(where, "%s is not one of lunet.nn's classes (a class of your own cannot be saved as data; save "
      .. "its parameters with lunet.save(path, {model:parameters()}) instead)", tostring(name))
  end
  if name == "Function" then
    fail(where, "nn.Function holds Lua code, which a model file never does; save its parameters instead")
  end
  local args = m.constructorArgs or {n = 0}
  local d = {class = name, args = {n = args.n}, tensors = {}, training = m.training ~= false}
  for i = 1, args.n do d.args[i] = encodeValue(args[i], ("%s.args[%d]"):format(where, i), 1) end
  for _, list in ipairs({m.paramNames or {}, m.stateNames or {}}) do
    for _, p in ipairs(list) do
      if m[p] ~= nil then d.tensors[p] = m[p] end
    end
  end
  if m.qweight then d.quantized = {format = m.qweight:format(), bytes = m.qweight:bytes(), scales = m.qweight:scales()} end
  if m.add and m.modules then
    d.children = {}
    for i, c in ipairs(m.modules) do
      d.children[i] = {name = m.names and m.names[i] or nil, module = describe(c, ("%s.modules[%d]"):format(where, i))}
    end
  end
  return d
end

function encodeValue(v, where, depth)
  local t = type(v)
  if t == "number" or t == "string" or t == "boolean" or t == "nil" or lunet.isTensor(v) then return v end
  if t == "table" and depth < 50 then
    if lunet.nn.isModule(v) then return {["lunet.module"] = describe(v, where)} end
    local out = {}
    for k, x in next, v do
      if type(k) ~= "string" and type(k) ~= "number" then fail(where, "has a %s key, which a model file cannot hold", type(k)) end
      out[k] = encodeValue(x, ("%s.%s"):format(where, tostring(k)), depth + 1)
    end
    return out
  end
  fail(where, "is a %s, which a model file cannot hold (only numbers, strings, booleans, tensors, modules and "
    .. "tables of them)", t == "table" and "table nested too deep" or t)
end

--- The description of a model (see the top of the file); fname names the caller in
-- errors, raised at level (default 2).
function persist.describe(model, fname, level)
  fname, level = fname or "describe", level or 2
  if not lunet.nn.isModule(model) then
    error(("%s: expected an nn module, got %s"):format(fname, type(model)), level)
  end
  local ok, d = pcall(describe, model, "model")
  if not ok then error(("%s: %s"):format(fname, d), level) end
  return {format = FORMAT, version = VERSION, model = d}
end

--- Is value a model description (what lunet.load should build)?
function persist.isDescription(value)
  return type(value) == "table" and value.format == FORMAT
end

local build

local function decodeValue(v, where, depth)
  if type(v) ~= "table" or lunet.isTensor(v) then return v end
  if depth > 50 then fail(where, "nests too deep") end
  local sub = v["lunet.module"]
  if sub ~= nil then return build(sub, where) end
  local out = {}
  for k, x in pairs(v) do out[k] = decodeValue(x, ("%s.%s"):format(where, tostring(k)), depth + 1) end
  return out
end

function build(d, where)
  if type(d) ~= "table" then fail(where, "must be a module description (a table), got %s", type(d)) end
  local cls = nnClass(d.class)
  if not cls then fail(where, "unknown module class %s (not one of lunet.nn's)", check.isTensor(d.class) and "tensor" or
    ("%q"):format(tostring(d.class))) end
  if d.class == "Function" then fail(where, "nn.Function cannot be loaded from data") end
  local args = d.args
  if type(args) ~= "table" or math.type(args.n) ~= "integer" or args.n < 0 or args.n > 64 then
    fail(where, "args must be a table with a count n in 0..64")
  end
  local decoded = {}
  for i = 1, args.n do decoded[i] = decodeValue(args[i], ("%s.args[%d]"):format(where, i), 1) end
  local ok, m = pcall(cls, table.unpack(decoded, 1, args.n))
  if not ok then fail(where, "%s", (tostring(m):gsub("^[^:]*:%d+: ", ""))) end
  if d.children ~= nil then
    if type(d.children) ~= "table" or not m.add then fail(where, "children must be a list, for a container with add()") end
    for i, c in ipairs(d.children) do
      local cw = ("%s.modules[%d]"):format(where, i)
      if type(c) ~= "table" then fail(cw, "must be a table, got %s", type(c)) end
      if c.name ~= nil and type(c.name) ~= "string" then fail(cw, "name must be a string") end
      local ok2, err = pcall(m.add, m, build(c.module, cw), c.name)
      if not ok2 then fail(cw, "%s", (tostring(err):gsub("^[^:]*:%d+: ", ""))) end
    end
  end
  if d.quantized ~= nil then
    local qw, q = where .. ".quantized", d.quantized
    if d.class ~= "Linear" then fail(qw, "only an nn.Linear holds quantized weights, not nn.%s", d.class) end
    if type(q) ~= "table" then fail(qw, "must be a table, got %s", type(q)) end
    local made, w = pcall(lunet.core.qweight_frombytes, q.format, m.outF, m.inF, q.bytes, q.scales)
    if not made then fail(qw, "%s", w) end
    m:useQuantized(w)
  end
  if type(d.tensors) ~= "table" then fail(where, "tensors must be a table") end
  local own = {}
  for _, list in ipairs({m.paramNames or {}, m.stateNames or {}}) do
    for _, p in ipairs(list) do own[p] = true end
  end
  for p, t in pairs(d.tensors) do
    local tw = ("%s.tensors.%s"):format(where, tostring(p))
    if not own[p] or not lunet.isTensor(m[p]) then fail(tw, "is not a tensor of nn.%s", d.class) end
    if not lunet.isTensor(t) then fail(tw, "must be a tensor, got %s", type(t)) end
    if t:dtype() ~= m[p]:dtype() or t:shapeString() ~= m[p]:shapeString() then
      fail(tw, "is a %s tensor %s but nn.%s made with these arguments has %s %s", t:dtype(), t:shapeString(),
        d.class, m[p]:dtype(), m[p]:shapeString())
    end
  end
  for p in pairs(own) do
    if lunet.isTensor(m[p]) and d.tensors[p] == nil then fail(where, "has no tensor %s, which nn.%s has", p, d.class) end
  end
  for p, t in pairs(d.tensors) do m[p]:copy(t) end
  if d.training == false then m:evaluate() end
  return m
end

--- The model a description gives (see the top of the file); source names it in errors,
-- raised at level (default 2).
function persist.build(value, source, level)
  source, level = source or "model", level or 2
  if not persist.isDescription(value) then error(("%s: not a model description"):format(source), level) end
  if value.version ~= VERSION then
    error(("%s: model format version %s, this lunet reads %d"):format(source, tostring(value.version), VERSION), level)
  end
  local ok, m = pcall(build, value.model, "model")
  if not ok then error(("%s: %s"):format(source, m), level) end
  return m
end

--- A deep copy of a model: the same classes, arguments, mode and values, new tensors.
function persist.clone(model)
  return persist.build(persist.describe(model, "clone", 3), "clone", 3)
end

return persist
