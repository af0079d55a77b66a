--- Items from the files people have: CSV (a spreadsheet's export) and JSON
-- lines, read as the run goes (a million rows never sit in memory), and
-- the failures file written back in the input's own format.
--
-- CSV: a header row names `id` and the provider's fields (columns starting
-- with `_` are ignored, so the failures file's `_error` column is too;
-- columns named after a path parameter, lancepilot's `workspace`, join the
-- id). Cells are converted by the field's declared type:
--   empty          the field is left alone
--   null           JSON null (where the field is nullable)
--   boolean        true/false, 1/0, yes/no (any case)
--   integer        digits; an id or value too large to be exact stays text
--   array          items separated by ";" (a;b;c, spaces around items
--                  ignored), or a JSON array ([1,2], ["a","b"]), which CSV
--                  needs quoted as it holds commas: "[1,2]"; [] is empty
--   file           a path (lancepilot's avatar)
--   string         the text exactly as written
-- Ids stay exactly the text written (leading zeros, 21 digits), unless the
-- provider's id is an integer.
--
-- JSON lines: one object per line, {"id": ..., "fields": {...}} or
-- {"id": ..., "field": value, ...}; keys starting with `_` are ignored, and
-- a line whose keys all do is a note (the failures file writes some).
local core = require "users.core"
local users = require "users"
local csv = require "users.cli.csv"
local args = require "users.cli.args"
local suggest = require "users.suggest"

local _M = {}

local type, pairs, ipairs, tonumber, tostring = type, pairs, ipairs, tonumber, tostring
local concat, sort = table.concat, table.sort
local format = string.format
local tointeger = math.tointeger

local BOOLEANS = { ["true"] = true, ["1"] = true, yes = true, ["false"] = false, ["0"] = false, no = false }

-- An integer from its text when Lua holds it exactly, else nil.
local function exact_integer(text)
  local digits = text:match("^%s*([-+]?%d+)%s*$")
  if not digits then return nil end
  local n = tonumber(digits)
  -- 5.3+: beyond 64 bits tonumber gives a float, which tointeger refuses
  if tointeger then return n and tointeger(n) end
  if n and n > -2 ^ 53 and n < 2 ^ 53 then return n end
  return nil
end
_M.exact_integer = exact_integer

local function convert_item(rule, text)
  local t = rule and rule.type
  text = text:match("^%s*(.-)%s*$")
  if t == "integer" then return exact_integer(text) or text end
  if t == "boolean" then
    local b = BOOLEANS[text:lower()]
    if b == nil then return text end
    return b
  end
  return text
end

--- A cell's text as the value of a field with this rule (from describe).
function _M.convert(rule, text)
  if text == "null" then return users.null end
  local t = rule and rule.type
  if t == "boolean" or t == "integer" then return convert_item(rule, text) end
  if t == "array" then
    local body = text:match("^%s*(.-)%s*$")
    if body:sub(1, 1) == "[" then
      local list = core.json_decode(body)
      if type(list) ~= "table" then return text end -- refused by validation, with the field named
      return setmetatable(list, users.array_mt)
    end
    local list = setmetatable({}, users.array_mt)
    for part in (body .. ";"):gmatch("([^;]*);") do
      if part:find("%S") then list[#list + 1] = convert_item(rule.items, part) end
    end
    return list
  end
  if t == "file" then return users.file(text) end
  return text
end

-- The id as the provider takes it: integers converted when its id is one.
local function convert_id(param, v)
  if param and param.type == "integer" then
    if type(v) == "string" then return exact_integer(v) or v end
    return v
  end
  if type(v) == "number" then -- a JSON number for an id that is text
    local n = tointeger and tointeger(v) or (v % 1 == 0 and v > -2 ^ 53 and v < 2 ^ 53 and v)
    if n then return tointeger and format("%d", n) or format("%.0f", n) end
  end
  return v
end

-- The provider's path parameters: the id's (the last one not taken from
-- an option) and those that may come from a column (workspace).
local function params_of(desc)
  local id_param, by_name = nil, {}
  for _, p in ipairs(desc.params) do
    by_name[p.name] = p
    if not p.option then id_param = p end
  end
  return id_param, by_name
end

-- The id of an item: a plain value, or a table when path parameters came
-- with it (workspace + user).
local function make_id(desc, id_param, parts, id)
  id = convert_id(id_param, id)
  if not parts then return id end
  local t = {}
  for name, v in pairs(parts) do t[name] = v end
  for _, p in ipairs(desc.params) do
    if t[p.name] == nil and not p.option then t[p.name] = id end
  end
  return t
end

---------------------------------------------------------------- CSV

local CsvInput = {}
CsvInput.__index = CsvInput

local function field_names(desc)
  local names = {}
  for name in pairs(desc.fields) do names[#names + 1] = name end
  sort(names)
  return names
end

-- Reads and checks the header: every column an id, a field, a path
-- parameter or ignored (_name). A mistake here would fail every row: it is
-- one error instead, naming the header line.
local function read_header(reader, desc, path)
  local rec = reader:next()
  while rec and csv.blank(rec) do rec = reader:next() end
  if not rec then args.fail(path .. ": the file is empty: a CSV file starts with a header row naming `id` and fields") end
  if rec.error then args.fail(path .. ": " .. rec.error) end
  local _, by_param = params_of(desc)
  local columns, seen = {}, {}
  local names = field_names(desc)
  local has_id = false
  for _, raw_name in ipairs(rec.cells) do
    if raw_name:match("^%s*(.-)%s*$") == "id" then has_id = true end
  end
  if not has_id then
    local hint = suggest.closest("id", rec.cells)
    args.fail(("%s: line %d: the header names no `id` column%s (the header: %s)"):format(
      path, rec.line, hint and (" - did you mean to call '" .. hint .. "' id? names are case-sensitive") or "",
      (rec.raw:gsub("\r$", ""))))
  end
  local all = { "id" }
  for _, n in ipairs(names) do all[#all + 1] = n end
  for k, raw_name in ipairs(rec.cells) do
    local name = raw_name:match("^%s*(.-)%s*$")
    if seen[name] then
      args.fail(("%s: line %d: the header names the column '%s' twice"):format(path, rec.line, name))
    end
    seen[name] = true
    local col = { name = name }
    if name == "id" then
      col.kind = "id"
    elseif name == "" or name:sub(1, 1) == "_" then
      col.kind = "ignored"
    elseif by_param[name] then
      col.kind = "param"
      col.param = by_param[name]
    elseif desc.fields[name] then
      col.kind = "field"
      col.rule = desc.fields[name]
    else
      local hint = suggest.closest(name, all)
      args.fail(("%s: line %d: the header's column '%s' is not a field of %s%s (its fields: %s;"
        .. " columns starting with _ are ignored)"):format(path, rec.line, name, desc.name,
        hint and (" - did you mean '" .. hint .. "'?") or "", concat(names, ", ")))
    end
    columns[k] = col
  end
  return rec, columns
end

function _M.csv(fh, desc, path)
  local reader = csv.reader(fh)
  local header, columns = read_header(reader, desc, path)
  local id_param = params_of(desc)
  return setmetatable({ reader = reader, header = header, columns = columns, desc = desc,
                        id_param = id_param, format = "csv" }, CsvInput)
end

--- Whether a column gives this path parameter (lancepilot's workspace).
function CsvInput:has_column(name)
  for _, c in ipairs(self.columns) do if c.name == name then return true end end
  return false
end

--- The next item, or nil at the end. Rows that cannot be read are items
-- with an error (a bulk run counts them as failed, nothing sent).
function CsvInput:next()
  local rec = self.reader:next()
  while rec and csv.blank(rec) do rec = self.reader:next() end
  if not rec then return nil end
  local item = { line = rec.line, raw = rec.raw, last = rec.last, ncells = #rec.cells }
  if rec.error then
    item.error = rec.error
    return item
  end
  local columns = self.columns
  if #rec.cells ~= #columns then
    item.error = ("line %d: %d cells, but the header has %d columns"):format(rec.line, #rec.cells, #columns)
    return item
  end
  local fields, id, parts = {}, nil, nil
  for k, col in ipairs(columns) do
    local text = rec.cells[k]
    if col.kind == "id" then
      id = text
    elseif col.kind == "param" then
      if text ~= "" then
        parts = parts or {}
        parts[col.name] = convert_id(col.param, text)
      end
    elseif col.kind == "field" and text ~= "" then
      local ok, v = pcall(_M.convert, col.rule, text)
      if ok then fields[col.name] = v else fields[col.name] = text end -- v may be false
    end
  end
  if id == "" then
    item.error = ("line %d: the id is empty"):format(rec.line)
    return item
  end
  local missing = self:missing_param(parts)
  if missing then
    item.error = ("line %d: no %s: its cell is empty and %s_%s is not set"):format(
      rec.line, missing.name, self.desc.name:upper(), missing.option:upper())
    return item
  end
  item.id, item.fields = make_id(self.desc, self.id_param, parts, id), fields
  return item
end

-- The first path parameter taken from an option (lancepilot's workspace)
-- that neither the row nor the environment gives: a row of its own that
-- cannot be sent, rather than a configuration error for the whole run.
-- The command sets self.options (the resolved options) before reading.
local function missing_param(self, parts)
  for _, p in ipairs(self.desc.params) do
    if p.option and (parts == nil or parts[p.name] == nil)
       and (self.options == nil or self.options[p.option] == nil) then
      return p
    end
  end
end
CsvInput.missing_param = missing_param

---------------------------------------------------------------- JSON lines

local JsonInput = {}
JsonInput.__index = JsonInput

function _M.jsonl(fh, desc)
  local id_param, by_param = params_of(desc)
  return setmetatable({ fh = fh, lineno = 0, desc = desc, id_param = id_param, by_param = by_param,
                        format = "jsonl" }, JsonInput)
end

-- A line's object, or nil and what is wrong; "note" for a line whose keys
-- all start with _ (and blank lines).
local function decode_line(text)
  if not text:find("%S") then return "note" end
  local obj, msg = core.json_decode(text)
  if obj == nil then return nil, "not valid JSON (" .. tostring(msg) .. ")" end
  if type(obj) ~= "table" or getmetatable(obj) == users.array_mt or (obj[1] ~= nil) then
    return nil, "not a JSON object"
  end
  local note = true
  for k in pairs(obj) do
    if type(k) ~= "string" or k:sub(1, 1) ~= "_" then note = false break end
  end
  if note then return "note" end
  return obj
end
_M.decode_line = decode_line

-- Unknown before the lines are read: each line may name it.
function JsonInput.has_column() return nil end

function JsonInput:next()
  while true do
    local text = self.fh:read("*l")
    if not text then return nil end
    self.lineno = self.lineno + 1
    if self.lineno == 1 and text:sub(1, 3) == csv.BOM then text = text:sub(4) end
    text = text:gsub("\r$", "")
    local obj, problem = decode_line(text)
    if obj ~= "note" then
      local item = { line = self.lineno, raw = text }
      if not obj then
        item.error = ("line %d: %s"):format(self.lineno, problem)
        return item
      end
      if obj.id == nil or obj.id == users.null then
        item.error = ("line %d: no \"id\""):format(self.lineno)
        return item
      end
      local fields, parts = obj.fields, nil
      local flat = type(fields) ~= "table"
      if flat then fields = {} end
      for k, v in pairs(obj) do
        if type(k) == "string" and k ~= "id" and k ~= "fields" and k:sub(1, 1) ~= "_" then
          if self.by_param[k] then
            parts = parts or {}
            parts[k] = v
          elseif flat then
            fields[k] = v
          end
        end
      end
      for name, v in pairs(fields) do -- a file field is a path
        local rule = self.desc.fields[name]
        if rule and rule.type == "file" and type(v) == "string" then fields[name] = users.file(v) end
      end
      local missing = type(obj.id) ~= "table" and missing_param(self, parts)
      if missing then
        item.error = ("line %d: no %s: the line does not give it and %s_%s is not set"):format(
          self.lineno, missing.name, self.desc.name:upper(), missing.option:upper())
        return item
      end
      if type(obj.id) == "table" then -- {"workspace": ..., "user": ...}
        item.id = obj.id
      else
        item.id = make_id(self.desc, self.id_param, parts, obj.id)
      end
      item.fields = fields
      return item
    end
  end
end

---------------------------------------------------------------- counting

--- The number of items in the file (a first pass, streaming too), for
-- percent and ETA.
function _M.count(path, fmt)
  local fh = io.open(path, "rb")
  if not fh then return nil end
  local n = 0
  if fmt == "csv" then
    local reader = csv.reader(fh)
    local header = reader:next()
    while header and csv.blank(header) do header = reader:next() end
    for rec in function() return reader:next() end do
      if not csv.blank(rec) then n = n + 1 end
    end
  else
    local first = true
    for text in fh:lines() do
      if first and text:sub(1, 3) == csv.BOM then text = text:sub(4) end
      first = false
      if text:find("%S") and decode_line(text) ~= "note" then n = n + 1 end
    end
  end
  fh:close()
  return n
end

--- The format of a file: from its name, else from its first line.
function _M.sniff(path, fh)
  local ext = path:match("%.(%w+)$")
  ext = ext and ext:lower()
  if ext == "csv" then return "csv" end
  if ext == "jsonl" or ext == "ndjson" or ext == "json" then return "jsonl" end
  local first = fh:read("*l") or ""
  fh:seek("set", 0)
  if first:sub(1, 3) == csv.BOM then first = first:sub(4) end
  return first:match("^%s*{") and "jsonl" or "csv"
end

---------------------------------------------------------------- failures

local Failures = {}
Failures.__index = Failures

--- A writer of failed items to path, in the input's format; the file is
-- created at the first failure (a run without failures leaves none).
function _M.failures(path, input)
  return setmetatable({ path = path, input = input, count = 0 }, Failures)
end

local function open(self)
  local f, err = io.open(self.path, "wb")
  if not f then error("cannot write the failures file " .. self.path .. ": " .. tostring(err), 0) end
  self.file = f
  local input = self.input
  if input.format == "csv" then
    local reader, header = input.reader, input.header
    self.eol = reader.crlf and "\r\n" or "\n"
    local cols = input.columns
    self.replace = cols[#cols].name == "_error" -- a failures file fed back: its _error is rewritten
    local text = header.raw:gsub("\r$", "")
    if not self.replace then text = text .. ",_error" end
    f:write(reader.bom and csv.BOM or "", text, self.eol)
  end
end

-- A JSON object's text with "_error" set, keeping the text as written: an
-- _error that this writer appended before is replaced.
local function with_error(raw, message)
  local body = raw:match("^(.-)%s*$")
  local cut
  local from = 1
  while true do
    local s = body:find(',%s*"_error"%s*:', from)
    if not s then break end
    cut, from = s, s + 1
  end
  if cut then
    local tail = core.json_decode("{" .. body:sub(cut + 1))
    if type(tail) == "table" and tail._error ~= nil then
      local only = true
      for k in pairs(tail) do if k ~= "_error" then only = false end end
      if only then body = body:sub(1, cut - 1) .. "}" end
    end
  end
  local open_body = body:sub(1, -2)
  local sep = open_body:match("^%s*{%s*$") and "" or ","
  return open_body .. sep .. '"_error":' .. core.json_encode(message) .. "}"
end

--- Writes a failed item with its error.
function Failures:write(item, message)
  if not self.file then open(self) end
  self.count = self.count + 1
  message = tostring(message):gsub("[\r\n]+", " ")
  local f = self.file
  if self.input.format == "csv" then
    local raw = item.raw:gsub("\r$", "")
    if self.replace and item.last and item.ncells >= #self.input.columns then
      raw = raw:sub(1, item.last - 1) -- drops the old _error cell, keeps its comma
      f:write(raw, csv.quote(message), self.eol)
    else
      f:write(raw, ",", csv.quote(message), self.eol)
    end
  else
    local obj = decode_line(item.raw)
    if type(obj) == "table" then
      f:write(with_error(item.raw, message), "\n")
    else
      -- Not an object: a note with the error, then the line verbatim, so
      -- that nothing the user gave is lost (notes are skipped when read).
      f:write('{"_error":', core.json_encode(message), "}\n", item.raw, "\n")
    end
  end
end

function Failures:close()
  if self.file then self.file:close() end
  self.file = nil
end

return _M
