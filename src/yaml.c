/* core.yaml_decode(text [, ordered]) -> value [, order] | nil, message
 *
 * A YAML document read with libyaml's event parser into the Lua values
 * core.json_decode gives: mappings are tables, sequences tables carrying
 * users.array_mt, null is users.null. Never a parser of our own: libyaml
 * scans and parses; this file only builds values from its events.
 *
 * Scalars follow YAML 1.2's core schema, for plain (unquoted) text only:
 * null, ~ and nothing are null; true and false (three spellings each) are
 * booleans; decimal, 0o octal and 0x hex integers are integers; decimals
 * with a point or an exponent, .inf and .nan are numbers; everything else,
 * and every quoted or block scalar, is a string (YAML 1.1's yes, no, on,
 * off stay strings: OpenAPI documents quote what must stay a string, and
 * JSON Schema knows only true and false). A mapping key is always the text
 * as written: an unquoted 200 is the key "200", as in JSON.
 *
 * An alias is the value its anchor names (the same table, not a copy).
 * Refused, each with the line and column: an alias inside the node its
 * anchor is on, a tag other than YAML's own (!!str, !!int, !!float,
 * !!bool, !!null, !!map, !!seq, and "!"), a merge key (<<), a key that is
 * not a scalar, a key given twice, more than one document, nesting deeper
 * than MAX_DEPTH, text longer than MAX_BYTES.
 *
 * With `ordered`, a second value maps each mapping (the table) to the list
 * of its keys in the order the text has them.
 *
 * Memory: libyaml's parser and its current event live in a userdata whose
 * __gc deletes them, so an error raised by Lua (out of memory) leaks
 * nothing. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>
#include "json_write.h"
#include "yaml.h"

#define MAX_DEPTH 256
#define MAX_BYTES (64u * 1024u * 1024u)
#define BOX_MT "users.yaml_parser"
#define TAG "tag:yaml.org,2002:"

typedef struct {
  yaml_parser_t parser;
  yaml_event_t event;
  int parser_live, event_live;
} box_t;

static int box_gc(lua_State *L) {
  box_t *b = (box_t *)lua_touserdata(L, 1);
  if (b->event_live) yaml_event_delete(&b->event);
  if (b->parser_live) yaml_parser_delete(&b->parser);
  b->event_live = b->parser_live = 0;
  return 0;
}

/* Each open sequence or mapping holds four stack slots, from `slot`: the
 * table, its key list (ordered) or nil, the key waiting for its value (a
 * mapping's) or nil, and its anchor's name or nil. */
typedef struct {
  int mapping, slot;
  lua_Integer n; /* a sequence's items so far */
} frame_t;

typedef struct {
  box_t *box;
  int root, anchors, order, array_mt; /* stack indexes; order 0: not asked */
  int depth, documents;
  frame_t frames[MAX_DEPTH];
  char err[200];
} dec_t;

/* The marker of an anchor whose node is not complete yet. */
static const char building = 0;

static int fail(dec_t *d, const yaml_mark_t *m, const char *msg, const char *name) {
  if (name)
    snprintf(d->err, sizeof d->err, "line %lu, column %lu: %s '%.60s'",
             (unsigned long)m->line + 1, (unsigned long)m->column + 1, msg, name);
  else
    snprintf(d->err, sizeof d->err, "line %lu, column %lu: %s", (unsigned long)m->line + 1,
             (unsigned long)m->column + 1, msg);
  return 0;
}

static int is(const char *s, size_t n, const char *a, const char *b, const char *c) {
  return (strlen(a) == n && memcmp(s, a, n) == 0) || (strlen(b) == n && memcmp(s, b, n) == 0) ||
         (strlen(c) == n && memcmp(s, c, n) == 0);
}

/* v is at most LLONG_MAX, or LLONG_MAX + 1 when negative. */
static void push_int(lua_State *L, unsigned long long v, int negative) {
  long long i = !negative ? (long long)v
                : v > (unsigned long long)LLONG_MAX ? LLONG_MIN : -(long long)v;
#if LUA_VERSION_NUM >= 503
  lua_pushinteger(L, (lua_Integer)i);
#else
  lua_pushnumber(L, (lua_Number)i);
#endif
}

/* An integer of the core schema ([-+]?[0-9]+, 0o[0-7]+, 0x[0-9a-fA-F]+):
 * pushed (beyond the integers Lua holds, as a float), or 0. */
static int push_integer(lua_State *L, const char *s, size_t n) {
  unsigned long long v = 0, limit;
  unsigned base = 10;
  size_t i = 0;
  int negative = 0, overflow = 0;
  if (n > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
    base = s[1] == 'o' ? 8 : 16;
    i = 2;
  } else if (n > 1 && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    i = 1;
  }
  if (i == n) return 0;
  limit = negative ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX;
  for (; i < n; i++) {
    unsigned c = (unsigned char)s[i], digit;
    if (c >= '0' && c <= '9') digit = c - '0';
    else if (base == 16 && c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    else if (base == 16 && c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    else return 0;
    if (digit >= base) return 0;
    if (v > (limit - digit) / base) overflow = 1;
    else v = v * base + digit;
  }
  if (!overflow) {
    push_int(L, v, negative);
    return 1;
  }
  if (base != 10) return 0; /* a hex or octal beyond 64 bits stays text */
  lua_pushlstring(L, s, n); /* Lua's own conversion: no locale of ours */
  if (!lua_isnumber(L, -1)) { lua_pop(L, 1); return 0; } /* past Lua's length for numbers */
  lua_pushnumber(L, lua_tonumber(L, -1));
  lua_remove(L, -2);
  return 1;
}

/* A float of the core schema: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?,
 * or [-+]?.inf and .nan in their three spellings. Pushed, or 0. */
static int push_float(lua_State *L, const char *s, size_t n) {
  size_t i = 0, digits = 0;
  int sign = 1;
  if (n > 0 && (s[0] == '-' || s[0] == '+')) { sign = s[0] == '-' ? -1 : 1; i = 1; }
  if (is(s + i, n - i, ".inf", ".Inf", ".INF")) { lua_pushnumber(L, sign * HUGE_VAL); return 1; }
  if (i == 0 && is(s, n, ".nan", ".NaN", ".NAN")) { lua_pushnumber(L, (lua_Number)NAN); return 1; }
  while (i < n && s[i] >= '0' && s[i] <= '9') { i++; digits++; }
  if (i < n && s[i] == '.') {
    for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++) digits++;
  }
  if (digits == 0) return 0;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    size_t exp = 0;
    i++;
    if (i < n && (s[i] == '-' || s[i] == '+')) i++;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) exp++;
    if (exp == 0) return 0;
  }
  if (i != n) return 0;
  lua_pushlstring(L, s, n);
  if (!lua_isnumber(L, -1)) { lua_pop(L, 1); return 0; }
  lua_pushnumber(L, lua_tonumber(L, -1)); /* a float even when written "1e3" */
  lua_remove(L, -2);
  return 1;
}

/* A plain scalar without a tag, resolved by the core schema. */
static void push_plain(lua_State *L, const char *s, size_t n) {
  if (n == 0 || is(s, n, "~", "null", "Null") || is(s, n, "NULL", "NULL", "NULL")) {
    lua_pushlightuserdata(L, NULL);
  } else if (is(s, n, "true", "True", "TRUE")) {
    lua_pushboolean(L, 1);
  } else if (is(s, n, "false", "False", "FALSE")) {
    lua_pushboolean(L, 0);
  } else if (!push_integer(L, s, n) && !push_float(L, s, n)) {
    lua_pushlstring(L, s, n);
  }
}

/* A scalar with an explicit tag: what the tag says it is, or 0. */
static int push_tagged(lua_State *L, const char *tag, const char *s, size_t n) {
  if (strcmp(tag, "!") == 0 || strcmp(tag, TAG "str") == 0) {
    lua_pushlstring(L, s, n);
    return 1;
  }
  if (strncmp(tag, TAG, sizeof TAG - 1) != 0) return 0;
  tag += sizeof TAG - 1;
  if (strcmp(tag, "null") == 0) {
    if (!(n == 0 || is(s, n, "~", "null", "Null") || is(s, n, "NULL", "NULL", "NULL"))) return 0;
    lua_pushlightuserdata(L, NULL);
  } else if (strcmp(tag, "bool") == 0) {
    if (is(s, n, "true", "True", "TRUE")) lua_pushboolean(L, 1);
    else if (is(s, n, "false", "False", "FALSE")) lua_pushboolean(L, 0);
    else return 0;
  } else if (strcmp(tag, "int") == 0) {
    return push_integer(L, s, n);
  } else if (strcmp(tag, "float") == 0) {
    if (push_integer(L, s, n)) {
      lua_pushnumber(L, lua_tonumber(L, -1)); /* !!float 1 is 1.0 */
      lua_remove(L, -2);
      return 1;
    }
    return push_float(L, s, n);
  } else {
    return 0;
  }
  return 1;
}

/* Records the value on the top as complete under its anchor, if it has one. */
static void set_anchor(lua_State *L, dec_t *d, const char *anchor) {
  if (!anchor) return;
  lua_pushstring(L, anchor);
  lua_pushvalue(L, -2);
  lua_rawset(L, d->anchors);
}

/* Takes the value on the top of the stack into the open node (or makes it
 * the document). A mapping's key is taken by take_key instead. */
static int take_value(lua_State *L, dec_t *d) {
  frame_t *f;
  if (d->depth == 0) {
    lua_replace(L, d->root);
    return 1;
  }
  f = &d->frames[d->depth - 1];
  if (!f->mapping) {
    lua_rawseti(L, f->slot, (int)++f->n);
    return 1;
  }
  lua_pushvalue(L, f->slot + 2);
  lua_insert(L, -2);
  lua_rawset(L, f->slot);
  if (d->order) {
    lua_pushvalue(L, f->slot + 2);
    lua_rawseti(L, f->slot + 1, (int)users_rawlen(L, f->slot + 1) + 1);
  }
  lua_pushnil(L);
  lua_replace(L, f->slot + 2);
  return 1;
}

/* Whether the open node is a mapping waiting for a key. */
static int wants_key(lua_State *L, dec_t *d) {
  frame_t *f = d->depth ? &d->frames[d->depth - 1] : NULL;
  return f && f->mapping && lua_isnil(L, f->slot + 2);
}

/* The string on the top becomes the open mapping's waiting key. */
static int take_key(lua_State *L, dec_t *d, const yaml_mark_t *m) {
  frame_t *f = &d->frames[d->depth - 1];
  lua_pushvalue(L, -1);
  lua_rawget(L, f->slot);
  if (!lua_isnil(L, -1)) return fail(d, m, "duplicate key", lua_tostring(L, -2));
  lua_pop(L, 1);
  lua_replace(L, f->slot + 2);
  return 1;
}

static int on_scalar(lua_State *L, dec_t *d, const yaml_event_t *e) {
  const char *s = (const char *)e->data.scalar.value;
  const char *tag = (const char *)e->data.scalar.tag;
  size_t n = e->data.scalar.length;
  int plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
  if (wants_key(L, d)) {
    if (plain && !tag && n == 2 && memcmp(s, "<<", 2) == 0)
      return fail(d, &e->start_mark, "merge keys (<<) are not supported", NULL);
    if (tag && strcmp(tag, "!") != 0 && strcmp(tag, TAG "str") != 0 && strcmp(tag, TAG "int") != 0)
      return fail(d, &e->start_mark, "unsupported tag on a key", tag);
    lua_pushlstring(L, s, n);
    set_anchor(L, d, (const char *)e->data.scalar.anchor);
    return take_key(L, d, &e->start_mark);
  }
  if (tag) {
    if (!push_tagged(L, tag, s, n)) return fail(d, &e->start_mark, "unsupported tag or value", tag);
  } else if (plain) {
    push_plain(L, s, n);
  } else {
    lua_pushlstring(L, s, n);
  }
  set_anchor(L, d, (const char *)e->data.scalar.anchor);
  return take_value(L, d);
}

static int on_alias(lua_State *L, dec_t *d, const yaml_event_t *e) {
  const char *name = (const char *)e->data.alias.anchor;
  lua_pushstring(L, name);
  lua_rawget(L, d->anchors);
  if (lua_isnil(L, -1)) return fail(d, &e->start_mark, "unknown anchor", name);
  if (lua_touserdata(L, -1) == (void *)&building)
    return fail(d, &e->start_mark, "an alias inside the node of its own anchor", name);
  if (wants_key(L, d)) {
    if (lua_type(L, -1) != LUA_TSTRING) return fail(d, &e->start_mark, "an alias key must be a string", name);
    return take_key(L, d, &e->start_mark);
  }
  return take_value(L, d);
}

static int on_start(lua_State *L, dec_t *d, const yaml_event_t *e, int mapping) {
  const char *tag = (const char *)(mapping ? e->data.mapping_start.tag : e->data.sequence_start.tag);
  const char *anchor = (const char *)(mapping ? e->data.mapping_start.anchor : e->data.sequence_start.anchor);
  frame_t *f;
  if (wants_key(L, d)) return fail(d, &e->start_mark, "a mapping key must be a scalar", NULL);
  if (tag && strcmp(tag, "!") != 0 && strcmp(tag, mapping ? TAG "map" : TAG "seq") != 0)
    return fail(d, &e->start_mark, "unsupported tag", tag);
  if (d->depth == MAX_DEPTH) return fail(d, &e->start_mark, "nested too deeply", NULL);
  if (!lua_checkstack(L, 8)) return fail(d, &e->start_mark, "nested too deeply", NULL);
  f = &d->frames[d->depth++];
  f->mapping = mapping;
  f->n = 0;
  lua_newtable(L);
  f->slot = lua_gettop(L);
  if (!mapping) {
    lua_pushvalue(L, d->array_mt);
    lua_setmetatable(L, -2);
  }
  if (mapping && d->order) {
    lua_newtable(L);
    lua_pushvalue(L, f->slot);
    lua_pushvalue(L, -2);
    lua_rawset(L, d->order);
  } else {
    lua_pushnil(L);
  }
  lua_pushnil(L);
  if (anchor) {
    lua_pushstring(L, anchor);
    lua_pushvalue(L, -1);
    lua_pushlightuserdata(L, (void *)&building);
    lua_rawset(L, d->anchors);
  } else {
    lua_pushnil(L);
  }
  return 1;
}

static int on_end(lua_State *L, dec_t *d) {
  frame_t *f = &d->frames[d->depth - 1];
  int slot = f->slot;
  if (!lua_isnil(L, slot + 3)) { /* the anchor's node is complete */
    lua_pushvalue(L, slot + 3);
    lua_pushvalue(L, slot);
    lua_rawset(L, d->anchors);
  }
  lua_settop(L, slot);
  d->depth--;
  return take_value(L, d);
}

static int parser_failed(dec_t *d) {
  const yaml_parser_t *p = &d->box->parser;
  const char *problem = p->problem ? p->problem : "not enough memory";
  if (p->error == YAML_READER_ERROR)
    snprintf(d->err, sizeof d->err, "byte %lu: %s", (unsigned long)p->problem_offset + 1, problem);
  else if (p->context)
    snprintf(d->err, sizeof d->err, "line %lu, column %lu: %s %s", (unsigned long)p->problem_mark.line + 1,
             (unsigned long)p->problem_mark.column + 1, problem, p->context);
  else
    snprintf(d->err, sizeof d->err, "line %lu, column %lu: %s", (unsigned long)p->problem_mark.line + 1,
             (unsigned long)p->problem_mark.column + 1, problem);
  return 0;
}

/* One event: 1 to go on, 2 at the stream's end, 0 on an error (d->err). */
static int on_event(lua_State *L, dec_t *d, const yaml_event_t *e) {
  switch (e->type) {
  case YAML_DOCUMENT_START_EVENT:
    if (d->documents++) return fail(d, &e->start_mark, "more than one document", NULL);
    return 1;
  case YAML_SCALAR_EVENT: return on_scalar(L, d, e);
  case YAML_ALIAS_EVENT: return on_alias(L, d, e);
  case YAML_SEQUENCE_START_EVENT: return on_start(L, d, e, 0);
  case YAML_MAPPING_START_EVENT: return on_start(L, d, e, 1);
  case YAML_SEQUENCE_END_EVENT:
  case YAML_MAPPING_END_EVENT: return on_end(L, d);
  case YAML_STREAM_END_EVENT: return 2;
  default: return 1;
  }
}

static int yaml_decode(lua_State *L) {
  size_t n;
  const char *text = luaL_checklstring(L, 1, &n);
  int ordered = lua_toboolean(L, 2), status = 1;
  dec_t *d;
  lua_settop(L, 2);
  if (n > MAX_BYTES) {
    lua_pushnil(L);
    lua_pushfstring(L, "YAML text larger than %d bytes", (int)MAX_BYTES);
    return 2;
  }
  d = (dec_t *)users_newuserdata(L, sizeof *d); /* 3: the decoder's state, on the Lua heap */
  memset(d, 0, sizeof *d);
  d->box = (box_t *)users_newuserdata(L, sizeof *d->box); /* 4 */
  memset(d->box, 0, sizeof *d->box);
  users_setmeta(L, BOX_MT, NULL, box_gc);
  if (!yaml_parser_initialize(&d->box->parser)) return luaL_error(L, "not enough memory");
  d->box->parser_live = 1;
  yaml_parser_set_input_string(&d->box->parser, (const unsigned char *)text, n);
  lua_pushnil(L);
  d->root = lua_gettop(L); /* 5 */
  lua_newtable(L);
  d->anchors = lua_gettop(L); /* 6 */
  lua_getfield(L, LUA_REGISTRYINDEX, USERS_ARRAY_MT);
  d->array_mt = lua_gettop(L); /* 7 */
  if (ordered) {
    lua_newtable(L);
    d->order = lua_gettop(L); /* 8 */
  }
  while (status == 1) {
    if (!yaml_parser_parse(&d->box->parser, &d->box->event)) {
      status = parser_failed(d);
      break;
    }
    d->box->event_live = 1;
    status = on_event(L, d, &d->box->event);
    yaml_event_delete(&d->box->event);
    d->box->event_live = 0;
  }
  yaml_parser_delete(&d->box->parser);
  d->box->parser_live = 0;
  if (status == 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "invalid YAML: %s", d->err);
    return 2;
  }
  if (d->documents == 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "invalid YAML: no document");
    return 2;
  }
  lua_pushvalue(L, d->root);
  if (!ordered) return 1;
  lua_pushvalue(L, d->order);
  return 2;
}

void users_yaml_open(lua_State *L) {
  static const luaL_Reg functions[] = {{"yaml_decode", yaml_decode}, {NULL, NULL}};
  users_setfuncs(L, functions);
}
