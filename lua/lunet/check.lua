--- lunet.check: the argument checks every Lua module of lunet shares, so that one
-- mistake reads the same wherever it is made. Each message names the function, the
-- argument, what was expected and what came:
--   conv2d: input must be 4-D (N,C,H,W), got 3-D (1,28,28)
--   Conv2d: unknown option "groups" (known: bias, padding, stride)
--
--   check.fail(level, fmt, ...)                   error(string.format(fmt, ...), level)
--   check.options(fname, opts, known [, level, noun, hints]) opts (or {}), unknown keys refused
--   check.tensor(fname, what, x [, spec, level])  x, a tensor; spec {rank, layout, dtype, nonEmpty}
--   check.integer(fname, what, v [, lo, hi, level])  v, an integer in lo..hi
--   check.number(fname, what, v [, lo, hi, level, brackets])  v, a number (not NaN) in [lo, hi],
--                                                 or "(]", "[)", "()" for open ends
--   check.positive(fname, what, v [, level])      v, a finite number > 0
--   check.isTensor(x), check.isFinite(v)          predicates
--
-- `level` is error()'s level seen from the function that calls the check: 1 blames
-- that function, 2 (the default) its caller, the usual for a public function checking
-- its own arguments; a private helper checking for a public function passes 3.
local core = require "lunet.core"

local check = {}

function check.isTensor(x)
  return getmetatable(x) == core.Tensor
end

function check.isFinite(v)
  return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge
end

-- level + 1: this function's own frame is one more between error() and the caller.
function check.fail(level, fmt, ...)
  error(string.format(fmt, ...), level + 1)
end

--- opts must be nil or a table whose keys are all in the list `known`; returns opts, or
-- {} for nil. `noun` names what the keys are ("option" by default; plot says "spec
-- field"). `hints` maps a foreign spelling to lunet's (Torch7's learningRate -> lr), so
-- the message says which one was meant.
function check.options(fname, opts, known, level, noun, hints)
  level = (level or 2) + 1
  noun = noun or "option"
  if opts == nil then return {} end
  if type(opts) ~= "table" then
    check.fail(level, "%s: %ss must be a table, got %s", fname, noun, type(opts))
  end
  for k in pairs(opts) do
    local found = false
    for _, name in ipairs(known) do
      if name == k then found = true break end
    end
    if not found then
      local hint = hints and hints[k]
      check.fail(level, "%s: unknown %s %q (%s%s)", fname, noun, tostring(k),
        hint and ("did you mean '%s'? "):format(hint) or "",
        #known > 0 and "known: " .. table.concat(known, ", ") or ("it takes no %ss"):format(noun))
    end
  end
  return opts
end

--- x must be a tensor; spec (optional) narrows it: rank (the number of dimensions),
-- layout (the dimensions' names for the message, e.g. "(N,C,H,W)"), dtype ("float" or
-- "int"), nonEmpty (no dimension of size 0).
function check.tensor(fname, what, x, spec, level)
  level = (level or 2) + 1
  spec = spec or {}
  local layout = spec.layout and (" " .. spec.layout) or ""
  if not check.isTensor(x) then
    check.fail(level, "%s: %s must be a tensor%s, got %s", fname, what, layout, type(x))
  end
  if spec.rank and x:dim() ~= spec.rank then
    check.fail(level, "%s: %s must be %d-D%s, got %d-D %s", fname, what, spec.rank, layout, x:dim(),
      x:shapeString())
  end
  if spec.dtype and x:dtype() ~= spec.dtype then
    check.fail(level, "%s: %s must be a %s tensor, got %s", fname, what, spec.dtype, x:dtype())
  end
  if spec.nonEmpty and x:numel() == 0 then
    check.fail(level, "%s: %s is empty %s", fname, what, x:shapeString())
  end
  return x
end

local function range(fmt, lo, hi)
  if lo and hi then return (" in " .. fmt .. ".." .. fmt):format(lo, hi) end
  if lo then return (" >= " .. fmt):format(lo) end
  if hi then return (" <= " .. fmt):format(hi) end
  return ""
end

--- v must be an integer (math.type) in lo..hi (either bound may be nil).
function check.integer(fname, what, v, lo, hi, level)
  if math.type(v) ~= "integer" or (lo and v < lo) or (hi and v > hi) then
    check.fail((level or 2) + 1, "%s: %s must be an integer%s, got %s", fname, what, range("%d", lo, hi),
      tostring(v))
  end
  return v
end

--- v must be a number, not NaN, in [lo, hi] (either bound may be nil); brackets "(]",
-- "[)" or "()" leave out the bound on the side of a round bracket (momentum in [0, 1)).
-- Something that is not a number is named by its type (a string "0.9" reads as a number).
function check.number(fname, what, v, lo, hi, level, brackets)
  brackets = brackets or "[]"
  local left, right = brackets:sub(1, 1), brackets:sub(2, 2)
  if type(v) ~= "number" or v ~= v or (lo and (v < lo or (left == "(" and v == lo)))
      or (hi and (v > hi or (right == ")" and v == hi))) then
    local bounds = ""
    if lo and hi then
      bounds = (" in %s%g, %g%s"):format(left, lo, hi, right)
    elseif lo then
      bounds = (left == "(" and " > %g" or " >= %g"):format(lo)
    elseif hi then
      bounds = (right == ")" and " < %g" or " <= %g"):format(hi)
    end
    check.fail((level or 2) + 1, "%s: %s must be a number%s, got %s", fname, what, bounds,
      type(v) == "number" and tostring(v) or type(v))
  end
  return v
end

--- v must be a finite number > 0.
function check.positive(fname, what, v, level)
  if not check.isFinite(v) or v <= 0 then
    check.fail((level or 2) + 1, "%s: %s must be a positive number, got %s", fname, what, tostring(v))
  end
  return v
end

return check
