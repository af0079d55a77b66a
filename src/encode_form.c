/* application/x-www-form-urlencoded bodies, with OpenAPI's form
 * serialization (lua/users/providers/README.md): a scalar is name=text; a
 * boolean is the provider's form_booleans ("1"/"0" by default, what
 * Laravel's and Django's boolean rules accept); null is an empty value;
 * arrays and objects as each field's style and explode say. What a form
 * cannot spell (an empty array or object, a table inside an array, ...) is
 * refused as a problem of the value, before anything is sent.
 * Writers raise nothing while the scratch is lent (form.h). */
#include <string.h>
#include "encode_form.h"
#include "form.h"

static const char *const EMPTY_LIST =
    "is an empty list, which a form cannot express: use the json encoding";
static const char *const EMPTY_OBJECT =
    "is an empty object, which a form cannot express: use the json encoding";
static const char *const TABLE_IN_LIST =
    "is a list or an object inside a list, which a form cannot express: use the json encoding";
static const char *const OBJECT_IN_OBJECT = "is an object inside an object, which this form style "
                                            "cannot express: use style deepObject or the json encoding";
static const char *const LIST_IN_JOINED = "is a list inside an object without explode, which a "
                                          "form cannot express: use the json encoding";

/* core.escape(text) -> text percent-encoded but for RFC 3986 unreserved */
static int escape(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  users_buf_t *b = users_buf_borrow(L);
  int ok = users_form_percent(b, s, n, 0);
  if (ok) lua_pushlstring(L, b->data, b->len);
  users_buf_return(b);
  if (!ok) return luaL_error(L, "not enough memory");
  return 1;
}

/* A pair's name: the field's, then [key] for each property below it (a
 * deepObject) and [] for an item. */
static int put_name(form_t *c, const users_path_t *name) {
  if (!name->up) return users_form_percent(c->b, name->name, name->len, 1);
  if (!put_name(c, name->up)) return 0;
  if (!name->name) return users_buf_add(c->b, "[]", 2);
  return users_buf_addc(c->b, '[') && users_form_percent(c->b, name->name, name->len, 1) &&
         users_buf_addc(c->b, ']');
}

static int start_pair(form_t *c, const users_path_t *name) {
  return (!c->b->len || users_buf_addc(c->b, '&')) && put_name(c, name) && users_buf_addc(c->b, '=');
}

static int put_pair(form_t *c, const users_path_t *name, int v) {
  return start_pair(c, name) && users_form_scalar(c, v, 1);
}

static size_t count_keys(lua_State *L, int v) {
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, v)) {
    lua_pop(L, 1);
    n++;
  }
  return n;
}

/* An array: the same name repeated (explode), or one pair of the items
 * joined by the style's delimiter. path names it in problems. */
static int put_list(form_t *c, const users_path_t *name, const users_path_t *path, int v,
                    int style, int explode) {
  static const char *const delims[] = {",", ",", "%20", "%7C"};
  lua_State *L = c->L;
  size_t i, n = users_rawlen(L, v);
  if (n == 0) return users_form_refuse(c, path, EMPTY_LIST);
  if (!explode && !start_pair(c, name)) return 0;
  for (i = 1; i <= n; i++) {
    users_path_t item;
    item.up = path, item.name = NULL, item.len = 0, item.item = (long)i;
    lua_rawgeti(L, v, (int)i);
    if (lua_istable(L, -1)) return users_form_refuse(c, &item, TABLE_IN_LIST);
    if (explode ? !put_pair(c, name, lua_gettop(L))
                : (i > 1 && !users_buf_adds(c->b, delims[style])) || !users_form_scalar(c, lua_gettop(L), 1))
      return 0;
    lua_pop(L, 1);
  }
  return 1;
}

/* deepObject: name[key]=value for each pair, nested objects name[a][b],
 * arrays of scalars name[a][]=v repeated (a field's own: name[]=v); a
 * scalar name=value. */
static int emit_deep(form_t *c, const users_path_t *path, const users_schema_t *s, int v) {
  lua_State *L = c->L;
  if (!lua_istable(L, v)) return put_pair(c, path, v);
  if (users_form_is_array(L, s, v)) {
    users_path_t item;
    item.up = path, item.name = NULL, item.len = 0, item.item = 0;
    return put_list(c, &item, path, v, USERS_STYLE_FORM, 1);
  }
  if (!count_keys(L, v)) return users_form_refuse(c, path, EMPTY_OBJECT);
  return users_form_pairs(c, s, v, path, emit_deep);
}

/* style form, explode: each property its own pair (an array repeated). */
static int emit_flat(form_t *c, const users_path_t *path, const users_schema_t *s, int v) {
  lua_State *L = c->L;
  users_path_t name;
  name.up = NULL, name.name = path->name, name.len = path->len, name.item = 0;
  if (!lua_istable(L, v)) return put_pair(c, &name, v);
  if (!users_form_is_array(L, s, v)) return users_form_refuse(c, path, OBJECT_IN_OBJECT);
  return put_list(c, &name, path, v, USERS_STYLE_FORM, 1);
}

/* Without explode: key,value,key,value in one pair, the style's delimiter
 * between them. */
static int emit_joined(form_t *c, const users_path_t *path, const users_schema_t *s, int v) {
  lua_State *L = c->L;
  (void)s;
  if (lua_istable(L, v))
    return users_form_refuse(c, path, users_form_is_array(L, s, v) ? LIST_IN_JOINED : OBJECT_IN_OBJECT);
  if ((!c->first && !users_buf_adds(c->b, c->delim)) ||
      !users_form_percent(c->b, path->name, path->len, 1) || !users_buf_adds(c->b, c->delim) ||
      !users_form_scalar(c, v, 1))
    return 0;
  c->first = 0;
  return 1;
}

/* A top-level field (or one additional_fields lets through). */
static int emit_urlencoded(form_t *c, const users_path_t *name, const users_schema_t *s, int v) {
  static const char *const delims[] = {",", ",", "%20", "%7C"};
  lua_State *L = c->L;
  int style = s ? s->style : USERS_STYLE_FORM, explode = s ? s->explode : 1;
  if (s && users_schema_has_files(s) && !users_isnull(L, v))
    return users_fail(&c->fail, "%s: a file cannot be sent in a form (the multipart encoding can)", name->name, NULL);
  if (style == USERS_STYLE_DEEP) return emit_deep(c, name, s, v);
  if (!lua_istable(L, v)) return put_pair(c, name, v);
  if (users_form_is_array(L, s, v)) return put_list(c, name, name, v, style, explode);
  if (!count_keys(L, v)) return users_form_refuse(c, name, EMPTY_OBJECT);
  if (explode) return users_form_pairs(c, s, v, name, emit_flat);
  c->delim = delims[style];
  c->first = 1;
  return start_pair(c, name) && users_form_pairs(c, s, v, name, emit_joined);
}

/* core.encode_form(provider, fields) -> body | nil, problems (problems as
 * core.validate gives them: { field = { "message" } }) */
static int encode_form(lua_State *L) {
  users_provider_t *p = users_provider_check(L, 1);
  form_t c;
  int ok;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  users_form_init(&c, L, p); /* 3 */
  c.b = users_buf_borrow(L); /* 4 */
  ok = users_form_fields(&c, emit_urlencoded);
  if (ok) lua_pushlstring(L, c.b->data, c.b->len);
  users_buf_return(c.b);
  return ok ? 1 : users_form_report(&c);
}

void users_encode_form_open(lua_State *L) {
  static const luaL_Reg functions[] = {{"encode_form", encode_form}, {"escape", escape}, {NULL, NULL}};
  users_buf_setfuncs(L, functions);
}
