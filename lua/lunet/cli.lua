--- lunet.cli: the command line every experiment and benchmark script shares.
--
--   local cli = require "lunet.cli"
--   local parser = cli.parser("cifar10_lenet", "Part 1: LeNet-5 on the CIFAR-10 subset")
--   parser:option("--iterations", "...", nil, tonumber)     -- the script's own options
--   local args = cli.parse(parser)   -- seeds the generator, sets threads, creates args.out
--
-- Common flags: --out DIR (default results/<name>), --data DIR (the data set's own folder;
-- default: $LUNET_DATA, ./data, ../shared/data), --seed N, --threads N, --quick, --resume.
local argparse = require "argparse"
local lunet = require "lunet"
local fileutil = require "lunet.fileutil"

local cli = {}

--- An argparse parser with the common flags (`out` DIR, default results/<name>; `data` DIR;
-- `seed` N, default 1; `threads` N; `quick`; `resume`, each spelled with two dashes). The
-- script adds its own options, then calls cli.parse.
-- @tparam string name the script's name (the default output folder's)
-- @tparam string description its help text
-- @treturn table the argparse parser
-- @usage local parser = cli.parser("cifar10_lenet", "Part 1: LeNet-5 on the CIFAR-10 subset")
function cli.parser(name, description)
  local p = argparse(name, description)
  p._lunet_name = name
  p:option("--out", "Output folder.", "results/" .. name)
  p:option("--data", "Folder holding the data set's files (default: $LUNET_DATA, ./data, ../shared/data).")
  p:option("--seed", "Random seed.", "1"):convert(math.tointeger)
  p:option("--threads", "Threads for BLAS and lunet's loops (default: $LUNET_NUM_THREADS or all cores)."):convert(math.tointeger)
  p:flag("--quick", "A short run (under a minute) that still writes every output.")
  p:flag("--resume", "Continue interrupted runs from the checkpoints in --out (finished runs are not redone).")
  return p
end

--- The command that ran this script, as one line for sh: `lunet <script> <arguments>`
-- (messages show it as the command that runs the script again).
function cli.command(argv)
  argv = argv or arg
  local words = {"lunet"}
  for i = 0, #argv do words[#words + 1] = fileutil.shellWord(argv[i]) end
  return table.concat(words, " ")
end

--- Parse arg (or the given list), apply seed and threads, create the output folder;
-- args.cache is the folder for data caches.
function cli.parse(parser, argv)
  io.stdout:setvbuf("line") -- progress reaches logs and pipes as it happens
  local args = parser:parse(argv or arg)
  if not args.seed then parser:error("--seed must be an integer") end
  lunet.manualSeed(args.seed)
  if args.threads ~= nil then
    if not args.threads or args.threads < 1 then parser:error("--threads must be a positive integer") end
    lunet.setNumThreads(args.threads)
  end
  require("lunet.data").mkdirs(args.out)
  -- Data caches live beside the output folder (results/cache for the defaults), so the
  -- experiments that read one data set share one cache.
  args.cache = (args.out:match("^(.*[^/])/+[^/]+/*$") or ".") .. "/cache"
  return args
end

return cli
