/* core.json_decode on any bytes: never raises; what it gives back is what
 * lua-cjson reads there too, when it reads the text at all
 * (fz.json_differential), what its ordered mode reads too, with each
 * object's keys listed once (fz.json_ordered), and survives json_encode and
 * json_decode unchanged (fz.json_roundtrip). */
#include "fuzz.h"

int fuzz_one(lua_State *L) {
  fuzz_in_t *in = (fuzz_in_t *)lua_touserdata(L, 1);
  int n;
  fuzz_core(L, "json_decode");
  lua_pushlstring(L, (const char *)in->p, in->n);
  n = fuzz_call(L, 1);
  if (n < 0) fuzz_fail("json_decode raised: %s", lua_tostring(L, -1));
  if (n == 2) {
    if (!lua_isnil(L, -2) || !lua_isstring(L, -1)) fuzz_fail("json_decode failed in no documented shape");
    return 0;
  }
  if (n != 1) fuzz_fail("json_decode gave %d values", n);
  fuzz_support(L, "json_differential");
  lua_pushlstring(L, (const char *)in->p, in->n);
  lua_pushvalue(L, -3);
  lua_call(L, 2, 0);
  fuzz_support(L, "json_ordered");
  lua_pushlstring(L, (const char *)in->p, in->n);
  lua_pushvalue(L, -3);
  lua_call(L, 2, 0);
  fuzz_support(L, "json_roundtrip");
  lua_insert(L, -2);
  lua_call(L, 1, 0);
  return 0;
}
