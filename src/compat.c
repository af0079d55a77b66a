#include <math.h>
#include <stdio.h>
#include <string.h>
#include "compat.h"

int users_tointeger(lua_State *L, int idx, long long *out) {
#if LUA_VERSION_NUM >= 503
  int ok = 0;
  lua_Integer i;
  if (lua_type(L, idx) != LUA_TNUMBER) return 0;
  i = lua_tointegerx(L, idx, &ok);
  if (!ok) return 0;
  *out = (long long)i;
  return 1;
#else
  lua_Number n;
  if (lua_type(L, idx) != LUA_TNUMBER) return 0;
  n = lua_tonumber(L, idx);
  if (n != floor(n) || n > 9007199254740992.0 || n < -9007199254740992.0)
    return 0;
  *out = (long long)n;
  return 1;
#endif
}

void users_pushinteger(lua_State *L, long long v) {
#if LUA_VERSION_NUM >= 503
  lua_pushinteger(L, (lua_Integer)v);
#else
  if (v > 9007199254740992LL || v < -9007199254740992LL) {
    char s[32];
    snprintf(s, sizeof s, "%lld", v);
    lua_pushstring(L, s);
  } else {
    lua_pushnumber(L, (lua_Number)v);
  }
#endif
}

void users_pushmeta(lua_State *L, const char *name, const luaL_Reg *methods,
                    lua_CFunction gc) {
  if (luaL_newmetatable(L, name)) {
    if (methods) {
      lua_newtable(L);
      users_setfuncs(L, methods);
      lua_setfield(L, -2, "__index");
    }
    if (gc) {
      lua_pushcfunction(L, gc);
      lua_setfield(L, -2, "__gc");
#if LUA_VERSION_NUM >= 504
      lua_pushcfunction(L, gc);
      lua_setfield(L, -2, "__close");
#endif
    }
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
  }
}

void users_setmeta(lua_State *L, const char *name, const luaL_Reg *methods,
                   lua_CFunction gc) {
  users_pushmeta(L, name, methods, gc);
  lua_setmetatable(L, -2);
}

void *users_checkud(lua_State *L, int idx, const char *name) {
  return luaL_checkudata(L, idx, name);
}
