--- The budget store of every host (`budget = "redis://HOST:PORT[/DB]"`): one
-- Redis. It follows the store contract written in users/budget.lua; each
-- decision is one server-side script, atomic in Redis, on Redis's clock
-- (TIME), so the hosts' clocks never matter.
--
-- Inside nginx, where cosockets work, it speaks through lua-nginx-redis
-- (`resty.redis`, Debian's `nginx.redis`) and nginx's connection pools;
-- elsewhere through Debian's lua-redis over LuaSocket, one connection per
-- Lua state, every operation bounded by a short timeout (it blocks the
-- caller for a loopback round trip, some tens of microseconds).
local _M = {}
_M.__index = _M

local type, tonumber, tostring, pcall, rawget, require = type, tonumber, tostring, pcall, rawget, require
local floor, min = math.floor, math.min
local format = string.format

-- Seconds one Redis operation may take (connect, send, read).
_M.TIMEOUT = 0.5

-- The scripts: KEYS[1] is the account's hash (t: the theoretical arrival
-- time of the next request, p: the end of a pause, u: when either was last
-- written, all microseconds of Redis's clock). Numbers are written with
-- %.0f: Redis's Lua 5.1 would print microseconds since 1970 with 14
-- digits. Replies are one integer. A clock that stepped back (an NTP step,
-- a failover to a replica whose clock is behind) finds u in its future:
-- the slot and the pause keep their distance from the last write, counted
-- from now, instead of lying that far ahead.
local PRELUDE = [[
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local v = redis.call('HMGET', KEYS[1], 't', 'p', 'u')
local tat, p, u = tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0
if now < u then
  tat, p = tat - (u - now), p - (u - now)
end
]]

-- The hash lives a minute past its last slot or pause.
local KEEP = [[
redis.call('PEXPIRE', KEYS[1], math.floor(math.max(0, math.max(tat, p) + tol - now) / 1000) + 60000)
]]

-- ARGV: interval, tolerance, max_wait (us). Returns the wait in us, taken
-- (>= 0), or -1 - wait when it is longer than max_wait (nothing taken).
local RESERVE = PRELUDE .. [[
local i, tol, maxw = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local d
if i > 0 then
  local b = math.max(tat, now)
  d = math.max(now, b - tol)
  if d - now > maxw then return -1 - (d - now) end
  tat = b + i
  redis.call('HSET', KEYS[1], 't', string.format('%.0f', tat), 'p', string.format('%.0f', p),
             'u', string.format('%.0f', now))
]] .. KEEP .. [[
else
  d = math.max(now, p)
  if d - now > maxw then return -1 - (d - now) end
end
return d - now
]]

-- ARGV: seconds (us), tolerance (us). The next slots come after the pause.
local PAUSE = PRELUDE .. [[
local s, tol = tonumber(ARGV[1]), tonumber(ARGV[2])
p = math.max(p, now + s)
tat = math.max(tat, p + tol)
redis.call('HSET', KEYS[1], 'p', string.format('%.0f', p), 't', string.format('%.0f', tat),
           'u', string.format('%.0f', now))
]] .. KEEP .. [[
return 1
]]

local PAUSED = PRELUDE .. [[
return math.max(0, p - now)
]]

-- A lock is released by its owner only.
local UNLOCK = [[
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
]]

local SCRIPTS = { reserve = RESERVE, pause = PAUSE, paused = PAUSED, unlock = UNLOCK }
local SHA = {} -- name -> SHA-1 of its text (EVALSHA), set by new()

---------------------------------------------------------------- clients

-- Debian's lua-redis is plain Lua installed for 5.1-5.3 only; on 5.4 the
-- 5.3 copy works as it is (LuaSocket is packaged for 5.4).
local function load_lua_redis()
  local ok, mod = pcall(require, "redis")
  if ok then return mod end
  local path = package.searchpath and package.searchpath("redis", "/usr/share/lua/5.3/?.lua")
  if path then
    local chunk = loadfile(path)
    if chunk then
      local lok, lmod = pcall(chunk, "redis")
      if lok and type(lmod) == "table" then
        package.loaded.redis = lmod
        return lmod
      end
    end
  end
  return nil, "budget " .. "redis:// outside nginx needs lua-redis and lua-socket (apt-get install lua-redis lua-socket)"
end

local function load_resty_redis()
  for _, name in ipairs { "resty.redis", "nginx.redis" } do
    local ok, mod = pcall(require, name)
    if ok then return mod end
  end
  return nil, "budget redis:// inside nginx needs lua-nginx-redis (resty.redis)"
end

-- Inside nginx, in the phases where cosockets work.
local function cosockets()
  local ngx = rawget(_G, "ngx")
  if not (ngx and ngx.socket and ngx.get_phase) then return false end
  local phase = ngx.get_phase()
  return phase == "rewrite" or phase == "access" or phase == "content" or phase == "timer"
    or phase == "ssl_cert" or phase == "ssl_session_fetch" or phase == "preread"
end

local function message(err)
  err = tostring(err):gsub("^.-redis%.lua:%d+: ", ""):gsub("^redis error: ", "")
  return err
end

-- Runs commands on a lua-redis connection; f(conn) -> result | raises.
local function with_lua_redis(self, timeout, f, again)
  local mod, lerr = load_lua_redis()
  if not mod then return nil, lerr end
  local conn = self.conn
  local reused = conn ~= nil
  if not conn then
    local ok, c = pcall(mod.connect, { host = self.host, port = self.port, timeout = timeout })
    if not ok then return nil, message(c) end
    conn = c
    local sok, serr = pcall(function()
      if self.password then conn:auth(self.password) end
      if self.db ~= 0 then conn:select(self.db) end
    end)
    if not sok then
      pcall(conn.quit, conn)
      return nil, message(serr)
    end
    self.conn = conn
  else
    conn.network.socket:settimeout(timeout, "t")
  end
  local ok, res = pcall(f, conn)
  if not ok then
    local m = message(res)
    if not m:find("^NOSCRIPT") then -- a reply error leaves the connection usable
      pcall(function() conn.network.socket:close() end)
      self.conn = nil
      -- A kept connection may have died with a server since restarted: one
      -- more try on a new one.
      if reused and not again and m:find("^connection error") then
        return with_lua_redis(self, timeout, f, true)
      end
    end
    return nil, m
  end
  return res
end

local function with_resty_redis(self, timeout, f, again)
  local mod, lerr = load_resty_redis()
  if not mod then return nil, lerr end
  local red, err = mod:new()
  if not red then return nil, err end
  red:set_timeout(floor(timeout * 1000))
  local ok, cerr = red:connect(self.host, self.port, { pool = self.pool })
  if not ok then return nil, cerr end
  local reused = (red:get_reused_times() or 0) > 0
  if not reused then
    if self.password then
      local aok, aerr = red:auth(self.password)
      if not aok then red:close() return nil, aerr end
    end
    if self.db ~= 0 then
      local sok, serr = red:select(self.db)
      if not sok then red:close() return nil, serr end
    end
  end
  local res, rerr = f(red)
  if res == nil or res == false then
    if res == false then -- a reply error: the connection is fine
      red:set_keepalive(60000, 64)
    else
      red:close()
      if reused and not again then return with_resty_redis(self, timeout, f, true) end
    end
    return nil, rerr or "no reply"
  end
  red:set_keepalive(60000, 64)
  return res
end

-- One operation: f(conn) with the client of this phase, within `timeout`.
function _M:call(f, timeout)
  timeout = min(timeout or _M.TIMEOUT, _M.TIMEOUT)
  if timeout < 0.001 then timeout = 0.001 end
  if cosockets() then return with_resty_redis(self, timeout, f) end
  return with_lua_redis(self, timeout, f)
end

-- A script by name: EVALSHA, and EVAL when Redis does not have it (a
-- restarted server, SCRIPT FLUSH).
function _M:script(name, key, ...)
  local args = { ... }
  local res, err = self:call(function(c)
    return c:evalsha(SHA[name], 1, key, (unpack or table.unpack)(args)) -- luacheck: ignore 113
  end)
  if res == nil and err and tostring(err):find("^NOSCRIPT") then
    res, err = self:call(function(c)
      return c:eval(SCRIPTS[name], 1, key, (unpack or table.unpack)(args)) -- luacheck: ignore 113
    end)
  end
  if res == nil then return nil, message(err) end
  return res
end

---------------------------------------------------------------- the store

--- A store for a parsed budget URL { host, port, db, password, url }, or
-- nil and why not. `sha1` gives the hex SHA-1 of a string.
function _M.new(spec, sha1)
  for name, text in pairs(SCRIPTS) do SHA[name] = SHA[name] or sha1(text) end
  return setmetatable({
    host = spec.host, port = spec.port, db = spec.db or 0, password = spec.password,
    name = spec.url, shared = true, pool = "lua-users:" .. spec.url .. ":" .. (spec.db or 0),
  }, _M)
end

local function us(seconds) return format("%.0f", seconds * 1e6) end

function _M:reserve(key, interval, tolerance, max_wait)
  local res, err = self:script("reserve", key, us(interval), us(tolerance),
                               us(max_wait < 1e9 and max_wait or 1e9))
  res = tonumber(res)
  if not res then return nil, err or "unexpected reply from Redis" end
  if res < 0 then return false, (-1 - res) / 1e6 end
  return true, res / 1e6
end

function _M:pause(key, seconds, tolerance)
  local res, err = self:script("pause", key, us(seconds), us(tolerance))
  if not res then return nil, err end
  return true
end

function _M:paused(key)
  local res, err = self:script("paused", key)
  if not res then return nil, err end
  return (tonumber(res) or 0) / 1e6
end

-- A string reply, or nil (no such key: nil from lua-redis, ngx.null from resty.redis).
local function value(v)
  if type(v) ~= "string" then return nil end
  return v
end

function _M:get(key)
  local res, err = self:call(function(c)
    local v, e = c:get(key)
    if v == nil and e == nil then return false end -- lua-redis: no such key
    return v, e
  end)
  if res == nil then return nil, message(err) end
  if res == false then return nil end
  return value(res)
end

local function ms(seconds) return tostring(floor(seconds * 1000) > 0 and floor(seconds * 1000) or 1) end

function _M:set(key, v, ttl)
  local res, err = self:call(function(c)
    if ttl then return c:set(key, v, "PX", ms(ttl)) end
    return c:set(key, v)
  end)
  if res == nil then return nil, message(err) end
  return true
end

local serial = 0

function _M:lock(key, ttl)
  serial = serial + 1
  local owner = tostring(serial) .. ":" .. tostring(math.random()):sub(3) .. ":" .. tostring(os.time())
  local res, err = self:call(function(c)
    local r, e = c:set(key, owner, "PX", ms(ttl), "NX")
    if r == nil and e == nil then return false end -- lua-redis: not set
    return r, e
  end)
  if res == nil then return nil, message(err) end
  if res == true or value(res) == "OK" then return owner end -- lua-redis: true; resty.redis: "OK"
  return false
end

function _M:unlock(key, owner)
  local res, err = self:script("unlock", key, owner)
  if res == nil then return nil, err end
  return true
end

return _M
