/* core.compile: a provider declaration (see lua/users/providers/) into a
 * users_provider_t owned by a userdata. Every allocation is stored in the
 * userdata before the next call that can raise, so a bad declaration never
 * leaks. */
#include <stdlib.h>
#include <string.h>
#include "json_write.h"
#include "provider.h"

static void schema_free(users_schema_t *s) {
  size_t i;
  if (!s) return;
  for (i = 0; i < s->n_enums; i++) free(s->enums[i]);
  free(s->enums);
  free(s->enum_strings);
  free(s->pattern);
  free(s->same_as);
  free(s->content_type);
  if (s->items) { schema_free(s->items); free(s->items); }
  for (i = 0; i < s->n_any_of; i++) schema_free(&s->any_of[i]);
  free(s->any_of);
}

static void fields_free(users_field_t *f, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) { free(f[i].name); free(f[i].json_key); schema_free(&f[i].s); }
  free(f);
}

static int provider_gc(lua_State *L) {
  users_provider_t *p = (users_provider_t *)users_checkud(L, 1, USERS_PROVIDER_MT);
  if (p->names_ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, p->names_ref);
  p->names_ref = LUA_NOREF;
  free(p->name);
  fields_free(p->fields, p->n_fields);
  fields_free(p->params, p->n_params);
  memset(p, 0, sizeof *p);
  p->names_ref = LUA_NOREF; /* __close then __gc: the second call unrefs nothing */
  return 0;
}

static char *dup_or_raise(lua_State *L, const char *s) {
  char *d = malloc(strlen(s) + 1);
  if (!d) luaL_error(L, "not enough memory");
  strcpy(d, s);
  return d;
}

static void *calloc_or_raise(lua_State *L, size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size);
  if (!p) luaL_error(L, "not enough memory");
  return p;
}

/* Optional string field of the table at idx, copied; NULL when absent. */
static void opt_string(lua_State *L, int idx, const char *key, char **out) {
  lua_getfield(L, idx, key);
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "provider declaration: '%s' must be a string", key);
    *out = dup_or_raise(L, lua_tostring(L, -1));
  }
  lua_pop(L, 1);
}

static long opt_long(lua_State *L, int idx, const char *key) {
  long long v = -1;
  lua_getfield(L, idx, key);
  if (!lua_isnil(L, -1) && !users_tointeger(L, -1, &v))
    luaL_error(L, "provider declaration: '%s' must be an integer", key);
  lua_pop(L, 1);
  return (long)v;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *const type_names[] = {"any", "string", "integer", "boolean",
                                         "array", "file", NULL};
static const char *const format_names[] = {"", "email", "uuid", NULL};

static void compile_schema(lua_State *L, int idx, users_schema_t *s, int depth);

/* compile's stack: 1 the declaration, 2 the provider, 3 a table
 * that keeps Lua strings the provider points into: the field names at
 * 1..n_fields and the enum values as keys. */
#define KEEP 3

static void compile_enum(lua_State *L, int idx, users_schema_t *s) {
  size_t i, n;
  lua_getfield(L, idx, "enum");
  if (lua_istable(L, -1)) {
    n = users_rawlen(L, -1);
    s->enums = calloc_or_raise(L, n, sizeof(char *));
    s->enum_strings = calloc_or_raise(L, n, sizeof(char *));
    for (i = 0; i < n; i++) {
      lua_rawgeti(L, -1, (int)i + 1);
      if (lua_type(L, -1) != LUA_TSTRING || strlen(lua_tostring(L, -1)) != users_rawlen(L, -1))
        luaL_error(L, "provider declaration: enum values must be strings without NUL");
      s->enums[i] = dup_or_raise(L, lua_tostring(L, -1));
      s->enum_strings[i] = lua_tostring(L, -1);
      lua_pushboolean(L, 1);
      lua_rawset(L, KEEP); /* the string stays alive as long as the provider */
      s->n_enums = i + 1;
    }
    qsort(s->enums, s->n_enums, sizeof(char *), cmp_str);
  }
  lua_pop(L, 1);
}

static void compile_any_of(lua_State *L, int idx, users_schema_t *s, int depth) {
  size_t i, n;
  lua_getfield(L, idx, "any_of");
  if (lua_istable(L, -1)) {
    n = users_rawlen(L, -1);
    s->any_of = calloc_or_raise(L, n, sizeof(users_schema_t));
    for (i = 0; i < n; i++) {
      lua_rawgeti(L, -1, (int)i + 1);
      luaL_checktype(L, -1, LUA_TTABLE);
      s->n_any_of = i + 1;
      compile_schema(L, lua_gettop(L), &s->any_of[i], depth + 1);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
}

/* Schemas nest (array items, any_of) at most USERS_MAX_SCHEMA_DEPTH deep:
 * validation and the writers recurse along them on the C stack and the
 * Lua stack alike. */
static void compile_schema(lua_State *L, int idx, users_schema_t *s, int depth) {
  int i;
  if (depth > USERS_MAX_SCHEMA_DEPTH)
    luaL_error(L, "provider declaration: rules nested deeper than %d", USERS_MAX_SCHEMA_DEPTH);
  luaL_checkstack(L, 8, "provider declaration nested too deeply");
  s->min = s->max = -1;
  lua_getfield(L, idx, "type");
  s->type = USERS_T_ANY;
  if (!lua_isnil(L, -1)) {
    const char *t = luaL_checkstring(L, -1);
    for (i = 0; type_names[i] && strcmp(type_names[i], t) != 0; i++) {}
    if (!type_names[i]) luaL_error(L, "provider declaration: unknown type '%s'", t);
    s->type = i;
  }
  lua_pop(L, 1);
  lua_getfield(L, idx, "format");
  if (!lua_isnil(L, -1)) {
    const char *f = luaL_checkstring(L, -1);
    for (i = 1; format_names[i] && strcmp(format_names[i], f) != 0; i++) {}
    if (!format_names[i]) luaL_error(L, "provider declaration: unknown format '%s'", f);
    s->format = i;
  }
  lua_pop(L, 1);
  lua_getfield(L, idx, "nullable");
  s->nullable = lua_toboolean(L, -1);
  lua_pop(L, 1);
  s->min = opt_long(L, idx, s->type == USERS_T_ARRAY ? "min_items" : "min_length");
  s->max = opt_long(L, idx, s->type == USERS_T_ARRAY ? "max_items"
                            : s->type == USERS_T_FILE ? "max_bytes" : "max_length");
  compile_enum(L, idx, s);
  opt_string(L, idx, "pattern", &s->pattern);
  opt_string(L, idx, "same_as", &s->same_as);
  opt_string(L, idx, "content_type", &s->content_type);
  lua_getfield(L, idx, "items");
  if (lua_istable(L, -1)) {
    s->items = calloc_or_raise(L, 1, sizeof(users_schema_t));
    compile_schema(L, lua_gettop(L), s->items, depth + 1);
  } else if (s->type == USERS_T_ARRAY) {
    luaL_error(L, "provider declaration: an array needs 'items'");
  }
  lua_pop(L, 1);
  compile_any_of(L, idx, s, depth);
}

/* decl[key] is an array of { "name", type = ..., ... } */
static void compile_list(lua_State *L, int idx, const char *key, users_field_t **out,
                         size_t *n_out) {
  size_t i, n;
  lua_getfield(L, idx, key);
  if (lua_isnil(L, -1)) { lua_pop(L, 1); return; }
  luaL_checktype(L, -1, LUA_TTABLE);
  n = users_rawlen(L, -1);
  *out = calloc_or_raise(L, n, sizeof(users_field_t));
  for (i = 0; i < n; i++) {
    users_field_t *f = &(*out)[i];
    lua_rawgeti(L, -1, (int)i + 1);
    if (!lua_istable(L, -1))
      luaL_error(L, "provider declaration: %s[%d] must be a table", key, (int)i + 1);
    *n_out = i + 1; /* counted before filling, so __gc frees a partial entry */
    lua_rawgeti(L, -1, 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, "provider declaration: %s[%d] needs a name first", key, (int)i + 1);
    f->name = dup_or_raise(L, lua_tostring(L, -1));
    f->name_len = strlen(f->name);
    lua_pop(L, 1);
    lua_getfield(L, -1, "required");
    f->required = lua_toboolean(L, -1);
    lua_pop(L, 1);
    compile_schema(L, lua_gettop(L), &f->s, 0);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* core.compile(decl) -> provider */
static int compile(lua_State *L) {
  users_provider_t *p;
  size_t i, j;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  p = (users_provider_t *)users_newuserdata(L, sizeof *p);
  memset(p, 0, sizeof *p);
  p->names_ref = LUA_NOREF;
  users_setmeta(L, USERS_PROVIDER_MT, NULL, provider_gc);
  lua_getfield(L, 1, "name");
  p->name = dup_or_raise(L, luaL_checkstring(L, -1));
  lua_pop(L, 1);
  lua_newtable(L); /* KEEP */
  compile_list(L, 1, "fields", &p->fields, &p->n_fields);
  compile_list(L, 1, "params", &p->params, &p->n_params);
  if (p->n_fields > USERS_MAX_FIELDS)
    luaL_error(L, "provider declaration: more than %d fields", USERS_MAX_FIELDS);
  /* The names as Lua strings: lookups by them need no hashing of C strings. */
  lua_pushvalue(L, KEEP);
  for (i = 0; i < p->n_fields; i++) {
    users_field_t *f = &p->fields[i];
    for (j = 0; j < i; j++)
      if (strcmp(p->fields[j].name, f->name) == 0)
        luaL_error(L, "provider declaration: field %s is declared twice", f->name);
    lua_pushstring(L, f->name);
    f->interned = lua_tostring(L, -1);
    lua_rawseti(L, -2, (int)i + 1);
    f->same_as_index = -1;
    {
      users_buf_t *key = users_buf_box(L);
      users_buf_check(L, users_json_string(key, f->name, f->name_len) && users_buf_addc(key, ':'));
      f->json_key = malloc(key->len);
      if (!f->json_key) luaL_error(L, "not enough memory");
      memcpy(f->json_key, key->data, key->len);
      f->json_key_len = key->len;
      lua_pop(L, 1);
    }
    for (j = 0; f->s.same_as && j < p->n_fields; j++)
      if (strcmp(p->fields[j].name, f->s.same_as) == 0) f->same_as_index = (int)j;
    if (f->s.same_as && f->same_as_index < 0)
      luaL_error(L, "provider declaration: %s is the same as an unknown field", f->name);
  }
  p->names_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_settop(L, 2);
  return 1;
}

void users_provider_push_meta(lua_State *L) {
  users_pushmeta(L, USERS_PROVIDER_MT, NULL, provider_gc);
}

users_provider_t *users_provider_check_fast(lua_State *L, int idx, int meta) {
  users_provider_t *p = (users_provider_t *)lua_touserdata(L, idx);
  int same;
  if (!p || !lua_getmetatable(L, idx)) return users_provider_check(L, idx);
  same = lua_rawequal(L, -1, meta);
  lua_pop(L, 1);
  if (!same || !p->name) return users_provider_check(L, idx); /* raises */
  return p;
}

users_provider_t *users_provider_check(lua_State *L, int idx) {
  users_provider_t *p = (users_provider_t *)users_checkud(L, idx, USERS_PROVIDER_MT);
  if (!p->name) luaL_argerror(L, idx, "provider is closed");
  return p;
}

void users_provider_open(lua_State *L) {
  static const luaL_Reg functions[] = {{"compile", compile}, {NULL, NULL}};
  users_setfuncs(L, functions);
}
