--- Requests shown to people: a dry run's "what would be sent" and the
-- one line per request of --verbose. Credentials never appear: a header
-- that carries one (see `secret`) shows [REDACTED] instead, an
-- Authorization value keeping its scheme.
local bulk = require "users.bulk"
local secrets = require "users.secrets"

local _M = {}

local type, pairs, ipairs, tostring = type, pairs, ipairs, tostring
local concat, sort = table.concat, table.sort
local format = string.format

--- What a shown request hides, for the provider described as `d` and the
-- resolved options `o` (both optional): a function(name, value), true for
-- a header that carries a credential: Authorization, an API key header of
-- the provider's security schemes (but one an option of its own fills), a
-- header whose name says secret (users/secrets.lua: Api-Key,
-- X-Auth-Token, ...), or one that holds a
-- secret of the options (the token, the password, a caller's key).
function _M.secret(d, o)
  local named, option = { authorization = true }, {}
  -- a header an option of the provider's fills is not a credential
  -- (lexful's X-Account-ID: an apiKey scheme in its document, an account id)
  for header in pairs(d and d.headers or {}) do option[header:lower()] = true end
  for _, alt in ipairs(d and d.credentials or {}) do
    for _, r in ipairs(alt) do
      if r.header and not option[r.header:lower()] then named[r.header:lower()] = true end
    end
  end
  local list = secrets.of(o or {})
  return function(name, value)
    if named[name:lower()] or secrets.secret_name(name) then return true end
    for _, s in ipairs(list) do if value:find(s, 1, true) then return true end end
    return false
  end
end

local DEFAULT = _M.secret()

local function redact(name, value, secret)
  if not secret(name, value) or value == bulk.PLACEHOLDER_TOKEN then return value end
  if name:lower() ~= "authorization" then return "[REDACTED]" end
  local scheme, rest = value:match("^(%S+)%s+(.*)$")
  if rest == bulk.PLACEHOLDER_TOKEN then return value end
  return (scheme or "") .. " [REDACTED]"
end

--- "Name: value" lines, sorted, credentials redacted (`secret`: as
-- `secret` makes it; by default Authorization and secret names only).
function _M.headers(req, secret)
  local lines = {}
  for name, value in pairs(req.headers) do
    lines[#lines + 1] = name .. ": " .. redact(name, value, secret or DEFAULT)
  end
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

--- The whole request: request line, headers (`secret` as for `headers`),
-- a blank line, the body.
function _M.full(req, secret)
  local lines = { req.method .. " " .. req.url }
  for _, h in ipairs(_M.headers(req, secret)) do lines[#lines + 1] = h end
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
