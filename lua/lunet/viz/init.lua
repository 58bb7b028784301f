--- lunet.viz: the methods of Zeiler & Fergus, "Visualizing and Understanding Convolutional
-- Networks" (2014), runnable on any nn.Sequential whose first layers are Conv2d, ReLU and
-- MaxPool2d (its "convolutional stack": the modules before the first other one, e.g. Flatten).
--
--   local viz = require "lunet.viz"
--   local proj, where = viz.project(model, images, {layer = "conv2"})      -- deconvnet
--   viz.project(model, images, {layer = "conv2", map = 5, rule = "guided"})  -- or "saliency"
--   local rf = viz.receptiveField(model, "conv2")   -- and viz.window(rf, y, x, H, W)
--   local top = viz.top(model, testImages, {layer = "relu1", k = 9, inside = true})
--   local span = viz.insideUnits(model, "relu1", 28, 28)  -- the units that top searched
--   viz.topGrid("top9_conv1.png", model, testImages, {layer = "conv1", top = top})
--   local occ = viz.occlusion(model, image, {label = 3, size = 6, stride = 2, layer = "conv2"})
--   local inv = viz.invariance(model, images, {transform = "rotate", amounts = {-30, 0, 30},
--                                              layers = {"pool1", "relu3"}, labels = labels})
--   local delta = viz.correspondence(model, images, {layers = {"pool2"}, region = {11, 11, 8, 8}})
--   local base = viz.correspondence(model, images, {layers = {"pool2"},
--                                   region = viz.randomRegions(images:size(1), 28, 28, 8, 8)})
--   local evo = viz.evolution{model = model, images = probe, layer = "conv1", maps = {1, 2, 3}}
--   train.classifier{..., onEval = function(it) evo:record(it) end}; evo:grid("evolution.png")
--   local sal, info = viz.attribute(model, images, {method = "saliency"})  -- predicted classes
--   viz.attribute(model, images, {method = "ig", target = labels:totable(), steps = 50})
--   viz.attribute(model, images, {method = "gradcam", camLayer = "relu2"})
--
-- Projections (viz.project). The chosen activation (a layer, a feature map, a position) is
-- kept, every other activation of that layer set to zero, and the signal taken down the
-- stack to pixel space, each module projecting it with its own method (lunet.nn.layers):
-- a MaxPool2d unpools through the switches its forward recorded, a Conv2d filters with its
-- own filters transposed (no bias), and a ReLU passes the signal by its rule:
--   "deconvnet"  relu(signal)                       (Zeiler & Fergus)
--   "saliency"   signal where the forward input > 0  (the gradient, Simonyan et al.)
--   "guided"     both                               (guided backpropagation, Springenberg et al.)
-- Nothing rectifies after the last filtering, so projections are signed: show them with a
-- symmetric scale (zero mid-grey). The signal starts as the activation's own value a, so
-- the "saliency" projection is a · ∂a/∂input.
--
-- Attributions (viz.attribute) start from one unit of any layer, a class score by default,
-- seeded with 1 (not its value), and go down the whole model the same way (a module that has
-- no project method passes the signal by its gradient: Linear, Flatten, Dropout in evaluation
-- mode...). Methods "saliency" (|gradient|, max over channels), "guided", "deconvnet" (the
-- rules above), "ig" (integrated gradients) and "gradcam" (Grad-CAM at a layer of maps).
--
-- Layers are named (model:add(module, name)) or given by module index. Batched functions take
-- images as (N,C,H,W); viz.occlusion takes one image (C,H,W). The functions run the model
-- (or its first layers) on the images, overwriting the modules' outputs; the ones that
-- compute class probabilities run it in evaluation mode and restore the mode afterwards.
--
-- How the code is laid out (this file only assembles):
--   viz/project.lua         viz.project, viz.receptiveField, viz.window, viz.top, viz.topGrid,
--                           viz.insideUnits
--   viz/occlusion.lua       viz.occlusion
--   viz/invariance.lua      viz.invariance, viz.transform
--   viz/correspondence.lua  viz.correspondence, viz.randomRegions
--   viz/evolution.lua       viz.evolution
--   viz/attribution.lua     viz.attribute
--   viz/common.lua          what they share: argument checks, layers by name or index,
--                           running the model part way (and the signal back down) or in
--                           evaluation mode
local project = require "lunet.viz.project"
local occlusion = require "lunet.viz.occlusion"
local invariance = require "lunet.viz.invariance"
local correspondence = require "lunet.viz.correspondence"
local evolution = require "lunet.viz.evolution"
local attribution = require "lunet.viz.attribution"

return {
  project = project.project, receptiveField = project.receptiveField, window = project.window,
  top = project.top, topGrid = project.topGrid, insideUnits = project.insideUnits,
  occlusion = occlusion.occlusion,
  invariance = invariance.invariance, transform = invariance.transform,
  correspondence = correspondence.correspondence, randomRegions = correspondence.randomRegions,
  evolution = evolution.evolution,
  attribute = attribution.attribute,
}
