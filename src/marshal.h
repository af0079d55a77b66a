#ifndef USERS_MARSHAL_H
#define USERS_MARSHAL_H

#include "compat.h"

/* Registers marshal_json(provider, fields) -> body | nil, errors, reason,
 * core.validate and core.encode_json in one pass, into the module table on
 * the top of the stack. */
void users_marshal_open(lua_State *L);

#endif
