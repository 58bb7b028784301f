--- The results' front page: `results/index.html` linking the three parts' pages (and the
-- pages beyond the handout that are there).
--   lunet experiments/index.lua [--out DIR]     (DIR: the folder holding the parts' folders)
-- `./run.sh main` runs it after the experiments. A part whose page is missing is listed as
-- not run, with the command that makes it.
local lunet = require "lunet"
local report = require "lunet.report"
local argparse = require "argparse"

local parser = argparse("index", "Write DIR/index.html, the page linking the assignment's result pages.")
parser:option("--out", "The folder holding cifar10_lenet/, cifar10_deconvnet/ and mnist_rnn/.", "results")
local args = parser:parse()

local PARTS = {
  { "Part 1 — Visualizing a CNN on CIFAR-10", "cifar10_lenet/summary.html", "cifar10_lenet",
    "LeNet-5 on the course's CIFAR-10 subset: the optimizer sweep, training curves, conv1 filters, activation statistics." },
  { "Part 2 — Visualizing and Understanding Convolutional Networks", "cifar10_deconvnet/summary.html", "cifar10_deconvnet",
    "A summary of Zeiler & Fergus (2014), then its methods on Part 1's network: deconvnet projections, top-9, evolution, invariance, occlusion, correspondence, architecture selection." },
  { "Part 3 — Recurrent networks on MNIST", "mnist_rnn/summary.html", "mnist_rnn",
    "RNN, LSTM and GRU reading digits row by row: hidden size, learning rate, iterations and optimizer, and the comparison with the CNN." },
}

-- Beyond the handout: listed when their pages are there (`./run.sh main` does not run them).
local EXTRAS = {
  { "Beyond Part 1 — LeNet-5 inference in bf16 and int8", "quantized_inference/results.html",
    "Part 1's LeNet-5 with its Linear weights in bf16 and int8: test accuracy beside float32's and batch-1 latency." },
  { "Beyond Part 1 — a small ResNet beside LeNet-5", "cifar10_resnet/summary.html",
    "BatchNorm, residual blocks, augmentation, AdamW and a cosine schedule on the same CIFAR-10 subset." },
  { "Beyond Part 3 — recurrent cells written with autograd", "mnist_custom_cell/summary.html",
    "A peephole LSTM and a minimal gated unit in a few lines of lunet.autograd, beside the fused LSTM." },
}

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local entries = {}
for _, p in ipairs(PARTS) do
  if exists(args.out .. "/" .. p[2]) then
    entries[#entries + 1] = { p[1], p[2], p[4] }
  else
    entries[#entries + 1] = { p[1] .. " (not run)", p[2],
      ("not run yet: `bin/lunet experiments/%s.lua --out %s/%s`"):format(p[3], args.out, p[3]) }
  end
end
for _, p in ipairs(EXTRAS) do
  if exists(args.out .. "/" .. p[2]) then entries[#entries + 1] = p end
end
local path = report.index(args.out .. "/index.html", entries, {
  title = "lunet — Assignment 2, answered",
  intro = ("Each page follows the handout's numbering: the question, the figures, the tables, and what they show. "
    .. "Written by lunet %s; every number on the pages comes from the run that wrote them."):format(lunet.version),
})
print("wrote " .. path)
