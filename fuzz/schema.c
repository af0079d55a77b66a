/* The whole schema vocabulary: a declaration the input chooses (nested
 * objects, arrays, alternatives, enums, bounds, patterns, formats, form
 * styles) compiled, then an update the input chooses validated and encoded
 * every way (fuzz/schema_fuzz.lua has the generator and the oracles). */
#include "fuzz.h"

int fuzz_one(lua_State *L) {
  fuzz_in_t *in = (fuzz_in_t *)lua_touserdata(L, 1);
  fuzz_support(L, "schema_case");
  lua_pushlstring(L, (const char *)in->p, in->n);
  lua_call(L, 1, 0);
  return 0;
}
