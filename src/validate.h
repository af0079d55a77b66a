#ifndef USERS_VALIDATE_H
#define USERS_VALIDATE_H

#include "provider.h"
#include "rules.h"

/* A place in an update, for err.fields keys: a field or a property (name,
 * len bytes), or an array's item (name NULL, item its number from 1),
 * below up. Built on the C stack as a walk goes down: rendered only when
 * there is a problem to report. */
typedef struct users_path {
  const struct users_path *up;
  const char *name;
  size_t len;
  long item;
} users_path_t;

/* Pushes the path's text: address.city, emails[2].value. */
void users_push_path(lua_State *L, const users_path_t *p);
/* Appends msg to errs[key] (errs: the table at index E, or nil there, which
 * becomes a new table). The key is the path's text; an item's message is
 * its array's, with "item N " in front. */
void users_add_problem(lua_State *L, int E, const users_path_t *path, const char *msg);

/* core.validate(provider, fields) -> nothing when valid | errors | nil, reason */
int users_validate_fields(lua_State *L);
/* The same, for marshal_json's reference path: strings its pass met under
 * costly rules answer from known. */
int users_validate_known(lua_State *L, const users_known_t *known);
/* Registers validate and check_param into the module table on the top of
 * the stack. */
void users_validate_open(lua_State *L);

#endif
