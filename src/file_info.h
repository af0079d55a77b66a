/* A users.file / users.blob value read once, and held to a file field's
 * rules (max_bytes, content_type): for validation and for the multipart
 * encoder, which holds each file to them again as it writes it. */
#ifndef USERS_FILE_INFO_H
#define USERS_FILE_INFO_H

#include "provider.h"

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

/* Registers file_info into the module table on the top of the stack. */
void users_file_info_open(lua_State *L);

#endif
