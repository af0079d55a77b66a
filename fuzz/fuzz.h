/* What the libFuzzer harnesses share (fuzz/fuzz.c): one Lua state with
 * users.core linked in, made in LLVMFuzzerInitialize; every input run by
 * the harness's fuzz_one under lua_pcall; calls under lua_pcall; a
 * byte-driven generator of Lua values; the oracles' failure. See
 * fuzz/README. */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>

/* The state every input runs in, made once: the standard libraries,
 * users.core as the global `core`, package.path at the tree's lua/ (make
 * fuzz runs from the repository root), and the support chunk
 * (fuzz/support.lua) as the global `fz`. */
extern lua_State *fuzz_L;

/* The input, read from the front: a byte (0 once it is used up), and up to
 * max bytes of it (their number from the next byte). */
typedef struct {
  const uint8_t *p;
  size_t n;
} fuzz_in_t;
unsigned fuzz_byte(fuzz_in_t *in);
size_t fuzz_bytes(fuzz_in_t *in, size_t max, const char **out);

/* Pushes a Lua value chosen by the input: booleans, integers of every
 * size, doubles (NaN and infinities too), strings from the input or from
 * a dictionary of the contracts' interesting values, users.null, arrays
 * (with holes, empty, marked with array_mt), objects, and, at depth 0,
 * file values (users.blob / users.file shapes, some behind an __index that
 * answers differently on each read). names: stack index of a list of
 * strings to use as object keys (0: none). */
void fuzz_push_value(lua_State *L, fuzz_in_t *in, int names, int depth);
/* Pushes a fields table: up to 8 keys, mostly the names at index names. */
void fuzz_push_fields(lua_State *L, fuzz_in_t *in, int names);
/* Pushes provider `name` compiled (fz.compiled[name]), its field names and
 * a fields table the input builds from them; *p and *fields get the stack
 * indexes of the provider and of the fields. */
void fuzz_push_case(lua_State *L, fuzz_in_t *in, const char *name, int *p, int *fields);

/* Pushes fz[name] (a function of fuzz/support.lua), or core[name]. */
void fuzz_support(lua_State *L, const char *name);
void fuzz_core(lua_State *L, const char *name);
/* lua_pcall with LUA_MULTRET; the number of results, or -1 with the
 * error on top. */
int fuzz_call(lua_State *L, int nargs);
/* fuzz_call, its answer packed into one table: { ok = status, n = count,
 * results... } (ok false: the error at 1). */
void fuzz_pack(lua_State *L, int nargs);
/* An oracle failed: prints why and aborts, which libFuzzer reports as a
 * crash and keeps the input. */
void fuzz_fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((noreturn, format(printf, 1, 2)))
#endif
    ;
/* Each harness defines it: one input, a fuzz_in_t * light userdata at
 * index 1. fuzz.c runs it under lua_pcall for every input (an error it
 * raises is an oracle's failure) and resets the stack after. */
int fuzz_one(lua_State *L);

#endif
