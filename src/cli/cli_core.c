/* users.cli_core: the module entry. It lists each file's cli_*_open (see
 * cli.h), nothing else. */
#include "cli.h"

static void (*const opens[])(lua_State *L) = {cli_term_open, cli_digest_open, cli_files_open, NULL};

/* The one symbol the module exports (the build hides the rest). */
#if defined(__GNUC__)
__attribute__((visibility("default")))
#endif
int luaopen_users_cli_core(lua_State *L);
int luaopen_users_cli_core(lua_State *L) {
  int i;
  lua_newtable(L);
  for (i = 0; opens[i]; i++) opens[i](L);
  return 1;
}
