#ifndef USERS_DECODE_H
#define USERS_DECODE_H

#include "compat.h"

/* Registry name of the metatable that marks decoded arrays. */
#define USERS_ARRAY_MT "users.array"

int decode_json(lua_State *L);

#endif
