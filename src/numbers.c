#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "numbers.h"

#define TWO_63 9223372036854775808.0

/* i against a finite d, exactly: no rounding of either. */
static int cmp_int_double(long long i, double d) {
  double fl;
  long long di;
  if (d >= TWO_63) return -1;
  if (d < -TWO_63) return 1;
  fl = floor(d); /* within [-2^63, 2^63): exact as a long long */
  di = (long long)fl;
  if (i != di) return i < di ? -1 : 1;
  return fl < d ? -1 : 0;
}

int users_num_cmp(const users_num_t *a, const users_num_t *b) {
  if (a->is_int && b->is_int) return (a->i > b->i) - (a->i < b->i);
  if (a->is_int) return cmp_int_double(a->i, b->d);
  if (b->is_int) return -cmp_int_double(b->i, a->d);
  return (a->d > b->d) - (a->d < b->d);
}

/* An integral double within 64 bits, as a long long. */
static int as_int(const users_num_t *v, long long *out) {
  if (v->is_int) { *out = v->i; return 1; }
  if (v->d != floor(v->d) || v->d >= TWO_63 || v->d < -TWO_63) return 0;
  *out = (long long)v->d;
  return 1;
}

int users_num_multiple(const users_num_t *v, const users_num_t *m) {
  long long vi, mi;
  double dv, dm, q, r;
  if (as_int(m, &mi) && mi > 0 && as_int(v, &vi)) return vi % mi == 0;
  dv = v->is_int ? (double)v->i : v->d;
  dm = m->is_int ? (double)m->i : m->d;
  r = fmod(dv, dm); /* exact: the remainder of the two doubles */
  if (r == 0) return 1;
  q = dv / dm;
  if (!isfinite(q)) return 0;
  /* 0.3 / 0.1 is 2.9999999999999996: the decimal the caller means is a
   * multiple, the doubles are not quite */
  return fabs(q - nearbyint(q)) <= 8 * DBL_EPSILON * fmax(1.0, fabs(q));
}

void users_num_from_text(users_num_t *out, const char *s, size_t n) {
  char buf[24];
  if (n >= sizeof buf) n = sizeof buf - 1; /* integer text has at most 20 bytes */
  memcpy(buf, s, n);
  buf[n] = '\0';
  out->is_int = 1;
  out->i = strtoll(buf, NULL, 10);
  out->d = 0;
}

size_t users_num_text(char *out, const users_num_t *v) {
  int n, prec;
  if (v->is_int) return (size_t)snprintf(out, 32, "%lld", v->i);
  /* the shortest of 15, 16 and 17 digits that reads back as the same double */
  for (prec = 15; prec < 17; prec++) {
    n = snprintf(out, 32, "%.*g", prec, v->d);
    if (strtod(out, NULL) == v->d) return (size_t)n;
  }
  return (size_t)snprintf(out, 32, "%.17g", v->d);
}
