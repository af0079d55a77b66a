/* HTTP transfers over libcurl's multi interface.
 *
 * The engine owns the multi handle (and so the connection cache shared by
 * every transfer) and a pool of easy handles. A transfer is a userdata that
 * owns its easy handle, header list, response buffers and its own copy of
 * the request body (libcurl never borrows a Lua string, which the caller
 * could drop); while it runs it is anchored in a registry table so it cannot
 * be collected. libcurl's callbacks only copy bytes between C buffers: no Lua
 * code runs inside libcurl, so no Lua error can unwind through it. */
#include <curl/curl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "buf.h"
#include "transfer.h"

#define ENGINE_MT "users.engine"
#define TRANSFER_MT "users.transfer"
#define POOL_MAX 64
#define MAX_HEADER_BYTES (256 * 1024)

enum { S_NEW, S_RUNNING, S_DONE };

typedef struct {
  char *data;       /* string segment (our copy) */
  size_t len;
  char *path;       /* file segment */
  long long size;
} seg_t;

struct engine;

typedef struct transfer {
  struct engine *engine;
  CURL *easy;
  struct curl_slist *headers;
  users_buf_t body, head;
  size_t max_body;
  int state, too_big, file_changed, sync;
  CURLcode result;
  long status;
  double elapsed;
  char errbuf[CURL_ERROR_SIZE];
  seg_t *segs;
  size_t n_segs, cur;
  long long off;
  FILE *fp;
  struct transfer *prev, *next;
} transfer_t;

typedef struct engine {
  CURLM *multi;
  CURL *pool[POOL_MAX];
  int n_pool;
  transfer_t *running;
  int n_running;
  int anchor_ref, done_ref;
  /* What libcurl asked us to watch (its socket callback) and when its timer
   * is due (its timer callback; < 0: none): one poll() covers every
   * transfer, and libcurl only works on the sockets that are ready. */
  struct pollfd *watch;
  struct ready { curl_socket_t fd; int flags; } *ready; /* what one poll() found */
  int n_watch, cap_watch;
  double timer_at;
  CURLMcode broken;       /* libcurl's multi handle failed: every transfer ends */
} engine_t;

/* --- libcurl callbacks: bytes only, never Lua ---------------------------- */

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud) {
  transfer_t *t = (transfer_t *)ud;
  size_t n = size * nmemb;
  if (n > t->max_body - t->body.len) { t->too_big = 1; return 0; }
  return users_buf_add(&t->body, p, n) ? n : 0;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud) {
  transfer_t *t = (transfer_t *)ud;
  size_t n = size * nmemb;
  if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) t->head.len = 0; /* a new response */
  if (t->head.len + n > MAX_HEADER_BYTES) return 0;
  return users_buf_add(&t->head, p, n) ? n : 0;
}

static size_t on_read(char *out, size_t size, size_t nmemb, void *ud) {
  transfer_t *t = (transfer_t *)ud;
  size_t room = size * nmemb, done = 0;
  while (room > 0 && t->cur < t->n_segs) {
    seg_t *s = &t->segs[t->cur];
    size_t want, got;
    if (s->path) {
      if (!t->fp && !(t->fp = fopen(s->path, "rb"))) { t->file_changed = 1; return CURL_READFUNC_ABORT; }
      want = (size_t)(s->size - t->off) < room ? (size_t)(s->size - t->off) : room;
      got = fread(out + done, 1, want, t->fp);
      if (got < want) { t->file_changed = 1; return CURL_READFUNC_ABORT; }
      if (t->off + (long long)got == s->size) { fclose(t->fp); t->fp = NULL; }
    } else {
      want = s->len - (size_t)t->off < room ? s->len - (size_t)t->off : room;
      memcpy(out + done, s->data + t->off, want);
      got = want;
    }
    t->off += (long long)got;
    done += got;
    room -= got;
    if (t->off == (s->path ? s->size : (long long)s->len)) { t->cur++; t->off = 0; }
  }
  return done;
}

/* libcurl rewinds when it resends on a fresh connection. */
static int on_seek(void *ud, curl_off_t offset, int origin) {
  transfer_t *t = (transfer_t *)ud;
  if (offset != 0 || origin != SEEK_SET) return CURL_SEEKFUNC_CANTSEEK;
  if (t->fp) { fclose(t->fp); t->fp = NULL; }
  t->cur = 0;
  t->off = 0;
  return CURL_SEEKFUNC_OK;
}

/* --- transfer lifetime --------------------------------------------------- */

static void unlink_running(transfer_t *t) {
  engine_t *e = t->engine;
  if (t->prev) t->prev->next = t->next; else if (e) e->running = t->next;
  if (t->next) t->next->prev = t->prev;
  t->prev = t->next = NULL;
  if (e) e->n_running--;
}

static void release_easy(engine_t *e, transfer_t *t) {
  if (!t->easy) return;
  if (e && e->n_pool < POOL_MAX) {
    curl_easy_reset(t->easy);
    e->pool[e->n_pool++] = t->easy;
  } else {
    curl_easy_cleanup(t->easy);
  }
  t->easy = NULL;
}

static void free_request(transfer_t *t) {
  size_t i;
  curl_slist_free_all(t->headers);
  t->headers = NULL;
  if (t->fp) { fclose(t->fp); t->fp = NULL; }
  for (i = 0; i < t->n_segs; i++) {
    free(t->segs[i].path);
    free(t->segs[i].data);
  }
  free(t->segs);
  t->segs = NULL;
  t->n_segs = 0;
}

static int transfer_gc(lua_State *L) {
  transfer_t *t = (transfer_t *)lua_touserdata(L, 1);
  if (t->state == S_RUNNING && t->engine) {
    curl_multi_remove_handle(t->engine->multi, t->easy);
    unlink_running(t);
  }
  if (t->easy) curl_easy_cleanup(t->easy);
  t->easy = NULL;
  free_request(t);
  users_buf_free(&t->body);
  users_buf_free(&t->head);
  t->state = S_DONE;
  return 0;
}

/* Called when libcurl says a transfer ended: keep the results, give the easy
 * handle back, move the transfer from the anchors to the done list. */
static void finish(lua_State *L, engine_t *e, transfer_t *t, CURLcode result) {
  t->result = result;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
  curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME, &t->elapsed);
  curl_multi_remove_handle(e->multi, t->easy);
  release_easy(e, t);
  free_request(t);
  unlink_running(t);
  t->state = S_DONE;
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
  int left, n = 0;
  while ((msg = curl_multi_info_read(e->multi, &left)) != NULL) {
    char *priv = NULL;
    if (msg->msg != CURLMSG_DONE) continue;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
    finish(L, e, (transfer_t *)priv, msg->data.result);
    n++;
  }
  return n;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Room to watch n sockets. Made before a transfer is added (where running
 * out of memory is a Lua error), so that libcurl's callback never fails. */
static int reserve_watch(engine_t *e, int n) {
  struct pollfd *w;
  struct ready *r;
  int cap = e->cap_watch ? e->cap_watch : 16;
  if (n <= e->cap_watch) return 1;
  while (cap < n) cap *= 2;
  if (!(w = realloc(e->watch, (size_t)cap * sizeof *w))) return 0;
  e->watch = w;
  if (!(r = realloc(e->ready, (size_t)cap * sizeof *r))) return 0;
  e->ready = r;
  e->cap_watch = cap;
  return 1;
}

/* CURLMOPT_SOCKETFUNCTION: keep the watch list as libcurl asks. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *ud, void *sockp) {
  engine_t *e = (engine_t *)ud;
  int i;
  (void)easy;
  (void)sockp;
  for (i = 0; i < e->n_watch && e->watch[i].fd != fd; i++) {}
  if (what == CURL_POLL_REMOVE) {
    if (i < e->n_watch) e->watch[i] = e->watch[--e->n_watch];
    return 0;
  }
  if (i == e->n_watch) {
    /* Out of room despite the reserve (more sockets than transfers, and no
     * memory): the socket goes unwatched and its transfer ends by its
     * timeout. Returning -1 would make libcurl fail every transfer. */
    if (!reserve_watch(e, e->n_watch + 1)) return 0;
    e->watch[e->n_watch++].fd = fd;
  }
  e->watch[i].events = (short)(((what & CURL_POLL_IN) ? POLLIN : 0) |
                               ((what & CURL_POLL_OUT) ? POLLOUT : 0));
  e->watch[i].revents = 0;
  return 0;
}

/* CURLMOPT_TIMERFUNCTION: only note the time; step() acts on it. */
static int on_timer(CURLM *multi, long ms, void *ud) {
  (void)multi;
  ((engine_t *)ud)->timer_at = ms < 0 ? -1 : now() + (double)ms / 1000;
  return 0;
}

/* --- request setup ------------------------------------------------------- */

static engine_t *check_engine(lua_State *L) {
  engine_t *e = (engine_t *)users_checkud(L, 1, ENGINE_MT);
  if (!e->multi) luaL_argerror(L, 1, "engine is closed");
  return e;
}

/* req[key], raw: no __index runs while a transfer is being set up. */
static void rawfield(lua_State *L, int req, const char *key) {
  lua_pushstring(L, key);
  lua_rawget(L, req);
}

static double opt_seconds(lua_State *L, int req, const char *key, double dflt) {
  double v;
  rawfield(L, req, key);
  v = lua_isnil(L, -1) ? dflt : (double)lua_tonumber(L, -1);
  lua_pop(L, 1);
  if (!(v > 0)) luaL_error(L, "'%s' must be a positive number of seconds", key);
  return v;
}

/* A byte count: at least one byte (the whole part counts); a limit beyond
 * what memory could hold is as good as none. */
static size_t opt_bytes(lua_State *L, int req, const char *key, size_t dflt) {
  double v;
  rawfield(L, req, key);
  v = lua_isnil(L, -1) ? (double)dflt : (double)lua_tonumber(L, -1);
  lua_pop(L, 1);
  if (!(v >= 1)) luaL_error(L, "'%s' must be a positive number of bytes", key);
  return v >= (double)(SIZE_MAX / 2) ? SIZE_MAX / 2 : (size_t)v;
}

static void set_headers(lua_State *L, int req, transfer_t *t) {
  size_t i, n;
  rawfield(L, req, "headers");
  if (!lua_isnil(L, -1)) {
    luaL_checktype(L, -1, LUA_TTABLE);
    n = users_rawlen(L, -1);
    for (i = 1; i <= n; i++) {
      size_t len;
      const char *h;
      struct curl_slist *l;
      lua_rawgeti(L, -1, (int)i);
      h = lua_tolstring(L, -1, &len);
      if (!h || strlen(h) != len || strpbrk(h, "\r\n"))
        luaL_error(L, "header %d is not a string without CR, LF or NUL", (int)i);
      if (!(l = curl_slist_append(t->headers, h))) luaL_error(L, "not enough memory");
      t->headers = l;
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  /* No "Expect: 100-continue" round trip before a body. */
  {
    struct curl_slist *l = curl_slist_append(t->headers, "Expect:");
    if (!l) luaL_error(L, "not enough memory");
    t->headers = l;
  }
  curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
}

/* body = "string", or segments = { "string" | { path=, size= }, ... }; libcurl
 * gets copies, and a request without a body sends an empty one (never its
 * default, which reads stdin). */
static void set_body(lua_State *L, int req, transfer_t *t, int has_method_body) {
  size_t i, n, len;
  long long total = 0;
  const char *body;
  rawfield(L, req, "body");
  if (lua_type(L, -1) == LUA_TSTRING) {
    body = lua_tolstring(L, -1, &len);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(t->easy, CURLOPT_COPYPOSTFIELDS, body);
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  rawfield(L, req, "segments");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    if (has_method_body) {
      curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
      curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, "");
    }
    return;
  }
  luaL_checktype(L, -1, LUA_TTABLE);
  n = users_rawlen(L, -1);
  if (!(t->segs = calloc(n ? n : 1, sizeof(seg_t)))) luaL_error(L, "not enough memory");
  for (i = 0; i < n; i++) {
    seg_t *sg = &t->segs[i];
    t->n_segs = i + 1;
    lua_rawgeti(L, -1, (int)i + 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      const char *d = lua_tolstring(L, -1, &sg->len);
      if (!(sg->data = malloc(sg->len ? sg->len : 1))) luaL_error(L, "not enough memory");
      memcpy(sg->data, d, sg->len);
      total += (long long)sg->len;
    } else {
      const char *path;
      luaL_checktype(L, -1, LUA_TTABLE);
      rawfield(L, lua_gettop(L), "path");
      path = luaL_checkstring(L, -1);
      if (!(sg->path = malloc(strlen(path) + 1))) luaL_error(L, "not enough memory");
      strcpy(sg->path, path);
      rawfield(L, lua_gettop(L) - 1, "size");
      sg->size = (long long)luaL_checknumber(L, -1);
      total += sg->size;
      lua_pop(L, 2);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  curl_easy_setopt(t->easy, CURLOPT_POST, 1L);
  curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)total);
  curl_easy_setopt(t->easy, CURLOPT_READFUNCTION, on_read);
  curl_easy_setopt(t->easy, CURLOPT_READDATA, t);
  curl_easy_setopt(t->easy, CURLOPT_SEEKFUNCTION, on_seek);
  curl_easy_setopt(t->easy, CURLOPT_SEEKDATA, t);
}

/* Pushes a new transfer for the request table at req, added to the engine. */
static transfer_t *start(lua_State *L, engine_t *e, int req) {
  transfer_t *t;
  const char *s;
  CURL *easy;
  luaL_checktype(L, req, LUA_TTABLE);
  int has_method_body;
  t = (transfer_t *)users_newuserdata(L, sizeof *t);
  memset(t, 0, sizeof *t);
  users_setmeta(L, TRANSFER_MT, NULL, transfer_gc);
  easy = e->n_pool ? e->pool[--e->n_pool] : curl_easy_init();
  if (!easy) luaL_error(L, "curl_easy_init failed");
  t->easy = easy;

  rawfield(L, req, "url");
  s = lua_tostring(L, -1);
  if (!s || strpbrk(s, "\r\n \t")) luaL_error(L, "request url must be a string without spaces or line breaks");
  curl_easy_setopt(easy, CURLOPT_URL, s); /* libcurl copies strings */
  lua_pop(L, 1);
  rawfield(L, req, "method");
  s = luaL_optstring(L, -1, "GET");
  has_method_body = strcmp(s, "GET") != 0 && strcmp(s, "HEAD") != 0;
  if (strcmp(s, "POST") == 0) curl_easy_setopt(easy, CURLOPT_POST, 1L);
  else if (strcmp(s, "GET") != 0) curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, s);
  if (strcmp(s, "HEAD") == 0) curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  lua_pop(L, 1);
  set_headers(L, req, t);
  set_body(L, req, t, has_method_body);

  /* At least 1 ms: libcurl reads 0 as "no timeout". */
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)(opt_seconds(L, req, "timeout", 30) * 1000) + 1);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   (long)(opt_seconds(L, req, "connect_timeout", 10) * 1000) + 1);
  t->max_body = opt_bytes(L, req, "max_body", 8 * 1024 * 1024);
  curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t->max_body);
  rawfield(L, req, "ca_file");
  if (lua_type(L, -1) == LUA_TSTRING) curl_easy_setopt(easy, CURLOPT_CAINFO, lua_tostring(L, -1));
  lua_pop(L, 1);

  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L); /* never carry credentials elsewhere */
  curl_easy_setopt(easy, CURLOPT_PATH_AS_IS, 1L);     /* the path is ours, already encoded */
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->errbuf);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)t);

  if (!reserve_watch(e, 2 * (e->n_running + 1))) /* a connect may try two addresses */
    luaL_error(L, "not enough memory");
  if (curl_multi_add_handle(e->multi, easy) != CURLM_OK)
    luaL_error(L, "curl_multi_add_handle failed");
  t->engine = e;
  t->state = S_RUNNING;
  t->next = e->running;
  if (e->running) e->running->prev = t;
  e->running = t;
  e->n_running++;
  lua_rawgeti(L, LUA_REGISTRYINDEX, e->anchor_ref);
  lua_pushlightuserdata(L, t);
  lua_pushvalue(L, -3);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  return t;
}

/* --- running ------------------------------------------------------------- */

/* curl_multi_socket_action, its failure kept: the multi handle is then of
 * no more use, and step() ends what runs on it. */
static void act(engine_t *e, curl_socket_t fd, int flags) {
  int running;
  CURLMcode rc = curl_multi_socket_action(e->multi, fd, flags, &running);
  if (rc != CURLM_OK && rc != CURLM_BAD_SOCKET && !e->broken) e->broken = rc;
}

/* libcurl's timer, when due: it starts new transfers and ends slow ones. */
static void fire_timer(engine_t *e) {
  if (e->timer_at >= 0 && now() >= e->timer_at) {
    e->timer_at = -1;
    act(e, CURL_SOCKET_TIMEOUT, 0);
  }
}

/* One step: let libcurl act on what is due and collect what ended. Only
 * when nothing ended (and the caller may wait) sleep in poll() on every
 * watched socket, for at most max_ms, or less when libcurl's timer is due
 * sooner; then libcurl works on the sockets that are ready, and only those. */
static void step(lua_State *L, engine_t *e, long max_ms, int may_sleep) {
  int i, n, ready = 0;
  fire_timer(e);
  if (e->broken) /* nothing will end by itself any more */
    while (e->running) finish(L, e, e->running, CURLE_OUT_OF_MEMORY);
  if (harvest(L, e) > 0 || e->n_running == 0) return;
  if (!may_sleep) max_ms = 0;
  if (e->timer_at >= 0) { /* whole milliseconds, rounded up: no busy loop */
    double left = (e->timer_at - now()) * 1000;
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
    e->ready[ready++].flags = ((r & (POLLIN | POLLHUP)) ? CURL_CSELECT_IN : 0) |
                              ((r & POLLOUT) ? CURL_CSELECT_OUT : 0) |
                              ((r & (POLLERR | POLLNVAL)) ? CURL_CSELECT_ERR : 0);
    e->watch[i].revents = 0;
  }
  for (i = 0; i < ready; i++) act(e, e->ready[i].fd, e->ready[i].flags);
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

/* engine:add(request) -> transfer. The request leaves at once (libcurl's
 * timer for a new transfer is due now): a reply that frees a slot in a bulk
 * run is followed by the next request without waiting for the rest. */
static int engine_add(lua_State *L) {
  engine_t *e = check_engine(L);
  start(L, e, 2);
  fire_timer(e);
  return 1;
}

/* engine:wait([seconds]) -> { transfer, ... } finished since the last call;
 * returns as soon as one has finished, or when the time is up (nil: no
 * limit), or at once when nothing is running. */
static int engine_wait(lua_State *L) {
  engine_t *e = check_engine(L);
  double limit = luaL_optnumber(L, 2, -1), deadline = now() + limit;
  for (;;) {
    long ms = 1000;
    if (limit >= 0) {
      double left = deadline - now();
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

static int push_result(lua_State *L, transfer_t *t);

/* engine:perform(request) -> response | nil, code, message. Runs until this
 * transfer ends; others that end meanwhile wait for engine:wait(). */
static int engine_perform(lua_State *L) {
  engine_t *e = check_engine(L);
  transfer_t *t = start(L, e, 2);
  t->sync = 1;
  while (t->state != S_DONE) step(L, e, 1000, 1);
  return push_result(L, t);
}

static int engine_running(lua_State *L) {
  engine_t *e = check_engine(L);
  lua_pushinteger(L, e->n_running);
  return 1;
}

/* Stops every running transfer (they end as "aborted") and frees libcurl's
 * handles. Both __gc and :close(). */
static int engine_close(lua_State *L) {
  engine_t *e = (engine_t *)lua_touserdata(L, 1);
  int i;
  if (!e->multi) return 0;
  while (e->running) {
    transfer_t *t = e->running;
    curl_multi_remove_handle(e->multi, t->easy);
    unlink_running(t);
    t->engine = NULL;
    t->state = S_DONE;
    t->result = CURLE_ABORTED_BY_CALLBACK;
  }
  for (i = 0; i < e->n_pool; i++) curl_easy_cleanup(e->pool[i]);
  e->n_pool = 0;
  curl_multi_cleanup(e->multi);
  e->multi = NULL;
  free(e->watch); /* after the cleanup, whose callbacks may still use it */
  free(e->ready);
  e->watch = NULL;
  e->ready = NULL;
  e->n_watch = e->cap_watch = 0;
  luaL_unref(L, LUA_REGISTRYINDEX, e->anchor_ref);
  luaL_unref(L, LUA_REGISTRYINDEX, e->done_ref);
  e->anchor_ref = e->done_ref = LUA_NOREF;
  return 0;
}

int engine_new(lua_State *L) {
  engine_t *e;
  static const luaL_Reg methods[] = {
      {"add", engine_add},         {"wait", engine_wait},
      {"perform", engine_perform}, {"running", engine_running},
      {"close", engine_close},     {NULL, NULL}};
  e = (engine_t *)users_newuserdata(L, sizeof *e);
  memset(e, 0, sizeof *e);
  e->anchor_ref = e->done_ref = LUA_NOREF;
  users_setmeta(L, ENGINE_MT, methods, engine_close);
  if (!(e->multi = curl_multi_init())) luaL_error(L, "curl_multi_init failed");
  /* A bulk run bounds the connections it opens to its concurrency, keeps
   * them all in the cache, and multiplexes over HTTP/2 where offered. */
  if (lua_istable(L, 1)) {
    lua_getfield(L, 1, "max_host_connections");
    if (!lua_isnil(L, -1)) {
      long n = (long)luaL_checknumber(L, -1);
      curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS, n);
      curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, n);
    }
    lua_pop(L, 1);
  }
  curl_multi_setopt(e->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  e->timer_at = -1;
  curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
  curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
  lua_newtable(L);
  e->anchor_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_newtable(L);
  e->done_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

/* --- results ------------------------------------------------------------- */

static const char *error_code(transfer_t *t) {
  if (t->too_big || t->result == CURLE_FILESIZE_EXCEEDED) return "too_large";
  if (t->file_changed) return "file_changed";
  switch (t->result) {
  case CURLE_OPERATION_TIMEDOUT: return "timeout";
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY: return "dns";
  case CURLE_COULDNT_CONNECT: return "connect";
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_USE_SSL_FAILED:
  case CURLE_SSL_SHUTDOWN_FAILED: return "tls";
  case CURLE_GOT_NOTHING:
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
  case CURLE_PARTIAL_FILE:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM: return "reset";
  case CURLE_URL_MALFORMAT:
  case CURLE_UNSUPPORTED_PROTOCOL: return "bad_url";
  case CURLE_ABORTED_BY_CALLBACK: return "aborted";
  default: return "transport";
  }
}

static void push_headers(lua_State *L, transfer_t *t) {
  const char *p = t->head.data, *end = p + t->head.len;
  lua_newtable(L);
  while (p && p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p)), *colon, *v, *ve;
    if (!eol) eol = end;
    colon = memchr(p, ':', (size_t)(eol - p));
    if (colon && memcmp(p, "HTTP/", 5) != 0) {
      char name[128];
      size_t n = (size_t)(colon - p), i;
      if (n > 0 && n < sizeof name) {
        for (i = 0; i < n; i++) name[i] = (char)((p[i] >= 'A' && p[i] <= 'Z') ? p[i] + 32 : p[i]);
        v = colon + 1;
        ve = eol;
        while (v < ve && (*v == ' ' || *v == '\t')) v++;
        while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        lua_pushlstring(L, name, n);
        lua_pushvalue(L, -1);
        lua_rawget(L, -3);
        if (lua_isnil(L, -1)) {
          lua_pop(L, 1);
          lua_pushlstring(L, v, (size_t)(ve - v));
        } else { /* repeated header: values joined as RFC 9110 allows */
          lua_pushliteral(L, ", ");
          lua_pushlstring(L, v, (size_t)(ve - v));
          lua_concat(L, 3);
        }
        lua_rawset(L, -3);
      }
    }
    p = eol + 1;
  }
}

static int push_result(lua_State *L, transfer_t *t) {
  if (t->state != S_DONE) return luaL_error(L, "transfer has not finished");
  if (t->result != CURLE_OK || t->too_big) {
    const char *code = error_code(t);
    lua_pushnil(L);
    lua_pushstring(L, code);
    if (strcmp(code, "too_large") == 0) {
      char msg[64];
      snprintf(msg, sizeof msg, "response body larger than %zu bytes", t->max_body);
      lua_pushstring(L, msg);
    }
    else if (strcmp(code, "file_changed") == 0)
      lua_pushliteral(L, "a file being uploaded changed size or could not be read");
    else
      lua_pushstring(L, t->errbuf[0] ? t->errbuf : curl_easy_strerror(t->result));
    return 3;
  }
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, t->status);
  lua_setfield(L, -2, "status");
  push_headers(L, t);
  lua_setfield(L, -2, "headers");
  lua_pushlstring(L, t->body.data ? t->body.data : "", t->body.len);
  lua_setfield(L, -2, "body");
  lua_pushnumber(L, t->elapsed);
  lua_setfield(L, -2, "elapsed");
  return 1;
}

static int transfer_result(lua_State *L) {
  return push_result(L, (transfer_t *)users_checkud(L, 1, TRANSFER_MT));
}

void transfer_open(lua_State *L) {
  static const luaL_Reg methods[] = {{"result", transfer_result}, {NULL, NULL}};
  luaL_newmetatable(L, TRANSFER_MT);
  lua_newtable(L);
  users_setfuncs(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, transfer_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
}
