/* users.cli_core: the C half of the lua-users command and of bulk runs'
 * files, a module apart from users.core (which holds the request path and
 * is all an nginx worker loads). Each file registers its functions into the
 * module table on the top of the stack with its cli_*_open:
 *   term.c    term_width, trap_signals, signals
 *   digest.c  digest, digest_set (the journal)
 *   files.c   lock, kind (the journal, the paths a run writes)
 * Self-contained: lua.h and lauxlib.h only, no file of src/ above. */
#ifndef USERS_CLI_H
#define USERS_CLI_H

#include <lua.h>
#include <lauxlib.h>

#if LUA_VERSION_NUM < 502
#define cli_setfuncs(L, l) luaL_register((L), NULL, (l))
#else
#define cli_setfuncs(L, l) luaL_setfuncs((L), (l), 0)
#endif

#if LUA_VERSION_NUM < 504
#define cli_newuserdata(L, sz) lua_newuserdata((L), (sz))
#else
#define cli_newuserdata(L, sz) lua_newuserdatauv((L), (sz), 0)
#endif

/* Sets a metatable named `name` (made once per state: methods as its
 * __index, gc as __gc and, on 5.4, __close) on the value on top. */
void cli_setmeta(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction gc);

void cli_term_open(lua_State *L);
void cli_digest_open(lua_State *L);
void cli_files_open(lua_State *L);

#endif
