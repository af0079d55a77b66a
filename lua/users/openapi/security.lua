--- The operation's security requirements (its own `security`, else the
-- document's) as the declaration's `security`: a list of alternatives,
-- the first one the caller's credentials satisfy being used
-- (users/security.lua), each a list of what it needs at once:
--   { kind = "bearer" }            http bearer, oauth2, openIdConnect: the token
--   { kind = "basic" }             http basic: username and password
--   { kind = "header", header = "X-API-Key" }   an apiKey in a header
--   { kind = "unsupported", why = "..." }       never satisfied, said when nothing else is
-- An empty alternative needs nothing. A document that says nothing of
-- security sends a token when one is given, and nothing otherwise.
local context = require "users.openapi.context"
local pointer = require "users.openapi.pointer"

local _M = {}

local type, ipairs, tostring = type, ipairs, tostring
local fail, join = context.fail, pointer.join

local function scheme_of(ctx, name, at)
  local schemes = type(ctx.doc.components) == "table" and ctx.doc.components.securitySchemes
  local s = type(schemes) == "table" and schemes[name] or nil
  local sat = join("#/components/securitySchemes", name)
  if s == nil then fail(at, "security names the scheme '" .. tostring(name) .. "', which the document does not define") end
  s, sat = pointer.deref(ctx, s, sat)
  if type(s) ~= "table" then fail(sat, "a security scheme must be an object") end
  return s, sat
end

local function requirement(ctx, name, at)
  local s, sat = scheme_of(ctx, name, at)
  local r = { name = name, pointer = sat }
  local t = s.type
  if t == "http" and type(s.scheme) == "string" and s.scheme:lower() == "bearer"
     or t == "oauth2" or t == "openIdConnect" then
    r.kind = "bearer"
  elseif t == "http" and type(s.scheme) == "string" and s.scheme:lower() == "basic" then
    r.kind = "basic"
  elseif t == "apiKey" and s["in"] == "header" and type(s.name) == "string" then
    r.kind, r.header = "header", s.name
  else
    r.kind = "unsupported"
    if t == "apiKey" then
      r.why = ("an apiKey in the %s ('%s', %s) is not supported: the client sends credentials in headers only")
        :format(tostring(s["in"]), tostring(s.name), sat)
    else
      r.why = ("the security scheme %s (%s%s) is not supported"):format(
        sat, tostring(t), s.scheme and (" " .. tostring(s.scheme)) or "")
    end
  end
  return r
end

--- The declaration's `security` for the operation `op` at `at`, and
-- whether the basic scheme is among them (username and password then
-- become options).
function _M.compile(ctx, op, at)
  local list, lat = op.security, join(at, "security")
  if list == nil then list, lat = ctx.doc.security, "#/security" end
  if list == nil then return { { { kind = "bearer", name = "(none declared)" } }, {} }, false end
  if type(list) ~= "table" then fail(lat, "security must be a list") end
  local out, basic, usable, first_why = {}, false, false, nil
  for i, alt in ipairs(list) do
    local aat = join(lat, i - 1)
    if type(alt) ~= "table" then fail(aat, "a security requirement must be an object") end
    local reqs, ok = {}, true
    for _, name in ipairs(ctx:keys(alt)) do
      local r = requirement(ctx, name, join(aat, name))
      if r.kind == "unsupported" then ok, first_why = false, first_why or r.why end
      basic = basic or r.kind == "basic"
      reqs[#reqs + 1] = r
    end
    usable = usable or ok
    out[#out + 1] = reqs
  end
  if #out > 0 and not usable then fail(lat, first_why) end
  return out, basic
end

return _M
