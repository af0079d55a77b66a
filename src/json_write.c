#include <stdio.h>
#include <string.h>
#include "json_write.h"

int users_json_string_rest(users_buf_t *b, const char *s, size_t n, size_t plain) {
  static const char hex[] = "0123456789abcdef";
  size_t i, run;
  b->data[b->len] = '"'; /* the room for n + 2 bytes is there: see users_json_string */
  b->len += 1 + plain;
  for (i = run = plain; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *esc = NULL;
    char u[6];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    if (!users_buf_add(b, s + run, i - run)) return 0;
    run = i + 1;
    switch (c) {
    case '"': esc = "\\\""; break;
    case '\\': esc = "\\\\"; break;
    case '\n': esc = "\\n"; break;
    case '\r': esc = "\\r"; break;
    case '\t': esc = "\\t"; break;
    case '\b': esc = "\\b"; break;
    case '\f': esc = "\\f"; break;
    default:
      memcpy(u, "\\u00", 4);
      u[4] = hex[c >> 4];
      u[5] = hex[c & 15];
      if (!users_buf_add(b, u, 6)) return 0;
    }
    if (esc && !users_buf_add(b, esc, 2)) return 0;
  }
  return users_buf_add(b, s + run, n - run) && users_buf_addc(b, '"');
}

/* Digits from the end of a small array: what snprintf("%lld") writes, without
 * parsing a format for every number of every update. */
int users_json_integer(users_buf_t *b, long long i) {
  char num[24], *p = num + sizeof num;
  unsigned long long u = i < 0 ? 0ULL - (unsigned long long)i : (unsigned long long)i;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (i < 0) *--p = '-';
  return users_buf_add(b, p, (size_t)(num + sizeof num - p));
}

int users_json_number(users_buf_t *b, const users_num_t *v) {
  char num[40];
  if (v->is_int) return users_json_integer(b, v->i);
  return users_buf_add(b, num, users_num_text(num, v));
}
