--- The token cache: an account's token (lexful's JWT, fetched with a key
-- pair) kept in the account's budget store, so that every caller sharing
-- the store shares one token and one fetch; a shared budget keeps it in
-- the store unless its `tokens` is "local", else this Lua state does.
-- Fetching is users/auth.lua's token plan, a step of the item that needs
-- the token (users/lifecycle.lua): this module only keeps it, and the lock
-- under which one caller fetches while the others wait.
local account = require "users.account"
local budget = require "users.budget"
local stores = require "users.budget.stores"

local _M = {}

local setmetatable = setmetatable

local Cache = {}
Cache.__index = Cache

--- The cache of the account these options name.
function _M.cache(entry, o)
  local spec = assert(stores.parse(o.budget))
  if not spec.tokens then spec = stores.LOCAL_SPEC end
  local key = account.token_key(entry, o)
  return setmetatable({ access = budget.access(entry, o, spec), key = key, lock_key = key .. ":lock" }, Cache)
end

--- The token kept, or nil; nil, err when the store cannot be used.
function Cache:get() return self.access:run("get", self.key) end

--- Keeps a token for `ttl` seconds (best effort).
function Cache:set(token, ttl) return self.access:run("set", self.key, token, ttl) end

--- The fetch lock, held for at most `ttl` seconds: an owner, false when
-- another caller holds it, or nil, err.
function Cache:lock(ttl) return self.access:run("lock", self.lock_key, ttl) end

function Cache:unlock(owner) return self.access:run("unlock", self.lock_key, owner) end

return _M
