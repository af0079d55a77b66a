/* What the two form encoders share (encode_form.c: x-www-form-urlencoded,
 * encode_multipart.c: multipart/form-data): the state of one encoding, a
 * scalar's text, the walk over an update's fields and an object's pairs,
 * and the refusals (a value the form cannot spell, a file that breaks its
 * rules), reported as core.validate reports a problem.
 *
 * The writers raise nothing while the scratch buffer is lent: they stop
 * with a reason in form_t, and the entry points raise it (or report the
 * refusal) once the scratch is back (see buf.h). */
#ifndef USERS_FORM_H
#define USERS_FORM_H

#include "buf.h"
#include "file_info.h"
#include "validate.h"

typedef struct form form_t;

/* Writes one field or property: name its path (its text is the part's or
 * the pair's name), s its schema (NULL: any value, the defaults of a form),
 * the value at v. */
typedef int (*users_form_emit_fn)(form_t *c, const users_path_t *name, const users_schema_t *s, int v);

struct form {
  lua_State *L;
  const users_provider_t *p;
  users_buf_t *b;     /* the body, or multipart's pending string segment */
  users_fail_t fail;  /* why it stopped */
  int names;          /* stack index of the provider's names table */
  int depth;          /* how deep users_form_pairs is (a table that holds
                         itself stops at USERS_MAX_DEPTH) */
  /* or: the value the update cannot have: its problem key (a string on
   * the stack at refused) and why; or a file's problems (file_bad bits,
   * under file_rules) */
  int refused;
  long refused_item;  /* an array's item: its number, for "item N ..." */
  const char *why;
  const users_schema_t *file_rules;
  unsigned file_bad;
  users_file_t file;  /* the file part being written */
  /* urlencoded only: an object's pairs joined into one value */
  const char *delim;
  int first;
  /* multipart only */
  int segs;           /* stack index of the segments table */
  long long length;
  int holds_boundary; /* a value, file name or blob holds the boundary */
  char boundary[48];  /* "lua-users-" + 32 hex digits + NUL */
};

/* Starts an encoding of the fields at index 2 for provider p: pushes the
 * names table (c->names). */
void users_form_init(form_t *c, lua_State *L, const users_provider_t *p);
/* The text of a scalar (string, number, boolean as form_booleans, null
 * empty) appended, percent-encoded (urlencoded) or as it is. */
int users_form_scalar(form_t *c, int v, int urlencoded);
/* Appends s percent-encoded but for RFC 3986's unreserved bytes; a space
 * as '+' when plus_for_space. */
int users_form_percent(users_buf_t *b, const char *s, size_t n, int plus_for_space);
/* Refuses the value at path (why: a sentence after its name); returns 0. */
int users_form_refuse(form_t *c, const users_path_t *path, const char *why);
/* The fields present, in declared order, then the undeclared ones that
 * additional_fields lets through, sorted: emit for each. */
int users_form_fields(form_t *c, users_form_emit_fn emit);
/* The pairs of the object at v under s (NULL: free-form): its declared
 * properties in order, then the others sorted; emit for each, with path as
 * their parent. */
int users_form_pairs(form_t *c, const users_schema_t *s, int v, const users_path_t *path,
                     users_form_emit_fn emit);
/* Whether the table at v under s is written as an array (else an object):
 * its type says, or (without one) its keys being exactly 1..n. */
int users_form_is_array(lua_State *L, const users_schema_t *s, int v);
/* Why the writers stopped, once the scratch is back: a refusal is reported
 * as nil, { [key] = { message } }; anything else raised. */
int users_form_report(form_t *c);

#endif
