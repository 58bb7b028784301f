-- luacheck (Debian's lua-check) over the Lua code: `luacheck .` from the root; .ci/run runs it.
std = "lua54"
max_line_length = 140
-- Prose of the report pages lives in long strings; a line is judged by its code.
max_string_line_length = false
max_comment_line_length = 140
exclude_files = { "build*/**", "lua_modules/**", "results/**", "docs/**", "spec/fixtures/**" }
-- A method keeps its receiver and the protocol's arguments even where one kind of module
-- does not need them (Module:updateGradInput(input, gradOutput) and the like).
unused_args = false
-- Specs run under busted, with its globals; they, the report pages' prose and the API
-- fuzzer's statement templates hold long literal lines.
files["spec/**/*.lua"] = { std = "+busted", max_line_length = 160 }
files["experiments/**/*.lua"] = { max_line_length = 200 }
files["fuzz/api.lua"] = { max_line_length = 200 }
-- `not (a < b)` is the NaN-aware spelling where NaN must fail a range check.
ignore = { "581" }
