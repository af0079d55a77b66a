/* multipart/form-data bodies: one part per field, an array's items as parts
 * of one name, an object (or any value whose part_content_type is JSON) as
 * one JSON part; a boolean is the provider's form_booleans, null an empty
 * part. Files stream from disk: the body is a list of segments, strings and
 * { path=, size= }, and each file is held to its field's rules again as it
 * is written. Writers raise nothing while the scratch is lent (form.h). */
#define _DEFAULT_SOURCE /* getentropy (glibc 2.25, the BSDs, macOS) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "encode_json.h"
#include "encode_multipart.h"
#include "form.h"

static int add(form_t *c, const char *s) { return users_buf_adds(c->b, s); }

/* Whether what was written since offset from (a value, a file name, a
 * blob) holds the boundary: only there can a delimiter ("\r\n--" and the
 * boundary) come from the caller's data. The encoder's own header text is
 * not searched, and a part's name or type holds no CR or LF, so no
 * delimiter. The scratch is not flushed while a value is written. */
static void note_boundary(form_t *c, size_t from) {
  size_t blen = strlen(c->boundary);
  const char *at = c->b->data + from, *end = c->b->data + c->b->len;
  while (!c->holds_boundary && (size_t)(end - at) >= blen) {
    at = memchr(at, c->boundary[0], (size_t)(end - at) - blen + 1);
    if (!at) break;
    if (memcmp(at, c->boundary, blen) == 0) c->holds_boundary = 1;
    at++;
  }
}

/* The pending string segment into the segments table. */
static void flush(form_t *c) {
  lua_State *L = c->L;
  if (!c->b->len) return;
  lua_pushlstring(L, c->b->data, c->b->len);
  lua_rawseti(L, c->segs, (int)users_rawlen(L, c->segs) + 1);
  c->length += (long long)c->b->len;
  c->b->len = 0;
}

/* A name a part's header can carry: no CR, LF, '"' or NUL (a field's
 * name is the declaration's, but additional_fields lets the caller's in). */
static int header_safe(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (s[i] == '\r' || s[i] == '\n' || s[i] == '"' || s[i] == '\0') return 0;
  return 1;
}

/* --boundary and the part's name; the caller ends the headers. */
static int part_start(form_t *c, const users_path_t *name) {
  if (!header_safe(name->name, name->len))
    return users_form_refuse(c, name, "is a name a multipart part cannot have");
  return add(c, "--") && add(c, c->boundary) && add(c, "\r\nContent-Disposition: form-data; name=\"") &&
         users_buf_add(c->b, name->name, name->len) && add(c, "\"");
}

static int headers_end(form_t *c, const char *type) {
  return (!type || (add(c, "\r\nContent-Type: ") && add(c, type))) && add(c, "\r\n\r\n");
}

static int text_part(form_t *c, const users_path_t *name, const char *type, int v) {
  size_t from;
  if (!part_start(c, name) || !headers_end(c, users_isnull(c->L, v) ? NULL : type)) return 0;
  from = c->b->len;
  if (!users_form_scalar(c, v, 0)) return 0;
  note_boundary(c, from);
  return add(c, "\r\n");
}

/* depth: the value's, as the JSON writer counts (a field's 0, an item's 1). */
static int json_part(form_t *c, const users_path_t *name, const char *type, const users_schema_t *s, int v,
                     int depth) {
  users_jw_t w;
  size_t from;
  memset(&w, 0, sizeof w);
  w.L = c->L, w.b = c->b, w.names = c->names;
  if (!part_start(c, name) || !headers_end(c, type)) return 0;
  from = c->b->len;
  if (!users_json_value(&w, s, v, depth)) {
    c->fail = w.fail;
    return 0;
  }
  note_boundary(c, from);
  return add(c, "\r\n");
}

/* A file's part: its headers, then its bytes (a blob) or a file segment,
 * from one raw read of the value (users_file_info), held to the rules as
 * it is written: whatever validation saw before, no header is written from
 * a name or type that could break out of it, and no file beyond its size
 * or of the wrong kind is sent. path names it in problems. */
static int file_part(form_t *c, const users_path_t *name, const users_path_t *path,
                     const users_schema_t *s, int v) {
  lua_State *L = c->L;
  users_file_t *file = &c->file;
  int ok;
  size_t from;
  if (!users_file_info(L, v, file)) /* raised, as before any rule */
    return users_fail(&c->fail, "%s: %s", name->name, file->err);
  if ((c->file_bad = users_file_problems(s, file)) != 0) {
    c->file_rules = s;
    return users_form_refuse(c, path, NULL); /* the stack is reset by the caller */
  }
  ok = part_start(c, name) && add(c, "; filename=\"");
  from = c->b->len;
  ok = ok && (file->filename ? users_buf_add(c->b, file->filename, file->filename_len) : add(c, "upload"));
  if (ok && file->filename) note_boundary(c, from);
  ok = ok && add(c, "\"\r\nContent-Type: ") &&
       (file->content_type ? users_buf_add(c->b, file->content_type, file->content_type_len)
                           : add(c, file->sniffed ? file->sniffed : "application/octet-stream")) &&
       add(c, "\r\n\r\n");
  if (ok && file->data) {
    from = c->b->len;
    if ((ok = users_buf_add(c->b, file->data, file->data_len)) != 0) note_boundary(c, from);
  } else if (ok) {
    int at = lua_gettop(L) - USERS_FILE_SLOTS + 2;
    flush(c);
    lua_createtable(L, 0, 2);
    lua_pushvalue(L, at);
    lua_setfield(L, -2, "path");
    lua_pushnumber(L, (lua_Number)file->size);
    lua_setfield(L, -2, "size");
    lua_rawseti(L, c->segs, (int)users_rawlen(L, c->segs) + 1);
    c->length += file->size;
  }
  lua_pop(L, USERS_FILE_SLOTS);
  return ok && add(c, "\r\n");
}

/* One value of a part's name: a file, a JSON part for a table, or text. */
static int put_part(form_t *c, const users_path_t *name, const users_path_t *path,
                    const users_schema_t *s, int v) {
  const char *type = s ? s->part_content_type : NULL;
  if (s && s->type == USERS_T_FILE && !users_isnull(c->L, v)) return file_part(c, name, path, s, v);
  if (lua_istable(c->L, v)) /* an item (a path without a name) is one level down */
    return json_part(c, name, type ? type : "application/json", s, v, path->name ? 0 : 1);
  return text_part(c, name, type, v);
}

/* A top-level field (or one additional_fields lets through). */
static int emit_part(form_t *c, const users_path_t *name, const users_schema_t *s, int v) {
  lua_State *L = c->L;
  size_t i, n;
  if (s && s->part_json && !users_isnull(L, v)) return json_part(c, name, s->part_content_type, s, v, 0);
  if (!lua_istable(L, v) || !users_form_is_array(L, s, v)) return put_part(c, name, name, s, v);
  if ((n = users_rawlen(L, v)) == 0)
    return users_form_refuse(c, name, "is an empty list, which a form cannot express: use the json encoding");
  for (i = 1; i <= n; i++) {
    users_path_t item;
    const users_schema_t *items = s ? s->items : NULL;
    item.up = name, item.name = NULL, item.len = 0, item.item = (long)i;
    lua_rawgeti(L, v, (int)i);
    if (!put_part(c, name, &item, items, lua_gettop(L))) return 0;
    lua_pop(L, 1);
  }
  return 1;
}

/* 16 bytes from the kernel: getentropy, one system call and no descriptor
 * (nothing to leak into a child, nothing a host that closes descriptors can
 * break, no state for nginx's forked workers to share); /dev/urandom read
 * raw where getentropy is missing. 0 when the system gives no randomness. */
static int random_bytes(unsigned char *r, size_t n) {
  ssize_t got;
  int fd;
#ifndef USERS_NO_GETENTROPY /* the Makefile's probe defines it where getentropy is missing */
  if (getentropy(r, n) == 0) return 1;
#endif
  if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) < 0) return 0;
  do got = read(fd, r, n);
  while (got < 0 && errno == EINTR);
  close(fd);
  return got == (ssize_t)n;
}

/* "lua-users-" and 32 hex digits of the kernel's randomness: no one can
 * guess it to end a part early from inside a value. Never made up from the
 * clock: without randomness the body is refused. */
static void make_boundary(lua_State *L, char *out) {
  unsigned char r[16];
  size_t i;
  if (!random_bytes(r, sizeof r))
    luaL_error(L, "cannot make a multipart boundary: the system gives no randomness");
  memcpy(out, "lua-users-", 10);
  for (i = 0; i < sizeof r; i++) sprintf(out + 10 + 2 * i, "%02x", r[i]);
}

/* A boundary a caller chose (reproducible bodies, tests): 1 to 40 of the
 * RFC 2046 bchars that are also RFC 2045 token characters (letters, digits
 * and '+_-.), so that Content-Type carries it unquoted: the others ( ) , / :
 * = ? and the space are tspecials, which a parser reads as the parameter's
 * end unless quoted. */
static const char *chosen_boundary(lua_State *L) {
  size_t n;
  const char *b = luaL_optlstring(L, 3, NULL, &n);
  if (!b) return NULL;
  if (n == 0 || n > 40 || strspn(b, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'+_-.") != n)
    luaL_argerror(L, 3, "a boundary is 1 to 40 letters, digits or '+_-.");
  return b;
}

/* core.encode_multipart(provider, fields [, boundary]) -> segments, length,
 * content_type | nil, problems. Segments are strings and { path=, size= }
 * files. A value, file name or blob that holds the boundary (each
 * delimiter must be ours) gets a new random one; a chosen boundary is
 * refused instead. File bytes streamed from disk are not seen: only a
 * guess could put the random boundary there. */
static int encode_multipart(lua_State *L) {
  users_provider_t *p = users_provider_check(L, 1);
  const char *chosen;
  form_t c;
  int ok, tries;
  luaL_checktype(L, 2, LUA_TTABLE);
  chosen = chosen_boundary(L);
  for (tries = 1;; tries++) {
    lua_settop(L, 3);
    users_form_init(&c, L, p); /* 4 */
    lua_newtable(L);
    c.segs = 5;
    if (chosen) strcpy(c.boundary, chosen);
    else make_boundary(L, c.boundary);
    c.b = users_buf_borrow(L); /* 6 */
    ok = users_form_fields(&c, emit_part) && add(&c, "--") && add(&c, c.boundary) && add(&c, "--\r\n");
    if (ok) flush(&c);
    users_buf_return(c.b);
    if (!ok) return users_form_report(&c);
    if (!c.holds_boundary) break;
    if (chosen || tries == 3) return luaL_error(L, "a value holds the multipart boundary %s", c.boundary);
  }
  lua_pushvalue(L, c.segs);
  lua_pushnumber(L, (lua_Number)c.length);
  lua_pushfstring(L, "multipart/form-data; boundary=%s", c.boundary);
  return 3;
}

void users_encode_multipart_open(lua_State *L) {
  static const luaL_Reg functions[] = {{"encode_multipart", encode_multipart}, {NULL, NULL}};
  users_buf_setfuncs(L, functions);
}
