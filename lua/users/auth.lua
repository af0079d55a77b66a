--- Credentials: the bearer token given in the options, or one fetched with
-- a key id and secret (lexful) and cached until shortly before it expires.
-- Secrets are scrubbed from every error that leaves the module.
local core = require "users.core"
local errors = require "users.errors"
local headers = require "users.headers"
local budget = require "users.budget"

local _M = {}

local type, tonumber, pairs, ipairs = type, tonumber, pairs, ipairs


local b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local function base64url_decode(s)
  local bits, out = 0, {}
  local acc = 0
  for i = 1, #s do
    local v = b64:find(s:sub(i, i), 1, true)
    if not v then return nil end
    acc = acc * 64 + (v - 1)
    bits = bits + 6
    if bits >= 8 then
      bits = bits - 8
      local byte = math.floor(acc / 2 ^ bits)
      out[#out + 1] = string.char(byte)
      acc = acc - byte * 2 ^ bits
    end
  end
  return table.concat(out)
end

-- Seconds the token lives: the server's expires_in, else the JWT's exp claim,
-- else the documented 60 minutes.
local function lifetime(body, token)
  local ttl = tonumber(body.expires_in)
  if ttl then return ttl end
  local payload = token:match("^[%w_-]+%.([%w_-]+)%.")
  local claims = payload and core.json_decode(base64url_decode(payload) or "")
  if type(claims) == "table" and tonumber(claims.exp) then
    return tonumber(claims.exp) - os.time()
  end
  return 3600
end

local function fetch(entry, o, spec)
  local name = entry.decl.name
  local h, p = headers.ours("application/json", o.user_agent)
  if not h then return nil, errors.config(name, p) end
  for k, v in pairs(spec.headers or {}) do
    p = headers.set(h, k, v)
    if p then return nil, errors.config(name, "credential header: " .. p) end
  end
  local base = (o.base_url or ""):gsub("/+$", "")
  local req = {
    method = spec.method, url = base .. spec.path, headers = h,
    body = core.json_encode(spec.json), timeout = o.timeout,
    connect_timeout = o.connect_timeout, ca_file = o.ca_file, max_body = o.max_body,
  }
  if o._deadline and not budget.clamp(req, o, o._deadline, core.now()) then
    return nil, budget.deadline_error(name, o.deadline, "token")
  end
  local res, msg, code = o.transport.send(req)
  if not res then return nil, errors.transport(name, code, "token request failed: " .. msg) end
  if res.status < 200 or res.status >= 300 then
    local err = errors.from_response(entry.decl, res)
    err.message = "token request failed: " .. err.message
    return nil, err
  end
  local body = core.json_decode(res.body)
  local token = type(body) == "table" and (body.token or body.access_token or body.jwt)
  if type(token) ~= "string" or token == "" then
    return nil, errors.new { kind = "decode", code = "bad_response", provider = name,
                             status = res.status, retryable = false,
                             message = "token response has no token" }
  end
  local ttl = lifetime(body, token)
  -- Refresh a little before expiry: a tenth of the lifetime, at most 60 s.
  local margin = math.min(60, ttl / 10)
  return { token = token, ttl = ttl - margin }
end

--- The token to send: opts.token, or one kept in the account's budget
-- (users/budget.lua: this Lua state's, or a shared one), fetched once for
-- everyone who shares it and kept until shortly before it expires.
-- `refused`: the token a server refused with a 401 (a new one is fetched,
-- unless someone already has), or true to fetch anew.
-- Returns token | nil (none configured) | nil, err.
local function fetched_token(entry, o, refused)
  local spec = entry.decl.token_request and entry.decl.token_request(o)
  if not spec then return nil end
  local token, err = budget.token(entry, o, function() return fetch(entry, o, spec) end, refused)
  if not token then return nil, _M.redact(err, o) end
  _M.used(o, token)
  return token
end

-- (The closure lives in fetched_token: one here would keep LuaJIT from
-- compiling the common case, a token given, on every request.)
function _M.token(entry, o, refused)
  if o.token then return o.token end
  return fetched_token(entry, o, refused)
end

--- Remembers a secret sent with these options, so that every error they
-- give is scrubbed of it: a bulk run's answers to requests sent with the
-- previous token, still valid, are scrubbed of that one too.
function _M.used(o, secret)
  local list = o._secrets
  if not list then list = {}; o._secrets = list end
  for _, s in ipairs(list) do if s == secret then return end end
  list[#list + 1] = secret
  o._redact = nil -- the list below is made again
end

--- Whether a 401 can be cured by fetching a new token.
function _M.can_refresh(entry, o)
  return not o.token and entry.decl.token_request ~= nil
    and entry.decl.token_request(o) ~= nil
end

-- { token } for each token seen lately (bounded): every call of a loop
-- sends the same, and needs no list of its own. Never changed by a caller.
local NONE, token_lists, n_token_lists = {}, {}, 0
local function token_list(token)
  local list = token_lists[token]
  if list then return list end
  if n_token_lists >= 64 then token_lists, n_token_lists = {}, 0 end
  list = errors.secrets { token }
  token_lists[token], n_token_lists = list, n_token_lists + 1
  return list
end

-- Every secret these options hold or have sent, longest first (a secret
-- inside a longer one goes last). Kept on `o` until another is sent: every
-- answer of a run is scrubbed, and the list is the same for all of them.
local function secrets(o)
  if o._redact then return o._redact end
  if not (o._secrets or o.key_secret or o.headers) then -- the common case: a token
    o._redact = o.token and token_list(o.token) or NONE
    return o._redact
  end
  local list = {}
  for _, s in ipairs(o._secrets or {}) do list[#list + 1] = s end
  list[#list + 1] = o.key_secret
  list[#list + 1] = o.token
  for k, v in pairs(o.headers or {}) do -- a caller's own credentials
    if type(k) == "string" and k:lower() == "authorization" and type(v) == "string" then
      list[#list + 1] = v:match("^%s*%S+%s+(.-)%s*$") or v
    end
  end
  o._redact = errors.secrets(list)
  return o._redact
end

--- Scrubs from an error every secret these options hold or have sent.
function _M.redact(err, o)
  return errors.redact(err, secrets(o))
end

--- Scrubs a response's header map (names and values) the same way.
function _M.redact_headers(h, o)
  return errors.redact_flat(h, secrets(o))
end

return _M
