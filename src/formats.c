#include <string.h>
#include "formats.h"

long utf8_length(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  long count = 0;
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

static int is_alnum(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Conservative: the dot-atom form of RFC 5322 with an ASCII domain of at
 * least two labels. Stricter than every server we send to, so what passes
 * here is never refused there for its form. */
int is_email(const char *s, size_t n) {
  const char *at = memchr(s, '@', n);
  size_t local, i, label = 0;
  int labels = 1, tld_alpha = 1;
  if (!at || n > 254) return 0;
  local = (size_t)(at - s);
  if (local == 0 || local > 64 || s[0] == '.' || s[local - 1] == '.') return 0;
  for (i = 0; i < local; i++) {
    int c = (unsigned char)s[i];
    if (is_alnum(c) || (c && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL)) continue;
    if (c == '.' && s[i + 1] != '.') continue;
    return 0;
  }
  for (i = local + 1; i < n; i++) {
    int c = (unsigned char)s[i];
    if (c == '.') {
      if (label == 0 || s[i - 1] == '-') return 0;
      labels++;
      label = 0;
      tld_alpha = 1;
      continue;
    }
    if (!is_alnum(c) && c != '-') return 0;
    if (c == '-' && label == 0) return 0;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) tld_alpha = 0;
    if (++label > 63) return 0;
  }
  return labels >= 2 && label >= 2 && tld_alpha && s[n - 1] != '-';
}

int is_uuid(const char *s, size_t n) {
  size_t i;
  if (n != 36) return 0;
  for (i = 0; i < 36; i++) {
    int c = (unsigned char)s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return 0;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                 (c >= 'A' && c <= 'F'))) {
      return 0;
    }
  }
  return 1;
}

int is_integer_text(const char *s, size_t n) {
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

int pattern_match(const char *pat, const char *s, size_t n) {
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

const char *sniff_image(const unsigned char *p, size_t n) {
  if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) return "image/png";
  if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return "image/jpeg";
  if (n >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0))
    return "image/gif";
  if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
    return "image/webp";
  if (n >= 2 && p[0] == 'B' && p[1] == 'M') return "image/bmp";
  return NULL;
}
