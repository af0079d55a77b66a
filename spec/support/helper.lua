-- Loaded by busted before the specs: the C core built for this Lua.
local cpath = os.getenv("LUA_USERS_CPATH")
if not cpath then
  local v = _VERSION:match("%d+%.%d+")
  if jit then v = "jit" end
  cpath = "build/" .. v .. "/?.so"
end
package.cpath = cpath .. ";" .. package.cpath
package.path = "lua/?.lua;./?.lua;" .. package.path
