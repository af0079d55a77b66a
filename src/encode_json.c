/* JSON bodies, driven by the provider's schema: fields in declaration order,
 * [] and null exactly as asked, integers as integers, strings as given
 * (validated UTF-8; '/' is not escaped). Values without a schema (free-form
 * tables, core.json_encode) are written as cjson would, keys sorted. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "encode_json.h"
#include "formats.h"
#include "json_write.h"
#include "validate.h"

#define MAX_DEPTH 64

/* An append failed: users_fail_raise says "not enough memory". */
static int no_room(users_jw_t *w) {
  w->fail.fmt = NULL;
  return 0;
}

static int put_string(users_jw_t *w, const users_schema_t *s, int v) {
  size_t n;
  const char *str = lua_tolstring(w->L, v, &n);
  int r;
  if (s && s->type == USERS_T_INTEGER) { /* integer text, written as is */
    if (users_is_integer_text(str, n)) return users_buf_add(w->b, str, n) || no_room(w);
    return w->check ? 0 : users_fail(&w->fail, "cannot encode \"%s\" as an integer", str, NULL);
  }
  if (w->check && s->type != USERS_T_STRING && s->type != USERS_T_ANY) return 0;
  if (!(r = users_json_string(w->b, str, n))) return no_room(w);
  if (w->check) /* plain ASCII has n characters: no need to count them */
    return !users_string_problems(s, str, n,
                                  r == USERS_JSON_ASCII ? (long)n : users_utf8_length(str, n));
  if (!s && r != USERS_JSON_ASCII && users_utf8_length(str, n) < 0)
    return users_fail(&w->fail, "cannot encode a string that is not UTF-8", NULL, NULL);
  return 1;
}

static int put_number(users_jw_t *w, const users_schema_t *s, int v) {
  long long i;
  double d;
  if (users_tointeger(w->L, v, &i)) {
    if (w->check && !users_value_ok(w->L, s, v)) return 0;
    return users_json_integer(w->b, i) || no_room(w);
  }
  if (w->check) return 0; /* a fraction: valid only without a type */
  d = (double)lua_tonumber(w->L, v);
  if (isnan(d) || isinf(d))
    return users_fail(&w->fail, "cannot encode NaN or infinity as JSON", NULL, NULL);
  return users_json_double(w->b, d) || no_room(w);
}

/* An array under s. The pass takes it in one traversal, which meets the
 * keys 1..n in order when the table is a plain sequence (its array part),
 * and declines anything else; the reference reads items 1..#t, which
 * validation found to be exactly the keys. */
static int put_array(users_jw_t *w, const users_schema_t *s, int v, int depth) {
  lua_State *L = w->L;
  if (!lua_checkstack(L, 6)) /* never raise: the scratch is lent */
    return users_fail(&w->fail, "stack overflow (nested too deeply)", NULL, NULL);
  if (!users_buf_putc(w->b, '[')) return no_room(w);
  if (w->check) {
    long long want = 1, k;
    if (s->items->type == USERS_T_ARRAY) return 0;
    lua_pushnil(L);
    while (lua_next(L, v)) {
      if (!users_tointeger(L, -2, &k) || k != want || (want > 1 && !users_buf_putc(w->b, ',')) ||
          !users_json_value(w, s->items, lua_gettop(L), depth + 1))
        return 0;
      want++;
      lua_pop(L, 1);
    }
    if ((s->min >= 0 && want - 1 < s->min) || (s->max >= 0 && want - 1 > s->max)) return 0;
  } else {
    size_t i, n = users_rawlen(L, v);
    for (i = 1; i <= n; i++) {
      if (i > 1 && !users_buf_putc(w->b, ',')) return no_room(w);
      lua_rawgeti(L, v, (int)i);
      if (!users_json_value(w, s ? s->items : NULL, lua_gettop(L), depth + 1)) return 0;
      lua_pop(L, 1);
    }
  }
  return users_buf_putc(w->b, ']') || no_room(w);
}

typedef struct {
  const char *s; /* the key's text (a string key, or a number's copy) */
  size_t n;
  int slot;      /* where the original key sits in the keys table */
} jkey_t;

static int cmp_keys(const void *a, const void *b) {
  const jkey_t *x = (const jkey_t *)a, *y = (const jkey_t *)b;
  int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
  return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* An object with its keys sorted, so the same table always gives the same
 * bytes (journals, signatures, specs). The keys table holds each original
 * key (for the lookup) and its text (for the order and the output); their
 * pointers sit in a box, which the collector frees whatever happens. Only
 * valid JSON comes out: a key that is not UTF-8 is refused, and so are two
 * keys with one text (1 and "1", or two numbers printed alike), which a
 * reader would take for one. */
static int put_object(users_jw_t *w, int v, int depth) {
  lua_State *L = w->L;
  int keys, i, n = 0;
  users_buf_t *list;
  lua_newtable(L);
  keys = lua_gettop(L);
  list = users_buf_box(L);
  lua_pushnil(L);
  while (lua_next(L, v)) {
    jkey_t k;
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
      return users_fail(&w->fail, "cannot encode a table key of type %s", luaL_typename(L, -1),
                        NULL);
    lua_pushvalue(L, -1);
    lua_rawseti(L, keys, ++n);        /* the original key */
    if (lua_type(L, -1) == LUA_TSTRING) {
      k.s = lua_tolstring(L, -1, &k.n);
      if (users_utf8_length(k.s, k.n) < 0)
        return users_fail(&w->fail, "cannot encode a table key that is not UTF-8", NULL, NULL);
    }
    lua_pushvalue(L, -1);
    k.s = lua_tolstring(L, -1, &k.n); /* converts the copy, not the key */
    lua_rawseti(L, keys, ++n);        /* its text, kept alive */
    k.slot = n - 1;
    if (!users_buf_add(list, &k, sizeof k)) return no_room(w);
  }
  n /= 2;
  qsort(list->data, (size_t)n, sizeof(jkey_t), cmp_keys);
  for (i = 1; i < n; i++) { /* sorted: one text twice is two neighbours */
    const jkey_t *k = &((const jkey_t *)list->data)[i];
    if (cmp_keys(k - 1, k) == 0)
      return users_fail(&w->fail, "cannot encode a table with two keys JSON writes as \"%s\"",
                        k->s, NULL);
  }
  if (!users_buf_putc(w->b, '{')) return no_room(w);
  for (i = 0; i < n; i++) {
    const jkey_t *k = &((const jkey_t *)list->data)[i];
    if ((i && !users_buf_putc(w->b, ',')) || !users_json_string(w->b, k->s, k->n) ||
        !users_buf_putc(w->b, ':'))
      return no_room(w);
    lua_rawgeti(L, keys, k->slot);
    lua_rawget(L, v);
    if (!users_json_value(w, NULL, lua_gettop(L), depth + 1)) return 0;
    lua_pop(L, 1);
  }
  lua_pop(L, 2);
  return users_buf_putc(w->b, '}') || no_room(w);
}

/* A table with no schema: an array when its keys are exactly 1..n (or it
 * is empty and marked with users.array_mt, as cjson does), else an object. */
static int put_table(users_jw_t *w, int v, int depth) {
  lua_State *L = w->L;
  size_t n = users_rawlen(L, v), count = 0;
  if (depth > MAX_DEPTH)
    return users_fail(&w->fail, "cannot encode a table nested deeper than 64", NULL, NULL);
  if (!lua_checkstack(L, 8))
    return users_fail(&w->fail, "stack overflow (nested too deeply)", NULL, NULL);
  lua_pushnil(L);
  while (lua_next(L, v)) {
    lua_pop(L, 1);
    count++;
  }
  if (count == 0) {
    int is_array = 0;
    if (lua_getmetatable(L, v)) {
      lua_getfield(L, LUA_REGISTRYINDEX, USERS_ARRAY_MT);
      is_array = lua_rawequal(L, -1, -2);
      lua_pop(L, 2);
    }
    return (is_array ? users_buf_add(w->b, "[]", 2) : users_buf_add(w->b, "{}", 2)) || no_room(w);
  }
  if (count != n) return put_object(w, v, depth); /* not exactly the keys 1..n */
  return put_array(w, NULL, v, depth);
}

int users_json_value(users_jw_t *w, const users_schema_t *s, int v, int depth) {
  lua_State *L = w->L;
  switch (lua_type(L, v)) {
  case LUA_TSTRING:
    return put_string(w, s, v);
  case LUA_TNUMBER:
    return put_number(w, s, v);
  case LUA_TBOOLEAN:
    if (w->check && !users_value_ok(L, s, v)) return 0;
    return users_json_boolean(w->b, lua_toboolean(L, v)) || no_room(w);
  case LUA_TTABLE:
    if (s && s->type == USERS_T_ARRAY) return put_array(w, s, v, depth);
    return !w->check && put_table(w, v, depth);
  case LUA_TLIGHTUSERDATA:
    if (!users_isnull(L, v)) break;
    if (w->check && !users_value_ok(L, s, v)) return 0;
    return users_json_null(w->b) || no_room(w);
  }
  if (w->check) return 0;
  return users_fail(&w->fail, "cannot encode a %s as JSON", luaL_typename(L, v), NULL);
}

/* The declared fields present in the table at 2, in declaration order; the
 * field names as Lua strings at 3. */
static int put_fields(users_jw_t *w, const users_provider_t *p) {
  lua_State *L = w->L;
  size_t i;
  int first = 1;
  if (!users_buf_putc(w->b, '{')) return no_room(w);
  for (i = 0; i < p->n_fields; i++) {
    const users_field_t *f = &p->fields[i];
    lua_rawgeti(L, 3, (int)i + 1);
    lua_rawget(L, 2);
    if (!lua_isnil(L, -1)) {
      if ((!first && !users_buf_putc(w->b, ',')) ||
          !users_buf_add(w->b, f->json_key, f->json_key_len)) /* "name": */
        return no_room(w);
      first = 0;
      if (!users_json_value(w, &f->s, lua_gettop(L), 0)) return 0;
    }
    lua_pop(L, 1);
  }
  return users_buf_putc(w->b, '}') || no_room(w);
}

/* Pushes the body when ok; gives the scratch back; then raises what failed. */
static int finish(users_jw_t *w, int ok) {
  if (ok) lua_pushlstring(w->L, w->b->data, w->b->len);
  users_buf_return(w->b);
  return ok ? 1 : users_fail_raise(w->L, &w->fail);
}

int users_encode_json(lua_State *L) {
  users_provider_t *p = users_provider_check(L, 1);
  users_jw_t w;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->names_ref); /* 3: interned names */
  memset(&w, 0, sizeof w);
  w.L = L;
  w.b = users_buf_borrow(L); /* 4 */
  return finish(&w, put_fields(&w, p));
}

/* core.json_encode(value) -> text: the same writer for any Lua value
 * (tests, journals, hosts that want our JSON). */
static int json_encode(lua_State *L) {
  users_jw_t w;
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  memset(&w, 0, sizeof w);
  w.L = L;
  w.b = users_buf_borrow(L); /* 2 */
  return finish(&w, users_json_value(&w, NULL, 1, 0));
}

void users_encode_json_open(lua_State *L) {
  static const luaL_Reg functions[] = {
      {"encode_json", users_encode_json}, {"json_encode", json_encode}, {NULL, NULL}};
  users_buf_setfuncs(L, functions);
}
