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
} users_buf_t;

int users_buf_reserve(users_buf_t *b, size_t extra); /* 0 on allocation failure */
/* users_buf_reserve without a call when the room is there already. */
#define users_buf_room(b, n) ((b)->cap - (b)->len >= (n) || users_buf_reserve((b), (n)))
int users_buf_add(users_buf_t *b, const void *p, size_t n);
int users_buf_addc(users_buf_t *b, char c);
/* users_buf_addc, inline when the room is there. */
#define users_buf_putc(b, c) \
  ((b)->len < (b)->cap ? ((b)->data[(b)->len++] = (c), 1) : users_buf_addc((b), (c)))
#define users_buf_adds(b, s) users_buf_add((b), (s), strlen(s))
void users_buf_free(users_buf_t *b);

/* Pushes a userdata holding an empty buffer, freed by __gc. */
users_buf_t *users_buf_box(lua_State *L);

/* The hot paths (encoders, decoder) borrow the state's scratch buffer, the
 * C function's upvalue 1, instead of allocating a box per call. When it is
 * lent already (a finalizer reentering) or absent, a box is used. Either way
 * one value is pushed.
 *
 * While the scratch is lent a borrower raises nothing itself: it records why
 * it stopped in a users_fail_t, gives the scratch back, then raises. So an
 * error never leaves the scratch lent (were it left lent, every later call
 * would take the slower box). Only the interpreter's own out-of-memory error,
 * from a lua_push* inside a loan, still can: a pcall around every call would
 * cost more than that rare case does. */
users_buf_t *users_buf_borrow(lua_State *L);
void users_buf_return(users_buf_t *b);

/* Pushes the state's scratch buffer (made on first use, kept in the
 * registry). */
void users_buf_push_scratch(lua_State *L);
/* luaL_setfuncs with the scratch as every function's upvalue 1: sets l's
 * functions into the table on the top of the stack. */
void users_buf_setfuncs(lua_State *L, const luaL_Reg *l);

/* Raises "not enough memory" when an append to a box failed (never use it
 * on the scratch: see above). */
void users_buf_check(lua_State *L, int ok);

/* Why a borrower stopped: a message with up to two %s, and what they name
 * (type names, field names, or the text of values still on the stack). */
typedef struct {
  const char *fmt, *a, *b;
} users_fail_t;

/* Records the failure; returns 0, so that `return users_fail(...)` stops a
 * writer. */
int users_fail(users_fail_t *f, const char *fmt, const char *a, const char *b);
/* Raises what f recorded, or "not enough memory" when nothing was (an append
 * failed). Call it after users_buf_return. */
int users_fail_raise(lua_State *L, const users_fail_t *f);

#endif
