--- A request's credentials, as its declaration asks for them. A
-- declaration compiled from OpenAPI has `security` (users/openapi/
-- security.lua): alternatives, of which the first the caller's
-- credentials satisfy is sent; each alternative needs one or more of
--   bearer   the token, as `Authorization: Bearer`
--   basic    `username` and `password`, as `Authorization: Basic`
--   header   an API key in a header: the token when nothing else in the
--            alternative takes it, else the header from `opts.headers`
--            (or from the option the declaration's `headers` maps it to)
-- A declaration without `security` (a hand-written one) sends its token as
-- `Authorization: Bearer`, and needs one.
-- Also here, as they are made with the credentials: the header parameters
-- a document requires (checked on the request's whole header map: the
-- credentials, the declaration's header options or the caller's headers
-- may fill them), and its JSON media type when it is not
-- application/json (application/merge-patch+json, ...).
local errors = require "users.errors"
local headers = require "users.headers"
local encodings = require "users.encodings"

local _M = {}

local ipairs, pairs = ipairs, pairs
local concat = table.concat

local NONE = {}

local function variable(name, option) return name:upper() .. "_" .. option:upper() end

local function can_token(entry, o)
  return o.token ~= nil or (entry.decl.token_request ~= nil and entry.decl.token_request(o) ~= nil)
end

-- A header's value: from the option the declaration's `headers` maps it
-- to, or from the caller's headers.
local function header_value(entry, o, header)
  local lower = header:lower()
  for name, option in pairs(entry.decl.headers or NONE) do
    if name:lower() == lower then return o[option], false end
  end
  return o.headers and headers.get(o.headers, header), true
end

-- Which requirement of an alternative the token serves: its first bearer,
-- else its first API key header.
local function token_slot(alt)
  for i, r in ipairs(alt) do if r.kind == "bearer" then return i end end
  for i, r in ipairs(alt) do if r.kind == "header" then return i end end
end

-- nil when the caller's credentials satisfy the alternative, else what
-- is missing (and the header, when it is one).
local function missing(entry, o, alt)
  local name, slot = entry.decl.name, token_slot(alt)
  for i, r in ipairs(alt) do
    if r.kind == "unsupported" then return r.why end
    if i == slot or r.kind == "bearer" then
      if not can_token(entry, o) then
        return "no token for " .. name .. ": set opts.token or " .. variable(name, "token")
          .. (r.kind == "header" and (" (sent as " .. r.header .. ")") or "")
      end
    elseif r.kind == "basic" then
      if not (o.username and o.password) then
        return ("no username and password for %s: set opts.username and opts.password, or %s and %s")
          :format(name, variable(name, "username"), variable(name, "password"))
      end
    elseif r.kind == "header" and header_value(entry, o, r.header) == nil then
      return ('no %s for %s: set opts.headers["%s"]'):format(r.header, name, r.header), r.header
    end
  end
end

-- The first alternative the credentials satisfy (an empty one, needing
-- nothing, only when no other is), or nil, a config error and the header
-- it lacks (when it is one).
local function choose(entry, o)
  local first, header, anonymous = nil, nil, #entry.decl.security == 0 -- security: [] needs nothing
  for _, alt in ipairs(entry.decl.security) do
    if #alt == 0 then
      anonymous = true
    else
      local why, lacks = missing(entry, o, alt)
      if not why then return alt end
      if not first then first, header = why, lacks end
    end
  end
  if anonymous then return NONE end
  return nil, errors.config(entry.decl.name, first or ("no way to authenticate to " .. entry.decl.name)), header
end

local function required_message(name)
  return ('the %s header is required: set opts.headers["%s"]'):format(name, name)
end

-- Whether the header `name` will be set for options o, the alternative
-- alt chosen: by the caller's headers, an option the declaration maps to
-- it, or one of the alternative's API key headers.
local function filled(entry, o, alt, name)
  if header_value(entry, o, name) ~= nil then return true end
  local lower = name:lower()
  for _, r in ipairs(alt) do
    if r.kind == "header" and r.header:lower() == lower then return true end
  end
  return false
end

-- One requirement's header, set in h (nil: set by the caller's headers);
-- returns the secret it carries, or nil, err. `token`: the one the item
-- carries (given, or fetched by the lifecycle), or nil.
local function put(entry, o, h, r, token_here, token)
  if token_here or r.kind == "bearer" then
    if not token then return nil, errors.config(entry.decl.name, "no token for " .. entry.decl.name) end
    local header = r.kind == "bearer" and "Authorization" or r.header
    if headers.set(h, header, r.kind == "bearer" and "Bearer " .. token or token) then
      return nil, errors.config(entry.decl.name, "the token has CR, LF or NUL")
    end
    return token
  elseif r.kind == "basic" then
    if o.username:find(":", 1, true) then
      return nil, errors.config(entry.decl.name, "the username has a ':' (HTTP basic cannot send it)")
    end
    local b = encodings.base64(o.username .. ":" .. o.password)
    if headers.set(h, "Authorization", "Basic " .. b) then
      return nil, errors.config(entry.decl.name, "the username or password has CR, LF or NUL")
    end
    return o.username .. ":" .. o.password
  end
  return (header_value(entry, o, r.header)) -- a key among the caller's headers: users/secrets.lua scrubs it
end

-- The alternative's headers set in h (nil h: none set, what they carry
-- only); returns one string of what they carry (what the header map made
-- from them depends on), or nil, err.
local function credentials(entry, o, h, alt, token)
  local slot, carried = token_slot(alt), {}
  for i, r in ipairs(alt) do
    local v, err = put(entry, o, h or {}, r, i == slot, token)
    if err then return nil, err end
    carried[#carried + 1] = v
  end
  return concat(carried, "\n")
end

--- What the caller's credentials lack for this declaration, as a
-- sentence, or nil when they are enough: checked before anything is sent
-- (users.settings, for the command). A token that a key pair fetches
-- counts as given. The second value names the header lacking, when it
-- is one (a required header parameter, an API key of a second scheme).
function _M.problem(entry, o)
  local decl = entry.decl
  local alt = NONE
  if decl.security == nil then
    if not can_token(entry, o) then
      return "no token for " .. decl.name .. ": set opts.token or " .. variable(decl.name, "token")
    end
  else
    local err, header
    alt, err, header = choose(entry, o)
    if not alt then return err.message, header end
  end
  for _, name in ipairs(decl.required_headers or NONE) do
    if not filled(entry, o, alt, name) then return required_message(name), name end
  end
end

--- After the request's headers are all set (ours, the declaration's, the
-- credentials', the caller's) in h: nil, or a config error naming a
-- header parameter the document requires that none of them set.
function _M.unfilled(entry, h)
  for _, name in ipairs(entry.decl.required_headers or NONE) do
    if headers.get(h, name) == nil then return errors.config(entry.decl.name, required_message(name)) end
  end
end

local function legacy_bearer(entry, h, token)
  local name = entry.decl.name
  if not token then
    return nil, errors.config(name, "no token for " .. name .. ": set opts.token or " .. variable(name, "token"))
  end
  if headers.set(h, "Authorization", "Bearer " .. token) then
    return nil, errors.config(name, "the token has CR, LF or NUL")
  end
  return token
end

--- The declaration's credentials, for a description: its alternatives,
-- each a list of `{ kind = "bearer" | "basic" | "header" | "unsupported",
-- header = name (an API key's), token = true (what the token fills) }`
-- (a declaration without `security` sends its token as a bearer).
function _M.describe(decl)
  local out = {}
  for i, alt in ipairs(decl.security or { { { kind = "bearer" } } }) do
    local slot, list = token_slot(alt), {}
    for j, r in ipairs(alt) do
      list[j] = { kind = r.kind, header = r.header, token = (j == slot or r.kind == "bearer") or nil }
    end
    out[i] = list
  end
  return out
end

--- The header that carries the token for these options, and its value for
-- `token`: a refreshed token goes where the first one went.
function _M.token_header(entry, o, token)
  if entry.decl.security ~= nil then
    local alt = choose(entry, o)
    local r = alt and alt[token_slot(alt) or 0]
    if r and r.kind == "header" then return r.header, token end
  end
  return "Authorization", "Bearer " .. token
end

--- Sets in h the credentials' headers and the declaration's own (its
-- media type), `token` being the one the item carries (given, or fetched
-- by the lifecycle; nil when there is none); returns what `credential`
-- returns, or nil and a config error naming what is missing.
function _M.apply(entry, o, h, token)
  local decl = entry.decl
  local media = decl.content_types and decl.content_types[o.encoding]
  if media then h["Content-Type"] = media end
  if decl.security == nil then return legacy_bearer(entry, h, token) end
  local alt, err = choose(entry, o)
  if not alt then return nil, err end
  return credentials(entry, o, h, alt, token)
end

return _M
