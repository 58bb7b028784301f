-- lunet.report: Markdown pages as self-contained HTML, checked in a real browser.
local lunet = require "lunet"
local report = require "lunet.report"

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. d))
  return d
end

local function readAll(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- The headless browser, or nil; `--dump-dom` prints the page after its load event, when the
-- page's own script has counted the images that decoded into <body data-images="k/n">.
local CHROMIUM = (function()
  for _, c in ipairs({ "/usr/bin/chromium", "/usr/bin/chromium-browser" }) do
    local f = io.open(c, "rb")
    if f then
      f:close()
      return c
    end
  end
end)()

local function browse(path, screenshot)
  -- not under ./run.sh asan's preloaded sanitizer runtime, which leaves chromium hanging
  local flags = "--headless --no-sandbox --disable-gpu --hide-scrollbars"
  local cmd = screenshot
    and ("env -u LD_PRELOAD %s %s --window-size=1000,1400 --screenshot=%s file://%s 2>/dev/null"):format(CHROMIUM,
      flags, screenshot, path)
    or ("env -u LD_PRELOAD %s %s --dump-dom file://%s 2>/dev/null"):format(CHROMIUM, flags, path)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return out
end

describe("report.base64", function()
  it("encodes RFC 4648's test vectors", function()
    local cases = { [""] = "", f = "Zg==", fo = "Zm8=", foo = "Zm9v", foob = "Zm9vYg==",
      fooba = "Zm9vYmE=", foobar = "Zm9vYmFy" }
    for plain, coded in pairs(cases) do assert.are.equal(coded, report.base64(plain)) end
    assert.are.equal("AP8=", report.base64("\0\255"))
  end)
end)

describe("report.toHtml", function()
  it("renders headings with ids, paragraphs, emphasis, code, lists and escapes HTML", function()
    local html = report.toHtml(table.concat({
      "# Part 1: a <test>", "", "Some *emphasis*, **strong** and `a < b`,", "one paragraph.", "",
      "## Part 1", "## Part 1", "- one", "- two", "", "1. first", "2. second" }, "\n"))
    assert.truthy(html:find('<h1 id="part-1-a-test">Part 1: a &lt;test&gt;</h1>', 1, true))
    assert.truthy(html:find("<p>Some <em>emphasis</em>, <strong>strong</strong> and <code>a &lt; b</code>, one paragraph.</p>", 1, true))
    assert.truthy(html:find('<h2 id="part-1">', 1, true))
    assert.truthy(html:find('<h2 id="part-1-2">', 1, true))
    assert.truthy(html:find("<ul>\n<li>one</li>\n<li>two</li>\n</ul>", 1, true))
    assert.truthy(html:find("<ol>\n<li>first</li>\n<li>second</li>\n</ol>", 1, true))
    assert.truthy(html:find("<title>Part 1: a &lt;test&gt;</title>", 1, true))
  end)

  it("renders tables with their column alignment", function()
    local html = report.toHtml("| run | acc |\n| --- | ---: |\n| adam | 0.5 |\n| sgd | 0.2 |\n")
    assert.truthy(html:find("<thead><tr><th>run</th><th style=\"text-align:right\">acc</th></tr></thead>", 1, true))
    assert.truthy(html:find("<tr><td>sgd</td><td style=\"text-align:right\">0.2</td></tr>", 1, true))
  end)

  it("embeds the figures it can read and leaves the others as links", function()
    local dir = tmpdir()
    lunet.image.save(dir .. "/a.png", lunet.rand(1, 4, 4))
    local html = report.toHtml("![first](a.png)\n\n![gone](missing.png)\n", { dir = dir })
    local png = readAll(dir .. "/a.png")
    assert.truthy(html:find('<img alt="first" src="data:image/png;base64,' .. report.base64(png) .. '">', 1, true))
    assert.truthy(html:find('<img alt="gone" src="missing.png">', 1, true))
  end)

  it("names the function when given the wrong argument", function()
    assert.has_error(function() report.toHtml(42) end, "report.toHtml: markdown must be a string, got number")
    assert.has_error(function() report.writeHtml(nil) end, "report.writeHtml: mdPath must be a string, got nil")
    assert.error_matches(function() report.writeHtml("/nonexistent/x.md") end, "report.writeHtml: cannot read /nonexistent/x.md")
    assert.error_matches(function() report.index("/tmp/i.html", { { "only a title" } }) end,
      "report.index: entry 1 must be {title, href")
    assert.error_matches(function() report.toHtml("x", { titel = "y" }) end,
      'report.toHtml: unknown option "titel" %(known: dir, title, nav%)')
  end)
end)

describe("report pages in a browser", function()
  it("show every embedded figure (headless Chromium)", function()
    if not CHROMIUM then return pending("chromium not installed (apt-get install chromium)") end
    local dir = tmpdir()
    lunet.image.save(dir .. "/fig.png", lunet.rand(1, 8, 8))
    local f = assert(io.open(dir .. "/page.md", "w"))
    f:write("# A page\n\n![a figure](fig.png)\n\n*Its caption.*\n\n![again](fig.png)\n")
    f:close()
    local html = report.writeHtml(dir .. "/page.md")
    assert.are.equal(dir .. "/page.html", html)
    os.remove(dir .. "/fig.png") -- the page must not need the file any more
    local dom = browse(html)
    assert.truthy(dom:find('data-images="2/2"', 1, true), "not every image decoded: " .. dom:sub(1, 300))
    browse(html, dir .. "/shot.png")
    local shot = lunet.image.load(dir .. "/shot.png")
    assert.are.equal(1400, shot:size(2))
    -- A page whose figure is missing reports it: the check can fail.
    f = assert(io.open(dir .. "/broken.md", "w"))
    f:write("# Broken\n\n![gone](fig.png)\n")
    f:close()
    assert.truthy(browse(report.writeHtml(dir .. "/broken.md")):find('data-images="0/1"', 1, true))
  end)
end)
