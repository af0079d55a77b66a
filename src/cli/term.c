/* The terminal and signals, for the lua-users command:
 *   term_width(fd)       -> columns | nil      the width of the terminal on fd
 *   trap_signals([n])                          SIGINT and SIGTERM only count
 *   signals()            -> count, signo       how many arrived since the trap
 *
 * The handlers only count (a sig_atomic_t): the bulk loop asks between waits
 * and stops on its own terms. The n-th signal (default 3) restores the
 * default action and raises it again, so a process stuck somewhere can
 * still be ended from the keyboard. poll() and nanosleep() may return early
 * with EINTR: the engine's loops go round again, which is all they need.
 *
 * Part of users.cli_core (cli.h). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "cli.h"

static volatile sig_atomic_t term_count = 0;
static volatile sig_atomic_t term_signo = 0;
static volatile sig_atomic_t term_limit = 3;

static void term_handler(int signo) {
  term_signo = signo;
  if (term_count < term_limit) term_count = term_count + 1;
  if (term_count >= term_limit) {
    signal(signo, SIG_DFL); /* async-signal-safe; the next raise ends the process */
    raise(signo);
  }
}

static int term_width(lua_State *L) {
  struct winsize ws;
  int fd = (int)luaL_checkinteger(L, 1);
  memset(&ws, 0, sizeof ws);
  if (ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushinteger(L, (lua_Integer)ws.ws_col);
  return 1;
}

static int term_trap(lua_State *L) {
  struct sigaction sa;
  lua_Integer n = luaL_optinteger(L, 1, 3);
  luaL_argcheck(L, n >= 1 && n <= 100, 1, "a count from 1 to 100 expected");
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = term_handler;
  sigemptyset(&sa.sa_mask); /* each blocks the other while it runs: no count lost to a nested handler */
  sigaddset(&sa.sa_mask, SIGINT);
  sigaddset(&sa.sa_mask, SIGTERM);
  sa.sa_flags = 0; /* no SA_RESTART: a wait returns, and the loop looks */
  term_count = 0;
  term_signo = 0;
  term_limit = (sig_atomic_t)n;
  if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
    return luaL_error(L, "cannot trap SIGINT and SIGTERM: %s", strerror(errno));
  return 0;
}

static int term_signals(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)term_count);
  if (term_signo == SIGINT) lua_pushliteral(L, "SIGINT");
  else if (term_signo == SIGTERM) lua_pushliteral(L, "SIGTERM");
  else lua_pushnil(L);
  return 2;
}

void cli_term_open(lua_State *L) {
  static const luaL_Reg functions[] = {
      {"term_width", term_width}, {"trap_signals", term_trap}, {"signals", term_signals}, {NULL, NULL}};
  users_setfuncs(L, functions);
}
