/* A growable byte buffer. Either owned by a struct that a userdata's __gc
 * frees, or boxed in its own userdata (buf_box), so that a Lua error raised
 * while it is in use never leaks it. */
#ifndef USERS_BUF_H
#define USERS_BUF_H

#include <stddef.h>
#include "compat.h"

typedef struct {
  char *data;
  size_t len, cap;
} buf_t;

int buf_reserve(buf_t *b, size_t extra); /* 0 on allocation failure */
int buf_add(buf_t *b, const void *p, size_t n);
int buf_addc(buf_t *b, char c);
#define buf_adds(b, s) buf_add((b), (s), strlen(s))
void buf_free(buf_t *b);

/* Pushes a userdata holding an empty buffer, freed by __gc. */
buf_t *buf_box(lua_State *L);
/* Raises "out of memory" when an append failed. */
void buf_check(lua_State *L, int ok);

#endif
