#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "sys.h"

double users_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* now() -> seconds on the monotonic clock */
static int sys_now(lua_State *L) {
  lua_pushnumber(L, (lua_Number)users_now());
  return 1;
}

/* The longest sleep: a year (365 days), which a time_t holds on every
 * system; a longer one (infinity, 1e300) is that long, not a cast beyond
 * the type's range (spec/core_spec.lua reads what nanosleep was given). */
#define SLEEP_MAX (365.0 * 86400)

/* sleep(seconds): whole, even when a signal interrupts it. NaN, zero and
 * negatives return at once; beyond SLEEP_MAX it is SLEEP_MAX. */
static int sys_sleep(lua_State *L) {
  double s = (double)luaL_checknumber(L, 1);
  struct timespec ts;
  if (!(s > 0)) return 0;
  if (s > SLEEP_MAX) s = SLEEP_MAX;
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
  if (ts.tv_nsec > 999999999L) ts.tv_nsec = 999999999L; /* rounding up to a whole second */
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
  return 0;
}

/* list_dir(path) -> { name, ... } | nil, message: to find provider files. */
static int sys_list_dir(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  DIR *d = opendir(path);
  struct dirent *ent;
  int i = 0;
  if (!d) {
    char why[128];
    int e = errno;
    if (strerror_r(e, why, sizeof why) != 0) why[0] = '\0';
    lua_pushnil(L);
    lua_pushstring(L, why);
    return 2;
  }
  lua_newtable(L);
  while ((ent = readdir(d)) != NULL) {
    if (ent->d_name[0] == '.') continue;
    lua_pushstring(L, ent->d_name); /* may raise (memory): d would leak, once */
    lua_rawseti(L, -2, ++i);
  }
  closedir(d);
  return 1;
}

/* isatty(fd): for the progress bar, drawn only on a terminal. A number
 * that is no int (NaN, a fraction, beyond INT_MAX) is no descriptor. */
static int sys_isatty(lua_State *L) {
  double fd = (double)luaL_checknumber(L, 1);
  lua_pushboolean(L, fd >= 0 && fd <= (double)INT_MAX && fd == (double)(int)fd && isatty((int)fd));
  return 1;
}

void users_sys_open(lua_State *L) {
  static const luaL_Reg functions[] = {
      {"now", sys_now}, {"sleep", sys_sleep}, {"list_dir", sys_list_dir},
      {"isatty", sys_isatty}, {NULL, NULL}};
  users_setfuncs(L, functions);
}
