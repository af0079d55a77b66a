--- CSV as RFC 4180 writes it, read one record at a time: cells separated
-- by commas, a cell in double quotes may hold commas, line breaks and
-- doubled quotes (""), records end at a line break (LF or CRLF). A UTF-8
-- byte order mark at the start is dropped. Lenient where spreadsheets are
-- sloppy: a quote inside an unquoted cell is text.
--
-- Each record keeps its original text (`raw`, without the final line
-- break) and the line it starts on, so that a failed row can be written
-- back exactly as the user wrote it.
local _M = {}

local concat = table.concat
local find, sub = string.find, string.sub

_M.BOM = "\239\187\191"

local Reader = {}
Reader.__index = Reader

--- A reader of the open file fh.
function _M.reader(fh)
  return setmetatable({ fh = fh, lineno = 0, bom = false, crlf = nil }, Reader)
end

local function strip_cr(line)
  if sub(line, -1) == "\r" then return sub(line, 1, -2), true end
  return line, false
end

-- The common case, a line without quotes: split at commas.
local function split(body)
  local cells, n, p = {}, 0, 1
  while true do
    local c = find(body, ",", p, true)
    n = n + 1
    if not c then
      cells[n] = sub(body, p)
      return cells, p
    end
    cells[n] = sub(body, p, c - 1)
    p = c + 1
  end
end

--- The next record: { cells = { "text", ... }, line = n, raw = "...",
-- last = where the last cell starts in raw, error = message | nil }, or
-- nil at the end of the file. A quoted cell still open at the end of the
-- file makes a record with an error (the rest of the file is its text).
function Reader:next()
  local line = self.fh:read("*l")
  if not line then return nil end
  self.lineno = self.lineno + 1
  if self.lineno == 1 and sub(line, 1, 3) == _M.BOM then
    line = sub(line, 4)
    self.bom = true
  end
  local start = self.lineno
  local s, cr = strip_cr(line)
  if self.crlf == nil then self.crlf = cr end
  if not find(s, '"', 1, true) then
    local cells, last = split(s)
    return { cells = cells, line = start, raw = line, last = last }
  end
  -- Quotes: a scan that may run over more lines.
  local raws, base = { line }, 0
  local cells, buf, pos = {}, {}, 1
  local at_start, last = true, 1
  while true do
    if at_start and sub(s, pos, pos) == '"' then
      -- a quoted cell: up to the lone closing quote, over line breaks
      pos = pos + 1
      while true do
        local q = find(s, '"', pos, true)
        if not q then
          buf[#buf + 1] = sub(s, pos)
          local more = self.fh:read("*l")
          if not more then
            return { cells = cells, line = start, raw = concat(raws, "\n"), last = last,
                     error = ("line %d: a quoted cell that starts here is not closed before the end of the file"):format(start) }
          end
          self.lineno = self.lineno + 1
          base = base + #raws[#raws] + 1
          raws[#raws + 1] = more
          s = strip_cr(more)
          buf[#buf + 1] = "\n"
          pos = 1
        elseif sub(s, q + 1, q + 1) == '"' then
          buf[#buf + 1] = sub(s, pos, q) -- one quote of the two
          pos = q + 2
        else
          buf[#buf + 1] = sub(s, pos, q - 1)
          pos = q + 1
          break
        end
      end
      at_start = false
    else
      -- unquoted text (or what follows a closing quote), up to a comma
      local c = find(s, ",", pos, true)
      if c then
        buf[#buf + 1] = sub(s, pos, c - 1)
        cells[#cells + 1] = concat(buf)
        buf, pos, at_start = {}, c + 1, true
        last = base + pos
      else
        buf[#buf + 1] = sub(s, pos)
        cells[#cells + 1] = concat(buf)
        return { cells = cells, line = start, raw = concat(raws, "\n"), last = last }
      end
    end
  end
end

--- Whether a record is a blank line (skipped by readers).
function _M.blank(rec)
  return #rec.cells == 1 and not find(rec.cells[1], "%S") and not rec.error
end

--- A cell as CSV text: quoted when it holds a comma, a quote, a line
-- break, or spaces at either end.
function _M.quote(v)
  v = tostring(v)
  if find(v, '[,"\r\n]') or find(v, "^%s") or find(v, "%s$") then
    return '"' .. v:gsub('"', '""') .. '"'
  end
  return v
end

--- A record from cells.
function _M.line(cells)
  local out = {}
  for i, v in ipairs(cells) do out[i] = _M.quote(v) end
  return concat(out, ",")
end

return _M
