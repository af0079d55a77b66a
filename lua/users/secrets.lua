--- Secrets, scrubbed once: users/lifecycle.lua calls `scrub` as an item's
-- outcome leaves the module (its error, its response headers), and
-- nothing else in the module redacts. What is secret: the options' token
-- and key secret, the credential of a caller's own Authorization header,
-- and every token the item sent (fetched ones included: an answer to a
-- request sent before a refresh may echo the old one).
local core = require "users.core"
local base64 = require("users.encodings").base64

local _M = {}

local type, pairs, ipairs = type, pairs, ipairs
local sort = table.sort

local NONE = {}

-- Header names that say their value is a credential.
local SECRET_NAME = { "key", "token", "secret", "auth", "password", "signature", "session", "cookie" }

--- Whether a header's name says its value is a credential (Api-Key,
-- X-Auth-Token, Cookie, ...).
function _M.secret_name(name)
  name = name:lower()
  for _, word in ipairs(SECRET_NAME) do
    if name:find(word, 1, true) then return true end
  end
  return false
end
local secret_name = _M.secret_name

-- The list of the common case, a token given, made again at each `of`
-- (its users, `scrub` and `scrub_flat`, call no Lua code of anyone's).
local ONE = {}

-- The general case. (Apart from `of`: a closure in it would keep LuaJIT
-- from compiling the common case.)
local function all(o, sent)
  local list, seen = {}, {}
  local function add(s)
    if type(s) == "string" and s ~= "" and not seen[s] then
      seen[s] = true
      list[#list + 1] = s
    end
  end
  for _, s in ipairs(sent or NONE) do add(s) end
  add(o.key_secret)
  add(o.token)
  add(o.password)
  if o.username and o.password then add(base64(o.username .. ":" .. o.password)) end
  for k, v in pairs(o.headers or NONE) do -- a caller's own credentials
    if type(k) == "string" and type(v) == "string" and secret_name(k) then
      add(v)
      add(v:match("^%s*%S+%s+(.-)%s*$"))
    end
  end
  sort(list, function(a, b) return #a > #b end)
  return list
end

--- The secrets of options `o` and of the tokens in `sent` (a list, or
-- nil): non-empty strings, longest first (a secret inside a longer one
-- goes last), no repeats.
function _M.of(o, sent)
  if sent or o.key_secret or o.headers or o.password then return all(o, sent) end
  local token = o.token -- the common case: a token given
  if not token or token == "" then return NONE end
  ONE[1] = token
  return ONE
end

local function scrub_string(v, secrets)
  for _, secret in ipairs(secrets) do
    local i = 1
    while true do
      local a, b = v:find(secret, i, true)
      if not a then break end
      v = v:sub(1, a - 1) .. "[REDACTED]" .. v:sub(b + 1)
      i = a + 10
    end
  end
  return v
end

-- Every string of a table, keys as well as values, at any depth (a table
-- met twice is scrubbed once).
local function scrub_table(t, secrets, seen)
  if seen[t] then return end
  seen[t] = true
  local renamed
  for k, v in pairs(t) do
    if type(v) == "string" then
      t[k] = scrub_string(v, secrets)
    elseif type(v) == "table" then
      scrub_table(v, secrets, seen)
    end
    if type(k) == "string" then
      local clean = scrub_string(k, secrets)
      if clean ~= k then renamed = renamed or {}; renamed[k] = clean end
    end
  end
  for k, clean in pairs(renamed or NONE) do -- after the traversal, which a new key would upset
    t[clean], t[k] = t[k], nil
  end
end

--- Replaces every secret of `secrets` (as `of` gives them) wherever it
-- appears in a table: an error's message, fields and body, keys and
-- values, at any depth. Returns t.
function _M.scrub(t, secrets)
  if #secrets > 0 then scrub_table(t, secrets, {}) end
  return t
end

--- The same for a map of strings to strings (response headers), looked
-- through in C first: it is scrubbed only when a secret is there.
function _M.scrub_flat(h, secrets)
  if #secrets > 0 and core.mentions(h, secrets) then scrub_table(h, secrets, {}) end
  return h
end

return _M
