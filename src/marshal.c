/* core.marshal_json: validate and encode a JSON update in one pass over the
 * caller's table, for the hot path (every request, every bulk item).
 *
 * The pass handles what updates are made of: strings, integers, booleans,
 * null and arrays of those. Each value is checked with the same rules as
 * core.validate and written into the scratch buffer as it is met, by the
 * writer core.encode_json uses (users_json_value, in its checking mode); the
 * body is then those pieces in declaration order (copied only when the
 * table's traversal met them in another order). Anything else (an invalid
 * update, which needs the full report, files, same_as, free-form tables)
 * declines to the reference path: core.validate then core.encode_json. So
 * the fast path only ever decides speed, never the answer. */
#include <string.h>
#include "encode_json.h"
#include "marshal.h"
#include "validate.h"

typedef struct {
  size_t off, len; /* a field's ,"name":value inside the buffer; len 0: absent */
} span_t;

static const users_field_t *find_field(const users_provider_t *p, lua_State *L, int k) {
  size_t len;
  const char *key;
  if (lua_type(L, k) != LUA_TSTRING) return NULL;
  key = lua_tolstring(L, k, &len);
  return users_provider_field_by_key(p, key, len);
}

/* The stack during the pass: 1 provider, 2 fields, 3 scratch buffer, 4 the
 * names table when a schema has properties, then the traversal's key and
 * value. Strings under costly rules (a pattern, alternatives) are noted in
 * known, for the validation that follows when the pass declines. */

/* The one pass; 1 with the body pushed, 0 to decline (the stack is then
 * left for the caller to reset). Each field is written as ,"name":value
 * where the table traversal meets it; the body is those spans in
 * declaration order, the first comma made the '{'. Nothing here raises
 * while the scratch is lent but the final push (see buf.h). */
static int fast(lua_State *L, const users_provider_t *p, users_buf_t *b, users_known_t *known) {
  const users_field_t *fields = users_provider_fields(p);
  size_t n_fields = users_provider_n_fields(p);
  span_t spans[USERS_MAX_FIELDS];
  size_t i, total = 2, start = b->len;
  ptrdiff_t last = -1;
  int in_order = 1, value;
  users_jw_t w;
  memset(&w, 0, sizeof w);
  w.L = L;
  w.b = b;
  w.check = 1;
  w.known = known;
  w.anchor = lua_upvalueindex(3);
  if (p->has_props) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, p->names_ref);
    w.names = lua_gettop(L);
  }
  value = lua_gettop(L) + 2;
  memset(spans, 0, n_fields * sizeof *spans);
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    const users_field_t *f = find_field(p, L, -2);
    span_t *sp;
    if (!f || users_schema_has_files(&f->s) || !users_buf_room(b, f->json_key_len + 1)) return 0;
    sp = &spans[f - fields];
    sp->off = b->len;
    b->data[b->len] = ',';
    memcpy(b->data + b->len + 1, f->json_key, f->json_key_len);
    b->len += f->json_key_len + 1;
    if (!users_json_value(&w, &f->s, value, 0)) return 0;
    lua_pop(L, 1);
    sp->len = b->len - sp->off;
    total += sp->len;
    if (f - fields < last) in_order = 0;
    last = f - fields;
  }
  if (last < 0) return 0; /* empty */
  for (i = 0; i < n_fields; i++) {
    const users_field_t *f = &fields[i];
    if (f->required && !spans[i].len) return 0;
    /* same_as (a confirmation) binds two fields: the reference path checks it */
    if (f->same_as_index >= 0 && (spans[i].len || spans[f->same_as_index].len)) return 0;
  }
  if (!in_order) { /* assemble the spans in order after them */
    size_t at;
    if (!users_buf_room(b, total)) return 0;
    at = b->len;
    for (i = 0; i < n_fields; i++) {
      if (!spans[i].len) continue;
      memcpy(b->data + b->len, b->data + spans[i].off, spans[i].len);
      b->len += spans[i].len;
    }
    start = at;
  }
  if (!users_buf_putc(b, '}')) return 0;
  b->data[start] = '{';
  lua_pushlstring(L, b->data + start, b->len - start);
  return 1;
}

/* Lets go of the strings the pass kept alive (its upvalue 3). */
static void forget(lua_State *L, users_known_t *known) {
  for (; known->n > 0; known->n--) {
    lua_pushnil(L);
    lua_rawseti(L, lua_upvalueindex(3), known->n);
  }
}

/* core.marshal_json(provider, fields) -> body | nil, errors, reason
 * Upvalues: 1 the scratch buffer, 2 the providers' metatable, 3 a table
 * that keeps the strings the pass knows alive until the call ends. */
static int marshal_json(lua_State *L) {
  users_provider_t *p = users_provider_check_fast(L, 1, lua_upvalueindex(2));
  users_buf_t *b;
  users_known_t known;
  int n;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  known.n = 0;
  b = users_buf_borrow(L); /* 3 */
  n = fast(L, p, b, &known);
  users_buf_return(b);
  if (n) {
    forget(L, &known);
    return 1;
  }
  lua_settop(L, 2);
  n = users_validate_known(L, &known); /* nothing when valid, else errors or nil, reason */
  forget(L, &known);
  if (n == 0) {
    lua_settop(L, 2);
    return users_encode_json(L);
  }
  lua_pushnil(L);
  lua_insert(L, -1 - n);
  return n + 1;
}

void users_marshal_open(lua_State *L) {
  users_buf_push_scratch(L);
  users_provider_push_meta(L);
  lua_createtable(L, USERS_KNOWN_MAX, 0);
  lua_pushcclosure(L, marshal_json, 3);
  lua_setfield(L, -2, "marshal_json");
}
