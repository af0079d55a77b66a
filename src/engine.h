#ifndef USERS_ENGINE_H
#define USERS_ENGINE_H

#include "compat.h"

/* Registers engine([opts]) and curl_version() into the module table on the
 * top of the stack (and initialises libcurl, once). An engine is a libcurl
 * multi handle, its connection cache and a pool of easy handles; methods
 * add, wait, perform, running, close (also __gc, and __close on 5.4). */
void users_engine_open(lua_State *L);

#endif
