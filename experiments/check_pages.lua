--- Checks the assignment's report pages in a real browser: each page opens in headless
-- Chromium, every figure on it decodes (no broken image), and it has the handout's sections.
--   lunet experiments/check_pages.lua [DIR]     (DIR: what ./run.sh main wrote, default results)
-- `./run.sh pages` runs the experiments with --quick, then this; CI runs it. Exits 1 on a problem.
local dir = arg[1] or "results"

-- Each page and the headings it must have, in the handout's numbering.
local PAGES = {
  { "index.html", {}, { "cifar10_lenet/summary.html", "cifar10_deconvnet/summary.html", "mnist_rnn/summary.html",
    "quantized_inference/results.html" } },
  { "cifar10_lenet/summary.html", { "1(a)", "1(b)", "1(c)" } },
  { "cifar10_deconvnet/summary.html", { "1. The paper's key ideas", "3. The first layer's filters",
    "4. Feature visualization", "6. Feature evolution", "7. Invariance", "8. Occlusion sensitivity",
    "9. Correspondence analysis", "10. Architecture selection", "11. Class attribution" } },
  { "mnist_rnn/summary.html", { "3(a)", "3(b)", "3(c)" } },
  { "quantized_inference/results.html", { "LeNet-5 inference with bf16 and int8 weights" } },
}

local function browse(path)
  -- Not under a preloaded sanitizer runtime (./run.sh asan's): Chromium spins under it.
  local p = assert(io.popen(("env -u LD_PRELOAD chromium --headless --no-sandbox --disable-gpu --dump-dom 'file://%s' 2>/dev/null")
    :format(path)))
  local dom = p:read("a")
  p:close()
  return dom
end

local cwd = os.getenv("PWD") or "."
local root = dir:sub(1, 1) == "/" and dir or (cwd .. "/" .. dir)
local problems = 0
for _, page in ipairs(PAGES) do
  local name, headings, links = page[1], page[2], page[3] or {}
  local dom = browse(root .. "/" .. name)
  local k, n = dom:match('data%-images="(%d+)/(%d+)"')
  local faults = {}
  if not k then
    faults[#faults + 1] = "did not load (no image count: is chromium installed, is the page there?)"
  elseif k ~= n then
    faults[#faults + 1] = ("%s of its %s images did not decode"):format(tonumber(n) - tonumber(k), n)
  end
  local headingText = {}
  for _, text in dom:gmatch("<h([1-6])[^>]*>(.-)</h%1>") do
    headingText[#headingText + 1] = text:gsub("<[^>]*>", ""):gsub("&#39;", "'"):gsub("&amp;", "&")
  end
  for _, want in ipairs(headings) do
    local found = false
    for _, h in ipairs(headingText) do
      if h:find(want, 1, true) then found = true break end
    end
    if not found then faults[#faults + 1] = "has no section headed \"" .. want .. "\"" end
  end
  for _, href in ipairs(links) do
    if not dom:find('href="' .. href .. '"', 1, true) then faults[#faults + 1] = "does not link " .. href end
  end
  if #faults == 0 then
    print(("ok   %s: %s/%s images decoded, %d sections"):format(name, k, n, #headingText))
  else
    problems = problems + 1
    print(("FAIL %s: %s"):format(name, table.concat(faults, "; ")))
  end
end
os.exit(problems == 0 and 0 or 1)
