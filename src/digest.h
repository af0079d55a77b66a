#ifndef USERS_DIGEST_H
#define USERS_DIGEST_H

#include <lua.h>

/* Registers digest.c's functions into the module table on the top of the stack. */
void users_digest_open(lua_State *L);

#endif
