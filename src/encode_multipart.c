/* multipart/form-data bodies: one part per field, an array's items as parts
 * of one name, an object (or any value whose part_content_type is JSON) as
 * one JSON part; a boolean is the provider's form_booleans, null an empty
 * part. Files stream from disk: the body is a list of segments, strings and
 * { path=, size= }, and each file is held to its field's rules again as it
 * is written. Writers raise nothing while the scratch is lent (form.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "encode_json.h"
#include "encode_multipart.h"
#include "form.h"

static int add(form_t *c, const char *s) { return users_buf_adds(c->b, s); }

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
  return part_start(c, name) && headers_end(c, users_isnull(c->L, v) ? NULL : type) &&
         users_form_scalar(c, v, 0) && add(c, "\r\n");
}

/* depth: the value's, as the JSON writer counts (a field's 0, an item's 1). */
static int json_part(form_t *c, const users_path_t *name, const char *type, const users_schema_t *s, int v,
                     int depth) {
  users_jw_t w;
  memset(&w, 0, sizeof w);
  w.L = c->L, w.b = c->b, w.names = c->names;
  if (!part_start(c, name) || !headers_end(c, type)) return 0;
  if (!users_json_value(&w, s, v, depth)) {
    c->fail = w.fail;
    return 0;
  }
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
  if (!users_file_info(L, v, file)) /* raised, as before any rule */
    return users_fail(&c->fail, "%s: %s", name->name, file->err);
  if ((c->file_bad = users_file_problems(s, file)) != 0) {
    c->file_rules = s;
    return users_form_refuse(c, path, NULL); /* the stack is reset by the caller */
  }
  ok = part_start(c, name) && add(c, "; filename=\"") &&
       (file->filename ? users_buf_add(c->b, file->filename, file->filename_len) : add(c, "upload")) &&
       add(c, "\"\r\nContent-Type: ") &&
       (file->content_type ? users_buf_add(c->b, file->content_type, file->content_type_len)
                           : add(c, file->sniffed ? file->sniffed : "application/octet-stream")) &&
       add(c, "\r\n\r\n");
  if (ok && file->data) {
    ok = users_buf_add(c->b, file->data, file->data_len);
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
  users_form_init(&c, L, p); /* 3 */
  lua_newtable(L);
  c.segs = 4;
  make_boundary(c.boundary);
  c.b = users_buf_borrow(L); /* 5 */
  ok = users_form_fields(&c, emit_part) && add(&c, "--") && add(&c, c.boundary) && add(&c, "--\r\n");
  if (ok) flush(&c);
  users_buf_return(c.b);
  if (!ok) return users_form_report(&c);
  lua_pushvalue(L, c.segs);
  lua_pushnumber(L, (lua_Number)c.length);
  lua_pushfstring(L, "multipart/form-data; boundary=%s", c.boundary);
  return 3;
}

void users_encode_multipart_open(lua_State *L) {
  static const luaL_Reg functions[] = {{"encode_multipart", encode_multipart}, {NULL, NULL}};
  users_buf_setfuncs(L, functions);
}
