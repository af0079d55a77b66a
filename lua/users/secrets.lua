--- Secrets, scrubbed once: users/lifecycle.lua calls `scrub` as an item's
-- outcome leaves the module (its error, its response headers), and
-- nothing else in the module redacts. What is secret: the options' token
-- and key secret, the credential of a caller's own Authorization header,
-- and every token the item sent (fetched ones included: an answer to a
-- request sent before a refresh may echo the old one).
--
-- Only text that came from outside is scrubbed: an error's body, a
-- provider's fields, the parts of its message users/errors.lua marks as a
-- server's, a transport's or a store's words, and response headers. An
-- error's keys, its codes and the module's own words are never changed.
-- A secret is scrubbed wherever it appears whole, and so is an echo of
-- its first PREFIX (8) or more characters (`invalid token tok-SECR...`).
-- A secret shorter than MIN (3) characters cannot be told from ordinary
-- text (a token "t" is in every word with a t, and has 62 values): it is
-- not scrubbed, and the module says so once (a warning); no real
-- credential is that short.
local core = require "users.core"
local errors = require "users.errors"
local log = require "users.log"
local base64 = require("users.encodings").base64

local _M = {}

local type, pairs, ipairs = type, pairs, ipairs
local sort = table.sort

--- The shortest secret scrubbed, in characters.
_M.MIN = 3
--- An echo of a secret's first PREFIX characters or more is scrubbed too.
_M.PREFIX = 8

local REDACTED = "[REDACTED]"
local NONE = { needles = {} }

-- What a text is searched for: a secret, or its first PREFIX characters.
local function needle(s) return #s > _M.PREFIX and s:sub(1, _M.PREFIX) or s end

local warned = false
local function too_short()
  if warned then return end
  warned = true
  log.warn(("a credential shorter than %d characters cannot be told from ordinary text: it is not scrubbed"
    .. " from what servers send back (errors, headers)"):format(_M.MIN))
end

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

-- The list of the common case, a token given, kept while the token is the
-- same (its users, `scrub` and `scrub_flat`, call no Lua code of anyone's).
local ONE = { needles = {} }

-- The general case. (Apart from `of`: a closure in it would keep LuaJIT
-- from compiling the common case.) `guess`: a caller's header named like a
-- credential, which may be none: too short, it is left out in silence.
local function all(o, sent)
  local list, seen = {}, {}
  local function add(s, guess)
    if type(s) ~= "string" or s == "" or seen[s] then return end
    seen[s] = true
    if #s >= _M.MIN then list[#list + 1] = s elseif not guess then too_short() end
  end
  for _, s in ipairs(sent or NONE) do add(s) end
  add(o.key_secret)
  add(o.token)
  add(o.password)
  if o.username and o.password then add(base64(o.username .. ":" .. o.password)) end
  for k, v in pairs(o.headers or NONE) do -- a caller's own credentials
    if type(k) == "string" and type(v) == "string" and secret_name(k) then
      add(v, true)
      add(v:match("^%s*%S+%s+(.-)%s*$"), true)
    end
  end
  sort(list, function(a, b) return #a > #b end)
  local needles = {}
  for i, s in ipairs(list) do needles[i] = needle(s) end
  list.needles = needles
  return list
end

--- The secrets of options `o` and of the tokens in `sent` (a list, or
-- nil): strings of MIN characters or more, longest first (a secret inside
-- a longer one goes last), no repeats; `list.needles` holds what a text
-- is searched for (each one's first PREFIX characters).
function _M.of(o, sent)
  if sent or o.key_secret or o.headers or o.password then return all(o, sent) end
  local token = o.token -- the common case: a token given
  if not token or token == "" then return NONE end
  if #token < _M.MIN then too_short() return NONE end
  if ONE[1] ~= token then ONE[1], ONE.needles[1] = token, needle(token) end
  return ONE
end

-- v with each secret, and each echo of a secret's first PREFIX characters
-- or more, replaced.
local function scrub_string(v, secrets)
  local needles = secrets.needles
  for k, secret in ipairs(secrets) do
    local first, i = needles[k], 1
    while true do
      local a = v:find(first, i, true)
      if not a then break end
      local n = #first -- as far as the echo follows the secret
      while n < #secret and v:byte(a + n) == secret:byte(n + 1) do n = n + 1 end
      v = v:sub(1, a - 1) .. REDACTED .. v:sub(a + n)
      i = a + #REDACTED
    end
  end
  return v
end

-- Every string of a table, keys as well as values, at any depth (a table
-- met twice is scrubbed once): text from outside, all of it.
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

-- An error's own keys, whose values are the module's words (codes,
-- numbers, names): never scrubbed. `fields` is the module's own for an
-- update refused before sending, a provider's otherwise.
local OWN = { kind = true, code = true, status = true, message = true, retry_after = true, retryable = true,
              attempts = true, provider = true, waiting_for = true, pointer = true, cause = true }

-- Every occurrence of `text` in `s` (plain) replaced by `by`.
local function replace(s, text, by)
  local i, out = 1, {}
  while true do
    local a, b = s:find(text, i, true)
    if not a then break end
    out[#out + 1] = s:sub(i, a - 1) .. by
    i = b + 1
  end
  out[#out + 1] = s:sub(i)
  return table.concat(out)
end

--- Replaces every secret of `secrets` (as `of` gives them) wherever it
-- appears in what an error holds from outside: its body and a provider's
-- fields (keys and values, at any depth), any value the module did not
-- write, and the parts of its message users/errors.lua marked (`outside`).
-- Its own keys and values, and the rest of its message, stay as they are.
-- Returns err.
function _M.scrub(err, secrets)
  if #secrets == 0 then return err end
  local seen = {}
  for k, v in pairs(err) do
    if not OWN[k] and (k ~= "fields" or err.kind ~= "invalid") then
      if type(v) == "string" then
        err[k] = scrub_string(v, secrets) -- an existing key: allowed while traversing
      elseif type(v) == "table" then
        scrub_table(v, secrets, seen)
      end
    end
  end
  local message = err.message
  if type(message) == "string" then
    for _, text in ipairs(errors.said(err) or NONE) do
      local clean = scrub_string(text, secrets)
      if clean ~= text then message = replace(message, text, clean) end
    end
    err.message = message
  end
  return err
end

--- The same for a map of strings to strings (response headers, all from
-- outside), looked through in C first: it is scrubbed only when a secret,
-- or an echo of its first characters, is there.
function _M.scrub_flat(h, secrets)
  if #secrets > 0 and core.mentions(h, secrets.needles) then scrub_table(h, secrets, {}) end
  return h
end

return _M
