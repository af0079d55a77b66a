/* One schema of a declaration compiled: every key of
 * lua/users/providers/README.md read, checked and stored; an unknown key,
 * a wrong value or a pattern PCRE2 cannot compile raises a message naming
 * where it is. Each allocation hangs off the provider's userdata before
 * the next call that can raise (see schema.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "formats.h"
#include "json_write.h"
#include "schema.h"
#include "values.h"

static const char *const type_names[] = {"any",     "string", "integer", "number", "boolean",
                                         "array",   "object", "file",    NULL};
static const char *const format_names[] = {"",         "email", "uuid", "date-time", "date",
                                           "uri",      "hostname", "ipv4", "ipv6", NULL};
static const char *const style_names[] = {"form", "deepObject", "spaceDelimited", "pipeDelimited",
                                          NULL};
/* Accepted and never read: what people and generators write beside rules. */
static const char *const annotations[] = {"description", "title", "example", "examples", "default",
                                          "deprecated", "write_only", "format_hint", NULL};

/* Where a schema sits: some keys belong to one place only. */
enum { AT_FIELD, AT_PARAM, AT_PROP, AT_FIELD_ITEMS, AT_INNER };

void users_schema_free(users_schema_t *s) {
  size_t i;
  if (!s) return;
  free((void *)s->enums); /* its strings are Lua's, kept by the provider */
  free(s->enum_strings);
  free(s->enum_nums);
  users_pattern_free(s->re);
  free(s->same_as);
  free(s->content_type);
  free(s->part_content_type);
  if (s->items) { users_schema_free(s->items); free(s->items); }
  if (s->additional_schema) { users_schema_free(s->additional_schema); free(s->additional_schema); }
  for (i = 0; i < s->n_any_of; i++) users_schema_free(&s->any_of[i]);
  free(s->any_of);
  for (i = 0; i < s->n_one_of; i++) users_schema_free(&s->one_of[i]);
  free(s->one_of);
  users_fields_free(s->props, s->n_props);
  memset(s, 0, sizeof *s);
}

void users_fields_free(users_field_t *f, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    free(f[i].name);
    free(f[i].json_key);
    users_schema_free(&f[i].s);
  }
  free(f);
}

char *users_strdup_or_raise(lua_State *L, const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (!d) luaL_error(L, "not enough memory");
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

static void *calloc_or_raise(lua_State *L, size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size);
  if (!p) luaL_error(L, "not enough memory");
  return p;
}

int users_compile_error(users_compile_t *c, const char *fmt, ...) {
  va_list ap;
  lua_State *L = c->L;
  if (c->path_len) lua_pushfstring(L, "provider declaration: %s: ", c->path);
  else lua_pushliteral(L, "provider declaration: ");
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_concat(L, 2);
  return lua_error(L);
}

/* n more schemas or enum values, counted before they are allocated. */
static void spend(users_compile_t *c, size_t n) {
  if (n > USERS_MAX_SCHEMA_NODES - c->nodes)
    users_compile_error(c, "more than %d schemas and enum values in one declaration: refused as too large",
                        USERS_MAX_SCHEMA_NODES);
  c->nodes += n;
}

/* The text at t[k] (a name: k 1; a content type, same_as) copied as many
 * times as the walk reaches it. */
static void spend_text(users_compile_t *c, int t, int k, const char *key) {
  lua_State *L = c->L;
  size_t n = 0;
  if (key) {
    lua_pushstring(L, key);
    lua_rawget(L, t);
  } else {
    lua_rawgeti(L, t, k);
  }
  if (lua_type(L, -1) == LUA_TSTRING) lua_tolstring(L, -1, &n);
  lua_pop(L, 1);
  if (n > USERS_MAX_SCHEMA_BYTES - c->bytes)
    users_compile_error(c, "more than %d MB of names and types in one declaration: refused as too large",
                        (int)(USERS_MAX_SCHEMA_BYTES >> 20));
  c->bytes += n;
}

/* The budget walked before anything is allocated: a small declaration
 * whose tables are reached from many places is refused before it unfolds.
 * What it cannot count (not a table, nested too deeply) compiling refuses. */
static void count_schema(users_compile_t *c, int idx, int depth);

/* t[k] pushed, read raw as compiling reads (a metatable is not consulted). */
static int raw_field(lua_State *L, int t, const char *k) {
  lua_pushstring(L, k);
  lua_rawget(L, t);
  return lua_istable(L, -1);
}

static void count_list(users_compile_t *c, int idx, int depth) {
  size_t i, n;
  if (!lua_istable(c->L, idx)) return;
  n = users_rawlen(c->L, idx);
  spend(c, n);
  for (i = 1; i <= n; i++) {
    lua_rawgeti(c->L, idx, (int)i);
    if (lua_istable(c->L, -1)) spend_text(c, lua_gettop(c->L), 1, NULL);
    count_schema(c, lua_gettop(c->L), depth);
    lua_pop(c->L, 1);
  }
}

static void count_schema(users_compile_t *c, int idx, int depth) {
  static const char *const inner[] = {"items", "additional_properties", NULL};
  static const char *const lists[] = {"properties", "any_of", "one_of", NULL};
  static const char *const texts[] = {"content_type", "part_content_type", "same_as", NULL};
  lua_State *L = c->L;
  int i;
  if (!lua_istable(L, idx) || depth > USERS_MAX_SCHEMA_DEPTH) return;
  luaL_checkstack(L, 4, "provider declaration nested too deeply");
  for (i = 0; texts[i]; i++) spend_text(c, idx, 0, texts[i]);
  if (raw_field(L, idx, "enum")) spend(c, users_rawlen(L, -1));
  lua_pop(L, 1);
  for (i = 0; inner[i]; i++) {
    if (raw_field(L, idx, inner[i])) {
      spend(c, 1);
      count_schema(c, lua_gettop(L), depth + 1);
    }
    lua_pop(L, 1);
  }
  for (i = 0; lists[i]; i++) {
    raw_field(L, idx, lists[i]);
    count_list(c, lua_gettop(L), depth + 1);
    lua_pop(L, 1);
  }
}

void users_compile_budget(users_compile_t *c, int decl) {
  static const char *const lists[] = {"fields", "params", NULL};
  lua_State *L = c->L;
  int i;
  for (i = 0; lists[i]; i++) {
    raw_field(L, decl, lists[i]);
    count_list(c, lua_gettop(L), 0);
    lua_pop(L, 1);
  }
  if (raw_field(L, decl, "additional_fields")) {
    spend(c, 1);
    count_schema(c, lua_gettop(L), 1);
  }
  lua_pop(L, 1);
  c->nodes = 0; /* compiling counts again, as it allocates */
}

/* Appends text to the path for what is compiled next; returns where to
 * cut it back (path_leave). */
static size_t path_enter(users_compile_t *c, const char *text) {
  size_t at = c->path_len, n = strlen(text);
  if (n >= sizeof c->path - at) n = sizeof c->path - at - 1; /* a long path is cut */
  memcpy(c->path + at, text, n);
  c->path_len = at + n;
  c->path[c->path_len] = '\0';
  return at;
}

static void path_leave(users_compile_t *c, size_t at) {
  c->path_len = at;
  c->path[at] = '\0';
}

static int find_name(const char *const *names, const char *s) {
  int i;
  for (i = 0; names[i]; i++)
    if (strcmp(names[i], s) == 0) return i;
  return -1;
}

/* The string at v without NUL, or a raise naming key. */
static const char *want_string(users_compile_t *c, int v, const char *key, size_t *n) {
  const char *s;
  if (lua_type(c->L, v) != LUA_TSTRING) users_compile_error(c, "'%s' must be a string", key);
  s = lua_tolstring(c->L, v, n);
  if (strlen(s) != *n) users_compile_error(c, "'%s' must not hold a NUL byte", key);
  return s;
}

static char *want_copy(users_compile_t *c, int v, const char *key) {
  size_t n;
  const char *s = want_string(c, v, key, &n);
  return users_strdup_or_raise(c->L, s, n);
}

static int want_bool(users_compile_t *c, int v, const char *key) {
  if (lua_type(c->L, v) != LUA_TBOOLEAN) users_compile_error(c, "'%s' must be true or false", key);
  return lua_toboolean(c->L, v);
}

static long want_count(users_compile_t *c, int v, const char *key) {
  long long n;
  if (!users_tointeger(c->L, v, &n) || n < 0 || n > 0x7fffffffL)
    users_compile_error(c, "'%s' must be a whole number from 0", key);
  return (long)n;
}

/* A finite number, or integer text (exact beyond 2^53 on 5.1/LuaJIT). */
static int to_num(lua_State *L, int v, users_num_t *out) {
  memset(out, 0, sizeof *out);
  if (lua_type(L, v) == LUA_TNUMBER) {
    users_tonum(L, v, out);
    return out->is_int || isfinite(out->d);
  }
  if (lua_type(L, v) == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(L, v, &n);
    if (!users_is_integer_text(s, n)) return 0;
    users_num_from_text(out, s, n);
    return 1;
  }
  return 0;
}

static void want_num(users_compile_t *c, int v, const char *key, users_num_t *out) {
  if (!to_num(c->L, v, out)) users_compile_error(c, "'%s' must be a finite number", key);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Long strings are not interned on Lua 5.2-5.4: an equal string that is
 * another object finds the first as its key in keep, and is itself held by
 * nothing. So keep maps each string to itself, and the bytes returned are
 * those of the object it holds, never the one at idx (which the caller may
 * drop: a YAML document makes a new string for every occurrence). */
const char *users_keep_string(lua_State *L, int keep, int idx, size_t *len) {
  const char *str;
  if (idx < 0) idx = lua_gettop(L) + idx + 1; /* lua_absindex is not in 5.1 */
  lua_pushvalue(L, idx);
  lua_rawget(L, keep);
  if (lua_type(L, -1) != LUA_TSTRING) {
    lua_pop(L, 1);
    lua_pushvalue(L, idx);
    lua_pushvalue(L, idx);
    lua_rawset(L, keep);
    lua_pushvalue(L, idx);
  }
  str = lua_tolstring(L, -1, len);
  lua_pop(L, 1); /* held by keep */
  return str;
}

/* The pattern at v into s: each distinct source is compiled once per
 * provider (c->patterns maps it to its compiled form), and its text is the
 * Lua string, kept by the provider, so that one pattern table reached from
 * many places costs once. */
static void compile_pattern(users_compile_t *c, int v, users_schema_t *s) {
  lua_State *L = c->L;
  char why[200];
  size_t n;
  const char *src = want_string(c, v, "pattern", &n);
  lua_pushvalue(L, v);
  lua_rawget(L, c->patterns);
  if (lua_islightuserdata(L, -1)) {
    s->re = users_pattern_share((users_pattern_t *)lua_touserdata(L, -1));
  } else if (!(s->re = users_pattern_compile(src, n, c->re_stack, why, sizeof why))) {
    users_compile_error(c, "pattern %s cannot be compiled: %s", src, why);
  } else {
    lua_pushvalue(L, v);
    lua_pushlightuserdata(L, s->re);
    lua_rawset(L, c->patterns);
  }
  lua_pop(L, 1);
  s->pattern = users_keep_string(L, c->keep, v, &n); /* lives as long as the provider */
}

/* enum (a list) or const (one value, at v) into s. */
static void compile_enum(users_compile_t *c, int v, users_schema_t *s, int is_const) {
  lua_State *L = c->L;
  size_t i, n;
  if (s->has_enum) users_compile_error(c, "'enum' and 'const' cannot be given together");
  if (!is_const && !lua_istable(L, v)) users_compile_error(c, "'enum' must be a list");
  n = is_const ? 1 : users_rawlen(L, v);
  spend(c, n);
  s->has_enum = 1;
  s->is_const = (unsigned char)is_const;
  s->enums = calloc_or_raise(L, n, sizeof(char *));
  s->enum_strings = calloc_or_raise(L, n, sizeof(char *));
  s->enum_nums = calloc_or_raise(L, n, sizeof(users_num_t));
  for (i = 0; i < n; i++) {
    int t;
    if (is_const) lua_pushvalue(L, v);
    else lua_rawgeti(L, v, (int)i + 1);
    t = lua_type(L, -1);
    if (t == LUA_TSTRING) {
      size_t len;
      const char *str = users_keep_string(L, c->keep, -1, &len); /* lives as long as the provider */
      if (strlen(str) != len) users_compile_error(c, "enum values must be strings without NUL");
      s->enums[s->n_enums] = str; /* not copied: one long string listed often costs once */
      s->enum_strings[s->n_enums++] = str;
    } else if (t == LUA_TBOOLEAN) {
      s->enum_bools |= lua_toboolean(L, -1) ? USERS_E_TRUE : USERS_E_FALSE;
    } else if (t == LUA_TNUMBER && to_num(L, -1, &s->enum_nums[s->n_enum_nums])) {
      s->n_enum_nums++;
    } else {
      users_compile_error(c, "%s values must be strings, finite numbers or booleans",
                          is_const ? "'const'" : "'enum'");
    }
    lua_pop(L, 1);
  }
  qsort(s->enums, s->n_enums, sizeof(char *), cmp_str);
}

/* application/json, or any type whose subtype ends in +json (parameters
 * after ';' aside). */
static int is_json_type(const char *t) {
  const char *end = strchr(t, ';'), *slash = strchr(t, '/');
  size_t n = end ? (size_t)(end - t) : strlen(t);
  while (n && t[n - 1] == ' ') n--;
  if (!slash || (size_t)(slash - t) >= n) return 0;
  return (n >= 5 && strncmp(t + n - 5, "/json", 5) == 0) ||
         (n >= 5 && strncmp(t + n - 5, "+json", 5) == 0);
}

static void compile_schema(users_compile_t *c, int idx, users_schema_t *s, int depth, int at,
                           int *required);
static void compile_list_at(users_compile_t *c, int idx, const char *key, int kind,
                            users_field_t **out, size_t *n_out, int depth);

/* any_of / one_of: a list of schemas, at least one. */
static void compile_alternatives(users_compile_t *c, int v, const char *key,
                                 users_schema_t **out, size_t *n_out, int depth) {
  lua_State *L = c->L;
  size_t i, n = 0;
  if (!lua_istable(L, v) || (n = users_rawlen(L, v)) == 0)
    users_compile_error(c, "'%s' must be a list of schemas", key);
  spend(c, n);
  *out = calloc_or_raise(L, n, sizeof(users_schema_t));
  for (i = 0; i < n; i++) {
    char where[48];
    size_t back;
    lua_rawgeti(L, v, (int)i + 1);
    if (!lua_istable(L, -1)) users_compile_error(c, "%s[%d] must be a schema (a table)", key, (int)i + 1);
    *n_out = i + 1;
    snprintf(where, sizeof where, ".%s[%d]", key, (int)i + 1);
    back = path_enter(c, where);
    compile_schema(c, lua_gettop(L), &(*out)[i], depth + 1, AT_INNER, NULL);
    path_leave(c, back);
    lua_pop(L, 1);
  }
}

static users_schema_t *new_schema(users_compile_t *c, users_schema_t **slot, int v, const char *key,
                                  int depth, int at) {
  char where[48];
  size_t back;
  if (!lua_istable(c->L, v)) users_compile_error(c, "'%s' must be a schema (a table)", key);
  spend(c, 1);
  *slot = calloc_or_raise(c->L, 1, sizeof(users_schema_t));
  snprintf(where, sizeof where, ".%s", key);
  back = path_enter(c, where);
  compile_schema(c, v, *slot, depth + 1, at, NULL);
  path_leave(c, back);
  return *slot;
}

/* Keys only a top-level field may have (how its value goes in a form). */
static int field_only(users_compile_t *c, const char *k, int at) {
  if (at != AT_FIELD) users_compile_error(c, "'%s' belongs to a top-level field", k);
  return 1;
}

/* The value of key k at v, into s. */
static void compile_key(users_compile_t *c, const char *k, int v, users_schema_t *s, int depth,
                        int at, int *required) {
  lua_State *L = c->L;
  int i;
  size_t n;
  if (strcmp(k, "type") == 0) {
    if ((i = find_name(type_names, want_string(c, v, k, &n))) < 0)
      users_compile_error(c, "unknown type '%s'", lua_tostring(L, v));
    s->type = (unsigned char)i;
  } else if (strcmp(k, "format") == 0) {
    if ((i = find_name(format_names, want_string(c, v, k, &n))) <= 0)
      users_compile_error(c, "unknown format '%s' (an annotation is written format_hint)",
                          lua_tostring(L, v));
    s->format = (unsigned char)i;
  } else if (strcmp(k, "nullable") == 0) { s->nullable = (unsigned char)want_bool(c, v, k);
  } else if (strcmp(k, "read_only") == 0) { s->read_only = (unsigned char)want_bool(c, v, k);
  } else if (strcmp(k, "unique_items") == 0) { s->unique = (unsigned char)want_bool(c, v, k);
  } else if (strcmp(k, "required") == 0) {
    if (!required) users_compile_error(c, "'required' belongs to a field or a property");
    *required = want_bool(c, v, k);
  } else if (strcmp(k, "min_length") == 0) { s->min_length = want_count(c, v, k);
  } else if (strcmp(k, "max_length") == 0) { s->max_length = want_count(c, v, k);
  } else if (strcmp(k, "min_items") == 0) { s->min_items = want_count(c, v, k);
  } else if (strcmp(k, "max_items") == 0) { s->max_items = want_count(c, v, k);
  } else if (strcmp(k, "min_properties") == 0) { s->min_props = want_count(c, v, k);
  } else if (strcmp(k, "max_properties") == 0) { s->max_props = want_count(c, v, k);
  } else if (strcmp(k, "max_bytes") == 0) { s->max_bytes = want_count(c, v, k);
  } else if (strcmp(k, "minimum") == 0) { want_num(c, v, k, &s->minimum); s->bounds |= USERS_B_MIN;
  } else if (strcmp(k, "maximum") == 0) { want_num(c, v, k, &s->maximum); s->bounds |= USERS_B_MAX;
  } else if (strcmp(k, "exclusive_minimum") == 0) {
    want_num(c, v, k, &s->xminimum);
    s->bounds |= USERS_B_XMIN;
  } else if (strcmp(k, "exclusive_maximum") == 0) {
    want_num(c, v, k, &s->xmaximum);
    s->bounds |= USERS_B_XMAX;
  } else if (strcmp(k, "multiple_of") == 0) {
    users_num_t zero = {1, 0, 0};
    want_num(c, v, k, &s->multiple_of);
    if (users_num_cmp(&s->multiple_of, &zero) <= 0) users_compile_error(c, "'multiple_of' must be above 0");
    s->bounds |= USERS_B_MULT;
  } else if (strcmp(k, "enum") == 0 || strcmp(k, "const") == 0) {
    compile_enum(c, v, s, k[0] == 'c');
  } else if (strcmp(k, "pattern") == 0) {
    compile_pattern(c, v, s);
  } else if (strcmp(k, "items") == 0) {
    new_schema(c, &s->items, v, k, depth, at == AT_FIELD ? AT_FIELD_ITEMS : AT_INNER);
  } else if (strcmp(k, "properties") == 0) {
    if (!lua_istable(L, v)) users_compile_error(c, "'properties' must be a list of properties");
    compile_list_at(c, v, k, USERS_LIST_PROPS, &s->props, &s->n_props, depth + 1);
    c->has_props = 1;
  } else if (strcmp(k, "additional_properties") == 0) {
    if (lua_type(L, v) == LUA_TBOOLEAN) s->additional = (unsigned char)lua_toboolean(L, v);
    else new_schema(c, &s->additional_schema, v, k, depth, AT_INNER);
  } else if (strcmp(k, "any_of") == 0) {
    compile_alternatives(c, v, k, &s->any_of, &s->n_any_of, depth);
  } else if (strcmp(k, "one_of") == 0) {
    compile_alternatives(c, v, k, &s->one_of, &s->n_one_of, depth);
  } else if (strcmp(k, "content_type") == 0) { s->content_type = want_copy(c, v, k);
  } else if (strcmp(k, "same_as") == 0 && field_only(c, k, at)) { s->same_as = want_copy(c, v, k);
  } else if (strcmp(k, "style") == 0 && field_only(c, k, at)) {
    if ((i = find_name(style_names, want_string(c, v, k, &n))) < 0)
      users_compile_error(c, "unknown style '%s'", lua_tostring(L, v));
    s->style = (unsigned char)i;
  } else if (strcmp(k, "explode") == 0 && field_only(c, k, at)) {
    s->explode = (unsigned char)want_bool(c, v, k);
  } else if (strcmp(k, "part_content_type") == 0 && field_only(c, k, at)) {
    s->part_content_type = want_copy(c, v, k);
    if (strpbrk(s->part_content_type, "\r\n\"")) users_compile_error(c, "'part_content_type' has a forbidden character");
    s->part_json = (unsigned char)is_json_type(s->part_content_type);
  } else if (strcmp(k, "option") == 0 && at == AT_PARAM) {
    want_string(c, v, k, &n);
  } else if (find_name(annotations, k) < 0) {
    users_compile_error(c, "unknown key '%s'", k);
  }
}

/* Whether a value under s can be a table: its type is object or array, or
 * it has no type and no alternatives, or one of its alternatives can. The
 * form styles other than form write tables; a scalar is name=value in any. */
static int holds_table(const users_schema_t *s) {
  size_t i;
  if (s->type == USERS_T_OBJECT || s->type == USERS_T_ARRAY) return 1;
  if (s->type != USERS_T_ANY) return 0;
  if (!s->n_any_of && !s->n_one_of) return 1;
  for (i = 0; i < s->n_any_of; i++)
    if (holds_table(&s->any_of[i])) return 1;
  for (i = 0; i < s->n_one_of; i++)
    if (holds_table(&s->one_of[i])) return 1;
  return 0;
}

/* What holds only with the whole schema read. */
static void check_schema(users_compile_t *c, users_schema_t *s, int at) {
  int t = s->type;
  if (s->props && t != USERS_T_OBJECT) users_compile_error(c, "'properties' needs type = \"object\"");
  /* a keyword for one kind of value, on a schema of another type (or of
   * none, where nothing would hold it to a table): said, not ignored */
  if (t != USERS_T_OBJECT && (!s->additional || s->additional_schema || s->min_props >= 0 || s->max_props >= 0))
    users_compile_error(c, "'additional_properties', 'min_properties' and 'max_properties' need type = \"object\"");
  if (t != USERS_T_ARRAY && (s->items || s->unique || s->min_items >= 0 || s->max_items >= 0))
    users_compile_error(c, "'items', 'unique_items', 'min_items' and 'max_items' need type = \"array\"");
  if (t != USERS_T_FILE && (s->max_bytes >= 0 || s->content_type))
    users_compile_error(c, "'max_bytes' and 'content_type' need type = \"file\"");
  if (t == USERS_T_FILE && at != AT_FIELD && at != AT_FIELD_ITEMS)
    users_compile_error(c, "a file is a top-level field (or a top-level array's items)");
  /* anywhere in a parameter, its alternatives too: check_param walks no table */
  if (c->in_param && (t == USERS_T_ARRAY || t == USERS_T_OBJECT || t == USERS_T_FILE))
    users_compile_error(c, "a path parameter is a single value");
  /* a JSON part would carry the file value itself: its path, or its bytes as text */
  if (s->part_json && users_schema_has_files(s))
    users_compile_error(c, "a file is sent as a file part: a JSON 'part_content_type' cannot carry it");
  if (s->style != USERS_STYLE_FORM && !holds_table(s))
    users_compile_error(c, "style %s is for arrays and objects (the type, or one of its alternatives)",
                        style_names[s->style]);
  if (s->explode == 2) s->explode = s->style == USERS_STYLE_FORM; /* OpenAPI's default */
  s->string_rules = (unsigned char)((s->min_length >= 0 || s->max_length >= 0 ? USERS_S_LENGTH : 0) |
                                    (s->format ? USERS_S_FORMAT : 0) | (s->re ? USERS_S_PATTERN : 0) |
                                    (s->has_enum ? USERS_S_ENUM : 0) | (s->n_any_of ? USERS_S_ANY_OF : 0) |
                                    (s->n_one_of ? USERS_S_ONE_OF : 0));
  if (t == USERS_T_ARRAY && !s->items) { /* any item, null included */
    s->items = calloc_or_raise(c->L, 1, sizeof(users_schema_t));
    compile_schema(c, 0, s->items, 0, AT_INNER, NULL);
    s->items->nullable = 1;
  }
}

static void compile_schema(users_compile_t *c, int idx, users_schema_t *s, int depth, int at,
                           int *required) {
  lua_State *L = c->L;
  if (depth > USERS_MAX_SCHEMA_DEPTH)
    users_compile_error(c, "rules nested deeper than %d", USERS_MAX_SCHEMA_DEPTH);
  luaL_checkstack(L, 12, "provider declaration nested too deeply");
  s->min_length = s->max_length = s->min_items = s->max_items = -1;
  s->min_props = s->max_props = s->max_bytes = -1;
  s->additional = 1;
  s->explode = 2; /* not given */
  if (!idx) { s->explode = 0; return; } /* the any-schema */
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int key = lua_gettop(L) - 1;
    if (lua_type(L, key) == LUA_TSTRING) {
      compile_key(c, lua_tostring(L, key), key + 1, s, depth, at, required);
    } else if (!(required && lua_type(L, key) == LUA_TNUMBER && lua_tonumber(L, key) == 1)) {
      users_compile_error(c, "unexpected key [%s] (rules are named)", luaL_typename(L, key));
    }
    lua_pop(L, 1);
  }
  check_schema(c, s, at);
}

static void make_json_key(users_compile_t *c, users_field_t *f) {
  lua_State *L = c->L;
  users_buf_t *key = users_buf_box(L);
  users_buf_check(L, users_json_string(key, f->name, f->name_len) && users_buf_addc(key, ':'));
  f->json_key = malloc(key->len);
  if (!f->json_key) luaL_error(L, "not enough memory");
  memcpy(f->json_key, key->data, key->len);
  f->json_key_len = key->len;
  lua_pop(L, 1);
}

static void compile_list_at(users_compile_t *c, int idx, const char *key, int kind,
                            users_field_t **out, size_t *n_out, int depth) {
  static const char *const what[] = {"field", "parameter", "property"};
  static const int at[] = {AT_FIELD, AT_PARAM, AT_PROP};
  lua_State *L = c->L;
  size_t i, j, n = users_rawlen(L, idx);
  int first_slot = c->next_slot, seen = 0;
  luaL_checkstack(L, 8, "provider declaration nested too deeply");
  spend(c, n);
  c->next_slot += (int)n; /* the names of one list take consecutive slots */
  *out = calloc_or_raise(L, n, sizeof(users_field_t));
  if (n > 16) { /* a long list finds a twice-declared name in a table, not by comparing every pair */
    lua_createtable(L, 0, (int)n);
    seen = lua_gettop(L);
  }
  for (i = 0; i < n; i++) {
    users_field_t *f = &(*out)[i];
    char where[100];
    size_t back;
    lua_rawgeti(L, idx, (int)i + 1);
    if (!lua_istable(L, -1)) users_compile_error(c, "%s[%d] must be a table", key, (int)i + 1);
    *n_out = i + 1; /* counted before filling, so __gc frees a partial entry */
    f->slot = first_slot + (int)i;
    f->same_as_index = -1;
    lua_rawgeti(L, -1, 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      users_compile_error(c, "%s[%d] needs a name first", key, (int)i + 1);
    f->name = users_strdup_or_raise(L, lua_tostring(L, -1), users_rawlen(L, -1));
    f->name_len = users_rawlen(L, -1);
    if (strlen(f->name) != f->name_len || users_utf8_length(f->name, f->name_len) < 0)
      users_compile_error(c, "%s[%d]: a name must be UTF-8 text without NUL", key, (int)i + 1);
    f->interned = lua_tostring(L, -1);
    if (seen) {
      lua_pushvalue(L, -1);
      lua_rawget(L, seen);
      if (!lua_isnil(L, -1)) users_compile_error(c, "%s %s is declared twice", what[kind], f->name);
      lua_pop(L, 1);
      lua_pushvalue(L, -1);
      lua_pushboolean(L, 1);
      lua_rawset(L, seen);
    }
    lua_rawseti(L, c->keep, f->slot); /* the name stays alive with the provider */
    for (j = 0; !seen && j < i; j++)
      if (strcmp((*out)[j].name, f->name) == 0)
        users_compile_error(c, "%s %s is declared twice", what[kind], f->name);
    make_json_key(c, f);
    snprintf(where, sizeof where, "%s%s[%d] (%.60s)", kind == USERS_LIST_PROPS ? "." : "", key,
             (int)i + 1, f->name);
    back = path_enter(c, where);
    compile_schema(c, lua_gettop(L), &f->s, depth, at[kind], &f->required);
    path_leave(c, back);
    lua_pop(L, 1);
  }
  if (seen) lua_remove(L, seen);
}

void users_compile_list(users_compile_t *c, int idx, const char *key, int kind,
                        users_field_t **out, size_t *n_out) {
  if (!lua_istable(c->L, idx)) users_compile_error(c, "'%s' must be a list", key);
  c->in_param = kind == USERS_LIST_PARAMS;
  compile_list_at(c, idx, key, kind, out, n_out, 0);
  c->in_param = 0;
}

void users_compile_schema_at(users_compile_t *c, int idx, const char *key, users_schema_t *s) {
  size_t back = path_enter(c, key);
  spend(c, 1);
  compile_schema(c, idx, s, 1, AT_INNER, NULL);
  path_leave(c, back);
}
