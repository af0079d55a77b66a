/* JSON bodies, driven by the provider's schema: fields and properties in
 * declaration order (then the undeclared ones, sorted), [] and null exactly
 * as asked, integers as integers, other numbers in their shortest exact
 * text, strings as given (validated UTF-8; '/' is not escaped). Values
 * without a schema (free-form tables, core.json_encode) are written as
 * cjson would, keys sorted. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "encode_json.h"
#include "formats.h"
#include "json_write.h"
#include "rules.h"
#include "values.h"

/* An append failed: users_fail_raise says "not enough memory". */
static int no_room(users_jw_t *w) {
  w->fail.fmt = NULL;
  return 0;
}

static int is_number_type(const users_schema_t *s) {
  return s && (s->type == USERS_T_INTEGER || s->type == USERS_T_NUMBER);
}

static int put_string(users_jw_t *w, const users_schema_t *s, int v) {
  size_t n;
  const char *str = lua_tolstring(w->L, v, &n);
  int r;
  if (is_number_type(s)) { /* integer text, written as is */
    if (users_is_integer_text(str, n)) {
      if (w->check) {
        users_num_t num;
        users_num_from_text(&num, str, n);
        if (users_number_problems(s, &num)) return 0;
      }
      return users_buf_add(w->b, str, n) || no_room(w);
    }
    return w->check ? 0 : users_fail(&w->fail, s->type == USERS_T_INTEGER ? "cannot encode \"%s\" as an integer"
                                                                      : "cannot encode \"%s\" as a number", str, NULL);
  }
  if (w->check && s->type != USERS_T_STRING && s->type != USERS_T_ANY) return 0;
  if (!(r = users_json_string(w->b, str, n))) return no_room(w);
  if (w->check) { /* plain ASCII has n characters: no need to count them */
    unsigned bad;
    if (!s->string_rules) return r == USERS_JSON_ASCII || users_utf8_length(str, n) >= 0;
    bad = users_string_problems(s, str, n, r == USERS_JSON_ASCII ? (long)n : users_utf8_length(str, n));
    if (w->known && (s->string_rules & USERS_S_COSTLY) && w->known->n < USERS_KNOWN_MAX) {
      users_known_t *k = w->known;
      k->v[k->n].s = s, k->v[k->n].str = str, k->v[k->n].bad = bad;
      lua_pushvalue(w->L, v);
      lua_rawseti(w->L, w->anchor, ++k->n); /* in its array part, made that size: no allocation */
    }
    return !bad;
  }
  if (!s && r != USERS_JSON_ASCII && users_utf8_length(str, n) < 0)
    return users_fail(&w->fail, "cannot encode a string that is not UTF-8", NULL, NULL);
  return 1;
}

static int put_number(users_jw_t *w, const users_schema_t *s, int v) {
  users_num_t num;
  users_tonum(w->L, v, &num);
  if (num.is_int) {
    if (w->check && s->type != USERS_T_INTEGER && s->type != USERS_T_NUMBER && s->type != USERS_T_ANY)
      return 0;
  } else {
    if (!isfinite(num.d))
      return w->check ? 0 : users_fail(&w->fail, "cannot encode NaN or infinity as JSON", NULL, NULL);
    if (w->check && s->type != USERS_T_NUMBER && s->type != USERS_T_ANY) return 0;
  }
  if (w->check && (s->bounds || s->has_enum || s->n_any_of || s->n_one_of) &&
      users_number_problems(s, &num))
    return 0;
  return users_json_number(w->b, &num) || no_room(w);
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
    long a, b;
    if (s->has_enum || s->n_any_of || s->n_one_of) return 0;
    lua_pushnil(L);
    while (lua_next(L, v)) {
      if (!users_tointeger(L, -2, &k) || k != want || (want > 1 && !users_buf_putc(w->b, ',')) ||
          !users_json_value(w, s->items, lua_gettop(L), depth + 1))
        return 0;
      want++;
      lua_pop(L, 1);
    }
    if ((s->min_items >= 0 && want - 1 < s->min_items) || (s->max_items >= 0 && want - 1 > s->max_items))
      return 0;
    if (s->unique && users_items_unique(L, s->items, v, (size_t)(want - 1), &a, &b) != 1) return 0;
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

/* Sorted, so that the same table always gives the same bytes (journals,
 * signatures, specs). The keys and their texts sit in a table, their
 * pointers in a box, which the collector frees whatever happens. Only what
 * JSON can read comes out: a key that is not UTF-8 is refused, and so are
 * two keys with one text (1 and "1", or two numbers printed alike), which
 * a reader would take for one. */
int users_sorted_keys(lua_State *L, users_fail_t *fail, const users_schema_t *s, int v) {
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
      return users_fail(fail, "cannot encode a table key of type %s", luaL_typename(L, -1), NULL) - 1;
    if (lua_type(L, -1) == LUA_TSTRING) {
      k.s = lua_tolstring(L, -1, &k.n);
      if (s && users_schema_prop(s, k.s, k.n)) continue; /* declared: written already */
      if (users_utf8_length(k.s, k.n) < 0)
        return users_fail(fail, "cannot encode a table key that is not UTF-8", NULL, NULL) - 1;
    }
    lua_pushvalue(L, -1);
    lua_rawseti(L, keys, ++n);        /* the original key */
    lua_pushvalue(L, -1);
    k.s = lua_tolstring(L, -1, &k.n); /* converts the copy, not the key */
    lua_rawseti(L, keys, ++n);        /* its text, kept alive */
    k.slot = n - 1;
    if (!users_buf_add(list, &k, sizeof k)) return users_fail(fail, NULL, NULL, NULL) - 1;
  }
  n /= 2;
  if (n > 1) qsort(list->data, (size_t)n, sizeof(jkey_t), cmp_keys); /* data is NULL when none */
  for (i = 1; i < n; i++) { /* sorted: one text twice is two neighbours */
    const jkey_t *k = &((const jkey_t *)list->data)[i];
    if (cmp_keys(k - 1, k) == 0)
      return users_fail(fail, "cannot encode a table with two keys JSON writes as \"%s\"", k->s,
                        NULL) - 1;
  }
  lua_createtable(L, 2 * n, 0);
  for (i = 0; i < n; i++) {
    const jkey_t *k = &((const jkey_t *)list->data)[i];
    lua_rawgeti(L, keys, k->slot);
    lua_rawseti(L, -2, 2 * i + 1);
    lua_rawgeti(L, keys, k->slot + 1);
    lua_rawseti(L, -2, 2 * i + 2);
  }
  lua_replace(L, keys);
  lua_pop(L, 1); /* the box */
  return n;
}

/* What goes where an object lets any other key through: in the pass, its
 * scalars are checked as any value is, and a table declines. */
static const users_schema_t any = {.type = USERS_T_ANY, .nullable = 1, .additional = 1, .explode = 1,
                                   .min_length = -1, .max_length = -1, .min_items = -1, .max_items = -1,
                                   .min_props = -1, .max_props = -1, .max_bytes = -1};

/* The pairs of the table at v in the order of their keys' text (under s,
 * only the keys it does not declare, their values under its
 * additional_schema); first: no comma before the first one. */
static int put_sorted_pairs(users_jw_t *w, const users_schema_t *s, int v, int depth, int first) {
  lua_State *L = w->L;
  int i, n = users_sorted_keys(L, &w->fail, s, v), list = lua_gettop(L);
  if (n < 0) return 0;
  for (i = 0; i < n; i++) {
    size_t len;
    const char *text;
    lua_rawgeti(L, list, 2 * i + 2);
    text = lua_tolstring(L, -1, &len);
    if ((!first && !users_buf_putc(w->b, ',')) || !users_json_string(w->b, text, len) ||
        !users_buf_putc(w->b, ':'))
      return no_room(w);
    first = 0;
    lua_pop(L, 1);
    lua_rawgeti(L, list, 2 * i + 1);
    lua_rawget(L, v);
    if (!users_json_value(w, s && s->additional_schema ? s->additional_schema : s ? &any : NULL,
                          lua_gettop(L), depth + 1))
      return 0;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return 1;
}

/* An object under s: its declared properties in declared order, then the
 * other keys sorted. The pass declines an object whose other keys its
 * schema refuses (the reference then reports them). */
static int put_object_schema(users_jw_t *w, const users_schema_t *s, int v, int depth) {
  lua_State *L = w->L;
  size_t i, count = 0, present = 0;
  int first = 1;
  if (!lua_checkstack(L, 6))
    return users_fail(&w->fail, "stack overflow (nested too deeply)", NULL, NULL);
  if (w->check && (s->has_enum || s->n_any_of || s->n_one_of)) return 0;
  lua_pushnil(L);
  while (lua_next(L, v)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) /* validation refused it: not reached but by misuse */
      return w->check ? 0 : users_fail(&w->fail, "cannot encode a table key of type %s",
                                       luaL_typename(L, -1), NULL);
    count++;
  }
  if (w->check && ((s->min_props >= 0 && (long)count < s->min_props) ||
                   (s->max_props >= 0 && (long)count > s->max_props)))
    return 0;
  if (!users_buf_putc(w->b, '{')) return no_room(w);
  for (i = 0; i < s->n_props; i++) {
    const users_field_t *f = &s->props[i];
    lua_rawgeti(L, w->names, f->slot);
    lua_rawget(L, v);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      if (w->check && f->required) return 0;
      continue;
    }
    present++;
    /* a file is a multipart file part; as JSON it would be its path or its bytes */
    if (users_schema_has_files(&f->s) && !users_isnull(L, -1))
      return w->check ? 0 : users_fail(&w->fail, "%s: a file cannot be sent as JSON (the multipart encoding can)",
                                        f->name, NULL);
    if ((!first && !users_buf_putc(w->b, ',')) || !users_buf_add(w->b, f->json_key, f->json_key_len))
      return no_room(w);
    first = 0;
    if (!users_json_value(w, &f->s, lua_gettop(L), depth + 1)) return 0;
    lua_pop(L, 1);
  }
  if (count > present && ((w->check && !s->additional) || !put_sorted_pairs(w, s, v, depth, first)))
    return 0;
  return users_buf_putc(w->b, '}') || no_room(w);
}

/* A table with no schema: an array or an object (users_free_is_array). */
static int put_table(users_jw_t *w, int v, int depth) {
  if (depth > USERS_MAX_DEPTH)
    return users_fail(&w->fail, "cannot encode a table nested deeper than 64", NULL, NULL);
  if (!lua_checkstack(w->L, 8))
    return users_fail(&w->fail, "stack overflow (nested too deeply)", NULL, NULL);
  if (users_free_is_array(w->L, v)) return put_array(w, NULL, v, depth);
  if (!users_buf_putc(w->b, '{')) return no_room(w);
  return put_sorted_pairs(w, NULL, v, depth, 1) && (users_buf_putc(w->b, '}') || no_room(w));
}

int users_json_value(users_jw_t *w, const users_schema_t *s, int v, int depth) {
  lua_State *L = w->L;
  if (w->check && s->read_only) return 0;
  switch (lua_type(L, v)) {
  case LUA_TSTRING:
    return put_string(w, s, v);
  case LUA_TNUMBER:
    return put_number(w, s, v);
  case LUA_TBOOLEAN:
    if (w->check && ((s->type != USERS_T_BOOLEAN && s->type != USERS_T_ANY) ||
                     users_boolean_problems(s, lua_toboolean(L, v))))
      return 0;
    return users_json_boolean(w->b, lua_toboolean(L, v)) || no_room(w);
  case LUA_TTABLE:
    if (s && s->type == USERS_T_ARRAY) return put_array(w, s, v, depth);
    if (s && s->type == USERS_T_OBJECT) return put_object_schema(w, s, v, depth);
    return !w->check && put_table(w, v, depth);
  case LUA_TLIGHTUSERDATA:
    if (!users_isnull(L, v)) break;
    if (w->check && !users_null_ok(s)) return 0;
    return users_json_null(w->b) || no_room(w);
  }
  if (w->check) return 0;
  return users_fail(&w->fail, "cannot encode a %s as JSON", luaL_typename(L, v), NULL);
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
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->names_ref); /* 3: the names */
  memset(&w, 0, sizeof w);
  w.L = L;
  w.names = 3;
  w.b = users_buf_borrow(L); /* 4 */
  /* the body is an object whose properties are the fields, one level up */
  return finish(&w, put_object_schema(&w, &p->body, 2, -1));
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
