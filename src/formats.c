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

/* --- patterns ------------------------------------------------------------ */

/* One atom: a literal, '.', or a [class]. Sets *end past it. Returns 1 when
 * byte c matches, 0 when not, -1 when the pattern is malformed. */
static int atom_match(const char *p, const char **end, int c) {
  if (*p == '[') {
    int neg = 0, hit = 0;
    p++;
    if (*p == '^') { neg = 1; p++; }
    while (*p && *p != ']') {
      int lo = (unsigned char)*p, hi;
      if (lo == '\\' && p[1]) {
        if ((p[1] >= 'a' && p[1] <= 'z') || (p[1] >= 'A' && p[1] <= 'Z')) return -1; /* \d, \w ... */
        lo = (unsigned char)*++p;
      }
      hi = lo;
      if (p[1] == '-' && p[2] && p[2] != ']') { hi = (unsigned char)p[2]; p += 2; }
      if (c >= lo && c <= hi) hit = 1;
      p++;
    }
    if (*p != ']') return -1;
    *end = p + 1;
    return hit != neg;
  }
  if (*p == '\\' && p[1]) {
    if ((p[1] >= 'a' && p[1] <= 'z') || (p[1] >= 'A' && p[1] <= 'Z')) return -1; /* \d, \w ... */
    *end = p + 2;
    return c == (unsigned char)p[1];
  }
  if (strchr("()|", *p)) return -1; /* groups and alternation: not supported */
  *end = p + 1;
  return *p == '.' ? 1 : c == (unsigned char)*p;
}

/* Quantifier after an atom: {m}, {m,}, {m,n}, *, +, ?. */
static const char *quantifier(const char *p, long *min, long *max) {
  *min = *max = 1;
  if (*p == '*') { *min = 0; *max = -1; return p + 1; }
  if (*p == '+') { *min = 1; *max = -1; return p + 1; }
  if (*p == '?') { *min = 0; *max = 1; return p + 1; }
  if (*p == '{') {
    long a = 0, b;
    p++;
    while (*p >= '0' && *p <= '9') {
      a = a * 10 + (*p++ - '0');
      if (a > 65535) return NULL; /* no contract counts that high */
    }
    b = a;
    if (*p == ',') {
      p++;
      if (*p == '}') b = -1;
      else for (b = 0; *p >= '0' && *p <= '9';) {
        b = b * 10 + (*p++ - '0');
        if (b > 65535) return NULL;
      }
    }
    if (*p != '}' || (b >= 0 && b < a)) return NULL;
    *min = a; *max = b;
    return p + 1;
  }
  return p;
}

static int match_here(const char *p, const char *s, size_t n) {
  const char *after_atom, *next;
  long min, max, k;
  int r;
  if (*p == '\0') return 1; /* no '$': whatever follows is allowed */
  if (*p == '$' && p[1] == '\0') return n == 0;
  r = atom_match(p, &after_atom, n ? (unsigned char)*s : -1);
  if (r < 0) return -1;
  next = quantifier(after_atom, &min, &max);
  if (!next) return -1;
  /* Greedy count of how many bytes the atom matches, then back off. */
  for (k = 0; (max < 0 || k < max) && (size_t)k < n; k++) {
    const char *e;
    if (atom_match(p, &e, (unsigned char)s[k]) != 1) break;
  }
  for (; k >= min; k--) {
    r = match_here(next, s + k, n - (size_t)k);
    if (r != 0) return r;
  }
  return 0;
}

int users_pattern_match(const char *pat, const char *s, size_t n) {
  size_t i;
  int r;
  /* '.' and negated classes match bytes here, not characters: with text
   * beyond ASCII the answer could be wrong, so say it cannot be checked. */
  for (i = 0; i < n; i++)
    if ((unsigned char)s[i] >= 0x80 && (strchr(pat, '.') || strstr(pat, "[^"))) return -1;
  if (*pat == '^') return match_here(pat + 1, s, n);
  for (i = 0; i <= n; i++) { /* unanchored start: try every offset */
    r = match_here(pat, s + i, n - i);
    if (r != 0) return r;
  }
  return 0;
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
