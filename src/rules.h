/* What is wrong with a scalar (a string, a number, a boolean, null) under a
 * schema's rules, alternatives included, as bits: 0 when it is valid. Pure
 * C, no Lua: the one-pass writer (marshal.c) and validation (validate.c)
 * both ask here, so the two never disagree. */
#ifndef USERS_RULES_H
#define USERS_RULES_H

#include "provider.h"

enum {
  USERS_P_UTF8 = 1, USERS_P_MIN = 2, USERS_P_MAX = 4, USERS_P_FORMAT = 8, USERS_P_PATTERN = 16,
  USERS_P_PATTERN_COSTLY = 32, USERS_P_PATTERN_FAILED = 64, /* strings */
  USERS_P_BELOW = 2, USERS_P_ABOVE = 4, USERS_P_XBELOW = 8, USERS_P_XABOVE = 16,
  USERS_P_MULTIPLE = 32, /* numbers (the same bits, another kind of value) */
  USERS_P_ENUM = 128,    /* any value: not in enum, or not const */
  USERS_P_ANY_OF = 256,  /* no alternative of any_of holds */
  USERS_P_ONE_OF = 512,  /* no alternative of one_of holds */
  USERS_P_MANY_OF = 1024, /* more than one of one_of holds */
  USERS_P_PATTERN_LONG = 2048 /* a string too long for its pattern's search (pattern.h) */
};
#define USERS_P_ALTERNATIVES (USERS_P_ANY_OF | USERS_P_ONE_OF | USERS_P_MANY_OF)

/* A string of n bytes; chars is users_utf8_length(str, n), which the
 * caller may know already. */
unsigned users_string_problems(const users_schema_t *s, const char *str, size_t n, long chars);
/* The same for URL text (a path parameter): there integer text holds for an
 * alternative that says integer or number, as the number it spells. */
unsigned users_url_text_problems(const users_schema_t *s, const char *str, size_t n, long chars);
/* What marshal_json's pass found about strings under costly rules (a
 * pattern, alternatives), for the validation that follows it when it
 * declines: a string met again under the same schema answers as it did,
 * and its pattern is matched once per call, not twice. A string is known by
 * the address of its bytes, which the pass keeps alive (anchored in a Lua
 * table) until the call ends, so that no other string can take it. */
#define USERS_KNOWN_MAX 16
#define USERS_S_COSTLY (USERS_S_PATTERN | USERS_S_ANY_OF | USERS_S_ONE_OF)
typedef struct {
  int n;
  struct {
    const users_schema_t *s;
    const char *str;
    unsigned bad;
  } v[USERS_KNOWN_MAX];
} users_known_t;

/* users_string_problems, answered from known (NULL: nothing known) when the
 * string was met under s before. */
unsigned users_string_problems_known(const users_known_t *known, const users_schema_t *s, const char *str,
                                     size_t n, long chars);
/* A finite number (or integer text read as one). */
unsigned users_number_problems(const users_schema_t *s, const users_num_t *v);
unsigned users_boolean_problems(const users_schema_t *s, int b);
/* True when s takes null: nullable, or (without a type) alternatives that
 * take it. */
int users_null_ok(const users_schema_t *s);

#endif
