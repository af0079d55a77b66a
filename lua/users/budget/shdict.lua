--- The budget store of one nginx (`budget = { shared_dict = "NAME" }`): a
-- `lua_shared_dict` that every worker sees. It follows the store contract
-- written in users/budget.lua, with atomic shared-dict operations only.
--
-- A rate is GCRA over one counter per account, the theoretical arrival time
-- of the next request in microseconds of the host's monotonic clock (the
-- same in every worker). Taking a slot is one atomic `incr` by the interval:
-- the value before it is this request's slot, so no two requests ever get
-- slots closer than an interval, however the workers interleave. The
-- counter only grows. When it lags behind the clock (an idle account) or
-- must jump past a pause, it is raised: one worker per value seen wins the
-- right to (`safe_add` of a key naming that value) and adds the gap; the
-- others look again a moment later. A pause is a second counter, raised
-- the same way.
local core = require "users.core"

local ngx = ngx -- luacheck: ignore 113 (only loaded inside nginx)

local floor, max = math.floor, math.max
local tostring = tostring

local _M = {}
_M.__index = _M

local function now_us() return floor(core.now() * 1e6) end

-- A pause while another worker raises a counter: it takes that worker a
-- few microseconds; a worker killed in between holds it one second.
local function yield(tries)
  if tries < 50 then return end
  local ok = pcall(ngx.sleep, 0.001)
  if not ok then return end -- a phase that cannot sleep: spin
end

--- A store over ngx.shared[name], or nil and why not.
function _M.new(name)
  local dict = ngx and ngx.shared and ngx.shared[name]
  if not dict then return nil, "there is no lua_shared_dict " .. tostring(name) .. " in nginx.conf" end
  return setmetatable({ dict = dict, name = "shared_dict " .. name, shared = true }, _M)
end

-- Raises counter `key` to at least `to`; returns its value, or nil, err.
local function raise(dict, key, to)
  for tries = 1, 2000 do
    local c = dict:get(key)
    if c == nil then
      local ok, err = dict:safe_add(key, to)
      if ok then return to end
      if err ~= "exists" then return nil, err end
    elseif c >= to then
      return c
    else
      local won, err = dict:safe_add(key .. "#" .. c, true, 1)
      if won then return dict:incr(key, to - c) end
      if err ~= "exists" then return nil, err end
    end
    yield(tries)
  end
  return nil, "busy: another worker holds the budget counter"
end

function _M:reserve(key, interval, tolerance, max_wait)
  local dict, t = self.dict, now_us()
  local wait_us = max_wait * 1e6
  if interval <= 0 then
    local p = dict:get(key .. "|p") or 0
    local d = max(0, p - t)
    return d <= wait_us, d / 1e6
  end
  local i, tol = floor(interval * 1e6), floor(tolerance * 1e6)
  local c, err = raise(dict, key .. "|t", t)
  if not c then return nil, err end
  if c - tol - t > wait_us then return false, (c - tol - t) / 1e6 end
  local g, ierr = dict:incr(key .. "|t", i)
  if not g then return nil, ierr end
  local d = max(0, g - i - tol - t)
  if d > wait_us then return false, d / 1e6 end -- others came first: that slot is lost
  return true, d / 1e6
end

function _M:pause(key, seconds, tolerance)
  local p = now_us() + floor(seconds * 1e6)
  local ok, err = raise(self.dict, key .. "|p", p)
  if not ok then return nil, err end
  ok, err = raise(self.dict, key .. "|t", p + floor(tolerance * 1e6))
  if not ok then return nil, err end
  return true
end

function _M:paused(key)
  local p = self.dict:get(key .. "|p") or 0
  return max(0, p - now_us()) / 1e6
end

function _M:get(key)
  return self.dict:get(key)
end

function _M:set(key, value, ttl)
  local ok, err = self.dict:safe_set(key, value, ttl or 0)
  if not ok then return nil, err end
  return true
end

local serial = 0

function _M:lock(key, ttl)
  serial = serial + 1
  local owner = ngx.worker.pid() .. ":" .. serial
  local ok, err = self.dict:safe_add(key, owner, ttl)
  if ok then return owner end
  if err == "exists" then return false end
  return nil, err
end

function _M:unlock(key, owner)
  if self.dict:get(key) == owner then self.dict:delete(key) end
  return true
end

return _M
