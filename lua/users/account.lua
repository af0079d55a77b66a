--- An account's name in a budget store: its provider, its base URL (as
-- given) and its account id (lexful), or else a digest of its credential,
-- never a secret itself. The rate gate (users/budget.lua) and the token
-- cache (users/tokens.lua) key their store entries with it.
local _M = {}

local rawget, pcall, require, tostring = rawget, pcall, require, tostring
local format = string.format

local function hex(bin)
  return (bin:gsub(".", function(c) return format("%02x", c:byte()) end))
end

--- SHA-1 as hex: nginx's own inside nginx, luaossl's elsewhere (the same
-- digest, so that nginx and plain Lua hosts name an account alike); nil
-- when neither is there (then only the local store can be used).
do
  local ngx = rawget(_G, "ngx")
  if ngx and ngx.sha1_bin then
    _M.sha1 = function(s) return hex(ngx.sha1_bin(s)) end
  else
    local ok, digest = pcall(require, "openssl.digest")
    if ok then _M.sha1 = function(s) return hex(digest.new("sha1"):final(s)) end end
  end
end
local sha1 = _M.sha1

-- Digests of the credentials seen lately. A pure function's memo: an entry
-- never goes stale; the table is emptied past 256 entries (a program that
-- makes up credentials). It spares a SHA-1 in Lua per call with a budget.
local digests, n_digests = {}, 0

--- The digest naming a credential (32 hex digits); the text itself without
-- SHA-1, whose key then never leaves this Lua state's memory.
function _M.digest(s)
  local d = digests[s]
  if d then return d end
  if not sha1 then return s end
  if n_digests >= 256 then digests, n_digests = {}, 0 end
  d = sha1("lua-users\0" .. s):sub(1, 32)
  digests[s], n_digests = d, n_digests + 1
  return d
end

local function credential(o)
  if o.token then return "token\n" .. o.token end
  if o.key_id then return "key\n" .. o.key_id .. "\n" .. tostring(o.key_secret) end
  return ""
end

--- The key of the account's rate and pauses.
function _M.budget_key(entry, o)
  local who = o.account_id and ("account " .. tostring(o.account_id)) or ("credential " .. _M.digest(credential(o)))
  return "lua-users:budget:" .. entry.decl.name .. ":" .. tostring(o.base_url) .. ":" .. who
end

--- The key of the account's token.
function _M.token_key(entry, o)
  return "lua-users:token:" .. entry.decl.name .. ":" .. tostring(o.base_url) .. ":" .. tostring(o.account_id)
    .. ":" .. _M.digest(credential(o))
end

return _M
