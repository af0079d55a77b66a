/* One source for Lua 5.1 (and LuaJIT), 5.3 and 5.4: the few API differences. */
#ifndef USERS_COMPAT_H
#define USERS_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 502
#define users_rawlen(L, i) lua_objlen((L), (i))
#define users_newlib(L, l) (lua_newtable(L), luaL_register((L), NULL, (l)))
#define users_setfuncs(L, l) luaL_register((L), NULL, (l))
#else
#define users_rawlen(L, i) lua_rawlen((L), (i))
#define users_newlib(L, l) luaL_newlib((L), (l))
#define users_setfuncs(L, l) luaL_setfuncs((L), (l), 0)
#endif

#if LUA_VERSION_NUM < 504
#define users_newuserdata(L, sz) lua_newuserdata((L), (sz))
#else
#define users_newuserdata(L, sz) lua_newuserdatauv((L), (sz), 0)
#endif

/* True when the value at idx is users.null: a NULL light userdata (the
 * value cjson.null and ngx.null have too). */
static inline int users_isnull(lua_State *L, int idx) {
  return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == NULL;
}

/* True when the value at idx is an integer that Lua represents exactly.
 * On 5.1/LuaJIT every number is a double: integral values up to 2^53 count. */
int users_tointeger(lua_State *L, int idx, long long *out);
/* Pushes an integer; on 5.1 one beyond 2^53 is pushed as its decimal string
 * so that 64-bit ids never lose digits. */
void users_pushinteger(lua_State *L, long long v);

/* A metatable created once per state, looked up by name: pushed, or set
 * on the value on top. */
void users_pushmeta(lua_State *L, const char *name, const luaL_Reg *methods,
                    lua_CFunction gc);
void users_setmeta(lua_State *L, const char *name, const luaL_Reg *methods,
                   lua_CFunction gc);
void *users_checkud(lua_State *L, int idx, const char *name);

#endif
