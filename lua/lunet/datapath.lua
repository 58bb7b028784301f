--- lunet.datapath: where the data sets are.
--
-- datapath.find(subdir, explicit, contents) returns the folder holding a data
-- set's own files (subdir "mnist": the four IDX files; "CIFAR10": Train/ and
-- Test/), the first of:
--   1. explicit, when given (a --data DIR option): that folder itself, and
--      nothing else — a folder the user named is never silently replaced;
--   2. $LUNET_DATA/<subdir>;
--   3. ./data/<subdir>;
--   4. ../shared/data/<subdir>
-- that is a folder and holds every name in the optional list `contents` (so an
-- empty or partial copy does not hide a complete one further down the list).
-- When none qualifies it raises an error listing every place it looked, what
-- was missing there, and where public copies of the data set are.
local lfs = require "lfs"

local datapath = {}

-- Where to get each known data set.
local sources = {
  mnist = "MNIST: the four IDX .gz files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
    .. "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) from http://yann.lecun.com/exdb/mnist/",
  CIFAR10 = "the course's CIFAR-10 subset (28x28 gray PNGs in Train/<class>/ and Test/<class>/): "
    .. "GitHub repository cicconet/MachineLearning, folder CIFAR10",
}

-- The candidate folders for subdir, in search order.
local function candidates(subdir, explicit)
  if explicit ~= nil then return {explicit} end
  local list = {}
  local env = os.getenv("LUNET_DATA")
  if env and env ~= "" then list[#list + 1] = env .. "/" .. subdir end
  list[#list + 1] = "./data/" .. subdir
  list[#list + 1] = "../shared/data/" .. subdir
  return list
end

-- nil when dir qualifies, else why not.
local function problem(dir, contents)
  if lfs.attributes(dir, "mode") ~= "directory" then return "no such folder" end
  local missing = {}
  for _, name in ipairs(contents) do
    if not lfs.attributes(dir .. "/" .. name) then missing[#missing + 1] = name end
  end
  if #missing > 0 then return "lacks " .. table.concat(missing, ", ") end
end

--- The first qualifying folder for data set `subdir` (see the top of this file).
function datapath.find(subdir, explicit, contents)
  if type(subdir) ~= "string" then
    error("datapath.find: argument #1 (subdir) must be a string, got " .. type(subdir), 2)
  end
  if explicit ~= nil and type(explicit) ~= "string" then
    error("datapath.find: argument #2 (explicit) must be a string or nil, got " .. type(explicit), 2)
  end
  if contents ~= nil and type(contents) ~= "table" then
    error("datapath.find: argument #3 (contents) must be a list of names or nil, got " .. type(contents), 2)
  end
  local msg = {string.format("datapath.find: data set '%s' not found; looked in:", subdir)}
  for _, dir in ipairs(candidates(subdir, explicit)) do
    local why = problem(dir, contents or {})
    if not why then return dir end
    msg[#msg + 1] = string.format("  %s (%s)", dir, why)
  end
  if explicit == nil then
    msg[#msg + 1] = "(pass the folder with --data DIR, or set LUNET_DATA to a folder holding "
      .. subdir .. "/)"
  end
  msg[#msg + 1] = "Public copy: " .. (sources[subdir] or "unknown for this data set")
  error(table.concat(msg, "\n"), 2)
end

return datapath
