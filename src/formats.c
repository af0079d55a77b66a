#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include "formats.h"

/* Nonzero when one of the eight bytes in w is not ASCII or, with json_plain,
 * not taken by JSON as it is (a control character, '"' or '\\'): the
 * classic "has a byte less than / equal to" bit tricks. */
static uint64_t not_plain(uint64_t w, int json_plain) {
  const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
  uint64_t bad = w, q, b;
  if (json_plain) {
    q = w ^ (ones * '"');
    b = w ^ (ones * '\\');
    bad |= (w - ones * 0x20) & ~w; /* a byte below 0x20 */
    bad |= (q - ones) & ~q;        /* a byte equal to '"' */
    bad |= (b - ones) & ~b;        /* a byte equal to '\\' */
  }
  return bad & highs;
}

#define X16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
static const unsigned char json_plain_byte[256] = {
  X16(0), X16(0),                                  /* control characters */
  1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,  /* 0x20: '"' is not */
  X16(1), X16(1),
  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,  /* 0x50: '\\' is not */
  X16(1), X16(1)};                                 /* 0x80 up: 0 */
#undef X16

/* Length of the leading run of ASCII bytes, eight at a time: most text is
 * this run from end to end. */
static size_t ascii_prefix(const char *s, size_t n) {
  size_t i = 0;
  uint64_t w;
  if (n >= 8) {
    for (; i + 8 <= n; i += 8) {
      memcpy(&w, s + i, 8); /* unaligned-safe; compiles to one load */
      if (not_plain(w, 0)) break;
    }
    if (i + 8 > n) { /* the tail: the last eight bytes, overlapping */
      memcpy(&w, s + n - 8, 8);
      if (!not_plain(w, 0)) return n;
    }
  }
  while (i < n && (unsigned char)s[i] < 0x80) i++;
  return i;
}

size_t users_json_plain_copy(char *out, const char *s, size_t n) {
  size_t i = 0;
  uint64_t w;
  if (n >= 8) {
    for (; i + 8 <= n; i += 8) {
      memcpy(&w, s + i, 8);
      if (not_plain(w, 1)) break;
      memcpy(out + i, &w, 8);
    }
    if (i + 8 > n) { /* the last eight bytes, overlapping what is copied */
      memcpy(&w, s + n - 8, 8);
      if (!not_plain(w, 1)) {
        memcpy(out + n - 8, &w, 8);
        return n;
      }
    }
  }
  for (; i < n && json_plain_byte[(unsigned char)s[i]]; i++) out[i] = s[i];
  return i;
}

long users_utf8_length(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = ascii_prefix(str, n);
  long count = (long)i;
  while (i < n) {
    unsigned c = s[i];
    size_t need;
    unsigned cp, min;
    if (c < 0x80) { i++; count++; continue; }
    if ((c & 0xE0) == 0xC0) { need = 1; cp = c & 0x1F; min = 0x80; }
    else if ((c & 0xF0) == 0xE0) { need = 2; cp = c & 0x0F; min = 0x800; }
    else if ((c & 0xF8) == 0xF0) { need = 3; cp = c & 0x07; min = 0x10000; }
    else return -1;
    if (n - i <= need) return -1;
    {
      size_t k;
      for (k = 1; k <= need; k++) {
        if ((s[i + k] & 0xC0) != 0x80) return -1;
        cp = (cp << 6) | (s[i + k] & 0x3F);
      }
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
    i += need + 1;
    count++;
  }
  return count;
}

/* Character classes for email addresses: the dot-atom "atext" of RFC 5322,
 * and letters and digits for domain labels. */
enum { ATEXT = 1, ALNUM = 2, ALPHA = 4, LETTER = ATEXT | ALNUM | ALPHA, DIGIT = ATEXT | ALNUM };
static const unsigned char email_class[256] = {
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
  /*  !  "  #  $  %  &  '  (  )  *  +  ,  -  .  / */
  0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 1,
  DIGIT, DIGIT, DIGIT, DIGIT, DIGIT, DIGIT, DIGIT, DIGIT, DIGIT, DIGIT,
  0, 0, 0, 1, 0, 1, /* : ; < = > ? */
  0, LETTER, LETTER, LETTER, LETTER, LETTER, LETTER, LETTER, /* @ A-G */
  LETTER, LETTER, LETTER, LETTER, LETTER, LETTER, LETTER, LETTER,
  LETTER, LETTER, LETTER, LETTER, LETTER, LETTER, LETTER, LETTER,
  LETTER, LETTER, LETTER, 0, 0, 0, 1, 1, /* X-Z [ \ ] ^ _ */
  1, LETTER, LETTER, LETTER, LETTER, LETTER, LETTER, LETTER, /* ` a-g */
  LETTER, LETTER, LETTER, LETTER, LETTER, LETTER, LETTER, LETTER,
  LETTER, LETTER, LETTER, LETTER, LETTER, LETTER, LETTER, LETTER,
  LETTER, LETTER, LETTER, 1, 1, 1, 1, 0}; /* x-z { | } ~ DEL; 0x80 up: 0 */

/* Conservative: the dot-atom form of RFC 5322 with an ASCII domain of at
 * least two labels. Stricter than every server we send to, so what passes
 * here is never refused there for its form. */
int users_is_email(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t local = 0, i, label = 0;
  int labels = 1, tld_alpha = 1;
  if (n > 254) return 0;
  while (local < n && ((email_class[s[local]] & ATEXT) ||
                       (s[local] == '.' && local + 1 < n && s[local + 1] != '.')))
    local++;
  if (local == n || s[local] != '@') return 0;
  if (local == 0 || local > 64 || s[0] == '.' || s[local - 1] == '.') return 0;
  for (i = local + 1; i < n; i++) {
    unsigned c = s[i], cls = email_class[c];
    if (c == '.') {
      if (label == 0 || s[i - 1] == '-') return 0;
      labels++;
      label = 0;
      tld_alpha = 1;
      continue;
    }
    if (!(cls & ALNUM) && c != '-') return 0;
    if (c == '-' && label == 0) return 0;
    if (!(cls & ALPHA)) tld_alpha = 0;
    if (++label > 63) return 0;
  }
  return labels >= 2 && label >= 2 && tld_alpha && s[n - 1] != '-';
}

/* High bit of each byte of w (all bytes below 0x80) set when lo <= byte <= hi:
 * adding 0x80 - lo sets the high bit from lo up, adding 0x7f - hi from hi + 1
 * up, and no sum carries into the next byte. */
static uint64_t bytes_between(uint64_t w, unsigned lo, unsigned hi) {
  const uint64_t ones = 0x0101010101010101ULL;
  return (w + ones * (0x80 - lo)) & ~(w + ones * (0x7f - hi)) & (ones * 0x80);
}

/* Eight hex digits, but for the bytes where dash_mask has 0xff: dashes the
 * caller checked already, counted as digits. */
static int hex_word(const char *s, uint64_t dash_mask) {
  const uint64_t ones = 0x0101010101010101ULL;
  uint64_t w;
  memcpy(&w, s, 8);
  w = (w & ~dash_mask) | (ones * '0' & dash_mask);
  if (w & (ones * 0x80)) return 0;
  return (bytes_between(w, '0', '9') | bytes_between(w | ones * 0x20, 'a', 'f')) == ones * 0x80;
}

/* 8-4-4-4-12 hex digits, checked as five overlapping words (little- or
 * big-endian alike: the masks name byte positions through memcpy order). */
int users_is_uuid(const char *str, size_t n) {
  uint64_t at4 = 0, at1_6 = 0;
  if (n != 36 || str[8] != '-' || str[13] != '-' || str[18] != '-' || str[23] != '-') return 0;
  memset((char *)&at4 + 4, 0xff, 1);      /* s[13] in the word at 9 */
  memset((char *)&at1_6 + 1, 0xff, 1);    /* s[18] and s[23] in the word at 17 */
  memset((char *)&at1_6 + 6, 0xff, 1);
  return hex_word(str, 0) && hex_word(str + 9, at4) && hex_word(str + 17, at1_6) &&
         hex_word(str + 25, 0) && hex_word(str + 28, 0);
}

int users_is_integer_text(const char *s, size_t n) {
  size_t i = 0, k;
  if (n && s[0] == '-') i = 1;
  if (i == n || n - i > 19) return 0;
  if (s[i] == '0' && n - i > 1) return 0;
  for (k = i; k < n; k++)
    if (s[k] < '0' || s[k] > '9') return 0;
  /* 19 digits may still be beyond 64 bits: compare with the limits. */
  if (n - i == 19 && memcmp(s + i, i ? "9223372036854775808" : "9223372036854775807", 19) > 0)
    return 0;
  return 1;
}

/* --- date-time and date (RFC 3339) --------------------------------------- */

/* n digits at s as a number, or -1. */
static int digits(const char *s, int n) {
  int v = 0, i;
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

static int days_in_month(int y, int m) {
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : days[m - 1];
}

/* full-date: YYYY-MM-DD, a day the calendar has. */
int users_is_date(const char *s, size_t n) {
  int y, m, d;
  if (n != 10 || s[4] != '-' || s[7] != '-') return 0;
  y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
  return y >= 0 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

/* full-date "T" partial-time time-offset; T and Z in either case; second
 * 60 only where it is 23:59 in UTC (a leap second). */
int users_is_date_time(const char *s, size_t n) {
  int h, mi, sec, oh = 0, om = 0, sign = 0;
  size_t i = 19;
  if (n < 20 || !users_is_date(s, 10) || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
      s[16] != ':')
    return 0;
  h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
  if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60) return 0;
  if (s[i] == '.') {
    size_t start = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    if (i == start) return 0;
  }
  if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z')) {
    sign = 0;
  } else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    sign = s[i] == '+' ? 1 : -1;
    oh = digits(s + i + 1, 2), om = digits(s + i + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return 0;
  } else {
    return 0;
  }
  if (sec == 60) { /* the minute in UTC must be 23:59 */
    int utc = ((h * 60 + mi - sign * (oh * 60 + om)) % 1440 + 1440) % 1440;
    if (utc != 23 * 60 + 59) return 0;
  }
  return 1;
}

/* --- hostname (RFC 1123), IP addresses ------------------------------------ */

static int is_alnum(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Labels of 1..63 letters, digits and '-' (neither first nor last), dot
 * separated, at most 253 characters; no trailing dot (conservative: what
 * passes here no server refuses for its form). */
int users_is_hostname(const char *s, size_t n) {
  size_t i, label = 0;
  if (n == 0 || n > 253) return 0;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '.') {
      if (label == 0 || s[i - 1] == '-') return 0;
      label = 0;
    } else if (is_alnum(c) || (c == '-' && label > 0)) {
      if (++label > 63) return 0;
    } else {
      return 0;
    }
  }
  return label > 0 && s[n - 1] != '-';
}

/* inet_pton on a NUL-terminated copy: text only, no zone, no NUL inside. */
static int pton(int family, const char *s, size_t n) {
  char text[INET6_ADDRSTRLEN];
  unsigned char addr[sizeof(struct in6_addr)];
  if (n == 0 || n >= sizeof text || memchr(s, '\0', n)) return 0;
  memcpy(text, s, n);
  text[n] = '\0';
  return inet_pton(family, text, addr) == 1;
}

int users_is_ipv4(const char *s, size_t n) { return n <= 15 && pton(AF_INET, s, n); }
int users_is_ipv6(const char *s, size_t n) { return pton(AF_INET6, s, n); }

/* --- uri (RFC 3986 absolute URI) ------------------------------------------ */

enum { U_UNRESERVED = 1, U_SUB_DELIM = 2 };

static int uri_class(unsigned char c) {
  if (is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~') return U_UNRESERVED;
  if (c && strchr("!$&'()*+,;=", c)) return U_SUB_DELIM;
  return 0;
}

static int is_hex(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* s[from, to) holds only unreserved, sub-delims, valid %XX and the bytes
 * of extra. */
static int uri_chars(const char *s, size_t from, size_t to, const char *extra) {
  size_t i;
  for (i = from; i < to; i++) {
    unsigned char c = (unsigned char)s[i];
    if (uri_class(c) || (c && strchr(extra, c))) continue;
    if (c == '%' && i + 2 < to && is_hex((unsigned char)s[i + 1]) &&
        is_hex((unsigned char)s[i + 2])) {
      i += 2;
      continue;
    }
    return 0;
  }
  return 1;
}

/* authority = [ userinfo "@" ] host [ ":" port ], in s[from, to). */
static int uri_authority(const char *s, size_t from, size_t to) {
  size_t at = from, i, host_end;
  for (i = from; i < to; i++)
    if (s[i] == '@') at = i + 1;
  if (at > from && !uri_chars(s, from, at - 1, ":")) return 0;
  if (at < to && s[at] == '[') { /* IP-literal: an IPv6 address, or IPvFuture */
    const char *close = memchr(s + at, ']', to - at);
    if (!close) return 0;
    host_end = (size_t)(close - s) + 1;
    if (s[at + 1] == 'v' || s[at + 1] == 'V') {
      if (!uri_chars(s, at + 1, host_end - 1, ":")) return 0;
    } else if (!users_is_ipv6(s + at + 1, host_end - at - 2)) {
      return 0;
    }
  } else {
    for (host_end = at; host_end < to && s[host_end] != ':'; host_end++) {}
    if (!uri_chars(s, at, host_end, "")) return 0;
  }
  if (host_end == to) return 1;
  if (s[host_end] != ':') return 0;
  for (i = host_end + 1; i < to; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  return 1;
}

/* scheme ":" hier-part [ "?" query ] [ "#" fragment ]: ASCII only (an IRI
 * is not a URI), every character in its place, every %XX whole. */
int users_is_uri(const char *s, size_t n) {
  size_t i = 0, end;
  if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) return 0;
  while (i < n && (is_alnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')) i++;
  if (i == n || s[i] != ':') return 0;
  i++;
  if (n - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
    for (end = i + 2; end < n && s[end] != '/' && s[end] != '?' && s[end] != '#'; end++) {}
    if (!uri_authority(s, i + 2, end)) return 0;
    i = end;
  }
  for (end = i; end < n && s[end] != '#'; end++) {} /* path and query */
  if (!uri_chars(s, i, end, ":@/?")) return 0;
  return end == n || uri_chars(s, end + 1, n, ":@/?");
}

const char *users_sniff_image(const unsigned char *p, size_t n) {
  if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) return "image/png";
  if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return "image/jpeg";
  if (n >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0))
    return "image/gif";
  if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
    return "image/webp";
  if (n >= 2 && p[0] == 'B' && p[1] == 'M') return "image/bmp";
  return NULL;
}
