/* users.core: the C half of the "users" module. Lua-visible functions:
 *   compile, validate, check_param             provider.c, validate.c
 *   encode_json, encode_form, encode_multipart, escape, json_encode
 *   json_decode                                 decode_json.c
 *   engine                                      transfer.c
 *   now, sleep, list_dir, file_info, isatty, curl_version   (here) */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "buf.h"
#include "decode.h"
#include "encode.h"
#include "provider.h"
#include "transfer.h"
#include "validate.h"

int encode_json_value(lua_State *L);
void users_term_open(lua_State *L);   /* term.c */
void users_digest_open(lua_State *L); /* digest.c */

static int core_now(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

static int core_sleep(lua_State *L) {
  double s = luaL_checknumber(L, 1);
  struct timespec ts;
  if (s <= 0) return 0;
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
  return 0;
}

/* list_dir(path) -> { name, ... } | nil, message: to find provider files. */
static int core_list_dir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  DIR *d = opendir(path);
  struct dirent *ent;
  int i = 0;
  if (!d) {
    lua_pushnil(L);
    lua_pushstring(L, strerror(errno));
    return 2;
  }
  lua_newtable(L);
  while ((ent = readdir(d)) != NULL) {
    if (ent->d_name[0] == '.') continue;
    lua_pushstring(L, ent->d_name); /* may raise (memory): d would leak, once */
    lua_rawseti(L, -2, ++i);
  }
  closedir(d);
  return 1;
}

/* file_info(file) -> size, sniffed content type | nil, message */
static int core_file_info(lua_State *L) {
  long long size;
  const char *ctype, *err;
  if (!file_info(L, 1, &size, &ctype, &err)) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  lua_pushnumber(L, (lua_Number)size);
  if (ctype) lua_pushstring(L, ctype); else lua_pushnil(L);
  return 2;
}

/* isatty(fd): for the progress bar, drawn only on a terminal. */
static int core_isatty(lua_State *L) {
  lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
  return 1;
}

static int core_curl_version(lua_State *L) {
  lua_pushstring(L, curl_version());
  return 1;
}

/* These share the state's scratch buffer (upvalue 1): no allocation per call. */
static const luaL_Reg with_scratch[] = {
    {"encode_json", encode_json},
    {"encode_form", encode_form},
    {"encode_multipart", encode_multipart},
    {"escape", encode_escape},
    {"json_encode", encode_json_value},
    {"json_decode", decode_json},
    {NULL, NULL}};

static const luaL_Reg functions[] = {
    {"compile", provider_compile},
    {"validate", validate_fields},
    {"check_param", validate_param},
    {"engine", engine_new},
    {"now", core_now},
    {"sleep", core_sleep},
    {"list_dir", core_list_dir},
    {"file_info", core_file_info},
    {"curl_version", core_curl_version},
    {"isatty", core_isatty},
    {NULL, NULL}};

static int curl_ready = 0;

/* The one symbol the module exports (the build hides the rest). */
#if defined(__GNUC__)
__attribute__((visibility("default")))
#endif
int luaopen_users_core(lua_State *L);
int luaopen_users_core(lua_State *L) {
  /* curl_global_init is not thread-safe: once, at load, before any handle. */
  if (!curl_ready) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      return luaL_error(L, "curl_global_init failed");
    curl_ready = 1;
  }
  transfer_open(L);
  users_newlib(L, functions);
  users_term_open(L);
  users_digest_open(L);
  {
    const luaL_Reg *r;
    buf_push_scratch(L);
    for (r = with_scratch; r->name; r++) {
      lua_pushvalue(L, -1);
      lua_pushcclosure(L, r->func, 1);
      lua_setfield(L, -3, r->name);
    }
    provider_push_meta(L);
    lua_pushcclosure(L, marshal_json, 2);
    lua_setfield(L, -2, "marshal_json");
  }
  luaL_newmetatable(L, ARRAY_MT);
  lua_pushliteral(L, "users.array");
  lua_setfield(L, -2, "__name");
  lua_setfield(L, -2, "array_mt");
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");
  lua_pushliteral(L, "0.1.0");
  lua_setfield(L, -2, "_VERSION");
  return 1;
}
