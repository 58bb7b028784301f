--- lunet.fileutil: writing the files a run leaves behind, every result checked.
--
--   fileutil.checkOutput(fname, path [, level, devices])  refuse a path that exists and is not a
--                                                       regular file (a FIFO, a folder; a device
--                                                       unless `devices`)
--   fileutil.writeAtomic(path, text [, fname, level])   write text to path via a temporary file
--                                                       in the same folder and a rename
--   fileutil.checked(fname, path, level, ok, err)       raise naming path unless ok (for the
--                                                       results of f:write, f:flush, f:close)
--   fileutil.shellWord(s)                               s as one word for sh, quoted when it
--                                                       needs to be (for commands to run or show)
-- `level` is as in lunet.check: 2 (the default) blames the caller of the function that
-- calls these.
local lfs = require "lfs"
local core = require "lunet.core"
local check = require "lunet.check"

local fileutil = {}

--- s as one word for sh, single-quoted when it holds anything but safe characters (for
-- commands to run or show).
-- @tparam string s
-- @treturn string
-- @usage os.execute("gnuplot " .. fileutil.shellWord(path))
function fileutil.shellWord(s)
  if s:match("^[%w%-%._/=:,+@]+$") then return s end
  return "'" .. s:gsub("'", [['\'']]) .. "'"
end

--- Raise "<fname>: writing <path> failed (<err>)" unless ok; for the results of f:write,
-- f:flush and f:close.
-- @tparam string fname the caller's name, for the message
-- @tparam string path the file written
-- @tparam integer level as in error (2 blames the caller's caller)
-- @param ok the first result of the write
-- @param err its error message
-- @return ok
-- @usage fileutil.checked("plot", path, 2, f:write(text))
function fileutil.checked(fname, path, level, ok, err)
  if not ok then check.fail(level + 1, "%s: writing %s failed (%s)", fname, path, tostring(err)) end
  return ok
end

--- Refuse an output path that exists and is not a regular file: opening a FIFO for writing
-- blocks until someone reads it, and gnuplot or io.open would wait forever; a folder is
-- never what a caller meant either. A character device (/dev/null, /dev/full) is written
-- to as a file by the callers that allow it (a log); the others would replace it.
-- Raises "<fname>: <path> exists and is a <mode>, not a regular file".
-- @tparam string fname the caller's name, for the message
-- @tparam string path
-- @tparam[opt=2] integer level as in error
-- @tparam[opt=false] boolean devices allow a character device
-- @treturn string path
-- @usage fileutil.checkOutput("metrics.Logger", path, 2, true)
function fileutil.checkOutput(fname, path, level, devices)
  local mode = lfs.attributes(path, "mode")
  if mode ~= nil and mode ~= "file" and not (devices and mode == "char device") then
    check.fail((level or 2) + 1, "%s: %s exists and is a %s, not a regular file; give another path", fname, path,
      mode)
  end
  return path
end

--- Write text to path so that a reader sees the old file or the whole new one, never a
-- part: the text goes to a new temporary file beside path (created exclusively, never
-- through a symlink) that is renamed over path once every write, the flush and the close
-- succeeded. Raises (removing the temporary file) for a path or text that is not a string,
-- a path that is not a regular file (checkOutput), or a failed write, flush, close or rename.
-- @tparam string path
-- @tparam string text
-- @tparam[opt="fileutil.writeAtomic"] string fname the caller's name, for messages
-- @tparam[opt=2] integer level as in error
-- @treturn string path
-- @usage fileutil.writeAtomic("results/index.html", html)
function fileutil.writeAtomic(path, text, fname, level)
  fname, level = fname or "fileutil.writeAtomic", (level or 2) + 1
  if type(path) ~= "string" then check.fail(level, "%s: path must be a string, got %s", fname, type(path)) end
  if type(text) ~= "string" then check.fail(level, "%s: text must be a string, got %s", fname, type(text)) end
  fileutil.checkOutput(fname, path, level)
  local f, tmp = core.open_temp(path)
  if not f then check.fail(level, "%s: %s", fname, tmp) end
  local ok, werr = f:write(text)
  if ok then ok, werr = f:flush() end
  local closed, cerr = f:close()
  if not (ok and closed) then
    os.remove(tmp)
    fileutil.checked(fname, path, level, false, werr or cerr)
  end
  local renamed, rerr = os.rename(tmp, path)
  if not renamed then
    os.remove(tmp)
    check.fail(level, "%s: cannot write %s (%s)", fname, path, rerr)
  end
  return path
end

return fileutil
