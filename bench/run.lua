-- make bench: twenty-one figures, each a ratio measured in this same run
-- against a peer (curl, lua-http, cjson) or a limit, on loopback, against a
-- fast nginx (plain HTTP, and HTTPS with a CA made for the run).
--   1 throughput      20 000 updates, 50 in flight, vs curl --parallel --parallel-max 50
--   2 latency bound   2 000 updates, 20 ms each, 50 in flight, vs N*latency/concurrency
--   3 sequential      users.update one after another, vs curl -K on one connection
--   4 marshalling     validate + encode an update (core.marshal_json, what every
--                     request runs), vs cjson.encode of the same table
--   5 memory          peak RSS for 100 000 iterator items, vs 64 MB and vs 10 000 items
--   6 connections     connections the server saw in runs 1 and 2, vs the concurrency
--   7 client CPU      CPU a request (run 1's requests, LuaJIT), vs a bare loop over
--                     our engine; lua-http, curl --parallel and wrk beside it
--   8 HTTPS, HTTP/2   run 1 over TLS with HTTP/2 offered, vs curl --http2 --parallel;
--                     connections used
--   9 HTTPS, 1.1      run 1 over TLS, HTTP/1.1 only, vs curl --parallel; TLS handshakes
--  10 shared dict     what a shared-dict budget adds to a users.update inside nginx, vs the local budget
--  11 Redis           what a Redis budget adds to a users.update (nginx and plain Lua), vs the local budget
--  12 shared rate     the highest rate a shared budget sustains across 4 nginx workers,
--                     vs the highest one worker alone sustains on its local budget
--  13 journal         peak RSS of a run whose journal holds 1 000 000 confirmed items, vs 64 MB
--  14, 15             the schema vocabulary's cost (bench/schema.lua): providers as compiled
--                     from their documents vs hand-written; a 12-field nested update vs cjson
--  16 compile         a seed provider made from its vendor's OpenAPI document at first use, vs 5 ms
--  17 compiled        validate + encode with the compiled seed providers themselves, vs the
--                     hand-written declarations they replaced (bench/openapi.lua)
--  18 large doc       a vendor's whole API (13 MB of JSON) read and its user update compiled
--                     (bench/openapi_large.lua), vs cjson.decode of the same file
--  19 observed        CPU a request of run 1 with an on_event handler and metrics, vs neither
--  20 nginx CPU       inside nginx, one worker: CPU a request of ours (bulk_update over
--                     cosockets) vs lua-resty-http, 20 000 PATCHes, 50 in flight
--                     (bench/cosocket.lua; lua-resty-http from LUA_RESTY_HTTP or
--                     ../shared/peers/, never copied into the project)
--  21 pattern growth  a value checked against a pattern that does not anchor itself, at 4x
--                     the length: the time's growth (bench/schema.lua)
package.path = "lua/?.lua;./?.lua;" .. package.path
package.cpath = (os.getenv("LUA_USERS_CPATH") or "build/5.4/?.so") .. ";" .. package.cpath

local users = require "users"
local core = require "users.core"
local redis_server = require "spec.support.redis_server"

io.stdout:setvbuf("line")
local LUA = arg[-1] or "lua5.4"
local sh = require("spec.support.proc").sh -- a command's output

-- The server ----------------------------------------------------------------

local dir = sh("mktemp -d"):gsub("%s+$", "")
for _, d in ipairs { "body", "proxy", "fastcgi", "uwsgi", "scgi" } do os.execute("mkdir -p " .. dir .. "/" .. d) end
require("spec.support.fake_providers").make_certs(dir) -- HTTPS for figures 8 and 9: a CA of the run's own
-- A port below Linux's ephemeral range (32768 up), where the benchmark's own
-- client connections would otherwise collide with it; another try if taken.
math.randomseed(os.time() + math.floor(os.clock() * 1e6)) -- before 5.4 the seed is fixed
local port, pid, base
for _ = 1, 10 do
  port = 20000 + math.random(0, 12000)
  local conf = io.open("bench/nginx.conf.in"):read("*a"):gsub("@DIR@", dir):gsub("@PORT@", port)
    :gsub("@H2_PORT@", port + 1):gsub("@H1_PORT@", port + 2)
  io.open(dir .. "/nginx.conf", "w"):write(conf):close()
  pid = sh(("nginx -p %s -c %s/nginx.conf -e %s/error.log >/dev/null 2>&1 & echo $!"):format(dir, dir, dir)):match("(%d+)%s*$")
  base = ("http://127.0.0.1:%d"):format(port)
  local up = false
  for _ = 1, 40 do
    up = sh("curl -s -o /dev/null -w '%{http_code}' -X PATCH " .. base .. "/fast/v1/users/x") == "200"
    if up then break end
    core.sleep(0.05)
  end
  if up then break end
  os.execute("kill " .. pid .. " 2>/dev/null")
  pid = nil
end
if not pid then error("nginx did not start: see " .. dir .. "/error.log", 0) end
-- The budget figures' nginx (4 workers, our module for LuaJIT) and Redis.
assert(os.execute("make -s LUA=jit >/dev/null"), "make LUA=jit failed")
local redis = redis_server.start()
local bport, bpid, bbase
for _ = 1, 10 do
  bport = 20000 + math.random(0, 12000)
  local conf = io.open("bench/budget.conf.in"):read("*a"):gsub("@DIR@", dir):gsub("@PORT@", bport)
    :gsub("@ROOT@", (sh("pwd"):gsub("%s+$", ""))):gsub("@USER@", sh("id -u"):match("^0%s") and "user root;" or "")
  io.open(dir .. "/budget.conf", "w"):write(conf):close()
  bpid = sh(("REDIS_URL=%s nginx -p %s -c %s/budget.conf -e %s/budget-error.log >/dev/null 2>&1 & echo $!")
    :format(redis.url, dir, dir, dir)):match("(%d+)%s*$")
  bbase = ("http://127.0.0.1:%d"):format(bport)
  local up = false
  for _ = 1, 40 do
    up = sh("curl -s -o /dev/null -w '%{http_code}' " .. bbase .. "/fast/x") == "200"
    if up then break end
    core.sleep(0.05)
  end
  if up then break end
  os.execute("kill " .. bpid .. " 2>/dev/null")
  bpid = nil
end
if not bpid then error("the budget nginx did not start: see " .. dir .. "/budget-error.log", 0) end
local function stop()
  os.execute("kill " .. pid .. " " .. bpid .. " 2>/dev/null")
  core.sleep(0.3)
  redis:close()
  os.execute("rm -rf " .. dir)
end

-- What the HTTPS runs used, from nginx's log: connections, those whose TLS
-- session was resumed, and the protocols seen.
local function tls_seen()
  local seen, n, resumed, protocols = {}, 0, 0, {}
  core.sleep(0.2)
  for line in io.lines(dir .. "/tls.log") do
    local conn, reused, proto = line:match("^(%S+) (%S+) (%S+)$")
    if not seen[conn] then
      seen[conn] = true
      n = n + 1
      if reused == "r" then resumed = resumed + 1 end
    end
    protocols[proto] = true
  end
  io.open(dir .. "/tls.log", "w"):close()
  local list = {}
  for p in pairs(protocols) do list[#list + 1] = p end
  table.sort(list)
  return n, resumed, table.concat(list, " ")
end

local function connections_seen()
  local seen, n = {}, 0
  core.sleep(0.2) -- the log is buffered (flush=50ms): let nginx write all of it
  for line in io.lines(dir .. "/conn.log") do
    if not seen[line] then seen[line] = true; n = n + 1 end
  end
  io.open(dir .. "/conn.log", "w"):close() -- nginx appends: truncating starts a new count
  return n
end

-- The figures -----------------------------------------------------------------

local rows = {}
-- A ratio that is no positive number (a search that found nothing, a
-- division by zero) misses its target, whatever `ok` says.
local function figure(n, name, text, ratio, target, ok)
  ok = ok and ratio == ratio and ratio > 0 and ratio < math.huge
  rows[#rows + 1] = ("%d %-13s %s\n  ratio %.3f  (target %s)  %s"):format(n, name, text, ratio, target,
                                                                          ok and "met" or "MISSED")
  print(rows[#rows])
end

local FIELDS = { email = "jane@example.com", role = "member" }
local BODY = '{"email":"jane@example.com","role":"member"}'
local function items(n)
  local list = {}
  for i = 1, n do list[i] = { id = "usr_" .. i, fields = FIELDS } end
  return list
end

-- extra: options beside these (an HTTPS base_url and its ca_file).
local function bulk(path, n, concurrency, extra)
  local list = items(n) -- the caller's input, made before the clock starts
  local o = { base_url = base .. path, token = "bench-token", concurrency = concurrency, retries = 0 }
  for k, v in pairs(extra or {}) do o[k] = v end
  local t0 = core.now()
  local report = users.bulk_update("generic", list, o)
  local t = core.now() - t0
  if report.succeeded ~= n then
    local f = report.failures[1]
    error(("only %d of %d succeeded; the first failure: %s"):format(report.succeeded, n,
      f and tostring(f.err.message) or "none"), 0)
  end
  return t
end

-- The same requests for curl, in a config file (on `server`, base's by
-- default). `extra`: lines for every transfer (each "next" starts afresh:
-- options given on the command line reach the first transfer only).
local function curl_config(path, n, server, extra)
  local file = dir .. "/curl-" .. n .. (server and server:gsub("%W", "") or "") .. ".cfg"
  local f = io.open(file, "w")
  for i = 1, n do
    if i > 1 then f:write("next\n") end -- between transfers only
    f:write(('url = "%s%s/v1/users/usr_%d"\nrequest = "PATCH"\ndata = "%s"\n'):format(
      server or base, path, i, BODY:gsub('"', '\\"')))
    f:write('header = "Content-Type: application/json"\nheader = "Accept: application/json"\n')
    f:write('header = "Authorization: Bearer bench-token"\noutput = "/dev/null"\n', extra or "")
  end
  f:close()
  return file
end

-- The CPU time (user + system, seconds) a command's processes took, as its
-- shell counts its children once they end: ours and every peer alike; and
-- what the command printed.
local TICK = 1 / (tonumber(sh("getconf CLK_TCK")) or 100)
local function cpu_of(cmd)
  local printed = dir .. "/cpu_of.out"
  local out = sh(cmd .. " >" .. printed .. ' 2>&1; echo "rc=$?"; cat /proc/$$/stat')
  local rc, rest = out:match("rc=(%d+)%s.*%) (.*)$")
  local text = io.open(printed):read("*a")
  if rc ~= "0" then error("failed: " .. cmd .. "\n" .. text .. out, 0) end
  local f = {}
  for w in rest:gmatch("%S+") do f[#f + 1] = w end
  return (tonumber(f[14]) + tonumber(f[15])) * TICK, text -- cutime, cstime (fields 16 and 17)
end

local function timed(cmd)
  local t0 = core.now()
  local ok, how, code = os.execute(cmd .. " >/dev/null 2>&1")
  if not ok or (code and code ~= 0) or (type(ok) == "number" and ok ~= 0) then
    error(("failed (%s %s): %s"):format(tostring(how), tostring(code), cmd), 0)
  end
  return core.now() - t0
end

print(("lua-users benchmarks: %s, %s, nginx on 127.0.0.1:%d\n"):format(_VERSION, core.curl_version():match("^%S+"), port))
local ok, err = pcall(function()
  -- 1. Throughput, and 6. the connections it used.
  local N, C = 20000, 50
  local cfg = curl_config("/fast", N)
  bulk("/fast", 2000, C) -- warm up both
  timed(("curl -s --parallel --parallel-immediate --parallel-max %d -K %s"):format(C, cfg))
  connections_seen()
  -- Ours and the peer in turn, the best of each: a slower spell of the
  -- machine then falls on both (figures 2 and 3 do the same).
  local ours, curl, conns1 = math.huge, math.huge, 0
  for _ = 1, 3 do
    ours = math.min(ours, bulk("/fast", N, C))
    conns1 = math.max(conns1, connections_seen())
    curl = math.min(curl, timed(("curl -s --parallel --parallel-immediate --parallel-max %d -K %s"):format(C, cfg)))
    connections_seen()
  end
  figure(1, "throughput", ("%d updates, %d in flight: ours %.0f/s, curl --parallel %.0f/s"):format(
    N, C, N / ours, N / curl), curl / ours, ">= 0.9, ours/curl", curl / ours >= 0.9)

  -- 2. Latency bound. The server's own round trip is measured too: nginx's
  -- timers add a little to the 20 ms, which no client can take back; and
  -- a bare loop over the engine shows what the rest of the machine adds.
  local LN, LAT = 2000, 0.02
  local limit = LN * LAT / C
  local lcfg = curl_config("/slow", LN)
  -- A bare loop over the same libcurl engine (bench/peers/bare.lua).
  local bare_loop = dofile("bench/peers/bare.lua")
  local function bare() return bare_loop(base .. "/slow", LN, C) end
  local wall, lcurl, lbare, conns2 = math.huge, math.huge, math.huge, 0
  for _ = 1, 3 do
    wall = math.min(wall, bulk("/slow", LN, C))
    conns2 = math.max(conns2, connections_seen())
    lcurl = math.min(lcurl, timed(("curl -s --parallel --parallel-immediate --parallel-max %d -K %s"):format(C, lcfg)))
    lbare = math.min(lbare, bare())
    connections_seen()
  end
  local o1 = { base_url = base .. "/slow", token = "bench-token" }
  local t_rtt = core.now()
  for i = 1, 50 do assert(users.update("generic", "usr_" .. i, FIELDS, o1)) end
  local rtt = (core.now() - t_rtt) / 50
  connections_seen()
  figure(2, "latency", ("%d updates of %.0f ms, %d in flight: ours %.3f s, curl --parallel %.3f s, "
    .. "a bare engine loop %.3f s; limit %.3f s\n  (one request at a time the server's round trip is %.1f ms: "
    .. "floor %.3f)"):format(LN, LAT * 1000, C, wall, lcurl, lbare, limit, rtt * 1000, rtt / LAT),
    wall / limit, "<= 1.05, wall/limit", wall / limit <= 1.05)

  -- 3. Sequential over keep-alive.
  local SN = 2000
  local scfg = curl_config("/fast", SN)
  local o = { base_url = base .. "/fast", token = "bench-token" }
  local function sequential()
    local t0 = core.now()
    for i = 1, SN do assert(users.update("generic", "usr_" .. i, FIELDS, o)) end
    return core.now() - t0
  end
  sequential()
  local seq, cseq = math.huge, math.huge
  for _ = 1, 5 do
    seq = math.min(seq, sequential())
    cseq = math.min(cseq, timed("curl -s -K " .. scfg))
  end
  connections_seen()
  figure(3, "sequential", ("%d users.update calls: ours %.0f/s, curl -K (one connection) %.0f/s"):format(
    SN, SN / seq, SN / cseq), cseq / seq, ">= 1.0, ours/curl", cseq / seq >= 1.0)

  -- 4. Marshalling alone.
  local cjson = require "cjson"
  local entry = require("users.registry").get("lexful")
  local update = { email = "jane@example.com", first_name = "Jane", last_name = "Doe", role = "admin",
                   account_scopes = { "5f0c2c1e-8f5d-4c8e-9d6a-0a1b2c3d4e5f", "11111111-1111-4111-8111-111111111111" },
                   organization_scopes = { "*" } }
  -- Short rounds, ours and cjson in turn, the best of each: a CPU whose
  -- clock drifts during the run then slows both alike.
  local M, ROUNDS = 10000, 60
  local compiled, marshal, enc = entry.compiled, core.marshal_json, cjson.encode
  assert(marshal(compiled, update) == core.encode_json(compiled, update), "marshal_json differs")
  local om, cm = math.huge, math.huge
  for _ = 1, ROUNDS do
    local t0 = os.clock()
    for _ = 1, M do
      if not marshal(compiled, update) then error("invalid") end
    end
    om = math.min(om, os.clock() - t0)
    t0 = os.clock()
    for _ = 1, M do enc(update) end
    cm = math.min(cm, os.clock() - t0)
  end
  figure(4, "marshalling", ("validate + encode: %.2f us, cjson.encode alone: %.2f us (%d runs)"):format(
    om / M * 1e6, cm / M * 1e6, M * ROUNDS), om / cm, "<= 1.0, ours/cjson", om / cm <= 1.0)

  -- 5. Memory.
  local function peak(n)
    return tonumber(sh(("LUA_USERS_CPATH='%s' %s bench/memory.lua %d %s/fast"):format(
      package.cpath:match("^[^;]+"), LUA, n, base)):match("(%d+)%s*$"))
  end
  local p10, p100 = peak(10000), peak(100000)
  connections_seen()
  figure(5, "memory", ("peak RSS: 10 000 items %.1f MB, 100 000 items %.1f MB (limit 64 MB)"):format(
    p10 / 1024, p100 / 1024), p100 / p10, "<= 1.2, 100k/10k", p100 / p10 <= 1.2 and p100 <= 64 * 1024)

  -- 6. Connections.
  local worst = math.max(conns1, conns2)
  figure(6, "connections", ("the server saw at most %d connections in a throughput run, %d in a latency run, %d allowed"):format(
    conns1, conns2, C), worst / C, "<= 1.0, seen/concurrency", worst <= C)

  -- 7. Client CPU per request, plain HTTP/1.1, 50 in flight: ours on LuaJIT
  -- (a process of its own, bench/peers/ours.lua) against lua-http on LuaJIT
  -- (50 kept-alive connections, a coroutine each: bench/peers/lua_http.lua)
  -- and curl --parallel, on the same requests; wrk on the same server is
  -- the floor, and a bare loop over our engine (bench/peers/bare.lua) what
  -- libcurl's transfer path costs before any of our Lua runs. The best of 3
  -- rounds each.
  local jit_env = "LUA_USERS_CPATH='" .. sh("pwd"):gsub("%s+$", "") .. "/build/jit/?.so' "
  local ours7, http7, curl7, wrk7, bare7 = math.huge, math.huge, math.huge, math.huge, math.huge
  for _ = 1, 3 do
    ours7 = math.min(ours7, cpu_of(("%sluajit bench/peers/ours.lua %s/fast %d %d"):format(jit_env, base, N, C)) / N)
    bare7 = math.min(bare7, cpu_of(("%sluajit bench/peers/bare.lua %s/fast %d %d"):format(jit_env, base, N, C)) / N)
    http7 = math.min(http7, cpu_of(("luajit bench/peers/lua_http.lua %s/fast %d %d"):format(base, N, C)) / N)
    curl7 = math.min(curl7, cpu_of(("curl -s --parallel --parallel-immediate --parallel-max %d -K %s"):format(C, cfg)) / N)
    local wcpu, wout = cpu_of(("wrk -t1 -c%d -d2s -s bench/peers/wrk_patch.lua %s/fast/v1/users/usr_1"):format(C, base))
    wrk7 = math.min(wrk7, wcpu / (tonumber(wout:match("(%d+) requests in")) or error("wrk: " .. wout, 0)))
  end
  connections_seen()
  -- What our Lua layer adds to libcurl's transfer path: ours against the
  -- bare loop over the same engine; the peers beside it.
  figure(7, "client CPU", ("%d updates, %d in flight, CPU a request: ours %.1f us, a bare loop over our engine %.1f us; "
    .. "lua-http %.1f us (ours %.2f x), curl --parallel %.1f us (ours %.2f x), wrk %.1f us (the floor: ours %.1f x)"):format(
      N, C, ours7 * 1e6, bare7 * 1e6, http7 * 1e6, ours7 / http7, curl7 * 1e6, ours7 / curl7, wrk7 * 1e6, ours7 / wrk7),
    ours7 / bare7, "<= 1.15, ours/bare loop", ours7 / bare7 <= 1.15)

  -- 8. HTTPS with HTTP/2 offered: throughput against curl --http2 --parallel
  -- on the same requests, and the connections each used (ours: target 1).
  -- h2load (nghttp2, one connection, 50 streams) is shown as the lean C
  -- reference.
  local ca = dir .. "/ca.crt"
  local h2, h1 = ("https://127.0.0.1:%d"):format(port + 1), ("https://127.0.0.1:%d"):format(port + 2)
  local h2cfg = curl_config("/tls", N, h2, ('cacert = "%s"\nhttp2\n'):format(ca))
  local h1cfg = curl_config("/tls", N, h1, ('cacert = "%s"\nhttp1.1\n'):format(ca))
  local function curl_tls(file)
    return timed(("curl -s --parallel --parallel-immediate --parallel-max %d -K %s"):format(C, file))
  end
  local body_file = dir .. "/body.json"
  io.open(body_file, "w"):write(BODY):close()
  local function h2load()
    local out = sh(("h2load -n %d -c 1 -m %d -d %s -H 'Content-Type: application/json' -H 'Authorization: Bearer bench-token' "
      .. "%s/tls/v1/users/usr_1"):format(N, C, body_file, h2))
    return tonumber(out:match("finished in [%d.]+m?s, ([%d.]+) req/s")) or error("h2load: " .. out, 0)
  end
  bulk("/tls", 2000, C, { base_url = h2 .. "/tls", ca_file = ca })
  tls_seen()
  local ours8, curl8, oconns8, cconns8, proto8, lean8 = math.huge, math.huge, 0, 0, "", 0
  for _ = 1, 3 do
    ours8 = math.min(ours8, bulk("/tls", N, C, { base_url = h2 .. "/tls", ca_file = ca }) / N)
    local n, _, p = tls_seen()
    oconns8, proto8 = math.max(oconns8, n), p
    curl8 = math.min(curl8, curl_tls(h2cfg) / N)
    cconns8 = math.max(cconns8, (tls_seen()))
    lean8 = math.max(lean8, h2load())
    tls_seen()
  end
  figure(8, "HTTPS, HTTP/2", ("%d updates, %d in flight: ours %.0f/s on %d connection(s) (%s), "
    .. "curl --http2 --parallel %.0f/s on %d; h2load %.0f/s"):format(
    N, C, 1 / ours8, oconns8, proto8, 1 / curl8, cconns8, lean8), curl8 / ours8,
    ">= 1.2, ours/curl; 1 connection", curl8 / ours8 >= 1.2 and oconns8 == 1)

  -- 9. HTTPS, HTTP/1.1 only: throughput against curl --parallel on the same
  -- requests, and the TLS handshakes ours made (one
  -- a connection, at most the concurrency; resumed ones counted). wrk over
  -- TLS is the lean reference.
  local ours9, curl9, hs9, resumed9, lean9 = math.huge, math.huge, 0, 0, 0
  for _ = 1, 3 do
    ours9 = math.min(ours9, bulk("/tls", N, C, { base_url = h1 .. "/tls", ca_file = ca }) / N)
    local n, r = tls_seen()
    hs9, resumed9 = math.max(hs9, n), r
    curl9 = math.min(curl9, curl_tls(h1cfg) / N)
    local wout = sh(("wrk -t1 -c%d -d2s -s bench/peers/wrk_patch.lua %s/tls/v1/users/usr_1"):format(C, h1))
    lean9 = math.max(lean9, tonumber(wout:match("Requests/sec:%s*([%d.]+)")) or 0)
    tls_seen()
  end
  figure(9, "HTTPS, 1.1", ("%d updates, %d in flight: ours %.0f/s, curl --parallel %.0f/s; wrk %.0f/s; "
    .. "ours made %d TLS handshakes (%d resumed) on %d connections"):format(
    N, C, 1 / ours9, 1 / curl9, lean9, hs9, resumed9, hs9), curl9 / ours9,
    ">= 1.0, ours/curl; handshakes <= concurrency", curl9 / ours9 >= 1.0 and hs9 <= C)

  -- 10 and 11. What a shared budget adds to one users.update, against the
  -- local budget in the same run, in turn, the best of each (rate 1e6: a
  -- decision on every request, never a wait).
  local BN = 2000
  local function seq_nginx(store)
    local out = sh(("curl -s '%s/seq?store=%s&n=%d'"):format(bbase, store, BN))
    return tonumber(out) or error("budget /seq: " .. out, 0)
  end
  local function seq_lua(budget)
    local ob = { base_url = base .. "/fast", token = "bench-token", rate = 1e6, budget = budget }
    for i = 1, 100 do assert(users.update("generic", "usr_" .. i, FIELDS, ob)) end
    local t0 = core.now()
    for i = 1, BN do assert(users.update("generic", "usr_" .. i, FIELDS, ob)) end
    return (core.now() - t0) / BN * 1e6
  end
  -- The reference of a Redis budget: one PING round trip by the same client.
  local function ping_lua()
    package.loaded.redis = package.loaded.redis or select(2, pcall(require, "redis"))
    local store = require("users.budget.redis").new({ host = "127.0.0.1", port = redis.port, url = redis.url },
                                                    require("users.budget").sha1)
    store:get("warm")
    local t0 = core.now()
    for _ = 1, BN do store:call(function(c) return c:ping() end) end
    return (core.now() - t0) / BN * 1e6
  end
  local nl, nd, nr, ll, lr, pn, pl = math.huge, math.huge, math.huge, math.huge, math.huge, math.huge, math.huge
  for _ = 1, 3 do
    nl, nd, nr = math.min(nl, seq_nginx("local")), math.min(nd, seq_nginx("dict")), math.min(nr, seq_nginx("redis"))
    ll, lr = math.min(ll, seq_lua("local")), math.min(lr, seq_lua(redis.url))
    pn = math.min(pn, tonumber(sh(("curl -s '%s/ping?n=%d'"):format(bbase, BN))) or math.huge)
    pl = math.min(pl, ping_lua())
  end
  connections_seen()
  figure(10, "shared dict", ("users.update inside nginx: shared dict budget %.1f us, local budget %.1f us: %+.1f us a request"):format(
    nd, nl, nd - nl), nd / nl, "<= 1.10, dict/local", nd / nl <= 1.10)
  local added = math.max((nr - nl) / pn, (lr - ll) / pl)
  figure(11, "Redis", ("users.update with a Redis budget: nginx %.1f us vs local %.1f us (%+.1f us; a PING %.1f us), "
    .. "plain Lua %.1f us vs local %.1f us (%+.1f us; a PING %.1f us)"):format(nr, nl, nr - nl, pn, lr, ll, lr - ll, pl),
    added, "<= 2.0, added/PING", added <= 2.0)

  -- 12. The highest rate a shared budget sustains across 4 workers, against
  -- the highest one worker alone sustains on its own local budget (the
  -- other three idle): rates doubling until the workers, 50 light threads
  -- each taking slots for 0.5 s, get less than 95% of what the rate allows
  -- (it is paced 5% under). A search that sustains not even its first rate
  -- finds nothing (0), and the figure is missed.
  local function granted(store, rate, workers)
    local out = sh(("curl -s '%s/rate?store=%s&rate=%d&secs=0.5&threads=50&workers=%d'"):format(
      bbase, store, rate, workers))
    local n, done = out:match("^(%d+) (%d+)")
    if tonumber(done) ~= workers then error("budget /rate: " .. out, 0) end
    return tonumber(n) / 0.5
  end
  local function highest(store, workers)
    local best, rate = 0, 1000
    while rate <= 1024000 do
      local got = granted(store, rate, workers)
      if got < 0.95 * rate / 1.05 then break end
      best, rate = rate, rate * 2
    end
    return best
  end
  local dict_rate, redis_rate = highest("dict", 4), highest("redis", 4)
  local local_rate = highest("local", 1)
  figure(12, "shared rate", ("4 workers on one budget sustain %s/s with a shared dict, %s/s with Redis; "
    .. "one worker alone on its local budget %s/s"):format(dict_rate > 0 and dict_rate or "none",
    redis_rate > 0 and redis_rate or "none", local_rate > 0 and local_rate or "none"),
    dict_rate / local_rate, ">= 1.0, dict/local", dict_rate >= local_rate)

  -- 13. A journal of a million items: its digests sit in C (12 bytes a slot).
  local journal = require "users.journal"
  local function journal_of(n)
    local path = dir .. "/bench-" .. n .. ".journal"
    local f = assert(io.open(path, "wb"))
    f:write('# lua-users journal 2 {"provider":"generic","base_url":"' .. base .. '/fast"}\n')
    local rnd = math.random
    for i = 1, n do
      local key = i <= 1000 and journal.key("usr_" .. i, { role = "member" })
        or ("%08x%08x"):format(rnd(0, 0x7fffffff), rnd(0, 0x7fffffff))
      f:write("ok ", key, "\tusr_", i, "\n")
    end
    f:close()
    return path
  end
  local function journal_peak(n)
    local kb, skipped, seconds = sh(("LUA_USERS_CPATH='%s' %s bench/journal.lua %s %s/fast"):format(
      package.cpath:match("^[^;]+"), LUA, journal_of(n), base)):match("(%d+)%s+(%d+)%s+([%d.]+)%s*$")
    assert(tonumber(skipped) == math.min(n, 1000), "the journal's items were not skipped")
    return tonumber(kb), tonumber(seconds)
  end
  local j0 = journal_peak(0)
  local j1, load = journal_peak(1000000)
  figure(13, "journal", ("peak RSS: a journal of 1 000 000 items %.1f MB (read in %.1f s), an empty one %.1f MB"
    .. " (limit 64 MB)"):format(j1 / 1024, load, j0 / 1024), j1 / (64 * 1024), "<= 1.0, peak/64 MB", j1 <= 64 * 1024)

  -- 19. What observing costs: run 1's requests (bench/peers/ours.lua, LuaJIT)
  -- with an on_event handler and metrics, against neither, in turn, the
  -- best of 5 each.
  local on14, off14 = math.huge, math.huge
  for _ = 1, 5 do
    on14 = math.min(on14, cpu_of(("OBSERVE=on %sluajit bench/peers/ours.lua %s/fast %d %d"):format(jit_env, base, N, C)) / N)
    off14 = math.min(off14, cpu_of(("OBSERVE=off %sluajit bench/peers/ours.lua %s/fast %d %d"):format(jit_env, base, N, C)) / N)
  end
  connections_seen()
  figure(19, "observed", ("%d updates, %d in flight, CPU a request: with on_event and metrics %.1f us, without %.1f us"):format(
    N, C, on14 * 1e6, off14 * 1e6), on14 / off14, "<= 1.03, with/without", on14 / off14 <= 1.03)
  -- 20. Inside nginx, one client worker, the same server as figure 1: CPU a
  -- request of ours (users.bulk_update over the cosocket transport) against
  -- lua-resty-http with cjson for its body, 20 000 PATCHes, 50 in flight,
  -- the median of three rounds; the transport alone (requests made before
  -- the clock) says what the lifecycle above it costs.
  local got, o14, t14, r14 = pcall(require("bench.cosocket").measure, base .. "/fast", N, C, 3)
  if got then
    figure(20, "nginx CPU", ("%d PATCHes, %d in flight, one nginx worker, CPU a request: ours %.1f us "
      .. "(the transport alone %.1f us, the lifecycle above it %.1f us), lua-resty-http %.1f us"):format(
        N, C, o14, t14, o14 - t14, r14), o14 / r14, "<= 1.0, ours/lua-resty-http", o14 <= r14)
  else
    figure(20, "nginx CPU", "not measured: " .. tostring(o14), 0 / 0, "<= 1.0, ours/lua-resty-http", false)
  end
end)
if ok then ok, err = pcall(require("bench.schema"), figure) end
-- 16, 17. The seed providers compiled from their OpenAPI documents (bench/openapi.lua).
if ok then
  ok, err = pcall(function()
    local openapi = require "bench.openapi"
    figure(16, "compile", openapi.compile())
    figure(17, "compiled", openapi.marshal())
  end)
end
-- 18. A vendor's whole API read and one operation compiled, vs cjson.decode.
if ok then ok, err = pcall(require("bench.openapi_large").run, figure, 18) end
stop()
if not ok then error(err, 0) end
