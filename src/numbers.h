/* Numbers as JSON Schema compares them: an integer (64 bits, exact) or a
 * double, compared with each other exactly, whatever the Lua. Pure C. */
#ifndef USERS_NUMBERS_H
#define USERS_NUMBERS_H

#include <stddef.h>

typedef struct {
  int is_int;
  long long i;
  double d; /* when !is_int: finite (NaN and infinities are refused first) */
} users_num_t;

/* -1, 0 or 1: a against b, exactly (2^53 + 1 is above 2^53 as a double). */
int users_num_cmp(const users_num_t *a, const users_num_t *b);
/* True when v is a multiple of m (m > 0): exact for integers against an
 * integral m; for doubles, a remainder of 0 or a quotient within a few
 * ulps of an integer (0.3 is a multiple of 0.1). */
int users_num_multiple(const users_num_t *v, const users_num_t *m);
/* Integer text (users_is_integer_text) into a number. */
void users_num_from_text(users_num_t *out, const char *s, size_t n);
/* The number as JSON writes it, into out (at least 32 bytes); its length. */
size_t users_num_text(char *out, const users_num_t *v);

#endif
