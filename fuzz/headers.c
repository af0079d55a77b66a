/* Response header parsing: users_headers_push (src/headers.c) on any bytes,
 * read in place (libFuzzer's copy of the input is exactly its size, so a
 * read past the end is one ASan sees), against fz.headers_reference, the
 * same rules written again in Lua. */
#include "fuzz.h"
#include "headers.h"

int fuzz_one(lua_State *L) {
  fuzz_in_t *in = (fuzz_in_t *)lua_touserdata(L, 1);
  fuzz_support(L, "same");
  users_headers_push(L, (const char *)in->p, in->n);
  fuzz_support(L, "headers_reference");
  lua_pushlstring(L, (const char *)in->p, in->n);
  lua_call(L, 1, 1);
  lua_call(L, 2, 1);
  if (!lua_toboolean(L, -1)) {
    fuzz_core(L, "json_encode");
    users_headers_push(L, (const char *)in->p, in->n);
    lua_pcall(L, 1, 1, 0);
    fuzz_fail("the header table differs from the reference's: %s", lua_tostring(L, -1));
  }
  return 0;
}
