/* core.compile: a provider declaration (lua/users/providers/README.md) into
 * a users_provider_t owned by a userdata: the fields, parameters and
 * properties through schema.c, the declaration's own keys here. Every
 * allocation is stored in the userdata before the next call that can
 * raise, so a bad declaration never leaks. */
#include <stdlib.h>
#include <string.h>
#include "schema.h"

static int provider_gc(lua_State *L) {
  users_provider_t *p = (users_provider_t *)users_checkud(L, 1, USERS_PROVIDER_MT);
  if (p->names_ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, p->names_ref);
  free(p->name);
  users_schema_free(&p->body);
  users_fields_free(p->params, p->n_params);
  users_pattern_stack_free(p->re_stack); /* after the patterns that use it */
  memset(p, 0, sizeof *p);
  p->names_ref = LUA_NOREF; /* __close then __gc: the second call unrefs nothing */
  return 0;
}

/* compile's stack: 1 the declaration, 2 the provider, 3 the keep table,
 * which holds the Lua strings the provider points into: the field and
 * property names at their slots (fields at 1..n_fields), enum values and
 * form_booleans as keys. */
#define KEEP 3
#define PATTERNS 4 /* each pattern source compiled so far (schema.c) */

/* decl.additional_fields: false (the default), true, or a schema. */
static void compile_additional(users_compile_t *c, users_provider_t *p) {
  lua_State *L = c->L;
  lua_getfield(L, 1, "additional_fields");
  p->body.additional = 0;
  if (lua_type(L, -1) == LUA_TBOOLEAN) {
    p->body.additional = (unsigned char)lua_toboolean(L, -1);
  } else if (lua_istable(L, -1)) {
    p->body.additional = 1;
    p->body.additional_schema = calloc(1, sizeof(users_schema_t));
    if (!p->body.additional_schema) luaL_error(L, "not enough memory");
    users_compile_schema_at(c, lua_gettop(L), "additional_fields", p->body.additional_schema);
  } else if (!lua_isnil(L, -1)) {
    users_compile_error(c, "'additional_fields' must be true, false or a schema");
  }
  lua_pop(L, 1);
}

/* decl.form_booleans = { "<true>", "<false>" }, "1" and "0" by default. */
static void compile_form_booleans(users_compile_t *c, users_provider_t *p) {
  lua_State *L = c->L;
  int i;
  const char **text[2];
  size_t *len[2];
  text[0] = &p->form_true, text[1] = &p->form_false;
  len[0] = &p->form_true_len, len[1] = &p->form_false_len;
  lua_getfield(L, 1, "form_booleans");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushliteral(L, "1");
    lua_rawseti(L, -2, 1);
    lua_pushliteral(L, "0");
    lua_rawseti(L, -2, 2);
  }
  if (!lua_istable(L, -1)) users_compile_error(c, "'form_booleans' must be { \"<true>\", \"<false>\" }");
  for (i = 0; i < 2; i++) {
    lua_rawgeti(L, -1, i + 1);
    if (lua_type(L, -1) != LUA_TSTRING)
      users_compile_error(c, "'form_booleans' must be { \"<true>\", \"<false>\" }");
    *text[i] = users_keep_string(L, KEEP, -1, len[i]); /* lives as long as the provider */
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/* core.compile(decl) -> provider */
static int compile(lua_State *L) {
  users_provider_t *p;
  users_compile_t c;
  users_field_t *fields;
  size_t i, j, n_fields;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  p = (users_provider_t *)users_newuserdata(L, sizeof *p);
  memset(p, 0, sizeof *p);
  p->names_ref = LUA_NOREF;
  users_setmeta(L, USERS_PROVIDER_MT, NULL, provider_gc);
  lua_getfield(L, 1, "name");
  p->name = users_strdup_or_raise(L, luaL_checkstring(L, -1), strlen(lua_tostring(L, -1)));
  lua_pop(L, 1);
  lua_newtable(L); /* KEEP */
  lua_newtable(L); /* PATTERNS */
  memset(&c, 0, sizeof c);
  c.L = L;
  c.keep = KEEP;
  c.patterns = PATTERNS;
  c.next_slot = 1;
  c.re_stack = &p->re_stack;
  users_compile_budget(&c, 1);
  p->body.type = USERS_T_OBJECT;
  p->body.min_length = p->body.max_length = p->body.min_items = p->body.max_items = -1;
  p->body.min_props = p->body.max_props = p->body.max_bytes = -1;
  lua_getfield(L, 1, "fields");
  if (lua_istable(L, -1) && users_rawlen(L, -1) > USERS_MAX_FIELDS)
    luaL_error(L, "provider declaration: more than %d fields", USERS_MAX_FIELDS);
  if (!lua_isnil(L, -1))
    users_compile_list(&c, lua_gettop(L), "fields", USERS_LIST_FIELDS, &p->body.props, &p->body.n_props);
  lua_pop(L, 1);
  lua_getfield(L, 1, "params");
  if (!lua_isnil(L, -1))
    users_compile_list(&c, lua_gettop(L), "params", USERS_LIST_PARAMS, &p->params, &p->n_params);
  lua_pop(L, 1);
  compile_additional(&c, p);
  compile_form_booleans(&c, p);
  p->has_props = c.has_props;
  fields = p->body.props;
  n_fields = p->body.n_props;
  for (i = 0; i < n_fields; i++) {
    users_field_t *f = &fields[i];
    for (j = 0; f->s.same_as && j < n_fields; j++)
      if (strcmp(fields[j].name, f->s.same_as) == 0) f->same_as_index = (int)j;
    if (f->s.same_as && f->same_as_index < 0)
      luaL_error(L, "provider declaration: %s is the same as an unknown field", f->name);
  }
  lua_pushvalue(L, KEEP);
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
