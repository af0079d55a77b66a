/* The response header block into a Lua table (see headers.h). */
#include <string.h>
#include "headers.h"

/* A status line ("HTTP/1.1 200 OK"): compared only within the line, which
 * may be shorter than "HTTP/" and end where the bytes do. */
static int is_status(const char *p, const char *eol) {
  return eol - p >= 5 && memcmp(p, "HTTP/", 5) == 0;
}

/* Replaces each list in lists (name -> { value, ... }) by its values joined
 * with ", ", into t: one buffer per name, so the work is the bytes joined. */
static void join_lists(lua_State *L, int t, int lists) {
  lua_pushnil(L);
  while (lua_next(L, lists)) {
    luaL_Buffer b;
    int list = lua_gettop(L);
    size_t i, n = users_rawlen(L, list);
    lua_pushvalue(L, -2); /* the name, for the rawset below */
    luaL_buffinit(L, &b);
    for (i = 1; i <= n; i++) {
      if (i > 1) luaL_addlstring(&b, ", ", 2);
      lua_rawgeti(L, list, (int)i);
      luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    lua_rawset(L, t);
    lua_pop(L, 1); /* the list; the name stays for lua_next */
  }
}

void users_headers_push(lua_State *L, const char *p, size_t len) {
  const char *end;
  int t, lists;
  lua_newtable(L);
  if (len == 0) return; /* p may be NULL: no arithmetic on it */
  t = lua_gettop(L);
  lua_pushnil(L); /* lists: a repeated header's values, made at the first repeat */
  lists = t + 1;
  end = p + len;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p)), *colon, *v, *ve;
    char name[128];
    size_t n, i;
    if (!eol) eol = end;
    colon = memchr(p, ':', (size_t)(eol - p));
    n = colon ? (size_t)(colon - p) : 0;
    if (n > 0 && n < sizeof name && !is_status(p, eol)) {
      for (i = 0; i < n; i++) name[i] = (char)((p[i] >= 'A' && p[i] <= 'Z') ? p[i] + 32 : p[i]);
      v = colon + 1;
      ve = eol;
      while (v < ve && (*v == ' ' || *v == '\t')) v++;
      while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
      lua_pushlstring(L, name, n);
      lua_pushvalue(L, -1);
      lua_rawget(L, t);
      if (lua_isnil(L, -1)) { /* the first: name = value */
        lua_pop(L, 1);
        lua_pushlstring(L, v, (size_t)(ve - v));
        lua_rawset(L, t);
      } else { /* a repeat: into the name's list, joined once at the end */
        if (lua_isnil(L, lists)) {
          lua_newtable(L);
          lua_replace(L, lists);
        }
        lua_pushvalue(L, -2);
        lua_rawget(L, lists);
        if (lua_isnil(L, -1)) {
          lua_pop(L, 1);
          lua_createtable(L, 4, 0);
          lua_pushvalue(L, -2); /* the first value */
          lua_rawseti(L, -2, 1);
          lua_pushvalue(L, -3);
          lua_pushvalue(L, -2);
          lua_rawset(L, lists);
        }
        lua_pushlstring(L, v, (size_t)(ve - v));
        lua_rawseti(L, -2, (int)users_rawlen(L, -2) + 1);
        lua_pop(L, 3); /* list, first value, name */
      }
    }
    p = eol + 1;
  }
  if (!lua_isnil(L, lists)) join_lists(L, t, lists);
  lua_settop(L, t);
}

/* Whether the m bytes at x occur in the n bytes at s (m > 0). */
static int contains(const char *s, size_t n, const char *x, size_t m) {
  while (n >= m) {
    const char *p = memchr(s, x[0], n - m + 1);
    if (!p) return 0;
    if (memcmp(p, x, m) == 0) return 1;
    n -= (size_t)(p - s) + 1;
    s = p + 1;
  }
  return 0;
}

/* core.mentions(map, list) -> boolean: whether a string key or value of map
 * holds one of the non-empty strings of list. The check every answer's
 * headers get for the secrets a call sent (users/errors.lua scrubs them
 * only when it says so). */
static int mentions(lua_State *L) {
  size_t i, n;
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  n = users_rawlen(L, 2);
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    int side;
    for (side = -2; side <= -1; side++) { /* the key, then the value */
      size_t len;
      const char *text;
      if (lua_type(L, side) != LUA_TSTRING) continue;
      text = lua_tolstring(L, side, &len);
      for (i = 1; i <= n; i++) {
        size_t m;
        const char *secret;
        lua_rawgeti(L, 2, (int)i);
        secret = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &m) : NULL;
        if (secret && m > 0 && contains(text, len, secret, m)) {
          lua_pushboolean(L, 1);
          return 1;
        }
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
  lua_pushboolean(L, 0);
  return 1;
}

void users_headers_open(lua_State *L) {
  static const luaL_Reg functions[] = {{"mentions", mentions}, {NULL, NULL}};
  users_setfuncs(L, functions);
}
