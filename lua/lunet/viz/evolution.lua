-- lunet.viz.evolution: viz.evolution, the strongest projections as a model trains (see
-- lunet/viz/init.lua).
local check = require "lunet.check"
local plot = require "lunet.plot"
local common = require "lunet.viz.common"
local project = require "lunet.viz.project"

local evolution = {}

local Evolution = {}
Evolution.__index = Evolution

--- viz.evolution(opts) -> a recorder of the strongest projections of chosen feature maps as
-- a model trains. opts.model, opts.images (N,C,H,W: the images searched for each map's
-- strongest activation), opts.layer (in the convolutional stack), opts.maps (default all),
-- opts.rule (as viz.project), opts.iterations (a list: record() records only at these;
-- default: at every call).
--   evo:record(iteration)   project now (e.g. from train.classifier's onEval hook)
--   evo:grid(path)          a PNG: one row per map, one column per recorded iteration,
--                           each tile cropped to the receptive field, symmetric scale
-- evo.snapshots: a list of {iteration = i, tiles = {(C,h,w) per map}, hits = {...}}.
function evolution.evolution(opts)
  local fname = "viz.evolution"
  opts = check.options(fname, opts, {"model", "images", "layer", "maps", "rule", "iterations"})
  common.checkModel(fname, opts.model)
  local k = common.layerOf(fname, opts.model, opts.layer, true)
  local x = common.checkImages(fname, opts.images, "opts.images", 4, "(N,C,H,W)")
  local want
  if opts.iterations ~= nil then
    if type(opts.iterations) ~= "table" then
      check.fail(2, "%s: opts.iterations must be a list of iteration numbers, got %s", fname, type(opts.iterations))
    end
    want = {}
    for _, i in ipairs(opts.iterations) do want[i] = true end
  end
  return setmetatable({model = opts.model, layer = k, images = x, maps = project.mapsAt(fname, opts.model, k, x, opts.maps),
    rule = project.checkRule(fname, opts.rule), want = want, rf = project.receptiveField(opts.model, k), snapshots = {}},
    Evolution)
end

function Evolution:record(iteration)
  if self.want and not self.want[iteration] then return false end
  local top = project.topChecked(self.model, self.layer, self.images, 1, self.maps, 500, project.EVERY_UNIT)
  local hits = {}
  for i, e in ipairs(top) do
    local h = e.hits[1]
    hits[i] = {index = h.index, map = e.map, y = h.y, x = h.x, value = h.value}
  end
  local tiles = project.projectHits(self.model, self.layer, self.images, hits, self.rule, self.rf)
  self.snapshots[#self.snapshots + 1] = {iteration = iteration, tiles = tiles, hits = hits}
  return true
end

function Evolution:grid(path)
  local s = self.snapshots
  if #s == 0 then error("viz.evolution: grid: nothing recorded yet (call record(iteration))", 2) end
  local tiles = {}
  for m = 1, #self.maps do
    for j = 1, #s do tiles[#tiles + 1] = s[j].tiles[m] end
  end
  plot.imageGrid(path, tiles, {normalize = "symmetric", ncol = #s})
end

return evolution
