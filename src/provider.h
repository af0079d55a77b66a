/* A provider's declaration (a Lua table) compiled into C structures, so that
 * validation and encoding run without walking Lua tables of rules. */
#ifndef USERS_PROVIDER_H
#define USERS_PROVIDER_H

#include <stddef.h>
#include <string.h>
#include "compat.h"

/* Field types (provider.c's type_names spells them) and string formats. */
enum { USERS_T_ANY, USERS_T_STRING, USERS_T_INTEGER, USERS_T_BOOLEAN, USERS_T_ARRAY,
       USERS_T_FILE };
enum { USERS_F_NONE, USERS_F_EMAIL, USERS_F_UUID };

typedef struct users_schema {
  int type, format;
  int nullable;
  long min, max;              /* characters, items or bytes; -1 when unset */
  char **enums;               /* sorted, for bsearch */
  const char **enum_strings;  /* the same values inside their Lua strings, which
                                 are interned when short: a value with one of
                                 these pointers is valid without a compare */
  size_t n_enums;
  char *pattern;              /* a subset of ECMA regex: users_pattern_match in formats.c */
  char *same_as;              /* name of the field this one must equal */
  char *content_type;         /* files: image/ (any image) or an exact type */
  struct users_schema *items; /* arrays */
  struct users_schema *any_of; /* alternatives: valid when one of them is */
  size_t n_any_of;
} users_schema_t;

typedef struct {
  char *name;
  int required;
  int same_as_index;      /* index of s.same_as in the fields, or -1 */
  const char *interned;   /* the name's bytes inside its Lua string (names_ref
                             keeps it alive): short strings are interned, so a
                             key with the same pointer is the same name */
  char *json_key;         /* "name": as JSON text, ready to copy */
  size_t json_key_len, name_len;
  users_schema_t s;
} users_field_t;

/* How deep rules may nest (array items, any_of): see provider.c. */
#define USERS_MAX_SCHEMA_DEPTH 8

#define USERS_MAX_FIELDS 128

typedef struct {
  char *name;
  users_field_t *fields;
  size_t n_fields;
  users_field_t *params;  /* path parameters, in template order */
  size_t n_params;
  int names_ref;          /* registry ref: the field names as Lua strings, in order */
} users_provider_t;

#define USERS_PROVIDER_MT "users.provider"

users_provider_t *users_provider_check(lua_State *L, int idx);
/* Pushes the providers' metatable (made on first use). */
void users_provider_push_meta(lua_State *L);
/* users_provider_check for hot paths: compares the metatable with the one at
 * index meta (an upvalue) instead of looking it up by name. */
users_provider_t *users_provider_check_fast(lua_State *L, int idx, int meta);

/* The field named by a Lua string key (len bytes), or NULL. Inline: every
 * key of every update comes through here. */
static inline const users_field_t *users_provider_field_by_key(const users_provider_t *p,
                                                               const char *key, size_t len) {
  size_t i;
  for (i = 0; i < p->n_fields; i++) /* short names are interned: compare pointers */
    if (key == p->fields[i].interned) return &p->fields[i];
  for (i = 0; i < p->n_fields; i++) /* long names are not */
    if (p->fields[i].name_len == len && memcmp(key, p->fields[i].name, len) == 0)
      return &p->fields[i];
  return NULL;
}

/* Registers compile into the module table on the top of the stack. */
void users_provider_open(lua_State *L);

#endif
