#ifndef USERS_ENCODE_FORM_H
#define USERS_ENCODE_FORM_H

#include "compat.h"

/* Registers encode_form and escape (which borrow the scratch buffer) into
 * the module table on the top of the stack. */
void users_encode_form_open(lua_State *L);

#endif
