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
 * A pattern that anchors itself runs once, from the start, under
 * MATCH_LIMIT. Any other is a search, tried at every position of the
 * value, and the limits PCRE2 counts are steps, one of which can be a scan
 * of the rest of the value: a check's time grows as its steps times the
 * value's length, whatever the limits. So a value over
 * USERS_PATTERN_VALUE_MAX bytes (4096, pattern.h) is never searched: it is
 * refused with "is too long to check against its pattern (over 4096
 * bytes)". Under it, the patterns measured cost 0.3 s of CPU at most
 * (below). Known limits, which a step-counting callout would bound: a
 * lookahead that scans to the end inside a repeated group makes each start
 * n steps of n reads ((?:a(?=[^@]*$)b?)+! about 10 s at 4 KB), and an
 * anchored pattern's one start is not capped (^((?:a(?=[^@]*$))+)+$ 10 s
 * at 128 KB).
 *
 * Two searches. PCRE2's own search goes first: its start-of-match
 * optimisations and the JIT's fast-fail over a leading repeat keep patterns
 * such as [a-z]+[0-9] or [^@\s]+$ linear in the value. Its limits count per
 * start position, though, so a pattern that backtracks catastrophically
 * would cost the limit once for every character of the value: it runs with
 * a limit per start that shrinks as the value grows (START_LIMIT,
 * SEARCH_LIMIT, a tenth of it without the JIT, whose steps cost about ten
 * times more), which bounds the whole search. When a start runs out of it,
 * the answer comes from the second form: the pattern compiled as the
 * anchored match of (?s:.*?)(?:P), one start where the lazy prefix tries
 * each position in turn under ONE budget for them all (WRAPPED_LIMIT, the
 * same for every length); beyond it the value is refused as too costly.
 * The answers are the same: ^ and $ still mean the string's ends, and \b
 * and lookbehinds see the characters before the position they are tried
 * at, as in a search. What the wrapping would change (PCRE2's backtracking
 * verbs, a recursion into the whole pattern, comments of the extended mode:
 * none of them ECMA-262) is refused when the pattern is compiled. Where
 * PCRE2's search departs from ECMA-262 (PCRE2 10.42):
 * - it does not start inside a CRLF unless the pattern names \r or \n,
 *   where ECMA-262 tries every position ((?s).b matches "a\r\nb"): the
 *   search runs (?:P)(?:\n(?!))?, which names \n and matches what P does;
 * - with a first code unit that is also the last one it requires
 *   ((?=b)a*b), it looks for the last one after the first, so "aab" fails:
 *   the wrapped form alone answers;
 * - the JIT's early fail after a group with alternatives ((a|)a*a): that
 *   search runs without the JIT.
 *
 * Memory: the JIT gets a stack of up to JIT_STACK_MAX (its default is
 * 32 KB, too small for a repeated group over a few thousand characters),
 * shared by a provider's patterns; when it runs out, or the JIT is not
 * available, the interpreter runs with its frames on the heap, bounded by
 * HEAP_LIMIT_KB, in a match block of its own that gives them back after the
 * match (PCRE2 keeps them in the block otherwise).
 *
 * LUA_USERS_PCRE2_NO_JIT (set, not empty; read when a pattern is compiled)
 * turns the JIT off: `make valgrind` sets it, because PCRE2 10.42's JIT
 * reads up to 16 bytes past the end of the value (harmless; valgrind
 * reports the jumps that depend on them). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pattern.h"

/* A pattern that anchors itself: generous for any pattern a vendor writes
 * against a field's value, small enough that ^(a+)+$ against 30 a's and a
 * b stops within milliseconds. */
#define MATCH_LIMIT 1000000u
/* The wrapped form, over at most USERS_PATTERN_VALUE_MAX bytes: each
 * position costs the lazy prefix a step or more. Its worst measured, a
 * pattern whose every step scans the value ((?:x|)\S+@\S+\.\S+ against
 * 4 KB of "a@"), runs out in 0.26 s with the JIT. */
#define WRAPPED_LIMIT 250000u
/* PCRE2's search: a start gets START_LIMIT, enough for a repeat that
 * backtracks over 100 000 characters, and the value's starts together at
 * most SEARCH_LIMIT (SEARCH_LIMIT_NO_JIT for the interpreter): a start gets
 * SEARCH_LIMIT / n when that is less. Measured at 4 KB: (a+)+$ and
 * ((?:a(?=[^@]*$))+)+$ 0.03 s with the JIT, 0.12 s without;
 * [^@\s]+(?:$|;) (no JIT: an alternative in a group) 0.32 s. */
#define START_LIMIT 100000u
#define SEARCH_LIMIT 500000000u
#define SEARCH_LIMIT_NO_JIT (SEARCH_LIMIT / 10)
/* ^(a|b)*$ on 100 KB of a's and b's needs about 2.5 MB of JIT stack, or
 * 20 MB of interpreter frames. */
#define JIT_STACK_MAX (4u << 20)
#define HEAP_LIMIT_KB (32u << 10)

struct users_pattern {
  pcre2_code *code;   /* the wrapped form, or the pattern when it anchors itself */
  pcre2_code *search; /* the pattern for PCRE2's search, or NULL */
  pcre2_match_data *md; /* the JIT's (it keeps no frames in it) */
  pcre2_match_context *mc;
  int jit, search_jit, wrapped; /* wrapped: code is (?s:.*?)(?:P), not the pattern itself */
  int line_starts; /* the search starts only at line starts: PCRE2 skips a CRLF's inside */
  unsigned long refs; /* the schemas that hold it (users_pattern_share) */
};

users_pattern_t *users_pattern_share(users_pattern_t *p) {
  p->refs++;
  return p;
}

void users_pattern_free(users_pattern_t *p) {
  if (!p || --p->refs > 0) return;
  pcre2_match_data_free(p->md);
  pcre2_match_context_free(p->mc);
  pcre2_code_free(p->search);
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

/* Why the pattern cannot be wrapped without changing its answers, or NULL;
 * *group_alt: whether a group holds alternatives (a '|' inside parentheses).
 * Read as PCRE2 reads it, so that only a real '(' counts: after an escape,
 * inside \Q...\E or a character class, it is a character. */
static const char *unwrappable(const char *s, size_t n, int *group_alt) {
  size_t i = 0, depth = 0;
  int in_class = 0;
  *group_alt = 0;
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
      else
        depth++;
      i++;
    } else {
      if (s[i] == '(') depth++;
      if (s[i] == ')' && depth > 0) depth--;
      if (s[i] == '|' && depth > 0) *group_alt = 1;
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

/* Whether PCRE2 10.42's search of code misses a match ECMA-262 finds:
 * - with a first code unit that is also the one it requires last (either
 *   case), it looks for the last one after the first, even when the first
 *   is only looked ahead at ((?=b)a*b against "aab");
 * - the JIT's "early fail" of a repeat after a group with alternatives takes
 *   the repeat for the first thing the pattern matches ((a|)a*a against "a":
 *   no match; fixed in PCRE2 10.43), which group_alt (unwrappable) says:
 *   the interpreter runs that search instead. */
static int skips_a_start(const pcre2_code *code) {
  uint32_t first_type = 0, first = 0, last_type = 0, last = 0;
  pcre2_pattern_info(code, PCRE2_INFO_FIRSTCODETYPE, &first_type);
  pcre2_pattern_info(code, PCRE2_INFO_FIRSTCODEUNIT, &first);
  pcre2_pattern_info(code, PCRE2_INFO_LASTCODETYPE, &last_type);
  pcre2_pattern_info(code, PCRE2_INFO_LASTCODEUNIT, &last);
  if (first >= 'A' && first <= 'Z') first += 'a' - 'A';
  if (last >= 'A' && last <= 'Z') last += 'a' - 'A';
  return first_type == 1 && last_type == 1 && first == last;
}

/* src between head and tail, compiled with more. */
static pcre2_code *compile_in(const char *head, const char *src, size_t n, const char *tail, uint32_t more,
                              char *err, size_t err_size) {
  size_t h = strlen(head), t = strlen(tail);
  pcre2_code *code;
  char *all = malloc(h + n + t);
  if (!all) {
    snprintf(err, err_size, "not enough memory");
    return NULL;
  }
  memcpy(all, head, h);
  memcpy(all + h, src, n);
  memcpy(all + h + n, tail, t);
  code = compile(all, h + n + t, more, err, err_size);
  free(all);
  return code;
}

/* The pattern as the searches run it (see above): *search for PCRE2's
 * search (NULL when the pattern anchors itself, or when that search skips a
 * start), and the result: the pattern when it anchors itself (*wrapped 0),
 * else the wrapped form (*wrapped 1); *group_alt: the search must not run
 * with the JIT. NULL with why in err. */
static pcre2_code *compile_search(const char *src, size_t n, pcre2_code **search, int *wrapped, int *group_alt,
                                  char *err, size_t err_size) {
  /* \E ends a \Q left open, else nothing */
  static const char head[] = "(?s:.*?)(?:", tail[] = "\\E)", search_tail[] = "\\E)(?:\\n(?!))?";
  pcre2_code *code = compile(src, n, 0, err, err_size);
  uint32_t all = 0;
  const char *why;
  *search = NULL;
  *wrapped = *group_alt = 0;
  if (!code) return NULL;
  if (pcre2_pattern_info(code, PCRE2_INFO_ALLOPTIONS, &all) == 0 && (all & PCRE2_ANCHORED)) return code;
  if ((why = unwrappable(src, n, group_alt)) != NULL) {
    pcre2_code_free(code);
    snprintf(err, err_size, "it %s: not ECMA-262, and changed by a search anywhere in the value (a pattern "
             "anchored with ^ may use it)", why);
    return NULL;
  }
  *wrapped = 1;
  if (!skips_a_start(code) && !(*search = compile_in("(?:", src, n, search_tail, 0, err, err_size))) {
    pcre2_code_free(code);
    return NULL;
  }
  pcre2_code_free(code);
  if (!(code = compile_in(head, src, n, tail, PCRE2_ANCHORED, err, err_size))) {
    pcre2_code_free(*search);
    *search = NULL;
  }
  return code;
}

users_pattern_t *users_pattern_compile(const char *src, size_t n, users_pattern_stack_t **stack,
                                       char *err, size_t err_size) {
  users_pattern_t *p = calloc(1, sizeof *p);
  int group_alt;
  const char *no_jit = getenv("LUA_USERS_PCRE2_NO_JIT"); /* no static: states may compile in threads */
  if (!p) {
    snprintf(err, err_size, "not enough memory");
    return NULL;
  }
  p->refs = 1;
  if (!(p->code = compile_search(src, n, &p->search, &p->wrapped, &group_alt, err, err_size))) goto fail;
  if (p->search) {
    uint32_t first_type = 0;
    pcre2_pattern_info(p->search, PCRE2_INFO_FIRSTCODETYPE, &first_type);
    p->line_starts = first_type == 2;
  }
  p->md = pcre2_match_data_create(1, NULL); /* whether it matched: one pair is enough */
  p->mc = pcre2_match_context_create(NULL);
  if (!p->md || !p->mc) {
    snprintf(err, err_size, "not enough memory");
    goto fail;
  }
  pcre2_set_heap_limit(p->mc, HEAP_LIMIT_KB);
  if (!(no_jit && *no_jit)) {
    p->jit = pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE) == 0;
    p->search_jit = p->search && !group_alt && pcre2_jit_compile(p->search, PCRE2_JIT_COMPLETE) == 0;
  }
  if ((p->jit || p->search_jit) && !*stack) /* without one (no memory), the JIT's 32 KB and the interpreter after it */
    *stack = (users_pattern_stack_t *)pcre2_jit_stack_create(32u << 10, JIT_STACK_MAX, NULL);
  if ((p->jit || p->search_jit) && *stack) pcre2_jit_stack_assign(p->mc, NULL, (pcre2_jit_stack *)*stack);
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

/* code against s under limit: the JIT, then the interpreter when the JIT's
 * stack runs out, in a block of its own (its frames go with it). */
static int run(users_pattern_t *p, const pcre2_code *code, int jit, const char *s, size_t n, uint64_t limit) {
  pcre2_match_data *frames;
  int rc = PCRE2_ERROR_JIT_STACKLIMIT;
  pcre2_set_match_limit(p->mc, limit > UINT32_MAX ? UINT32_MAX : limit < 1 ? 1 : (uint32_t)limit);
  if (jit) rc = pcre2_match(code, (PCRE2_SPTR)s, n, 0, PCRE2_NO_UTF_CHECK, p->md, p->mc);
  if (rc != PCRE2_ERROR_JIT_STACKLIMIT) return answer(rc);
  if (!(frames = pcre2_match_data_create(1, NULL))) return USERS_PATTERN_FAILED;
  rc = pcre2_match(code, (PCRE2_SPTR)s, n, 0, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, frames, p->mc);
  pcre2_match_data_free(frames);
  return answer(rc);
}

/* Whether s holds a CRLF. */
static int has_crlf(const char *s, size_t n) {
  const char *cr = n > 1 ? memchr(s, '\r', n - 1) : NULL;
  for (; cr; cr = memchr(cr + 1, '\r', (size_t)(s + n - 1 - (cr + 1))))
    if (cr[1] == '\n') return 1;
  return 0;
}

int users_pattern_match(users_pattern_t *p, const char *s, size_t n) {
  if (p->wrapped && n > USERS_PATTERN_VALUE_MAX) return USERS_PATTERN_TOO_LONG;
  /* A search that starts only at line starts ((?m)^, a leading .*) steps
   * from a CR over its LF even where the pattern names \n: the wrapped
   * form answers such a value. */
  if (p->search && !(p->line_starts && has_crlf(s, n))) {
    uint64_t per_start = (p->search_jit ? SEARCH_LIMIT : SEARCH_LIMIT_NO_JIT) / (n + 1);
    int r = run(p, p->search, p->search_jit, s, n, per_start < START_LIMIT ? per_start : START_LIMIT);
    if (r != USERS_PATTERN_COSTLY) return r;
  }
  return run(p, p->code, p->jit, s, n, p->wrapped ? WRAPPED_LIMIT : MATCH_LIMIT);
}
