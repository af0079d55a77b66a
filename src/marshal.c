/* core.marshal_json: validate and encode a JSON update in one pass over the
 * caller's table, for the hot path (every request, every bulk item).
 *
 * The pass handles what updates are made of: strings, integers, booleans,
 * null and arrays of those. Each value is checked with the same rules as
 * core.validate and written into the scratch buffer as it is met; the body
 * is then those pieces in declaration order (copied only when the table's
 * traversal met them in another order). Anything else (an invalid update,
 * which needs the full report, files, same_as, free-form tables) declines
 * to the reference path: core.validate then core.encode_json. So the fast
 * path only ever decides speed, never the answer. */
#include <stdio.h>
#include <string.h>
#include "encode.h"
#include "formats.h"
#include "json_write.h"
#include "validate.h"

typedef struct {
  size_t off, len; /* a field's ,"name":value inside the buffer; len 0: absent */
} span_t;

static int put_integer(users_buf_t *b, long long i) {
  char num[24];
  int n = snprintf(num, sizeof num, "%lld", i);
  return users_buf_add(b, num, (size_t)n);
}

static int put_array(lua_State *L, users_buf_t *b, const users_schema_t *s, int v);

/* A value valid under s, written as JSON. 0: decline. */
static int put_value(lua_State *L, users_buf_t *b, const users_schema_t *s, int v) {
  long long i;
  size_t n;
  const char *str;
  switch (lua_type(L, v)) {
  case LUA_TSTRING: /* the common case: checked without a detour via Lua */
    if (s->type != USERS_T_STRING && s->type != USERS_T_ANY) return 0;
    str = lua_tolstring(L, v, &n);
    if (!users_buf_room(b, n + 2)) return 0;
    if (users_json_plain_copy(b->data + b->len + 1, str, n) == n) {
      /* plain ASCII, copied as is: n characters, kept when valid */
      if (users_string_problems(s, str, n, (long)n)) return 0;
      b->data[b->len] = '"';
      b->data[b->len + n + 1] = '"';
      b->len += n + 2;
      return 1;
    }
    return !users_string_problems(s, str, n, users_utf8_length(str, n)) && users_json_string(b, str, n);
  case LUA_TTABLE:
    return s->type == USERS_T_ARRAY && put_array(L, b, s, v);
  case LUA_TNUMBER:
    return users_value_ok(L, s, v) && users_tointeger(L, v, &i) && put_integer(b, i);
  case LUA_TBOOLEAN:
    if (!users_value_ok(L, s, v)) return 0;
    return lua_toboolean(L, v) ? users_buf_add(b, "true", 4) : users_buf_add(b, "false", 5);
  case LUA_TLIGHTUSERDATA: /* users.null; any other is no JSON value */
    return users_is_null(L, v) && users_value_ok(L, s, v) && users_buf_add(b, "null", 4);
  default:
    return 0;
  }
}

/* An array at v, the top of the stack: lua_next meets the keys 1..n in
 * order when the table is a plain sequence (its array part); anything else
 * declines. */
static int put_array(lua_State *L, users_buf_t *b, const users_schema_t *s, int v) {
  long long want = 1, k;
  if (s->items->type == USERS_T_ARRAY || !users_buf_putc(b, '[')) return 0;
  lua_pushnil(L);
  while (lua_next(L, v)) {
    if (!users_tointeger(L, -2, &k) || k != want ||
        (want > 1 && !users_buf_putc(b, ',')) || !put_value(L, b, s->items, v + 2)) {
      lua_pop(L, 2);
      return 0;
    }
    want++;
    lua_pop(L, 1);
  }
  if ((s->min >= 0 && want - 1 < s->min) || (s->max >= 0 && want - 1 > s->max)) return 0;
  return users_buf_putc(b, ']');
}

static const users_field_t *find_field(const users_provider_t *p, lua_State *L, int k) {
  size_t len;
  const char *key;
  if (lua_type(L, k) != LUA_TSTRING) return NULL;
  key = lua_tolstring(L, k, &len);
  return users_provider_field_by_key(p, key, len);
}

/* The stack during the pass: 1 provider, 2 fields, 3 scratch buffer, then
 * the traversal's key and value. */
#define VALUE 5

/* The one pass; 1 with the body pushed, 0 to decline. Each field is
 * written as ,"name":value where the table traversal meets it; the body is
 * those spans in declaration order, the first comma made the '{'. */
static int fast(lua_State *L, const users_provider_t *p, users_buf_t *b) {
  span_t spans[USERS_MAX_FIELDS];
  size_t i, total = 2, start = b->len;
  ptrdiff_t last = -1;
  int in_order = 1;
  memset(spans, 0, p->n_fields * sizeof *spans);
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    const users_field_t *f = find_field(p, L, -2);
    span_t *sp;
    if (!f || f->s.type == USERS_T_FILE || !users_buf_room(b, f->json_key_len + 1)) {
      lua_pop(L, 2);
      return 0;
    }
    sp = &spans[f - p->fields];
    sp->off = b->len;
    b->data[b->len] = ',';
    memcpy(b->data + b->len + 1, f->json_key, f->json_key_len);
    b->len += f->json_key_len + 1;
    if (!put_value(L, b, &f->s, VALUE)) { lua_pop(L, 2); return 0; }
    lua_pop(L, 1);
    sp->len = b->len - sp->off;
    total += sp->len;
    if (f - p->fields < last) in_order = 0;
    last = f - p->fields;
  }
  if (last < 0) return 0; /* empty */
  for (i = 0; i < p->n_fields; i++) {
    const users_field_t *f = &p->fields[i];
    if (f->required && !spans[i].len) return 0;
    /* same_as (a confirmation) binds two fields: the reference path checks it */
    if (f->same_as_index >= 0 && (spans[i].len || spans[f->same_as_index].len)) return 0;
  }
  if (!in_order) { /* assemble the spans in order after them */
    size_t at;
    if (!users_buf_room(b, total)) return 0;
    at = b->len;
    for (i = 0; i < p->n_fields; i++) {
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

/* core.marshal_json(provider, fields) -> body | nil, errors, reason
 * Upvalues: 1 the scratch buffer, 2 the providers' metatable. */
int marshal_json(lua_State *L) {
  users_provider_t *p = users_provider_check_fast(L, 1, lua_upvalueindex(2));
  users_buf_t *b;
  int n;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  b = users_buf_borrow(L); /* 3 */
  n = fast(L, p, b);
  users_buf_return(b);
  if (n) return 1;
  lua_settop(L, 2);
  n = users_validate_fields(L); /* nothing when valid, else errors or nil, reason */
  if (n == 0) {
    lua_settop(L, 2);
    return encode_json(L);
  }
  lua_pushnil(L);
  lua_insert(L, -1 - n);
  return n + 1;
}
