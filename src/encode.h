#ifndef USERS_ENCODE_H
#define USERS_ENCODE_H

#include "buf.h"
#include "provider.h"

/* core.encode_form(provider, fields) -> body | nil, problems
 * (problems as core.validate gives them: { field = { "message" } }) */
int encode_form(lua_State *L);
/* core.encode_multipart(provider, fields) -> segments, length, content_type
 * | nil, problems. Segments are strings and { path=, size= } files. */
int encode_multipart(lua_State *L);
/* core.escape(text) -> text percent-encoded but for RFC 3986 unreserved */
int encode_escape(lua_State *L);

#endif
