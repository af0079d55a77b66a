/* The response header block into a Lua table (see headers.h). */
#include <string.h>
#include "headers.h"

/* A status line ("HTTP/1.1 200 OK"): compared only within the line, which
 * may be shorter than "HTTP/" and end where the bytes do. */
static int is_status(const char *p, const char *eol) {
  return eol - p >= 5 && memcmp(p, "HTTP/", 5) == 0;
}

void users_headers_push(lua_State *L, const char *p, size_t len) {
  const char *end;
  lua_newtable(L);
  if (len == 0) return; /* p may be NULL: no arithmetic on it */
  end = p + len;
  while (p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p)), *colon, *v, *ve;
    if (!eol) eol = end;
    colon = memchr(p, ':', (size_t)(eol - p));
    if (colon && !is_status(p, eol)) {
      char name[128];
      size_t n = (size_t)(colon - p), i;
      if (n > 0 && n < sizeof name) {
        for (i = 0; i < n; i++) name[i] = (char)((p[i] >= 'A' && p[i] <= 'Z') ? p[i] + 32 : p[i]);
        v = colon + 1;
        ve = eol;
        while (v < ve && (*v == ' ' || *v == '\t')) v++;
        while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        lua_pushlstring(L, name, n);
        lua_pushvalue(L, -1);
        lua_rawget(L, -3);
        if (lua_isnil(L, -1)) {
          lua_pop(L, 1);
          lua_pushlstring(L, v, (size_t)(ve - v));
        } else { /* repeated header: values joined as RFC 9110 allows */
          lua_pushliteral(L, ", ");
          lua_pushlstring(L, v, (size_t)(ve - v));
          lua_concat(L, 3);
        }
        lua_rawset(L, -3);
      }
    }
    p = eol + 1;
  }
}
