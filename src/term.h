#ifndef USERS_TERM_H
#define USERS_TERM_H

#include <lua.h>

/* Registers term.c's functions into the module table on the top of the stack. */
void users_term_open(lua_State *L);

#endif
