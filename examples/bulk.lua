-- Bulk updates from a file, for people.
--
--   lua5.4 examples/bulk.lua PROVIDER FILE [--concurrency N] [--rate R]
--                            [--retries N] [--journal FILE] [--dry-run]
--
-- FILE is CSV (RFC 4180: a header row naming `id` and the provider's fields,
-- quoted fields, "" for a quote, line breaks inside quotes) or JSON lines
-- ({"id": ..., "fields": {...}} or {"id": ..., "field": ...}). In CSV an empty
-- cell leaves the field alone, `null` sends null, booleans are true/false/1/0,
-- arrays are JSON ([1,2]) or a;b;c, and a file field is a path. Columns named
-- after path parameters (lancepilot's `workspace`) join the id.
--
-- The file is read as the run goes: a million rows never sit in memory. A live
-- bar shows progress on a terminal; the report follows, and the failures go
-- to FILE.failures.csv (or .jsonl) with an `_error` column, ready to be fed
-- back in (columns starting with `_` are ignored).
package.path = "lua/?.lua;" .. package.path
local users = require "users"
local core = require "users.core"

local function usage(msg)
  io.stderr:write(msg and (msg .. "\n") or "",
    "usage: bulk.lua PROVIDER FILE [--concurrency N] [--rate R] [--retries N] [--journal FILE] [--dry-run]\n")
  os.exit(2)
end

local provider, path = arg[1], arg[2]
if not provider or not path then usage() end
local opts = { progress = true }
local i = 3
while arg[i] do
  local flag, value = arg[i], arg[i + 1]
  if flag == "--dry-run" then
    opts.dry_run = true
    i = i + 1
  elseif flag == "--concurrency" or flag == "--rate" or flag == "--retries" then
    opts[flag:sub(3)] = tonumber(value) or usage(flag .. " needs a number")
    i = i + 2
  elseif flag == "--journal" then
    opts.journal = value or usage("--journal needs a file")
    i = i + 2
  else
    usage("unknown option " .. flag)
  end
end

local ok, contract = pcall(users.describe, provider)
if not ok then usage(tostring(contract)) end

-- CSV ----------------------------------------------------------------------

-- Rows of an RFC 4180 file, one at a time: an array of strings per row.
local function csv_rows(fh)
  return function()
    local line = fh:read("*l")
    if not line then return nil end
    local row, field, quoted, pos = {}, {}, false, 1
    while true do
      local c = line:sub(pos, pos)
      if quoted then
        if c == "" then -- a line break inside quotes
          local more = fh:read("*l")
          if not more then error("unterminated quoted field at the end of the file") end
          field[#field + 1] = "\n"
          line, pos = more, 1
        elseif c == '"' and line:sub(pos + 1, pos + 1) == '"' then
          field[#field + 1] = '"'
          pos = pos + 2
        elseif c == '"' then
          quoted = false
          pos = pos + 1
        else
          local stop = line:find('"', pos, true) or #line + 1
          field[#field + 1] = line:sub(pos, stop - 1)
          pos = stop
        end
      elseif c == '"' and #field == 0 then
        quoted = true
        pos = pos + 1
      elseif c == "," or c == "" then
        row[#row + 1] = table.concat(field):gsub("\r$", "")
        field = {}
        pos = pos + 1
        if c == "" then return row end
      else
        local stop = line:find(",", pos, true) or #line + 1
        field[#field + 1] = line:sub(pos, stop - 1)
        pos = stop
      end
    end
  end
end

local function csv_line(values)
  local out = {}
  for k, v in ipairs(values) do
    v = tostring(v)
    if v:find('[,"\r\n]') then v = '"' .. v:gsub('"', '""') .. '"' end
    out[k] = v
  end
  return table.concat(out, ",") .. "\n"
end

-- A CSV cell into the value the provider's field takes.
local function convert(rule, text)
  if text == "null" then return users.null end
  local t = rule.type
  if t == "boolean" then
    local b = ({ ["true"] = true, ["1"] = true, yes = true, ["false"] = false, ["0"] = false, no = false })[text:lower()]
    if b == nil then return text end -- refused by validation, with the field named
    return b
  elseif t == "integer" then
    return math.tointeger and math.tointeger(tonumber(text)) or tonumber(text) or text
  elseif t == "array" then
    if text:match("^%s*%[") then return core.json_decode(text) or text end
    local list = setmetatable({}, users.array_mt)
    for part in text:gmatch("[^;]+") do
      list[#list + 1] = rule.items and rule.items.type == "integer" and (tonumber(part) or part) or part
    end
    return list
  elseif t == "file" then
    return users.file(text)
  end
  return text
end

local params = {}
for _, p in ipairs(contract.params) do params[p.name] = true end

local function item_from(header, row)
  local fields, id, parts = {}, nil, nil
  for k, name in ipairs(header) do
    local text = row[k] or ""
    if name == "id" then
      id = tonumber(text) or text
    elseif params[name] then
      parts = parts or {}
      parts[name] = text
    elseif name:sub(1, 1) ~= "_" and text ~= "" then
      local rule = contract.fields[name]
      fields[name] = rule and convert(rule, text) or text -- unknown: refused, named
    end
  end
  if parts then -- e.g. lancepilot: workspace column + id column
    for _, p in ipairs(contract.params) do
      if parts[p.name] == nil and not p.option then parts[p.name] = id end
    end
    id = parts
  end
  return { id = id, fields = fields, row = row }
end

-- JSON lines -----------------------------------------------------------------

local function json_item(line)
  local obj = core.json_decode(line)
  if type(obj) ~= "table" then return { id = nil, fields = nil, row = line } end
  local fields = obj.fields
  if type(fields) ~= "table" then
    fields = {}
    for k, v in pairs(obj) do
      if k ~= "id" and k:sub(1, 1) ~= "_" then fields[k] = v end
    end
  end
  return { id = obj.id, fields = fields, row = line, object = obj }
end

-- The run ----------------------------------------------------------------------

local fh = assert(io.open(path, "rb"))
local first = fh:read("*l") or ""
local jsonl = first:match("^%s*{") ~= nil
local header, next_item
if jsonl then
  local pending = first
  next_item = function()
    local line = pending or fh:read("*l")
    pending = nil
    while line and line:match("^%s*$") do line = fh:read("*l") end
    return line and json_item(line)
  end
else
  fh:seek("set", 0)
  local rows = csv_rows(fh)
  header = rows() or usage("the file is empty")
  next_item = function()
    local row = rows()
    while row and #row == 1 and row[1] == "" do row = rows() end -- blank lines
    return row and item_from(header, row)
  end
end

-- A first pass counts the items, so the bar can show a percentage and an
-- ETA; it streams too, holding nothing.
do
  local count = io.open(path, "rb")
  local n = 0
  if jsonl then
    for line in count:lines() do if not line:match("^%s*$") then n = n + 1 end end
  else
    local rows = csv_rows(count)
    rows() -- the header
    for row in rows do if not (#row == 1 and row[1] == "") then n = n + 1 end end
  end
  count:close()
  opts.total = n
end

local failures_path = path:gsub("%.%w+$", "") .. (jsonl and ".failures.jsonl" or ".failures.csv")
local failures
opts.on_result = function(item, _, err)
  if not err then return end
  if not failures then
    failures = assert(io.open(failures_path, "wb"))
    if not jsonl then
      local h = {}
      for k, name in ipairs(header) do h[k] = name end
      if h[#h] ~= "_error" then h[#h + 1] = "_error" end
      failures:write(csv_line(h))
    end
  end
  if jsonl then
    local obj = item.object or {}
    obj._error = tostring(err)
    failures:write(core.json_encode(obj), "\n")
  else
    local row = {}
    for k = 1, #header do row[k] = item.row[k] or "" end
    if header[#header] == "_error" then row[#header] = tostring(err) else row[#row + 1] = tostring(err) end
    failures:write(csv_line(row))
  end
end

local report = users.bulk_update(provider, next_item, opts)
fh:close()
if failures then failures:close() end

print(("%s: %d items, %d succeeded, %d failed, %d skipped (journal), %d retries, %.2f s (%.0f/s)%s"):format(
  provider, report.total, report.succeeded, report.failed, report.skipped, report.retried,
  report.elapsed, report.elapsed > 0 and (report.succeeded + report.failed) / report.elapsed or 0,
  report.dry_run and ", dry run: nothing sent" or ""))
for k, f in ipairs(report.failures) do
  if k > 5 then print(("  ... and %d more"):format(#report.failures - 5)) break end
  print(("  item %d (%s): %s"):format(f.index, tostring(type(f.id) == "table" and core.json_encode(f.id) or f.id), tostring(f.err)))
end
if failures then print("failures written to " .. failures_path) end
os.exit(report.failed == 0)
