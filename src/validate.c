/* Validation of an update's fields against a compiled provider. Every
 * offending field is reported, each with all of its messages:
 * { field = { "message", ... } }. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "formats.h"
#include "validate.h"

/* Appends msg to errs[name]; errs sits at index E, nil until the first
 * error (no table is made for a valid update). E == 0: probing, record nothing. */
static void add_error(lua_State *L, int E, const char *name, const char *msg) {
  if (!E) return;
  if (lua_isnil(L, E)) {
    lua_newtable(L);
    lua_replace(L, E);
  }
  lua_getfield(L, E, name);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, E, name);
  }
  lua_pushstring(L, msg);
  lua_rawseti(L, -2, (int)users_rawlen(L, -2) + 1);
  lua_pop(L, 1);
}

/* Messages about an array's item say which: "item 2 must be ...". The
 * prefix is only formatted when there is an error to report. */
static void add_prefixed(lua_State *L, int E, const char *name, long item,
                         const char *a, const char *b) {
  char msg[256];
  if (!E) return;
  if (item) snprintf(msg, sizeof msg, "item %ld %s%s", item, a, b);
  else snprintf(msg, sizeof msg, "%s%s", a, b);
  add_error(L, E, name, msg);
}

/* fmt takes at most one %ld */
static void add_errorf(lua_State *L, int E, const char *name, long item,
                       const char *fmt, long a) {
  char body[200];
  if (!E) return;
  snprintf(body, sizeof body, fmt, a);
  add_prefixed(L, E, name, item, body, "");
}

static int not_a_file(users_file_t *out) {
  snprintf(out->err, sizeof out->err, "must be a file (users.file or users.blob)");
  return 0;
}

static int cmp_key(const void *key, const void *elem) {
  return strcmp((const char *)key, *(char *const *)elem);
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
  if (s->max >= 0 && f->size > s->max) bad |= USERS_FP_SIZE;
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
    snprintf(buf, n, "must be at most %ld bytes", s->max);
    return buf;
  case USERS_FP_IMAGE: return "must be an image (PNG, JPEG, GIF, WebP or BMP)";
  case USERS_FP_IMAGE_TYPE: return "must have an image/* content type";
  case USERS_FP_TYPE_CHARS: return "has a content type with forbidden characters";
  default: return "has a file name that is empty or has forbidden characters";
  }
}

static int check_file(lua_State *L, const users_schema_t *s, int v, int E,
                      const char *name) {
  users_file_t file;
  unsigned bad, bit;
  if (!users_file_info(L, v, &file)) {
    lua_pop(L, USERS_FILE_SLOTS);
    add_error(L, E, name, file.err);
    return 0;
  }
  bad = users_file_problems(s, &file);
  for (bit = 1; bit <= USERS_FP_ALL; bit <<= 1) {
    char msg[64];
    if (bad & bit) add_error(L, E, name, users_file_message(s, bit, msg, sizeof msg));
  }
  lua_pop(L, USERS_FILE_SLOTS);
  return !bad;
}

/* A short list is searched by the values' interned pointers first: a match
 * needs no compare. A miss (or a long list) takes the binary search. */
static int enum_has(const users_schema_t *s, const char *str, size_t n) {
  size_t i;
  if (s->n_enums <= 16)
    for (i = 0; i < s->n_enums; i++)
      if (str == s->enum_strings[i]) return 1;
  return strlen(str) == n && bsearch(str, s->enums, s->n_enums, sizeof(char *), cmp_key);
}

unsigned users_string_problems(const users_schema_t *s, const char *str, size_t n, long chars) {
  unsigned bad = 0;
  int r;
  if (chars < 0) return USERS_P_UTF8;
  if (s->min >= 0 && chars < s->min) bad |= USERS_P_MIN;
  if (s->max >= 0 && chars > s->max) bad |= USERS_P_MAX;
  if (s->format == USERS_F_EMAIL && !users_is_email(str, n)) bad |= USERS_P_FORMAT;
  if (s->format == USERS_F_UUID && !users_is_uuid(str, n)) bad |= USERS_P_FORMAT;
  if (s->pattern && (r = users_pattern_match(s->pattern, str, n)) != 1)
    bad |= r < 0 ? USERS_P_PATTERN_UNKNOWN : USERS_P_PATTERN;
  if (s->n_enums && !enum_has(s, str, n)) bad |= USERS_P_ENUM;
  if (!bad && s->n_any_of) {
    size_t i;
    bad = USERS_P_ANY_OF;
    for (i = 0; i < s->n_any_of && bad; i++) { /* as check_value takes a string */
      const users_schema_t *a = &s->any_of[i];
      if (a->type == USERS_T_STRING || a->type == USERS_T_ANY) {
        if (!users_string_problems(a, str, n, chars)) bad = 0;
      } else if (a->type == USERS_T_INTEGER && users_is_integer_text(str, n)) {
        bad = 0;
      }
    }
  }
  return bad;
}

static void report_any_of(lua_State *L, const users_schema_t *s, int E,
                          const char *name, long item);

static int check_string(lua_State *L, const users_schema_t *s, int v, int E,
                        const char *name, long item) {
  size_t n;
  const char *str = lua_tolstring(L, v, &n);
  unsigned bad = users_string_problems(s, str, n, users_utf8_length(str, n));
  if (!bad) return 1;
  if (bad & USERS_P_UTF8) add_errorf(L, E, name, item, "must be valid UTF-8 text", 0);
  if (bad & USERS_P_MIN) add_errorf(L, E, name, item, "must be at least %ld characters", s->min);
  if (bad & USERS_P_MAX) add_errorf(L, E, name, item, "must be at most %ld characters", s->max);
  if ((bad & USERS_P_FORMAT) && s->format == USERS_F_EMAIL)
    add_errorf(L, E, name, item, "must be a valid email address", 0);
  if ((bad & USERS_P_FORMAT) && s->format == USERS_F_UUID)
    add_errorf(L, E, name, item, "must be a valid UUID", 0);
  if (bad & USERS_P_PATTERN_UNKNOWN)
    add_prefixed(L, E, name, item, "has a pattern the client cannot check", "");
  if (bad & USERS_P_PATTERN) add_prefixed(L, E, name, item, "must match the pattern ", s->pattern);
  if (bad & USERS_P_ENUM) {
    char list[300];
    size_t i, used = 0;
    if (s->n_enums <= 10) {
      list[0] = '\0';
      for (i = 0; i < s->n_enums && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                 i ? ", " : "", s->enums[i]);
      add_prefixed(L, E, name, item, "must be one of: ", list);
    } else {
      add_errorf(L, E, name, item, "is not one of the %ld allowed values", (long)s->n_enums);
    }
  }
  if (bad & USERS_P_ANY_OF) report_any_of(L, s, E, name, item);
  return 0;
}

static int check_value(lua_State *L, const users_schema_t *s, int v, int E,
                       const char *name, long item);

static int check_array(lua_State *L, const users_schema_t *s, int v, int E,
                       const char *name, long item) {
  size_t n = 0, count = 0, i;
  int ok = 1;
  luaL_checkstack(L, 6, "nested too deeply"); /* nothing is lent here: raising is safe */
  /* Keys must be 1..n without a gap; the length operator cannot tell (its
   * answer for a table with holes differs between Lua versions). */
  lua_pushnil(L);
  while (lua_next(L, v)) {
    long long k;
    lua_pop(L, 1);
    if (!users_tointeger(L, -1, &k) || k < 1) {
      lua_pop(L, 1);
      add_errorf(L, E, name, item, "must be an array (keys 1..n), not an object", 0);
      return 0;
    }
    if ((size_t)k > n) n = (size_t)k;
    count++;
  }
  if (count != n) {
    add_errorf(L, E, name, item, "must be an array without holes", 0);
    return 0;
  }
  if (s->min >= 0 && (long)n < s->min) {
    add_errorf(L, E, name, item, "must have at least %ld items", s->min);
    ok = 0;
  }
  if (s->max >= 0 && (long)n > s->max) {
    add_errorf(L, E, name, item, "must have at most %ld items", s->max);
    ok = 0;
  }
  (void)item; /* arrays of arrays are not in any contract: items are numbered once */
  for (i = 1; i <= n; i++) {
    lua_rawgeti(L, v, (int)i);
    if (!check_value(L, s->items, lua_gettop(L), E, name, (long)i)) ok = 0;
    lua_pop(L, 1);
  }
  return ok;
}

static void report_any_of(lua_State *L, const users_schema_t *s, int E,
                          const char *name, long item) {
  size_t i, used = 0;
  char msg[300];
  msg[0] = '\0';
  for (i = 0; i < s->n_any_of && used < sizeof msg; i++) {
    const users_schema_t *a = &s->any_of[i];
    const char *sep = i ? " or " : "";
    size_t room = sizeof msg - used;
    if (a->format == USERS_F_UUID) used += (size_t)snprintf(msg + used, room, "%sa UUID", sep);
    else if (a->format == USERS_F_EMAIL)
      used += (size_t)snprintf(msg + used, room, "%san email address", sep);
    else if (a->n_enums) used += (size_t)snprintf(msg + used, room, "%s\"%s\"", sep, a->enums[0]);
    else used += (size_t)snprintf(msg + used, room, "%sanother value", sep);
  }
  add_prefixed(L, E, name, item, "must be ", msg);
}

/* A value that is not a string, against alternatives. */
static int check_any_of(lua_State *L, const users_schema_t *s, int v, int E,
                        const char *name, long item) {
  size_t i;
  for (i = 0; i < s->n_any_of; i++)
    if (check_value(L, &s->any_of[i], v, 0, name, item)) return 1;
  report_any_of(L, s, E, name, item);
  return 0;
}

static int check_value(lua_State *L, const users_schema_t *s, int v, int E,
                       const char *name, long item) {
  long long i;
  int t = lua_type(L, v);
  if (users_isnull(L, v)) {
    if (s->nullable) return 1;
    add_errorf(L, E, name, item, "cannot be null", 0);
    return 0;
  }
  switch (s->type) {
  case USERS_T_STRING:
    if (t != LUA_TSTRING) break;
    return check_string(L, s, v, E, name, item);
  case USERS_T_INTEGER:
    if (users_tointeger(L, v, &i)) return 1;
    if (t == LUA_TSTRING) {
      size_t n;
      const char *str = lua_tolstring(L, v, &n);
      if (users_is_integer_text(str, n)) return 1;
    }
    add_errorf(L, E, name, item, "must be an integer", 0);
    return 0;
  case USERS_T_BOOLEAN:
    if (t == LUA_TBOOLEAN) return 1;
    break;
  case USERS_T_ARRAY:
    if (t == LUA_TTABLE) return check_array(L, s, v, E, name, item);
    break;
  case USERS_T_FILE:
    return check_file(L, s, v, E, name);
  default: /* no type: the string rules still apply to a string */
    if (t == LUA_TSTRING) return check_string(L, s, v, E, name, item);
    return s->n_any_of ? check_any_of(L, s, v, E, name, item) : 1;
  }
  {
    static const char *const what[] = {"a value", "a string", "an integer",
                                       "a boolean", "an array", "a file"};
    add_prefixed(L, E, name, item, "must be ", what[s->type]);
  }
  return 0;
}

int users_value_ok(lua_State *L, const users_schema_t *s, int v) {
  return check_value(L, s, v, 0, NULL, 0);
}

/* Validates the fields present (one pass over the table the caller gave,
 * matching keys against the interned field names), then what is missing. */
int users_validate_fields(lua_State *L) {
  users_provider_t *p = users_provider_check(L, 1);
  const int E = 3, NAMES = 4;
  int present = 0;
  size_t i;
  char seen[USERS_MAX_FIELDS];
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 2);
  lua_pushnil(L); /* 3: errors, made on the first one */
  lua_rawgeti(L, LUA_REGISTRYINDEX, p->names_ref); /* 4 */
  memset(seen, 0, sizeof seen);
  lua_pushnil(L);
  while (lua_next(L, 2)) { /* key -2, value -1 */
    const users_field_t *f = NULL;
    present++;
    if (lua_type(L, -2) == LUA_TSTRING) {
      size_t len;
      const char *key = lua_tolstring(L, -2, &len);
      f = users_provider_field_by_key(p, key, len);
      if (f) seen[f - p->fields] = 1;
      if (f) {
        check_value(L, &f->s, lua_gettop(L), E, f->name, 0);
      } else {
        char msg[200];
        snprintf(msg, sizeof msg, "is not a field of %s", p->name);
        add_error(L, E, lua_tostring(L, -2), msg);
      }
    } else {
      add_error(L, E, luaL_typename(L, -2), "is not a field name: names are strings");
    }
    lua_pop(L, 1);
  }
  if (present == 0) {
    lua_pushnil(L);
    lua_pushstring(L, "empty");
    return 2;
  }
  for (i = 0; i < p->n_fields; i++) {
    const users_field_t *f = &p->fields[i];
    if (f->required && !seen[i]) add_error(L, E, f->name, "is required");
    if (f->same_as_index >= 0 && (seen[i] || seen[f->same_as_index])) {
      int equal;
      lua_rawgeti(L, NAMES, (int)i + 1);
      lua_rawget(L, 2);
      lua_rawgeti(L, NAMES, f->same_as_index + 1);
      lua_rawget(L, 2);
      equal = lua_rawequal(L, -1, -2);
      lua_pop(L, 2);
      if (!equal) {
        char msg[200];
        snprintf(msg, sizeof msg, "must match %s", f->s.same_as);
        add_error(L, E, f->name, msg);
      }
    }
  }
  if (lua_isnil(L, E)) return 0; /* valid */
  lua_pushvalue(L, E);
  return 1;
}

/* core.check_param(provider, name, value) -> text | nil, message: a path
 * parameter, validated like a field, returned as the text to encode. */
static int check_param(lua_State *L) {
  users_provider_t *p = users_provider_check(L, 1);
  const char *name = luaL_checkstring(L, 2);
  const users_field_t *f = NULL;
  size_t i;
  long long iv;
  for (i = 0; i < p->n_params; i++)
    if (strcmp(p->params[i].name, name) == 0) f = &p->params[i];
  if (!f) return luaL_argerror(L, 2, "no such path parameter");
  lua_settop(L, 3);
  lua_newtable(L); /* errors, index 4 */
  if (lua_isnil(L, 3)) {
    lua_pushnil(L);
    lua_pushstring(L, "is required");
    return 2;
  }
  if (f->s.type == USERS_T_INTEGER && users_tointeger(L, 3, &iv)) {
    char text[32];
    snprintf(text, sizeof text, "%lld", iv);
    lua_pushstring(L, text);
    return 1;
  }
  if (f->s.type == USERS_T_STRING && lua_type(L, 3) != LUA_TSTRING) {
    lua_pushnil(L);
    lua_pushstring(L, "must be a string");
    return 2;
  }
  if (!check_value(L, &f->s, 3, 4, f->name, 0)) {
    lua_getfield(L, 4, f->name);
    lua_pushnil(L);
    lua_rawgeti(L, -2, 1);
    return 2;
  }
  {
    size_t n;
    const char *s = lua_tolstring(L, 3, &n);
    if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) {
      lua_pushnil(L);
      lua_pushstring(L, "must not be empty, \".\" or \"..\"");
      return 2;
    }
  }
  lua_pushvalue(L, 3);
  return 1;
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

void users_validate_open(lua_State *L) {
  static const luaL_Reg functions[] = {
      {"validate", users_validate_fields}, {"check_param", check_param},
      {"file_info", file_info}, {NULL, NULL}};
  users_setfuncs(L, functions);
}
