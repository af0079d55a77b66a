--- The budget store of one Lua state (`budget = "local"`, the default): every
-- call in this process (every request of one nginx worker) shares each
-- account's rate, pause and token. It follows the store contract written in
-- users/budget.lua; times are this host's monotonic clock, in seconds.
local core = require "users.core"

local max, huge = math.max, math.huge
local now = core.now

local _M = { name = "local", shared = false }

-- Per key: the theoretical arrival time of the next request (GCRA), the end
-- of a pause, and values (tokens, locks) with their expiry.
local tat, pause, values = {}, {}, {}

--- A slot for the next request: true, seconds to wait (the slot is taken),
-- or false, seconds to wait when that is more than max_wait (nothing taken).
function _M.reserve(_, key, interval, tolerance, max_wait)
  local t = now()
  local d
  if interval > 0 then
    local b = max(tat[key] or 0, t)
    d = max(t, b - tolerance)
    if d - t > max_wait then return false, d - t end
    tat[key] = b + interval
  else
    d = max(t, pause[key] or 0)
    if d - t > max_wait then return false, d - t end
  end
  return true, d - t
end

--- Pauses the account for `seconds`; the next slots come after it.
function _M.pause(_, key, seconds, tolerance)
  local p = now() + seconds
  if p > (pause[key] or 0) then pause[key] = p end
  tat[key] = max(tat[key] or 0, p + tolerance)
  return true
end

--- For a shared store's hand-overs (users/budget.lua): no slot before `t`
-- (this host's clock), and how far ahead the slots given here reach.
function _M.seed(_, key, t)
  if t and t > (tat[key] or 0) then tat[key] = t end
end

function _M.ahead(_, key)
  return max(0, (tat[key] or 0) - now())
end

--- Seconds the pause still lasts (0 when none).
function _M.paused(_, key)
  return max(0, (pause[key] or 0) - now())
end

local function live(key)
  local v = values[key]
  if v and v.expires > now() then return v end
  values[key] = nil
end

--- A stored value (a token), or nil.
function _M.get(_, key)
  local v = live(key)
  return v and v.value
end

--- Stores a value for ttl seconds.
function _M.set(_, key, value, ttl)
  values[key] = { value = value, expires = now() + (ttl or huge) }
  return true
end

local serial = 0

--- Takes a lock for ttl seconds: an owner, or false when it is held.
function _M.lock(_, key, ttl)
  if live(key) then return false end
  serial = serial + 1
  values[key] = { value = serial, expires = now() + ttl }
  return serial
end

--- Releases a lock its owner holds.
function _M.unlock(_, key, owner)
  local v = live(key)
  if v and v.value == owner then values[key] = nil end
  return true
end

return _M
