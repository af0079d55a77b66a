--- The bytes of an input, read once from front to back in blocks (a pipe
-- or standard input as well as a file: never a second open, never a seek)
-- and cut into records by a format's scanner, each record bounded in
-- memory: past `limit` bytes a record is skipped to its end, kept only as
-- an error naming its lines, so that a stray quote or a line of 200 MB
-- costs no more memory than a short one.
--
-- Text must be UTF-8: the first block is looked at before anything else
-- (UTF-16 and UTF-32, with a byte order mark or without, are named), and
-- each record is checked as it is read (`encoding_problem`), naming the
-- encoding it looks like (Windows-1252, Latin-1).
local _M = {}

local find, sub, byte, format = string.find, string.sub, string.byte, string.format
local gsub = string.gsub

_M.BLOCK = 65536
_M.LIMIT = 1048576 -- the longest record read: 1 MiB
_M.BOM = "\239\187\191"

local Source = {}
Source.__index = Source

--- Opens path with mode and reads nothing: the file, or nil and why ("PATH:
-- reason"; a directory opens, but cannot be read: said here too).
function _M.open(path, mode)
  local f, err = io.open(path, mode)
  if not f then return nil, err end
  local ok, rerr = f:read(0)
  if ok == nil and rerr then
    f:close()
    return nil, path .. ": " .. tostring(rerr)
  end
  return f
end

--- A source over the open file fh; `name` is what messages call it.
function _M.new(fh, name, limit)
  return setmetatable({ fh = fh, name = name, buf = "", pos = 1, eof = false, line = 1,
                        limit = limit or _M.LIMIT, bom = nil }, Source)
end

-- Reads the next block after what is kept from `keep` on (the start of the
-- record being scanned). Returns the shift of indexes (keep - 1), or nil at
-- the end of the input. A read error raises: what was not read cannot be
-- accounted for.
function Source:more(keep)
  if self.eof then return nil end
  local block, err, code = self.fh:read(_M.BLOCK)
  if block == nil then
    -- A signal (Ctrl-C) while a pipe was waited for: the block is lost
    -- (Lua drops what fread had), so the input ends here, and says so.
    if code == 4 then self.cut = "interrupted"
    elseif err then error(format("cannot read %s: %s", self.name, tostring(err)), 0) end
    self.eof = true
    return nil
  end
  local shift = keep - 1
  self.buf = sub(self.buf, keep) .. block
  self.pos = self.pos - shift
  return shift
end

--- The first bytes (up to n), without consuming them; a UTF-8 byte order
-- mark at the very start is dropped first (and remembered in `bom`).
function Source:peek(n)
  while #self.buf - self.pos + 1 < n and self:more(self.pos) do end
  if self.bom == nil then -- the very start
    self.bom = sub(self.buf, self.pos, self.pos + 2) == _M.BOM
    if self.bom then self.pos = self.pos + 3 end
    return self:peek(n)
  end
  return sub(self.buf, self.pos, self.pos + n - 1)
end

--- The first line, without consuming it (nil at the end of the input):
-- what a header is read from. At most `limit` bytes are looked at.
function Source:peek_line()
  self:peek(1)
  while true do
    local nl = find(self.buf, "\n", self.pos, true)
    if nl then return sub(self.buf, self.pos, nl - 1) end
    if self.eof or #self.buf - self.pos >= self.limit or not self:more(self.pos) then
      local rest = sub(self.buf, self.pos, self.pos + self.limit - 1)
      return rest ~= "" and rest or nil
    end
  end
end

--- The first byte that is not white space, without consuming it, or nil.
function Source:first_byte()
  local n = 64
  while true do
    local head = self:peek(n)
    local c = head:match("%S")
    if c or #head < n or n > self.limit then return c end
    n = n * 4
  end
end

local function count_lf(s)
  return select(2, gsub(s, "\n", "\n"))
end

--- The next record, as `scan` finds it: scan(buf, st) looks from st.i on
-- and returns the index of the byte that ends the record (consumed, not
-- part of it), or nil when it needs more bytes (st.i where to go on; st
-- keeps any state of its own). Returns the record's text and the line it
-- starts on; at the end of the input the rest (if any) with `st.eof` set;
-- nil when nothing is left. A record over the limit is skipped to its end:
-- returns false, its first line and its last.
function Source:record(scan, st)
  local first = self.line
  local start = self.pos
  st.i = start
  local skipped = false
  while true do
    local stop = scan(self.buf, st)
    if stop then
      self.pos = stop + 1
      if skipped then
        self.line = self.line + count_lf(sub(self.buf, start, stop))
        return false, first, byte(self.buf, stop) == 10 and self.line - 1 or self.line
      end
      local text = sub(self.buf, start, stop - 1)
      self.line = self.line + count_lf(text) + (byte(self.buf, stop) == 10 and 1 or 0)
      st.stop = byte(self.buf, stop)
      return text, first
    end
    if not skipped and st.i - start > self.limit then skipped = true end
    if skipped then -- what was scanned is dropped: only its line breaks are counted
      self.line = self.line + count_lf(sub(self.buf, start, st.i - 1))
      start = st.i
    end
    local shift = self:more(start)
    if not shift then
      st.eof = true
      self.pos = #self.buf + 1
      if skipped then return false, first, self.line end
      local text = sub(self.buf, start)
      if text == "" then return nil end
      self.line = self.line + count_lf(text)
      return text, first
    end
    start, st.i = start - shift, st.i - shift
  end
end

---------------------------------------------------------------- encodings

-- What a first block that is not UTF-8 text looks like: a name, or nil.
local BOMS = {
  { "\255\254\0\0", "UTF-32LE" }, { "\0\0\254\255", "UTF-32BE" },
  { "\255\254", "UTF-16LE" }, { "\254\255", "UTF-16BE" },
}

--- The encoding of a first block when it is plainly not UTF-8 (a UTF-16 or
-- UTF-32 byte order mark, or the NUL bytes of UTF-16 text without one):
-- its name and how it was told, else nil.
function _M.foreign_encoding(head)
  for _, b in ipairs(BOMS) do
    if sub(head, 1, #b[1]) == b[1] then return b[2], "it starts with a " .. b[2] .. " byte order mark" end
  end
  if not find(head, "\0", 1, true) then return nil end
  local odd, even = 0, 0
  for i = 1, #head - 1, 2 do
    if byte(head, i) == 0 then odd = odd + 1 end
    if byte(head, i + 1) == 0 then even = even + 1 end
  end
  local pairs_ = (#head - #head % 2) / 2
  if even > pairs_ / 4 and odd == 0 then return "UTF-16LE", "every other byte is NUL, without a byte order mark" end
  if odd > pairs_ / 4 and even == 0 then return "UTF-16BE", "every other byte is NUL, without a byte order mark" end
  return "binary", "it holds NUL bytes: it is not text"
end

-- The byte where s stops being UTF-8 (RFC 3629: no overlong forms, no
-- surrogates, nothing above U+10FFFF), or nil when all of it is.
local function invalid_at(s)
  local i = find(s, "[\128-\255]")
  while i do
    local c = byte(s, i)
    local n, lo, hi
    lo, hi = 128, 191
    if c >= 0xC2 and c <= 0xDF then n = 1
    elseif c >= 0xE0 and c <= 0xEF then
      n = 2
      if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F end
    elseif c >= 0xF0 and c <= 0xF4 then
      n = 3
      if c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
    else
      return i
    end
    for k = 1, n do
      local x = byte(s, i + k)
      if not x or x < (k == 1 and lo or 128) or x > (k == 1 and hi or 191) then return i end
    end
    i = find(s, "[\128-\255]", i + n + 1)
  end
  return nil
end
_M.invalid_at = invalid_at

-- Windows-1252's characters for 0x80-0x9F (Latin-1 has controls there).
local CP1252 = {
  [0x80] = 0x20AC, [0x82] = 0x201A, [0x83] = 0x0192, [0x84] = 0x201E, [0x85] = 0x2026, [0x86] = 0x2020,
  [0x87] = 0x2021, [0x88] = 0x02C6, [0x89] = 0x2030, [0x8A] = 0x0160, [0x8B] = 0x2039, [0x8C] = 0x0152,
  [0x8E] = 0x017D, [0x91] = 0x2018, [0x92] = 0x2019, [0x93] = 0x201C, [0x94] = 0x201D, [0x95] = 0x2022,
  [0x96] = 0x2013, [0x97] = 0x2014, [0x98] = 0x02DC, [0x99] = 0x2122, [0x9A] = 0x0161, [0x9B] = 0x203A,
  [0x9C] = 0x0153, [0x9E] = 0x017E, [0x9F] = 0x0178,
}

local function utf8_char(cp)
  if cp < 0x800 then return string.char(0xC0 + (cp - cp % 64) / 64, 0x80 + cp % 64) end
  return string.char(0xE0 + (cp - cp % 4096) / 4096, 0x80 + ((cp - cp % 64) / 64) % 64, 0x80 + cp % 64)
end

--- nil when the text of a record is UTF-8; else a message naming the
-- record's line, the first byte that is not, and the encoding it looks
-- like, with how to convert the input (its path; nil: a pipe).
function _M.encoding_problem(name, text, line, path)
  local at = invalid_at(text)
  if not at then return nil end
  local b = byte(text, at)
  local before = sub(text, 1, at - 1)
  line = line + count_lf(before)
  local cp = b >= 0xA0 and b or CP1252[b]
  local enc = CP1252[b] and "Windows-1252" or "Windows-1252 or Latin-1 (ISO-8859-1)"
  local shown = cp and format(" (%s in %s)", utf8_char(cp), enc) or ""
  return format("%s is not UTF-8: line %d has the byte 0x%02X%s; it looks like %s, as spreadsheets save on"
    .. " Windows: save it as \"CSV UTF-8\", or convert it: %s", name, line, b, shown, enc,
    _M.iconv("WINDOWS-1252", path))
end

--- How to convert an input from an encoding: the file (path), or a pipe.
function _M.iconv(from, path)
  if not path then return "pipe it through iconv -f " .. from .. " -t UTF-8" end
  return format("iconv -f %s -t UTF-8 %s > %s", from, path, path:gsub("([^/]+)$", "utf8-%1"))
end

--- The message for a first block in a foreign encoding (foreign_encoding).
function _M.foreign_message(name, enc, how, path)
  if enc == "binary" then return format("%s is not a text file: %s", name, how) end
  return format("%s is %s, not UTF-8 (%s): convert it first: %s", name, enc, how,
    _M.iconv(enc:match("^UTF%-%d+") or enc, path))
end

--- Pieces of a message: "1 MiB" for the limit.
function _M.size_text(n)
  if n % 1048576 == 0 then return format("%d MiB", n / 1048576) end
  if n % 1024 == 0 then return format("%d KiB", n / 1024) end
  return format("%d bytes", n)
end

return _M
