/* Lua values as JSON sees them: whether one can be written at all, and
 * JSON's equality between two (unique_items). Under a schema, integer text
 * where it says integer or number is the number it spells, as the writers
 * write it. Nothing here raises but the interpreter's own out-of-memory. */
#ifndef USERS_VALUES_H
#define USERS_VALUES_H

#include "numbers.h"
#include "provider.h"

/* How deep values nest, in the writers and here: a table that holds itself
 * is refused at this depth, never followed for ever. */
#define USERS_MAX_DEPTH 64

/* NULL when the value at v (depth deep already) can be written as JSON
 * without a schema; else why not ("holds a function", "is nested too deeply
 * (or holds itself)", ...). */
const char *users_json_unwritable(lua_State *L, int v, int depth);

/* The number at v (a Lua number) as JSON Schema sees it, the same on every
 * Lua: an integer when its value is integral and within 64 bits, whether
 * Lua holds it as an integer or as a float (2^60 written as a float on 5.4,
 * or as any double on 5.1/LuaJIT, is the integer 2^60); else a double
 * (fractional, beyond 64 bits, or not finite). */
void users_tonum(lua_State *L, int v, users_num_t *out);

/* A table without a schema is written as an array when its keys are
 * exactly 1..n, or it is empty and carries users.array_mt (as cjson's
 * array_mt); else as an object. */
int users_free_is_array(lua_State *L, int v);

/* The n items of the array at v (items under schema s, NULL: free-form)
 * are pairwise unequal: 1; 0 with *a < *b the numbers of two equal ones;
 * -1 when an item nests deeper than USERS_MAX_DEPTH. */
int users_items_unique(lua_State *L, const users_schema_t *s, int v, size_t n, long *a, long *b);

#endif
