--- A configured client of one provider: the request it prepares from
-- resolved options (users/options.lua), and sending with retries and token
-- refresh. `users.lua` is the public face; what to do with an answer is
-- users/response.lua's.
local core = require "users.core"
local errors = require "users.errors"
local auth = require "users.auth"
local encodings = require "users.encodings"
local headers = require "users.headers"
local response = require "users.response"
local budget = require "users.budget"

local _M = {}

local type, pairs, ipairs, tostring, pcall = type, pairs, ipairs, tostring, pcall

-- Base URLs found good, trimmed: a program uses a few, again and again
-- (bounded, for one that makes them up).
local good_bases, n_good_bases = {}, 0

local NONE = {}

-- The text before and after a path's one parameter, split once per
-- provider ("/v1/users/{user_id}": "/v1/users/", ""); false when the path
-- has another shape (the general way then builds it).
local around = setmetatable({}, { __mode = "k" })
local function path_around(decl)
  local a = around[decl]
  if a == nil then
    local before, pname, after = decl.path:match("^([^{]*){([%w_]+)}([^{]*)$")
    a = pname == decl.params[1][1] and { before, after } or false
    around[decl] = a
  end
  if a then return a[1], a[2] end
end

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
  local params = decl.params or NONE
  local one = params[1]
  local before, after
  if #params == 1 and not one.option and type(id) ~= "table" then before, after = path_around(decl) end
  if before then -- the common case: one parameter, the id; no loop, no gsub
    local text, msg = core.check_param(entry.compiled, one[1], id)
    if not text then return nil, errors.invalid(name, { [one[1]] = { msg } }, "invalid user id") end
    return base .. before .. core.escape(text) .. after
  end
  local values, bad = {}, nil
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

-- The last header map made for each provider, with what it was made from
-- (never changed once made: transports read it, and the curl transport
-- reuses the lines it made from it). A loop of calls, and every request of
-- a bulk run, sends the same map.
local made = setmetatable({}, { __mode = "k" })

-- Whether m was made from what `o` holds now, the token aside.
local function made_from(m, entry, o, content_type)
  if m.content_type ~= content_type or not rawequal(m.user_agent, o.user_agent) then return false end
  for _, option in pairs(entry.decl.headers or NONE) do
    if not rawequal(m.options[option], o[option]) then return false end
  end
  local h, seen = o.headers, m.headers
  if h == nil or seen == nil then return h == seen end
  local n = 0
  for k, v in pairs(h) do
    if not rawequal(seen[k], v) then return false end
    n = n + 1
  end
  return n == m.n_headers
end

-- The request's headers: ours, the provider's, the token's, then the
-- caller's, each replacing one of the same name in any case. Returns the
-- map, or nil, err.
local function request_headers(entry, o, content_type)
  local m = made[entry]
  if m and made_from(m, entry, o, content_type) then
    local token, terr = auth.token(entry, o)
    if terr then return nil, terr end
    if token == m.token then return m.map end
  end
  local h, token_or_err = make_headers(entry, o, content_type)
  if not h then return nil, token_or_err end
  m = { map = h, token = token_or_err, content_type = content_type, user_agent = o.user_agent, options = {} }
  for _, option in pairs(entry.decl.headers or NONE) do m.options[option] = o[option] end
  if type(o.headers) == "table" then
    m.headers, m.n_headers = {}, 0
    for k, v in pairs(o.headers) do m.headers[k], m.n_headers = v, m.n_headers + 1 end
  end
  made[entry] = m
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
    client_cert = o.client_cert, client_key = o.client_key,
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
