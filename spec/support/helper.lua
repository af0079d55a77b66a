-- Loaded by busted before the specs: the C core built for this Lua.
local cpath = os.getenv("LUA_USERS_CPATH")
if not cpath then
  local v = _VERSION:match("%d+%.%d+")
  if jit then v = "jit" end
  cpath = "build/" .. v .. "/?.so"
end
package.cpath = cpath .. ";" .. package.cpath
package.path = "lua/?.lua;./?.lua;" .. package.path

-- LUA_USERS_GC=aggressive (make asan sets it): the collector runs far more
-- often than by default, so that a value the C core uses without keeping it
-- anchored is collected under it (and the sanitizers or valgrind say so).
-- On 5.4, generational: a minor collection each time the heap grows by 1 %
-- (young, unanchored values go at once), a major one at 10 %; its cost
-- follows what is allocated, where a collector that never pauses
-- (setpause 0) costs the whole heap again and again (the 100 000-item bulk
-- spec would take hours). Elsewhere, incremental without a pause.
if os.getenv("LUA_USERS_GC") == "aggressive" then
  if _VERSION == "Lua 5.4" then
    collectgarbage("generational", 1, 10)
  else
    collectgarbage("setpause", 100)
    collectgarbage("setstepmul", 400)
  end
end
