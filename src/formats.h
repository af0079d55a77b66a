/* String formats: UTF-8, email, UUID, integer text, patterns, image types
 * and JSON's plain bytes, for validation and the JSON writers. Pure C. */
#ifndef USERS_FORMATS_H
#define USERS_FORMATS_H

#include <stddef.h>

/* Number of code points when s is valid UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF), or -1. */
long users_utf8_length(const char *s, size_t n);
/* Copies the leading run of bytes that JSON takes as they are (ASCII but
 * control characters, '"' and '\\') of s to out, which has room for n,
 * eight bytes at a time; returns its length. */
size_t users_json_plain_copy(char *out, const char *s, size_t n);
int users_is_email(const char *s, size_t n);
int users_is_uuid(const char *s, size_t n);
/* Decimal integer, optional leading '-', no leading zeros, at most 19 digits. */
int users_is_integer_text(const char *s, size_t n);
/* Anchored match of s against an ECMA-style pattern of the simple kind the
 * vendor documents use: ^ $ literals, . and [classes] with {m,n} * + ?.
 * Returns 1 match, 0 no match, -1 pattern not understood. */
int users_pattern_match(const char *pat, const char *s, size_t n);
/* "image/png" etc. from the first bytes of a file, or NULL. */
const char *users_sniff_image(const unsigned char *p, size_t n);

#endif
