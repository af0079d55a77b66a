/* users.cli_core: the module entry. It lists each file's cli_*_open (see
 * cli.h) and holds the one helper they share, cli_setmeta. */
#include "cli.h"

void cli_setmeta(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction gc) {
  if (luaL_newmetatable(L, name)) {
    lua_newtable(L);
    cli_setfuncs(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
#if LUA_VERSION_NUM >= 504
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__close");
#endif
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__name");
  }
  lua_setmetatable(L, -2);
}

static void (*const opens[])(lua_State *L) = {cli_term_open, cli_digest_open, cli_files_open, NULL};

/* The one symbol the module exports (the build hides the rest). */
#if defined(__GNUC__)
__attribute__((visibility("default")))
#endif
int luaopen_users_cli_core(lua_State *L);
int luaopen_users_cli_core(lua_State *L) {
  int i;
  lua_newtable(L);
  for (i = 0; opens[i]; i++) opens[i](L);
  return 1;
}
