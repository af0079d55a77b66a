--- JSON input, read from a source (users.cli.source) as it comes: JSON
-- lines (one object a line) and a file holding one JSON array of objects
-- (its elements read one at a time, never the whole array at once). Each
-- record is bounded by the source's limit.
local core = require "users.core"
local users = require "users"
local source = require "users.cli.source"

local _M = {}

local type, pairs, tostring, getmetatable = type, pairs, tostring, getmetatable
local find, sub, byte, format, gsub = string.find, string.sub, string.byte, string.format, string.gsub

--- A scanner for Source:record: a line, up to its line feed.
function _M.line_scan(buf, st)
  local nl = find(buf, "\n", st.i, true)
  if not nl then st.i = #buf + 1 end
  return nl
end

-- A scanner for the elements of an array: the index of the `,` or `]`
-- (or a stray `}`) that ends one, outside strings and nested values.
local function element_scan(buf, st)
  local i, n = st.i, #buf
  local depth = st.depth or 0
  while true do
    if st.str then
      local k = find(buf, '["\\]', i)
      if not k or (k == n and byte(buf, k) == 92) then st.i, st.depth = k or n + 1, depth return nil end
      if byte(buf, k) == 92 then i = k + 2 else st.str, i = false, k + 1 end
    else
      local k = find(buf, '["%[%]{},]', i)
      if not k then st.i, st.depth = n + 1, depth return nil end
      local c = byte(buf, k)
      if c == 34 then
        st.str, i = true, k + 1
      elseif c == 91 or c == 123 then
        depth, i = depth + 1, k + 1
      elseif depth == 0 then
        return k -- , ] or a stray }
      else
        if c ~= 44 then depth = depth - 1 end
        i = k + 1
      end
    end
  end
end

-- A scanner for the first byte that is not white space.
local function nonspace_scan(buf, st)
  local k = find(buf, "%S", st.i)
  if not k then st.i = #buf + 1 end
  return k
end

--- A line's (or an element's) object, or nil and what is wrong; "note"
-- for one whose keys all start with _ (and blank ones).
function _M.decode(text)
  if not find(text, "%S") then return "note" end
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

--- A JSON object's text with "_error" set, keeping the text as written: an
-- _error that this writer appended before is replaced.
function _M.with_error(raw, message)
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

---------------------------------------------------------------- arrays

local Array = {}
Array.__index = Array

--- The elements of the JSON array a source holds: :next() returns the
-- next { text = "...", line = n } (or { line = n, error = "..." }), nil
-- after the last. The text of an element is on one line (JSON keeps line
-- breaks out of strings), as a JSON lines failures file writes it.
function _M.array(src)
  return setmetatable({ src = src, state = "start" }, Array)
end

local function too_long(src, line, last)
  return { line = line, oversized = true, error = format("line %d: an element longer than %s%s; it was not read",
    line, source.size_text(src.limit), last > line and format(" (it runs to line %d)", last) or "") }
end

function Array:start()
  local st = {}
  local _, line = self.src:record(nonspace_scan, st)
  if st.eof then self.state = "done" return nil end
  if st.stop ~= 91 then
    self.state = "done"
    return { line = line, error = format("line %d: a .json file holds one JSON array of objects, [{...}, ...];"
      .. " this one does not start with [ (JSON lines: --format jsonl)", line) }
  end
  self.state = "elements"
end

function Array:next()
  if self.state == "start" then
    local problem = self:start()
    if problem then return problem end
  end
  if self.state == "end" then return self:finish() end
  if self.state ~= "elements" then return nil end
  local st = {}
  local text, line, last = self.src:record(element_scan, st)
  if text == false then return too_long(self.src, line, last) end
  if text == nil or st.eof then
    self.state = "done"
    if text and find(text, "%S") then
      return { line = line, error = format("line %d: the JSON array is not closed before the end of the file", line) }
    end
    return nil
  end
  local lead = text:match("^%s*")
  line = line + select(2, gsub(lead, "\n", ""))
  local body = sub(text, #lead + 1):match("^(.-)%s*$")
  if st.stop ~= 44 then -- ] (or a stray }): the end of the array
    self.state = st.stop == 93 and "end" or "done"
    if body == "" then return self:finish() end
  elseif body == "" then
    return { line = line, error = format("line %d: an empty element in the JSON array", line) }
  end
  return { text = (gsub(body, "[\r\n]+", " ")), line = line }
end

-- After the closing ]: nothing but white space.
function Array:finish()
  if self.state ~= "end" then return nil end
  self.state = "done"
  local st = {}
  self.src:record(nonspace_scan, st)
  if not st.eof then
    local line = self.src.line
    return { line = line, error = format("line %d: text after the end of the JSON array", line) }
  end
  return nil
end

return _M
