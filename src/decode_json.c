/* core.json_decode(text [, ordered]) -> value [, order] | nil, message.
 * Objects become tables, arrays tables carrying users.array_mt (so they
 * encode back as arrays), null users.null. Integers stay integers (on 5.1,
 * beyond 2^53 they come back as strings rather than lose digits). Never
 * raises on bad input. With `ordered`, a second value maps each object
 * (the table) to the list of its keys in the text's order, each once (an
 * OpenAPI document's properties go on the wire in that order), as
 * core.yaml_decode's does. */
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "decode_json.h"
#include "json_write.h"

#define MAX_DEPTH 200

typedef struct {
  const char *s, *end, *start;
  const char *err;
  users_buf_t *scratch;
  int array_mt; /* stack index of the array metatable */
  int order;    /* stack index of the order table; 0: not asked */
} dec_t;

static void skip_ws(dec_t *d) {
  while (d->s < d->end && (*d->s == ' ' || *d->s == '\t' || *d->s == '\n' || *d->s == '\r'))
    d->s++;
}

static int fail(dec_t *d, const char *msg) {
  if (!d->err) d->err = msg;
  return 0;
}

static int hex4(const char *p, unsigned *out) {
  unsigned v = 0;
  int i;
  for (i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
    else return 0;
  }
  *out = v;
  return 1;
}

static int put_utf8(users_buf_t *b, unsigned cp) {
  char u[4];
  size_t n;
  if (cp < 0x80) { u[0] = (char)cp; n = 1; }
  else if (cp < 0x800) { u[0] = (char)(0xC0 | (cp >> 6)); u[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
  else if (cp < 0x10000) {
    u[0] = (char)(0xE0 | (cp >> 12)); u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    u[2] = (char)(0x80 | (cp & 0x3F)); n = 3;
  } else {
    u[0] = (char)(0xF0 | (cp >> 18)); u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); u[3] = (char)(0x80 | (cp & 0x3F)); n = 4;
  }
  return users_buf_add(b, u, n);
}

/* Pushes the string starting after the opening quote. */
static int parse_string(lua_State *L, dec_t *d) {
  users_buf_t *b = d->scratch;
  const char *run = d->s;
  b->len = 0;
  for (;;) {
    unsigned char c;
    if (d->s >= d->end) return fail(d, "unterminated string");
    c = (unsigned char)*d->s;
    if (c == '"') break;
    if (c < 0x20) return fail(d, "control character in string");
    if (c != '\\') { d->s++; continue; }
    if (!users_buf_add(b, run, (size_t)(d->s - run))) return fail(d, "not enough memory");
    if (d->end - d->s < 2) return fail(d, "unterminated string");
    d->s++;
    switch (*d->s++) {
    case '"': c = '"'; break;
    case '\\': c = '\\'; break;
    case '/': c = '/'; break;
    case 'b': c = '\b'; break;
    case 'f': c = '\f'; break;
    case 'n': c = '\n'; break;
    case 'r': c = '\r'; break;
    case 't': c = '\t'; break;
    case 'u': {
      unsigned cp, lo;
      if (d->end - d->s < 4 || !hex4(d->s, &cp)) return fail(d, "bad \\u escape");
      d->s += 4;
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (d->end - d->s < 6 || d->s[0] != '\\' || d->s[1] != 'u' ||
            !hex4(d->s + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
          return fail(d, "lone surrogate in \\u escape");
        d->s += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return fail(d, "lone surrogate in \\u escape");
      }
      if (!put_utf8(b, cp)) return fail(d, "not enough memory");
      run = d->s;
      continue;
    }
    default:
      return fail(d, "bad escape in string");
    }
    if (!users_buf_addc(b, (char)c)) return fail(d, "not enough memory");
    run = d->s;
  }
  if (b->len == 0) {
    lua_pushlstring(L, run, (size_t)(d->s - run));
  } else {
    if (!users_buf_add(b, run, (size_t)(d->s - run))) return fail(d, "not enough memory");
    lua_pushlstring(L, b->data, b->len);
  }
  d->s++; /* closing quote */
  return 1;
}

static int parse_number(lua_State *L, dec_t *d) {
  const char *p = d->s;
  int is_int = 1;
  char tmp[64];
  size_t n;
  if (p < d->end && *p == '-') p++;
  if (p >= d->end || *p < '0' || *p > '9') return fail(d, "bad number");
  if (*p == '0' && p + 1 < d->end && p[1] >= '0' && p[1] <= '9') return fail(d, "bad number");
  while (p < d->end && *p >= '0' && *p <= '9') p++;
  if (p < d->end && *p == '.') {
    is_int = 0;
    p++;
    if (p >= d->end || *p < '0' || *p > '9') return fail(d, "bad number");
    while (p < d->end && *p >= '0' && *p <= '9') p++;
  }
  if (p < d->end && (*p == 'e' || *p == 'E')) {
    is_int = 0;
    p++;
    if (p < d->end && (*p == '+' || *p == '-')) p++;
    if (p >= d->end || *p < '0' || *p > '9') return fail(d, "bad number");
    while (p < d->end && *p >= '0' && *p <= '9') p++;
  }
  n = (size_t)(p - d->s);
  if (is_int && n <= 18) {
    long long v = strtoll(d->s, NULL, 10); /* digits end at p: no separator */
    users_pushinteger(L, v);
  } else if (is_int && n >= sizeof tmp) {
    lua_pushlstring(L, d->s, n); /* far beyond 64 bits: the digits as text */
  } else if (is_int) {
    /* Possibly beyond 64 bits: exact when it fits, else the digits as text. */
    char *endp;
    long long v;
    memcpy(tmp, d->s, n);
    tmp[n] = '\0';
    v = strtoll(tmp, &endp, 10);
    if ((v == 9223372036854775807LL || v == (-9223372036854775807LL - 1)) &&
        strcmp(tmp, v > 0 ? "9223372036854775807" : "-9223372036854775808") != 0)
      lua_pushstring(L, tmp);
    else
      users_pushinteger(L, v);
  } else if (n < sizeof tmp) {
    memcpy(tmp, d->s, n);
    tmp[n] = '\0';
    lua_pushnumber(L, (lua_Number)strtod(tmp, NULL));
  } else { /* a long spelling of a number: copied into the scratch buffer */
    d->scratch->len = 0;
    if (!users_buf_add(d->scratch, d->s, n) || !users_buf_addc(d->scratch, '\0'))
      return fail(d, "not enough memory");
    lua_pushnumber(L, (lua_Number)strtod(d->scratch->data, NULL));
  }
  d->s = p;
  return 1;
}

static int literal(dec_t *d, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(d->end - d->s) < n || memcmp(d->s, word, n) != 0) return fail(d, "unexpected token");
  d->s += n;
  return 1;
}

static int parse_value(lua_State *L, dec_t *d, int depth);

static int parse_array(lua_State *L, dec_t *d, int depth) {
  int i = 0;
  lua_newtable(L);
  lua_pushvalue(L, d->array_mt);
  lua_setmetatable(L, -2);
  skip_ws(d);
  if (d->s < d->end && *d->s == ']') { d->s++; return 1; }
  for (;;) {
    if (!parse_value(L, d, depth + 1)) return 0;
    lua_rawseti(L, -2, ++i);
    skip_ws(d);
    if (d->s < d->end && *d->s == ',') { d->s++; continue; }
    if (d->s < d->end && *d->s == ']') { d->s++; return 1; }
    return fail(d, "expected ',' or ']' in array");
  }
}

/* ordered: the key on the top appended to the list at keys unless the
 * object at obj has it already (a repeated key: the last value wins, the
 * first place stays). */
static void add_key(lua_State *L, int obj, int keys, int *n) {
  lua_pushvalue(L, -1);
  lua_rawget(L, obj);
  if (lua_isnil(L, -1)) {
    lua_pushvalue(L, -2);
    lua_rawseti(L, keys, ++*n);
  }
  lua_pop(L, 1);
}

/* The object's table is left on the top (under it, while parsing, its key
 * list when ordered). */
static int parse_object(lua_State *L, dec_t *d, int depth) {
  int obj, keys = 0, n = 0;
  lua_newtable(L);
  obj = lua_gettop(L);
  if (d->order) {
    lua_newtable(L);
    keys = obj + 1;
    lua_pushvalue(L, obj);
    lua_pushvalue(L, keys);
    lua_rawset(L, d->order);
  }
  skip_ws(d);
  if (d->s < d->end && *d->s == '}') { d->s++; lua_settop(L, obj); return 1; }
  for (;;) {
    skip_ws(d);
    if (d->s >= d->end || *d->s != '"') return fail(d, "expected a string key");
    d->s++;
    if (!parse_string(L, d)) return 0;
    if (keys) add_key(L, obj, keys, &n);
    skip_ws(d);
    if (d->s >= d->end || *d->s != ':') return fail(d, "expected ':' after key");
    d->s++;
    if (!parse_value(L, d, depth + 1)) return 0;
    lua_rawset(L, obj);
    skip_ws(d);
    if (d->s < d->end && *d->s == ',') { d->s++; continue; }
    if (d->s < d->end && *d->s == '}') { d->s++; lua_settop(L, obj); return 1; }
    return fail(d, "expected ',' or '}' in object");
  }
}

static int parse_value(lua_State *L, dec_t *d, int depth) {
  if (depth > MAX_DEPTH) return fail(d, "nested too deeply");
  if (!lua_checkstack(L, 8)) return fail(d, "nested too deeply");
  skip_ws(d);
  if (d->s >= d->end) return fail(d, "unexpected end of text");
  switch (*d->s) {
  case '{': d->s++; return parse_object(L, d, depth);
  case '[': d->s++; return parse_array(L, d, depth);
  case '"': d->s++; return parse_string(L, d);
  case 't': if (!literal(d, "true")) return 0; lua_pushboolean(L, 1); return 1;
  case 'f': if (!literal(d, "false")) return 0; lua_pushboolean(L, 0); return 1;
  case 'n': if (!literal(d, "null")) return 0; lua_pushlightuserdata(L, NULL); return 1;
  default: return parse_number(L, d);
  }
}

static int json_decode(lua_State *L) {
  size_t n;
  dec_t d;
  memset(&d, 0, sizeof d);
  d.s = d.start = luaL_checklstring(L, 1, &n);
  d.end = d.s + n;
  lua_settop(L, 2);
  lua_getfield(L, LUA_REGISTRYINDEX, USERS_ARRAY_MT);
  d.array_mt = 3;
  if (lua_toboolean(L, 2)) {
    lua_newtable(L);
    d.order = 4;
  }
  d.scratch = users_buf_borrow(L);
  if (parse_value(L, &d, 0)) {
    skip_ws(&d);
    if (d.s == d.end) {
      users_buf_return(d.scratch);
      if (!d.order) return 1;
      lua_pushvalue(L, d.order);
      return 2;
    }
    fail(&d, "text after the value");
  }
  users_buf_return(d.scratch);
  lua_pushnil(L);
  lua_pushfstring(L, "invalid JSON at byte %d: %s", (int)(d.s - d.start) + 1, d.err);
  return 2;
}

void users_decode_json_open(lua_State *L) {
  static const luaL_Reg functions[] = {{"json_decode", json_decode}, {NULL, NULL}};
  users_buf_setfuncs(L, functions);
  luaL_newmetatable(L, USERS_ARRAY_MT);
  lua_pushliteral(L, USERS_ARRAY_MT);
  lua_setfield(L, -2, "__name");
  lua_setfield(L, -2, "array_mt");
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");
}
