/* YAML text into Lua values, with libyaml (see yaml.c). */
#ifndef USERS_YAML_H
#define USERS_YAML_H

#include "compat.h"

/* Registers yaml_decode into the module table on the top of the stack. */
void users_yaml_open(lua_State *L);

#endif
