--- A configured client of one provider: options, request preparation and
-- sending with retries and token refresh. `users.lua` is the public face.
local core = require "users.core"
local errors = require "users.errors"
local auth = require "users.auth"
local encodings = require "users.encodings"

local _M = { _VERSION = "0.1.0" }

local type, pairs, ipairs, tostring = type, pairs, ipairs, tostring
local getenv, random, min, max = os.getenv, math.random, math.min, math.max
local concat = table.concat

_M.USER_AGENT = "lua-users/" .. _M._VERSION

-- Options every provider takes, with the check each value must pass.
local function positive(v) return type(v) == "number" and v > 0 end
local function nonneg_int(v) return type(v) == "number" and v >= 0 and v % 1 == 0 end
local function str(v) return type(v) == "string" end
local function tbl(v) return type(v) == "table" end
local option_checks = {
  token = str, base_url = str, account_id = str, workspace = function(v) return str(v) end,
  key_id = str, key_secret = str, timeout = positive, connect_timeout = positive,
  ca_file = str, headers = tbl, retries = nonneg_int, user_agent = str,
  encoding = str, max_body = positive, backoff = function(v) return type(v) == "number" and v >= 0 end,
  transport = tbl,
}
_M.option_checks = option_checks

--- Checks an options table: nil, or the message of a misuse (unknown key,
-- wrong type) for the caller to raise.
function _M.check_options(opts, fname, argn)
  if opts == nil then return nil end
  if type(opts) ~= "table" then
    return ("bad argument #%d to '%s' (table expected, got %s)"):format(argn, fname, type(opts))
  end
  for k, v in pairs(opts) do
    local check = option_checks[k]
    if not check then
      return ("bad argument #%d to '%s' (unknown option '%s')"):format(argn, fname, tostring(k))
    elseif not check(v) then
      return ("bad argument #%d to '%s' (option '%s' has a wrong type or value)"):format(argn, fname, k)
    end
  end
end

-- Inside nginx, in the phases where cosockets work, requests go through
-- nginx itself and never block the worker; everywhere else through libcurl.
local cosocket_phases = { rewrite = true, access = true, content = true, timer = true,
                          ssl_cert = true, ssl_session_fetch = true, preread = true }
function _M.default_transport()
  local ngx = rawget(_G, "ngx")
  if ngx and ngx.socket and ngx.get_phase and cosocket_phases[ngx.get_phase()] then
    return require "users.transport.nginx"
  end
  return require "users.transport.curl"
end

--- Layers of options, last wins, then the environment, then the provider.
function _M.resolve(entry, ...)
  local o = {}
  for i = 1, select("#", ...) do
    local layer = select(i, ...)
    if layer then for k, v in pairs(layer) do o[k] = v end end
  end
  local prefix = entry.decl.name:upper() .. "_"
  local env_keys = { "token", "base_url" }
  for _, k in ipairs(entry.decl.options or {}) do env_keys[#env_keys + 1] = k end
  for _, k in ipairs(env_keys) do
    if o[k] == nil then
      local v = getenv(prefix .. k:upper())
      if v and v ~= "" then o[k] = v end
    end
  end
  o.base_url = o.base_url or entry.decl.base_url
  o.timeout = o.timeout or 30
  o.connect_timeout = o.connect_timeout or 10
  o.retries = o.retries or 0
  o.backoff = o.backoff or 0.5
  o.max_body = o.max_body or 8 * 1024 * 1024
  o.transport = o.transport or _M.default_transport()
  return o
end

local function has_bad_byte(s) return s:find("[\r\n%z]") ~= nil end

-- The URL, or nil and an error. Every path parameter is validated by the C
-- core and percent-encoded: no id can change the path, query or a header.
local function build_url(entry, id, o)
  local decl, name = entry.decl, entry.decl.name
  local base = o.base_url
  if not base then
    return nil, errors.config(name, "no base URL for " .. name .. ": set opts.base_url or "
                                      .. name:upper() .. "_BASE_URL")
  end
  if not base:match("^https?://[^%s/?#]+[^%s?#]*$") or has_bad_byte(base) then
    return nil, errors.config(name, "base URL must be http(s)://host[/path], without query or spaces")
  end
  base = base:gsub("/+$", "")
  local values, bad = {}, nil
  local params = decl.params or {}
  for i, p in ipairs(params) do
    local pname, v = p[1], nil
    if type(id) == "table" then
      v = id[pname]
    elseif p.option then
      v = o[p.option]
    elseif i == #params or not params[#params].option then
      v = id
    end
    if v == nil and p.option then v = o[p.option] end
    local text, msg = core.check_param(entry.compiled, pname, v)
    if text then
      values[pname] = core.escape(text)
    else
      bad = bad or {}
      bad[pname] = { msg }
    end
  end
  if bad then return nil, errors.invalid(name, bad, "invalid user id") end
  local path = decl.path:gsub("{([%w_]+)}", values)
  return base .. path
end

-- A chunk iterator over multipart segments, reading files piece by piece:
-- for hosts that send a prepared request with their own client.
local function stream(segments)
  local i, fh = 0, nil
  return function()
    while true do
      if fh then
        local chunk = fh:read(65536)
        if chunk then return chunk end
        fh:close()
        fh = nil
      end
      i = i + 1
      local s = segments[i]
      if s == nil then return nil end
      if type(s) == "string" then return s end
      fh = assert(io.open(s.path, "rb"))
    end
  end
end

local function header_error(name, what)
  return errors.invalid(name, { headers = { what .. " has CR, LF or NUL" } },
                        "header " .. what .. " has CR, LF or NUL")
end

--- Validates and prepares a request; nothing is sent (but a token may be
-- fetched). Returns req or nil, err.
function _M.prepare(entry, id, fields, o)
  local decl, name = entry.decl, entry.decl.name
  local encoding = o.encoding or (decl.encodings or { "json" })[1]
  if not entry.encodings[encoding] then
    error(("provider %s has no encoding '%s' (it has: %s)"):format(
      name, encoding, concat(decl.encodings or { "json" }, ", ")), 0)
  end
  local ok, body, problems, reason = pcall(encodings[encoding], entry.compiled, fields)
  if not ok then
    return nil, errors.invalid(name, {}, "cannot encode the update: " .. tostring(body))
  elseif reason == "empty" then
    return nil, errors.invalid(name, {}, "an update needs at least one field")
  elseif problems then
    return nil, errors.invalid(name, problems)
  end
  local url, err = build_url(entry, id, o)
  if not url then return nil, err end

  local headers = {
    ["Accept"] = "application/json",
    ["Content-Type"] = body.content_type,
    ["User-Agent"] = o.user_agent or _M.USER_AGENT,
  }
  for header, option in pairs(decl.headers or {}) do
    local v = o[option]
    if v == nil then
      return nil, errors.config(name, "no " .. option .. " for " .. name .. ": set opts." .. option
                                        .. " or " .. name:upper() .. "_" .. option:upper())
    end
    if has_bad_byte(v) then return nil, header_error(name, header) end
    headers[header] = v
  end
  local token, terr = auth.token(entry, o)
  if terr then return nil, terr end
  if not token then
    return nil, errors.config(name, "no token for " .. name .. ": set opts.token or "
                                      .. name:upper() .. "_TOKEN")
  end
  if has_bad_byte(token) then
    return nil, errors.config(name, "the token has CR, LF or NUL")
  end
  headers["Authorization"] = "Bearer " .. token
  for k, v in pairs(o.headers or {}) do
    if type(k) ~= "string" or not k:match("^[%w!#$%%&'*+.^_`|~-]+$") then
      return nil, errors.invalid(name, { headers = { "'" .. tostring(k) .. "' is not a header name" } },
                                 "bad header name")
    end
    if type(v) ~= "string" or has_bad_byte(v) then return nil, header_error(name, k) end
    headers[k] = v
  end
  return {
    method = decl.method, url = url, headers = headers,
    body = body.body or stream(body.segments), segments = body.segments,
    body_length = body.length or #body.body,
    timeout = o.timeout, connect_timeout = o.connect_timeout,
    ca_file = o.ca_file, max_body = o.max_body,
  }
end

local function is_json(ctype)
  return ctype == nil or ctype:find("json", 1, true) ~= nil
end

--- Decodes a 2xx response: the user table, or nil and a decode error.
function _M.decode(name, res)
  if res.body == "" then return {} end
  local value, msg = core.json_decode(res.body)
  if value == nil or not is_json(res.headers["content-type"]) then
    return nil, errors.new {
      kind = "decode", code = "bad_response", status = res.status, provider = name,
      message = "the response is not JSON" .. (msg and (": " .. msg) or
                (" (content type " .. tostring(res.headers["content-type"]) .. ")")),
      body = res.body, retryable = false,
    }
  end
  return value
end

--- Seconds before retry `attempt`: exponential, with jitter, at most 30 s,
-- and never sooner than the server's Retry-After.
function _M.backoff(o, attempt, retry_after)
  local delay = min(30, o.backoff * 2 ^ (attempt - 1)) * (0.5 + random() * 0.5)
  if retry_after then delay = max(delay, retry_after) end
  return delay
end

--- Sends a prepared request with retries; user, res or nil, err.
function _M.send(entry, req, o)
  local name, transport = entry.decl.name, o.transport
  local started = transport.now()
  local attempts, refreshed = 0, false
  while true do
    attempts = attempts + 1
    local res, code, msg = transport.send(req)
    local err
    if not res then
      err = errors.transport(name, code, msg)
    elseif res.status >= 200 and res.status < 300 then
      local user, derr = _M.decode(name, res)
      if user ~= nil then
        res.body = nil
        res.attempts = attempts
        res.elapsed = transport.now() - started
        return user, res
      end
      err = derr
    else
      local body = res.body
      if is_json(res.headers["content-type"]) then
        body = core.json_decode(res.body) or res.body
      end
      err = errors.from_response(entry.decl, res, body)
      -- A fetched token that the server refuses is fetched again, once.
      if res.status == 401 and not refreshed and auth.can_refresh(entry, o) then
        refreshed = true
        local token, terr = auth.token(entry, o, true)
        if not token then return nil, auth.redact(terr, o) end
        req.headers["Authorization"] = "Bearer " .. token
        attempts = attempts - 1
        err = nil
      end
    end
    if err then
      err.attempts = attempts
      if not (err.retryable and attempts <= o.retries) then
        return nil, auth.redact(err, o)
      end
      transport.sleep(_M.backoff(o, attempts, err.retry_after))
    end
  end
end

return _M
