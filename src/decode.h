#ifndef USERS_DECODE_H
#define USERS_DECODE_H

#include "compat.h"

int decode_json(lua_State *L);

#endif
