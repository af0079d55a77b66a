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
 * The match runs under limits (backtracking steps, depth, heap): a pattern
 * that backtracks catastrophically on a value costs a bounded few
 * milliseconds and answers USERS_PATTERN_COSTLY, never a hang. JIT is used
 * when the platform allows it; a JIT stack that runs out is retried once
 * with the interpreter, under the same limits. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include "pattern.h"

/* Generous for any pattern a vendor writes against a field's value (a
 * 100 KB string against ^[a-z0-9 ]+$ needs a few steps), small enough that
 * (a+)+$ against 30 a's and a b stops within milliseconds. */
#define MATCH_LIMIT 1000000u
#define DEPTH_LIMIT 10000u
#define HEAP_LIMIT_KB 8192u

struct users_pattern {
  pcre2_code *code;
  pcre2_match_data *md;
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

users_pattern_t *users_pattern_compile(const char *src, size_t n, char *err, size_t err_size) {
  const uint32_t options = PCRE2_UTF | PCRE2_ALT_BSUX | PCRE2_DOLLAR_ENDONLY |
                           PCRE2_ALLOW_EMPTY_CLASS | PCRE2_NEVER_BACKSLASH_C;
  users_pattern_t *p = calloc(1, sizeof *p);
  pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
  int code = 0;
  PCRE2_SIZE at = 0;
  if (!p || !cc) {
    snprintf(err, err_size, "not enough memory");
    goto fail;
  }
  pcre2_set_compile_extra_options(cc, PCRE2_EXTRA_ALT_BSUX);
  pcre2_set_newline(cc, PCRE2_NEWLINE_ANYCRLF);
  p->code = pcre2_compile((PCRE2_SPTR)src, n, options, &code, &at, cc);
  if (!p->code) {
    PCRE2_UCHAR why[160];
    if (pcre2_get_error_message(code, why, sizeof why) < 0) snprintf((char *)why, sizeof why, "error %d", code);
    snprintf(err, err_size, "%s at offset %lu", (const char *)why, (unsigned long)at);
    goto fail;
  }
  p->md = pcre2_match_data_create(1, NULL); /* whether it matched: one pair is enough */
  p->mc = pcre2_match_context_create(NULL);
  if (!p->md || !p->mc) {
    snprintf(err, err_size, "not enough memory");
    goto fail;
  }
  pcre2_set_match_limit(p->mc, MATCH_LIMIT);
  pcre2_set_depth_limit(p->mc, DEPTH_LIMIT);
  pcre2_set_heap_limit(p->mc, HEAP_LIMIT_KB);
  p->jit = pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE) == 0;
  pcre2_compile_context_free(cc);
  return p;
fail:
  pcre2_compile_context_free(cc);
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
  int rc = pcre2_match(p->code, (PCRE2_SPTR)s, n, 0, PCRE2_NO_UTF_CHECK, p->md, p->mc);
  if (rc == PCRE2_ERROR_JIT_STACKLIMIT && p->jit) /* the interpreter keeps its frames on the heap */
    rc = pcre2_match(p->code, (PCRE2_SPTR)s, n, 0, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, p->md, p->mc);
  return answer(rc);
}
