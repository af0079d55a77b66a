/* Patterns with PCRE2 (the engine nginx uses), set as close to ECMA-262 as
 * PCRE2 goes:
 * - UTF: code points, not bytes; the subject is checked UTF-8 already, so
 *   the match skips PCRE2's own check.
 * - no UCP: \d and \w stay ASCII, as ECMA-262 has them (UCP would widen
 *   them to every script's digits and letters, which a server checking the
 *   same pattern would refuse); \s is then ASCII white space.
 * - ALT_BSUX and EXTRA_ALT_BSUX: \uhhhh and \u{h...} escapes, \xhh.
 * - DOLLAR_ENDONLY: $ is the end of the string, never before a final \n.
 * - ALLOW_EMPTY_CLASS: [^] is any character and [] none, as in ECMA-262.
 * - newlines CR, LF, CRLF: what '.' does not match.
 *
 * One budget for the whole search. PCRE2's limits count per start
 * position: searched as it is, a pattern that backtracks catastrophically
 * costs the limit once for every character of the value (seconds for
 * (a+)+$ on 40 KB, minutes on a megabyte). A pattern that does not anchor
 * itself is therefore compiled as the anchored match of (?s:.*?)(?:P): one
 * start, where the lazy prefix tries each position in turn under the same
 * budget. The answers stay the same: ^ and $ still mean the string's ends,
 * and \b and lookbehinds see the characters before the position they are
 * tried at, as in a search. What the wrapping would change (PCRE2's
 * backtracking verbs, a recursion into the whole pattern, comments of the
 * extended mode: none of them ECMA-262) is refused when the pattern is
 * compiled. The budget grows with the value (MATCH_LIMIT_PER_BYTE), so that
 * a long value a pattern does not match is answered, not refused, and the
 * cost stays linear in the value's length.
 *
 * Memory: the JIT gets a stack of up to JIT_STACK_MAX (its default is
 * 32 KB, too small for a repeated group over a few thousand characters),
 * shared by a provider's patterns; when it runs out, or the JIT is not
 * available, the interpreter runs with its frames on the heap, bounded by
 * HEAP_LIMIT_KB, in a match block of its own that gives them back after the
 * match (PCRE2 keeps them in the block otherwise). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pattern.h"

/* Generous for any pattern a vendor writes against a field's value,
 * small enough that (a+)+$ against 30 a's and a b stops within
 * milliseconds; the search tries each position for about one step, and an
 * alternation of a few words for a few. */
#define MATCH_LIMIT 1000000u
#define MATCH_LIMIT_PER_BYTE 10u
/* ^(a|b)*$ on 100 KB of a's and b's needs about 2.5 MB of JIT stack, or
 * 20 MB of interpreter frames. */
#define JIT_STACK_MAX (4u << 20)
#define HEAP_LIMIT_KB (32u << 10)

struct users_pattern {
  pcre2_code *code;
  pcre2_match_data *md; /* the JIT's (it keeps no frames in it) */
  pcre2_match_context *mc;
  int jit;
};

void users_pattern_free(users_pattern_t *p) {
  if (!p) return;
  pcre2_match_data_free(p->md);
  pcre2_match_context_free(p->mc);
  pcre2_code_free(p->code);
  free(p);
}

void users_pattern_stack_free(users_pattern_stack_t *stack) {
  pcre2_jit_stack_free((pcre2_jit_stack *)stack);
}

/* "(?R)", "(?0)", "\\g<0>": a call of the whole pattern, which the wrapping
 * would make a call of the wrapper. i is where R or the digits would be. */
static int whole_call(const char *s, size_t n, size_t i, char close) {
  size_t at = i;
  if (close == ')' && i + 1 < n && s[i] == 'R') return s[i + 1] == ')';
  while (i < n && s[i] == '0') i++;
  return i > at && i < n && s[i] == close;
}

/* "(?i)", "(?x-s:": inline options, letters before ')' or ':'; whether they
 * turn on the extended mode (where '#' starts a comment). */
static int sets_extended(const char *s, size_t n, size_t i) {
  int x = 0, on = 1;
  for (; i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '-' || s[i] == '^'); i++) {
    if (s[i] == '-') on = 0;
    if (s[i] == 'x' && on) x = 1;
  }
  return x && i < n && (s[i] == ')' || s[i] == ':');
}

/* Why the pattern cannot be wrapped without changing its answers, or NULL.
 * Read as PCRE2 reads it, so that only a real '(' counts: after an escape,
 * inside \Q...\E or a character class, it is a character. */
static const char *unwrappable(const char *s, size_t n) {
  size_t i = 0;
  int in_class = 0;
  while (i < n) {
    if (s[i] == '\\') {
      if (i + 1 < n && s[i + 1] == 'Q') { /* quoted to \E, or to the end */
        for (i += 2; i < n && !(s[i] == '\\' && i + 1 < n && s[i + 1] == 'E'); i++) {}
        i += 2;
      } else if (!in_class && i + 2 < n && s[i + 1] == 'g' && (s[i + 2] == '<' || s[i + 2] == '\'') &&
                 whole_call(s, n, i + 3, s[i + 2] == '<' ? '>' : '\'')) {
        return "calls the whole pattern (\\g<0>)";
      } else {
        i += i + 1 < n && s[i + 1] == 'c' ? 3 : 2; /* \cX takes the next character, whatever it is */
      }
    } else if (in_class) {
      if (s[i] == '[' && i + 1 < n && s[i + 1] == ':') { /* [:alpha:] and [:^alpha:] */
        size_t j = i + 2 + (i + 2 < n && s[i + 2] == '^');
        while (j < n && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z'))) j++;
        if (j + 1 < n && s[j] == ':' && s[j + 1] == ']') i = j + 1;
      } else if (s[i] == ']') {
        in_class = 0;
      }
      i++;
    } else if (s[i] == '[') {
      in_class = 1;
      if (++i < n && s[i] == '^') i++;
      if (i < n && s[i] == ']') in_class = 0, i++; /* [] and [^] (ALLOW_EMPTY_CLASS) */
    } else if (s[i] == '(' && i + 1 < n && s[i + 1] == '*') {
      return "uses a verb (*...)";
    } else if (s[i] == '(' && i + 1 < n && s[i + 1] == '?') {
      if (whole_call(s, n, i + 2, ')')) return "calls the whole pattern ((?R))";
      if (sets_extended(s, n, i + 2)) return "sets the extended mode (?x)";
      if (i + 2 < n && s[i + 2] == '#') /* a comment, to the first ')' */
        while (i < n && s[i] != ')') i++;
      i++;
    } else {
      i++;
    }
  }
  return NULL;
}

/* src compiled with the options above; NULL with PCRE2's reason in err. */
static pcre2_code *compile(const char *src, size_t n, uint32_t more, char *err, size_t err_size) {
  const uint32_t options = PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_DOLLAR_ENDONLY | PCRE2_ALLOW_EMPTY_CLASS |
                           PCRE2_NEVER_BACKSLASH_C | more;
  pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
  pcre2_code *code = NULL;
  int why = 0;
  PCRE2_SIZE at = 0;
  if (!cc) {
    snprintf(err, err_size, "not enough memory");
    return NULL;
  }
  pcre2_set_compile_extra_options(cc, PCRE2_EXTRA_ALT_BSUX);
  pcre2_set_newline(cc, PCRE2_NEWLINE_ANYCRLF);
  code = pcre2_compile((PCRE2_SPTR)src, n, options, &why, &at, cc);
  pcre2_compile_context_free(cc);
  if (!code) {
    PCRE2_UCHAR text[160];
    if (pcre2_get_error_message(why, text, sizeof text) < 0) snprintf((char *)text, sizeof text, "error %d", why);
    snprintf(err, err_size, "%s at offset %lu", (const char *)text, (unsigned long)at);
  }
  return code;
}

/* The pattern as the search runs it: itself when it anchors itself (one
 * start already), else wrapped (see above). NULL with why in err. */
static pcre2_code *compile_search(const char *src, size_t n, char *err, size_t err_size) {
  static const char head[] = "(?s:.*?)(?:", tail[] = "\\E)"; /* \E ends a \Q left open, else nothing */
  pcre2_code *code = compile(src, n, 0, err, err_size);
  uint32_t all = 0;
  const char *why;
  char *wrapped;
  if (!code) return NULL;
  if (pcre2_pattern_info(code, PCRE2_INFO_ALLOPTIONS, &all) == 0 && (all & PCRE2_ANCHORED)) return code;
  pcre2_code_free(code);
  if ((why = unwrappable(src, n)) != NULL) {
    snprintf(err, err_size, "it %s: not ECMA-262, and changed by a search anywhere in the value (a pattern "
             "anchored with ^ may use it)", why);
    return NULL;
  }
  if (!(wrapped = malloc(sizeof head + n + sizeof tail))) {
    snprintf(err, err_size, "not enough memory");
    return NULL;
  }
  memcpy(wrapped, head, sizeof head - 1);
  memcpy(wrapped + sizeof head - 1, src, n);
  memcpy(wrapped + sizeof head - 1 + n, tail, sizeof tail - 1);
  code = compile(wrapped, sizeof head - 1 + n + sizeof tail - 1, PCRE2_ANCHORED, err, err_size);
  free(wrapped);
  return code;
}

users_pattern_t *users_pattern_compile(const char *src, size_t n, users_pattern_stack_t **stack,
                                       char *err, size_t err_size) {
  users_pattern_t *p = calloc(1, sizeof *p);
  if (!p) {
    snprintf(err, err_size, "not enough memory");
    return NULL;
  }
  if (!(p->code = compile_search(src, n, err, err_size))) goto fail;
  p->md = pcre2_match_data_create(1, NULL); /* whether it matched: one pair is enough */
  p->mc = pcre2_match_context_create(NULL);
  if (!p->md || !p->mc) {
    snprintf(err, err_size, "not enough memory");
    goto fail;
  }
  pcre2_set_heap_limit(p->mc, HEAP_LIMIT_KB);
  p->jit = pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE) == 0;
  if (p->jit && !*stack) /* without one (no memory), the JIT's 32 KB and the interpreter after it */
    *stack = (users_pattern_stack_t *)pcre2_jit_stack_create(32u << 10, JIT_STACK_MAX, NULL);
  if (p->jit && *stack) pcre2_jit_stack_assign(p->mc, NULL, (pcre2_jit_stack *)*stack);
  return p;
fail:
  users_pattern_free(p);
  return NULL;
}

static int answer(int rc) {
  if (rc >= 0) return 1; /* 0: matched, more groups than md holds */
  if (rc == PCRE2_ERROR_NOMATCH) return 0;
  if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT ||
      rc == PCRE2_ERROR_JIT_STACKLIMIT)
    return USERS_PATTERN_COSTLY;
  return USERS_PATTERN_FAILED;
}

int users_pattern_match(users_pattern_t *p, const char *s, size_t n) {
  uint64_t limit = MATCH_LIMIT + (uint64_t)MATCH_LIMIT_PER_BYTE * n;
  pcre2_match_data *frames;
  int rc = PCRE2_ERROR_JIT_STACKLIMIT;
  pcre2_set_match_limit(p->mc, limit > UINT32_MAX ? UINT32_MAX : (uint32_t)limit);
  if (p->jit) rc = pcre2_match(p->code, (PCRE2_SPTR)s, n, 0, PCRE2_NO_UTF_CHECK, p->md, p->mc);
  if (rc != PCRE2_ERROR_JIT_STACKLIMIT) return answer(rc);
  /* the interpreter, in a block of its own: its frames go with it */
  if (!(frames = pcre2_match_data_create(1, NULL))) return USERS_PATTERN_FAILED;
  rc = pcre2_match(p->code, (PCRE2_SPTR)s, n, 0, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, frames, p->mc);
  pcre2_match_data_free(frames);
  return answer(rc);
}
