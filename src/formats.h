/* String formats: UTF-8, email, UUID, date-time, URI, hostname, IP
 * addresses, integer text, image types
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
/* The formats of JSON Schema / OpenAPI a declaration may name (see
 * lua/users/providers/README.md for what each takes). */
int users_is_date(const char *s, size_t n);
int users_is_date_time(const char *s, size_t n);
int users_is_hostname(const char *s, size_t n);
int users_is_ipv4(const char *s, size_t n);
int users_is_ipv6(const char *s, size_t n);
int users_is_uri(const char *s, size_t n);
/* "image/png" etc. from the first bytes of a file, or NULL. */
const char *users_sniff_image(const unsigned char *p, size_t n);

#endif
