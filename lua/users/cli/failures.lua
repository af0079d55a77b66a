--- The failures file of a bulk run: each failed row in the input's own
-- format (CSV with the input's separator, BOM and line ends; JSON lines for
-- JSON lines and for a JSON array), with its error in `_error`, ready to be
-- fixed and fed back in.
--
-- The path is checked before anything is sent (a path that cannot be
-- written is a usage error then, not a surprise after the updates; the
-- check creates nothing that stays, and removes nothing it did not make); the
-- file is written from the first failure on, replacing the previous run's,
-- and a run without failures removes the previous run's: it leaves none.
-- (Opened for writing only then: a second run on the same input, refused
-- for the journal's lock, must not have cut the first one's file.)
-- Each row is written whole, unbuffered, and every write and the close are
-- checked: after one fails nothing more is written, and the writer knows
-- which rows are not in the file (`lost`), and which could not be copied at
-- all (`uncopied`: a record over the input's size limit was not kept).
local cli_core = require "users.cli_core"
local core = require "users.core"
local csv = require "users.cli.csv"
local json = require "users.cli.json"
local lines = require "users.cli.lines"
local source = require "users.cli.source"

local _M = {}

local type, tostring = type, tostring

--- How the `_error` of a row whose outcome is unknown starts (sent, no
-- answer: it may have been applied). A rerun of the file holds such a row
-- back unless --resend-unknown (users.cli.input reads the mark).
_M.UNKNOWN = "unknown_outcome: "

local Failures = {}
Failures.__index = Failures

--- A writer of the failed items of input (users.cli.input) to path. `kind`
-- is what path names now (users.cli_core.kind). Returns the writer, or nil
-- and a message when path cannot be written.
function _M.new(path, input, kind)
  if kind == "directory" then return nil, "the failures file " .. path .. " is a directory" end
  local ok, err
  if kind == "absent" then
    ok, err = cli_core.creatable(path) -- removes only what it made: never another run's new file
  else
    ok, err = io.open(path, "ab") -- a check that writes nothing
    if ok then ok:close() end
  end
  if not ok then return nil, "cannot write the failures file " .. tostring(err) end
  return setmetatable({ path = path, input = input, count = 0, written = 0, regular = kind ~= "char" and kind ~= "fifo"
                        and kind ~= "socket" and kind ~= "block", lost = lines.new(), uncopied = lines.new() }, Failures)
end

-- Writes text, or remembers why it could not be.
local function put(self, text)
  if self.failed then return false end
  if not self.file then
    local f, err = io.open(self.path, "wb")
    if not f then self.failed = tostring(err) return false end
    f:setvbuf("no")
    self.file = f
  end
  local ok, err = self.file:write(text)
  if ok then return true end
  self.failed = tostring(err)
  return false
end

-- The first lines of a CSV failures file: the `sep=` line and the header,
-- with an _error column (a failures file fed back keeps its own).
local function csv_head(self)
  local input = self.input
  local reader, header = input.reader, input.header
  self.eol = reader.crlf and "\r\n" or "\n"
  local cols = input.columns
  self.replace = cols[#cols].name == "_error" -- a failures file fed back: its _error is rewritten
  local text = header.raw:gsub("\r$", "")
  if not self.replace then text = text .. input.sep .. "_error" end
  return (input.src.bom and source.BOM or "") .. (input.sep_line and ("sep=" .. input.sep .. self.eol) or "")
    .. text .. self.eol
end

-- The row of a failed CSV item.
local function csv_row(self, item, message)
  local raw = item.raw:gsub("\r$", "")
  local sep = self.input.sep
  if self.replace and item.last and item.ncells >= #self.input.columns then
    raw = raw:sub(1, item.last - 1) -- drops the old _error cell, keeps its separator
    return raw .. csv.quote(message, sep) .. self.eol
  end
  return raw .. sep .. csv.quote(message, sep) .. self.eol
end

-- The line(s) of a failed JSON item.
local function json_row(item, message)
  if item.raw == nil then -- too long to be read: a note only (notes are skipped when read)
    return '{"_error":' .. core.json_encode(message .. " (the record is not copied here)") .. "}\n"
  end
  local obj = json.decode(item.raw)
  if type(obj) == "table" then return json.with_error(item.raw, message) .. "\n" end
  -- Not an object: a note with the error, then the line verbatim, so
  -- that nothing the user gave is lost (notes are skipped when read).
  return '{"_error":' .. core.json_encode(message) .. "}\n" .. item.raw .. "\n"
end

--- Writes a failed item with its error. Returns whether it is in the file.
function Failures:write(item, message)
  self.count = self.count + 1
  message = tostring(message):gsub("[\r\n]+", " ")
  local is_csv = self.input.format == "csv"
  if is_csv and not self.started then
    self.started = true
    put(self, csv_head(self))
  end
  if item.raw == nil then self.uncopied:add(item.line) end
  local row
  if is_csv then
    if item.raw == nil then return false end -- nothing to copy: named in the summary
    row = csv_row(self, item, message)
  else
    row = json_row(item, message)
  end
  if put(self, row) then
    self.written = self.written + 1
    return item.raw ~= nil
  end
  self.lost:add(item.line)
  return false
end

--- Closes the file: a run without failures removes the previous run's,
-- unless the path is not a regular file (/dev/null, a pipe), or `keep`
-- (a run that did not start: another one may be writing it).
-- Returns true, or nil and why the file is not whole (`failed`).
function Failures:close(keep)
  if self.file then
    local ok, err = self.file:close()
    self.file = nil
    if not ok and not self.failed then self.failed = tostring(err) end
  end
  if self.count == 0 and self.regular and not keep then os.remove(self.path) end
  if self.failed then return nil, self.failed end
  return true
end

return _M
