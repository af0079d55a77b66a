/* A response's header block, as libcurl hands it over line by line, made
 * into a Lua table. Pure: bytes in, a table out, so that it can be fuzzed
 * apart from any transfer (fuzz/headers.c); transfer.c's result is where
 * Lua sees it. Its Lua function, core.mentions, tells whether a header map
 * holds one of a list of secrets. */
#ifndef USERS_HEADERS_H
#define USERS_HEADERS_H

#include <stddef.h>
#include "compat.h"

/* Pushes { name = value } for the n bytes at p: names in lower case,
 * values without the blanks around them, a repeated header's values joined
 * with ", " in the order they came (RFC 9110, 5.3). Status lines ("HTTP/"),
 * lines without a colon and names of 128 bytes or more are skipped; lines
 * end at LF, a CR before it is dropped. Reads only the n bytes (p may be
 * NULL when n is 0). */
void users_headers_push(lua_State *L, const char *p, size_t n);
/* Registers mentions into the module table on the top of the stack. */
void users_headers_open(lua_State *L);

#endif
