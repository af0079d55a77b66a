/* The form encoders after validation: core.validate, then
 * core.encode_form and core.encode_multipart on the same fields, for a
 * provider with every field type and for lancepilot (multipart, an
 * avatar). A valid update's form decodes to its values; its multipart body
 * has exactly the parts and headers it should (nothing injected), each
 * file within its field's rules (fz.check_form, fz.check_multipart). An
 * invalid one is encoded too: no crash, whatever the answer. */
#include "fuzz.h"

int fuzz_one(lua_State *L) {
  static const char *const providers[] = {"every", "lancepilot"};
  static const char *const encoders[] = {"encode_form", "encode_multipart"};
  static const char *const checks[] = {"check_form", "check_multipart"};
  fuzz_in_t *in = (fuzz_in_t *)lua_touserdata(L, 1);
  const char *name = providers[fuzz_byte(in) % 2];
  int p, fields, valid, i;
  fuzz_push_case(L, in, name, &p, &fields);
  fuzz_core(L, "validate");
  lua_pushvalue(L, p);
  lua_pushvalue(L, fields);
  if ((valid = fuzz_call(L, 2)) < 0) fuzz_fail("validate raised: %s", lua_tostring(L, -1));
  valid = valid == 0;
  for (i = 0; i < 2; i++) {
    if (valid) {
      fuzz_support(L, checks[i]);
      lua_pushstring(L, name);
      lua_pushvalue(L, fields);
    }
    fuzz_core(L, encoders[i]);
    lua_pushvalue(L, p);
    lua_pushvalue(L, fields);
    fuzz_pack(L, 2);
    if (valid) lua_call(L, 3, 0);
  }
  return 0;
}
