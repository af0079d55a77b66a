#include <stdlib.h>
#include <string.h>
#include "formats.h"
#include "rules.h"

static int cmp_key(const void *key, const void *elem) {
  return strcmp((const char *)key, *(char *const *)elem);
}

/* A short list is searched by the values' interned pointers first: a match
 * needs no compare. A miss (or a long list) takes the binary search. */
static int enum_has(const users_schema_t *s, const char *str, size_t n) {
  size_t i;
  if (s->n_enums <= 16)
    for (i = 0; i < s->n_enums; i++)
      if (str == s->enum_strings[i]) return 1;
  return s->n_enums && strlen(str) == n && bsearch(str, s->enums, s->n_enums, sizeof(char *), cmp_key);
}

static int format_ok(int format, const char *s, size_t n) {
  switch (format) {
  case USERS_F_EMAIL: return users_is_email(s, n);
  case USERS_F_UUID: return users_is_uuid(s, n);
  case USERS_F_DATE_TIME: return users_is_date_time(s, n);
  case USERS_F_DATE: return users_is_date(s, n);
  case USERS_F_URI: return users_is_uri(s, n);
  case USERS_F_HOSTNAME: return users_is_hostname(s, n);
  case USERS_F_IPV4: return users_is_ipv4(s, n);
  case USERS_F_IPV6: return users_is_ipv6(s, n);
  default: return 1;
  }
}

/* How many alternatives hold, as bits: any_of needs one, one_of exactly
 * one. */
typedef int (*holds_fn)(const users_schema_t *a, const void *value);
static unsigned alternatives(const users_schema_t *s, holds_fn holds, const void *value) {
  size_t i, n = 0;
  if (s->n_any_of) {
    for (i = 0; i < s->n_any_of && !n; i++) n += (size_t)holds(&s->any_of[i], value);
    if (!n) return USERS_P_ANY_OF;
  }
  for (i = 0, n = 0; i < s->n_one_of && n < 2; i++) n += (size_t)holds(&s->one_of[i], value);
  if (s->n_one_of && n != 1) return n ? USERS_P_MANY_OF : USERS_P_ONE_OF;
  return 0;
}

/* Whether alternative a holds for the string. In JSON an alternative that
 * says integer or number never holds for text (the writers write a string
 * as a string unless the value's own schema says a number, so "1" is never
 * 1 there); in URL text (a path parameter) "123" and 123 are the same
 * bytes, so integer text holds for it as the number it spells. */
static unsigned string_problems(const users_schema_t *s, const char *str, size_t n, long chars, int url_text);
static int text_holds(const users_schema_t *a, const char *str, size_t n, long chars, int url_text) {
  users_num_t num;
  if (a->read_only) return 0;
  if (a->type <= USERS_T_STRING) return !string_problems(a, str, n, chars, url_text);
  if (!url_text || (a->type != USERS_T_INTEGER && a->type != USERS_T_NUMBER) || !users_is_integer_text(str, n))
    return 0;
  users_num_from_text(&num, str, n);
  return !users_number_problems(a, &num);
}

static unsigned string_problems(const users_schema_t *s, const char *str, size_t n, long chars, int url_text) {
  unsigned bad = 0, rules = s->string_rules;
  if (chars < 0) return USERS_P_UTF8;
  if (!rules) return 0;
  if (rules & USERS_S_LENGTH) {
    if (s->min_length >= 0 && chars < s->min_length) bad |= USERS_P_MIN;
    if (s->max_length >= 0 && chars > s->max_length) bad |= USERS_P_MAX;
  }
  if ((rules & USERS_S_FORMAT) && !format_ok(s->format, str, n)) bad |= USERS_P_FORMAT;
  if ((rules & USERS_S_PATTERN) && !(bad & USERS_P_MAX)) { /* a value too long already never runs it */
    int r = users_pattern_match(s->re, str, n);
    if (r == 0) bad |= USERS_P_PATTERN;
    else if (r == USERS_PATTERN_COSTLY) bad |= USERS_P_PATTERN_COSTLY;
    else if (r == USERS_PATTERN_TOO_LONG) bad |= USERS_P_PATTERN_LONG;
    else if (r < 0) bad |= USERS_P_PATTERN_FAILED;
  }
  if ((rules & USERS_S_ENUM) && !enum_has(s, str, n)) bad |= USERS_P_ENUM;
  if (bad) return bad;
  if (rules & USERS_S_ANY_OF) {
    size_t i;
    for (i = 0; i < s->n_any_of && !text_holds(&s->any_of[i], str, n, chars, url_text); i++) {}
    if (i == s->n_any_of) return USERS_P_ANY_OF;
  }
  if (rules & USERS_S_ONE_OF) { /* as any_of, counting to two */
    /* URL text is read once as text, once as the number it spells: the
     * bytes are the same either way, so "123" under one_of {integer,
     * string} holds when one reading has exactly one alternative. */
    size_t i, as_text = 0, as_number = 0;
    for (i = 0; i < s->n_one_of && (as_text < 2 || (url_text && as_number < 2)); i++) { /* two: the answer is known */
      if (text_holds(&s->one_of[i], str, n, chars, 0)) as_text++;
      else if (url_text && text_holds(&s->one_of[i], str, n, chars, 1)) as_number++;
    }
    if (as_text != 1 && as_number != 1) return as_text + as_number ? USERS_P_MANY_OF : USERS_P_ONE_OF;
  }
  return 0;
}

unsigned users_string_problems(const users_schema_t *s, const char *str, size_t n, long chars) {
  return string_problems(s, str, n, chars, 0);
}

unsigned users_url_text_problems(const users_schema_t *s, const char *str, size_t n, long chars) {
  return string_problems(s, str, n, chars, 1);
}

unsigned users_string_problems_known(const users_known_t *known, const users_schema_t *s, const char *str,
                                     size_t n, long chars) {
  int i;
  for (i = 0; known && i < known->n; i++)
    if (known->v[i].str == str && known->v[i].s == s) return known->v[i].bad;
  return users_string_problems(s, str, n, chars);
}

static int number_holds(const users_schema_t *a, const void *value) {
  const users_num_t *v = (const users_num_t *)value;
  if (a->read_only) return 0;
  switch (a->type) {
  case USERS_T_INTEGER: if (!v->is_int) return 0; /* fall through */
  case USERS_T_ANY: case USERS_T_NUMBER: return !users_number_problems(a, v);
  default: return 0;
  }
}

unsigned users_number_problems(const users_schema_t *s, const users_num_t *v) {
  unsigned bad = 0;
  if (s->bounds) {
    if ((s->bounds & USERS_B_MIN) && users_num_cmp(v, &s->minimum) < 0) bad |= USERS_P_BELOW;
    if ((s->bounds & USERS_B_MAX) && users_num_cmp(v, &s->maximum) > 0) bad |= USERS_P_ABOVE;
    if ((s->bounds & USERS_B_XMIN) && users_num_cmp(v, &s->xminimum) <= 0) bad |= USERS_P_XBELOW;
    if ((s->bounds & USERS_B_XMAX) && users_num_cmp(v, &s->xmaximum) >= 0) bad |= USERS_P_XABOVE;
    if ((s->bounds & USERS_B_MULT) && !users_num_multiple(v, &s->multiple_of)) bad |= USERS_P_MULTIPLE;
  }
  if (s->has_enum) {
    size_t i;
    for (i = 0; i < s->n_enum_nums && users_num_cmp(v, &s->enum_nums[i]) != 0; i++) {}
    if (i == s->n_enum_nums) bad |= USERS_P_ENUM;
  }
  if (!bad && (s->n_any_of || s->n_one_of)) bad = alternatives(s, number_holds, v);
  return bad;
}

static int boolean_holds(const users_schema_t *a, const void *value) {
  return !a->read_only && (a->type == USERS_T_ANY || a->type == USERS_T_BOOLEAN) &&
         !users_boolean_problems(a, *(const int *)value);
}

unsigned users_boolean_problems(const users_schema_t *s, int b) {
  if (s->has_enum && !(s->enum_bools & (b ? USERS_E_TRUE : USERS_E_FALSE))) return USERS_P_ENUM;
  return s->n_any_of || s->n_one_of ? alternatives(s, boolean_holds, &b) : 0;
}

static int null_holds(const users_schema_t *a, const void *value) {
  (void)value;
  return !a->read_only && users_null_ok(a);
}

int users_null_ok(const users_schema_t *s) {
  if (s->nullable) return 1;
  if (s->type != USERS_T_ANY || (!s->n_any_of && !s->n_one_of)) return 0;
  return !alternatives(s, null_holds, NULL);
}
