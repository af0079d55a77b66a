/* 64-bit digests and a compact multiset of them, for bulk-run journals:
 *   digest(s)      -> 16 hex digits       a 64-bit digest of the string s
 *   digest_set()   -> set                 a multiset of digests:
 *     set:add(d)   -> count               one more of d (16 hex digits)
 *     set:take(d)  -> boolean             one fewer of d, if there was one
 *     set:count(d) -> count
 *     set:size()   -> the sum of the counts
 *
 * A journal of a million confirmed items is a million digests: here they
 * take 12 bytes a slot (a 64-bit key and a 32-bit count, at most 3/4 full),
 * about 25 MB, where a Lua table of strings would take several times that.
 * A count does not saturate before 2^32 - 1: an input that updates one user
 * the same way 300 times has 300 confirmations on record, not 255.
 * The memory is owned by the userdata and freed by __gc (and __close): no
 * call that may raise runs while a block is held only by a local.
 *
 * The digest is not cryptographic: it tells apart the updates of a run
 * (two of a million share a digest with odds of about 1 in 3.7e7), with
 * every input bit spread over the 64 output bits by a strong finalizer
 * after each 8-byte block.
 *
 * Part of users.cli_core (cli.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"

#define DIGEST_SET_MT "users.digest_set"

/* A bijective 64-bit mixer (multiply, xor-shift): every input bit flips
 * about half of the output bits. */
static uint64_t digest_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t digest_bytes(const unsigned char *p, size_t n) {
  uint64_t h = 0x6a09e667f3bcc908ULL ^ ((uint64_t)n * 0x9e3779b97f4a7c15ULL);
  while (n >= 8) {
    uint64_t w = 0;
    int i;
    for (i = 7; i >= 0; i--) w = (w << 8) | p[i];
    h = digest_mix(h ^ w) + 0x9e3779b97f4a7c15ULL;
    p += 8;
    n -= 8;
  }
  {
    uint64_t w = (uint64_t)n << 56; /* the tail's length, so "a" and "a\0" differ */
    size_t i;
    for (i = 0; i < n; i++) w |= (uint64_t)p[i] << (8 * i);
    h = digest_mix(h ^ w);
  }
  return digest_mix(h + 0x510e527fade682d1ULL);
}

static void digest_hex(uint64_t d, char out[16]) {
  static const char hex[] = "0123456789abcdef";
  int i;
  for (i = 15; i >= 0; i--) {
    out[i] = hex[d & 15];
    d >>= 4;
  }
}

static int digest_string(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  char out[16];
  digest_hex(digest_bytes((const unsigned char *)s, n), out);
  lua_pushlstring(L, out, 16);
  return 1;
}

/* The set ------------------------------------------------------------------ */

typedef struct {
  uint64_t *keys;         /* 0: an empty slot */
  uint32_t *counts;       /* 0 to UINT32_MAX; a count that would pass it stays there */
  size_t cap, used;       /* slots, and slots holding a key */
  size_t total;           /* the sum of the counts */
} digest_set_t;

static digest_set_t *check_set(lua_State *L) {
  return (digest_set_t *)luaL_checkudata(L, 1, DIGEST_SET_MT);
}

/* A digest given as 16 hex digits; key 0 marks empty slots, so a digest
 * of 0 is kept as 1 (one in 2^64 could then meet another). */
static uint64_t check_key(lua_State *L, int idx) {
  size_t n, i;
  const char *s = luaL_checklstring(L, idx, &n);
  uint64_t d = 0;
  if (n != 16) luaL_argerror(L, idx, "16 hex digits expected");
  for (i = 0; i < 16; i++) {
    char c = s[i];
    int v = c >= '0' && c <= '9' ? c - '0'
          : c >= 'a' && c <= 'f' ? c - 'a' + 10
          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (v < 0) luaL_argerror(L, idx, "16 hex digits expected");
    d = (d << 4) | (uint64_t)v;
  }
  return d ? d : 1;
}

/* The slot of key, or of the empty slot where it would go. The keys are
 * digests already: their low bits index the table. */
static size_t find_slot(const digest_set_t *s, uint64_t key) {
  size_t mask = s->cap - 1, i = (size_t)(key ^ (key >> 32)) & mask;
  while (s->keys[i] != 0 && s->keys[i] != key) i = (i + 1) & mask;
  return i;
}

/* Doubles the table (or makes the first). Returns 0 when out of memory,
 * with the set unchanged. */
static int grow(digest_set_t *s) {
  digest_set_t next;
  size_t i;
  next.cap = s->cap ? s->cap * 2 : 1024;
  next.keys = (uint64_t *)calloc(next.cap, sizeof *next.keys);
  next.counts = (uint32_t *)calloc(next.cap, sizeof *next.counts);
  if (!next.keys || !next.counts) {
    free(next.keys);
    free(next.counts);
    return 0;
  }
  for (i = 0; i < s->cap; i++) {
    if (s->keys[i]) {
      size_t j = find_slot(&next, s->keys[i]);
      next.keys[j] = s->keys[i];
      next.counts[j] = s->counts[i];
    }
  }
  free(s->keys);
  free(s->counts);
  s->keys = next.keys;
  s->counts = next.counts;
  s->cap = next.cap;
  return 1;
}

static int set_add(lua_State *L) {
  digest_set_t *s = check_set(L);
  uint64_t key = check_key(L, 2);
  size_t i;
  if ((s->used + 1) * 4 > s->cap * 3 && !grow(s))
    return luaL_error(L, "out of memory for %d digests", (int)s->used + 1);
  i = find_slot(s, key);
  if (s->keys[i] == 0) {
    s->keys[i] = key;
    s->used++;
  }
  if (s->counts[i] < UINT32_MAX) {
    s->counts[i]++;
    s->total++;
  }
  lua_pushinteger(L, (lua_Integer)s->counts[i]);
  return 1;
}

/* The count of the digest at argument 2, or NULL when the set never held
 * it; *set is the set. */
static uint32_t *count_of(lua_State *L, digest_set_t **set) {
  digest_set_t *s = check_set(L);
  uint64_t key = check_key(L, 2);
  size_t i;
  *set = s;
  if (s->cap == 0) return NULL;
  i = find_slot(s, key);
  return s->keys[i] == key ? &s->counts[i] : NULL;
}

static int set_take(lua_State *L) {
  digest_set_t *s;
  uint32_t *n = count_of(L, &s);
  int took = n != NULL && *n > 0;
  /* A key whose count falls to 0 keeps its slot: no tombstones needed. */
  if (took) {
    (*n)--;
    s->total--;
  }
  lua_pushboolean(L, took);
  return 1;
}

static int set_count(lua_State *L) {
  digest_set_t *s;
  uint32_t *n = count_of(L, &s);
  lua_pushinteger(L, n ? (lua_Integer)*n : 0);
  return 1;
}

static int set_size(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)check_set(L)->total);
  return 1;
}

static int set_gc(lua_State *L) {
  digest_set_t *s = (digest_set_t *)luaL_checkudata(L, 1, DIGEST_SET_MT);
  free(s->keys);
  free(s->counts);
  s->keys = NULL;
  s->counts = NULL;
  s->cap = s->used = 0;
  s->total = 0;
  return 0;
}

static int digest_set_new(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"add", set_add}, {"take", set_take}, {"count", set_count}, {"size", set_size}, {NULL, NULL}};
  digest_set_t *s = (digest_set_t *)users_newuserdata(L, sizeof *s);
  memset(s, 0, sizeof *s);
  users_setmeta(L, DIGEST_SET_MT, methods, set_gc);
  return 1;
}

void cli_digest_open(lua_State *L) {
  static const luaL_Reg functions[] = {{"digest", digest_string}, {"digest_set", digest_set_new}, {NULL, NULL}};
  users_setfuncs(L, functions);
}
