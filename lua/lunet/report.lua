--- lunet.report — an experiment's Markdown page, also as one self-contained HTML file.
--
-- The experiments write their findings as Markdown (`summary.md`) beside the PNG
-- figures. `report.writeHtml(mdPath)` turns such a page into `<same name>.html` with every
-- figure embedded as a `data:` URI, so the file opens in a browser from anywhere, with no
-- server and no folder beside it. The Markdown understood is the subset the experiments
-- write: `#`-headings, paragraphs, images `![alt](file.png)`, links, tables with an alignment
-- row, `-`/`1.` lists, fenced code, `*emphasis*`, `**strong**` and `` `code` ``.
--
-- Each page carries a one-line script that, once loaded, writes into `<body data-images="k/n">`
-- how many of its n images decoded, so a headless browser can check there is no broken image
-- (`spec/report_spec.lua`, `./run.sh pages`).
--
--   local report = require "lunet.report"
--   report.writeHtml("results/cifar10_lenet/summary.md")        --> results/cifar10_lenet/summary.html
--   local html = report.toHtml(markdownText, {dir = "results/x", title = "Part 1"})
--   report.index("results/index.html", {{"Part 1", "cifar10_lenet/summary.html"}, ...})
--   report.sci(1e-3) --> "1e-3"; report.optimizerLabel("SGD", {lr = 1e-3, momentum = 0.9})
--     --> "SGD with momentum 0.9, lr 1e-3" (legends and tables in a reader's words)

local check = require "lunet.check"
local fileutil = require "lunet.fileutil"

local report = {}

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

--- The base64 encoding of a byte string (RFC 4648, with padding).
function report.base64(bytes)
  local out, n = {}, #bytes
  for i = 1, n, 3 do
    local a, b, c = bytes:byte(i, i + 2)
    local v = (a << 16) | ((b or 0) << 8) | (c or 0)
    local k = #out
    out[k + 1] = B64:sub((v >> 18) + 1, (v >> 18) + 1)
    out[k + 2] = B64:sub(((v >> 12) & 63) + 1, ((v >> 12) & 63) + 1)
    out[k + 3] = b and B64:sub(((v >> 6) & 63) + 1, ((v >> 6) & 63) + 1) or "="
    out[k + 4] = c and B64:sub((v & 63) + 1, (v & 63) + 1) or "="
  end
  return table.concat(out)
end

--- A number as a reader writes it: powers of ten and their small multiples in e-notation
-- ("1e-3", "5e-4", "1e+4"), other numbers in %g ("0.9", "0.99", "64").
function report.sci(x)
  if type(x) ~= "number" then check.fail(2, "report.sci: x must be a number, got %s", type(x)) end
  if x ~= 0 and check.isFinite(x) and (math.abs(x) < 0.05 or math.abs(x) >= 1e4) then
    local e = math.floor(math.log(math.abs(x), 10) + 1e-9)
    local m = x / 10 ^ e
    if math.abs(m - math.floor(m + 0.5)) < 1e-9 then return ("%de%s%d"):format(math.floor(m + 0.5), e < 0 and "-" or "+", math.abs(e)) end
  end
  return ("%g"):format(x)
end

--- An optimizer's settings in words: "gradient descent, lr 1e-3" (SGD without momentum, as
-- the course calls it), "SGD with momentum 0.9, lr 1e-3", "Adam, lr 1e-4"; without cfg.lr
-- the method alone ("SGD with momentum 0.9").
function report.optimizerLabel(name, cfg)
  if type(name) ~= "string" then check.fail(2, "report.optimizerLabel: name must be a string, got %s", type(name)) end
  if type(cfg) ~= "table" then check.fail(2, "report.optimizerLabel: cfg must be a table, got %s", type(cfg)) end
  local what = name
  if name == "SGD" then
    what = (cfg.momentum or 0) > 0 and "SGD with momentum " .. report.sci(cfg.momentum) or "gradient descent"
  end
  return cfg.lr and ("%s, lr %s"):format(what, report.sci(cfg.lr)) or what
end

local function escape(s)
  return (s:gsub("[&<>\"]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;" }))
end

local MIME = { png = "image/png", jpg = "image/jpeg", jpeg = "image/jpeg", svg = "image/svg+xml", gif = "image/gif" }

-- The src of an image: a data: URI of the file (relative paths resolved against dir); an
-- address with a scheme, or a file that cannot be read, stays a link (and shows as broken,
-- which the page's image count reports).
local function imageSrc(src, dir)
  if src:match("^%a[%w+.-]*:") then return src end
  local path = (src:sub(1, 1) == "/" or not dir) and src or (dir .. "/" .. src)
  local f = io.open(path, "rb")
  if not f then return src end
  local bytes = f:read("a")
  f:close()
  local ext = (src:match("%.(%w+)$") or ""):lower()
  return ("data:%s;base64,%s"):format(MIME[ext] or "application/octet-stream", report.base64(bytes))
end

-- Inline Markdown: code spans first (their contents are literal), then images, links,
-- strong and emphasis over the escaped text.
local function inline(text, dir)
  local codes = {}
  text = text:gsub("`([^`]+)`", function(c)
    codes[#codes + 1] = "<code>" .. escape(c) .. "</code>"
    return "\0" .. #codes .. "\0"
  end)
  local images = {}
  text = text:gsub("!%[([^%]]*)%]%(([^%)%s]+)%)", function(alt, src)
    images[#images + 1] = ('<img alt="%s" src="%s">'):format(escape(alt), imageSrc(src, dir))
    return "\1" .. #images .. "\1"
  end)
  text = escape(text)
  text = text:gsub("%[([^%]]+)%]%(([^%)%s]+)%)", '<a href="%2">%1</a>')
  text = text:gsub("%*%*(.-)%*%*", "<strong>%1</strong>")
  text = text:gsub("%f[%w%*\\]%*([^%*%s][^%*]-)%*", "<em>%1</em>")
  text = text:gsub("\1(%d+)\1", function(i) return images[tonumber(i)] end)
  return (text:gsub("%z(%d+)%z", function(i) return codes[tonumber(i)] end))
end

local function slug(text, used)
  local s = text:lower():gsub("<[^>]*>", ""):gsub("&%w+;", ""):gsub("[^%w]+", "-"):gsub("^%-+", ""):gsub("%-+$", "")
  if s == "" then s = "section" end
  local base, k = s, 1
  while used[s] do
    k = k + 1
    s = base .. "-" .. k
  end
  used[s] = true
  return s
end

local function splitRow(line)
  local cells = {}
  line = line:gsub("^%s*|", ""):gsub("|%s*$", "")
  for cell in (line .. "|"):gmatch("(.-)|") do cells[#cells + 1] = cell:match("^%s*(.-)%s*$") end
  return cells
end

local function isAlignRow(line)
  return line:match("^%s*|?%s*:?%-+:?%s*|") ~= nil and line:match("^[%s|:%-]+$") ~= nil
end

local function tableHtml(lines, dir)
  local head, aligns = splitRow(lines[1]), {}
  for i, spec in ipairs(splitRow(lines[2])) do
    aligns[i] = spec:match(":$") and (spec:match("^:") and "center" or "right") or nil
  end
  local function row(cells, tag)
    local out = {}
    for i, c in ipairs(cells) do
      local style = aligns[i] and (' style="text-align:%s"'):format(aligns[i]) or ""
      out[#out + 1] = ("<%s%s>%s</%s>"):format(tag, style, inline(c, dir), tag)
    end
    return "<tr>" .. table.concat(out) .. "</tr>"
  end
  local body = {}
  for i = 3, #lines do body[#body + 1] = row(splitRow(lines[i]), "td") end
  return ("<table>\n<thead>%s</thead>\n<tbody>\n%s\n</tbody>\n</table>"):format(row(head, "th"),
    table.concat(body, "\n"))
end

local STYLE = [[
body{font:16px/1.55 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#1b1b1b}
h1,h2,h3{line-height:1.25}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
img{max-width:100%;height:auto;display:block;margin:1em auto;image-rendering:auto}
table{border-collapse:collapse;margin:1em 0;font-size:14px;display:block;overflow-x:auto}
th,td{border:1px solid #ccc;padding:.25em .6em}th{background:#f3f3f3}
code{background:#f3f3f3;padding:0 .2em;border-radius:3px}pre{background:#f6f6f6;padding:.8em;overflow-x:auto}
p>em:only-child{display:block;color:#444;font-size:14px;text-align:center}
nav{font-size:14px;margin-bottom:1.5em}]]

local CHECK = [[<script>addEventListener("load",function(){var a=document.images,k=0;]] ..
  [[for(var i=0;i<a.length;i++)if(a[i].complete&&a[i].naturalWidth>0)k++;]] ..
  [[document.body.setAttribute("data-images",k+"/"+a.length)})</script>]]

local function page(title, body, nav)
  return table.concat({
    "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width,initial-scale=1">',
    "<title>" .. escape(title) .. "</title>", "<style>" .. STYLE .. "</style>", CHECK, "</head>",
    "<body>", nav or "", body, "</body>", "</html>", "" }, "\n")
end

--- Render Markdown text as a whole HTML page.
-- opts.dir: the folder relative image paths are read from (default "."); opts.title: the
-- page's title (default: its first heading); opts.nav: raw HTML put above the page (a link back).
function report.toHtml(markdown, opts)
  opts = check.options("report.toHtml", opts, { "dir", "title", "nav" })
  if type(markdown) ~= "string" then
    check.fail(2, "report.toHtml: markdown must be a string, got %s", type(markdown))
  end
  local dir = opts.dir or "."
  local lines = {}
  for line in (markdown:gsub("\r\n", "\n") .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
  local out, used, title = {}, {}, opts.title
  local para = {}
  local function flush()
    if #para > 0 then
      out[#out + 1] = "<p>" .. inline(table.concat(para, " "), dir) .. "</p>"
      para = {}
    end
  end
  local i = 1
  while i <= #lines do
    local line = lines[i]
    local hashes, heading = line:match("^(#+)%s+(.-)%s*#*%s*$")
    if line:match("^```") then
      flush()
      local code = {}
      i = i + 1
      while i <= #lines and not lines[i]:match("^```") do
        code[#code + 1] = escape(lines[i])
        i = i + 1
      end
      out[#out + 1] = "<pre><code>" .. table.concat(code, "\n") .. "</code></pre>"
    elseif hashes and #hashes <= 6 then
      flush()
      local html = inline(heading, dir)
      title = title or heading
      out[#out + 1] = ('<h%d id="%s">%s</h%d>'):format(#hashes, slug(html, used), html, #hashes)
    elseif line:match("^%s*|") and lines[i + 1] and isAlignRow(lines[i + 1]) then
      flush()
      local rows = { line, lines[i + 1] }
      i = i + 2
      while i <= #lines and lines[i]:match("^%s*|") do
        rows[#rows + 1] = lines[i]
        i = i + 1
      end
      i = i - 1
      out[#out + 1] = tableHtml(rows, dir)
    elseif line:match("^%s*[-*]%s+") or line:match("^%s*%d+%.%s+") then
      flush()
      local ordered = line:match("^%s*%d+%.") ~= nil
      local items = {}
      while i <= #lines and (lines[i]:match("^%s*[-*]%s+") or lines[i]:match("^%s*%d+%.%s+")
        or (lines[i]:match("^%s%s+%S") and #items > 0)) do
        local item = lines[i]:match("^%s*[-*]%s+(.*)") or lines[i]:match("^%s*%d+%.%s+(.*)")
        if item then
          items[#items + 1] = item
        else
          items[#items] = items[#items] .. " " .. lines[i]:match("^%s*(.*)")
        end
        i = i + 1
      end
      i = i - 1
      for k, item in ipairs(items) do items[k] = "<li>" .. inline(item, dir) .. "</li>" end
      local tag = ordered and "ol" or "ul"
      out[#out + 1] = ("<%s>\n%s\n</%s>"):format(tag, table.concat(items, "\n"), tag)
    elseif line:match("^%s*$") then
      flush()
    else
      para[#para + 1] = line:match("^%s*(.-)%s*$")
    end
    i = i + 1
  end
  flush()
  return page(title or "lunet report", table.concat(out, "\n"), opts.nav)
end

local function readAll(path, fname)
  local f, err = io.open(path, "rb")
  if not f then check.fail(3, "%s: cannot read %s (%s)", fname, path, err) end
  local s = f:read("a")
  f:close()
  return s
end


--- Write `mdPath`'s page as HTML beside it (`x.md` → `x.html`, or `htmlPath`), figures embedded.
-- opts as for toHtml; dir defaults to mdPath's folder. Returns the HTML file's path.
function report.writeHtml(mdPath, htmlPath, opts)
  if type(mdPath) ~= "string" then
    check.fail(2, "report.writeHtml: mdPath must be a string, got %s", type(mdPath))
  end
  opts = check.options("report.writeHtml", opts, { "dir", "title", "nav" })
  htmlPath = htmlPath or (mdPath:gsub("%.md$", "") .. ".html")
  local dir = opts.dir or mdPath:match("^(.*)/[^/]*$") or "."
  local html = report.toHtml(readAll(mdPath, "report.writeHtml"),
    { dir = dir, title = opts.title, nav = opts.nav })
  fileutil.writeAtomic(htmlPath, html, "report.writeHtml")
  return htmlPath
end

--- Write a page that links the experiment pages: entries = {{title, href, description}, ...}.
function report.index(path, entries, opts)
  opts = check.options("report.index", opts, { "title", "intro" })
  local items = {}
  for k, e in ipairs(entries) do
    if type(e) ~= "table" or type(e[1]) ~= "string" or type(e[2]) ~= "string" then
      check.fail(2, "report.index: entry %d must be {title, href [, description]}", k)
    end
    items[#items + 1] = ('<li><a href="%s">%s</a>%s</li>'):format(escape(e[2]), escape(e[1]),
      e[3] and (" — " .. inline(e[3], ".")) or "")
  end
  local title = opts.title or "lunet: the assignment's results"
  local intro = opts.intro and ("<p>" .. inline(opts.intro, ".") .. "</p>") or ""
  fileutil.writeAtomic(path, page(title, ("<h1>%s</h1>\n%s\n<ul>\n%s\n</ul>"):format(escape(title), intro,
    table.concat(items, "\n"))), "report.index")
  return path
end

return report
