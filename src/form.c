/* The form encoders' shared part (see form.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "encode_json.h"
#include "form.h"
#include "values.h"

void users_form_init(form_t *c, lua_State *L, const users_provider_t *p) {
  memset(c, 0, sizeof *c);
  c->L = L;
  c->p = p;
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->names_ref);
  c->names = lua_gettop(L);
}

static int is_unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

int users_form_percent(users_buf_t *b, const char *s, size_t n, int plus_for_space) {
  static const char hex[] = "0123456789ABCDEF";
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char e[3];
    if (is_unreserved(c)) { if (!users_buf_addc(b, (char)c)) return 0; continue; }
    if (c == ' ' && plus_for_space) { if (!users_buf_addc(b, '+')) return 0; continue; }
    e[0] = '%'; e[1] = hex[c >> 4]; e[2] = hex[c & 15];
    if (!users_buf_add(b, e, 3)) return 0;
  }
  return 1;
}

int users_form_scalar(form_t *c, int v, int urlencoded) {
  lua_State *L = c->L;
  const char *s;
  char num[40];
  size_t n;
  if (users_isnull(L, v)) return 1;
  switch (lua_type(L, v)) {
  case LUA_TBOOLEAN:
    s = lua_toboolean(L, v) ? c->p->form_true : c->p->form_false;
    n = lua_toboolean(L, v) ? c->p->form_true_len : c->p->form_false_len;
    break;
  case LUA_TNUMBER: {
    users_num_t x;
    users_tonum(L, v, &x);
    if (!x.is_int && !isfinite(x.d))
      return users_fail(&c->fail, "cannot encode NaN or infinity in a form", NULL, NULL);
    n = users_num_text(num, &x);
    s = num;
    break;
  }
  case LUA_TSTRING: s = lua_tolstring(L, v, &n); break;
  default: return users_fail(&c->fail, "cannot encode a %s in a form", luaL_typename(L, v), NULL);
  }
  return urlencoded ? users_form_percent(c->b, s, n, 1) : users_buf_add(c->b, s, n);
}

int users_form_refuse(form_t *c, const users_path_t *path, const char *why) {
  users_push_path(c->L, path->name ? path : path->up);
  c->refused = lua_gettop(c->L);
  c->refused_item = path->name ? 0 : path->item;
  c->why = why;
  return 0;
}

/* The schema a table under s is written by: s, or, where s has no type,
 * its one alternative that holds tables (Stripe's anyOf [object, enum
 * [""]]), whose properties then go in declared order. Several such
 * alternatives: s (the value's own keys decide, sorted). */
static const users_schema_t *table_schema(const users_schema_t *s) {
  const users_schema_t *found = NULL;
  size_t i, n;
  if (!s || s->type != USERS_T_ANY) return s;
  n = s->n_any_of + s->n_one_of;
  for (i = 0; i < n; i++) {
    const users_schema_t *a = i < s->n_any_of ? &s->any_of[i] : &s->one_of[i - s->n_any_of];
    if (a->type == USERS_T_OBJECT || a->type == USERS_T_ARRAY || a->type == USERS_T_ANY) {
      if (found) return s;
      found = a;
    }
  }
  return found && found->type != USERS_T_ANY ? found : s;
}

int users_form_is_array(lua_State *L, const users_schema_t *s, int v) {
  s = table_schema(s);
  if (s && s->type == USERS_T_ARRAY) return 1;
  if (s && s->type == USERS_T_OBJECT) return 0;
  return users_free_is_array(L, v);
}

/* The keys of the table at v that s does not declare, sorted, each emitted
 * with its value under s's additional_schema. */
static int sorted_pairs(form_t *c, const users_schema_t *s, int v, const users_path_t *parent,
                        users_form_emit_fn emit) {
  lua_State *L = c->L;
  const users_schema_t *object = s && s->type == USERS_T_OBJECT ? s : NULL;
  int i, n = users_sorted_keys(L, &c->fail, object, v), list = lua_gettop(L);
  if (n < 0) return 0;
  for (i = 0; i < n; i++) {
    users_path_t path;
    path.up = parent, path.item = 0;
    lua_rawgeti(L, list, 2 * i + 2); /* the key's text: stays on the stack while it is used */
    path.name = lua_tolstring(L, -1, &path.len);
    lua_rawgeti(L, list, 2 * i + 1);
    lua_rawget(L, v);
    if (!emit(c, &path, object ? object->additional_schema : NULL, lua_gettop(L))) return 0;
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
  return 1;
}

int users_form_pairs(form_t *c, const users_schema_t *s, int v, const users_path_t *parent,
                     users_form_emit_fn emit) {
  lua_State *L = c->L;
  size_t i, count = 0, present = 0;
  int ok = 1;
  s = table_schema(s);
  /* v is c->depth tables below a field's value (0), as validation and the
   * JSON writer count: deeper than USERS_MAX_DEPTH is refused there too */
  if (c->depth > USERS_MAX_DEPTH || !lua_checkstack(L, 8))
    return users_fail(&c->fail, "cannot encode a table nested deeper than 64", NULL, NULL);
  lua_pushnil(L);
  while (lua_next(L, v)) {
    lua_pop(L, 1);
    count++;
  }
  c->depth++;
  for (i = 0; ok && s && s->type == USERS_T_OBJECT && i < s->n_props; i++) {
    const users_field_t *f = &s->props[i];
    users_path_t path;
    path.up = parent, path.name = f->name, path.len = f->name_len, path.item = 0;
    lua_rawgeti(L, c->names, f->slot);
    lua_rawget(L, v);
    if (!lua_isnil(L, -1)) {
      present++;
      if (!emit(c, &path, &f->s, lua_gettop(L))) ok = 0;
    }
    if (ok) lua_pop(L, 1);
  }
  ok = ok && (count == present || sorted_pairs(c, s, v, parent, emit));
  c->depth--;
  return ok;
}

int users_form_fields(form_t *c, users_form_emit_fn emit) {
  lua_State *L = c->L;
  const users_provider_t *p = c->p;
  size_t i;
  for (i = 0; i < users_provider_n_fields(p); i++) {
    const users_field_t *f = &users_provider_fields(p)[i];
    users_path_t path;
    path.up = NULL, path.name = f->name, path.len = f->name_len, path.item = 0;
    /* Raw access, as validation had: no __index can slip in a field. */
    lua_rawgeti(L, c->names, f->slot);
    lua_rawget(L, 2);
    if (!lua_isnil(L, -1) && !emit(c, &path, &f->s, lua_gettop(L))) return 0;
    lua_pop(L, 1);
  }
  /* what additional_fields lets through (validation refused the rest) */
  return !p->body.additional || sorted_pairs(c, &p->body, 2, NULL, emit);
}

int users_form_report(form_t *c) {
  lua_State *L = c->L;
  if (!c->refused) return users_fail_raise(L, &c->fail);
  lua_pushnil(L);
  lua_createtable(L, 0, 1);
  lua_pushvalue(L, c->refused);
  lua_createtable(L, 1, 0);
  if (c->file_rules) {
    unsigned bit;
    int n = 0;
    for (bit = 1; bit <= USERS_FP_ALL; bit <<= 1) {
      char msg[64];
      if (!(c->file_bad & bit)) continue;
      if (c->refused_item) lua_pushfstring(L, "item %d %s", (int)c->refused_item,
                                           users_file_message(c->file_rules, bit, msg, sizeof msg));
      else lua_pushstring(L, users_file_message(c->file_rules, bit, msg, sizeof msg));
      lua_rawseti(L, -2, ++n);
    }
  } else {
    if (c->refused_item) lua_pushfstring(L, "item %d %s", (int)c->refused_item, c->why);
    else lua_pushstring(L, c->why);
    lua_rawseti(L, -2, 1);
  }
  lua_rawset(L, -3);
  return 2;
}
