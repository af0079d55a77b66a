-- Loaded by busted before the specs: the C core built for this Lua.
local cpath = os.getenv("LUA_USERS_CPATH")
if not cpath then
  local v = _VERSION:match("%d+%.%d+")
  if jit then v = "jit" end
  cpath = "build/" .. v .. "/?.so"
end
package.cpath = cpath .. ";" .. package.cpath
package.path = "lua/?.lua;./?.lua;" .. package.path

-- LUA_USERS_GC=aggressive (make asan sets it): the collector runs all the
-- time, a new cycle as soon as one ends, each step large, so that a value
-- the C core uses without keeping it anchored is collected under it (and
-- the sanitizers or valgrind say so). 5.4 (and 5.2) may be generational:
-- the pause and step apply to incremental mode.
if os.getenv("LUA_USERS_GC") == "aggressive" then
  pcall(collectgarbage, "incremental")
  collectgarbage("setpause", 0)
  collectgarbage("setstepmul", 1000)
end
