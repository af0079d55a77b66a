/* URL building: core.check_param on a path parameter's value, then
 * core.escape of the text it gives (as lua/users/client.lua builds a path),
 * and core.escape of the input's raw bytes. What escape writes is only
 * RFC 3986 unreserved bytes and %XX (upper-case hex, for the bytes that
 * are not unreserved, exactly), and decoding it gives the text back. */
#include <string.h>
#include "fuzz.h"

static int unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_' || c == '~';
}

static int hex(unsigned char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* escape(s) in the state: checked against s. */
static void check_escape(lua_State *L, const char *s, size_t n) {
  size_t i = 0, j, m;
  const char *e;
  fuzz_core(L, "escape");
  lua_pushlstring(L, s, n);
  if (fuzz_call(L, 1) != 1 || !(e = lua_tolstring(L, -1, &m))) fuzz_fail("escape gave no text");
  for (j = 0; j < m; j++, i++) {
    unsigned char c = (unsigned char)e[j];
    if (i >= n) fuzz_fail("escape wrote more than its input");
    if (unreserved(c)) {
      if (c != (unsigned char)s[i]) fuzz_fail("escape changed byte %zu", i);
      continue;
    }
    if (c != '%' || j + 2 >= m || hex((unsigned char)e[j + 1]) < 0 || hex((unsigned char)e[j + 2]) < 0)
      fuzz_fail("escape wrote byte 0x%02x that is neither unreserved nor %%XX", c);
    c = (unsigned char)(hex((unsigned char)e[j + 1]) * 16 + hex((unsigned char)e[j + 2]));
    if (c != (unsigned char)s[i] || unreserved(c)) fuzz_fail("escape's %%XX at %zu is not byte %zu", j, i);
    j += 2;
  }
  if (i != n) fuzz_fail("escape dropped bytes: %zu of %zu", i, n);
  lua_pop(L, 1);
}

int fuzz_one(lua_State *L) {
  static const char *const providers[] = {"every", "lancepilot", "lexful"};
  fuzz_in_t *in = (fuzz_in_t *)lua_touserdata(L, 1);
  const char *name = providers[fuzz_byte(in) % 3], *text;
  size_t count, n;
  int r;
  fuzz_support(L, "params");
  lua_getfield(L, -1, name);
  count = lua_rawlen(L, -1);
  fuzz_core(L, "check_param");
  fuzz_support(L, "compiled");
  lua_getfield(L, -1, name);
  lua_remove(L, -2);
  lua_rawgeti(L, -3, (int)(fuzz_byte(in) % count) + 1);
  fuzz_push_value(L, in, 0, 1);
  r = fuzz_call(L, 3);
  if (r < 0) fuzz_fail("check_param raised: %s", lua_tostring(L, -1));
  if (r == 2) {
    if (!lua_isnil(L, -2) || lua_type(L, -1) != LUA_TSTRING) fuzz_fail("check_param failed in no documented shape");
  } else if (r == 1) {
    if (lua_type(L, -1) != LUA_TSTRING) fuzz_fail("check_param's text is a %s", luaL_typename(L, -1));
    text = lua_tolstring(L, -1, &n);
    if (n == 0 || (n == 1 && text[0] == '.') || (n == 2 && memcmp(text, "..", 2) == 0))
      fuzz_fail("check_param let through a path segment that is empty, . or ..");
    check_escape(L, text, n);
  } else {
    fuzz_fail("check_param gave %d values", r);
  }
  check_escape(L, (const char *)in->p, in->n);
  return 0;
}
