-- luacheck (Debian's lua-check) over the Lua code: `luacheck .` from the root; .ci/run runs it.
std = "lua54"
max_line_length = 130
exclude_files = { "build*/**", "lua_modules/**", "results/**", "docs/**" }
-- Specs run under busted, with its globals.
files["spec/**/*.lua"] = { std = "+busted" }
