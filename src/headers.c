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
