/* A declaration's `pattern`: an ECMA-262 regular expression compiled once
 * with PCRE2, matched anywhere in a string unless it anchors itself, its
 * backtracking bounded for the whole search (pattern.c). Pure C: nothing
 * here raises. */
#ifndef USERS_PATTERN_H
#define USERS_PATTERN_H

#include <stddef.h>

typedef struct users_pattern users_pattern_t;
/* The JIT's stack, shared by the patterns of one provider (one Lua state
 * runs one match at a time): made by the first pattern that needs it, freed
 * by the owner after its patterns. */
typedef struct users_pattern_stack users_pattern_stack_t;

/* The pattern's n bytes compiled; NULL with the reason (PCRE2's, and the
 * offset it names) in err when it cannot be. *stack is the owner's JIT
 * stack, made here when NULL and the pattern needs one. The caller owns the
 * result. */
users_pattern_t *users_pattern_compile(const char *src, size_t n, users_pattern_stack_t **stack,
                                       char *err, size_t err_size);
/* s (n bytes of valid UTF-8: the caller checked) against p: 1 a match, 0
 * none, USERS_PATTERN_COSTLY when the budget ran out first,
 * USERS_PATTERN_TOO_LONG when the pattern does not anchor itself and s is
 * over USERS_PATTERN_VALUE_MAX bytes (never run: a search over every start
 * of a longer value has no useful bound on its time), and
 * USERS_PATTERN_FAILED for any other failure of the engine. */
#define USERS_PATTERN_VALUE_MAX 4096
enum { USERS_PATTERN_COSTLY = -1, USERS_PATTERN_FAILED = -2, USERS_PATTERN_TOO_LONG = -3 };
int users_pattern_match(users_pattern_t *p, const char *s, size_t n);
/* p held once more (one pattern source reached from many schemas is
 * compiled once); users_pattern_free frees it when the last lets go. */
users_pattern_t *users_pattern_share(users_pattern_t *p);
void users_pattern_free(users_pattern_t *p);
void users_pattern_stack_free(users_pattern_stack_t *stack);

#endif
