--- An HTTP/1.1 answer read from a cosocket, for users.transport.nginx:
-- bounded as the libcurl transport bounds it (a head of at most 256 KB, a
-- body of at most max_body), repeated headers joined in linear time, and a
-- server that breaks the framing (no status line, a chunk size that is not
-- hex) is a `bad_response`, never a Lua error. Reads with receiveany: a
-- whole small answer is one call, and no read waits for more bytes than the
-- answer has.
local _M = {}

local tonumber, pairs = tonumber, pairs
local concat = table.concat
local find, sub, match, gmatch, lower, byte = string.find, string.sub, string.match, string.gmatch,
  string.lower, string.byte

_M.MAX_HEAD = 256 * 1024 -- bytes of one answer's head, as src/transfer.c keeps
local MAX_LINE = 4096    -- a chunk-size line, its extensions included
local PIECE = 65536

-- A name's lower case: an answer's names repeat from one to the next
-- (bounded, for a server that makes names up).
local lowered, n_lowered = {}, 0

local function lower_name(name)
  local l = lowered[name]
  if not l then
    l = lower(name)
    if n_lowered < 512 then lowered[name], n_lowered = l, n_lowered + 1 end
  end
  return l
end

--- The header lines of a head (its status line aside) into a table of
-- lower-case names; a repeated header's values joined with ", " once, at
-- the end: the work is the bytes read, however many repeats.
function _M.headers(head)
  local h, lists = {}, nil
  for name, value in gmatch(head, "\n([^:\r\n]+):[ \t]*([^\r\n]*)") do
    if #name < 128 then -- as src/headers.c
      local last = byte(value, -1)
      if last == 32 or last == 9 then value = match(value, "^(.-)[ \t]+$") end
      name = lower_name(name)
      local first = h[name]
      if first == nil then
        h[name] = value
      else
        lists = lists or {}
        local list = lists[name]
        if not list then
          list = { first }
          lists[name] = list
        end
        list[#list + 1] = value
      end
    end
  end
  if lists then
    for name, list in pairs(lists) do h[name] = concat(list, ", ") end
  end
  return h
end

-- One answer's head (status line, header lines, the blank line) and the
-- bytes read after it; or nil, message, code. `rest`: bytes read already.
local function too_large()
  return nil, "response headers larger than " .. _M.MAX_HEAD .. " bytes", "too_large"
end

-- The head ends at byte e of all: at most MAX_HEAD bytes (the blank line
-- included), exactly as src/transfer.c counts, whatever the reads' sizes.
local function cut(all, e)
  if e > _M.MAX_HEAD then return too_large() end
  return sub(all, 1, e), sub(all, e + 1)
end

local function read_head(sock, rest)
  local _, e = find(rest, "\n\r?\n")
  if e then return cut(rest, e) end
  local parts, n, size = { rest }, 1, #rest
  while true do
    if size > _M.MAX_HEAD then return too_large() end -- all of it head, no end yet
    local data, err = sock:receiveany(PIECE)
    if not data then return nil, err end
    local from = size > 2 and size - 2 or 1 -- the end may straddle two reads
    n, size = n + 1, size + #data
    parts[n] = data
    if find(data, "\n", 1, true) then
      local all = n == 2 and parts[1] == "" and data or concat(parts)
      _, e = find(all, "\n\r?\n", from)
      if e then return cut(all, e) end
      parts, n = { all }, 1
    end
  end
end

-- The body that runs to the end of the connection.
local function read_to_close(sock, rest, max_body)
  local parts, n, total = { rest }, 1, #rest
  while true do
    if total > max_body then return nil, "too_large" end
    local data, err = sock:receiveany(PIECE)
    if not data then
      if err == "closed" then return concat(parts) end
      return nil, err
    end
    n, total = n + 1, total + #data
    parts[n] = data
  end
end

-- Exactly `length` bytes; the second result says whether bytes came after
-- them (the connection then cannot be kept).
local function read_length(sock, rest, length)
  local have = #rest
  if have >= length then
    if have == length then return rest, false end
    return sub(rest, 1, length), true
  end
  local parts, n = { rest }, 1
  while have < length do
    local data, err = sock:receiveany(length - have)
    if not data then return nil, err end
    n, have = n + 1, have + #data
    parts[n] = data
  end
  return concat(parts), false
end

-- A chunked body (RFC 9112 §7.1), its trailers skipped.
local function read_chunked(sock, rest, max_body)
  local buf, pos, parts, n, total = rest, 1, {}, 0, 0
  local function line()
    while true do
      local e = find(buf, "\n", pos, true)
      if e then
        local l = sub(buf, pos, e - 1)
        pos = e + 1
        return l
      end
      if #buf - pos >= MAX_LINE then return nil, "a chunk's line is too long", "bad_response" end
      local data, err = sock:receiveany(PIECE)
      if not data then return nil, err end
      buf, pos = sub(buf, pos) .. data, 1
    end
  end
  while true do
    local l, err, code = line()
    if not l then return nil, err, code end
    local hex, ext = match(l, "^(%x+)[ \t]*(.-)\r?$")
    if not hex or (ext ~= "" and byte(ext) ~= 59) or #hex > 15 then -- 59: ";" an extension
      return nil, "a chunk size that is not a hex number", "bad_response"
    end
    local size = tonumber(hex, 16)
    if size == 0 then
      repeat
        l, err, code = line()
        if not l then return nil, err, code end
      until l == "" or l == "\r"
      return concat(parts), pos <= #buf
    end
    total = total + size
    if total > max_body then return nil, "too_large" end
    local data
    data, err = read_length(sock, sub(buf, pos, pos + size - 1), size)
    if not data then return nil, err end
    pos = pos + size
    if pos > #buf + 1 then buf, pos = "", 1 end
    n = n + 1
    parts[n] = data
    l, err, code = line() -- the line break after the chunk's bytes
    if not l then return nil, err, code end
    if l ~= "" and l ~= "\r" then return nil, "a chunk longer than its size", "bad_response" end
  end
end

local function read_body(sock, headers, rest, max_body)
  local te = headers["transfer-encoding"]
  if te then
    if find(lower(te), "chunked", 1, true) then return read_chunked(sock, rest, max_body) end
    return read_to_close(sock, rest, max_body)
  end
  local length = headers["content-length"]
  if not length then return read_to_close(sock, rest, max_body) end
  length = match(length, "^%d+$") and tonumber(length)
  if not length then return nil, "a Content-Length that is not a number", "bad_response" end
  if length > max_body then return nil, "too_large" end
  return read_length(sock, rest, length)
end

--- Reads one answer: res ({ status, protocol, headers, body }) and whether
-- the connection may be kept; or nil, message, code (nil: a cosocket error,
-- the caller names it). Interim answers (1xx) are skipped; an unasked-for
-- 101 ends it: no final answer will come (a "reset", as the libcurl
-- transport says).
function _M.response(sock, method, max_body)
  local rest, head, line, status = ""
  repeat
    head, rest, line = read_head(sock, rest)
    if not head then return nil, rest, line end
    line = match(head, "^[^\r\n]*")
    status = tonumber(match(line, "^HTTP/%d%.?%d? (%d%d%d)"))
    if not status then return nil, "not an HTTP response", "bad_response" end
    if status == 101 then return nil, "no final answer: the last was HTTP 101, an interim status", "reset" end
  until status >= 200
  local headers = _M.headers(head)
  local body, extra = "", rest ~= ""
  if method ~= "HEAD" and status ~= 204 and status ~= 304 then
    local code
    body, extra, code = read_body(sock, headers, rest, max_body)
    if not body then
      if extra == "too_large" then return nil, "response body larger than " .. max_body .. " bytes", "too_large" end
      return nil, extra, code
    end
  end
  local keep = not extra and not find(lower(headers.connection or ""), "close", 1, true)
    and not find(line, "^HTTP/1%.0")
  return { status = status, protocol = match(line, "^(HTTP/%d%.%d)") or "HTTP/1.1", headers = headers, body = body },
    keep
end

return _M
