-- An LDoc filter (`ldoc --filter ldoc_names.names .`, run by spec/doc_coverage_spec.lua): prints
-- each item LDoc publishes, "module<TAB>item" a line, as LDoc's own parser read the sources.
-- LDoc runs under Lua 5.1.
local M = {}

function M.names(modules)
  for _, m in ipairs(modules) do
    for _, item in ipairs(m.items) do io.write(m.name, "\t", item.name, "\n") end
  end
end

return M
