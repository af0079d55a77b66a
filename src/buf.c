#include <stdlib.h>
#include <string.h>
#include "buf.h"

#define SCRATCH_KEEP (64 * 1024) /* a larger scratch buffer is freed after use */

int users_buf_reserve(users_buf_t *b, size_t extra) {
  size_t need, cap;
  char *p;
  if (b->cap - b->len >= extra) return 1;
  need = b->len + extra;
  if (need < b->len) return 0; /* overflow */
  cap = b->cap ? b->cap : 256;
  while (cap < need) {
    if (cap > ((size_t)-1) / 2) { cap = need; break; }
    cap *= 2;
  }
  p = realloc(b->data, cap);
  if (!p) return 0;
  b->data = p;
  b->cap = cap;
  return 1;
}

int users_buf_add(users_buf_t *b, const void *p, size_t n) {
  if (!users_buf_reserve(b, n)) return 0;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  return 1;
}

int users_buf_addc(users_buf_t *b, char c) {
  if (b->len == b->cap && !users_buf_reserve(b, 1)) return 0;
  b->data[b->len++] = c;
  return 1;
}

void users_buf_free(users_buf_t *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

static int box_gc(lua_State *L) {
  users_buf_free((users_buf_t *)lua_touserdata(L, 1));
  return 0;
}

users_buf_t *users_buf_box(lua_State *L) {
  users_buf_t *b = (users_buf_t *)users_newuserdata(L, sizeof *b);
  memset(b, 0, sizeof *b);
  users_setmeta(L, "users.buf", NULL, box_gc);
  return b;
}

#define SCRATCH "users.scratch"

void users_buf_push_scratch(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, SCRATCH);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    users_buf_box(L)->scratch = 1;
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, SCRATCH);
  }
}

void users_buf_setfuncs(lua_State *L, const luaL_Reg *l) {
  users_buf_push_scratch(L);
  for (; l->name; l++) {
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, l->func, 1);
    lua_setfield(L, -3, l->name);
  }
  lua_pop(L, 1);
}

users_buf_t *users_buf_borrow(lua_State *L) {
  users_buf_t *b = (users_buf_t *)lua_touserdata(L, lua_upvalueindex(1));
  if (b && b->scratch && !b->busy) {
    b->busy = 1;
    b->len = 0;
    lua_pushvalue(L, lua_upvalueindex(1));
    return b;
  }
  return users_buf_box(L);
}

void users_buf_return(users_buf_t *b) {
  if (!b->scratch) return;
  b->busy = 0;
  if (b->cap > SCRATCH_KEEP) users_buf_free(b);
}

void users_buf_check(lua_State *L, int ok) {
  if (!ok) luaL_error(L, "not enough memory");
}

int users_fail(users_fail_t *f, const char *fmt, const char *a, const char *b) {
  f->fmt = fmt;
  f->a = a ? a : "";
  f->b = b ? b : "";
  return 0;
}

int users_fail_raise(lua_State *L, const users_fail_t *f) {
  if (!f->fmt) return luaL_error(L, "not enough memory");
  return luaL_error(L, f->fmt, f->a, f->b);
}
