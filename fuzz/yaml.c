/* core.yaml_decode on any bytes (fz.yaml_check): never raises; gives a
 * value, or nil and a message; the same value with and without `ordered`,
 * whose key lists hold each mapping's keys exactly once; sequences carry
 * array_mt; and what json_encode makes of the value reads back through
 * yaml_decode as the same value (JSON is YAML). */
#include "fuzz.h"

int fuzz_one(lua_State *L) {
  fuzz_in_t *in = (fuzz_in_t *)lua_touserdata(L, 1);
  fuzz_support(L, "yaml_check");
  lua_pushlstring(L, (const char *)in->p, in->n);
  lua_call(L, 1, 0);
  return 0;
}
