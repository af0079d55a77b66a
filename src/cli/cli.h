/* users.cli_core: the C half of the lua-users command and of bulk runs'
 * files, a module apart from users.core (which holds the request path and
 * is all an nginx worker loads). Each file registers its functions into the
 * module table on the top of the stack with its cli_*_open:
 *   term.c    term_width, trap_signals, signals
 *   digest.c  digest, digest_set (the journal)
 *   files.c   lock, kind, creatable (the journal, the paths a run writes)
 * It shares only src/compat.c (layer 0: Lua version differences, the
 * metatable helper) with users.core, each module with a copy of its own. */
#ifndef USERS_CLI_H
#define USERS_CLI_H

#include "../compat.h"

void cli_term_open(lua_State *L);
void cli_digest_open(lua_State *L);
void cli_files_open(lua_State *L);

#endif
