/* The interpreter `make asan` runs the suite with: a small lua(1) built
 * with AddressSanitizer and UndefinedBehaviorSanitizer and linked against
 * the system's liblua5.4, so that the sanitizer runtime is in this process
 * (and the users.core it loads, built the same way) and in no other: the
 * shells, curl and nginx the specs start stay plain programs.
 *
 *   asan_lua script [args]
 *
 * As lua.c does: the global `arg` holds the script at 0, its arguments at
 * 1..n and this interpreter at -1; the arguments are the chunk's `...` too;
 * the collector runs in generational mode, as 5.4's lua.c sets it; an error
 * is printed with its traceback and the exit status is 1. Only what the
 * specs use: no options, no LUA_INIT, no interactive mode.
 *
 * One difference: C modules stay loaded until the process ends (dlclose
 * below does nothing). lua_close unloads them, and with users.core gone
 * libcurl and OpenSSL would go too: what they keep for the whole process
 * would become unreachable, so leaks, and a real leak's stack could not
 * name the module's functions any more. */
#include <stdio.h>
#include <stdlib.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

static const char *progname = "lua";

/* Interposes libc's for liblua's loadlib.c (the link exports it). */
int dlclose(void *handle);
int dlclose(void *handle) {
  (void)handle;
  return 0;
}

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Everything that can raise runs here, under main's lua_pcall. */
static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  int i, handler, status;
  luaL_openlibs(L);
#if LUA_VERSION_NUM >= 504
  lua_gc(L, LUA_GCGEN, 0, 0);
#endif
  lua_createtable(L, argc - 2, 2);
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - 1);
  }
  lua_setglobal(L, "arg");
  if (luaL_loadfile(L, argv[1]) != LUA_OK) return lua_error(L);
  lua_pushcfunction(L, traceback);
  lua_insert(L, -2);
  handler = lua_gettop(L) - 1;
  luaL_checkstack(L, argc, "too many arguments");
  for (i = 2; i < argc; i++) lua_pushstring(L, argv[i]);
  status = lua_pcall(L, argc - 2, 0, handler);
  if (status != LUA_OK) return lua_error(L); /* the message has its traceback */
  lua_pushboolean(L, 1);
  return 1;
}

int main(int argc, char **argv) {
  lua_State *L;
  int status;
  if (argv[0]) progname = argv[0];
  if (argc < 2) {
    fprintf(stderr, "usage: %s script [args]\n", progname);
    return 1;
  }
  if (!(L = luaL_newstate())) {
    fprintf(stderr, "%s: cannot create state: not enough memory\n", progname);
    return 1;
  }
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  status = lua_pcall(L, 2, 1, 0);
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "%s: %s\n", progname, msg ? msg : "(error object is not a string)");
  }
  lua_close(L);
  return status == LUA_OK ? EXIT_SUCCESS : EXIT_FAILURE;
}
