/* One schema of a declaration compiled (schema.c), for provider.c: the
 * lists of fields, parameters and properties, and everything inside them.
 * Every allocation is stored where users_schema_free finds it before the
 * next call that can raise, so a bad declaration never leaks. */
#ifndef USERS_SCHEMA_H
#define USERS_SCHEMA_H

#include "provider.h"

/* Where compiling is: the keep table (stack index) that holds the Lua
 * strings the provider points into, the next free slot in it, and the
 * path of what is being compiled, for messages
 * ("fields[2] (address).properties[1] (city)"). */
typedef struct {
  lua_State *L;
  int keep, next_slot, has_props;
  int patterns;                     /* stack index: pattern source -> its compiled form */
  int in_param;                     /* compiling a path parameter's schema */
  users_pattern_stack_t **re_stack; /* the provider's, for its patterns */
  size_t nodes;                     /* schemas and enum values so far (USERS_MAX_SCHEMA_NODES) */
  size_t bytes;                     /* text copied, counted before compiling (USERS_MAX_SCHEMA_BYTES) */
  char path[400];
  size_t path_len;
} users_compile_t;

/* What a list holds: its entries may carry keys that others may not. */
enum { USERS_LIST_FIELDS, USERS_LIST_PARAMS, USERS_LIST_PROPS };

/* The list of { "name", ...schema } at stack index idx (a field list, the
 * parameters, an object's properties) into *out, *n_out; its names take the
 * next slots of the keep table, in order. Raises a message naming where. */
void users_compile_list(users_compile_t *c, int idx, const char *key, int kind,
                        users_field_t **out, size_t *n_out);
/* Counts the schemas and enum values of the declaration at decl, reading
 * only: raises (before anything is allocated) past USERS_MAX_SCHEMA_NODES. */
void users_compile_budget(users_compile_t *c, int decl);
/* A schema on its own (additional_fields), at depth 1. */
void users_compile_schema_at(users_compile_t *c, int idx, const char *key, users_schema_t *s);
/* Raises "provider declaration: <path>: <message>" (fmt as lua_pushfstring). */
int users_compile_error(users_compile_t *c, const char *fmt, ...);
void users_schema_free(users_schema_t *s);
void users_fields_free(users_field_t *f, size_t n);
char *users_strdup_or_raise(lua_State *L, const char *s, size_t n);
/* The bytes of the string at idx, held by the table at keep for as long as
 * it lives: the held object's own (see schema.c). */
const char *users_keep_string(lua_State *L, int keep, int idx, size_t *len);

#endif
