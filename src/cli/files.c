/* Files a bulk run writes, for the command and the journal:
 *   kind(path)  -> "file" | "directory" | "fifo" | "char" | "block" |
 *                  "socket" | "absent" | nil, message;  and "DEV:INODE"
 *       what path names (symbolic links followed), and which file it is (two
 *       paths to one file have the same, e.g. ./u.csv and u.csv); "absent"
 *       when nothing is there (ENOENT); a path that cannot be looked at is
 *       nil, message.
 *   creatable(path) -> true | "exists" | nil, message
 *       whether a file can be created at path, where nothing was: one is
 *       created (O_EXCL) and removed again. Only a file this call created is
 *       removed: "exists" when something is there now (another run may have
 *       just made it; it is left alone).
 *   lock(path)  -> lock | nil, message, "busy" | "not_file" | "unsupported" | "error"
 *       an exclusive lock on the regular file at path (created if missing,
 *       mode 0666 less the umask), held until lock:release(), __gc or
 *       __close. "busy": another open file description holds it (another
 *       process, or this one through another lock); "unsupported": the file
 *       system takes no flock (some network file systems).
 *   lock:remove([if_empty]) -> true | false | nil, message
 *       removes the locked file from its path while the lock is still held,
 *       so that no other run can lock it between the removal and the
 *       release (a run that ends removes its journal so); only while path
 *       still names the locked file. With if_empty, a file that holds
 *       anything is kept (false).
 *
 * The lock is flock(2) on a descriptor of its own: the kernel drops it when
 * the descriptor closes, so a run that died (kill -9, a crash) leaves no
 * stale lock behind, and there is no lock file to clean up. Between open()
 * and flock() another process may remove or replace the file (a run that
 * ended removes its journal): the lock is then on a file nobody will find by
 * its name, so the descriptor's file is compared with the one at path after
 * locking, and the lock taken again on the new one (a few times at most).
 *
 * Part of users.cli_core (cli.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"

#define LOCK_MT "users.cli.lock"
#define LOCK_TRIES 5

static const char *kind_of(mode_t m) {
  if (S_ISREG(m)) return "file";
  if (S_ISDIR(m)) return "directory";
  if (S_ISFIFO(m)) return "fifo";
  if (S_ISCHR(m)) return "char";
  if (S_ISBLK(m)) return "block";
#ifdef S_ISSOCK
  if (S_ISSOCK(m)) return "socket";
#endif
  return "other";
}

static int files_kind(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  if (stat(path, &st) == 0) {
    char id[48];
    snprintf(id, sizeof id, "%llu:%llu", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
    lua_pushstring(L, kind_of(st.st_mode));
    lua_pushstring(L, id);
    return 2;
  }
  {
    int e = errno;
    if (e == ENOENT) {
      lua_pushliteral(L, "absent");
      return 1;
    }
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, strerror(e));
    return 2;
  }
}

static int files_creatable(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat made, named;
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0666);
  if (fd < 0) {
    int e = errno;
    if (e == EEXIST) {
      lua_pushliteral(L, "exists");
      return 1;
    }
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, strerror(e));
    return 2;
  }
  /* Removed only while path still names the file made here. */
  if (fstat(fd, &made) == 0 && stat(path, &named) == 0 && made.st_dev == named.st_dev && made.st_ino == named.st_ino)
    unlink(path);
  close(fd);
  lua_pushboolean(L, 1);
  return 1;
}

/* The lock: a descriptor, -1 once released, and the path it was taken on. */
typedef struct {
  int fd;
  char path[]; /* the path and its NUL */
} files_lock_t;

static void lock_close(files_lock_t *k) {
  if (k->fd >= 0) {
    close(k->fd); /* drops the flock; nothing was written through it */
    k->fd = -1;
  }
}

static int lock_release(lua_State *L) {
  lock_close((files_lock_t *)luaL_checkudata(L, 1, LOCK_MT));
  return 0;
}

static int lock_remove(lua_State *L) {
  files_lock_t *k = (files_lock_t *)luaL_checkudata(L, 1, LOCK_MT);
  int if_empty = lua_toboolean(L, 2);
  struct stat held, named;
  if (k->fd < 0) return luaL_error(L, "the lock on %s was released", k->path);
  if (fstat(k->fd, &held) != 0 || stat(k->path, &named) != 0 || named.st_dev != held.st_dev ||
      named.st_ino != held.st_ino) {
    lua_pushnil(L);
    lua_pushfstring(L, "%s: no longer the locked file", k->path);
    return 2;
  }
  if (if_empty && held.st_size != 0) {
    lua_pushboolean(L, 0);
    return 1;
  }
  if (unlink(k->path) != 0) {
    int e = errno;
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", k->path, strerror(e));
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int lock_fail(lua_State *L, const char *path, const char *what, const char *code) {
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", path, what);
  lua_pushstring(L, code);
  return 3;
}

static int files_lock(lua_State *L) {
  static const luaL_Reg methods[] = {{"release", lock_release}, {"remove", lock_remove}, {NULL, NULL}};
  size_t len;
  const char *path = luaL_checklstring(L, 1, &len);
  files_lock_t *k = (files_lock_t *)users_newuserdata(L, sizeof *k + len + 1);
  int tries;
  k->fd = -1;
  memcpy(k->path, path, len + 1);
  users_setmeta(L, LOCK_MT, methods, lock_release); /* from here __gc closes the descriptor */
  for (tries = 0; tries < LOCK_TRIES; tries++) {
    struct stat held, named;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0666);
    if (fd < 0) return lock_fail(L, path, strerror(errno), "error");
    k->fd = fd;
    if (fstat(fd, &held) != 0) {
      int e = errno;
      lock_close(k);
      return lock_fail(L, path, strerror(e), "error");
    }
    if (!S_ISREG(held.st_mode)) {
      lock_close(k);
      return lock_fail(L, path, "not a regular file", "not_file");
    }
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int e = errno;
      if (e == EINTR) continue;
      lock_close(k);
      if (e == EWOULDBLOCK) return lock_fail(L, path, "locked by another run", "busy");
      if (e == ENOLCK || e == EOPNOTSUPP) return lock_fail(L, path, strerror(e), "unsupported");
      return lock_fail(L, path, strerror(e), "error");
    }
    if (stat(path, &named) == 0 && named.st_dev == held.st_dev && named.st_ino == held.st_ino) return 1;
    lock_close(k); /* removed or replaced meanwhile: lock the file that is there now */
  }
  return lock_fail(L, path, "replaced again and again while being locked", "error");
}

void cli_files_open(lua_State *L) {
  static const luaL_Reg functions[] = {
      {"kind", files_kind}, {"creatable", files_creatable}, {"lock", files_lock}, {NULL, NULL}};
  users_setfuncs(L, functions);
}
