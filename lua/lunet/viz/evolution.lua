--- lunet.viz.evolution: viz.evolution, the strongest projections as a model trains (see
-- lunet/viz/init.lua).
-- @submodule lunet.viz
local lunet = require "lunet"
local check = require "lunet.check"
local image = require "lunet.image"
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
-- default: at every call), opts.inside (search only the units whose receptive field lies
-- inside the images, as viz.top).
--   evo:record(iteration)   project now (e.g. from train.classifier's onEval hook)
--   evo:grid(path, opts)    a PNG: one row per map ("map m"), one column per recorded
--                           iteration (labelled with its number), each tile cropped to the receptive
--                           field, symmetric scale, a grey tile where the map did not fire;
--                           opts.title, opts.scale (as plot.imageGrid); returns the
--                           grid as a tensor without its labels
-- evo.snapshots: a list of {iteration = i, tiles = {(C,h,w) per map}, hits = {...}}; in a
-- rectified layer a map that did not fire on the images has no tile and no hit (nil).
-- @function evolution
function evolution.evolution(opts)
  local fname = "viz.evolution"
  opts = check.options(fname, opts, {"model", "images", "layer", "maps", "rule", "iterations", "inside"})
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
    rule = project.checkRule(fname, opts.rule), want = want, rf = project.receptiveField(opts.model, k), snapshots = {},
    span = project.unitSpan(fname, opts.model, k, opts.inside, x:size(3), x:size(4))},
    Evolution)
end

function Evolution:record(iteration)
  if self.want and not self.want[iteration] then return false end
  local top = project.topChecked(self.model, self.layer, self.images, 1, self.maps, 500, self.span)
  local hits, fired, at = {}, {}, {}
  for i, e in ipairs(top) do
    local h = e.hits[1]
    if h then
      hits[i] = {index = h.index, map = e.map, y = h.y, x = h.x, value = h.value}
      fired[#fired + 1], at[#fired + 1] = hits[i], i
    end
  end
  local tiles = {}
  if #fired > 0 then
    local projs = project.projectHits(self.model, self.layer, self.images, fired, self.rule, self.rf)
    for j, i in ipairs(at) do tiles[i] = projs[j] end
  end
  self.snapshots[#self.snapshots + 1] = {iteration = iteration, tiles = tiles, hits = hits}
  return true
end

function Evolution:grid(path, opts)
  opts = check.options("viz.evolution: grid", opts, {"title", "scale"})
  local s = self.snapshots
  if #s == 0 then error("viz.evolution: grid: nothing recorded yet (call record(iteration))", 2) end
  local c, h, w = self.images:size(2), math.min(self.rf.size[1], self.images:size(3)),
    math.min(self.rf.size[2], self.images:size(4))
  local tiles, rows, cols = {}, {}, {}
  for m, map in ipairs(self.maps) do
    rows[m] = "map " .. map
    for j = 1, #s do
      local t = s[j].tiles[m]
      tiles[#tiles + 1] = t and image.normalize(t, "symmetric") or lunet.full({c, h, w}, 0.5)
    end
  end
  for j = 1, #s do cols[j] = tostring(s[j].iteration) end
  return plot.imageGrid(path, tiles, {normalize = "none", ncol = #s, scale = opts.scale, title = opts.title,
    rowLabels = rows, colLabels = cols})
end

return evolution
