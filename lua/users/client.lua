--- The requests of one provider: its declaration's own request for an
-- item (fields validated and encoded, the URL built from its path and
-- parameters), and any request a plan sends completed with our headers,
-- the provider's, the token's, the caller's and the options' limits.
-- What happens to a request after that is users/lifecycle.lua's.
local core = require "users.core"
local errors = require "users.errors"
local encodings = require "users.encodings"
local headers = require "users.headers"
local security = require "users.security"

local _M = {}

local type, pairs, ipairs, tostring, tonumber, pcall, rawequal = type, pairs, ipairs, tostring, tonumber, pcall, rawequal

local NONE = {}

-- What the last request of each provider was made from, and what was made:
-- its base URL as given and trimmed (checked once), and its header map
-- (never changed once made: transports read it, and the curl transport
-- reuses the lines it made from it). A loop of calls and every request of
-- a bulk run send the same map. Each field is made again when what it was
-- made from differs from the options at hand, which are compared at every
-- request; weak keys: an entry's memo goes with it.
local made = setmetatable({}, { __mode = "k" })

local function memo(entry)
  local m = made[entry]
  if not m then
    m = {}
    made[entry] = m
  end
  return m
end

-- A URL's host and port.
local function server_of(url)
  local scheme, authority = url:match("^(%a+)://([^/]*)")
  if not scheme then return nil end
  local host, port = authority:match("^%[(.-)%]:?(%d*)$")
  if not host then host, port = authority:match("^([^:]*):?(%d*)$") end
  return host, tonumber(port) or (scheme:lower() == "https" and 443 or 80)
end

-- The base URL trimmed, or nil, err.
local function base_of(entry, o)
  local name, base = entry.decl.name, o.base_url
  if not base then
    return nil, errors.config(name, "no base URL for " .. name .. ": set opts.base_url or "
                                      .. name:upper() .. "_BASE_URL")
  end
  local m = memo(entry)
  if m.base == base then return m.trimmed end
  if not base:match("^https?://[^%s/?#]+[^%s?#]*$") or base:find("[\r\n%z]") then
    return nil, errors.config(name, "base URL must be http(s)://host[/path], without query or spaces")
  end
  if base:match("^https?://([^/]*)"):find("@", 1, true) then
    -- the token would go to the host after the @
    return nil, errors.config(name, "base URL must not hold user information (user@host)")
  end
  m.base, m.trimmed = base, (base:gsub("/+$", ""))
  m.address, m.port = server_of(m.trimmed)
  return m.trimmed
end

--- The server of the options' base URL: its host and port (for events
-- and metrics), or nil when the base URL is not usable.
function _M.server(entry, o)
  if not base_of(entry, o) then return nil end
  local m = made[entry]
  return m.address, m.port
end

-- The text before and after a path's one parameter ("/v1/users/{user_id}":
-- "/v1/users/", ""), kept on the entry (a declaration never changes once
-- compiled); false when the path has another shape.
local function path_around(entry)
  local a = entry.path_around
  if a == nil then
    local decl = entry.decl
    local before, pname, after = decl.path:match("^([^{]*){([%w_]+)}([^{]*)$")
    a = decl.params and pname == decl.params[1][1] and { before, after } or false
    entry.path_around = a
  end
  if a then return a[1], a[2] end
end

-- The value of each path parameter, validated and percent-encoded, or
-- nil, err. The C core validates: no id can change the path, query or a header.
local function param_values(entry, id, o)
  local name, params = entry.decl.name, entry.decl.params or NONE
  local values, bad = {}, nil
  for i, p in ipairs(params) do
    local pname, v = p[1], nil
    if type(id) == "table" then
      v = id[pname]
    elseif p.option then
      v = o[p.option]
    elseif i == #params then -- a plain id is the last parameter; the others come from options or an id table
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
  return values
end

--- The URL of `path` (the declaration's own by default) for this id: the
-- base URL and the path, each `{param}` its validated, percent-encoded
-- value. Returns the URL, or nil, err.
function _M.url(entry, id, o, path)
  local base, err = base_of(entry, o)
  if not base then return nil, err end
  local params = entry.decl.params or NONE
  local one = params[1]
  if not path and #params == 1 and not one.option and type(id) ~= "table" then
    local before, after = path_around(entry)
    if before then -- the common case: one parameter, the id; no loop, no gsub
      local text, msg = core.check_param(entry.compiled, one[1], id)
      if not text then return nil, errors.invalid(entry.decl.name, { [one[1]] = { msg } }, "invalid user id") end
      return base .. before .. core.escape(text) .. after
    end
  end
  local values, verr = param_values(entry, id, o)
  if not values then return nil, verr end
  local tail = (path or entry.decl.path):gsub("{([%w_]+)}", values)
  local left = tail:match("{[%w_]+}") -- values are escaped: a brace left is a name without a value
  if left then
    local name = entry.decl.name
    return nil, errors.invalid(name, {}, "the path " .. tostring(path) .. " names " .. left
      .. ", which is not a parameter of " .. name)
  end
  return base .. tail
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

--- The declaration's own request for an item: `{ method, url, body,
-- segments, body_length, content_type, template }`, or nil, err. Nothing
-- is sent, no token is asked for.
function _M.request(entry, id, fields, o)
  local name = entry.decl.name
  local ok, body, ctype, length, problems = pcall(encodings[o.encoding], entry.compiled, fields)
  if not ok then
    return nil, errors.invalid(name, {}, "cannot encode the update: " .. tostring(body))
  elseif not body then -- nil, message, code, problems
    return nil, errors.invalid(name, length == "invalid" and problems or {}, ctype)
  end
  local segments = type(body) == "table" and body or nil -- a file streams from disk
  local url, err = _M.url(entry, id, o)
  if not url then return nil, err end
  local m = made[entry]
  -- The fields every request has, named here (complete() sets them again:
  -- no new key); 16 at most, so that the table is small. Those of rarer
  -- requests (segments; ca_file, http_version, client_cert, client_key
  -- when given) are added when needed.
  local req = {
    method = entry.decl.method, url = url, template = entry.decl.path, address = m.address, port = m.port,
    body = body, body_length = segments and length or #body, content_type = ctype,
    headers = false, timeout = o.timeout, connect_timeout = o.connect_timeout,
    max_body = o.max_body, attempt = 0,
    own = true, -- the declaration's own update (users/ambiguous.lua marks it idempotent or not)
  }
  if segments then req.body, req.segments = stream(segments), segments end
  return req
end

---------------------------------------------------------------- headers

local function bad_header(name, problem)
  return nil, errors.invalid(name, { headers = { problem } }, "bad header: " .. problem)
end

-- A new header map: ours, the provider's, the token's, then the caller's
-- (with the token only), each replacing one of the same name in any case.
local function make_headers(entry, o, content_type, token, auth)
  local name = entry.decl.name
  local h, p = headers.ours(content_type, o.user_agent)
  if not h then return bad_header(name, p) end
  for header, option in pairs(entry.decl.headers or NONE) do
    local v = o[option]
    if v == nil then
      return nil, errors.config(name, "no " .. option .. " for " .. name .. ": set opts." .. option
                                        .. " or " .. name:upper() .. "_" .. option:upper())
    end
    p = headers.set(h, header, v)
    if p then return bad_header(name, p) end
  end
  if not auth then return h end
  local ok, err = security.apply(entry, o, h, token) -- the credentials the declaration asks for
  if not ok then return nil, err end
  for k, v in pairs(o.headers or NONE) do
    p = headers.set(h, k, v)
    if p then return bad_header(name, p) end
  end
  local lacking = security.unfilled(entry, h) -- the document's required header parameters
  if lacking then return nil, lacking end
  return h
end

-- Whether the memo's map was made from what `o` holds now (options are
-- read only once resolved: those it was made from, or others of the same
-- values; the caller's headers table is compared whole every time).
local function made_from(m, entry, o, content_type, token, auth)
  if m.content_type ~= content_type or m.token ~= token or m.auth ~= auth then return false end
  if m.o ~= o then
    if not (rawequal(m.user_agent, o.user_agent) and rawequal(m.username, o.username)
            and rawequal(m.password, o.password)) then return false end
    for _, option in pairs(entry.decl.headers or NONE) do
      if not rawequal(m.options[option], o[option]) then return false end
    end
    m.o = o
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

-- The header map of a request (the memo's when it was made from the
-- same), or nil, err.
local function header_map(entry, o, content_type, token, auth)
  local m = memo(entry)
  if m.map and made_from(m, entry, o, content_type, token, auth) then return m.map end
  local h, err = make_headers(entry, o, content_type, token, auth)
  if not h then return nil, err end
  m.map, m.token, m.auth, m.content_type, m.user_agent, m.o = h, token, auth, content_type, o.user_agent, o
  m.username, m.password = o.username, o.password
  m.options = {}
  for _, option in pairs(entry.decl.headers or NONE) do m.options[option] = o[option] end
  m.headers, m.n_headers = nil, nil
  if type(o.headers) == "table" then
    m.headers, m.n_headers = {}, 0
    for k, v in pairs(o.headers) do m.headers[k], m.n_headers = v, m.n_headers + 1 end
  end
  return h
end

--- Completes a request a plan sends (users/lifecycle.lua) into the one the
-- transport takes: its URL (`path` after the base URL), its body (`json`
-- encoded), its headers (ours, the provider's, `Authorization: Bearer
-- token` unless `spec.auth == false`, the request's own, the caller's) and
-- the options' limits. Changes and returns `spec`, or nil, err.
function _M.complete(entry, o, spec, token)
  local auth = spec.auth ~= false
  if not spec.url then
    local base, err = base_of(entry, o)
    if not base then return nil, err end
    spec.url = base .. (spec.path or "")
  end
  if not spec.address then spec.address, spec.port = server_of(spec.url) end
  if spec.json ~= nil then
    local ok, body = pcall(core.json_encode, spec.json)
    if not ok then
      return nil, errors.invalid(entry.decl.name, {}, "cannot encode the request's json: "
        .. tostring(body):gsub("^[^:]*:%d+: ", ""))
    end
    spec.body, spec.json = body, nil
    spec.content_type = spec.content_type or "application/json"
    spec.body_length = #spec.body
  end
  local h, err = header_map(entry, o, spec.content_type, auth and token or nil, auth)
  if not h then return nil, err end
  if spec.headers then -- the request's own, then the caller's again
    local own = spec.headers
    h = headers.copy(h)
    for k, v in pairs(own) do
      local p = headers.set(h, k, v)
      if p then return bad_header(entry.decl.name, p) end
    end
    if auth then for k, v in pairs(o.headers or NONE) do headers.set(h, k, v) end end
  end
  spec.headers = h
  spec.timeout, spec.connect_timeout, spec.ca_file = o.timeout, o.connect_timeout, o.ca_file
  spec.max_body, spec.http_version = o.max_body, o.http_version
  spec.client_cert, spec.client_key = o.client_cert, o.client_key
  return spec
end

--- A request's headers with a header set anew (a new map: the one it had
-- may be shared).
function _M.with_header(req, name, value)
  local h = headers.copy(req.headers)
  headers.set(h, name, value)
  req.headers = h
end

return _M
