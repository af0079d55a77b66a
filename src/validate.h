#ifndef USERS_VALIDATE_H
#define USERS_VALIDATE_H

#include "provider.h"

/* core.validate(provider, fields) -> nil | errors, reason */
int validate_fields(lua_State *L);
/* core.check_param(provider, name, value) -> text | nil, message */
int validate_param(lua_State *L);
/* Size and content type of a users.file / users.blob value at idx. */
int file_info(lua_State *L, int idx, long long *size, const char **ctype,
              const char **err);
/* True when the value at idx is users.null (a NULL light userdata). */
int is_null(lua_State *L, int idx);

#endif
