/* A provider's declaration (a Lua table) compiled into C structures, so that
 * validation and encoding run without walking Lua tables of rules. The
 * vocabulary is lua/users/providers/README.md; schema.c compiles one
 * schema, provider.c the declaration around them. */
#ifndef USERS_PROVIDER_H
#define USERS_PROVIDER_H

#include <stddef.h>
#include <string.h>
#include "compat.h"
#include "numbers.h"
#include "pattern.h"

/* Types (schema.c's type_names spells them), string formats, form styles. */
enum { USERS_T_ANY, USERS_T_STRING, USERS_T_INTEGER, USERS_T_NUMBER, USERS_T_BOOLEAN,
       USERS_T_ARRAY, USERS_T_OBJECT, USERS_T_FILE };
enum { USERS_F_NONE, USERS_F_EMAIL, USERS_F_UUID, USERS_F_DATE_TIME, USERS_F_DATE, USERS_F_URI,
       USERS_F_HOSTNAME, USERS_F_IPV4, USERS_F_IPV6 };
enum { USERS_STYLE_FORM, USERS_STYLE_DEEP, USERS_STYLE_SPACE, USERS_STYLE_PIPE };
/* Which number bounds are set (users_schema_t.bounds). */
enum { USERS_B_MIN = 1, USERS_B_MAX = 2, USERS_B_XMIN = 4, USERS_B_XMAX = 8, USERS_B_MULT = 16 };
/* Which string rules a schema has (users_schema_t.string_rules): the hot
 * path skips the others without looking at them. */
enum { USERS_S_LENGTH = 1, USERS_S_FORMAT = 2, USERS_S_PATTERN = 4, USERS_S_ENUM = 8,
       USERS_S_ANY_OF = 16, USERS_S_ONE_OF = 32 };
/* Which booleans an enum holds (users_schema_t.enum_bools). */
enum { USERS_E_FALSE = 1, USERS_E_TRUE = 2 };

typedef struct users_field users_field_t;

typedef struct users_schema {
  /* What every value of the hot path reads first, together (one or two
   * cache lines): the type, the string rules, the enum's interned strings,
   * the alternatives and items. */
  unsigned char type, format, nullable, read_only, unique;
  unsigned char has_enum, is_const; /* enum (or const: an enum of one) given */
  unsigned char enum_bools;         /* USERS_E_ bits */
  unsigned char bounds;             /* USERS_B_ bits */
  unsigned char string_rules;       /* USERS_S_ bits */
  unsigned char additional;         /* objects: keys beyond props let through */
  unsigned char style, explode, part_json; /* form and multipart (top-level fields) */
  long min_length, max_length;      /* characters; -1 when unset, as every limit */
  const char **enum_strings;  /* the string values inside their Lua strings,
                                 which are interned when short: a value with
                                 one of these pointers is valid without a
                                 compare */
  const char **enums;         /* the same pointers, sorted, for bsearch */
  size_t n_enums;
  users_pattern_t *re;        /* compiled (pattern.c) */
  struct users_schema *items; /* arrays (an any-schema when not declared) */
  struct users_schema *any_of, *one_of; /* alternatives */
  size_t n_any_of, n_one_of;
  users_field_t *props;       /* objects: declared properties, in wire order */
  size_t n_props;
  /* the rest */
  long min_items, max_items, min_props, max_props, max_bytes;
  users_num_t *enum_nums;     /* number values, in declared order */
  size_t n_enum_nums;
  users_num_t minimum, maximum, xminimum, xmaximum, multiple_of;
  const char *pattern;        /* its text, for messages (a Lua string kept by the provider) */
  char *same_as;              /* name of the field this one must equal */
  char *content_type;         /* files: image/ (any image) or an exact type */
  char *part_content_type;    /* multipart: the part's type */
  struct users_schema *additional_schema; /* objects: rules for the other keys */
} users_schema_t;

struct users_field {
  char *name;
  int required;
  int slot;               /* where the name sits, as a Lua string, in the names
                             table (names_ref): fields at 1..n_fields */
  int same_as_index;      /* index of s.same_as in the fields, or -1 */
  const char *interned;   /* the name's bytes inside that Lua string: short
                             strings are interned, so a key with the same
                             pointer is the same name */
  char *json_key;         /* "name": as JSON text, ready to copy */
  size_t json_key_len, name_len;
  users_schema_t s;
};

/* How deep schemas may nest (properties, items, alternatives): validation
 * and the writers recurse along them on the C stack and the Lua stack. */
#define USERS_MAX_SCHEMA_DEPTH 64

#define USERS_MAX_FIELDS 128

/* How many schemas and enum values one declaration may hold in all: the
 * largest operation of the largest documents we know (GitHub's whole API,
 * Stripe's, Kratos') compiles to a few hundred, so a declaration 400 times
 * that is hostile or broken (a huge document, or one Lua table reached from
 * many places), refused before it costs memory and time. */
#define USERS_MAX_SCHEMA_NODES 100000
/* And how many bytes of text it may copy in all (names, content types,
 * same_as, counted once per place, as the copies are made): enum values
 * and patterns are not copied (each distinct pattern is compiled once). */
#define USERS_MAX_SCHEMA_BYTES (64u << 20)

typedef struct {
  char *name;
  /* The body: an object whose props are the fields (p->fields below), and
   * whose additional keys are additional_fields. */
  users_schema_t body;
  users_field_t *params;  /* path parameters, in template order */
  size_t n_params;
  int names_ref;          /* registry ref: the field and property names as Lua
                             strings (fields first, in order), and what else
                             the provider points into */
  int has_props;          /* some schema declares properties: the writers need
                             the names table */
  users_pattern_stack_t *re_stack; /* the JIT's stack for the patterns (pattern.h) */
  const char *form_true, *form_false; /* form_booleans */
  size_t form_true_len, form_false_len;
} users_provider_t;

#define users_provider_fields(p) ((p)->body.props)
#define users_provider_n_fields(p) ((p)->body.n_props)

#define USERS_PROVIDER_MT "users.provider"

users_provider_t *users_provider_check(lua_State *L, int idx);
/* Pushes the providers' metatable (made on first use). */
void users_provider_push_meta(lua_State *L);
/* users_provider_check for hot paths: compares the metatable with the one at
 * index meta (an upvalue) instead of looking it up by name. */
users_provider_t *users_provider_check_fast(lua_State *L, int idx, int meta);

/* The property of s named by a Lua string key (len bytes), or NULL. Inline:
 * every key of every update comes through here. */
static inline const users_field_t *users_schema_prop(const users_schema_t *s, const char *key,
                                                     size_t len) {
  size_t i;
  for (i = 0; i < s->n_props; i++) /* short names are interned: compare pointers */
    if (key == s->props[i].interned) return &s->props[i];
  for (i = 0; i < s->n_props; i++) /* long names are not */
    if (s->props[i].name_len == len && memcmp(key, s->props[i].name, len) == 0)
      return &s->props[i];
  return NULL;
}
#define users_provider_field_by_key(p, key, len) users_schema_prop(&(p)->body, (key), (len))

/* A file field, or an array of files (a top-level field: files are nowhere
 * else): what only multipart can send. */
static inline int users_schema_has_files(const users_schema_t *s) {
  return s->type == USERS_T_FILE || (s->type == USERS_T_ARRAY && s->items && s->items->type == USERS_T_FILE);
}

/* Registers compile into the module table on the top of the stack. */
void users_provider_open(lua_State *L);

#endif
