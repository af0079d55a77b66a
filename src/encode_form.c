/* Form bodies: application/x-www-form-urlencoded and multipart/form-data.
 * Booleans are "1"/"0" (what Laravel's and Django's boolean rules accept),
 * null is an empty value, an array is the same name repeated; an empty array
 * has no form spelling and is refused. Files stream from disk: a multipart
 * body is a list of segments, strings and { path=, size= }.
 *
 * The writers below raise nothing while the scratch buffer is lent: they
 * stop with a reason in form_t, and the entry points raise it (or report an
 * empty array) once the scratch is back (see buf.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "buf.h"
#include "encode_form.h"
#include "validate.h"

typedef struct {
  lua_State *L;
  users_buf_t *b;            /* the body, or multipart's pending string segment */
  users_fail_t fail;         /* why it stopped */
  users_file_t file;         /* the file part being written (its error, if any) */
  /* or: the field whose value the update cannot have, and why: an empty
   * array, or a file that breaks the field's rules */
  const users_field_t *refused;
  int empty;
  unsigned file_bad;         /* USERS_FP_ bits */
  /* multipart only */
  int segs;                  /* stack index of the segments table */
  long long length;
  char boundary[48];         /* "lua-users-" + 32 hex digits + NUL */
} form_t;

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

/* core.escape(text) -> text percent-encoded but for RFC 3986 unreserved */
static int escape(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  users_buf_t *b = users_buf_borrow(L);
  int ok = percent(b, s, n, 0);
  if (ok) lua_pushlstring(L, b->data, b->len);
  users_buf_return(b);
  if (!ok) return luaL_error(L, "not enough memory");
  return 1;
}

/* The text of a scalar value in a form, percent-encoded or as is. */
static int put_scalar(form_t *c, int v, int urlencoded) {
  lua_State *L = c->L;
  const char *s;
  char num[32];
  size_t n;
  long long i;
  int ok;
  if (users_isnull(L, v)) return 1;
  if (lua_type(L, v) == LUA_TBOOLEAN) {
    s = lua_toboolean(L, v) ? "1" : "0";
    n = 1;
  } else if (users_tointeger(L, v, &i)) {
    n = (size_t)snprintf(num, sizeof num, "%lld", i);
    s = num;
  } else if (lua_type(L, v) == LUA_TSTRING) {
    s = lua_tolstring(L, v, &n);
  } else if (lua_type(L, v) == LUA_TNUMBER) { /* a fraction: as Lua writes it */
    lua_pushvalue(L, v);
    s = lua_tolstring(L, -1, &n);
    ok = urlencoded ? percent(c->b, s, n, 1) : users_buf_add(c->b, s, n);
    lua_pop(L, 1);
    return ok;
  } else {
    return users_fail(&c->fail, "cannot encode a %s in a form", luaL_typename(L, v), NULL);
  }
  return urlencoded ? percent(c->b, s, n, 1) : users_buf_add(c->b, s, n);
}

/* Calls emit for each (field, value index) pair of the fields at 2, arrays
 * expanded; 0 when emit stopped, or at an empty array (c->refused). */
typedef int (*emit_fn)(form_t *c, const users_field_t *f, int v);

static int each_value(form_t *c, const users_provider_t *p, emit_fn emit) {
  lua_State *L = c->L;
  size_t i, k, n;
  int names;
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->names_ref);
  names = lua_gettop(L);
  for (i = 0; i < p->n_fields; i++) {
    const users_field_t *f = &p->fields[i];
    /* Raw access, as validation had: no __index can slip in a field. */
    lua_rawgeti(L, names, (int)i + 1);
    lua_rawget(L, 2);
    if (lua_isnil(L, -1)) { lua_pop(L, 1); continue; }
    if (f->s.type == USERS_T_ARRAY && lua_istable(L, -1)) {
      n = users_rawlen(L, -1);
      if (n == 0) {
        c->refused = f;
        c->empty = 1;
        return 0;
      }
      for (k = 1; k <= n; k++) {
        lua_rawgeti(L, -1, (int)k);
        if (!emit(c, f, lua_gettop(L))) return 0;
        lua_pop(L, 1);
      }
    } else if (!emit(c, f, lua_gettop(L))) {
      return 0;
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return 1;
}

/* Why each_value stopped, once the scratch is back: a value the update
 * cannot have (an empty array, a file that breaks its field's rules) is
 * a problem with the update, reported as core.validate reports one,
 * nil, { field = { message, ... } }; anything else is raised. */
static int report(form_t *c) {
  lua_State *L = c->L;
  const users_field_t *f = c->refused;
  if (!f) return users_fail_raise(L, &c->fail);
  lua_pushnil(L);
  lua_createtable(L, 0, 1);
  lua_createtable(L, 1, 0);
  if (c->empty) {
    lua_pushliteral(L, "is an empty list, which a form cannot express: use the json encoding");
    lua_rawseti(L, -2, 1);
  } else {
    unsigned bit;
    int n = 0;
    for (bit = 1; bit <= USERS_FP_ALL; bit <<= 1) {
      char msg[64];
      if (!(c->file_bad & bit)) continue;
      lua_pushstring(L, users_file_message(&f->s, bit, msg, sizeof msg));
      lua_rawseti(L, -2, ++n);
    }
  }
  lua_setfield(L, -2, f->name);
  return 2;
}

static int emit_urlencoded(form_t *c, const users_field_t *f, int v) {
  return (!c->b->len || users_buf_addc(c->b, '&')) &&
         percent(c->b, f->name, f->name_len, 1) && users_buf_addc(c->b, '=') &&
         put_scalar(c, v, 1);
}

/* core.encode_form(provider, fields) -> body | nil, problems (problems as
 * core.validate gives them: { field = { "message" } }) */
static int encode_form(lua_State *L) {
  users_provider_t *p = users_provider_check(L, 1);
  form_t c;
  int ok;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  memset(&c, 0, sizeof c);
  c.L = L;
  c.b = users_buf_borrow(L); /* 3 */
  ok = each_value(&c, p, emit_urlencoded);
  if (ok) lua_pushlstring(L, c.b->data, c.b->len);
  users_buf_return(c.b);
  return ok ? 1 : report(&c);
}

/* --- multipart ----------------------------------------------------------- */

/* The pending string segment into the segments table. */
static void flush(form_t *c) {
  lua_State *L = c->L;
  if (!c->b->len) return;
  lua_pushlstring(L, c->b->data, c->b->len);
  lua_rawseti(L, c->segs, (int)users_rawlen(L, c->segs) + 1);
  c->length += (long long)c->b->len;
  c->b->len = 0;
}

static int add(form_t *c, const char *s) { return users_buf_adds(c->b, s); }

/* A file's part: its headers, then its bytes (a blob) or a file segment,
 * from one raw read of the value (users_file_info), held to the field's
 * rules as it is written: whatever validation saw before, no header is
 * written from a name or type that could break out of it, and no file
 * beyond its size or of the wrong kind is sent. */
static int emit_file(form_t *c, const users_field_t *f, int v) {
  lua_State *L = c->L;
  users_file_t *file = &c->file;
  int ok;
  if (!users_file_info(L, v, file)) /* raised, as before any rule */
    return users_fail(&c->fail, "%s: %s", f->name, file->err);
  if ((c->file_bad = users_file_problems(&f->s, file)) != 0) {
    c->refused = f;
    return 0; /* the stack is reset by the caller */
  }
  ok = add(c, "; filename=\"") &&
       (file->filename ? users_buf_add(c->b, file->filename, file->filename_len)
                       : add(c, "upload")) &&
       add(c, "\"\r\nContent-Type: ") &&
       (file->content_type ? users_buf_add(c->b, file->content_type, file->content_type_len)
                           : add(c, file->sniffed ? file->sniffed : "application/octet-stream")) &&
       add(c, "\r\n\r\n");
  if (ok && file->data) {
    ok = users_buf_add(c->b, file->data, file->data_len);
  } else if (ok) {
    int path = lua_gettop(L) - USERS_FILE_SLOTS + 2;
    flush(c);
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, path);
    lua_setfield(L, -2, "path");
    lua_pushnumber(L, (lua_Number)file->size);
    lua_setfield(L, -2, "size");
    lua_rawseti(L, c->segs, (int)users_rawlen(L, c->segs) + 1);
    c->length += file->size;
  }
  lua_pop(L, USERS_FILE_SLOTS);
  return ok;
}

/* A file field's value is a file, or null (an empty part, as a form has
 * it): anything else is no file, which emit_file raises. */
static int emit_part(form_t *c, const users_field_t *f, int v) {
  if (!(add(c, "--") && add(c, c->boundary) &&
        add(c, "\r\nContent-Disposition: form-data; name=\"") && add(c, f->name) && add(c, "\"")))
    return 0;
  if (f->s.type == USERS_T_FILE && !users_isnull(c->L, v)) {
    if (!emit_file(c, f, v)) return 0;
  } else if (!add(c, "\r\n\r\n") || !put_scalar(c, v, 0)) {
    return 0;
  }
  return add(c, "\r\n");
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
    for (i = 0; i < sizeof r; i++) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      r[i] = (unsigned char)(x >> 56);
    }
  }
  memcpy(out, "lua-users-", 10);
  for (i = 0; i < sizeof r; i++) sprintf(out + 10 + 2 * i, "%02x", r[i]);
}

/* core.encode_multipart(provider, fields) -> segments, length, content_type
 * | nil, problems. Segments are strings and { path=, size= } files. */
static int encode_multipart(lua_State *L) {
  users_provider_t *p = users_provider_check(L, 1);
  form_t c;
  int ok;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  memset(&c, 0, sizeof c);
  c.L = L;
  lua_newtable(L);
  c.segs = 3;
  make_boundary(c.boundary);
  c.b = users_buf_borrow(L); /* 4 */
  ok = each_value(&c, p, emit_part) && add(&c, "--") && add(&c, c.boundary) && add(&c, "--\r\n");
  if (ok) flush(&c);
  users_buf_return(c.b);
  if (!ok) return report(&c);
  lua_pushvalue(L, c.segs);
  lua_pushnumber(L, (lua_Number)c.length);
  lua_pushfstring(L, "multipart/form-data; boundary=%s", c.boundary);
  return 3;
}

void users_encode_form_open(lua_State *L) {
  static const luaL_Reg functions[] = {
      {"encode_form", encode_form}, {"encode_multipart", encode_multipart},
      {"escape", escape}, {NULL, NULL}};
  users_buf_setfuncs(L, functions);
}
