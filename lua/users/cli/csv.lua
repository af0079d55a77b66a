--- CSV as RFC 4180 writes it and spreadsheets save it, read one record at
-- a time from a source (users.cli.source): cells separated by a comma (or
-- the separator found in the header, or given: `;` in much of Europe, a
-- tab, `|`), a cell in double quotes may hold separators, line breaks and
-- doubled quotes (""), records end at a line break (LF or CRLF). A first
-- line `sep=;` (as Excel writes it) names the separator. Lenient where
-- spreadsheets are sloppy: a quote inside an unquoted cell is text.
--
-- Quoted cells are kept byte for byte: a CRLF inside one stays a CRLF.
-- Each record keeps its original text (`raw`, without its final line
-- break) and the line it starts on, so that a failed row can be written
-- back exactly as the user wrote it.
local source = require "users.cli.source"

local _M = {}

local concat = table.concat
local find, sub, byte, format = string.find, string.sub, string.byte, string.format

--- The separators looked for in a header, most likely first.
_M.SEPARATORS = { ",", ";", "\t", "|" }

-- A scanner for Source:record: the index of the line feed that ends the
-- record, outside quotes. A record without a quote, the common case, is one
-- find; one with quotes is followed cell by cell.
local function scanner(sep)
  local stop_at = "[" .. (sep:match("%w") and sep or "%" .. sep) .. "\n]"
  return function(buf, st)
    if not st.slow then
      local nl = find(buf, "\n", st.i, true)
      if nl and not find(sub(buf, st.i, nl - 1), '"', 1, true) then return nl end
      st.slow, st.quoted, st.cell = true, false, true -- from the record's start
    end
    local i, n = st.i, #buf
    while true do
      if st.quoted then
        local q = find(buf, '"', i, true)
        if not q then st.i = n + 1 return nil end
        if q == n then st.i = q return nil end -- "" or a closing quote: the next byte says
        if byte(buf, q + 1) == 34 then i = q + 2 else st.quoted, i = false, q + 1 end
      elseif st.cell and i > n then
        st.i = i
        return nil
      elseif st.cell and byte(buf, i) == 34 then
        st.quoted, st.cell, i = true, false, i + 1
      else
        st.cell = false
        local k = find(buf, stop_at, i)
        if not k then st.i = n + 1 return nil end
        if byte(buf, k) == 10 then return k end
        st.cell, i = true, k + 1
      end
    end
  end
end
_M.scanner = scanner

-- The common case, a record without quotes: split at separators.
local function split(body, sep)
  local cells, n, p = {}, 0, 1
  while true do
    local c = find(body, sep, p, true)
    n = n + 1
    if not c then
      cells[n] = sub(body, p)
      return cells, p
    end
    cells[n] = sub(body, p, c - 1)
    p = c + 1
  end
end

-- A quoted cell from pos (just past its opening quote) into buf: returns
-- where it ends, or nil when it is not closed.
local function quoted(s, pos, buf)
  while true do
    local q = find(s, '"', pos, true)
    if not q then
      buf[#buf + 1] = sub(s, pos)
      return nil
    end
    if byte(s, q + 1) == 34 then
      buf[#buf + 1] = sub(s, pos, q) -- one quote of the two
      pos = q + 2
    else
      buf[#buf + 1] = sub(s, pos, q - 1)
      return q + 1
    end
  end
end

--- The cells of a record's text: cells, where the last cell starts in it,
-- and an error when a quoted cell is not closed. A CR before the record's
-- end is its line break's; CRs and LFs inside quotes are the cell's.
function _M.parse(raw, sep)
  local s = raw
  if byte(s, -1) == 13 then s = sub(s, 1, -2) end
  if not find(s, '"', 1, true) then return split(s, sep) end
  local cells, buf, pos, last = {}, {}, 1, 1
  local at_start = true
  while true do
    if at_start and byte(s, pos) == 34 then
      pos = quoted(s, pos + 1, buf)
      if not pos then
        cells[#cells + 1] = concat(buf)
        return cells, last, "a quoted cell that starts here is not closed before the end of the file"
      end
      at_start = false
    else
      -- unquoted text (or what follows a closing quote), up to a separator
      local c = find(s, sep, pos, true)
      buf[#buf + 1] = sub(s, pos, c and c - 1)
      if not c then
        cells[#cells + 1] = concat(buf)
        return cells, last
      end
      cells[#cells + 1] = concat(buf)
      buf, pos, at_start = {}, c + 1, true
      last = pos
    end
  end
end

--- The separator of a header line: `,`, `;`, a tab or `|`, whichever it
-- holds most of outside quotes (a comma when it holds none).
function _M.detect(header)
  local counts, inside = {}, false
  for i = 1, #header do
    local c = sub(header, i, i)
    if c == '"' then inside = not inside
    elseif not inside then counts[c] = (counts[c] or 0) + 1 end
  end
  local best, most = ",", 0
  for _, sep in ipairs(_M.SEPARATORS) do
    if (counts[sep] or 0) > most then best, most = sep, counts[sep] end
  end
  return best
end

local Reader = {}
Reader.__index = Reader

--- A reader of CSV records from a source, with separator sep.
function _M.reader(src, sep)
  return setmetatable({ src = src, sep = sep, scan = scanner(sep), crlf = nil }, Reader)
end

--- The next record: { cells = { "text", ... }, line = n, raw = "...",
-- last = where the last cell starts in raw, error = message | nil }, or
-- nil at the end. A quoted cell still open at the end of the input makes
-- a record with an error; so does a record over the source's limit (its
-- cells and raw text are not kept: `oversized` is true).
function Reader:next()
  local st = {}
  local raw, line, last_line = self.src:record(self.scan, st)
  if raw == nil then return nil end
  if raw == false then
    local where = last_line > line and format(" (it runs to line %d: is a quote left open?)", last_line) or ""
    return { cells = {}, line = line, oversized = true,
             error = format("line %d: a record longer than %s%s; it was not read", line,
                            source.size_text(self.src.limit), where) }
  end
  if self.crlf == nil and not st.eof then self.crlf = byte(raw, -1) == 13 end
  local cells, last, err = _M.parse(raw, self.sep)
  return { cells = cells, line = line, raw = raw, last = last, error = err and format("line %d: %s", line, err) }
end

--- Whether a record is a blank line (skipped by readers).
function _M.blank(rec)
  return #rec.cells == 1 and not find(rec.cells[1], "%S") and not rec.error
end

--- A cell as CSV text: quoted when it holds the separator, a quote, a line
-- break, or spaces at either end.
function _M.quote(v, sep)
  v = tostring(v)
  if find(v, '["\r\n]') or find(v, sep or ",", 1, true) or find(v, "^%s") or find(v, "%s$") then
    return '"' .. v:gsub('"', '""') .. '"'
  end
  return v
end

--- A record from cells.
function _M.line(cells, sep)
  local out = {}
  for i, v in ipairs(cells) do out[i] = _M.quote(v, sep) end
  return concat(out, sep or ",")
end

return _M
