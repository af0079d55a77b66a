/* A declaration's `pattern`: an ECMA-262 regular expression compiled once
 * with PCRE2, matched anywhere in a string unless it anchors itself, with a
 * bounded budget of backtracking. Pure C: nothing here raises. */
#ifndef USERS_PATTERN_H
#define USERS_PATTERN_H

#include <stddef.h>

typedef struct users_pattern users_pattern_t;

/* The pattern's n bytes compiled; NULL with PCRE2's reason (and the offset
 * it names) in err when it cannot be. The caller owns the result. */
users_pattern_t *users_pattern_compile(const char *src, size_t n, char *err, size_t err_size);
/* s (n bytes of valid UTF-8: the caller checked) against p: 1 a match, 0
 * none, USERS_PATTERN_COSTLY when the budget ran out first, and
 * USERS_PATTERN_FAILED for any other failure of the engine. */
enum { USERS_PATTERN_COSTLY = -1, USERS_PATTERN_FAILED = -2 };
int users_pattern_match(users_pattern_t *p, const char *s, size_t n);
void users_pattern_free(users_pattern_t *p);

#endif
