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
/* A users.file / users.blob value, read once: the table's own fields, raw
 * (an __index is never asked: a table whose fields only it gives is not a
 * file), a field that is not a string counting as absent. Its size and the
 * image type its first bytes show (or NULL); when it is not a file or
 * cannot be read, why: in the caller's struct, never a static buffer (Lua
 * states may run on several threads). The strings point into the values
 * users_file_info leaves on the stack. */
typedef struct {
  long long size;
  const char *sniffed;
  const char *data;          /* a blob's bytes, or NULL: the file at path */
  const char *path;
  const char *content_type;  /* NULL when absent */
  const char *filename;      /* NULL when absent */
  size_t data_len, content_type_len, filename_len;
  char err[160];
} users_file_t;
/* Pushes the value's data, path, content_type and filename (USERS_FILE_SLOTS
 * values, nil when absent, also on failure), which the caller pops when it
 * is done with out. 1 with out filled in; 0 with the reason in out->err. */
#define USERS_FILE_SLOTS 4
int users_file_info(lua_State *L, int idx, users_file_t *out);
/* What is wrong with a file under s's rules, as USERS_FP_ bits (0: valid),
 * and the message for one bit (max in bytes goes into buf when needed). The
 * multipart encoder holds each file to them again, as it writes the file. */
enum { USERS_FP_SIZE = 1, USERS_FP_IMAGE = 2, USERS_FP_IMAGE_TYPE = 4, USERS_FP_TYPE_CHARS = 8,
       USERS_FP_NAME = 16 };
#define USERS_FP_ALL 31
unsigned users_file_problems(const users_schema_t *s, const users_file_t *f);
const char *users_file_message(const users_schema_t *s, unsigned bit, char *buf, size_t n);

/* Registers validate, check_param and file_info into the module table on
 * the top of the stack. */
void users_validate_open(lua_State *L);

#endif
