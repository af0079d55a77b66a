#ifndef USERS_ENGINE_H
#define USERS_ENGINE_H

#include "compat.h"

/* core.engine([opts]) -> engine: a libcurl multi handle, its connection
 * cache and a pool of easy handles. Methods: add, wait, perform, running,
 * close (also __gc, and __close on 5.4). */
int users_engine_new(lua_State *L);

#endif
