/* A growable byte buffer, always owned by a userdata whose __gc frees it, so
 * that a Lua error raised while it is in use never leaks it. */
#ifndef USERS_BUF_H
#define USERS_BUF_H

#include <stddef.h>
#include <string.h>
#include "compat.h"

typedef struct {
  char *data;
  size_t len, cap;
  int scratch, busy; /* the state's shared buffer, and whether it is lent */
} buf_t;

int buf_reserve(buf_t *b, size_t extra); /* 0 on allocation failure */
/* buf_reserve without a call when the room is there already. */
#define buf_room(b, n) ((b)->cap - (b)->len >= (n) || buf_reserve((b), (n)))
int buf_add(buf_t *b, const void *p, size_t n);
int buf_addc(buf_t *b, char c);
/* buf_addc, inline when the room is there. */
#define buf_putc(b, c) ((b)->len < (b)->cap ? ((b)->data[(b)->len++] = (c), 1) : buf_addc((b), (c)))
#define buf_adds(b, s) buf_add((b), (s), strlen(s))
void buf_free(buf_t *b);

/* Pushes a userdata holding an empty buffer, freed by __gc. */
buf_t *buf_box(lua_State *L);

/* The hot paths (encoders, decoder) borrow the state's scratch buffer, the
 * C function's upvalue 1, instead of allocating a box per call. When it is
 * lent already (a finalizer reentering) or absent, a box is used. Either way
 * one value is pushed. A call that raises midway leaves the scratch lent:
 * later calls then use boxes, slower but right. */
void buf_push_scratch(lua_State *L);
buf_t *buf_borrow(lua_State *L);
void buf_return(buf_t *b);

/* Raises "out of memory" when an append failed. */
void buf_check(lua_State *L, int ok);

#endif
