/* The harnesses' shared part (see fuzz.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz.h"

int luaopen_users_core(lua_State *L); /* the core's objects are linked in */

lua_State *fuzz_L;

void fuzz_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "\n*** fuzz oracle failed: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  abort();
}

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
  return 1;
}

static void fuzz_init(void) {
  lua_State *L = luaL_newstate();
  if (!L) fuzz_fail("cannot make a Lua state");
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_pushliteral(L, "lua/?.lua;fuzz/?.lua");
  lua_setfield(L, -2, "path");
  lua_getfield(L, -1, "loaded");
  luaL_requiref(L, "users.core", luaopen_users_core, 0);
  lua_setglobal(L, "core");
  lua_pop(L, 2);
  lua_pushcfunction(L, traceback);
  if (luaL_loadfile(L, "fuzz/support.lua") != LUA_OK || lua_pcall(L, 0, 1, -2) != LUA_OK)
    fuzz_fail("fuzz/support.lua: %s (run from the repository root)", lua_tostring(L, -1));
  lua_setglobal(L, "fz");
  lua_settop(L, 0);
  fuzz_L = L;
}

unsigned fuzz_byte(fuzz_in_t *in) {
  if (!in->n) return 0;
  in->n--;
  return *in->p++;
}

size_t fuzz_bytes(fuzz_in_t *in, size_t max, const char **out) {
  size_t n = fuzz_byte(in) % (max + 1);
  if (n > in->n) n = in->n;
  *out = (const char *)in->p;
  in->p += n;
  in->n -= n;
  return n;
}

void fuzz_push_case(lua_State *L, fuzz_in_t *in, const char *name, int *p, int *fields) {
  fuzz_support(L, "compiled");
  lua_getfield(L, -1, name);
  *p = lua_gettop(L);
  fuzz_support(L, "names");
  lua_getfield(L, -1, name);
  fuzz_push_fields(L, in, lua_gettop(L));
  *fields = lua_gettop(L);
}

void fuzz_support(lua_State *L, const char *name) {
  lua_getglobal(L, "fz");
  lua_getfield(L, -1, name);
  lua_remove(L, -2);
}

void fuzz_core(lua_State *L, const char *name) {
  lua_getglobal(L, "core");
  lua_getfield(L, -1, name);
  lua_remove(L, -2);
}

int fuzz_call(lua_State *L, int nargs) {
  int base = lua_gettop(L) - nargs - 1;
  if (lua_pcall(L, nargs, LUA_MULTRET, 0) != LUA_OK) return -1;
  return lua_gettop(L) - base;
}

void fuzz_pack(lua_State *L, int nargs) {
  int base = lua_gettop(L) - nargs, n = fuzz_call(L, nargs), i;
  int ok = n >= 0;
  if (!ok) n = 1;
  lua_createtable(L, n, 2);
  lua_insert(L, base);
  for (i = n; i >= 1; i--) lua_rawseti(L, base, i);
  lua_pushboolean(L, ok);
  lua_setfield(L, base, "ok");
  lua_pushinteger(L, ok ? n : 1);
  lua_setfield(L, base, "n");
}

static int run_one(lua_State *L) {
  return fuzz_one(L);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fuzz_init();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_State *L = fuzz_L;
  fuzz_in_t in;
  in.p = data;
  in.n = size;
  lua_settop(L, 0);
  lua_pushcfunction(L, traceback);
  lua_pushcfunction(L, run_one);
  lua_pushlightuserdata(L, &in);
  if (lua_pcall(L, 1, 0, 1) != LUA_OK) fuzz_fail("%s", lua_tostring(L, -1));
  lua_settop(L, 0);
  /* What the input made is freed before it ends: libFuzzer counts mallocs
   * against frees per input and looks for a leak (slowly) when they differ,
   * and a finalizer the input left pending runs now, under its name. */
  lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}

/* --- the value generator -------------------------------------------------- */

/* What the contracts care about: formats, enum values, the integer text
 * edges, UTF-8 (and not), header and path breakers. */
#define S(text) {text, sizeof text - 1}
static const struct {
  const char *s;
  size_t n;
} dictionary[] = {
    S(""), S("a"), S("admin"), S("viewer"), S("system_admin"), S("*"), S("é"), S("Zoë"),
    S("jane@example.com"), S("a@b"), S("a..b@example.com"), S("x@example.com."),
    S("11111111-1111-4111-8111-111111111111"), S("5F0C2C1E-8F5D-4C8E-9D6A-0A1B2C3D4E5F"),
    S("5f0c2c1e-8f5d-4c8e-9d6a-0a1b2c3d4e5"), S("12345"), S("-0"), S("007"),
    S("-9223372036854775808"), S("9223372036854775807"), S("9223372036854775808"), S("1e3"),
    S("1.5"), S("\xff"), S("\xc0\x80"), S("\xed\xa0\x80"), S("\xf4\x90\x80\x80"),
    S("a\r\nX-Injected: 1"), S("\"quoted\""), S("a\0b"), S("Europe/Paris"), S("UTC"), S(".."),
    S("."), S("/"), S("%2F"), S("ab"), S("abcd1"), S("secret1"), S("image/png"),
    S("image/png\r\nX: 1"), S("image/png\0"), S("text/plain"), S("a.png"),
    S("\x89PNG\r\n\x1a\n"), S("GIF89a"), S("\xff\xd8\xff"), S("RIFF0000WEBP"), S("BM"),
    S("true"), S("null"), S("[]"), S("{}"),
};
#undef S
#define N_DICTIONARY (sizeof dictionary / sizeof *dictionary)

static void push_string(lua_State *L, fuzz_in_t *in) {
  unsigned k = fuzz_byte(in);
  if (k < 96) {
    const char *s;
    size_t n = fuzz_bytes(in, 48, &s);
    lua_pushlstring(L, s, n);
  } else if (k < 250) {
    lua_pushlstring(L, dictionary[k % N_DICTIONARY].s, dictionary[k % N_DICTIONARY].n);
  } else { /* long: beyond the limits, and a scratch buffer's growth */
    lua_getglobal(L, "string");
    lua_getfield(L, -1, "rep");
    lua_remove(L, -2);
    lua_pushliteral(L, "x");
    lua_pushinteger(L, 250 + (lua_Integer)fuzz_byte(in) * 4);
    lua_call(L, 2, 1);
  }
}

static void push_number(lua_State *L, fuzz_in_t *in) {
  static const double edges[] = {0.5, -0.0, 9007199254740992.0, 9007199254740993.0,
                                 9223372036854775808.0, -9223372036854775808.0, 1e300,
                                 1.0 / 0.0, -1.0 / 0.0, 1.0, 255.0, -1.5};
  unsigned k = fuzz_byte(in) % 5;
  uint64_t u = 0;
  size_t i;
  double d;
  switch (k) {
  case 0: lua_pushinteger(L, (lua_Integer)(int8_t)fuzz_byte(in)); return;
  case 1:
    for (i = 0; i < 8; i++) u = u << 8 | fuzz_byte(in);
    lua_pushinteger(L, (lua_Integer)u);
    return;
  case 2:
    for (i = 0; i < 8; i++) u = u << 8 | fuzz_byte(in);
    memcpy(&d, &u, sizeof d);
    lua_pushnumber(L, (lua_Number)d); /* NaN, infinities, subnormals */
    return;
  case 3: lua_pushnumber(L, (lua_Number)(0.0 / 0.0)); return;
  default: lua_pushnumber(L, (lua_Number)edges[fuzz_byte(in) % (sizeof edges / sizeof *edges)]);
  }
}

/* A users.blob / users.file shape: its fields raw, or some only behind an
 * __index (fz.shifty) that answers the first read harmlessly and later
 * ones with what the fuzzer chose. */
static void push_file(lua_State *L, fuzz_in_t *in) {
  static const char *const keys[] = {"data", "path", "filename", "content_type"};
  unsigned shape = fuzz_byte(in), i;
  int raw, answers = 0;
  lua_newtable(L);
  raw = lua_gettop(L);
  if (shape & 0x80) {
    lua_newtable(L);
    answers = lua_gettop(L);
  }
  for (i = 0; i < 4; i++) {
    unsigned how = fuzz_byte(in) % 4; /* absent, raw, behind __index, both */
    if (!how) continue;
    if (i == 0) {
      const char *s;
      size_t n = fuzz_bytes(in, 64, &s);
      if (fuzz_byte(in) & 1) {
        lua_pushliteral(L, "\x89PNG\r\n\x1a\n");
        lua_pushlstring(L, s, n);
        lua_concat(L, 2);
      } else {
        lua_pushlstring(L, s, n);
      }
    } else if (i == 1) {
      fuzz_support(L, "file");
      lua_pushinteger(L, (lua_Integer)fuzz_byte(in));
      lua_call(L, 1, 1);
    } else {
      push_string(L, in);
    }
    if ((how & 1) || !answers) {
      lua_pushvalue(L, -1);
      lua_setfield(L, raw, keys[i]);
    }
    if ((how & 2) && answers) {
      lua_createtable(L, 2, 0);
      lua_insert(L, -2);
      lua_rawseti(L, -2, 2); /* later reads */
      push_string(L, in);    /* the first read */
      lua_rawseti(L, -2, 1);
      lua_setfield(L, answers, keys[i]);
    } else {
      lua_pop(L, 1);
    }
  }
  if (answers) {
    fuzz_support(L, "shifty");
    lua_pushvalue(L, raw);
    lua_pushvalue(L, answers);
    lua_call(L, 2, 0);
    lua_pop(L, 1);
  }
}

void fuzz_push_value(lua_State *L, fuzz_in_t *in, int names, int depth) {
  unsigned k = fuzz_byte(in) % 16, i, n;
  luaL_checkstack(L, 8, "fuzz value");
  if (depth > 3 && k >= 11) k = k % 11;
  switch (k) {
  case 0: lua_pushboolean(L, 0); return;
  case 1: lua_pushboolean(L, 1); return;
  case 2: case 3: push_number(L, in); return;
  case 4: case 5: case 6: case 7: push_string(L, in); return;
  case 8: lua_pushlightuserdata(L, NULL); return; /* users.null */
  case 9: case 10: /* an array */
    n = fuzz_byte(in) % 6;
    lua_createtable(L, (int)n, 0);
    for (i = 1; i <= n; i++) {
      fuzz_push_value(L, in, names, depth + 1);
      lua_rawseti(L, -2, (int)i);
    }
    if (n == 0 && fuzz_byte(in) & 1) {
      lua_getfield(L, LUA_REGISTRYINDEX, "users.array");
      lua_setmetatable(L, -2);
    }
    return;
  case 11: /* an object: keys from the names, the input, or numbers */
    n = fuzz_byte(in) % 5;
    lua_newtable(L);
    for (i = 0; i < n; i++) {
      unsigned how = fuzz_byte(in) % 4;
      if (how == 0 && names) lua_rawgeti(L, names, (int)(fuzz_byte(in) % 16) + 1);
      else if (how == 1) push_number(L, in);
      else push_string(L, in);
      if (lua_isnil(L, -1) || (lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) != lua_tonumber(L, -1))) {
        lua_pop(L, 1); /* no such name, or NaN: not a key */
        continue;
      }
      fuzz_push_value(L, in, names, depth + 1);
      lua_rawset(L, -3);
    }
    return;
  case 12: /* an array with a hole, or keys that are no array's */
    lua_newtable(L);
    for (i = 0; i < 3; i++) {
      lua_pushinteger(L, (lua_Integer)(fuzz_byte(in) % 6) - 1);
      fuzz_push_value(L, in, names, depth + 1);
      lua_rawset(L, -3);
    }
    return;
  default:
    if (depth == 0) push_file(L, in);
    else push_string(L, in);
  }
}

void fuzz_push_fields(lua_State *L, fuzz_in_t *in, int names) {
  unsigned n = fuzz_byte(in) % 9, i;
  size_t count = names ? lua_rawlen(L, names) : 0;
  lua_newtable(L);
  for (i = 0; i < n; i++) {
    unsigned how = fuzz_byte(in);
    if (count && how < 230) lua_rawgeti(L, names, (int)(how % count) + 1);
    else if (how < 250) push_string(L, in);
    else push_number(L, in);
    if (lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) != lua_tonumber(L, -1)) {
      lua_pop(L, 1); /* NaN is no key */
      continue;
    }
    fuzz_push_value(L, in, names, 0);
    lua_rawset(L, -3);
  }
}
