/* users.core: the C half of the "users" module. Each file registers its own
 * functions into the module table (its *_open); this file only lists them:
 *   sys.c          now, sleep, list_dir, isatty
 *   provider.c     compile
 *   validate.c     validate, check_param
 *   file_info.c    file_info
 *   encode_json.c  encode_json, json_encode
 *   encode_form.c  encode_form, escape
 *   encode_multipart.c  encode_multipart
 *   marshal.c      marshal_json
 *   decode_json.c  json_decode, array_mt, null
 *   engine.c       engine, curl_version
 *   headers.c      mentions (secrets in a header map)
 *   yaml.c         yaml_decode (OpenAPI documents)
 * The layers these files sit in are in src/README; the command's own C
 * (the terminal, signals, the journal's digests, file locks) is a module
 * apart, users.cli_core (src/cli/). */
#include "decode_json.h"
#include "encode_form.h"
#include "encode_json.h"
#include "encode_multipart.h"
#include "engine.h"
#include "file_info.h"
#include "headers.h"
#include "marshal.h"
#include "provider.h"
#include "sys.h"
#include "validate.h"
#include "yaml.h"

static void (*const opens[])(lua_State *L) = {
    users_sys_open,         users_provider_open,    users_validate_open,    users_file_info_open,
    users_encode_json_open, users_encode_form_open, users_encode_multipart_open,
    users_marshal_open,     users_decode_json_open, users_engine_open,
    users_headers_open,     users_yaml_open,
    NULL};

/* The one symbol the module exports (the build hides the rest). */
#if defined(__GNUC__)
__attribute__((visibility("default")))
#endif
int luaopen_users_core(lua_State *L);
int luaopen_users_core(lua_State *L) {
  int i;
  lua_newtable(L);
  for (i = 0; opens[i]; i++) opens[i](L);
  return 1; /* the version is users._VERSION, written once in lua/users/version.lua */
}
