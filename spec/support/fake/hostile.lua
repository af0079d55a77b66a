-- A server that misbehaves on purpose, for the hostile-server specs: it
-- writes raw bytes on the connection (ngx.req.socket(true)), so it can
-- break HTTP in ways nginx itself never would.
--
--   /hostile/bare-lf        headers ended by bare LFs, the block exactly 256 bytes
--   /hostile/endless-1xx    "100 Continue" forever, one every 50 ms
--   /hostile/slowloris      a status line, then one header byte every 200 ms
--   /hostile/truncated      Content-Length 100, 10 bytes, then the end
--   /hostile/reset          the connection closed with no answer
--   /hostile/garbage-retry  429 with Retry-After: soon
--   /hostile/redirect-<s>   302 to another scheme (file, ftp, gopher, javascript)
--   /hostile/many-headers   one header repeated 40 000 times
--   /hostile/repeats-<n>    one header repeated n times (up to 60000), bare LFs
--   /hostile/bare-lf-512    as bare-lf, the block exactly 512 bytes (the second capacity)
--   /hostile/switch-101     an unasked-for 101 Switching Protocols, then bytes to the end:
--                           no final answer (libcurl ends the transfer "OK", status 101)
--   /hostile/bad-chunk      a chunked body whose first chunk-size line is not hex
--   /hostile/not-http       an answer that is no HTTP at all
--   /hostile/huge-head      a header block of 300 KB (over the 256 KB clients keep)
--   /hostile/lines-<n>      "A: 1" n times, CRLF each (200000: 1.2 MB of head)
--   /hostile/head-<n>       a 200 whose head (status line to blank line) is exactly n bytes
--                           (up to 300000), in 1 KB header lines
--   /hostile/rst            the connection closed as soon as the head arrived, the body
--                           unread: the kernel resets it (RST), the body written or not
local M = {}

local function raw()
  ngx.req.read_body()
  local sock, err = ngx.req.socket(true)
  if not sock then ngx.log(ngx.ERR, "raw socket: ", err) return ngx.exit(500) end
  return sock
end

local cases = {}

cases["bare-lf"] = function(sock)
  local body = '{"id":"u1"}'
  local head = "HTTP/1.1 200 OK\nContent-Type: application/json\nContent-Length: " .. #body .. "\n"
  -- pad with one header so that the block, ending "x:\n\n", is 256 bytes
  local pad = 256 - #head - #"X-Pad: \n" - #"x:\n\n"
  head = head .. "X-Pad: " .. ("p"):rep(pad) .. "\nx:\n\n"
  assert(#head == 256)
  sock:send(head .. body)
end

cases["endless-1xx"] = function(sock)
  for _ = 1, 400 do -- 20 s at most
    if not sock:send("HTTP/1.1 100 Continue\r\n\r\n") then return end
    ngx.sleep(0.05)
  end
end

cases.slowloris = function(sock)
  sock:send("HTTP/1.1 200 OK\r\n")
  for c in ("Content-Type: application/json\r\nX-Slow: " .. ("s"):rep(100)):gmatch(".") do
    if not sock:send(c) then return end
    ngx.sleep(0.2)
  end
end

cases.truncated = function(sock)
  sock:send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\":\"u1\"")
end

cases.reset = function() end

cases["garbage-retry"] = function(sock)
  sock:send("HTTP/1.1 429 Too Many Requests\r\nRetry-After: soon\r\nContent-Length: 2\r\n"
    .. "Content-Type: application/json\r\n\r\n{}")
end

cases["many-headers"] = function(sock)
  local parts = { "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" }
  for i = 2, 40001 do parts[i] = "A:1\r\n" end
  parts[#parts + 1] = "Content-Length: 2\r\n\r\n{}"
  sock:send(table.concat(parts))
end

-- "A:1\n" n times: 60 000 of them fit in the 256 KB of headers the client keeps.
local function repeats(n)
  return function(sock)
    local parts = { "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" }
    for i = 2, n + 1 do parts[i] = "A:1\n" end
    parts[#parts + 1] = "Content-Length: 2\r\n\r\n{}"
    sock:send(table.concat(parts))
  end
end

cases["bare-lf-512"] = function(sock)
  local body = '{"id":"u1"}'
  local head = "HTTP/1.1 200 OK\nContent-Type: application/json\nContent-Length: " .. #body .. "\n"
  local pad = 512 - #head - #"X-Pad: \n" - #"x:\n\n"
  head = head .. "X-Pad: " .. ("p"):rep(pad) .. "\nx:\n\n"
  assert(#head == 512)
  sock:send(head .. body)
end

cases["switch-101"] = function(sock)
  sock:send("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n{\"id\":\"u1\"}")
end

cases["bad-chunk"] = function(sock)
  sock:send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    .. "zz\r\n{}\r\n0\r\n\r\n")
end

cases["not-http"] = function(sock)
  sock:send("SSH-2.0-OpenSSH_9.2\r\n\r\n")
end

cases["huge-head"] = function(sock)
  local line = "X-Big: " .. ("b"):rep(1017) .. "\r\n" -- 1 KB
  sock:send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" .. line:rep(300)
    .. "Content-Length: 2\r\n\r\n{}")
end

local function head_of(n)
  return function(sock)
    local first = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n"
    local parts, left = { first }, n - #first - 2
    while left > 0 do
      local size = left <= 1024 and left or (left - 1024 < 10 and 512 or 1024) -- each line 10 bytes or more
      parts[#parts + 1] = "X-Big: " .. ("b"):rep(size - 9) .. "\r\n"
      left = left - size
    end
    sock:send(table.concat(parts) .. "\r\n{}")
  end
end

-- Many short lines, sent in pieces of 64 KB: a client that stops reading
-- at its cap makes the rest fail, which is the point.
cases["lines-200000"] = function(sock)
  local piece = ("A: 1\r\n"):rep(10000)
  if not sock:send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n") then return end
  for _ = 1, 20 do
    if not sock:send(piece) then return end
  end
  sock:send("Content-Length: 2\r\n\r\n{}")
end

function M.serve()
  local name = ngx.var.uri:match("^/hostile/([%w-]+)")
  local scheme = name and name:match("^redirect%-(%a+)$")
  if name == "rst" then return ngx.exit(444) end
  local sock = raw()
  if scheme then
    local target = scheme == "javascript" and "javascript:alert(1)" or (scheme .. "://127.0.0.1/etc/passwd")
    sock:send("HTTP/1.1 302 Found\r\nLocation: " .. target .. "\r\nContent-Length: 0\r\n\r\n")
  elseif cases[name] then
    cases[name](sock)
  elseif name and name:match("^head%-%d+$") and tonumber(name:match("%d+")) <= 300000 then
    head_of(tonumber(name:match("%d+")))(sock)
  elseif name and name:match("^repeats%-%d+$") and tonumber(name:match("%d+")) <= 60000 then
    repeats(tonumber(name:match("%d+")))(sock)
  else
    sock:send("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
  end
  -- end the connection with whatever was written: no keep-alive here
  return ngx.exit(ngx.OK)
end

return M
