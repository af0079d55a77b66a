--- The transport contract: what users.update and bulk runs need from a
-- transport, written once here. Two follow it: users.transport.curl
-- (libcurl, the default) and users.transport.nginx (cosockets, chosen
-- inside nginx). `opts.transport` may be any table that follows it.
-- @module users.transport
--
-- A request (`req`, made by users.prepare) is
--   { method, url, headers = { Name = "value" }, body = "..." | nil,
--     segments = { "bytes" | { path =, size = }, ... } | nil, body_length,
--     timeout, connect_timeout (seconds), ca_file, max_body (bytes),
--     client_cert, client_key (PEM files: mutual TLS; the key may be in the
--     certificate's file, then client_key is nil; a key encrypted with a
--     pass phrase is a failure, "tls", sent = false: no pass phrase is
--     ever asked for, on a terminal or stdin),
--     http_version = "auto" | "1.1" | "h2c" | nil (nil: "auto"),
--     reuse = false | nil }
-- `reuse = false` asks for a connection no other request has used or uses
-- while this one runs, closed after it: a transport must then never send
-- the request twice by itself (libcurl resends, on its own, a request whose
-- reused connection died before any answer). A connection made with one
-- client certificate is never used for a request with another, or without.
-- Its headers never hold Content-Length or Transfer-Encoding (the transport
-- frames the body); a Host header, when present, replaces the URL's. The
-- requests of one run share one header map: a transport reads it, never
-- changes it, and may keep what it derives from it (users.prepare gives a
-- caller a map of its own, to change before it is sent, not after).
--
--   send(req)            -> res | nil, message, code, sent
--        res = { status = 200, protocol = "HTTP/1.1" | "HTTP/2" | ...,
--                headers = { ["lower-case-name"] = "v" },
--                body = "...", elapsed = seconds }
--        res.status is a final one (200 or more): an answer that ends on an
--        interim status (1xx) is a failure, "reset", sent. Repeated response
--        headers are joined with ", " (in linear time); the header block
--        is at most 256 KB and the body at most max_body ("too_large").
--        On failure: message, one sentence; code, one of timeout,
--        connect, dns, tls, reset, too_large, bad_response (the answer is
--        not HTTP: a bad status line or chunk), bad_url, aborted,
--        file_changed, transport; sent, false when no byte of the request
--        was written to the origin (DNS, connect, TLS, refused before
--        writing, a proxy that refused the tunnel: "connect"), true when
--        some of it may have reached the server (a later timeout, reset,
--        empty or broken answer is then ambiguous: the update may have
--        been applied).
--   session(concurrency) -> s, for bulk runs:
--        s.start(req)     -> handle (sent at once)
--        s.wait(seconds)  -> { { handle, res | nil, message, code, sent }, ... }:
--                            at least one finished, or none when the time
--                            is up (nil seconds: until one finishes)
--        s.close()          abandons what is still running
--   sleep(seconds)         blocks (or yields, inside nginx)
--   now()                -> monotonic seconds
-- @usage
-- local t = require("users.transport").default()
-- local res, msg, code, sent = t.send(users.prepare("generic", "u1", { role = "x" }))
local _M = {}

local type, rawget, require = type, rawget, require

local REQUIRED = { "send", "session", "sleep", "now" }

--- Checks a table against the contract.
-- @param t a transport
-- @return nil when t follows the contract, else what is missing
function _M.problem(t)
  if type(t) ~= "table" then return "a transport must be a table" end
  for _, k in ipairs(REQUIRED) do
    if type(t[k]) ~= "function" then return "a transport needs a function '" .. k .. "'" end
  end
end

-- Inside nginx, in the phases where cosockets work, requests go through
-- nginx itself and never block the worker; everywhere else through libcurl.
local cosocket_phases = { rewrite = true, access = true, content = true, timer = true,
                          ssl_cert = true, ssl_session_fetch = true, preread = true }

--- The transport to use where no opts.transport is given: nginx's inside
-- nginx, in the phases where cosockets work; libcurl's everywhere else.
-- @return users.transport.nginx or users.transport.curl
function _M.default()
  local ngx = rawget(_G, "ngx")
  if ngx and ngx.socket and ngx.get_phase and cosocket_phases[ngx.get_phase()] then
    return require "users.transport.nginx"
  end
  return require "users.transport.curl"
end

return _M
