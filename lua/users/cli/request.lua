--- Requests shown to people: a dry run's "what would be sent" and the
-- one line per request of --verbose. Credentials never appear: an
-- Authorization value keeps its scheme and loses the rest.
local bulk = require "users.bulk"

local _M = {}

local type, pairs, ipairs, tostring = type, pairs, ipairs, tostring
local concat, sort = table.concat, table.sort
local format = string.format

local function redact(name, value)
  if name:lower() == "authorization" then
    local scheme, rest = value:match("^(%S+)%s+(.*)$")
    if rest == bulk.PLACEHOLDER_TOKEN then return value end
    return (scheme or "") .. " [REDACTED]"
  end
  return value
end

--- "Name: value" lines, sorted, credentials redacted.
function _M.headers(req)
  local lines = {}
  for name, value in pairs(req.headers) do lines[#lines + 1] = name .. ": " .. redact(name, value) end
  sort(lines)
  return lines
end

-- The parts of a multipart body: { { name, value | nil, file = "name, N bytes" }, ... }
local function parts(req)
  local ctype
  for name, value in pairs(req.headers) do
    if name:lower() == "content-type" then ctype = value end
  end
  local boundary = ctype and ctype:match('boundary="?([^";]+)"?')
  if not boundary or not req.segments then return nil end
  local text, files = {}, {}
  for _, s in ipairs(req.segments) do
    if type(s) == "string" then
      text[#text + 1] = s
    else
      files[#files + 1] = s
      text[#text + 1] = "\0FILE" .. #files .. "\0"
    end
  end
  local body = concat(text)
  local out = {}
  local delim = "--" .. boundary
  local pos = 1
  while true do
    local a, b = body:find(delim, pos, true)
    if not a then break end
    local nexta = body:find("\r\n" .. delim, b + 1, true)
    if not nexta then break end
    local part = body:sub(b + 3, nexta - 1) -- after the CRLF that follows the boundary
    local head, value = part:match("^(.-)\r\n\r\n(.*)$")
    if head then
      local name = head:match('name="([^"]*)"') or "?"
      local filename = head:match('filename="([^"]*)"')
      local fi = value:match("^%z?FILE(%d+)%z?$") or value:match("\0FILE(%d+)\0")
      if fi then
        local f = files[tonumber(fi)]
        out[#out + 1] = { name, file = format("%s, %d bytes", filename or f.path or "file", f.size or 0) }
      elseif filename then
        out[#out + 1] = { name, file = format("%s, %d bytes", filename, #value) }
      else
        out[#out + 1] = { name, value }
      end
    end
    pos = nexta + 2
  end
  return out
end

--- The body as text: JSON or a form as is; multipart as one line per part.
function _M.body(req, compact)
  local ps = parts(req)
  if ps then
    local lines = {}
    for _, p in ipairs(ps) do
      if p.file then
        lines[#lines + 1] = format("%s=[file %s]", p[1], p.file)
      else
        lines[#lines + 1] = format("%s=%s", p[1], compact and (p[2]:gsub("[\r\n]", " ")) or p[2])
      end
    end
    return concat(lines, compact and "; " or "\n")
  end
  if type(req.body) == "string" then return req.body end
  return ""
end

--- The whole request: request line, headers, a blank line, the body.
function _M.full(req)
  local lines = { req.method .. " " .. req.url }
  for _, h in ipairs(_M.headers(req)) do lines[#lines + 1] = h end
  lines[#lines + 1] = ""
  lines[#lines + 1] = _M.body(req)
  return concat(lines, "\n")
end

--- One line: method, URL and body.
function _M.line(req)
  return req.method .. " " .. req.url .. " " .. _M.body(req, true)
end

-- The path of a URL (what --verbose shows).
local function path_of(url)
  return url:match("^%a[%w+.-]*://[^/]*(/.*)$") or url
end

--- An `on_event` handler that logs one line per attempt through
-- log(line), from its "answer" event: method, path, status (or the
-- transport error), protocol when known, the attempt (a token request
-- counts its own) and its time. What --verbose shows.
function _M.on_event(log)
  return function(e)
    if e.name ~= "answer" then return end
    local status, version = e["http.response.status_code"], e["network.protocol.version"]
    local outcome = status and (tostring(status) .. (version and (" HTTP/" .. version) or "")) or tostring(e["error.type"])
    log(format("%s %s -> %s, attempt %d, %.3f s", e["http.request.method"], path_of(e["url.full"] or ""),
               outcome, e.attempt or 1, e.duration or 0))
  end
end

return _M
