/* The libcurl multi engine: the multi handle (and so the connection cache
 * shared by every transfer), a second one for the requests that must have
 * a connection of their own (req.reuse = false), a pool of easy handles,
 * and one poll() loop over libcurl's socket interface of both. Each running
 * transfer is anchored in a registry table so it cannot be collected
 * mid-transfer. */
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"
#include "sys.h"
#include "transfer.h"

#define ENGINE_MT "users.engine"
#define POOL_MAX 64

struct users_engine;

/* A multi handle, its timer, and the engine it belongs to (the data of
 * its socket and timer callbacks). */
typedef struct lane {
  CURLM *multi;
  double timer_at;        /* when libcurl's timer is due (< 0: none) */
  struct users_engine *e;
} lane_t;

/* Lane SHARED holds every transfer that may share a connection. Lane OWN
 * holds only transfers with CURLOPT_FRESH_CONNECT (req.reuse = false), and
 * a multi handle's connections are its own (no share of CURL_LOCK_DATA_CONNECT):
 * no transfer of SHARED can join one of OWN's connections, and none of OWN
 * ever looks for a connection to join. libcurl 7.88 let a transfer of one
 * multi handle onto a connection opened with FRESH_CONNECT while an HTTP/2
 * one was saturated, marked it reused, and then resent our request by itself
 * when that connection died (Curl_retry_request). */
enum { SHARED, OWN, LANES };

typedef struct users_engine {
  CURLM *multi;           /* lanes[SHARED].multi; NULL once closed */
  lane_t lanes[LANES];    /* OWN's multi handle is made with its first transfer */
  CURLSH *share;          /* the Lua state's TLS sessions (push_tls_share) */
  CURL *pool[POOL_MAX];
  int n_pool;
  users_transfer_t *running;
  int n_running;
  int anchor_ref, done_ref;
  /* What libcurl asked us to watch (its socket callback) and when its timer
   * is due (its timer callback; < 0: none): one poll() covers every
   * transfer, and libcurl only works on the sockets that are ready. */
  struct pollfd *watch;
  unsigned char *watch_lane; /* the lane of each watched socket */
  struct ready { curl_socket_t fd; int flags, lane; } *ready; /* what one poll() found */
  int n_watch, cap_watch;
  CURLMcode broken;       /* libcurl's multi handle failed: every transfer ends */
} engine_t;

/* --- running transfers --------------------------------------------------- */

static void unlink_running(users_transfer_t *t) {
  engine_t *e = t->engine;
  if (t->prev) t->prev->next = t->next; else if (e) e->running = t->next;
  if (t->next) t->next->prev = t->prev;
  t->prev = t->next = NULL;
  if (e) e->n_running--;
}

/* The options every transfer has, and the engine's TLS sessions: a
 * connection reopened (to a server seen lately) resumes its session,
 * whichever easy handle of the pool opens it. */
static void init_handle(engine_t *e, CURL *easy) {
  users_transfer_handle_init(easy);
  if (e->share) curl_easy_setopt(easy, CURLOPT_SHARE, e->share);
}

static void release_easy(engine_t *e, users_transfer_t *t) {
  if (!t->easy) return;
  if (e && e->n_pool < POOL_MAX) {
    if (users_transfer_handle_release(t->easy)) init_handle(e, t->easy); /* it was reset */
    e->pool[e->n_pool++] = t->easy;
  } else {
    curl_easy_cleanup(t->easy);
  }
  t->easy = NULL;
}

/* A transfer closed (or collected) while it runs: off the multi handle, the
 * running list and the anchors (transfer.c calls this through t->detach). */
static void detach(lua_State *L, users_transfer_t *t) {
  engine_t *e = t->engine;
  curl_multi_remove_handle(e->lanes[t->fresh ? OWN : SHARED].multi, t->easy);
  unlink_running(t);
  lua_rawgeti(L, LUA_REGISTRYINDEX, e->anchor_ref);
  if (lua_istable(L, -1)) {
    lua_pushlightuserdata(L, t);
    lua_pushnil(L);
    lua_rawset(L, -3);
  }
  lua_pop(L, 1);
}

/* Called when libcurl says a transfer ended: keep the results, give the easy
 * handle back, move the transfer from the anchors to the done list. */
static void finish(lua_State *L, engine_t *e, users_transfer_t *t, CURLcode result) {
  users_transfer_ended(t, result);
  curl_multi_remove_handle(e->lanes[t->fresh ? OWN : SHARED].multi, t->easy);
  release_easy(e, t);
  users_transfer_free_request(L, t);
  unlink_running(t);
  t->state = USERS_TRANSFER_DONE;
  lua_rawgeti(L, LUA_REGISTRYINDEX, e->anchor_ref);
  lua_pushlightuserdata(L, t);
  lua_rawget(L, -2);
  if (!t->sync) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->done_ref);
    lua_pushvalue(L, -2);
    lua_rawseti(L, -2, (int)users_rawlen(L, -2) + 1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  lua_pushlightuserdata(L, t);
  lua_pushnil(L);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

/* Moves every transfer libcurl has finished to the done list; returns how
 * many there were. */
static int harvest(lua_State *L, engine_t *e) {
  CURLMsg *msg;
  int left, n = 0, i;
  for (i = 0; i < LANES; i++) {
    if (!e->lanes[i].multi) continue;
    while ((msg = curl_multi_info_read(e->lanes[i].multi, &left)) != NULL) {
      char *priv = NULL;
      if (msg->msg != CURLMSG_DONE) continue;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
      finish(L, e, (users_transfer_t *)priv, msg->data.result);
      n++;
    }
  }
  return n;
}

/* --- libcurl's socket interface ------------------------------------------ */

/* Room to watch n sockets. Made before a transfer is added (where running
 * out of memory is a Lua error), so that libcurl's callback never fails. */
static int reserve_watch(engine_t *e, int n) {
  struct pollfd *w;
  struct ready *r;
  unsigned char *l;
  int cap = e->cap_watch ? e->cap_watch : 16;
  if (n <= e->cap_watch) return 1;
  while (cap < n) cap *= 2;
  if (!(w = realloc(e->watch, (size_t)cap * sizeof *w))) return 0;
  e->watch = w;
  if (!(r = realloc(e->ready, (size_t)cap * sizeof *r))) return 0;
  e->ready = r;
  if (!(l = realloc(e->watch_lane, (size_t)cap))) return 0;
  e->watch_lane = l;
  e->cap_watch = cap;
  return 1;
}

/* CURLMOPT_SOCKETFUNCTION: keep the watch list as libcurl asks. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *ud, void *sockp) {
  lane_t *lane = (lane_t *)ud;
  engine_t *e = lane->e;
  int i;
  (void)easy;
  (void)sockp;
  for (i = 0; i < e->n_watch && e->watch[i].fd != fd; i++) {}
  if (what == CURL_POLL_REMOVE) {
    if (i < e->n_watch) {
      e->n_watch--;
      e->watch[i] = e->watch[e->n_watch];
      e->watch_lane[i] = e->watch_lane[e->n_watch];
    }
    return 0;
  }
  if (i == e->n_watch) {
    /* Out of room despite the reserve (more sockets than transfers, and no
     * memory): the socket goes unwatched and its transfer ends by its
     * timeout. Returning -1 would make libcurl fail every transfer. */
    if (!reserve_watch(e, e->n_watch + 1)) return 0;
    e->watch[e->n_watch++].fd = fd;
  }
  e->watch_lane[i] = (unsigned char)(lane - e->lanes);
  e->watch[i].events = (short)(((what & CURL_POLL_IN) ? POLLIN : 0) |
                               ((what & CURL_POLL_OUT) ? POLLOUT : 0));
  e->watch[i].revents = 0;
  return 0;
}

/* CURLMOPT_TIMERFUNCTION: only note the time; step() acts on it. */
static int on_timer(CURLM *multi, long ms, void *ud) {
  (void)multi;
  ((lane_t *)ud)->timer_at = ms < 0 ? -1 : users_now() + (double)ms / 1000;
  return 0;
}

/* A multi handle for lane i, its callbacks set; NULL without memory. */
static CURLM *open_lane(engine_t *e, int i) {
  lane_t *lane = &e->lanes[i];
  if (!(lane->multi = curl_multi_init())) return NULL;
  lane->e = e;
  lane->timer_at = -1;
  /* OWN: HTTP/2 still where offered, one request a connection. */
  curl_multi_setopt(lane->multi, CURLMOPT_PIPELINING, (long)(i == OWN ? CURLPIPE_NOTHING : CURLPIPE_MULTIPLEX));
  curl_multi_setopt(lane->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(lane->multi, CURLMOPT_SOCKETDATA, lane);
  curl_multi_setopt(lane->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(lane->multi, CURLMOPT_TIMERDATA, lane);
  return lane->multi;
}

/* --- Lua methods --------------------------------------------------------- */

/* Pushes a new transfer for the request table at 2 (header lines or nil at
 * 3), added to the engine. */
static users_transfer_t *start(lua_State *L, engine_t *e) {
  users_transfer_t *t;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_settop(L, 3); /* the transfer goes above */
  if (!lua_isnil(L, 3)) luaL_checktype(L, 3, LUA_TTABLE);
  t = users_transfer_new(L);
  if (e->n_pool) {
    t->easy = e->pool[--e->n_pool];
  } else {
    if (!(t->easy = curl_easy_init())) luaL_error(L, "curl_easy_init failed");
    init_handle(e, t->easy);
  }
  users_transfer_setup(L, t, 2, 3);
  if (!reserve_watch(e, 2 * (e->n_running + 1))) /* a connect may try two addresses */
    luaL_error(L, "not enough memory");
  if (t->fresh && !e->lanes[OWN].multi && !open_lane(e, OWN)) luaL_error(L, "curl_multi_init failed");
  /* Anchored first (which may raise: memory), then added: libcurl never
   * holds a handle the engine does not know. */
  lua_rawgeti(L, LUA_REGISTRYINDEX, e->anchor_ref);
  lua_pushlightuserdata(L, t);
  lua_pushvalue(L, -3);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  if (curl_multi_add_handle(e->lanes[t->fresh ? OWN : SHARED].multi, t->easy) != CURLM_OK) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->anchor_ref);
    lua_pushlightuserdata(L, t);
    lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    luaL_error(L, "curl_multi_add_handle failed");
  }
  t->engine = e;
  t->detach = detach;
  t->state = USERS_TRANSFER_RUNNING;
  t->next = e->running;
  if (e->running) e->running->prev = t;
  e->running = t;
  e->n_running++;
  return t;
}

static engine_t *check_engine(lua_State *L) {
  engine_t *e = (engine_t *)users_checkud(L, 1, ENGINE_MT);
  if (!e->multi) luaL_argerror(L, 1, "engine is closed");
  return e;
}

/* curl_multi_socket_action, its failure kept: the multi handle is then of
 * no more use, and step() ends what runs on it. */
static void act(engine_t *e, int lane, curl_socket_t fd, int flags) {
  int running;
  CURLMcode rc = curl_multi_socket_action(e->lanes[lane].multi, fd, flags, &running);
  if (rc != CURLM_OK && rc != CURLM_BAD_SOCKET && !e->broken) e->broken = rc;
}

/* libcurl's timers, when due: they start new transfers and end slow ones. */
static void fire_timer(engine_t *e) {
  int i;
  for (i = 0; i < LANES; i++) {
    if (e->lanes[i].multi && e->lanes[i].timer_at >= 0 && users_now() >= e->lanes[i].timer_at) {
      e->lanes[i].timer_at = -1;
      act(e, i, CURL_SOCKET_TIMEOUT, 0);
    }
  }
}

/* When the first of libcurl's timers is due (< 0: none). */
static double timer_at(engine_t *e) {
  double at = -1;
  int i;
  for (i = 0; i < LANES; i++) {
    double t = e->lanes[i].multi ? e->lanes[i].timer_at : -1;
    if (t >= 0 && (at < 0 || t < at)) at = t;
  }
  return at;
}

/* One step: let libcurl act on what is due and collect what ended. Only
 * when nothing ended (and the caller may wait) sleep in poll() on every
 * watched socket, for at most max_ms, or less when libcurl's timer is due
 * sooner; then libcurl works on the sockets that are ready, and only those. */
static void step(lua_State *L, engine_t *e, long max_ms, int may_sleep) {
  int i, n, ready = 0;
  double due_at;
  fire_timer(e);
  if (e->broken) /* nothing will end by itself any more */
    while (e->running) finish(L, e, e->running, CURLE_OUT_OF_MEMORY);
  if (harvest(L, e) > 0 || e->n_running == 0) return;
  if (!may_sleep) max_ms = 0;
  if ((due_at = timer_at(e)) >= 0) { /* whole milliseconds, rounded up: no busy loop */
    double left = (due_at - users_now()) * 1000;
    long due = left <= 0 ? 0 : (long)left;
    if ((double)due < left) due++;
    if (due < max_ms) max_ms = due;
  }
  n = poll(e->watch, (nfds_t)e->n_watch, (int)max_ms);
  /* Act on a copy: libcurl's callbacks change the watch list meanwhile. */
  for (i = 0; n > 0 && i < e->n_watch; i++) {
    short r = e->watch[i].revents;
    if (!r) continue;
    e->ready[ready].fd = e->watch[i].fd;
    e->ready[ready].lane = e->watch_lane[i];
    e->ready[ready++].flags = ((r & (POLLIN | POLLHUP)) ? CURL_CSELECT_IN : 0) |
                              ((r & POLLOUT) ? CURL_CSELECT_OUT : 0) |
                              ((r & (POLLERR | POLLNVAL)) ? CURL_CSELECT_ERR : 0);
    e->watch[i].revents = 0;
  }
  for (i = 0; i < ready; i++) act(e, e->ready[i].lane, e->ready[i].fd, e->ready[i].flags);
  fire_timer(e);
  harvest(L, e);
}

static int done_count(lua_State *L, engine_t *e) {
  int n;
  lua_rawgeti(L, LUA_REGISTRYINDEX, e->done_ref);
  n = (int)users_rawlen(L, -1);
  lua_pop(L, 1);
  return n;
}

/* engine:add(request [, header_lines]) -> transfer; header_lines, the
 * "Name: value" strings, stand for request.headers. The request leaves at
 * once (libcurl's timer for a new transfer is due now): a reply that frees
 * a slot in a bulk run is followed by the next request without waiting for
 * the rest. */
static int engine_add(lua_State *L) {
  engine_t *e = check_engine(L);
  start(L, e);
  fire_timer(e);
  return 1;
}

/* engine:wait([seconds]) -> { transfer, ... } finished since the last call;
 * returns as soon as one has finished, or when the time is up (nil: no
 * limit), or at once when nothing is running. */
static int engine_wait(lua_State *L) {
  engine_t *e = check_engine(L);
  double limit = luaL_optnumber(L, 2, -1), deadline = users_now() + limit;
  for (;;) {
    long ms = 1000;
    if (limit >= 0) {
      double left = deadline - users_now();
      if (left <= 0) { step(L, e, 0, 0); break; }
      if (left * 1000 < ms) ms = (long)(left * 1000) + 1;
    }
    step(L, e, ms, done_count(L, e) == 0);
    if (done_count(L, e) > 0 || e->n_running == 0) break;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, e->done_ref);
  lua_newtable(L);
  lua_rawseti(L, LUA_REGISTRYINDEX, e->done_ref);
  return 1;
}

/* engine:perform(request [, header_lines]) -> response | nil, message,
 * code, sent. Runs until this transfer ends; others that end meanwhile wait
 * for engine:wait(). */
static int engine_perform(lua_State *L) {
  engine_t *e = check_engine(L);
  users_transfer_t *t = start(L, e);
  t->sync = 1;
  while (t->state != USERS_TRANSFER_DONE) step(L, e, 1000, 1);
  return users_transfer_push_result(L, t);
}

static int engine_running(lua_State *L) {
  engine_t *e = check_engine(L);
  lua_pushinteger(L, e->n_running);
  return 1;
}

/* Stops every running transfer (they end as "aborted") and frees libcurl's
 * handles. Both __gc, __close (5.4) and :close(); a second call does
 * nothing. */
static int engine_close(lua_State *L) {
  engine_t *e = (engine_t *)users_checkud(L, 1, ENGINE_MT);
  int i;
  if (!e->multi) return 0;
  while (e->running) {
    users_transfer_t *t = e->running;
    curl_multi_remove_handle(e->lanes[t->fresh ? OWN : SHARED].multi, t->easy);
    curl_easy_setopt(t->easy, CURLOPT_SHARE, NULL); /* its owner may outlive the share */
    unlink_running(t);
    t->engine = NULL;
    t->detach = NULL;
    t->state = USERS_TRANSFER_DONE;
    users_transfer_ended(t, CURLE_ABORTED_BY_CALLBACK); /* and whether it was sent */
  }
  for (i = 0; i < e->n_pool; i++) curl_easy_cleanup(e->pool[i]);
  e->n_pool = 0;
  for (i = 0; i < LANES; i++) {
    if (e->lanes[i].multi) curl_multi_cleanup(e->lanes[i].multi);
    e->lanes[i].multi = NULL;
  }
  e->multi = NULL;
  e->share = NULL; /* no easy handle of this engine uses it now */
  free(e->watch); /* after the cleanup, whose callbacks may still use it */
  free(e->ready);
  free(e->watch_lane);
  e->watch = NULL;
  e->ready = NULL;
  e->watch_lane = NULL;
  e->n_watch = e->cap_watch = 0;
  luaL_unref(L, LUA_REGISTRYINDEX, e->anchor_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, e->done_ref);
  e->anchor_ref = e->done_ref = LUA_NOREF;
  return 0;
}

/* --- TLS sessions ---------------------------------------------------------- */

#define SHARE_MT "users.tls_share"
#define SHARE_KEY "users.tls_sessions" /* the registry's field for the one box */

static int share_gc(lua_State *L) {
  CURLSH **box = (CURLSH **)users_checkud(L, 1, SHARE_MT);
  if (*box) curl_share_cleanup(*box);
  *box = NULL;
  return 0;
}

/* One share of TLS sessions per Lua state, made with its first engine and
 * kept in the registry for the state's life: a connection reopened to a
 * server seen lately (libcurl keeps the last few sessions), by any engine
 * of the state (each bulk run has its own), resumes its session instead of
 * a full handshake. Made before the engines that use it, it is also
 * collected after them when the state closes. One state runs in one
 * thread: no lock callbacks. Pushes the box; returns the share, or NULL
 * when it could not be made (no memory: transfers only lose resumption,
 * and it is not tried again). */
static CURLSH *push_tls_share(lua_State *L) {
  CURLSH **box;
  lua_getfield(L, LUA_REGISTRYINDEX, SHARE_KEY);
  if (!lua_isnil(L, -1)) return *(CURLSH **)users_checkud(L, -1, SHARE_MT);
  lua_pop(L, 1);
  box = (CURLSH **)users_newuserdata(L, sizeof *box);
  *box = NULL;
  users_setmeta(L, SHARE_MT, NULL, share_gc);
  if ((*box = curl_share_init()) != NULL &&
      curl_share_setopt(*box, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
    curl_share_cleanup(*box);
    *box = NULL;
  }
  lua_pushvalue(L, -1);
  lua_setfield(L, LUA_REGISTRYINDEX, SHARE_KEY);
  return *box;
}

/* core.engine([opts]) -> engine */
static int engine_new(lua_State *L) {
  engine_t *e;
  CURLSH *share;
  static const luaL_Reg methods[] = {
      {"add", engine_add},         {"wait", engine_wait},
      {"perform", engine_perform}, {"running", engine_running},
      {"close", engine_close},     {NULL, NULL}};
  share = push_tls_share(L); /* before the engine: see push_tls_share */
  lua_pop(L, 1);
  e = (engine_t *)users_newuserdata(L, sizeof *e);
  memset(e, 0, sizeof *e);
  e->anchor_ref = e->done_ref = LUA_NOREF;
  users_setmeta(L, ENGINE_MT, methods, engine_close);
  if (!(e->multi = open_lane(e, SHARED))) luaL_error(L, "curl_multi_init failed");
  /* A bulk run bounds the connections it shares to its concurrency, keeps
   * them all in the cache, and multiplexes over HTTP/2 where offered. A
   * reuse = false request opens one more of its own beside them (closed
   * after it), so up to twice the concurrency can be open at a time. */
  if (lua_istable(L, 1)) {
    lua_getfield(L, 1, "max_host_connections");
    if (!lua_isnil(L, -1)) { /* beyond an int: clamped, never cast out of range */
      double v = lua_type(L, -1) == LUA_TNUMBER ? (double)lua_tonumber(L, -1) : -1;
      long n;
      if (!(v >= 0)) luaL_error(L, "max_host_connections must be a number of connections (0: no limit)");
      n = v >= (double)INT_MAX ? (long)INT_MAX : (long)v;
      curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS, n);
      curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, n);
    }
    lua_pop(L, 1);
  }
  e->share = share;
  lua_newtable(L);
  e->anchor_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_newtable(L);
  e->done_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

static int curl_ready = 0;

/* core.curl_version() -> text */
static int version(lua_State *L) {
  lua_pushstring(L, curl_version());
  return 1;
}

void users_engine_open(lua_State *L) {
  static const luaL_Reg functions[] = {
      {"engine", engine_new}, {"curl_version", version}, {NULL, NULL}};
  /* curl_global_init is not thread-safe: once, at load, before any handle. */
  if (!curl_ready) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) luaL_error(L, "curl_global_init failed");
    users_transfer_init();
    curl_ready = 1;
  }
  users_setfuncs(L, functions);
}
