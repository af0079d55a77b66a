/* What the host system gives: a monotonic clock, sleeping, directories,
 * terminals. */
#ifndef USERS_SYS_H
#define USERS_SYS_H

/* Seconds on CLOCK_MONOTONIC: for deadlines and elapsed times, never dates. */
double users_now(void);

#endif
