/* What the host system gives: a monotonic clock, sleeping, directories,
 * terminals. */
#ifndef USERS_SYS_H
#define USERS_SYS_H

#include "compat.h"

/* Seconds on CLOCK_MONOTONIC: for deadlines and elapsed times, never dates. */
double users_now(void);

/* Registers now, sleep, list_dir and isatty into the module table on the
 * top of the stack. */
void users_sys_open(lua_State *L);

#endif
