-- req.reuse = false beside HTTP/2 traffic (libcurl transport): a request
-- that must not be sent twice gets a connection that no other request
-- joins, so libcurl never resends it by itself after that connection dies.
-- libcurl 7.88 let a session's other transfers onto the connection opened
-- for it while the HTTP/2 one was saturated (a server allowing one stream,
-- or closing after a few requests), marked it reused, and resent the
-- update when the server applied it and dropped the connection: applied
-- twice. The server here is a small nginx of its own, with the fakes' TLS
-- certificate.
local curl = require "users.transport.curl"
local env = require "spec.support.env"
local proc = require "spec.support.proc"

local q, sh, read = proc.q, proc.sh, proc.read

-- /own counts the request, then drops the connection unanswered a second
-- later; /shared answers after ?d= seconds; /count?k=own says how many /own came.
local LOCATIONS = [[
    location = /reset { content_by_lua_block { ngx.shared.st:flush_all() ngx.say("ok") } }
    location = /count { content_by_lua_block { ngx.say(ngx.shared.st:get("own") or 0) } }
    location = /shared { content_by_lua_block { ngx.sleep(tonumber(ngx.var.arg_d) or 0) ngx.say("shared") } }
    location = /own { content_by_lua_block {
      ngx.req.read_body()
      ngx.shared.st:incr("own", 1, 0)
      ngx.sleep(1)
      ngx.exit(444)
    } }
]]

local CONF = [[
load_module /usr/lib/nginx/modules/ndk_http_module.so;
load_module /usr/lib/nginx/modules/ngx_http_lua_module.so;
@USER@
daemon off;
worker_processes 1;
pid @DIR@/nginx.pid;
error_log @DIR@/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path @DIR@/body;
  lua_shared_dict st 64k;
  ssl_certificate @CERTS@/server.crt;
  ssl_certificate_key @CERTS@/server.key;
  server { listen 127.0.0.1:@P1@; @LOCATIONS@ }
  server { listen 127.0.0.1:@P2@ ssl http2; http2_max_concurrent_streams 1; @LOCATIONS@ }
  server { listen 127.0.0.1:@P3@ ssl http2; keepalive_requests 4; @LOCATIONS@ }
}
]]

-- Starts the server on free ports (another try when one was taken
-- meanwhile); returns its three base URLs and the guard that stops it.
local function start_server(certs)
  for _ = 1, 10 do
    local dir = sh('mktemp -d "${TMPDIR:-/tmp}/lua-users-h2.XXXXXX"'):gsub("%s+$", "")
    local ports = { proc.free_port(), proc.free_port(), proc.free_port() }
    local vars = { DIR = dir, CERTS = certs, LOCATIONS = LOCATIONS, P1 = ports[1], P2 = ports[2], P3 = ports[3],
      USER = sh("id -u"):match("^0%s") and "user root;" or "" }
    local f = assert(io.open(dir .. "/nginx.conf", "w"))
    f:write((CONF:gsub("@([%u%d]+)@", vars)))
    f:close()
    local guard = proc.guarded(dir, "nginx -p " .. q(dir) .. " -c " .. q(dir .. "/nginx.conf"), true)
    for _ = 1, 200 do
      -- the pid file is written once every port is bound: ours, not another server's
      if read(dir .. "/nginx.pid") then
        return { "http://127.0.0.1:" .. ports[1], "https://127.0.0.1:" .. ports[2],
                 "https://127.0.0.1:" .. ports[3] }, guard
      end
      if (read(dir .. "/error.log") or ""):find("[emerg]", 1, true) then break end
      sh("sleep 0.05")
    end
    local log = read(dir .. "/error.log") or ""
    guard:close()
    if not log:find("Address already in use", 1, true) then error("nginx did not start:\n" .. log) end
  end
  error("no free port found")
end

describe("req.reuse = false beside HTTP/2 traffic", function()
  local bases, guard
  setup(function()
    env.start()
    bases, guard = start_server(env.fake.dir)
  end)
  teardown(function()
    if guard then guard:close() end
    env.stop()
  end)

  local function req(base, path, extra)
    local r = { method = "GET", url = base .. path, headers = {}, ca_file = env.fake.ca_file, timeout = 10 }
    for k, v in pairs(extra or {}) do r[k] = v end
    return r
  end

  -- An update the server applies and then drops, started in a session right
  -- after a request that opened a connection to share, and followed by
  -- twelve more: it is applied once and ends as sent, unanswered.
  local function applied_then_dropped(base)
    assert(curl.send(req(base, "/reset")))
    local s = curl.session(8)
    s.start(req(base, "/shared"))
    assert.is_table(env.drain(s, 1)[1][2])
    local own = s.start(req(base, "/own", { method = "POST", body = "{}", reuse = false }))
    for _ = 1, 12 do s.start(req(base, "/shared?d=0.3")) end
    local mine
    for _, r in ipairs(env.drain(s, 13)) do
      if r[1] == own then mine = r else assert.is_table(r[2], tostring(r[3])) end
    end
    s.close()
    local count = assert(curl.send(req(base, "/count"))).body:gsub("%s", "")
    return mine, tonumber(count)
  end

  for i, what in ipairs { "HTTP/1.1", "HTTP/2, one stream a connection", "HTTP/2, four requests a connection" } do
    it("over " .. what .. ": applied once, reported as sent without an answer", function()
      local row, n = applied_then_dropped(bases[i])
      assert.equal(1, n)
      assert.is_nil(row[2])
      assert.same({ "reset", true }, { row[4], row[5] })
    end)
  end
end)
