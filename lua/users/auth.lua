--- Credentials: the bearer token given in the options, or one fetched with
-- a key id and secret (lexful) and kept until shortly before it expires.
-- The fetch is a plan (the hook shape of lua/README, "A provider's update
-- as steps"): its steps run as steps of the item that needs the token, in
-- users/lifecycle.lua, never on a side path.
local core = require "users.core"
local errors = require "users.errors"
local tokens = require "users.tokens"

local _M = {}

local type, tonumber, tostring = type, tonumber, tostring
local min, max, floor = math.min, math.max, math.floor

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
      local byte = floor(acc / 2 ^ bits)
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

--- The token request the declaration gives for these options (lexful's
-- key pair), or nil: the token is then `opts.token` or none.
function _M.request(entry, o)
  return entry.decl.token_request and entry.decl.token_request(o) or nil
end

--- The token the options give, or nil (none, or one to fetch): what the
-- command checks before it runs (users/cli/config.lua).
function _M.token(_, o) return o.token end

--- Whether a 401 can be cured by fetching a new token.
function _M.can_refresh(entry, o)
  return not o.token and _M.request(entry, o) ~= nil
end

-- The token in a token response, and how long to keep it; or nil, err.
local function read(provider, body, res)
  local token = type(body) == "table" and (body.token or body.access_token or body.jwt)
  if type(token) ~= "string" or token == "" then
    return nil, errors.new { kind = "decode", code = "bad_response", provider = provider,
                             status = res.status, retryable = false,
                             message = "token response has no token" }
  end
  local ttl = lifetime(body, token)
  -- Refresh a little before expiry: a tenth of the lifetime, at most 60 s.
  return token, ttl - min(60, ttl / 10)
end

local function usable(t, refused) return t and t ~= refused and refused ~= true end

-- Another caller holds the fetch lock: look again a little later, at most
-- until its lock would have expired.
local function wait_for_other(call, s)
  if core.now() + s.step >= s.give_up then
    return "fail", errors.new { kind = "transport", code = "timeout", provider = call.provider,
                                retryable = true, waiting_for = "token",
                                message = "another caller's token request did not end in time" }
  end
  local step = s.step
  s.step = min(step * 2, 0.1)
  return "wait", step, "token"
end

--- The token plan. `call.entry` and `call.opts` name the account;
-- `call.refused` is a token the server refused with a 401 (a new one is
-- fetched unless someone already has), or true (fetch anew). Done with
-- the token; `call.fetched` says whether this item fetched it.
function _M.plan(call, user, res)
  local s, o = call.state, call.opts
  if call.step == 1 then
    s.cache, s.step = tokens.cache(call.entry, o), 0.005
    s.give_up = core.now() + o.timeout + 2
    call.on_end = function() if s.owner then s.cache:unlock(s.owner) end end
  end
  if s.owner then -- the token request's outcome
    local owner = s.owner
    s.owner = nil
    local token, ttl_or_err
    if user == nil then
      res.message = "token request failed: " .. tostring(res.message)
      ttl_or_err = res
    else
      token, ttl_or_err = read(call.provider, user, res)
      if token then s.cache:set(token, max(0.001, ttl_or_err)) end
    end
    s.cache:unlock(owner)
    if not token then return "fail", ttl_or_err end
    call.fetched = true
    return "done", token
  end
  local t, err = s.cache:get()
  if err then return "fail", err end
  if usable(t, call.refused) then return "done", t end
  local owner, lerr = s.cache:lock(o.timeout + 1)
  if lerr then return "fail", lerr end
  if not owner then return wait_for_other(call, s) end
  t = s.cache:get() -- kept while we took the lock?
  if usable(t, call.refused) then
    s.cache:unlock(owner)
    return "done", t
  end
  s.owner = owner
  local spec = _M.request(call.entry, o)
  return "send", { method = spec.method, path = spec.path, headers = spec.headers, json = spec.json,
                   template = spec.path, auth = false, budget = false,
                   idempotent = true } -- a token fetched twice is no harm
end

return _M
