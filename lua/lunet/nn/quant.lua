--- lunet.nn.quantize: nn.Linear's weights in bf16 or int8 for inference.
-- At batch 1 a linear layer's time is the time to read its weights (LeNet-5's fc1: 12.8 MB
-- in float32); bf16 halves the bytes and int8 with one float32 scale per output row
-- quarters them (csrc/kernels/quant.h). The compact weights are widened to float32 in
-- registers and the sums are float32, so only the weights' rounding changes the result:
-- bf16 keeps 7 bits of mantissa (relative error at most 2^-8 per weight), int8 is within
-- half a row's scale (max |w| / 254) of each weight.
-- @submodule lunet.nn
local core = require "lunet.core"
local check = require "lunet.check"
local module = require "lunet.nn.module"
local layers = require "lunet.nn.layers"

--- Convert every nn.Linear of a model (the model itself, or any module in its tree) to
-- compact weights for inference, in place: each one's float32 weight is replaced by bf16
-- or int8 values (Linear:useQuantized, Linear:weightFormat) and freed; biases stay float32
-- and other modules (Conv2d, ...) are unchanged. The model is switched to evaluation mode;
-- afterwards a quantized Linear refuses training mode, backward and parameters().
-- lunet.save and lunet.load keep the compact weights (and clone copies them). A Linear
-- already in the format asked for is left as it is. Raises, leaving the model unchanged,
-- for a value that is not a module, a format other than "bf16" or "int8", a Linear already
-- quantized to the other format, or a weight that is not finite.
-- @tparam Module model the model (or one Linear)
-- @tparam string format "bf16" or "int8"
-- @treturn Module model, converted
-- @usage local model = nn.quantize(lunet.load("model.lunet"), "int8")
-- @function quantize
local function quantize(model, format)
  if not module.isModule(model) then
    check.fail(2, "quantize: argument #1 must be an nn module, got %s", type(model))
  end
  if format ~= "bf16" and format ~= "int8" then
    check.fail(2, "quantize: format must be \"bf16\" or \"int8\", got %s",
      type(format) == "string" and ("%q"):format(format) or type(format))
  end
  -- every weight converted before any layer changes, so that an error leaves the model as it was
  local todo, err = {}, nil
  model:apply(function(m)
    if err or getmetatable(m) ~= layers.Linear then return end
    local was = m:weightFormat()
    if was == "float32" then
      local ok, q = pcall(core.quantize_weight, m.weight, format)
      if ok then todo[#todo + 1] = {m, q} else err = ("%s (in %s)"):format(q, tostring(m)) end
    elseif was ~= format then
      err = ("quantize: %s is already quantized to %s; quantize a float32 copy of the model to %s"):format(
        tostring(m), was, format)
    end
  end)
  if err then check.fail(2, "%s", err) end
  for _, t in ipairs(todo) do t[1]:useQuantized(t[2]) end
  return model:evaluate()
end

return {quantize = quantize}
