/* JSON bodies, driven by the provider's schema: fields in declaration order,
 * [] and null exactly as asked, integers as integers, strings as given
 * (validated UTF-8; '/' is not escaped). */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include "formats.h"
#include "encode.h"
#include "json_write.h"
#include "validate.h"

static int json_number(lua_State *L, users_buf_t *b, int v) {
  long long i;
  if (users_tointeger(L, v, &i)) {
    return users_json_integer(b, i);
  } else if (lua_type(L, v) == LUA_TSTRING) { /* validated integer text */
    size_t n;
    const char *s = lua_tolstring(L, v, &n);
    return users_buf_add(b, s, n);
  } else {
    double d = (double)lua_tonumber(L, v);
    if (isnan(d) || isinf(d)) luaL_error(L, "cannot encode NaN or infinity as JSON");
    return users_json_double(b, d);
  }
}

static void json_value(lua_State *L, users_buf_t *b, const users_schema_t *s, int v, int depth);

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
 * pointers sit in a boxed buffer: nothing leaks if a value raises. */
static void json_object(lua_State *L, users_buf_t *b, int v, int depth) {
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
      luaL_error(L, "cannot encode a table key of type %s", luaL_typename(L, -1));
    lua_pushvalue(L, -1);
    lua_rawseti(L, keys, ++n);      /* the original key */
    lua_pushvalue(L, -1);
    k.s = lua_tolstring(L, -1, &k.n); /* converts the copy, not the key */
    lua_rawseti(L, keys, ++n);      /* its text, kept alive */
    k.slot = n - 1;
    users_buf_check(L, users_buf_add(list, &k, sizeof k));
  }
  n /= 2;
  qsort(list->data, (size_t)n, sizeof(jkey_t), cmp_keys);
  users_buf_check(L, users_buf_addc(b, '{'));
  for (i = 0; i < n; i++) {
    const jkey_t *k = &((const jkey_t *)list->data)[i];
    if (i) users_buf_check(L, users_buf_addc(b, ','));
    users_buf_check(L, users_json_string(b, k->s, k->n) && users_buf_addc(b, ':'));
    lua_rawgeti(L, keys, k->slot);
    lua_rawget(L, v);
    json_value(L, b, NULL, lua_gettop(L), depth + 1);
    lua_pop(L, 1);
  }
  users_buf_check(L, users_buf_addc(b, '}'));
  lua_pop(L, 2);
}

/* A table with no schema: an array when its keys are exactly 1..n (or it
 * is empty and marked with users.array_mt, as cjson does), else an object. */
static void json_table(lua_State *L, users_buf_t *b, int v, int depth) {
  size_t n = users_rawlen(L, v), i, count = 0;
  if (depth > 64) luaL_error(L, "cannot encode a table nested deeper than 64");
  luaL_checkstack(L, 8, "nested too deeply");
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
    users_buf_check(L, users_buf_adds(b, is_array ? "[]" : "{}"));
    return;
  }
  if (count != n) { /* not exactly the keys 1..n */
    json_object(L, b, v, depth);
    return;
  }
  users_buf_check(L, users_buf_addc(b, '['));
  for (i = 1; i <= n; i++) {
    if (i > 1) users_buf_check(L, users_buf_addc(b, ','));
    lua_rawgeti(L, v, (int)i);
    json_value(L, b, NULL, lua_gettop(L), depth + 1);
    lua_pop(L, 1);
  }
  users_buf_check(L, users_buf_addc(b, ']'));
}

static void json_value(lua_State *L, users_buf_t *b, const users_schema_t *s, int v, int depth) {
  size_t n;
  const char *str;
  if (users_is_null(L, v)) { users_buf_check(L, users_buf_adds(b, "null")); return; }
  switch (lua_type(L, v)) {
  case LUA_TSTRING:
    str = lua_tolstring(L, v, &n);
    if (s && s->type == USERS_T_INTEGER) {
      if (!users_is_integer_text(str, n)) luaL_error(L, "cannot encode \"%s\" as an integer", str);
      users_buf_check(L, json_number(L, b, v));
    } else {
      if (!s && users_utf8_length(str, n) < 0) luaL_error(L, "cannot encode a string that is not UTF-8");
      users_buf_check(L, users_json_string(b, str, n));
    }
    return;
  case LUA_TNUMBER:
    users_buf_check(L, json_number(L, b, v));
    return;
  case LUA_TBOOLEAN:
    users_buf_check(L, users_buf_adds(b, lua_toboolean(L, v) ? "true" : "false"));
    return;
  case LUA_TTABLE:
    if (s && s->type == USERS_T_ARRAY) {
      size_t i, len = users_rawlen(L, v);
      users_buf_check(L, users_buf_addc(b, '['));
      for (i = 1; i <= len; i++) {
        if (i > 1) users_buf_check(L, users_buf_addc(b, ','));
        lua_rawgeti(L, v, (int)i);
        json_value(L, b, s->items, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
      }
      users_buf_check(L, users_buf_addc(b, ']'));
      return;
    }
    json_table(L, b, v, depth);
    return;
  default:
    luaL_error(L, "cannot encode a %s as JSON", luaL_typename(L, v));
  }
}

int encode_json(lua_State *L) {
  users_provider_t *p = users_provider_check(L, 1);
  users_buf_t *b;
  size_t i;
  int first = 1;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  b = users_buf_borrow(L);
  users_buf_check(L, users_buf_addc(b, '{'));
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->names_ref); /* 4: interned names */
  for (i = 0; i < p->n_fields; i++) {
    const users_field_t *f = &p->fields[i];
    lua_rawgeti(L, 4, (int)i + 1);
    lua_rawget(L, 2);
    if (!lua_isnil(L, -1)) {
      if (!first) users_buf_check(L, users_buf_addc(b, ','));
      first = 0;
      users_buf_check(L, users_buf_add(b, f->json_key, f->json_key_len)); /* "name": */
      json_value(L, b, &f->s, lua_gettop(L), 0);
    }
    lua_pop(L, 1);
  }
  users_buf_check(L, users_buf_addc(b, '}'));
  lua_pushlstring(L, b->data, b->len);
  users_buf_return(b);
  return 1;
}

/* core.json_encode(value): the same encoder for any Lua value (tests,
 * journals, hosts that want our JSON). */
int encode_json_value(lua_State *L);
int encode_json_value(lua_State *L) {
  users_buf_t *b;
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  b = users_buf_borrow(L);
  json_value(L, b, NULL, 1, 0);
  lua_pushlstring(L, b->data, b->len);
  users_buf_return(b);
  return 1;
}
