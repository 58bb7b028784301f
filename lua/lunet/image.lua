--- lunet.image: PNG files and the image operations visualizations need.
--
-- Images are float tensors C×H×W (a batch: N×C×H×W; a single plane: H×W is
-- accepted too) with values in [0,1] for display. Coordinates: x right, y down;
-- indices 1-based; the centre of an H×W image is ((W+1)/2, (H+1)/2) in 1-based
-- terms. The operations return new tensors and never change their input.
--
--   image.load(path)                         -> C×H×W in [0,1]
--   image.save(path, x, {scale=, bits=})
--   image.resize(x, h, w)                    bilinear, half-pixel aligned
--   image.rotate(x, degrees, [fill])         counter-clockwise as displayed
--   image.translate(x, dx, dy, [fill])       right and down, sub-pixel bilinear
--   image.scale(x, factor, [fill])           zoom about the centre
--   image.crop(x, top, left, h, w, [fill])   may extend past the border
--   image.normalize(x, mode, {perImage=})    "minmax" or "symmetric" into [0,1]
local core = require "lunet.core"
local check = require "lunet.check"

local image = {}

local function tensorArg(fname, x)
  return check.tensor(fname, "argument #1", x, nil, 3):contiguous()
end

--- Read a PNG file (gray, gray+alpha, RGB, RGBA or palette; 1 to 16 bits;
-- interlaced or not) as a float tensor C×H×W in [0,1], value / (2^bits - 1).
-- C is 1 (gray), 2 (gray, alpha), 3 (RGB) or 4 (RGBA): an alpha channel is kept as
-- the last channel, not blended. A palette image reads as RGB (RGBA if it has
-- transparency).
image.load = core.png_load

--- Write x (H×W, or C×H×W with C = 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) as a PNG.
-- opts.scale: nil (values clamped to [0,1]), "minmax" (min -> 0, max -> 1) or
-- "symmetric" (x / (2 max|x|) + 0.5: zero is mid-grey). opts.bits: 8 (default) or 16.
function image.save(path, x, opts)
  opts = check.options("image.save", opts, {"scale", "bits"})
  core.png_save(path, tensorArg("image.save", x), opts.scale, opts.bits)
end

--- Resize to h×w by bilinear interpolation (half-pixel aligned; the same size is the identity).
function image.resize(x, h, w)
  return core.img_resize(tensorArg("image.resize", x), h, w)
end

--- Rotate counter-clockwise (as displayed) by `degrees` about the centre; pixels
-- from outside the image take `fill` (default 0).
function image.rotate(x, degrees, fill)
  return core.img_rotate(tensorArg("image.rotate", x), degrees, fill)
end

--- Move the content dx pixels right and dy pixels down (fractions interpolate);
-- uncovered pixels take `fill` (default 0).
function image.translate(x, dx, dy, fill)
  return core.img_translate(tensorArg("image.translate", x), dx, dy, fill)
end

--- Zoom by `factor` about the centre (> 1 enlarges), keeping the size; pixels
-- from outside the image take `fill` (default 0).
function image.scale(x, factor, fill)
  return core.img_scale(tensorArg("image.scale", x), factor, fill)
end

--- The h×w window whose top-left pixel is (top, left), 1-based. The window may
-- reach past the border (even start at 0 or below); those pixels take `fill`.
function image.crop(x, top, left, h, w, fill)
  return core.img_crop(tensorArg("image.crop", x), top, left, h, w, fill)
end

--- Map values into [0,1] for display: mode "minmax" ((x - min) / (max - min)) or
-- "symmetric" (x / (2 max|x|) + 0.5, so zero is mid-grey and signs stay apart).
-- opts.perImage: map each index of the first dimension on its own (each image of
-- a batch, each filter of a filter bank). No contrast at all gives 0.5.
function image.normalize(x, mode, opts)
  opts = check.options("image.normalize", opts, {"perImage"})
  return core.img_normalize(tensorArg("image.normalize", x), mode, opts.perImage)
end

return image
