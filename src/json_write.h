/* JSON text into a buffer: the typed writing that both JSON encoders
 * (encode_json.c, marshal.c) and the precompiled "name": keys of provider.c
 * share. Pure C: a writer returns 0 when the buffer cannot grow, never raises. */
#ifndef USERS_JSON_WRITE_H
#define USERS_JSON_WRITE_H

#include <stddef.h>
#include "buf.h"
#include "formats.h"
#include "numbers.h"

/* The metatable that marks a decoded array, so that it encodes back as one
 * even when empty (as cjson's array_mt does). */
#define USERS_ARRAY_MT "users.array"

/* users_json_string's answer when s was plain ASCII from end to end: copied
 * as is, so the text has n characters (a validator need not count them). */
#define USERS_JSON_ASCII 2

/* The rest of a string whose plain start (plain bytes) is copied already. */
int users_json_string_rest(users_buf_t *b, const char *s, size_t n, size_t plain);

/* s quoted and escaped ('/' as is, control characters as \u00XX).
 * Inline: the plain start is copied eight bytes at a time, and most strings
 * are plain from end to end. Returns 0, 1 or USERS_JSON_ASCII. */
static inline int users_json_string(users_buf_t *b, const char *s, size_t n) {
  size_t plain;
  if (!users_buf_room(b, n + 2)) return 0;
  plain = users_json_plain_copy(b->data + b->len + 1, s, n);
  if (plain < n) return users_json_string_rest(b, s, n, plain);
  b->data[b->len] = '"';
  b->data[b->len + n + 1] = '"';
  b->len += n + 2;
  return USERS_JSON_ASCII;
}

int users_json_integer(users_buf_t *b, long long i);
/* An integer's digits, or a finite double in the fewest significant digits
 * (15, 16 or 17) that read back as the same double (the caller refuses NaN
 * and infinity, which JSON cannot spell). */
int users_json_number(users_buf_t *b, const users_num_t *v);
#define users_json_boolean(b, v) \
  ((v) ? users_buf_add((b), "true", 4) : users_buf_add((b), "false", 5))
#define users_json_null(b) users_buf_add((b), "null", 4)

#endif
