/* Form bodies: application/x-www-form-urlencoded and multipart/form-data.
 * Booleans are "1"/"0" (what Laravel's and Django's boolean rules accept),
 * null is an empty value, an array is the same name repeated; an empty array
 * has no form spelling and is refused. Files stream from disk: a multipart
 * body is a list of segments, strings and { path=, size= }. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "encode.h"
#include "validate.h"

static int is_unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

static int percent(users_buf_t *b, const char *s, size_t n, int plus_for_space) {
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

int encode_escape(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  users_buf_t *b = users_buf_borrow(L);
  users_buf_check(L, percent(b, s, n, 0));
  lua_pushlstring(L, b->data, b->len);
  users_buf_return(b);
  return 1;
}

/* Text of a scalar value for a form: pushed on the stack. */
static void scalar_text(lua_State *L, int v) {
  long long i;
  if (users_isnull(L, v)) lua_pushliteral(L, "");
  else if (lua_type(L, v) == LUA_TBOOLEAN) lua_pushstring(L, lua_toboolean(L, v) ? "1" : "0");
  else if (users_tointeger(L, v, &i)) {
    char num[32];
    snprintf(num, sizeof num, "%lld", i);
    lua_pushstring(L, num);
  } else if (lua_type(L, v) == LUA_TSTRING || lua_type(L, v) == LUA_TNUMBER) {
    lua_pushvalue(L, v);
    lua_tostring(L, -1);
  } else {
    luaL_error(L, "cannot encode a %s in a form", luaL_typename(L, v));
  }
}

/* Calls emit for each (name, value index) pair of the fields, arrays
 * expanded. Returns 0 (and pushes nil, field, message) on an empty array. */
typedef void (*emit_fn)(lua_State *L, void *ctx, const users_field_t *f, int v);

static int each_value(lua_State *L, users_provider_t *p, emit_fn emit, void *ctx) {
  size_t i, k, n;
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->names_ref);
  for (i = 0; i < p->n_fields; i++) {
    const users_field_t *f = &p->fields[i];
    /* Raw access, as validation had: no __index can slip in a field. */
    lua_rawgeti(L, -1, (int)i + 1);
    lua_rawget(L, 2);
    if (lua_isnil(L, -1)) { lua_pop(L, 1); continue; }
    if (f->s.type == USERS_T_ARRAY && lua_istable(L, -1)) {
      n = users_rawlen(L, -1);
      if (n == 0) {
        lua_pushnil(L);
        lua_pushstring(L, f->name);
        lua_pushliteral(L, "is an empty list, which a form cannot express: use the json encoding");
        return 0;
      }
      for (k = 1; k <= n; k++) {
        lua_rawgeti(L, -1, (int)k);
        emit(L, ctx, f, lua_gettop(L));
        lua_pop(L, 1);
      }
    } else {
      emit(L, ctx, f, lua_gettop(L));
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return 1;
}

static void emit_urlencoded(lua_State *L, void *ctx, const users_field_t *f, int v) {
  users_buf_t *b = (users_buf_t *)ctx;
  size_t n;
  const char *s;
  if (b->len) users_buf_check(L, users_buf_addc(b, '&'));
  users_buf_check(L, percent(b, f->name, strlen(f->name), 1) && users_buf_addc(b, '='));
  scalar_text(L, v);
  s = lua_tolstring(L, -1, &n);
  users_buf_check(L, percent(b, s, n, 1));
  lua_pop(L, 1);
}

int encode_form(lua_State *L) {
  users_provider_t *p = users_provider_check(L, 1);
  users_buf_t *b;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  b = users_buf_borrow(L); /* index 3 */
  if (!each_value(L, p, emit_urlencoded, b)) { users_buf_return(b); return 3; }
  lua_pushlstring(L, b->data, b->len);
  users_buf_return(b);
  return 1;
}

/* --- multipart ----------------------------------------------------------- */

typedef struct {
  users_buf_t *b;            /* the pending string segment */
  int segs;            /* index of the segments table */
  long long length;
  char boundary[48]; /* "lua-users-" + 32 hex digits + NUL */
} mp_t;

static void flush(lua_State *L, mp_t *m) {
  if (!m->b->len) return;
  lua_pushlstring(L, m->b->data, m->b->len);
  lua_rawseti(L, m->segs, (int)users_rawlen(L, m->segs) + 1);
  m->length += (long long)m->b->len;
  m->b->len = 0;
}

static void add(lua_State *L, mp_t *m, const char *s) { users_buf_check(L, users_buf_adds(m->b, s)); }

static void emit_part(lua_State *L, void *ctx, const users_field_t *f, int v) {
  mp_t *m = (mp_t *)ctx;
  add(L, m, "--");
  add(L, m, m->boundary);
  add(L, m, "\r\nContent-Disposition: form-data; name=\"");
  add(L, m, f->name);
  add(L, m, "\"");
  if (f->s.type == USERS_T_FILE && lua_istable(L, v)) {
    users_file_t file;
    const char *given, *fname;
    if (!users_file_info(L, v, &file)) luaL_error(L, "%s: %s", f->name, file.err);
    lua_getfield(L, v, "content_type");
    given = lua_tostring(L, -1);
    lua_getfield(L, v, "filename");
    fname = lua_tostring(L, -1);
    add(L, m, "; filename=\"");
    add(L, m, fname ? fname : "upload");
    add(L, m, "\"\r\nContent-Type: ");
    add(L, m, given ? given : file.sniffed ? file.sniffed : "application/octet-stream");
    add(L, m, "\r\n\r\n");
    lua_pop(L, 2);
    lua_getfield(L, v, "data");
    if (lua_type(L, -1) == LUA_TSTRING) {
      size_t n;
      const char *d = lua_tolstring(L, -1, &n);
      users_buf_check(L, users_buf_add(m->b, d, n));
      lua_pop(L, 1);
    } else {
      lua_pop(L, 1);
      flush(L, m);
      lua_newtable(L);
      lua_getfield(L, v, "path");
      lua_setfield(L, -2, "path");
      lua_pushnumber(L, (lua_Number)file.size);
      lua_setfield(L, -2, "size");
      lua_rawseti(L, m->segs, (int)users_rawlen(L, m->segs) + 1);
      m->length += file.size;
    }
  } else {
    size_t n;
    const char *s;
    add(L, m, "\r\n\r\n");
    scalar_text(L, v);
    s = lua_tolstring(L, -1, &n);
    users_buf_check(L, users_buf_add(m->b, s, n));
    lua_pop(L, 1);
  }
  add(L, m, "\r\n");
}

/* 32 hex digits from /dev/urandom; the clock and an address otherwise. */
static void make_boundary(char *out) {
  unsigned char r[16];
  size_t i, got = 0;
  FILE *f = fopen("/dev/urandom", "rb");
  if (f) { got = fread(r, 1, sizeof r, f); fclose(f); }
  if (got != sizeof r) {
    unsigned long long x = (unsigned long long)time(NULL) ^ (unsigned long long)clock() ^
                           (unsigned long long)(size_t)&got;
    for (i = 0; i < sizeof r; i++) { x = x * 6364136223846793005ULL + 1442695040888963407ULL; r[i] = (unsigned char)(x >> 56); }
  }
  memcpy(out, "lua-users-", 10);
  for (i = 0; i < sizeof r; i++) sprintf(out + 10 + 2 * i, "%02x", r[i]);
}

int encode_multipart(lua_State *L) {
  users_provider_t *p = users_provider_check(L, 1);
  mp_t m;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  memset(&m, 0, sizeof m);
  lua_newtable(L);
  m.segs = 3;
  m.b = users_buf_borrow(L);
  make_boundary(m.boundary);
  if (!each_value(L, p, emit_part, &m)) { users_buf_return(m.b); return 3; }
  add(L, &m, "--");
  add(L, &m, m.boundary);
  add(L, &m, "--\r\n");
  flush(L, &m);
  users_buf_return(m.b);
  lua_pushvalue(L, m.segs);
  lua_pushnumber(L, (lua_Number)m.length);
  lua_pushfstring(L, "multipart/form-data; boundary=%s", m.boundary);
  return 3;
}
