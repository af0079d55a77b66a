--- One error shape for every provider.
-- `{ kind, status, code, message, fields, retry_after, retryable, provider, body }`
-- with `__tostring`. Secrets are scrubbed as an error leaves the module
-- (users/secrets.lua, once, in users/lifecycle.lua), from the text that
-- came from outside only: its body, a provider's fields, and the parts of
-- its message marked here (`outside`) as a server's, a transport's or a
-- store's words. Its keys, codes and the module's own words are never
-- changed.
local core = require "users.core"

local _M = {}

local type, pairs, ipairs, tostring, setmetatable = type, pairs, ipairs, tostring, setmetatable
local concat, sort = table.concat, table.sort
local floor = math.floor

local Error = {}
Error.__index = Error

Error.__tostring = function(e)
  local s = (e.provider or "users") .. ": " .. (e.message or e.code or e.kind)
  if e.fields then
    local names, parts = {}, {}
    for name in pairs(e.fields) do names[#names + 1] = tostring(name) end
    sort(names)
    for _, name in ipairs(names) do
      local msgs = e.fields[name]
      parts[#parts + 1] = name .. " " .. (type(msgs) == "table" and concat(msgs, ", ") or tostring(msgs))
    end
    if #parts > 0 then s = s .. " (" .. concat(parts, "; ") .. ")" end
  end
  return s
end

_M.Error = Error

function _M.is_error(v) return getmetatable(v) == Error end

function _M.new(t) return setmetatable(t, Error) end

-- The parts of each error's message that came from outside the module
-- (weak keys: they go with their error).
local outside = setmetatable({}, { __mode = "k" })

--- Marks `text`, a part of err.message, as come from outside the module (a
-- server's, a transport's or a store's words): the only part of a message
-- users/secrets.lua may change. Returns err.
function _M.outside(err, text)
  if type(text) == "string" and text ~= "" then
    local list = outside[err]
    if not list then
      list = {}
      outside[err] = list
    end
    list[#list + 1] = text
  end
  return err
end

--- The parts of err.message marked as come from outside (a list), or nil.
function _M.said(err) return outside[err] end

--- Marks in err what `from`'s message had from outside (err's message
-- quotes it). Returns err.
function _M.quotes(err, from)
  for _, text in ipairs(from and outside[from] or {}) do _M.outside(err, text) end
  return err
end

function _M.invalid(provider, fields, message)
  if not message then
    local n = 0
    for _ in pairs(fields) do n = n + 1 end
    message = n == 1 and "invalid update: 1 field is not valid"
      or ("invalid update: " .. n .. " fields are not valid")
  end
  return _M.new { kind = "invalid", code = "validation_error", provider = provider,
                  message = message, fields = fields, retryable = false }
end

function _M.config(provider, message)
  return _M.new { kind = "config", code = "config_error", provider = provider,
                  message = message, retryable = false }
end

local transport_retryable = { timeout = true, connect = true, reset = true, dns = true }
local transport_hint = {
  tls = " (the server's certificate was not verified: set opts.ca_file to the CA that signs it)",
}

function _M.transport(provider, code, message)
  return _M.outside(_M.new { kind = "transport", code = code, provider = provider,
                             message = message .. (transport_hint[code] or ""),
                             retryable = transport_retryable[code] or false }, message)
end

local status_codes = {
  [400] = "bad_request", [401] = "unauthorized", [403] = "forbidden",
  [404] = "not_found", [405] = "method_not_allowed", [409] = "conflict",
  [410] = "not_found", [413] = "too_large", [415] = "bad_request",
  [422] = "validation_error", [429] = "rate_limited",
}
local known_codes = {
  validation_error = true, unauthorized = true, forbidden = true, not_found = true,
  conflict = true, rate_limited = true, server_error = true, bad_request = true,
}

local months = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7,
                 Aug = 8, Sep = 9, Oct = 10, Nov = 11, Dec = 12 }

-- Days since 1970-01-01 of a civil date (proleptic Gregorian).
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

--- Seconds to wait from a Retry-After value: delta-seconds or an HTTP-date
-- (IMF-fixdate, RFC 850 or asctime), relative to `now` (epoch seconds).
function _M.retry_after(value, now)
  if type(value) ~= "string" then return nil end
  local secs = value:match("^%s*(%d+)%s*$")
  if secs then return tonumber(secs) end
  local d, mon, y, h, mi, s = value:match("^%a+, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  if not d then
    d, mon, y, h, mi, s = value:match("^%a+, (%d%d)%-(%a%a%a)%-(%d%d) (%d%d):(%d%d):(%d%d) GMT$")
    if y then y = tonumber(y) + (tonumber(y) < 70 and 2000 or 1900) end
  end
  if not d then
    mon, d, h, mi, s, y = value:match("^%a+ (%a%a%a) +(%d+) (%d%d):(%d%d):(%d%d) (%d%d%d%d)$")
  end
  if not d or not months[mon] then return nil end
  local t = days_from_civil(tonumber(y), months[mon], tonumber(d)) * 86400
    + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)
  local wait = t - (now or os.time())
  return wait > 0 and wait or 0
end

--- Whether a body is to be read as JSON: the server says so, or says
-- nothing. The one rule for every answer, error or not.
function _M.is_json(ctype)
  return ctype == nil or ctype:find("json", 1, true) ~= nil
end

--- The error for a non-2xx response; its body decoded when it is JSON.
-- `decl.error(status, body)` reads the provider's own body shape, and
-- `decl.status_codes` names what the provider's document gives a status;
-- what neither says comes from the status.
function _M.from_response(decl, res)
  local status, body = res.status, res.body
  if _M.is_json(res.headers["content-type"]) then body = core.json_decode(body) or body end
  local info = {}
  if type(body) == "table" and decl.error then
    local ok, got = pcall(decl.error, status, body)
    if ok and type(got) == "table" then info = got end
  end
  local code = info.code
  if not known_codes[code] then code = decl.status_codes and decl.status_codes[status] end
  if not known_codes[code] then
    code = status_codes[status]
      or (status >= 500 and "server_error")
      or (status >= 300 and status < 400 and "redirect")
      or "http_error"
  end
  if code == "bad_request" and info.fields then code = "validation_error" end
  local message = type(info.message) == "string" and info.message or nil
  local said = message -- the provider's words (its body, read by the declaration)
  if not message then
    message = "HTTP " .. status
    if status >= 300 and status < 400 then
      said = tostring(res.headers.location)
      message = message .. " redirect to " .. said .. " (not followed)"
    end
  end
  local fields
  if type(info.fields) == "table" then
    fields = {}
    for k, v in pairs(info.fields) do
      if type(v) == "table" then
        local list = {}
        for i, m in ipairs(v) do list[i] = tostring(m) end
        fields[tostring(k)] = list
      else
        fields[tostring(k)] = { tostring(v) }
      end
    end
  end
  return _M.outside(_M.new {
    kind = "http", status = status, code = code, message = message,
    fields = fields, provider = decl.name, body = body, scim_type = info.scim_type, -- SCIM's error keyword
    retry_after = _M.retry_after(res.headers["retry-after"]),
    retryable = status == 429 or status >= 500,
  }, said)
end

return _M
