--- lunet.checkpoint: a model's parameters, optimizer state and run state in one file.
--
--   checkpoint.save(path, {model = model, optimizer = opt, iteration = it, config = cfg, state = s})
--   local info = checkpoint.load(path, model, opt)   -- restores in place, returns the rest
-- `state` is any plain table the caller needs to continue (train.classifier keeps the
-- loader's position and the metrics so far there).
-- The file is lunet.save's format (versioned, checksummed, written atomically). It also
-- holds the generator's state, so a resumed run draws the same numbers.
local lunet = require "lunet"

local checkpoint = {}
local FORMAT = "lunet.checkpoint/1"

--- Write a checkpoint: the model's parameters, the optimizer's state, the generator's
-- state and what the caller passes along, in lunet.save's format (atomically). Raises for
-- a path that is not a string, a table without a model, or what lunet.save raises (a value
-- it cannot write, a failed write).
-- @tparam string path
-- @tparam table what `model` (required), `optimizer`, `iteration`, `config`, `state` (plain tables)
-- @usage checkpoint.save("run/ckpt.lunet", {model = model, optimizer = opt, iteration = it})
function checkpoint.save(path, what)
  if type(path) ~= "string" then error("checkpoint.save: path must be a string", 2) end
  if type(what) ~= "table" or not what.model then error("checkpoint.save: needs {model = ...}", 2) end
  local params = what.model:parameters()
  local entry = {format = FORMAT, params = params, states = what.model:stateTensors(), iteration = what.iteration, config = what.config,
    state = what.state, rng = lunet.getRNGState(), model = tostring(what.model)}
  if what.optimizer then entry.optimizer = what.optimizer:state() end
  lunet.save(path, entry)
end

-- The tensors a checkpoint holds (of `kind`: "parameter", or "state" for the modules'
-- state tensors such as BatchNorm's running statistics) against the model's: one count,
-- one shape each. Errors blame checkpoint.load's caller.
local function checkTensors(path, kind, saved, live)
  if #live ~= #saved then
    error(("checkpoint.load: %s holds %d %s tensors but the model has %d (another model?)")
      :format(path, #saved, kind, #live), 3)
  end
  for i, p in ipairs(live) do
    local q = saved[i]
    if not lunet.isTensor(q) then
      error(("checkpoint.load: %s %d in %s is not a tensor"):format(kind, i, path), 3)
    end
    if p:shapeString() ~= q:shapeString() then
      error(("checkpoint.load: %s %d is %s in %s but %s in the model (another model shape?)")
        :format(kind, i, q:shapeString(), path, p:shapeString()), 3)
    end
  end
end

--- Restore a checkpoint in place: the model's parameters and state tensors (BatchNorm's
-- running statistics; float tensors, counts and shapes checked),
-- the optimizer's state when one is given and the file has it, and the generator's state.
-- Raises, changing nothing, for a file that is not a checkpoint, parameters or state
-- tensors whose count or shapes differ from the model's, an invalid generator state or an optimizer state that
-- does not fit; and what lunet.load raises.
-- @tparam string path
-- @tparam Module model the model to fill
-- @tparam[opt] Optimizer optimizer
-- @treturn table `{iteration, config, state, model}` (model: the saved model's description text)
-- @usage local info = checkpoint.load("run/ckpt.lunet", model, opt)
function checkpoint.load(path, model, optimizer)
  local c = lunet.load(path)
  if type(c) ~= "table" or c.format ~= FORMAT or type(c.params) ~= "table" then
    error(("checkpoint.load: %s is not a lunet checkpoint"):format(path), 2)
  end
  local params, states = model:parameters(), model:stateTensors()
  -- A checkpoint written before modules had state tensors holds none.
  local saved = type(c.states) == "table" and c.states or {}
  checkTensors(path, "parameter", c.params, params)
  checkTensors(path, "state", saved, states)
  -- The generator's state is checked by setting it (a valid checksum does not make it
  -- one the generator can be in: all-zero words made every randn loop forever), then
  -- the optimizer's: a refusal of either leaves the model, the optimizer and the
  -- generator as they were.
  local previous = lunet.getRNGState()
  if c.rng ~= nil then
    local ok, err = pcall(lunet.setRNGState, type(c.rng) == "string" and c.rng or "")
    if not ok then
      error(("checkpoint.load: %s holds an invalid generator state (%s)"):format(path, err), 2)
    end
  end
  if optimizer and c.optimizer then
    local ok, err = pcall(optimizer.loadState, optimizer, c.optimizer)
    if not ok then
      lunet.setRNGState(previous)
      error(err, 0)
    end
  end
  for i, p in ipairs(params) do p:copy(c.params[i]) end
  for i, t in ipairs(states) do t:copy(saved[i]) end
  return {iteration = c.iteration, config = c.config, state = c.state, model = c.model}
end

return checkpoint
