--- Items from the files people have: CSV (a spreadsheet's export), JSON
-- lines, or a JSON array, from a file, a pipe or standard input (`-`),
-- read as the run goes (a million rows never sit in memory).
--
-- Each input is read once, front to back. A file that can be read again
-- (a regular file, standard input redirected from one) is first read
-- through to count its items (for percent and ETA) and to check that all
-- of it is UTF-8 before anything is sent; a pipe is read only once: its
-- items are not counted, its first block is checked before anything is
-- sent and each record as it comes (a record that is not UTF-8 stops the
-- run there).
--
-- CSV: a header row names `id` and the provider's fields (columns starting
-- with `_` are ignored, so the failures file's `_error` column is too;
-- columns named after a path parameter, lancepilot's `workspace`, join the
-- id). Cells are converted by the field's declared type (users.cli.convert).
-- JSON lines: one object a line, {"id": ..., "fields": {...}} or
-- {"id": ..., "field": value, ...}; keys starting with `_` are ignored, and
-- a line whose keys all do is a note (the failures file writes some). A
-- JSON array holds such objects. A row whose `_error` starts with the
-- failures file's mark of an unknown outcome (users.cli.failures.UNKNOWN)
-- is an item with `unknown = true`: the run holds it back unless
-- --resend-unknown.
local users = require "users"
local args = require "users.cli.args"
local convert = require "users.cli.convert"
local csv = require "users.cli.csv"
local failures = require "users.cli.failures"
local json = require "users.cli.json"
local source = require "users.cli.source"
local suggest = require "users.suggest"

local _M = {}

local type, pairs, ipairs, tostring, setmetatable = type, pairs, ipairs, tostring, setmetatable
local concat, sort = table.concat, table.sort
local format = string.format

_M.FORMATS = { "csv", "jsonl", "json" }

local Input = {}
Input.__index = Input

-- The first path parameter taken from an option (lancepilot's workspace)
-- that neither the item nor the environment gives: an item of its own that
-- cannot be sent, rather than a configuration error for the whole run.
-- The command sets self.options (the resolved options) before reading.
function Input:missing_param(parts)
  for _, p in ipairs(self.desc.params) do
    if p.option and (parts == nil or parts[p.name] == nil)
       and (self.options == nil or self.options[p.option] == nil) then
      return p
    end
  end
end

-- Whether the text of a record is UTF-8; when it is not, a record counted
-- first (a file read twice) fails the run before anything is sent, and one
-- from a pipe stops the run there: it raises.
function Input:check_text(text, line)
  if not self.check then return end
  local problem = source.encoding_problem(self.name, text, line, self.file)
  if not problem then return end
  if self.counting then args.fail(problem) end
  self.failure, self.stopped_at = problem, line
  error(problem, 0)
end

-- Whether a failures file's `_error` marks the row's outcome unknown.
local function marked_unknown(text)
  return type(text) == "string" and text:sub(1, #failures.UNKNOWN) == failures.UNKNOWN
end

---------------------------------------------------------------- CSV

local function field_names(desc)
  local names = {}
  for name in pairs(desc.fields) do names[#names + 1] = name end
  sort(names)
  return names
end

-- What a header's column is: the id, a field, a path parameter, ignored
-- (_name), or a mistake that would fail every row: one error instead,
-- naming the header line.
local function column(desc, by_param, name, rec, input)
  if name == "id" then return { name = name, kind = "id" } end
  if name == "_error" then return { name = name, kind = "error" } end -- a failures file's, fed back
  if name == "" or name:sub(1, 1) == "_" then return { name = name, kind = "ignored" } end
  if by_param[name] then return { name = name, kind = "param", param = by_param[name] } end
  if desc.fields[name] then return { name = name, kind = "field", rule = desc.fields[name] } end
  local names = field_names(desc)
  local all = { "id" }
  for _, n in ipairs(names) do all[#all + 1] = n end
  local hint = suggest.closest(name, all)
  args.fail(("%s: line %d: the header's column '%s' is not a field of %s%s (its fields: %s;"
    .. " columns starting with _ are ignored)"):format(input, rec.line, name, desc.name,
    hint and (" - did you mean '" .. hint .. "'?") or "", concat(names, ", ")))
end

-- Reads and checks the header: its columns.
local function read_header(self)
  local rec = self.reader:next()
  while rec and csv.blank(rec) do rec = self.reader:next() end
  if not rec then
    args.fail(self.name .. ": the input is empty: a CSV file starts with a header row naming `id` and fields")
  end
  if rec.error then args.fail(self.name .. ": " .. rec.error) end
  self:check_text(rec.raw, rec.line)
  local columns, seen, has_id = {}, {}, false
  for k, raw_name in ipairs(rec.cells) do
    local name = raw_name:match("^%s*(.-)%s*$")
    if name == "id" then has_id = true end
    columns[k] = name
  end
  if not has_id then
    local hint = suggest.closest("id", rec.cells)
    local sep = #rec.cells == 1 and ("; read with the separator " .. (self.sep == "\t" and "tab" or "'" .. self.sep .. "'")
      .. ": give another with --delimiter") or ""
    args.fail(("%s: line %d: the header names no `id` column%s (the header: %s)%s"):format(
      self.name, rec.line, hint and (" - did you mean to call '" .. hint .. "' id? names are case-sensitive") or "",
      (rec.raw:gsub("\r$", "")), sep))
  end
  local _, by_param = convert.params(self.desc)
  for k, name in ipairs(columns) do
    if seen[name] then args.fail(("%s: line %d: the header names the column '%s' twice"):format(self.name, rec.line, name)) end
    seen[name] = true
    columns[k] = column(self.desc, by_param, name, rec, self.name)
  end
  self.header, self.columns = rec, columns
end

-- The separator: given, named by a first line `sep=;`, or found in the header.
local function separator(src, given)
  local first = src:peek_line()
  local named = first and first:match("^sep=([^\r\n\"])\r?$")
  if named then src:record(json.line_scan, {}) end
  local header = src:peek_line()
  while header and not header:find("%S") do
    src:record(json.line_scan, {})
    header = src:peek_line()
  end
  return given or named or csv.detect(header or ""), named
end

local function csv_input(self, delimiter)
  self.sep, self.sep_line = separator(self.src, delimiter)
  self.reader = csv.reader(self.src, self.sep)
  read_header(self)
end

-- The item of a CSV record.
local function csv_item(self, rec)
  local item = { line = rec.line, raw = rec.raw, last = rec.last, ncells = #rec.cells, oversized = rec.oversized }
  if rec.error then
    item.error = rec.error
    return item
  end
  self:check_text(rec.raw, rec.line)
  local columns = self.columns
  if #rec.cells ~= #columns then
    item.error = ("line %d: %d cells, but the header has %d columns"):format(rec.line, #rec.cells, #columns)
    return item
  end
  if self.counting then return item end
  local fields, id, parts = {}, nil, nil
  for k, col in ipairs(columns) do
    local text = rec.cells[k]
    if col.kind == "id" then
      id = text
    elseif col.kind == "param" and text ~= "" then
      parts = parts or {}
      parts[col.name] = convert.id(col.param, text)
    elseif col.kind == "field" and text ~= "" then
      fields[col.name] = convert.field(col.rule, text)
    elseif col.kind == "error" and marked_unknown(text) then
      item.unknown = true
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
  item.id, item.fields = convert.make_id(self.desc, self.id_param, parts, id), fields
  return item
end

---------------------------------------------------------------- JSON

-- The item of a JSON object (a line, or an element of an array).
local function json_item(self, text, line)
  local item = { line = line, raw = text }
  self:check_text(text, line)
  local obj, problem = json.decode(text)
  if obj == "note" then return nil end
  if not obj then
    item.error = ("line %d: %s"):format(line, problem)
    return item
  end
  if obj.id == nil or obj.id == users.null then
    item.error = ("line %d: no \"id\""):format(line)
    return item
  end
  if self.counting then return item end
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
  local missing = type(obj.id) ~= "table" and self:missing_param(parts)
  if missing then
    item.error = ("line %d: no %s: the line does not give it and %s_%s is not set"):format(
      line, missing.name, self.desc.name:upper(), missing.option:upper())
    return item
  end
  item.id = type(obj.id) == "table" and obj.id or convert.make_id(self.desc, self.id_param, parts, obj.id)
  item.fields = fields
  item.unknown = marked_unknown(obj._error) or nil
  return item
end

-- The next JSON line: its text and line, an item for a line too long, or nil.
local function next_line(self)
  local text, line, last = self.src:record(json.line_scan, {})
  if text == nil then return nil end
  if text == false then
    return nil, { line = line, oversized = true, error = format("line %d: a line longer than %s; it was not read",
      line, source.size_text(self.src.limit)) }, last
  end
  return (text:gsub("\r$", "")), line
end

---------------------------------------------------------------- items

--- The next item, or nil at the end. Rows that cannot be read are items
-- with an error (a bulk run counts them as failed, nothing sent).
function Input:next()
  while true do
    local item
    if self.format == "csv" then
      local rec = self.reader:next()
      if not rec then return nil end
      if not csv.blank(rec) then item = csv_item(self, rec) end
    elseif self.format == "jsonl" then
      local text, line = next_line(self)
      if text == nil and line == nil then return nil end
      if text then item = json_item(self, text, line) else item = line end
    else
      local e = self.array:next()
      if not e then return nil end
      item = e.error and e or json_item(self, e.text, e.line)
    end
    if item then return item end
  end
end

--- Whether a column gives this path parameter (lancepilot's workspace);
-- nil when not known before the items are read (JSON).
function Input:has_column(name)
  if self.format ~= "csv" then return nil end
  for _, c in ipairs(self.columns) do if c.name == name then return true end end
  return false
end

-- The format: given, from the name, else from the first byte.
local function sniff(path, src)
  local ext = path:match("%.(%w+)$")
  ext = ext and ext:lower()
  if ext == "csv" or ext == "tsv" then return "csv" end
  if ext == "jsonl" or ext == "ndjson" then return "jsonl" end
  local c = src:first_byte()
  if c == "[" then return "json" end
  if c == "{" then return "jsonl" end
  return "csv"
end

-- An input over fh from where it stands: its format and header read.
local function reader(fh, spec, counting)
  local self = setmetatable({ src = source.new(fh, spec.name), name = spec.name, desc = spec.desc,
                              file = spec.path ~= "-" and spec.path or nil,
                              counting = counting, check = counting or not spec.counted }, Input)
  local head = self.src:peek(source.BLOCK)
  local enc, how = source.foreign_encoding(head)
  if enc then args.fail(source.foreign_message(spec.name, enc, how, self.file)) end
  -- A pipe is not read twice: its first block is checked before anything
  -- is sent (up to its last line break: a character may straddle the end).
  local problem = not spec.counted and source.encoding_problem(spec.name, head:match("^.*\n") or "", 1, self.file)
  if problem then args.fail(problem) end
  self.format = spec.format or sniff(spec.path, self.src)
  self.id_param, self.by_param = convert.params(spec.desc)
  if self.format == "csv" then
    csv_input(self, spec.delimiter)
  elseif self.format == "json" then
    self.array = json.array(self.src)
  end
  return self
end

--- Opens the input at path (`-`: standard input) for the provider described
-- by desc; o: the command's options (format, delimiter). A file that can
-- be read twice is counted first (input.total). Usage failures raise.
function _M.open(path, o, desc)
  local fh, name = io.stdin, "standard input"
  if path ~= "-" then
    local err
    fh, err = source.open(path, "rb")
    if not fh then args.fail("cannot open " .. tostring(err)) end
    name = path
  end
  local spec = { path = path, name = name, desc = desc, format = o.format, delimiter = o.delimiter }
  local at = fh:seek("cur") -- nil for a pipe
  local total
  if at then
    local first = reader(fh, spec, true)
    total = 0
    for _ in function() return first:next() end do total = total + 1 end
    spec.format, spec.counted = first.format, true
    if first.src.cut or not fh:seek("set", at) then args.fail("cannot read " .. name .. " again from its start") end
  end
  local input = reader(fh, spec, false)
  input.fh, input.total, input.path = fh, total, path
  return input
end

return _M
