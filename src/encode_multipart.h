#ifndef USERS_ENCODE_MULTIPART_H
#define USERS_ENCODE_MULTIPART_H

#include "compat.h"

/* Registers encode_multipart (which borrows the scratch buffer) into the
 * module table on the top of the stack. */
void users_encode_multipart_open(lua_State *L);

#endif
