--- A configured client of one provider: its options, checked at the front
-- door and resolved in layers, the request it prepares, and sending with
-- retries and token refresh. `users.lua` is the public face; what to do
-- with an answer is users/response.lua's.
local core = require "users.core"
local errors = require "users.errors"
local auth = require "users.auth"
local encodings = require "users.encodings"
local headers = require "users.headers"
local response = require "users.response"
local transports = require "users.transport"
local budget = require "users.budget"

local _M = {}

local type, pairs, ipairs, tostring, pcall, select = type, pairs, ipairs, tostring, pcall, select
local getenv = os.getenv
local concat = table.concat
local unpack = table.unpack or unpack -- 5.1 and LuaJIT


-- Options every provider takes, with the check each value must pass: nil
-- when it may be used, else what is wrong. Numbers must be finite and in
-- range (a C cast of math.huge is undefined): a day at most for timeouts,
-- 1 GiB at most for a response.
local function number_in(lo, hi, integer)
  return function(v)
    if type(v) ~= "number" or v ~= v or v <= lo or v > hi or (integer and v % 1 ~= 0) then
      return ("must be a %s above %s and at most %s"):format(
        integer and "whole number" or "number", tostring(lo), tostring(hi))
    end
  end
end
local function of(t) return function(v) if type(v) ~= t then return "must be a " .. t end end end
local str = of("string")
local option_checks = {
  token = str, base_url = str, account_id = str, workspace = str,
  key_id = str, key_secret = str, ca_file = str, user_agent = str,
  timeout = number_in(0, 86400), connect_timeout = number_in(0, 86400),
  max_body = number_in(0, 2 ^ 30, true),
  backoff = function(v)
    if type(v) ~= "number" or not (v >= 0 and v <= 3600) then return "must be a number from 0 to 3600" end
  end,
  max_retry_after = function(v)
    if type(v) ~= "number" or not (v >= 0 and v <= 86400) then return "must be a number from 0 to 86400" end
  end,
  retries = function(v)
    if type(v) ~= "number" or v < 0 or v > 100 or v % 1 ~= 0 then return "must be a whole number from 0 to 100" end
  end,
  headers = of("table"),
  encoding = function(v, entry)
    if not entry.encodings[v] then
      return ("is '%s', which %s does not take (it takes: %s)"):format(
        tostring(v), entry.decl.name, concat(entry.decl.encodings or { "json" }, ", "))
    end
  end,
  transport = function(v) return transports.problem(v) end,
  -- One budget per account (users/budget.lua).
  rate = number_in(0, 1e6),
  burst = number_in(0, 10000, true),
  budget = function(v, _, fname) return budget.problem(v, fname) end,
  budget_fallback = function(v)
    if v ~= "fail" and v ~= "local" then return 'must be "fail" or "local"' end
  end,
  deadline = number_in(0, 86400),
  -- "auto": HTTP/2 where the server offers it over TLS, else HTTP/1.1.
  http_version = function(v)
    if v ~= "auto" and v ~= "1.1" and v ~= "h2c" then return 'must be "auto", "1.1" or "h2c"' end
  end,
}
_M.option_checks = option_checks

--- Checks an options table for the provider of `entry`: nil, or the
-- message of a misuse (unknown key, wrong type or value) for the caller to
-- raise at its caller's line.
function _M.check_options(entry, opts, fname, argn)
  if opts == nil then return nil end
  if type(opts) ~= "table" then
    return ("bad argument #%d to '%s' (table expected, got %s)"):format(argn, fname, type(opts))
  end
  for k, v in pairs(opts) do
    local check = option_checks[k]
    if not check then
      return ("bad argument #%d to '%s' (unknown option '%s')"):format(argn, fname, tostring(k))
    end
    local problem = check(v, entry, fname)
    if problem then
      return ("bad argument #%d to '%s' (option '%s' %s)"):format(argn, fname, k, problem)
    end
  end
end

-- A credential is a token or a key pair, taken whole from one source.
local CREDENTIALS = { "token", "key_id", "key_secret" }
local IS_CREDENTIAL = { token = true, key_id = true, key_secret = true }

local function holds_credential(layer)
  for _, k in ipairs(CREDENTIALS) do
    if layer[k] ~= nil then return true end
  end
  return false
end

-- The options the environment may give a provider, with their variables
-- ({ "token", "LEXFUL_TOKEN" }, ...), made once per provider.
local env_of = setmetatable({}, { __mode = "k" })
local function env_names(entry)
  local list = env_of[entry]
  if list then return list end
  local prefix = entry.decl.name:upper() .. "_"
  list = {}
  for _, k in ipairs { "token", "base_url", unpack(entry.decl.options or {}) } do
    list[#list + 1] = { k, prefix .. k:upper() }
  end
  env_of[entry] = list
  return list
end

--- Layers of options, last wins, then the environment, then the provider.
-- The credential comes whole from the highest layer that has one (a
-- call's options, the client's, users.configure's, then the environment):
-- a client's own key pair is never mixed with, or beaten by, a token from
-- elsewhere; a client made without a credential falls back.
function _M.resolve(entry, ...)
  local o, credential = {}, nil
  for i = 1, select("#", ...) do
    local layer = select(i, ...)
    if layer then for k, v in pairs(layer) do o[k] = v end end
    if layer and holds_credential(layer) then credential = layer end
  end
  for _, k in ipairs(CREDENTIALS) do o[k] = credential and credential[k] end
  for _, e in ipairs(env_names(entry)) do
    local k = e[1]
    if o[k] == nil and not (credential and IS_CREDENTIAL[k]) then
      local v = getenv(e[2])
      if v and v ~= "" then o[k] = v end
    end
  end
  o.base_url = o.base_url or entry.decl.base_url
  o.encoding = o.encoding or (entry.decl.encodings or { "json" })[1]
  o.timeout = o.timeout or 30
  o.connect_timeout = o.connect_timeout or 10
  o.retries = o.retries or 0
  o.backoff = o.backoff or 0.5
  o.max_body = o.max_body or 8 * 1024 * 1024
  o.transport = o.transport or transports.default()
  -- A call's deadline counts from here: its token request, budget waits,
  -- retries and back-offs included (a bulk run counts one per item).
  if o.deadline then o._deadline = core.now() + o.deadline end
  return o
end

-- Base URLs found good, trimmed: a program uses a few, again and again
-- (bounded, for one that makes them up).
local good_bases, n_good_bases = {}, 0

-- The URL, or nil and an error. Every path parameter is validated by the C
-- core and percent-encoded: no id can change the path, query or a header.
local function build_url(entry, id, o)
  local decl, name = entry.decl, entry.decl.name
  local base = o.base_url
  if not base then
    return nil, errors.config(name, "no base URL for " .. name .. ": set opts.base_url or "
                                      .. name:upper() .. "_BASE_URL")
  end
  local trimmed = good_bases[base]
  if not trimmed then
    if not base:match("^https?://[^%s/?#]+[^%s?#]*$") or base:find("[\r\n%z]") then
      return nil, errors.config(name, "base URL must be http(s)://host[/path], without query or spaces")
    end
    if base:match("^https?://([^/]*)"):find("@", 1, true) then
      -- the token would go to the host after the @
      return nil, errors.config(name, "base URL must not hold user information (user@host)")
    end
    trimmed = base:gsub("/+$", "")
    if n_good_bases < 64 then good_bases[base], n_good_bases = trimmed, n_good_bases + 1 end
  end
  base = trimmed
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
    if v == nil and p.option then
      return nil, errors.config(name, "no " .. p.option .. " for " .. name .. ": set opts." .. p.option
                                        .. " or " .. name:upper() .. "_" .. p.option:upper())
    end
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

local function bad_header(name, problem)
  return nil, errors.invalid(name, { headers = { problem } }, "bad header: " .. problem)
end

local function make_headers(entry, o, content_type)
  local name = entry.decl.name
  local h, p = headers.ours(content_type, o.user_agent)
  if not h then return bad_header(name, p) end
  for header, option in pairs(entry.decl.headers or {}) do
    local v = o[option]
    if v == nil then
      return nil, errors.config(name, "no " .. option .. " for " .. name .. ": set opts." .. option
                                        .. " or " .. name:upper() .. "_" .. option:upper())
    end
    p = headers.set(h, header, v)
    if p then return bad_header(name, p) end
  end
  local token, terr = auth.token(entry, o)
  if terr then return nil, terr end
  if not token then
    return nil, errors.config(name, "no token for " .. name .. ": set opts.token or "
                                      .. name:upper() .. "_TOKEN")
  end
  if headers.set(h, "Authorization", "Bearer " .. token) then
    return nil, errors.config(name, "the token has CR, LF or NUL")
  end
  for k, v in pairs(o.headers or {}) do
    p = headers.set(h, k, v)
    if p then return bad_header(name, p) end
  end
  return h, token
end

-- The request's headers: ours, the provider's, the token's, then the
-- caller's, each replacing one of the same name in any case. Returns the
-- map, or nil, err. The map is made once for a token and content type and
-- kept on `o` (every request of a bulk run sends the same): transports
-- read it and never change it.
local function request_headers(entry, o, content_type)
  if o._headers and o._headers_type == content_type then
    local token, terr = auth.token(entry, o)
    if terr then return nil, terr end
    if token == o._headers_token then return o._headers end
  end
  local h, token_or_err = make_headers(entry, o, content_type)
  if not h then return nil, token_or_err end
  o._headers, o._headers_token, o._headers_type = h, token_or_err, content_type
  return h
end

--- Validates and prepares a request; nothing is sent (but a token may be
-- fetched). Returns req or nil, err. `o` is resolved and checked.
function _M.prepare(entry, id, fields, o)
  local name = entry.decl.name
  local ok, body, problems, reason = pcall(encodings[o.encoding], entry.compiled, fields)
  if not ok then
    return nil, errors.invalid(name, {}, "cannot encode the update: " .. tostring(body))
  elseif reason == "empty" then
    return nil, errors.invalid(name, {}, "an update needs at least one field")
  elseif not body then
    return nil, errors.invalid(name, problems or {})
  end
  local url, err = build_url(entry, id, o)
  if not url then return nil, err end
  local h, herr = request_headers(entry, o, body.content_type)
  if not h then return nil, herr end
  return {
    method = entry.decl.method, url = url, headers = h,
    body = body.body or stream(body.segments), segments = body.segments,
    body_length = body.length or #body.body,
    timeout = o.timeout, connect_timeout = o.connect_timeout,
    ca_file = o.ca_file, max_body = o.max_body, http_version = o.http_version,
  }
end

--- Puts a new token on a prepared request whose token the server refused
-- (fetched once for everyone who shares the account's budget).
function _M.refresh(entry, req, o)
  local refused = (headers.get(req.headers, "Authorization") or ""):match("^Bearer (.+)$") or true
  local token, err = auth.token(entry, o, refused)
  if not token then return nil, auth.redact(err, o) end
  local h = headers.copy(req.headers) -- the one it had is shared (request_headers)
  headers.set(h, "Authorization", "Bearer " .. token)
  req.headers = h
  return true
end

--- Sends a prepared request with retries; user, res or nil, err. Each
-- attempt waits for the account's budget slot (users/budget.lua) first; a
-- deadline bounds the whole.
function _M.send(entry, req, o)
  local transport = o.transport
  local started = transport.now()
  local deadline = o._deadline
  local gate = budget.gate(entry, o)
  local attempts, refreshed, last = 0, false, nil
  while true do
    if gate then
      local ok, err = gate:wait(transport, deadline, o.timeout)
      if not ok then
        err.attempts = attempts
        return nil, auth.redact(err, o)
      end
    end
    if deadline and not budget.clamp(req, o, deadline, transport.now()) then
      return nil, auth.redact(budget.deadline_error(entry.decl.name, o.deadline, "budget", last), o)
    end
    attempts = attempts + 1
    local v = response.judge(entry, o, attempts, refreshed, transport.send(req))
    if v.pause and gate then gate:pause(v.pause) end
    if v.action == "done" then
      v.res.attempts = attempts
      v.res.elapsed = transport.now() - started
      return v.user, v.res
    elseif v.action == "fail" then
      if deadline and v.err.code == "timeout" and transport.now() >= deadline - 0.01 then
        return nil, auth.redact(budget.deadline_error(entry.decl.name, o.deadline, "answer", last), o)
      end
      return nil, v.err
    elseif v.action == "refresh" then
      refreshed, attempts = true, attempts - 1
      local ok, err = _M.refresh(entry, req, o)
      if not ok then return nil, err end
    else
      last = v.err
      if deadline and transport.now() + v.delay > deadline then
        return nil, auth.redact(budget.deadline_error(entry.decl.name, o.deadline, "retry", last), o)
      end
      transport.sleep(v.delay)
    end
  end
end

return _M
