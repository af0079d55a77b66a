/* One transfer: a request table into an easy handle, libcurl's callbacks,
 * the result for Lua (see transfer.h). */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "headers.h"
#include "transfer.h"

#define TRANSFER_MT "users.transfer"
#define MAX_HEADER_BYTES (256 * 1024)
#define MAX_SEGMENT 9007199254740992.0 /* 2^53 bytes: a file segment's size, exact in a double */

/* --- libcurl callbacks: bytes only, never Lua ---------------------------- */

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud) {
  users_transfer_t *t = (users_transfer_t *)ud;
  size_t n = size * nmemb;
  if (n > t->max_body - t->body.len) { t->too_big = 1; return 0; }
  return users_buf_add(&t->body, p, n) ? n : 0;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud) {
  users_transfer_t *t = (users_transfer_t *)ud;
  size_t n = size * nmemb;
  if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) t->head.len = 0; /* a new response */
  if (t->head.len + n > MAX_HEADER_BYTES) { t->head_too_big = 1; return 0; }
  return users_buf_add(&t->head, p, n) ? n : 0;
}

static size_t on_read(char *out, size_t size, size_t nmemb, void *ud) {
  users_transfer_t *t = (users_transfer_t *)ud;
  size_t room = size * nmemb, done = 0;
  while (room > 0 && t->cur < t->n_segs) {
    users_segment_t *s = &t->segs[t->cur];
    size_t want, got;
    if (s->path) {
      if (!t->fp && !(t->fp = fopen(s->path, "rb"))) {
        t->file_changed = 1;
        return CURL_READFUNC_ABORT;
      }
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
  users_transfer_t *t = (users_transfer_t *)ud;
  if (offset != 0 || origin != SEEK_SET) return CURL_SEEKFUNC_CANTSEEK;
  if (t->fp) { fclose(t->fp); t->fp = NULL; }
  t->cur = 0;
  t->off = 0;
  return CURL_SEEKFUNC_OK;
}

/* --- lifetime ------------------------------------------------------------ */

void users_transfer_free_request(lua_State *L, users_transfer_t *t) {
  size_t i;
  curl_slist_free_all(t->headers);
  t->headers = NULL;
  if (t->body_ref != LUA_NOREF) { /* libcurl has let go of it: the string may go */
    luaL_unref(L, LUA_REGISTRYINDEX, t->body_ref);
    t->body_ref = LUA_NOREF;
  }
  if (t->fp) { fclose(t->fp); t->fp = NULL; }
  for (i = 0; i < t->n_segs; i++) {
    free(t->segs[i].path);
    free(t->segs[i].data);
  }
  free(t->segs);
  t->segs = NULL;
  t->n_segs = 0;
}

/* Both __gc and __close (5.4), and safe to call again: a transfer closed
 * while it runs is taken off its engine and ends as "aborted". */
static int transfer_close(lua_State *L) {
  users_transfer_t *t = (users_transfer_t *)users_checkud(L, 1, TRANSFER_MT);
  if (t->state == USERS_TRANSFER_RUNNING) {
    if (t->detach) t->detach(L, t);
    t->result = CURLE_ABORTED_BY_CALLBACK;
  }
  if (t->easy) curl_easy_cleanup(t->easy);
  t->easy = NULL;
  users_transfer_free_request(L, t);
  users_buf_free(&t->body);
  users_buf_free(&t->head);
  t->state = USERS_TRANSFER_DONE;
  t->closed = 1;
  return 0;
}

/* transfer:result() -> response | nil, message, code, sent */
static int transfer_result(lua_State *L) {
  users_transfer_t *t = (users_transfer_t *)users_checkud(L, 1, TRANSFER_MT);
  if (t->closed) return luaL_argerror(L, 1, "transfer is closed");
  return users_transfer_push_result(L, t);
}

users_transfer_t *users_transfer_new(lua_State *L) {
  static const luaL_Reg methods[] = {{"result", transfer_result}, {NULL, NULL}};
  users_transfer_t *t = (users_transfer_t *)users_newuserdata(L, sizeof *t);
  memset(t, 0, sizeof *t);
  t->body_ref = LUA_NOREF; /* before the metatable: its __gc reads it */
  users_setmeta(L, TRANSFER_MT, methods, transfer_close);
  return t;
}

/* Whether any of the request may have reached the server: libcurl counts
 * the bytes of the request it wrote (CURLINFO_REQUEST_SIZE: head and what
 * of the body went with it; SIZE_UPLOAD: the body) and of the answer it
 * read (HEADER_SIZE), for every attempt of the transfer, its own resends
 * included. None of them: the transfer failed before it wrote a byte (DNS,
 * connect, TLS, a file that changed before the first read), and the server
 * cannot have seen the request. GOT_NOTHING is said only after a request
 * was sent. Those counts include a proxy's CONNECT exchange, though: the
 * time libcurl reached "pretransfer" (set once, at least 1 us, after the
 * connection to the origin, its tunnel and TLS included, was made: never
 * reset by a resend) says whether the request could leave at all; 0, and
 * nothing went to the origin (a proxy that refused the tunnel, TLS that
 * failed through it). */
static int may_have_sent(users_transfer_t *t, CURLcode result) {
  long request_size = 0, header_size = 0;
#if LIBCURL_VERSION_NUM >= 0x073D00
  curl_off_t pretransfer = 0;
  curl_easy_getinfo(t->easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
#else
  double pretransfer = 0;
  curl_easy_getinfo(t->easy, CURLINFO_PRETRANSFER_TIME, &pretransfer);
#endif
#if LIBCURL_VERSION_NUM >= 0x073700
  curl_off_t uploaded = 0;
  curl_easy_getinfo(t->easy, CURLINFO_SIZE_UPLOAD_T, &uploaded);
#else
  double uploaded = 0;
  curl_easy_getinfo(t->easy, CURLINFO_SIZE_UPLOAD, &uploaded);
#endif
  if (!(pretransfer > 0)) return 0;
  curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &request_size);
  curl_easy_getinfo(t->easy, CURLINFO_HEADER_SIZE, &header_size);
  return request_size > 0 || uploaded > 0 || header_size > 0 || t->head.len > 0 || t->body.len > 0 ||
         result == CURLE_GOT_NOTHING;
}

void users_transfer_ended(users_transfer_t *t, CURLcode result) {
  t->result = result;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &t->status);
  curl_easy_getinfo(t->easy, CURLINFO_TOTAL_TIME, &t->elapsed);
  curl_easy_getinfo(t->easy, CURLINFO_HTTP_VERSION, &t->http_version);
  t->sent = may_have_sent(t, result);
}

/* What CURLINFO_HTTP_VERSION says, as res.protocol spells it. */
static const char *protocol(long v) {
  switch (v) {
  case CURL_HTTP_VERSION_1_0: return "HTTP/1.0";
  case CURL_HTTP_VERSION_1_1: return "HTTP/1.1";
  case CURL_HTTP_VERSION_2_0: return "HTTP/2";
#if LIBCURL_VERSION_NUM >= 0x074200 /* an enum value, not a macro */
  case CURL_HTTP_VERSION_3: return "HTTP/3";
#endif
  default: return "HTTP";
  }
}

/* --- request setup ------------------------------------------------------- */

/* req[key], raw: no __index runs while a transfer is being set up. */
static void rawfield(lua_State *L, int req, const char *key) {
  lua_pushstring(L, key);
  lua_rawget(L, req);
}

/* A time in whole milliseconds for libcurl, at least 1 (0 is "no timeout"
 * to it). One beyond what a long holds (infinity, 1e300) is clamped: as
 * good as no limit, never a cast out of the type's range. */
static long opt_ms(lua_State *L, int req, const char *key, double dflt) {
  double v;
  rawfield(L, req, key);
  v = lua_isnil(L, -1) ? dflt : (double)lua_tonumber(L, -1);
  lua_pop(L, 1);
  if (!(v > 0)) luaL_error(L, "'%s' must be a positive number of seconds", key);
  v *= 1000;
  return v >= (double)(LONG_MAX / 2) ? LONG_MAX / 2 : (long)v + 1;
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

/* What the libcurl in use has: read once, when the module is loaded
 * (users_transfer_init, beside curl_global_init), never written again. */
static struct { unsigned version_num; const char *cainfo, *capath; } curl_has;

void users_transfer_init(void) {
  const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
  curl_has.version_num = v->version_num;
  if (v->age >= CURLVERSION_NINTH) { /* libcurl's own default CA bundle and directory */
    curl_has.cainfo = v->cainfo;
    curl_has.capath = v->capath;
  }
}

/* http_version: "auto" (nil: HTTP/2 where TLS offers it, else HTTP/1.1),
 * "1.1" (never HTTP/2) or "h2c" (HTTP/2 from the first byte, also without
 * TLS: prior knowledge, for gateways that speak it). */
static long http_version(lua_State *L, int req) {
  const char *v;
  long out;
  rawfield(L, req, "http_version");
  v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : lua_isnil(L, -1) ? "auto" : NULL;
  if (v && strcmp(v, "auto") == 0) out = CURL_HTTP_VERSION_2TLS;
  else if (v && strcmp(v, "1.1") == 0) out = CURL_HTTP_VERSION_1_1;
  else if (v && strcmp(v, "h2c") == 0) out = CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
  else return luaL_error(L, "http_version must be \"auto\", \"1.1\" or \"h2c\"");
  lua_pop(L, 1);
  return out;
}

/* req[key]: a string without NUL (libcurl copies it), or NULL for nil. */
static const char *opt_string(lua_State *L, int req, const char *key) {
  const char *s;
  size_t len = 0;
  rawfield(L, req, key);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return NULL;
  }
  s = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
  if (!s || strlen(s) != len) luaL_error(L, "'%s' must be a string without NUL", key);
  lua_pop(L, 1); /* req still holds it */
  return s;
}

static void set_headers(lua_State *L, int req, int lines, users_transfer_t *t) {
  size_t i, n;
  if (lines && !lua_isnoneornil(L, lines)) lua_pushvalue(L, lines);
  else rawfield(L, req, "headers");
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

/* body = "string", or segments = { "string" | { path=, size= }, ... }; a
 * request without a body sends an empty one (never libcurl's default, which
 * reads stdin). A body string is lent to libcurl, not copied (no
 * COPYPOSTFIELDS): the registry keeps it until users_transfer_free_request,
 * after libcurl has let go of the handle, and a Lua string never moves.
 * Segments are copied: a segment list is a table the caller may change. */
static void set_body(lua_State *L, int req, users_transfer_t *t, int has_method_body) {
  size_t i, n, len;
  long long total = 0;
  double size;
  const char *body;
  rawfield(L, req, "body");
  if (lua_type(L, -1) == LUA_TSTRING) {
    body = lua_tolstring(L, -1, &len);
    t->body_ref = luaL_ref(L, LUA_REGISTRYINDEX); /* pops it; may raise, before libcurl sees it */
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, body);
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
  if (!(t->segs = calloc(n ? n : 1, sizeof(users_segment_t)))) luaL_error(L, "not enough memory");
  for (i = 0; i < n; i++) {
    users_segment_t *sg = &t->segs[i];
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
      size = lua_type(L, -1) == LUA_TNUMBER ? (double)lua_tonumber(L, -1) : -1;
      if (!(size >= 0 && size <= MAX_SEGMENT)) /* NaN too: never cast */
        luaL_error(L, "segment %d: size must be a byte count", (int)i + 1);
      sg->size = (long long)size;
      if (sg->size > LLONG_MAX - total) luaL_error(L, "the body is larger than a long long counts");
      total += sg->size;
      lua_pop(L, 2);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  curl_easy_setopt(t->easy, CURLOPT_POST, 1L); /* no POSTFIELDS: the body comes from on_read */
  curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)total);
}

/* What every transfer of ours has, set on a new easy handle (and after
 * users_transfer_handle_release reset one): a pooled handle keeps it, so
 * users_transfer_setup sets only what may differ, and all of it each time. */
void users_transfer_handle_init(CURL *easy) {
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
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(easy, CURLOPT_READFUNCTION, on_read); /* used by a body of segments only */
  curl_easy_setopt(easy, CURLOPT_SEEKFUNCTION, on_seek);
}

/* A handle going back to the pool points at nothing of the transfer that
 * used it (its header list, error buffer and callback data are freed), nor
 * keeps its body. libcurl before 8.17 also keeps, across the transfers of a
 * handle, the count of resends on a new connection after a kept-alive one
 * died, and fails the sixth "Connection died, tried 5 times" (curl issue
 * 18926): there only curl_easy_reset clears it, so the handle is reset
 * (returns 1: its options are all gone). */
int users_transfer_handle_release(CURL *easy) {
  if (curl_has.version_num < 0x081100) {
    curl_easy_reset(easy);
    return 1;
  }
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, NULL);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, NULL);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, NULL);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, NULL);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, NULL);
  curl_easy_setopt(easy, CURLOPT_READDATA, NULL);
  curl_easy_setopt(easy, CURLOPT_SEEKDATA, NULL);
  return 0;
}

void users_transfer_setup(lua_State *L, users_transfer_t *t, int req, int lines) {
  CURL *easy = t->easy;
  const char *s, *cert, *key;
  int has_method_body, tls, fresh;
  luaL_checktype(L, req, LUA_TTABLE);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, t);
  curl_easy_setopt(easy, CURLOPT_READDATA, t);
  curl_easy_setopt(easy, CURLOPT_SEEKDATA, t);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->errbuf);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)t);
  rawfield(L, req, "url");
  s = lua_tostring(L, -1);
  if (!s || strpbrk(s, "\r\n \t"))
    luaL_error(L, "request url must be a string without spaces or line breaks");
  curl_easy_setopt(easy, CURLOPT_URL, s); /* libcurl copies strings */
  tls = strncasecmp(s, "https://", 8) == 0;
  lua_pop(L, 1);
  rawfield(L, req, "method");
  s = luaL_optstring(L, -1, "GET");
  has_method_body = strcmp(s, "GET") != 0 && strcmp(s, "HEAD") != 0;
  /* What an earlier transfer of the handle set, undone: its body (and the
   * copy libcurl kept of it), then its method. */
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, NULL);
  curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, strcmp(s, "GET") != 0 && strcmp(s, "POST") != 0 ? s : NULL);
  if (strcmp(s, "POST") == 0) curl_easy_setopt(easy, CURLOPT_POST, 1L);
  if (strcmp(s, "HEAD") == 0) curl_easy_setopt(easy, CURLOPT_NOBODY, 1L); /* HTTPGET cleared it */
  lua_pop(L, 1);
  set_headers(L, req, lines, t);
  set_body(L, req, t, has_method_body);

  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, opt_ms(L, req, "timeout", 30));
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, opt_ms(L, req, "connect_timeout", 10));
  t->max_body = opt_bytes(L, req, "max_body", 8 * 1024 * 1024);
  curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t->max_body);
  rawfield(L, req, "ca_file");
  /* Verify with one CA file (ca_file, or libcurl's bundle, which holds every
   * certificate of the system's directory): libcurl keeps the store it built
   * from a file in the engine and reuses it for each connection, but only
   * when no CA directory is set, and Debian's libcurl sets one. A libcurl
   * without a bundle keeps its directory. */
  if (tls) {
    const char *file = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : curl_has.cainfo;
    curl_easy_setopt(easy, CURLOPT_CAINFO, file);
    curl_easy_setopt(easy, CURLOPT_CAPATH, file ? NULL : curl_has.capath);
  }
  lua_pop(L, 1);
  /* Mutual TLS: the client's certificate (PEM), and its key (another file,
   * or the same one when omitted). libcurl keys its connection cache, and
   * its TLS sessions, on the certificate: a connection made with one is
   * never reused for another, nor for a request without one. */
  cert = opt_string(L, req, "client_cert");
  key = opt_string(L, req, "client_key");
  if (key && !cert) luaL_error(L, "'client_key' needs a 'client_cert'");
  curl_easy_setopt(easy, CURLOPT_SSLCERT, cert);
  curl_easy_setopt(easy, CURLOPT_SSLKEY, key);
  /* An empty pass phrase, never none: without one OpenSSL asks for it on
   * the terminal, or reads a line of the process's stdin. An encrypted key
   * then fails the connection as a TLS error. */
  curl_easy_setopt(easy, CURLOPT_KEYPASSWD, cert ? "" : NULL);
  rawfield(L, req, "reuse");
  if (!lua_isnil(L, -1) && !lua_isboolean(L, -1)) luaL_error(L, "'reuse' must be a boolean");
  fresh = lua_isboolean(L, -1) && !lua_toboolean(L, -1);
  lua_pop(L, 1);
  {
    long version = http_version(L, req);
    int may_multiplex = version == CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE ||
                        (version == CURL_HTTP_VERSION_2TLS && tls);
    /* req.reuse = false: a connection no request has used, that no other
     * request uses while this one runs, closed after it. libcurl resends a
     * request by itself, once the connection it was written on dies before
     * any answer, only when that connection was a reused one
     * (Curl_retry_request in lib/transfer.c; also on an HTTP/2
     * REFUSED_STREAM, which the protocol says was never processed).
     * FRESH_CONNECT opens a new connection, FORBID_REUSE closes it after,
     * and the engine runs the transfer on a multi handle of its own
     * (t->fresh, engine.c), where no other transfer can join it.
     * libcurl before 8.0 also breaks an h2c connection it reuses ("Error in
     * the HTTP2 framing layer", curl PR 10643; not one that got HTTP/2
     * from TLS): each h2c transfer there gets a connection of its own. */
    t->fresh = fresh || (version == CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE && !tls &&
                         curl_has.version_num < 0x080000);
    curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, version);
    curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, (long)t->fresh);
    curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, (long)t->fresh);
    /* Where HTTP/2 may come, a new transfer waits for a connection being
     * opened to say whether it multiplexes, rather than open its own: a bulk
     * run then shares one. Elsewhere waiting would only delay it. */
    curl_easy_setopt(easy, CURLOPT_PIPEWAIT, may_multiplex && !t->fresh ? 1L : 0L);
  }
}

/* --- results ------------------------------------------------------------- */

static const char *transfer_code(users_transfer_t *t) {
  if (t->too_big || t->head_too_big || t->result == CURLE_FILESIZE_EXCEEDED) return "too_large";
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
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_BAD_CONTENT_ENCODING: return "bad_response";
  case CURLE_RECV_ERROR: /* a chunk-size line that is no hex number too: say so */
    return strstr(t->errbuf, "chunked-encoding") ? "bad_response" : "reset";
  case CURLE_GOT_NOTHING:
  case CURLE_SEND_ERROR:
  case CURLE_PARTIAL_FILE:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM: return "reset";
  case CURLE_UNSUPPORTED_PROTOCOL: /* also an answer that is no HTTP ("HTTP/0.9") */
    return t->sent ? "bad_response" : "bad_url";
  case CURLE_URL_MALFORMAT: return "bad_url";
  case CURLE_ABORTED_BY_CALLBACK: return "aborted";
  default: return "transport";
  }
}

/* A reset before any of the request could leave (a proxy that refused the
 * tunnel: nothing went to the origin) is a failure to connect; and the
 * other way round, a connect, DNS or TLS failure after the request left (a
 * resend libcurl made itself, after the kept-alive connection it first
 * went on died) is a reset: those codes say nothing was written. */
static const char *error_code(users_transfer_t *t) {
  const char *code = transfer_code(t);
  if (!t->sent) return strcmp(code, "reset") == 0 ? "connect" : code;
  if (!strcmp(code, "connect") || !strcmp(code, "dns") || !strcmp(code, "tls")) return "reset";
  return code;
}

/* nil, message, code, sent: the transport contract's failure. */
static int push_failure(lua_State *L, users_transfer_t *t) {
  const char *code = error_code(t);
  lua_pushnil(L);
  if (t->head_too_big) {
    lua_pushfstring(L, "response headers larger than %d bytes", MAX_HEADER_BYTES);
  } else if (strcmp(code, "too_large") == 0) {
    char msg[64];
    snprintf(msg, sizeof msg, "response body larger than %zu bytes", t->max_body);
    lua_pushstring(L, msg);
  } else if (strcmp(code, "file_changed") == 0) {
    lua_pushliteral(L, "a file being uploaded changed size or could not be read");
  } else {
    lua_pushstring(L, t->errbuf[0] ? t->errbuf : curl_easy_strerror(t->result));
  }
  lua_pushstring(L, code);
  lua_pushboolean(L, t->sent);
  return 4;
}

int users_transfer_push_result(lua_State *L, users_transfer_t *t) {
  if (t->state != USERS_TRANSFER_DONE) return luaL_error(L, "transfer has not finished");
  if (t->result != CURLE_OK || t->too_big) return push_failure(L, t);
  if (t->status < 200) {
    /* libcurl ended with an interim answer as the last one (an unasked-for
     * 101, whose bytes then run to the end of the connection; with 7.88,
     * now and then, a flood of 103 over HTTP/2): no final answer came, and
     * the request was sent. */
    lua_pushnil(L);
    lua_pushfstring(L, "no final answer: the last was HTTP %d, an interim status", (int)t->status);
    lua_pushliteral(L, "reset");
    lua_pushboolean(L, 1);
    return 4;
  }
  lua_createtable(L, 0, 5);
  lua_pushinteger(L, t->status);
  lua_setfield(L, -2, "status");
  lua_pushstring(L, protocol(t->http_version));
  lua_setfield(L, -2, "protocol");
  users_headers_push(L, t->head.data, t->head.len);
  lua_setfield(L, -2, "headers");
  lua_pushlstring(L, t->body.data ? t->body.data : "", t->body.len);
  lua_setfield(L, -2, "body");
  lua_pushnumber(L, t->elapsed);
  lua_setfield(L, -2, "elapsed");
  return 1;
}
