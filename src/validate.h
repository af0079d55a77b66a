#ifndef USERS_VALIDATE_H
#define USERS_VALIDATE_H

#include "provider.h"

/* core.validate(provider, fields) -> nothing when valid | errors | nil, reason
 * (marshal_json's reference path calls it too) */
int users_validate_fields(lua_State *L);
/* What is wrong with a string under s's string rules (any_of included), as
 * USERS_P_ bits; 0 when it is valid. chars is users_utf8_length(str, n),
 * which the caller may know already. Pure C: the hot path calls it directly. */
enum { USERS_P_UTF8 = 1, USERS_P_MIN = 2, USERS_P_MAX = 4, USERS_P_FORMAT = 8,
       USERS_P_PATTERN = 16, USERS_P_PATTERN_UNKNOWN = 32, USERS_P_ENUM = 64,
       USERS_P_ANY_OF = 128 };
unsigned users_string_problems(const users_schema_t *s, const char *str, size_t n, long chars);
/* True when the value at v is valid under s (a probe: no report). */
int users_value_ok(lua_State *L, const users_schema_t *s, int v);
/* A users.file / users.blob value: its size, the image type its first
 * bytes show (or NULL), and when it is not a file or cannot be read, why:
 * in the caller's struct, never a static buffer (Lua states may run on
 * several threads). */
typedef struct {
  long long size;
  const char *sniffed;
  char err[160];
} users_file_t;
/* 1 with the size and sniffed type filled in; 0 with the reason in err. */
int users_file_info(lua_State *L, int idx, users_file_t *out);

/* Registers validate, check_param and file_info into the module table on
 * the top of the stack. */
void users_validate_open(lua_State *L);

#endif
