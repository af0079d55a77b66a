/* The JSON writer driven by a provider's schema, shared by core.encode_json
 * (the reference) and core.marshal_json (one pass, see marshal.c): a new
 * field type is written in one place, users_json_value. */
#ifndef USERS_ENCODE_JSON_H
#define USERS_ENCODE_JSON_H

#include "buf.h"
#include "provider.h"
#include "rules.h"

typedef struct {
  lua_State *L;
  users_buf_t *b;
  /* marshal_json's pass: each value must be valid under its schema (the
   * rules of core.validate); one that is not, or that only the reference
   * path writes (free-form tables, numbers with a fraction, arrays of
   * arrays), declines. Else the value is trusted to be validated. A schema
   * is never NULL in this mode. */
  int check;
  int names;         /* stack index of the provider's names table (objects) */
  /* the pass: what it found about strings under costly rules, for the
   * validation after it (rules.h), and the table that keeps them alive */
  users_known_t *known;
  int anchor;
  users_fail_t fail; /* the reference path: why it stopped */
} users_jw_t;

/* Writes the value at stack index v under schema s (NULL: free-form).
 * 1 when written; 0 when declined (check) or failed (w->fail, raised by the
 * caller once the scratch is back). Leaves the stack as it was when it
 * succeeds, and as it was at the failure when not (the message may name a
 * value on it). */
int users_json_value(users_jw_t *w, const users_schema_t *s, int v, int depth);

/* Pushes a list of the keys of the table at v that s does not declare
 * (every key when s is NULL), in the order of their JSON text:
 * list[2k - 1] the key, list[2k] its text; returns how many. -1 with fail
 * set when JSON cannot spell a key (a boolean, text that is not UTF-8) or
 * two keys have one text; the stack then holds what the message names. */
int users_sorted_keys(lua_State *L, users_fail_t *fail, const users_schema_t *s, int v);

/* core.encode_json(provider, fields) -> body; marshal_json's reference path. */
int users_encode_json(lua_State *L);
/* Registers encode_json and json_encode (which borrow the scratch buffer)
 * into the module table on the top of the stack. */
void users_encode_json_open(lua_State *L);

#endif
