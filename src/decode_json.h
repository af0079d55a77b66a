#ifndef USERS_DECODE_JSON_H
#define USERS_DECODE_JSON_H

#include "compat.h"

/* Registers json_decode (which borrows the scratch buffer), array_mt (the
 * metatable decoded arrays carry) and null (what JSON null decodes to) into
 * the module table on the top of the stack. */
void users_decode_json_open(lua_State *L);

#endif
