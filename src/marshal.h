#ifndef USERS_MARSHAL_H
#define USERS_MARSHAL_H

#include "compat.h"

/* core.marshal_json(provider, fields) -> body | nil, errors, reason:
 * core.validate and core.encode_json in one pass (upvalues: 1 the scratch
 * buffer, 2 the providers' metatable). */
int users_marshal_json(lua_State *L);

#endif
