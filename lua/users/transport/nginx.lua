--- The transport for nginx/OpenResty hosts: HTTP/1.1 over ngx.socket.tcp
-- (cosockets), so a request in flight yields to nginx's event loop instead
-- of blocking the worker. Connections are kept alive in nginx's per-worker
-- pools. Chosen by default inside nginx request, timer and similar phases.
--
-- Differences with the libcurl transport (see README, "OpenResty"):
-- TLS is verified against nginx's `lua_ssl_trusted_certificate` (opts.ca_file
-- cannot be per request there), host names need nginx's `resolver`, proxies
-- from the environment are not used, and the response is HTTP/1.1. A client
-- certificate (client_cert) is read once per worker: a new one needs a reload.
local ngx = ngx -- luacheck: ignore 113 (only loaded inside nginx)
local read = require "users.transport.nginx_read"

local _M = { name = "nginx" }

local tonumber, tostring, type, pairs, ipairs, pcall = tonumber, tostring, type, pairs, ipairs, pcall
local setmetatable = setmetatable
local concat = table.concat
local find, match, lower, sub, byte = string.find, string.match, string.lower, string.sub, string.byte
local headers_get = require("users.headers").get
local core -- users.core, for now(); loaded lazily to keep this file plain Lua
local semaphore -- ngx.semaphore (lua-resty-core), loaded at first use

local function now()
  core = core or require "users.core"
  return core.now()
end

-- "scheme://authority" -> what connecting there needs; the requests of a
-- run share a few, parsed once each (a cache that outgrows 256 starts again).
-- The last one is tried first, without a pattern or a new string.
local origins, n_origins = {}, 0
local last_prefix, last_origin = nil, nil

local function parse_url(url)
  if last_prefix and find(url, last_prefix, 1, true) == 1 then
    local next_byte = byte(url, #last_prefix + 1)
    if next_byte == 47 then return last_origin, sub(url, #last_prefix + 1) end -- "/"
    if next_byte == nil then return last_origin, "/" end
  end
  local prefix, path = match(url, "^(https?://[^/]*)(.*)$")
  if not prefix then return nil end
  local o = origins[prefix]
  if not o then
    local scheme, authority = match(prefix, "^(https?)://(.*)$")
    local host, port = match(authority, "^%[([^%]]+)%]:?(%d*)$")
    if not host then host, port = match(authority, "^([^:]+):?(%d*)$") end
    if not host then return nil end
    port = tonumber(port) or (scheme == "https" and 443 or 80)
    local pool = scheme .. "://" .. host .. ":" .. port
    o = { tls = scheme == "https", host = host, port = port, authority = authority, pool = pool,
          options = { pool = pool } }
    if n_origins >= 256 then origins, n_origins = {}, 0 end
    origins[prefix], n_origins = o, n_origins + 1
  end
  last_prefix, last_origin = prefix, o
  return o, path ~= "" and path or "/"
end

-- Headers this transport writes itself.
local OURS = { host = true, ["content-length"] = true, ["transfer-encoding"] = true }

-- What a header map gives each request: its "Name: value\r\n" lines (ours
-- left out) and its Host, made once per map (the requests of a run share
-- one; the contract, users/transport.lua, lets a transport keep them).
local made = setmetatable({}, { __mode = "k" })

local function lines_of(headers)
  local m = made[headers]
  if not m then
    local parts, n = {}, 0
    for name, value in pairs(headers) do
      if not OURS[lower(name)] then
        n = n + 1
        parts[n] = name .. ": " .. value .. "\r\n"
      end
    end
    m = { concat(parts), headers_get(headers, "host") or false }
    made[headers] = m
  end
  return m[1], m[2]
end

-- cosocket error strings into the transport codes of the C engine ("connection
-- reset by peer" is a reset: the word "connect" in it says nothing).
local function code_of(err)
  err = tostring(err)
  if find(err, "timeout", 1, true) then return "timeout" end
  if find(err, "closed", 1, true) or find(err, "reset", 1, true) or find(err, "broken", 1, true) then
    return "reset"
  end
  if find(err, "refused", 1, true) or find(err, "connect", 1, true) then return "connect" end
  if find(err, "resolve", 1, true) then return "dns" end
  if find(err, "ssl", 1, true) or find(err, "handshake", 1, true) or find(err, "certificate", 1, true) then
    return "tls"
  end
  return "transport"
end

-- nil, message, code, sent: the contract's failure; the socket is closed.
-- A cosocket's error (no code) says what failed, and its code comes from it:
-- once the request may have left, a failure is a reset, never a failed
-- connect; before, a reset is one.
local function fail(sock, state, what, err, code)
  if sock then sock:close() end
  if code then return nil, err, code, state.sent end
  code = code_of(err)
  if state.sent and (code == "connect" or code == "dns" or code == "tls") then code = "reset" end
  if not state.sent and code == "reset" then code = "connect" end
  return nil, what .. ": " .. tostring(err), code, state.sent
end

-- Client certificates (mutual TLS), parsed once per worker: "cert\0key" ->
-- { cert, key } (cdata of ngx.ssl), or false and why.
local certs = {}

local function load_cert(req)
  local key = req.client_key or req.client_cert
  local id = req.client_cert .. "\0" .. key
  local c = certs[id]
  if c == nil then
    local ok, ssl = pcall(require, "ngx.ssl")
    local function pem(path, parse, is_key)
      local f, err = io.open(path, "rb")
      if not f then return nil, err end
      local text = f:read("*a")
      f:close()
      -- OpenSSL would ask for the pass phrase on the terminal (or read
      -- nginx's stdin): no key that needs one is given to it.
      if is_key and (text:find("-----BEGIN ENCRYPTED PRIVATE KEY-----", 1, true)
                     or text:find("Proc-Type: 4,ENCRYPTED", 1, true)) then
        return nil, path .. ": the key is encrypted (a pass phrase is needed): give an unencrypted key"
      end
      local v, perr = parse(text)
      if not v then return nil, path .. ": " .. tostring(perr) end
      return v
    end
    local cert, key_v, err
    if ok then
      cert, err = pem(req.client_cert, ssl.parse_pem_cert)
      if cert then key_v, err = pem(key, ssl.parse_pem_priv_key, true) end
    else
      err = "ngx.ssl (lua-resty-core) is missing"
    end
    c = key_v and { cert, key_v } or { false, err }
    certs[id] = c
  end
  return c[1], c[2]
end

local function set_client_cert(sock, req)
  if not sock.setclientcert then
    return nil, "client_cert needs tcpsock:setclientcert, which this nginx's Lua module lacks"
      .. " (lua-nginx-module 0.10.23 or later, with lua-resty-core)"
  end
  local cert, key = load_cert(req)
  if not cert then return nil, "client_cert: " .. tostring(key) end
  return sock:setclientcert(cert, key)
end

-- Files attached to a request must still have the size they were declared
-- with: checked before anything is sent, so a file that changed fails the
-- request instead of sending more or fewer bytes than Content-Length says.
local function check_files(req)
  for _, seg in ipairs(req.segments) do
    if type(seg) ~= "string" then
      local fh, err = io.open(seg.path, "rb")
      if not fh then return nil, err end
      local size = fh:seek("end")
      fh:close()
      if size ~= seg.size then return nil, "file changed size since it was validated" end
    end
  end
  return true
end

-- Sends exactly seg.size bytes of a file, in pieces.
local function send_file(sock, seg)
  local fh, err = io.open(seg.path, "rb")
  if not fh then return nil, err end
  local left = seg.size
  while left > 0 do
    local chunk = fh:read(left < 65536 and left or 65536)
    if not chunk then fh:close() return nil, "file changed while it was sent" end
    left = left - #chunk
    local ok, serr = sock:send(chunk)
    if not ok then fh:close() return nil, serr end
  end
  fh:close()
  return true
end

-- The request: its head and a body string in one write; segments after.
local function send_request(sock, req, o, path)
  local lines, host = lines_of(req.headers)
  local body = req.body
  local is_string = type(body) == "string"
  local length = is_string and #body or req.body_length
  local ok, err = sock:send(req.method .. " " .. path .. " HTTP/1.1\r\nHost: " .. (host or o.authority) .. "\r\n"
    .. lines .. (length and ("Content-Length: " .. length .. "\r\n\r\n") or "\r\n") .. (is_string and body or ""))
  if not ok or is_string then return ok, err end
  for _, seg in ipairs(req.segments or {}) do
    if type(seg) == "string" then ok, err = sock:send(seg) else ok, err = send_file(sock, seg) end
    if not ok then return nil, err end
  end
  return true
end

-- A connection for req: from the pool of its origin (and client
-- certificate), or, with req.reuse == false, one of its own (a pool name
-- nobody else has, closed after: see users/transport.lua).
local own_connections = 0

local function connect(sock, req, o, state)
  local options = o.options
  if req.client_cert then
    options = { pool = o.pool .. "#" .. req.client_cert .. "#" .. (req.client_key or "") }
  end
  if req.reuse == false then
    own_connections = own_connections + 1
    options = { pool = options.pool .. "#own" .. own_connections }
  end
  local ok, err = sock:connect(o.host, o.port, options)
  if not ok then return fail(nil, state, "connect", err) end
  if o.tls and sock:getreusedtimes() == 0 then
    if req.client_cert then
      ok, err = set_client_cert(sock, req)
      if not ok then return fail(sock, state, "TLS", err, "tls") end
    end
    ok, err = sock:sslhandshake(false, o.host, true) -- always verified
    if not ok then return fail(sock, state, "TLS", "ssl: " .. tostring(err), "tls") end
  end
  return true
end

-- One exchange on a socket. `state.sent` says whether any of the request
-- may have been written (then an update may have been applied); the caller bounds
-- the total time (each socket operation's timeout holds for it alone).
local function exchange(req, state)
  local started = now()
  local o, path = parse_url(req.url)
  if not o then return nil, "cannot parse the URL", "bad_url", false end
  if req.http_version == "h2c" then -- cosockets speak HTTP/1.1 only
    return nil, "http_version \"h2c\" needs the libcurl transport; inside nginx, use \"auto\" or \"1.1\"",
      "bad_url", false
  end
  if req.segments then
    local fok, ferr = check_files(req)
    if not fok then return nil, "a file to upload: " .. tostring(ferr), "file_changed", false end
  end
  local timeout = (req.timeout or 30) * 1000
  local sock = ngx.socket.tcp()
  sock:settimeouts((req.connect_timeout or 10) * 1000, timeout, timeout)
  local ok, err, code = connect(sock, req, o, state)
  if not ok then return nil, err, code, false end
  -- From the first write on, some of the request may reach the server: a
  -- write that fails may have written part of it (a cosocket does not say
  -- how much).
  state.sent = true
  ok, err = send_request(sock, req, o, path)
  if not ok then return fail(sock, state, "send", err) end

  local res, keep
  res, keep, code = read.response(sock, req.method, req.max_body or 8 * 1024 * 1024)
  if not res then return fail(sock, state, "receive", keep, code) end
  if keep and req.reuse ~= false then sock:setkeepalive(60000, 64) else sock:close() end
  res.elapsed = now() - started
  return res
end

--- Sends a prepared request: res ({ status, protocol, headers, body, elapsed }) or
-- nil, message, code, sent, like the libcurl transport. The exchange runs
-- in a light thread, killed when `timeout` runs out: a server that trickles
-- bytes (endless 1xx answers, one byte at a time) cannot hold it longer,
-- as cosocket timeouts count each operation, not the whole.
local free_semas = {}

local function timed_out(timeout, state)
  return nil, ("no complete answer within %g s"):format(timeout), "timeout", state.sent
end

function _M.send(req)
  semaphore = semaphore or require "ngx.semaphore"
  local timeout = req.timeout or 30
  local sema = free_semas[#free_semas] or semaphore.new()
  free_semas[#free_semas] = nil
  local state, out = { sent = false }, nil
  local worker = ngx.thread.spawn(function()
    local r = { pcall(exchange, req, state) }
    out = r
    sema:post(1)
  end)
  if not out then sema:wait(timeout) end
  if not out then
    ngx.thread.kill(worker) -- its socket is closed with it
    free_semas[#free_semas + 1] = sema
    return timed_out(timeout, state)
  end
  free_semas[#free_semas + 1] = sema
  if sema:count() > 0 then sema:wait(0) end -- a post that came with the answer
  if not out[1] then return nil, "the request failed: " .. tostring(out[2]), "transport", state.sent end
  return out[2], out[3], out[4], out[5]
end

--- A bulk session: each request runs in a light thread of its own, which
-- puts its outcome on the done list and wakes the waiter; wait returns
-- what finished, as the libcurl engine does, and ends requests past their
-- timeout (their thread killed, so a trickling server cannot hold one).
function _M.session()
  semaphore = semaphore or require "ngx.semaphore"
  local sema = semaphore.new()
  local running, n_running = {}, 0 -- handle -> true
  local done, n_done = {}, 0
  local waiting = false
  local next_deadline = math.huge
  local clock = ngx.now

  local function run(handle, req)
    local ok, res, msg, code, sent = pcall(exchange, req, handle)
    if not ok then res, msg, code, sent = nil, "the request's thread failed: " .. tostring(res), "transport", handle.sent end
    if not running[handle] then return end -- closed meanwhile
    running[handle], n_running = nil, n_running - 1
    n_done = n_done + 1
    done[n_done] = { handle, res, msg, code, sent }
    if waiting then
      waiting = false
      sema:post(1)
    end
  end

  -- Requests past their deadline end as timeouts.
  local function expire()
    local t, soonest = clock(), math.huge
    if t < next_deadline then return end
    for handle in pairs(running) do
      if handle.deadline <= t then
        ngx.thread.kill(handle.thread)
        running[handle], n_running = nil, n_running - 1
        n_done = n_done + 1
        done[n_done] = { handle, timed_out(handle.timeout, handle) }
      elseif handle.deadline < soonest then
        soonest = handle.deadline
      end
    end
    next_deadline = soonest
  end

  local s = {}
  function s.start(req)
    local timeout = req.timeout or 30
    local handle = { sent = false, timeout = timeout, deadline = clock() + timeout }
    if handle.deadline < next_deadline then next_deadline = handle.deadline end
    running[handle], n_running = true, n_running + 1
    handle.thread = ngx.thread.spawn(run, handle, req)
    return handle
  end
  -- Sleeps until a request ends or `seconds` pass; nginx's timers count
  -- whole milliseconds, and its clock (ngx.now) moves only when the worker
  -- goes back to its event loop.
  local function sleep(seconds)
    waiting = true
    sema:wait(seconds < 0.001 and 0.001 or seconds)
    waiting = false
  end
  function s.wait(timeout)
    if n_done == 0 and n_running > 0 then
      local left = next_deadline - clock()
      if timeout == nil or timeout >= 0.001 then
        -- a deadline less than a millisecond away is slept to as well: the
        -- clock would not move otherwise, and a caller that waits again at
        -- once would spin without end
        if left > 0 then sleep((timeout == nil or timeout > left) and left or timeout) end
      elseif left > 0 and timeout > 0 then
        sleep(timeout)
      end
      expire()
    end
    local out = done
    done, n_done = {}, 0
    return out
  end
  function s.close()
    for handle in pairs(running) do ngx.thread.kill(handle.thread) end
    running, n_running, done, n_done = {}, 0, {}, 0
  end
  return s
end

function _M.sleep(seconds) ngx.sleep(seconds < 0.001 and 0.001 or seconds) end
function _M.now() return now() end

return _M
