/* Validation of an update's fields against a compiled provider. Every
 * offender is reported, each with all of its messages, under its path:
 * { field = { "message", ... }, ["address.city"] = { ... } } (see
 * lua/users/providers/README.md, "Errors"). What is wrong with a scalar is
 * rules.c's answer; this file walks the values and says it in words. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "file_info.h"
#include "formats.h"
#include "rules.h"
#include "validate.h"
#include "values.h"

/* One walk: the errors table (E == 0: probing, record nothing), the names
 * table (the provider's names_ref, for an object's declared keys), and how
 * deep the walk is (as the writers count it). */
typedef struct {
  lua_State *L;
  int E, names, depth;
  const users_known_t *known; /* what marshal_json's pass found (rules.h), or NULL */
  int text_is_text; /* integer text is not a number: see check_table_rest */
  int url_text;     /* a path parameter: integer text holds for integer alternatives */
} walk_t;

/* --- reporting ------------------------------------------------------------ */

static void add_path(luaL_Buffer *b, const users_path_t *p) {
  if (!p) return;
  add_path(b, p->up);
  if (p->name) {
    if (p->up) luaL_addchar(b, '.');
    luaL_addlstring(b, p->name, p->len);
  } else {
    char num[32];
    snprintf(num, sizeof num, "[%ld]", p->item);
    luaL_addstring(b, num);
  }
}

void users_push_path(lua_State *L, const users_path_t *p) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  add_path(&b, p);
  luaL_pushresult(&b);
}

void users_add_problem(lua_State *L, int E, const users_path_t *path, const char *msg) {
  luaL_checkstack(L, 8, "too many problems");
  if (lua_isnil(L, E)) {
    lua_newtable(L);
    lua_replace(L, E);
  }
  users_push_path(L, path->name ? path : path->up); /* an item: the array's key */
  lua_pushvalue(L, -1);
  lua_rawget(L, E);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -2);
    lua_pushvalue(L, -2);
    lua_rawset(L, E);
  }
  if (path->name) lua_pushstring(L, msg);
  else lua_pushfstring(L, "item %d %s", (int)path->item, msg);
  lua_rawseti(L, -2, (int)users_rawlen(L, -2) + 1);
  lua_pop(L, 2);
}

/* Records a + b (either may be long: a pattern, a path); returns 0 so that
 * `return problem(...)` says invalid. */
static int problem2(walk_t *w, const users_path_t *path, const char *a, const char *b) {
  if (!w->E) return 0;
  lua_pushfstring(w->L, "%s%s", a, b);
  users_add_problem(w->L, w->E, path, lua_tostring(w->L, -1));
  lua_pop(w->L, 1);
  return 0;
}

static int problem(walk_t *w, const users_path_t *path, const char *msg) {
  return problem2(w, path, msg, "");
}

/* fmt takes one %ld */
static int problemf(walk_t *w, const users_path_t *path, const char *fmt, long a) {
  char msg[200];
  if (!w->E) return 0;
  snprintf(msg, sizeof msg, fmt, a);
  return problem(w, path, msg);
}

static const char *const type_words[] = {"a value",   "a string", "an integer", "a number",
                                         "a boolean", "an array", "an object",  "a file"};

static int wrong_type(walk_t *w, const users_schema_t *s, const users_path_t *path) {
  return problem2(w, path, "must be ", type_words[s->type]);
}

/* "one of: a, b, 1, true" (strings sorted, then numbers, then booleans),
 * or how many there are when the list is long; a const's value. */
static void say_enum(walk_t *w, const users_schema_t *s, const users_path_t *path) {
  char list[300], num[32];
  size_t i, used = 0, count = s->n_enums + s->n_enum_nums + !!(s->enum_bools & USERS_E_TRUE) +
                              !!(s->enum_bools & USERS_E_FALSE);
  if (!w->E) return;
  if (count > 10) {
    problemf(w, path, "is not one of the %ld allowed values", (long)count);
    return;
  }
  list[0] = '\0';
#define ADD(text) used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", (text)); \
  if (used >= sizeof list) used = sizeof list - 1
  for (i = 0; i < s->n_enums; i++) { ADD(s->enums[i]); }
  for (i = 0; i < s->n_enum_nums; i++) {
    users_num_text(num, &s->enum_nums[i]);
    ADD(num);
  }
  if (s->enum_bools & USERS_E_TRUE) { ADD("true"); }
  if (s->enum_bools & USERS_E_FALSE) { ADD("false"); }
#undef ADD
  if (s->is_const && s->n_enums) {
    lua_pushfstring(w->L, "must be \"%s\"", list);
    users_add_problem(w->L, w->E, path, lua_tostring(w->L, -1));
    lua_pop(w->L, 1);
  } else {
    problem2(w, path, s->is_const ? "must be " : count ? "must be one of: " : "can only be null", list);
  }
}

/* An alternative in a few words: "a UUID", "\"*\"", "an integer". */
static void say_alternative(luaL_Buffer *b, const users_schema_t *a) {
  static const char *const formats[] = {"", "an email address", "a UUID", "a date-time", "a date",
                                        "a URI", "a hostname", "an IPv4 address", "an IPv6 address"};
  if (a->format) {
    luaL_addstring(b, formats[a->format]);
  } else if (a->n_enums == 1 && !a->n_enum_nums && !a->enum_bools) {
    luaL_addchar(b, '"');
    luaL_addstring(b, a->enums[0]);
    luaL_addchar(b, '"');
  } else if (a->re) {
    luaL_addstring(b, "text matching ");
    luaL_addstring(b, a->pattern);
  } else if (a->type != USERS_T_ANY) {
    luaL_addstring(b, type_words[a->type]);
  } else {
    luaL_addstring(b, "another value");
  }
}

static int say_alternatives(walk_t *w, const users_schema_t *s, unsigned bad, const users_path_t *path) {
  lua_State *L = w->L;
  const users_schema_t *alts = bad & USERS_P_ANY_OF ? s->any_of : s->one_of;
  size_t i, n = bad & USERS_P_ANY_OF ? s->n_any_of : s->n_one_of;
  luaL_Buffer b;
  if (!w->E) return 0;
  if (bad & USERS_P_MANY_OF)
    return problem(w, path, "matches more than one of its alternatives, and must match exactly one");
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "must be ");
  for (i = 0; i < n; i++) {
    if (i) luaL_addstring(&b, " or ");
    say_alternative(&b, &alts[i]);
  }
  luaL_pushresult(&b);
  users_add_problem(L, w->E, path, lua_tostring(L, -1));
  lua_pop(L, 1);
  return 0;
}

/* --- scalars -------------------------------------------------------------- */

static int check_string(walk_t *w, const users_schema_t *s, int v, const users_path_t *path) {
  static const char *const formats[] = {"", "a valid email address", "a valid UUID",
                                        "a valid date-time (RFC 3339)", "a valid date (YYYY-MM-DD)",
                                        "a valid URI (RFC 3986, with a scheme)", "a valid hostname",
                                        "a valid IPv4 address", "a valid IPv6 address"};
  size_t n;
  const char *str = lua_tolstring(w->L, v, &n);
  long chars = users_utf8_length(str, n);
  unsigned bad = w->url_text ? users_url_text_problems(s, str, n, chars)
                             : users_string_problems_known(w->known, s, str, n, chars);
  if (!bad) return 1;
  if (!w->E) return 0;
  if (bad & USERS_P_UTF8) return problem(w, path, "must be valid UTF-8 text");
  if (bad & USERS_P_MIN) problemf(w, path, "must be at least %ld characters", s->min_length);
  if (bad & USERS_P_MAX) problemf(w, path, "must be at most %ld characters", s->max_length);
  if (bad & USERS_P_FORMAT) problem2(w, path, "must be ", formats[s->format]);
  if (bad & USERS_P_PATTERN) problem2(w, path, "must match the pattern ", s->pattern);
  if (bad & USERS_P_PATTERN_COSTLY) problem2(w, path, "is too costly to check against the pattern ", s->pattern);
  if (bad & USERS_P_PATTERN_LONG)
    problemf(w, path, "is too long to check against its pattern (over %ld bytes)", (long)USERS_PATTERN_VALUE_MAX);
  if (bad & USERS_P_PATTERN_FAILED) problem2(w, path, "cannot be checked against the pattern ", s->pattern);
  if (bad & USERS_P_ENUM) say_enum(w, s, path);
  if (bad & USERS_P_ALTERNATIVES) say_alternatives(w, s, bad, path);
  return 0;
}

static void say_bound(walk_t *w, const users_path_t *path, const char *what, const users_num_t *n) {
  char text[40];
  users_num_text(text, n);
  problem2(w, path, what, text);
}

/* A number, or integer text under integer / number. */
static int check_number(walk_t *w, const users_schema_t *s, int v, const users_path_t *path) {
  lua_State *L = w->L;
  users_num_t num;
  unsigned bad;
  if (lua_type(L, v) == LUA_TNUMBER) {
    users_tonum(L, v, &num);
    if (!num.is_int) {
      if (s->type == USERS_T_INTEGER) return problem(w, path, "must be an integer");
      if (num.d != num.d || num.d - num.d != 0) return problem(w, path, "must be a finite number");
    }
  } else {
    size_t n;
    const char *str = lua_type(L, v) == LUA_TSTRING ? lua_tolstring(L, v, &n) : NULL;
    if (!str || w->text_is_text || !users_is_integer_text(str, n)) return wrong_type(w, s, path);
    users_num_from_text(&num, str, n);
  }
  if (!(bad = users_number_problems(s, &num))) return 1;
  if (!w->E) return 0;
  if (bad & USERS_P_BELOW) say_bound(w, path, "must be at least ", &s->minimum);
  if (bad & USERS_P_ABOVE) say_bound(w, path, "must be at most ", &s->maximum);
  if (bad & USERS_P_XBELOW) say_bound(w, path, "must be greater than ", &s->xminimum);
  if (bad & USERS_P_XABOVE) say_bound(w, path, "must be less than ", &s->xmaximum);
  if (bad & USERS_P_MULTIPLE) say_bound(w, path, "must be a multiple of ", &s->multiple_of);
  if (bad & USERS_P_ENUM) say_enum(w, s, path);
  if (bad & USERS_P_ALTERNATIVES) say_alternatives(w, s, bad, path);
  return 0;
}

static int check_boolean(walk_t *w, const users_schema_t *s, int v, const users_path_t *path) {
  unsigned bad = users_boolean_problems(s, lua_toboolean(w->L, v));
  if (!bad) return 1;
  if (bad & USERS_P_ENUM) say_enum(w, s, path);
  else say_alternatives(w, s, bad, path);
  return 0;
}

static int check_file(walk_t *w, const users_schema_t *s, int v, const users_path_t *path) {
  users_file_t file;
  unsigned bad, bit;
  if (!users_file_info(w->L, v, &file)) {
    lua_pop(w->L, USERS_FILE_SLOTS);
    return problem(w, path, file.err);
  }
  bad = users_file_problems(s, &file);
  for (bit = 1; bit <= USERS_FP_ALL; bit <<= 1) {
    char msg[64];
    if (bad & bit) problem(w, path, users_file_message(s, bit, msg, sizeof msg));
  }
  lua_pop(w->L, USERS_FILE_SLOTS);
  return !bad;
}

/* --- tables --------------------------------------------------------------- */

static int check_value(walk_t *w, const users_schema_t *s, int v, const users_path_t *path);

/* What a table must also hold besides its own rules: no enum matches a
 * table; alternatives (any_of, one_of) are tried whole. */
static int check_table_rest(walk_t *w, const users_schema_t *s, int v, const users_path_t *path) {
  size_t i, n = 0;
  walk_t probe = *w;
  if (s->has_enum) {
    say_enum(w, s, path);
    return 0;
  }
  probe.E = 0;
  /* Under "any" the writers write the table free-form, strings as strings:
   * "1" inside it is never 1 to an alternative that says integer. */
  if (s->type == USERS_T_ANY) probe.text_is_text = 1;
  if (s->n_any_of) {
    for (i = 0; i < s->n_any_of && !n; i++) n += (size_t)check_value(&probe, &s->any_of[i], v, path);
    if (!n) return say_alternatives(w, s, USERS_P_ANY_OF, path);
  }
  for (i = 0, n = 0; i < s->n_one_of && n < 2; i++) n += (size_t)check_value(&probe, &s->one_of[i], v, path);
  if (s->n_one_of && n != 1) return say_alternatives(w, s, n ? USERS_P_MANY_OF : USERS_P_ONE_OF, path);
  return 1;
}

static int check_array(walk_t *w, const users_schema_t *s, int v, const users_path_t *path) {
  lua_State *L = w->L;
  size_t n = 0, count = 0, i;
  int ok = 1;
  luaL_checkstack(L, 8, "nested too deeply"); /* nothing is lent here: raising is safe */
  /* Keys must be 1..n without a gap; the length operator cannot tell (its
   * answer for a table with holes differs between Lua versions). */
  lua_pushnil(L);
  while (lua_next(L, v)) {
    long long k;
    lua_pop(L, 1);
    if (!users_tointeger(L, -1, &k) || k < 1) {
      lua_pop(L, 1);
      return problem(w, path, "must be an array (keys 1..n), not an object");
    }
    if ((size_t)k > n) n = (size_t)k;
    count++;
  }
  if (count != n) return problem(w, path, "must be an array without holes");
  if (s->min_items >= 0 && (long)n < s->min_items)
    ok = problemf(w, path, "must have at least %ld items", s->min_items);
  if (s->max_items >= 0 && (long)n > s->max_items)
    ok = problemf(w, path, "must have at most %ld items", s->max_items);
  w->depth++;
  for (i = 1; i <= n; i++) {
    users_path_t item;
    item.up = path, item.name = NULL, item.len = 0, item.item = (long)i;
    lua_rawgeti(L, v, (int)i);
    if (!check_value(w, s->items, lua_gettop(L), &item)) ok = 0;
    lua_pop(L, 1);
  }
  w->depth--;
  if (ok && s->unique) {
    long a, b;
    int r = users_items_unique(L, s->items, v, n, &a, &b);
    if (r < 0) return problem(w, path, "is nested too deeply (or holds itself)");
    if (r == 0) {
      char msg[100];
      snprintf(msg, sizeof msg, "must not repeat an item: items %ld and %ld are equal", a, b);
      return problem(w, path, msg);
    }
  }
  return ok && check_table_rest(w, s, v, path);
}

/* The keys of an object that its schema does not declare: each refused, or
 * held to additional_schema. */
static int check_additional(walk_t *w, const users_schema_t *s, int v, const users_path_t *path) {
  lua_State *L = w->L;
  int ok = 1;
  lua_pushnil(L);
  while (lua_next(L, v)) {
    users_path_t key;
    key.up = path, key.item = 0;
    key.name = lua_tolstring(L, -2, &key.len); /* a string: check_object saw to it */
    if (users_schema_prop(s, key.name, key.len)) {
      /* declared */
    } else if (users_utf8_length(key.name, key.len) < 0) {
      ok = problem(w, path, "has a key that is not UTF-8");
    } else if (!s->additional) {
      if (w->E) {
        users_push_path(L, path);
        lua_pushfstring(L, "is not a property of %s", lua_tostring(L, -1));
        users_add_problem(L, w->E, &key, lua_tostring(L, -1));
        lua_pop(L, 2);
      }
      ok = 0;
    } else if (s->additional_schema && !check_value(w, s->additional_schema, lua_gettop(L), &key)) {
      ok = 0;
    } else if (!s->additional_schema) {
      const char *why = users_json_unwritable(L, lua_gettop(L), w->depth);
      if (why) ok = problem2(w, &key, "cannot be sent as JSON: it ", why);
    }
    lua_pop(L, 1);
  }
  return ok;
}

static int check_object(walk_t *w, const users_schema_t *s, int v, const users_path_t *path) {
  lua_State *L = w->L;
  size_t i, count = 0, present = 0;
  int ok = 1;
  luaL_checkstack(L, 8, "nested too deeply");
  lua_pushnil(L);
  while (lua_next(L, v)) {
    int t = lua_type(L, -2);
    lua_pop(L, 1);
    if (t != LUA_TSTRING) {
      lua_pop(L, 1);
      return problem(w, path, t == LUA_TNUMBER ? "must be an object (string keys), not an array"
                                               : "must be an object with string keys");
    }
    count++;
  }
  if (s->min_props >= 0 && (long)count < s->min_props)
    ok = problemf(w, path, "must have at least %ld properties", s->min_props);
  if (s->max_props >= 0 && (long)count > s->max_props)
    ok = problemf(w, path, "must have at most %ld properties", s->max_props);
  w->depth++;
  for (i = 0; i < s->n_props; i++) {
    const users_field_t *f = &s->props[i];
    users_path_t key;
    key.up = path, key.name = f->name, key.len = f->name_len, key.item = 0;
    lua_rawgeti(L, w->names, f->slot);
    lua_rawget(L, v);
    if (!lua_isnil(L, -1)) {
      present++;
      if (!check_value(w, &f->s, lua_gettop(L), &key)) ok = 0;
    } else if (f->required) {
      ok = problem(w, &key, "is required");
    }
    lua_pop(L, 1);
  }
  if (count > present && !check_additional(w, s, v, path)) ok = 0;
  w->depth--;
  return ok && check_table_rest(w, s, v, path);
}

/* A table where any value goes: JSON must be able to spell it. */
static int check_free(walk_t *w, const users_schema_t *s, int v, const users_path_t *path) {
  const char *why = users_json_unwritable(w->L, v, w->depth);
  if (why) return problem2(w, path, "cannot be sent as JSON: it ", why);
  return check_table_rest(w, s, v, path);
}

static int check_value(walk_t *w, const users_schema_t *s, int v, const users_path_t *path) {
  lua_State *L = w->L;
  int t = lua_type(L, v);
  if (s->read_only) return problem(w, path, "is read-only: it cannot be updated");
  if (t == LUA_TLIGHTUSERDATA && !lua_touserdata(L, v)) /* users.null */
    return users_null_ok(s) || problem(w, path, "cannot be null");
  switch (s->type) {
  case USERS_T_STRING: return t == LUA_TSTRING ? check_string(w, s, v, path) : wrong_type(w, s, path);
  case USERS_T_INTEGER: case USERS_T_NUMBER: return check_number(w, s, v, path);
  case USERS_T_BOOLEAN: return t == LUA_TBOOLEAN ? check_boolean(w, s, v, path) : wrong_type(w, s, path);
  case USERS_T_ARRAY: return t == LUA_TTABLE ? check_array(w, s, v, path) : wrong_type(w, s, path);
  case USERS_T_OBJECT: return t == LUA_TTABLE ? check_object(w, s, v, path) : wrong_type(w, s, path);
  case USERS_T_FILE: return check_file(w, s, v, path);
  default: break;
  }
  switch (t) { /* any type: the rules for the value's own kind */
  case LUA_TSTRING: return check_string(w, s, v, path);
  case LUA_TNUMBER: return check_number(w, s, v, path);
  case LUA_TBOOLEAN: return check_boolean(w, s, v, path);
  case LUA_TTABLE: return check_free(w, s, v, path);
  default: return problem2(w, path, "cannot be sent as JSON: it is a ", luaL_typename(L, v));
  }
}

/* --- the fields of an update ---------------------------------------------- */

/* A key of the update that is no declared field: refused, or let through
 * (additional_fields) under its rules. */
static void check_extra_field(walk_t *w, const users_provider_t *p, int k) {
  lua_State *L = w->L;
  users_path_t path;
  path.up = NULL, path.item = 0;
  if (lua_type(L, k) != LUA_TSTRING) {
    path.name = luaL_typename(L, k), path.len = strlen(path.name);
    problem(w, &path, "is not a field name: names are strings");
    return;
  }
  path.name = lua_tolstring(L, k, &path.len);
  if (!p->body.additional) {
    lua_pushfstring(L, "is not a field of %s", p->name);
    users_add_problem(L, w->E, &path, lua_tostring(L, -1));
    lua_pop(L, 1);
  } else if (users_utf8_length(path.name, path.len) < 0) {
    problem(w, &path, "is not a field name: names are UTF-8 text");
  } else if (p->body.additional_schema) {
    check_value(w, p->body.additional_schema, k + 1, &path);
  } else {
    const char *why = users_json_unwritable(L, k + 1, 0);
    if (why) problem2(w, &path, "cannot be sent as JSON: it ", why);
  }
}

/* Validates the fields present (one pass over the table the caller gave,
 * matching keys against the interned field names), then what is missing. */
int users_validate_known(lua_State *L, const users_known_t *known) {
  users_provider_t *p = users_provider_check(L, 1);
  const users_field_t *fields = users_provider_fields(p);
  const int E = 3, NAMES = 4;
  int present = 0;
  size_t i;
  char seen[USERS_MAX_FIELDS];
  walk_t w;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  lua_pushnil(L); /* 3: errors, made on the first one */
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->names_ref); /* 4 */
  w.L = L, w.E = E, w.names = NAMES, w.depth = 0, w.known = known, w.text_is_text = 0, w.url_text = 0;
  memset(seen, 0, sizeof seen);
  lua_pushnil(L);
  while (lua_next(L, 2)) { /* key -2, value -1 */
    const users_field_t *f = NULL;
    present++;
    if (lua_type(L, -2) == LUA_TSTRING) {
      size_t len;
      const char *key = lua_tolstring(L, -2, &len);
      f = users_provider_field_by_key(p, key, len);
    }
    if (f) {
      users_path_t path;
      path.up = NULL, path.name = f->name, path.len = f->name_len, path.item = 0;
      seen[f - fields] = 1;
      check_value(&w, &f->s, lua_gettop(L), &path);
    } else {
      check_extra_field(&w, p, lua_gettop(L) - 1);
    }
    lua_pop(L, 1);
  }
  if (present == 0) {
    lua_pushnil(L);
    lua_pushstring(L, "empty");
    return 2;
  }
  for (i = 0; i < users_provider_n_fields(p); i++) {
    const users_field_t *f = &fields[i];
    users_path_t path;
    path.up = NULL, path.name = f->name, path.len = f->name_len, path.item = 0;
    if (f->required && !seen[i]) problem(&w, &path, "is required");
    if (f->same_as_index >= 0 && (seen[i] || seen[f->same_as_index])) {
      int equal;
      lua_rawgeti(L, NAMES, f->slot);
      lua_rawget(L, 2);
      lua_rawgeti(L, NAMES, fields[f->same_as_index].slot);
      lua_rawget(L, 2);
      equal = lua_rawequal(L, -1, -2);
      lua_pop(L, 2);
      if (!equal) problem2(&w, &path, "must match ", f->s.same_as);
    }
  }
  if (lua_isnil(L, E)) return 0; /* valid */
  lua_pushvalue(L, E);
  return 1;
}

int users_validate_fields(lua_State *L) {
  return users_validate_known(L, NULL);
}

/* core.check_param(provider, name, value) -> text | nil, message: a path
 * parameter, validated like a field, returned as the text to encode. */
static int check_param(lua_State *L) {
  users_provider_t *p = users_provider_check(L, 1);
  const char *name = luaL_checkstring(L, 2);
  const users_field_t *f = NULL;
  size_t i, n;
  const char *s;
  users_path_t path;
  walk_t w;
  for (i = 0; i < p->n_params; i++)
    if (strcmp(p->params[i].name, name) == 0) f = &p->params[i];
  if (!f) return luaL_argerror(L, 2, "no such path parameter");
  lua_settop(L, 3);
  lua_pushnil(L); /* errors, index 4 */
  if (lua_isnil(L, 3)) {
    lua_pushnil(L);
    lua_pushstring(L, "is required");
    return 2;
  }
  path.up = NULL, path.name = f->name, path.len = f->name_len, path.item = 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->names_ref); /* 5: never read (no table gets here), never 0 */
  w.L = L, w.E = 4, w.names = 5, w.depth = 0, w.known = NULL, w.text_is_text = 0, w.url_text = 1;
  if (f->s.type == USERS_T_STRING && lua_type(L, 3) != LUA_TSTRING) {
    lua_pushnil(L);
    lua_pushstring(L, "must be a string");
    return 2;
  }
  if (lua_type(L, 3) == LUA_TTABLE) { /* a parameter's schema holds no table (compile saw to it) */
    lua_pushnil(L);
    lua_pushstring(L, "must be a string or a number");
    return 2;
  }
  if (!check_value(&w, &f->s, 3, &path)) {
    lua_getfield(L, 4, f->name);
    lua_pushnil(L);
    lua_rawgeti(L, -2, 1);
    return 2;
  }
  if (lua_type(L, 3) == LUA_TNUMBER) { /* the number's text, as JSON writes it */
    users_num_t num;
    char text[40];
    users_tonum(L, 3, &num);
    users_num_text(text, &num);
    lua_pushstring(L, text);
    return 1;
  }
  if (lua_type(L, 3) != LUA_TSTRING) {
    lua_pushnil(L);
    lua_pushstring(L, "must be a string or a number");
    return 2;
  }
  s = lua_tolstring(L, 3, &n);
  if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) {
    lua_pushnil(L);
    lua_pushstring(L, "must not be empty, \".\" or \"..\"");
    return 2;
  }
  lua_pushvalue(L, 3);
  return 1;
}

void users_validate_open(lua_State *L) {
  static const luaL_Reg functions[] = {
      {"validate", users_validate_fields}, {"check_param", check_param}, {NULL, NULL}};
  users_setfuncs(L, functions);
}
