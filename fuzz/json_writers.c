/* The schema JSON writers, each other's oracle: core.marshal_json (the one
 * pass) against core.validate then core.encode_json (the reference), on
 * fields tables the input builds, for a provider with every field type and
 * for lexful. Same bytes, same problems, or the same error
 * (fz.same_writers). */
#include "fuzz.h"

int fuzz_one(lua_State *L) {
  static const char *const providers[] = {"every", "lexful"};
  fuzz_in_t *in = (fuzz_in_t *)lua_touserdata(L, 1);
  const char *name = providers[fuzz_byte(in) % 2];
  int p, fields;
  fuzz_push_case(L, in, name, &p, &fields);
  fuzz_support(L, "same_writers");
  lua_pushstring(L, name);
  fuzz_core(L, "marshal_json");
  lua_pushvalue(L, p);
  lua_pushvalue(L, fields);
  fuzz_pack(L, 2);
  fuzz_core(L, "validate");
  lua_pushvalue(L, p);
  lua_pushvalue(L, fields);
  fuzz_pack(L, 2);
  fuzz_core(L, "encode_json");
  lua_pushvalue(L, p);
  lua_pushvalue(L, fields);
  fuzz_pack(L, 2);
  lua_call(L, 4, 0);
  return 0;
}
