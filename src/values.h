/* Lua values as JSON sees them: whether one can be written at all, and
 * JSON's equality between two (unique_items). Under a schema, integer text
 * where it says integer or number is the number it spells, as the writers
 * write it. Nothing here raises but the interpreter's own out-of-memory. */
#ifndef USERS_VALUES_H
#define USERS_VALUES_H

#include "provider.h"

/* How deep values nest, in the writers and here: a table that holds itself
 * is refused at this depth, never followed for ever. */
#define USERS_MAX_DEPTH 64

/* NULL when the value at v (depth deep already) can be written as JSON
 * without a schema; else why not ("holds a function", "is nested too deeply
 * (or holds itself)", ...). */
const char *users_json_unwritable(lua_State *L, int v, int depth);

/* The n items of the array at v (items under schema s, NULL: free-form)
 * are pairwise unequal: 1; 0 with *a < *b the numbers of two equal ones;
 * -1 when an item nests deeper than USERS_MAX_DEPTH. */
int users_items_unique(lua_State *L, const users_schema_t *s, int v, size_t n, long *a, long *b);

#endif
