#include <stdlib.h>
#include <string.h>
#include "buf.h"

#define SCRATCH_KEEP (64 * 1024) /* a larger scratch buffer is freed after use */

int buf_reserve(buf_t *b, size_t extra) {
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

int buf_add(buf_t *b, const void *p, size_t n) {
  if (!buf_reserve(b, n)) return 0;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  return 1;
}

int buf_addc(buf_t *b, char c) {
  if (b->len == b->cap && !buf_reserve(b, 1)) return 0;
  b->data[b->len++] = c;
  return 1;
}

void buf_free(buf_t *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

static int box_gc(lua_State *L) {
  buf_free((buf_t *)lua_touserdata(L, 1));
  return 0;
}

buf_t *buf_box(lua_State *L) {
  buf_t *b = (buf_t *)users_newuserdata(L, sizeof *b);
  memset(b, 0, sizeof *b);
  users_setmeta(L, "users.buf", NULL, box_gc);
  return b;
}

void buf_push_scratch(lua_State *L) {
  buf_box(L)->scratch = 1;
}

buf_t *buf_borrow(lua_State *L) {
  buf_t *b = (buf_t *)lua_touserdata(L, lua_upvalueindex(1));
  if (b && b->scratch && !b->busy) {
    b->busy = 1;
    b->len = 0;
    lua_pushvalue(L, lua_upvalueindex(1));
    return b;
  }
  return buf_box(L);
}

void buf_return(buf_t *b) {
  if (!b->scratch) return;
  b->busy = 0;
  if (b->cap > SCRATCH_KEEP) buf_free(b);
}

void buf_check(lua_State *L, int ok) {
  if (!ok) luaL_error(L, "not enough memory");
}
