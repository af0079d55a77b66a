/* users.file / users.blob values: what they hold, and what is wrong with
 * them under a file field's rules. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "file_info.h"
#include "formats.h"

static int not_a_file(users_file_t *out) {
  snprintf(out->err, sizeof out->err, "must be a file (users.file or users.blob)");
  return 0;
}

/* The string at i and its length, or NULL when it is not a string. */
static const char *opt_text(lua_State *L, int i, size_t *n) {
  *n = 0;
  return lua_type(L, i) == LUA_TSTRING ? lua_tolstring(L, i, n) : NULL;
}

int users_file_info(lua_State *L, int idx, users_file_t *out) {
  static const char *const keys[USERS_FILE_SLOTS] = {"data", "path", "content_type", "filename"};
  unsigned char head[16];
  size_t got = 0, i, path_len;
  int base, table = lua_istable(L, idx);
  if (idx < 0 && idx > LUA_REGISTRYINDEX) idx = lua_gettop(L) + idx + 1;
  memset(out, 0, sizeof *out);
  base = lua_gettop(L) + 1;
  for (i = 0; i < USERS_FILE_SLOTS; i++) {
    if (table) {
      lua_pushstring(L, keys[i]);
      lua_rawget(L, idx);
    } else {
      lua_pushnil(L);
    }
  }
  if (!table) return not_a_file(out);
  out->data = opt_text(L, base, &out->data_len);
  out->path = opt_text(L, base + 1, &path_len);
  out->content_type = opt_text(L, base + 2, &out->content_type_len);
  out->filename = opt_text(L, base + 3, &out->filename_len);
  if (out->data) {
    out->path = NULL;
    out->size = (long long)out->data_len;
    got = out->data_len < sizeof head ? out->data_len : sizeof head;
    memcpy(head, out->data, got);
  } else if (out->path) {
    FILE *f;
    struct stat st;
    errno = 0;
    if (stat(out->path, &st) != 0 || !S_ISREG(st.st_mode) || !(f = fopen(out->path, "rb"))) {
      int e = errno;
      char why[96] = "not a regular file";
      if (e && strerror_r(e, why, sizeof why) != 0) snprintf(why, sizeof why, "error %d", e);
      snprintf(out->err, sizeof out->err, "cannot read the file: %s", why);
      return 0;
    }
    got = fread(head, 1, sizeof head, f);
    fclose(f);
    out->size = (long long)st.st_size;
  } else {
    return not_a_file(out);
  }
  out->sniffed = users_sniff_image(head, got);
  return 1;
}

/* A header's text: no CR, LF, '"' or NUL (the part's headers are written
 * from it). */
static int header_safe(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (s[i] == '\r' || s[i] == '\n' || s[i] == '"' || s[i] == '\0') return 0;
  return 1;
}

unsigned users_file_problems(const users_schema_t *s, const users_file_t *f) {
  unsigned bad = 0;
  if (s->max_bytes >= 0 && f->size > s->max_bytes) bad |= USERS_FP_SIZE;
  if (s->content_type && strncmp(s->content_type, "image/", 6) == 0) {
    if (!f->sniffed) bad |= USERS_FP_IMAGE;
    else if (f->content_type && strncmp(f->content_type, "image/", 6) != 0) bad |= USERS_FP_IMAGE_TYPE;
  }
  if (f->content_type && !header_safe(f->content_type, f->content_type_len)) bad |= USERS_FP_TYPE_CHARS;
  if (f->filename && (f->filename_len == 0 || !header_safe(f->filename, f->filename_len) ||
                      users_utf8_length(f->filename, f->filename_len) < 0))
    bad |= USERS_FP_NAME;
  return bad;
}

const char *users_file_message(const users_schema_t *s, unsigned bit, char *buf, size_t n) {
  switch (bit) {
  case USERS_FP_SIZE:
    snprintf(buf, n, "must be at most %ld bytes", s->max_bytes);
    return buf;
  case USERS_FP_IMAGE: return "must be an image (PNG, JPEG, GIF, WebP or BMP)";
  case USERS_FP_IMAGE_TYPE: return "must have an image/* content type";
  case USERS_FP_TYPE_CHARS: return "has a content type with forbidden characters";
  default: return "has a file name that is empty or has forbidden characters";
  }
}

/* core.file_info(file) -> size, sniffed content type | nil, message */
static int file_info(lua_State *L) {
  users_file_t file;
  if (!users_file_info(L, 1, &file)) {
    lua_pushnil(L);
    lua_pushstring(L, file.err);
    return 2;
  } /* the values it pushed stay below the results */
  lua_pushnumber(L, (lua_Number)file.size);
  if (file.sniffed) lua_pushstring(L, file.sniffed); else lua_pushnil(L);
  return 2;
}

void users_file_info_open(lua_State *L) {
  static const luaL_Reg functions[] = {{"file_info", file_info}, {NULL, NULL}};
  users_setfuncs(L, functions);
}
