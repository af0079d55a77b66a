/* JSON's view of Lua values (see values.h). unique_items hashes every item
 * (numbers by value, so 1 and 1.0 agree; objects by content, whatever the
 * order of their keys), sorts the hashes, and compares in full only items
 * whose hashes are equal: n log n, not n squared. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "formats.h"
#include "json_write.h"
#include "values.h"

void users_tonum(lua_State *L, int v, users_num_t *out) {
  double d;
  memset(out, 0, sizeof *out);
#if LUA_VERSION_NUM >= 503
  if (lua_isinteger(L, v)) {
    out->is_int = 1, out->i = (long long)lua_tointeger(L, v);
    return;
  }
#endif
  d = (double)lua_tonumber(L, v);
  if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
    out->is_int = 1, out->i = (long long)d;
  else
    out->d = d;
}

/* --- what JSON can spell -------------------------------------------------- */

const char *users_json_unwritable(lua_State *L, int v, int depth) {
  size_t n;
  const char *s;
  switch (lua_type(L, v)) {
  case LUA_TSTRING:
    s = lua_tolstring(L, v, &n);
    return users_utf8_length(s, n) < 0 ? "holds text that is not UTF-8" : NULL;
  case LUA_TNUMBER:
    return isfinite((double)lua_tonumber(L, v)) ? NULL : "holds NaN or an infinity";
  case LUA_TBOOLEAN: return NULL;
  case LUA_TLIGHTUSERDATA: return lua_touserdata(L, v) ? "holds a userdata" : NULL;
  case LUA_TTABLE: break;
  default: return "holds a value JSON cannot spell (a function, a userdata, a thread)";
  }
  if (depth > USERS_MAX_DEPTH) return "is nested too deeply (or holds itself)";
  if (!lua_checkstack(L, 4)) return "is nested too deeply";
  lua_pushnil(L);
  while (lua_next(L, v)) {
    const char *why = NULL;
    int kt = lua_type(L, -2);
    if (kt == LUA_TSTRING) {
      s = lua_tolstring(L, -2, &n);
      if (users_utf8_length(s, n) < 0) why = "has a key that is not UTF-8";
    } else if (kt != LUA_TNUMBER) {
      why = "has a key that is neither a string nor a number";
    }
    if (!why) why = users_json_unwritable(L, lua_gettop(L), depth + 1);
    if (why) {
      lua_pop(L, 2);
      return why;
    }
    lua_pop(L, 1);
  }
  return NULL;
}

int users_free_is_array(lua_State *L, int v) {
  size_t count = 0, top = 0;
  lua_pushnil(L);
  while (lua_next(L, v)) {
    long long k;
    lua_pop(L, 1);
    if (!users_tointeger(L, -1, &k) || k < 1) { /* a key no array has: an object */
      lua_pop(L, 1);
      return 0;
    }
    if ((unsigned long long)k > top) top = (size_t)k;
    count++;
  }
  /* count distinct keys, all integers from 1, the largest count: 1..count.
   * (The length operator cannot tell: on a table with holes its answer
   * differs between Luas, and a count equal to it let {1, nil, 3, a = 1}
   * through as an array.) */
  if (count == 0) {
    int is_array = 0;
    if (lua_getmetatable(L, v)) {
      lua_getfield(L, LUA_REGISTRYINDEX, USERS_ARRAY_MT);
      is_array = lua_rawequal(L, -1, -2);
      lua_pop(L, 2);
    }
    return is_array;
  }
  return count == top;
}

/* --- equality ------------------------------------------------------------- */

enum { K_NULL, K_FALSE, K_TRUE, K_NUMBER, K_STRING, K_ARRAY, K_OBJECT, K_OTHER };

/* What the value at v is to JSON, under s (NULL: free-form); a number's
 * value into num. */
static int kind_of(lua_State *L, const users_schema_t *s, int v, users_num_t *num) {
  size_t n;
  const char *str;
  switch (lua_type(L, v)) {
  case LUA_TNUMBER:
    users_tonum(L, v, num);
    return K_NUMBER;
  case LUA_TSTRING:
    str = lua_tolstring(L, v, &n);
    if (s && (s->type == USERS_T_INTEGER || s->type == USERS_T_NUMBER) && users_is_integer_text(str, n)) {
      users_num_from_text(num, str, n);
      return K_NUMBER;
    }
    return K_STRING;
  case LUA_TBOOLEAN: return lua_toboolean(L, v) ? K_TRUE : K_FALSE;
  case LUA_TLIGHTUSERDATA: return lua_touserdata(L, v) ? K_OTHER : K_NULL;
  case LUA_TTABLE: break;
  default: return K_OTHER;
  }
  if (s && s->type == USERS_T_ARRAY) return K_ARRAY;
  if (s && s->type == USERS_T_OBJECT) return K_OBJECT;
  return users_free_is_array(L, v) ? K_ARRAY : K_OBJECT;
}

/* The schema of an object's key k (a string at index k), or NULL. */
static const users_schema_t *prop_schema(lua_State *L, const users_schema_t *s, int k) {
  const users_field_t *f;
  size_t n;
  const char *key;
  if (!s || s->type != USERS_T_OBJECT || lua_type(L, k) != LUA_TSTRING) return NULL;
  key = lua_tolstring(L, k, &n);
  f = users_schema_prop(s, key, n);
  return f ? &f->s : s->additional_schema;
}

static uint64_t mix(uint64_t h, uint64_t x) {
  h ^= x + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdULL;
}

static uint64_t hash_bytes(const char *s, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
  size_t i;
  for (i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
  return h;
}

/* The value's hash into *h; 0 when it nests too deeply. */
static int hash_value(lua_State *L, const users_schema_t *s, int v, int depth, uint64_t *h) {
  users_num_t num;
  int kind = kind_of(L, s, v, &num);
  size_t n, i;
  uint64_t x;
  const char *str;
  switch (kind) {
  case K_NUMBER:
    if (num.is_int) *h = mix(K_NUMBER, (uint64_t)num.i);
    else {
      double d = num.d == 0 ? 0 : num.d; /* -0 is 0 */
      memcpy(&x, &d, sizeof x);
      *h = mix(K_NUMBER + 100, x);
    }
    return 1;
  case K_STRING:
    str = lua_tolstring(L, v, &n);
    *h = mix(K_STRING, hash_bytes(str, n));
    return 1;
  case K_ARRAY: case K_OBJECT: break;
  case K_OTHER: *h = mix(K_OTHER, (uint64_t)(uintptr_t)lua_topointer(L, v)); return 1;
  default: *h = mix(kind, 0); return 1;
  }
  if (depth > USERS_MAX_DEPTH || !lua_checkstack(L, 4)) return 0;
  if (kind == K_ARRAY) {
    *h = mix(K_ARRAY, n = users_rawlen(L, v));
    for (i = 1; i <= n; i++) {
      int ok;
      lua_rawgeti(L, v, (int)i);
      ok = hash_value(L, s ? s->items : NULL, lua_gettop(L), depth + 1, &x);
      lua_pop(L, 1);
      if (!ok) return 0;
      *h = mix(*h, x);
    }
    return 1;
  }
  *h = K_OBJECT; /* a sum over the pairs: the keys' order does not count */
  lua_pushnil(L);
  while (lua_next(L, v)) {
    uint64_t k;
    int key = lua_gettop(L) - 1;
    if (!hash_value(L, NULL, key, depth + 1, &k) ||
        !hash_value(L, prop_schema(L, s, key), key + 1, depth + 1, &x)) {
      lua_pop(L, 2);
      return 0;
    }
    *h += mix(k, x);
    lua_pop(L, 1);
  }
  return 1;
}

/* 1 equal, 0 not, -1 nested too deeply. */
static int equal(lua_State *L, const users_schema_t *s, int a, int b, int depth) {
  users_num_t na, nb;
  int ka = kind_of(L, s, a, &na), kb = kind_of(L, s, b, &nb), r = 1;
  size_t n, m, i;
  if (ka != kb) return 0;
  switch (ka) {
  case K_NUMBER: return users_num_cmp(&na, &nb) == 0;
  case K_STRING: {
    const char *x = lua_tolstring(L, a, &n), *y = lua_tolstring(L, b, &m);
    return n == m && memcmp(x, y, n) == 0;
  }
  case K_ARRAY: case K_OBJECT: break;
  case K_OTHER: return lua_rawequal(L, a, b);
  default: return 1;
  }
  if (depth > USERS_MAX_DEPTH || !lua_checkstack(L, 6)) return -1;
  if (ka == K_ARRAY) {
    if ((n = users_rawlen(L, a)) != users_rawlen(L, b)) return 0;
    for (i = 1; i <= n && r == 1; i++) {
      lua_rawgeti(L, a, (int)i);
      lua_rawgeti(L, b, (int)i);
      r = equal(L, s ? s->items : NULL, lua_gettop(L) - 1, lua_gettop(L), depth + 1);
      lua_pop(L, 2);
    }
    return r;
  }
  n = m = 0; /* objects: the same keys, each with equal values */
  lua_pushnil(L);
  while (lua_next(L, b)) {
    lua_pop(L, 1);
    m++;
  }
  lua_pushnil(L);
  while (r == 1 && lua_next(L, a)) {
    int key = lua_gettop(L) - 1;
    n++;
    lua_pushvalue(L, key);
    lua_rawget(L, b);
    r = lua_isnil(L, -1) ? 0 : equal(L, prop_schema(L, s, key), key + 1, key + 2, depth + 1);
    lua_pop(L, 2);
  }
  if (r != 1) {
    lua_pop(L, 1); /* the key the traversal stopped at */
    return r;
  }
  return n == m;
}

typedef struct {
  uint64_t h;
  long i;
} hashed_t;

static int cmp_hashed(const void *a, const void *b) {
  const hashed_t *x = (const hashed_t *)a, *y = (const hashed_t *)b;
  if (x->h != y->h) return x->h < y->h ? -1 : 1;
  return (x->i > y->i) - (x->i < y->i);
}

int users_items_unique(lua_State *L, const users_schema_t *s, int v, size_t n, long *a, long *b) {
  hashed_t few[16], *h = few;
  size_t i, j;
  int result = 1;
  if (n < 2) return 1;
  if (!lua_checkstack(L, 6)) return -1;
  if (n > sizeof few / sizeof *few) { /* a box the collector frees, whatever happens */
    users_buf_t *list = users_buf_box(L);
    if (!users_buf_reserve(list, n * sizeof(hashed_t))) {
      lua_pop(L, 1);
      return -1;
    }
    h = (hashed_t *)list->data;
  } else {
    lua_pushnil(L); /* in the box's place */
  }
  for (i = 0; i < n; i++) {
    int ok;
    lua_rawgeti(L, v, (int)i + 1);
    ok = hash_value(L, s, lua_gettop(L), 1, &h[i].h);
    lua_pop(L, 1);
    if (!ok) {
      lua_pop(L, 1);
      return -1;
    }
    h[i].i = (long)i + 1;
  }
  qsort(h, n, sizeof *h, cmp_hashed);
  *a = *b = 0;
  for (i = 0; i < n && result >= 0; i++) /* equal hashes sit together */
    for (j = i + 1; j < n && h[j].h == h[i].h && result >= 0; j++) {
      int r;
      lua_rawgeti(L, v, (int)h[i].i);
      lua_rawgeti(L, v, (int)h[j].i);
      r = equal(L, s, lua_gettop(L) - 1, lua_gettop(L), 1);
      lua_pop(L, 2);
      if (r < 0) result = -1;
      else if (r && (!*a || h[i].i < *a || (h[i].i == *a && h[j].i < *b))) {
        *a = h[i].i < h[j].i ? h[i].i : h[j].i;
        *b = h[i].i < h[j].i ? h[j].i : h[i].i;
        result = 0;
      }
    }
  lua_pop(L, 1);
  return result;
}
