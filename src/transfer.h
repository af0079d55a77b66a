/* One HTTP transfer: a request table made into a libcurl easy handle, the
 * callbacks that fill its response buffers, and its result for Lua. The
 * engine (engine.c) runs it.
 *
 * A transfer is a userdata that owns its easy handle, header list and
 * response buffers. A body string is lent to libcurl as it is, not copied:
 * the transfer holds a registry reference to it until libcurl has let go of
 * the handle (users_transfer_free_request), so the caller may drop the
 * request meanwhile. libcurl's callbacks only copy bytes between C buffers:
 * no Lua code runs inside libcurl, so no Lua error can unwind through it. */
#ifndef USERS_TRANSFER_H
#define USERS_TRANSFER_H

#include <stdio.h>
#include <curl/curl.h>
#include "buf.h"

enum { USERS_TRANSFER_NEW, USERS_TRANSFER_RUNNING, USERS_TRANSFER_DONE };

typedef struct {
  char *data;       /* string segment (our copy) */
  size_t len;
  char *path;       /* file segment */
  long long size;
} users_segment_t;

struct users_engine;

typedef struct users_transfer {
  CURL *easy;
  struct curl_slist *headers;
  int body_ref;             /* the body string libcurl reads (LUA_NOREF: none) */
  users_buf_t body, head;   /* the response */
  size_t max_body;
  int state, closed, too_big, head_too_big, file_changed;
  int sent;                 /* some of the request may have reached the server */
  int fresh;                /* a connection of its own (req.reuse = false): the engine's OWN multi */
  CURLcode result;
  long status, http_version;
  double elapsed;
  char errbuf[CURL_ERROR_SIZE];
  users_segment_t *segs;    /* the request body, when it is segments */
  size_t n_segs, cur;
  long long off;
  FILE *fp;
  /* Kept by the engine that runs it. detach takes the transfer off its
   * engine when it is closed (or collected) while it runs: the engine is
   * above this file, so the call goes through a pointer. */
  struct users_engine *engine;
  void (*detach)(lua_State *L, struct users_transfer *t);
  int sync;                 /* engine:perform waits for it: not on the done list */
  struct users_transfer *prev, *next;
} users_transfer_t;

/* Reads what the libcurl in use offers; once, after curl_global_init. */
void users_transfer_init(void);
/* Pushes a new, empty transfer (its metatable: result, __gc, __close). */
users_transfer_t *users_transfer_new(lua_State *L);
/* Sets on a new easy handle the options every transfer has. */
void users_transfer_handle_init(CURL *easy);
/* Unhooks a handle from the transfer that used it, for the pool. With a
 * libcurl before 8.17 it resets the handle and returns 1: its options are
 * then the caller's to set again, and CURLOPT_SHARE too (the reset drops
 * the TLS session settings the share gave the handle). */
int users_transfer_handle_release(CURL *easy);
/* Sets up t->easy (a handle from users_transfer_handle_init, perhaps used
 * before) from the request table at req: url, method, headers, body or
 * segments, timeouts, max_body, ca_file, client_cert and client_key,
 * http_version and reuse, each set anew. The
 * header lines are the table at index `lines` when there is one (0: none),
 * else req.headers.
 * Raises when the request is malformed (t owns the handle already, so
 * nothing leaks). */
void users_transfer_setup(lua_State *L, users_transfer_t *t, int req, int lines);
/* libcurl ended t: keeps the result, the status, the time, and whether
 * any of the request may have reached the server. */
void users_transfer_ended(users_transfer_t *t, CURLcode result);
/* Frees what the request needed (and lets the body string go) once libcurl
 * has let go of it: the handle is off the multi, pooled or cleaned up. */
void users_transfer_free_request(lua_State *L, users_transfer_t *t);
/* response { status, protocol, headers, body, elapsed } | nil, message,
 * code, sent (the transport contract, users/transport.lua) */
int users_transfer_push_result(lua_State *L, users_transfer_t *t);

#endif
