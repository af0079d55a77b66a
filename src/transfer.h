#ifndef USERS_TRANSFER_H
#define USERS_TRANSFER_H

#include "compat.h"

/* core.engine([opts]) -> engine: a libcurl multi handle, its connection
 * cache and a pool of easy handles. Methods: add, wait, perform, running,
 * close. */
int engine_new(lua_State *L);
void transfer_open(lua_State *L);

#endif
