--- The transport for nginx/OpenResty hosts: HTTP/1.1 over ngx.socket.tcp
-- (cosockets), so a request in flight yields to nginx's event loop instead
-- of blocking the worker. Connections are kept alive in nginx's per-worker
-- pools. Chosen by default inside nginx request, timer and similar phases.
--
-- Differences with the libcurl transport (see README, "OpenResty"):
-- TLS is verified against nginx's `lua_ssl_trusted_certificate` (opts.ca_file
-- cannot be per request there), host names need nginx's `resolver`, proxies
-- from the environment are not used, and the response is HTTP/1.1.
local ngx = ngx -- luacheck: ignore 113 (only loaded inside nginx)

local _M = { name = "nginx" }

local tonumber, tostring, type, pairs, ipairs, pcall = tonumber, tostring, type, pairs, ipairs, pcall
local concat = table.concat
local core -- users.core, for now(); loaded lazily to keep this file plain Lua
local unpack = table.unpack or unpack -- luacheck: ignore 113
local headers_get = require("users.headers").get

-- Headers this transport writes itself.
local OURS = { host = true, ["content-length"] = true, ["transfer-encoding"] = true }

local function now()
  core = core or require "users.core"
  return core.now()
end

local function parse_url(url)
  local scheme, rest = url:match("^(https?)://(.*)$")
  if not scheme then return nil end
  local authority, path = rest:match("^([^/]*)(.*)$")
  local host, port = authority:match("^%[([^%]]+)%]:?(%d*)$")
  if not host then host, port = authority:match("^([^:]+):?(%d*)$") end
  if not host then return nil end
  port = tonumber(port) or (scheme == "https" and 443 or 80)
  return scheme, host, port, path ~= "" and path or "/", authority
end

-- cosocket error strings into the transport codes of the C engine.
local function code_of(err)
  err = tostring(err)
  if err:find("timeout", 1, true) then return "timeout" end
  if err:find("refused", 1, true) or err:find("connect", 1, true) then return "connect" end
  if err:find("resolve", 1, true) or err:find("resolver", 1, true) then return "dns" end
  if err:find("ssl", 1, true) or err:find("handshake", 1, true) or err:find("certificate", 1, true) then
    return "tls"
  end
  if err:find("closed", 1, true) or err:find("reset", 1, true) or err:find("broken", 1, true) then
    return "reset"
  end
  return "transport"
end

local function fail(sock, err, what)
  if sock then sock:close() end
  return nil, code_of(err), (what and (what .. ": ") or "") .. tostring(err)
end

-- Files attached to a request must still have the size they were declared
-- with: checked before anything is sent, so a file that changed fails the
-- request instead of sending more or fewer bytes than Content-Length says.
local function check_files(req)
  for _, seg in ipairs(req.segments or {}) do
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

local function send_body(sock, req)
  if type(req.body) == "string" then return sock:send(req.body) end
  for _, seg in ipairs(req.segments or {}) do
    local ok, err
    if type(seg) == "string" then ok, err = sock:send(seg) else ok, err = send_file(sock, seg) end
    if not ok then return nil, err end
  end
  return true
end

local function read_headers(sock)
  local headers = {}
  while true do
    local line, err = sock:receive("*l")
    if not line then return nil, err end
    if line == "" then return headers end
    local name, value = line:match("^([^:]+):%s*(.-)%s*$")
    if name then
      name = name:lower()
      headers[name] = headers[name] and (headers[name] .. ", " .. value) or value
    end
  end
end

local function read_body(sock, headers, max_body)
  local te = headers["transfer-encoding"]
  if te and te:lower():find("chunked", 1, true) then
    local parts, total = {}, 0
    while true do
      local line, err = sock:receive("*l")
      if not line then return nil, err end
      local size = tonumber(line:match("^%s*(%x+)"), 16)
      if not size then return nil, "bad chunk size" end
      if size == 0 then
        repeat line, err = sock:receive("*l") until not line or line == ""
        if not line then return nil, err end
        return concat(parts)
      end
      total = total + size
      if total > max_body then return nil, "too_large" end
      local data, derr = sock:receive(size)
      if not data then return nil, derr end
      parts[#parts + 1] = data
      sock:receive("*l") -- the CRLF after the chunk
    end
  end
  local length = tonumber(headers["content-length"])
  if length then
    if length > max_body then return nil, "too_large" end
    if length == 0 then return "" end
    return sock:receive(length)
  end
  -- Neither: the body runs to the end of the connection.
  local parts, total = {}, 0
  while true do
    local data, err = sock:receiveany(65536)
    if not data then
      if err == "closed" then return concat(parts) end
      return nil, err
    end
    total = total + #data
    if total > max_body then return nil, "too_large" end
    parts[#parts + 1] = data
  end
end

-- One exchange on a socket; its timeouts hold per operation only.
local function exchange(req)
  local started = now()
  local scheme, host, port, path, authority = parse_url(req.url)
  if not scheme then return nil, "bad_url", "cannot parse the URL" end
  if req.http_version == "h2c" then -- cosockets speak HTTP/1.1 only
    return nil, "bad_url", "http_version \"h2c\" needs the libcurl transport; inside nginx, use \"auto\" or \"1.1\""
  end
  local fok, ferr = check_files(req)
  if not fok then return nil, "file_changed", "a file to upload: " .. tostring(ferr) end
  local timeout = (req.timeout or 30) * 1000
  local sock = ngx.socket.tcp()
  sock:settimeouts((req.connect_timeout or 10) * 1000, timeout, timeout)
  local ok, err = sock:connect(host, port, { pool = scheme .. "://" .. host .. ":" .. port })
  if not ok then return fail(nil, err, "connect") end
  if scheme == "https" and sock:getreusedtimes() == 0 then
    ok, err = sock:sslhandshake(nil, host, true) -- always verified
    if not ok then return fail(sock, "ssl: " .. tostring(err), "TLS") end
  end

  -- The framing is ours; a caller's Host replaces the URL's (the contract,
  -- users/transport.lua).
  local head = { req.method, " ", path, " HTTP/1.1\r\nHost: ", headers_get(req.headers, "host") or authority, "\r\n" }
  for name, value in pairs(req.headers) do
    if not OURS[name:lower()] then head[#head + 1] = name .. ": " .. value .. "\r\n" end
  end
  local length = type(req.body) == "string" and #req.body or req.body_length
  if length then head[#head + 1] = "Content-Length: " .. length .. "\r\n" end
  head[#head + 1] = "\r\n"
  ok, err = sock:send(head)
  if not ok then return fail(sock, err, "send") end
  ok, err = send_body(sock, req)
  if not ok then return fail(sock, err, "send") end

  local status, headers, line
  repeat -- interim 1xx answers are skipped
    line, err = sock:receive("*l")
    if not line then return fail(sock, err, "receive") end
    status = tonumber(line:match("^HTTP/%d%.?%d? (%d%d%d)"))
    if not status then return fail(sock, "not an HTTP response", "receive") end
    headers, err = read_headers(sock)
    if not headers then return fail(sock, err, "receive") end
  until status >= 200

  local max_body = req.max_body or 8 * 1024 * 1024
  local body = ""
  if req.method ~= "HEAD" and status ~= 204 and status ~= 304 then
    body, err = read_body(sock, headers, max_body)
    if not body then
      sock:close()
      if err == "too_large" then
        return nil, "too_large", "response body larger than " .. max_body .. " bytes"
      end
      return fail(nil, err, "receive")
    end
  end
  local conn = (headers.connection or ""):lower()
  if conn:find("close", 1, true) or line:match("^HTTP/1%.0") then
    sock:close()
  else
    sock:setkeepalive(60000, 64)
  end
  return { status = status, protocol = line:match("^(HTTP/%d%.%d)") or "HTTP/1.1", headers = headers,
           body = body, elapsed = now() - started }
end

--- Sends a prepared request: res ({ status, protocol, headers, body, elapsed }) or
-- nil, code, message, like the libcurl transport. The exchange runs in a
-- light thread, killed when `timeout` runs out: a server that trickles
-- bytes (endless 1xx answers, one byte at a time) cannot hold it longer,
-- as cosocket timeouts count each operation, not the whole.
function _M.send(req)
  local timeout = req.timeout or 30
  local worker = ngx.thread.spawn(exchange, req)
  local sleeper = ngx.thread.spawn(function() ngx.sleep(timeout) end)
  local ok, res, code, msg = ngx.thread.wait(worker, sleeper)
  if coroutine.status(worker) ~= "dead" then
    ngx.thread.kill(worker) -- the sleeper ended first: its socket is closed with it
    return nil, "timeout", ("no complete answer within %g s"):format(timeout)
  end
  ngx.thread.kill(sleeper)
  if not ok then return nil, "transport", tostring(res) end
  return res, code, msg
end

--- A bulk session: each request runs in its own light thread; wait returns
-- the finished ones, as the libcurl engine does.
function _M.session()
  local running = {} -- thread -> true
  local n = 0
  local s = {}
  function s.start(req)
    local handle = {}
    local thread = ngx.thread.spawn(function()
      local ok, res, code, msg = pcall(_M.send, req)
      if not ok then return handle, nil, "transport", tostring(res) end
      return handle, res, code, msg
    end)
    handle.thread = thread
    running[thread] = handle
    n = n + 1
    return handle
  end
  function s.wait(timeout)
    if n == 0 then return {} end
    local threads = {}
    for t in pairs(running) do threads[#threads + 1] = t end
    local sleeper
    if timeout then
      -- nginx timers count milliseconds: a shorter sleep is refused.
      local seconds = timeout < 0.001 and 0.001 or timeout
      sleeper = ngx.thread.spawn(function() ngx.sleep(seconds) end)
      threads[#threads + 1] = sleeper
    end
    local ok, handle, res, code, msg = ngx.thread.wait(unpack(threads))
    if sleeper then ngx.thread.kill(sleeper) end
    if not ok then
      -- A thread died of an error that its pcall did not catch: report
      -- every dead one, or the next wait would meet it again at once.
      local out = {}
      for t, h in pairs(running) do
        if coroutine.status(t) == "dead" then
          running[t], n = nil, n - 1
          out[#out + 1] = { h, nil, "transport", "the request's thread failed: " .. tostring(handle) }
        end
      end
      return out
    end
    if type(handle) ~= "table" or not handle.thread then return {} end -- the sleeper
    running[handle.thread] = nil
    n = n - 1
    return { { handle, res, code, msg } }
  end
  function s.close()
    for t in pairs(running) do ngx.thread.kill(t) end
    running, n = {}, 0
  end
  return s
end

function _M.sleep(seconds) ngx.sleep(seconds < 0.001 and 0.001 or seconds) end
function _M.now() return now() end

return _M
