--- Loopback fakes of the five providers, for the specs.
--
-- Starts Debian's nginx with the Lua module on 127.0.0.1 (plain HTTP and TLS)
-- serving spec/support/fake/, and drives it with the curl command line. Plain
-- Lua 5.1-5.4 and LuaJIT, no C module needed.
--
--   local fake = require "spec.support.fake_providers"
--   local f = fake.start()
--   ... users.update("generic", "u1", { role = "admin" },
--                    { base_url = f:base_url("generic"), token = fake.TOKEN })
--   f:requests()  f:last()  f:behave("generic", { delay = 0.5 })  f:reset()
--   f:stop()
local M = { _VERSION = "0.1" }

-- Where each provider is mounted; base_url() appends this to the server URL.
M.PREFIXES = {
  lancepilot = "/lancepilot/api/v3",
  lexful = "/lexful",
  generic = "/generic",
  activepieces = "/activepieces/api",
  paradigm = "/paradigm",
  openapi = "/openapi", -- any OpenAPI operation: Fake:openapi(mount, operations)
  -- SCIM 2.0 servers, one per dialect (spec/support/fake/vendors/scim.lua)
  scim_rfc = "/scim-rfc/v2",
  scim_put = "/scim-put/v2",
  scim_github = "/scim-github/v2",
  scim_nodisco = "/scim-nodisco/v2",
  scim_unique = "/scim-unique/v2",
  -- the provider `scim` (examples, the demo, the command's specs) on the RFC
  -- server: requests() and behave() take either name
  scim = "/scim-rfc/v2",
}
M.ALIASES = { scim = "scim_rfc" }

-- What the fakes accept.
M.TOKEN = "test-token"                 -- Bearer token of every provider
M.ACTIVEPIECES_TOKEN = "sk-test-token" -- also valid for activepieces
M.LEXFUL = {
  account_id = "11111111-1111-4111-8111-111111111111",
  key_id = "test-key-id",
  key_secret = "test-key-secret",
}
M.WORKSPACE = "22222222-2222-4222-8222-222222222222" -- any UUID is a lancepilot workspace
-- User ids each fake answers 404 for.
M.MISSING = {
  lancepilot = 404,
  lexful = "00000000-0000-4000-8000-000000000404",
  generic = "missing",
  activepieces = "000000000000000000404",
  paradigm = 404,
}
M.ACTIVEPIECES_ADMIN = "adminadminadminadmin1" -- 409 when set INACTIVE
M.TAKEN_USERNAME = "taken"                     -- generic answers 409

---------------------------------------------------------------- helpers

local proc = require "spec.support.proc"
local q = proc.q -- quote for sh

-- Run a shell command; returns its output (stdout and stderr) and success.
local function run(cmd)
  local p = assert(io.popen("{ " .. cmd .. '\n} 2>&1; echo "#rc=$?"'))
  local out = p:read("*a")
  p:close()
  local body, rc = out:match("^(.-)#rc=(%d+)%s*$")
  return body or out, rc == "0"
end

-- File helpers, also the specs' own (spec.support.env).
local read_file = proc.read

local function write_file(path, data)
  local f = assert(io.open(path, "wb"))
  assert(f:write(data))
  assert(f:close())
end

M.read_file, M.write_file = read_file, write_file

local function sleep(seconds)
  os.execute("sleep " .. seconds)
end

local HERE = (function()
  local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
  if dir:sub(1, 1) ~= "/" then
    dir = run("pwd"):gsub("%s+$", "") .. "/" .. dir
  end
  return dir
end)()

local serialize = dofile(HERE .. "/fake/serialize.lua")

local function nginx_binary()
  local env = os.getenv("FAKE_NGINX")
  if env then return env end
  return read_file("/usr/sbin/nginx") and "/usr/sbin/nginx" or "nginx"
end

-- Local TCP ports already in use (any state), from /proc/net/tcp{,6}, so that
-- a start rarely needs a second try.
local function used_ports()
  local used = {}
  for _, file in ipairs({ "/proc/net/tcp", "/proc/net/tcp6" }) do
    local data = read_file(file) or ""
    for hex in data:gmatch("\n%s*%d+: %x+:(%x+)") do used[tonumber(hex, 16)] = true end
  end
  return used
end

-- A random port in 20000-60000, from /dev/urandom so that the caller's
-- math.random state is left alone.
local function random_port(used)
  local f = io.open("/dev/urandom", "rb")
  while true do
    local a, b, c = (f and f:read(3) or tostring(os.clock())):byte(1, 3)
    local port = 20000 + ((a or 0) * 65536 + (b or 0) * 256 + (c or 0) + os.time()) % 40001
    if not used[port] then
      used[port] = true
      if f then f:close() end
      return port
    end
  end
end

-- A throwaway CA and a certificate for 127.0.0.1 and localhost signed by it,
-- and two client certificates (mutual TLS), CN client-a and client-b.
-- 127.0.0.1 is also a DNS name of the server's: nginx's Lua sockets check a
-- host with X509_check_host, which reads names only. EC keys keep this well
-- under a second.
local function make_certs(dir)
  write_file(dir .. "/ca.cnf", table.concat({
    "[req]", "distinguished_name = dn", "x509_extensions = v3_ca", "prompt = no",
    "[dn]", "CN = lua-users fake providers CA",
    "[v3_ca]", "basicConstraints = critical,CA:TRUE",
    "keyUsage = critical,keyCertSign,cRLSign", "subjectKeyIdentifier = hash", "",
  }, "\n"))
  write_file(dir .. "/server.cnf", table.concat({
    "[req]", "distinguished_name = dn", "prompt = no",
    "[dn]", "CN = localhost",
    "[v3_server]", "basicConstraints = CA:FALSE",
    "keyUsage = critical,digitalSignature,keyEncipherment",
    "extendedKeyUsage = serverAuth", "subjectAltName = IP:127.0.0.1,DNS:localhost,DNS:127.0.0.1",
    "subjectKeyIdentifier = hash", "authorityKeyIdentifier = keyid",
    "[v3_client]", "basicConstraints = CA:FALSE",
    "keyUsage = critical,digitalSignature", "extendedKeyUsage = clientAuth", "",
  }, "\n"))
  local ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
  local serial = " -set_serial 0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \\n')"
  local function client(name)
    return "openssl req -new " .. ec .. " -keyout " .. name .. ".key -out " .. name .. ".csr -subj /CN=" .. name
      .. " && openssl x509 -req -in " .. name .. ".csr -CA ca.crt -CAkey ca.key -days 2" .. serial
      .. " -extfile server.cnf -extensions v3_client -out " .. name .. ".crt"
  end
  local out, ok = run(table.concat({
    "cd " .. q(dir) .. " && set -e",
    "openssl req -x509 " .. ec .. " -keyout ca.key -out ca.crt -days 2 -config ca.cnf",
    "openssl req -new " .. ec .. " -keyout server.key -out server.csr -config server.cnf",
    "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -days 2"
      .. serial .. " -extfile server.cnf -extensions v3_server -out server.crt",
    client("client-a"), client("client-b"),
  }, "\n"))
  if not ok then error("fake providers: cannot make certificates:\n" .. out, 0) end
end

M.make_certs = make_certs -- dir/ca.crt, dir/server.crt and .key (the benchmarks use it too)

---------------------------------------------------------------- the server

local Fake = {}
Fake.__index = Fake

local function curl(args, max_time)
  -- --noproxy: a proxy from the environment must never see loopback traffic.
  return run("curl -sS --noproxy '*' --max-time " .. (max_time or 10) .. " " .. args)
end

function Fake:_control(action, payload)
  local args = "-o - -w '\\n%{http_code}' "
  if payload then
    write_file(self.dir .. "/control.in", payload)
    args = args .. "--data-binary @" .. q(self.dir .. "/control.in") .. " "
  end
  local out, ok = curl(args .. q(self.url .. "/_control/" .. action))
  local body, code = out:match("^(.*)\n(%d+)$")
  if not ok or code ~= "200" then
    error("fake providers: control call '" .. action .. "' failed: " .. out, 3)
  end
  return body
end

--- The base URL of a provider over plain HTTP, e.g.
--  "http://127.0.0.1:PORT/lancepilot/api/v3".
function Fake:base_url(name)
  return self.url .. (M.PREFIXES[name] or error("unknown provider " .. tostring(name), 2))
end

--- The same over HTTPS; verify with f.ca_file. `kind`: nil (HTTP/1.1
--  only), "h2" (HTTP/2 offered by ALPN) or "short" (HTTP/1.1, connections
--  closed after 5 requests). f:h2c_base_url(name): HTTP/2 without TLS.
function Fake:tls_base_url(name, kind)
  local url = kind == "h2" and self.h2_url or kind == "short" and self.short_tls_url or self.tls_url
  return url .. (M.PREFIXES[name] or error("unknown provider " .. tostring(name), 2))
end

function Fake:h2c_base_url(name)
  return self.h2c_url .. (M.PREFIXES[name] or error("unknown provider " .. tostring(name), 2))
end

--- The same over HTTPS that asks for a client certificate (mutual TLS,
--  optional: a request without one passes too); each record's `client` is
--  the subject of the certificate it came with ("CN=client-a"), or nil.
--  f.client_certs.a and .b: { cert = path, key = path }, signed by f.ca_file.
function Fake:mtls_base_url(name)
  return self.mtls_url .. (M.PREFIXES[name] or error("unknown provider " .. tostring(name), 2))
end

--- Forget recorded requests, behaviours, throttle windows and lexful tokens.
--  A request still in the server (one a `delay` holds, its client long gone)
--  is closed when it wakes, taking nothing set after the reset.
function Fake:reset()
  self:_control("reset", "")
  run("rm -f " .. q(self.dir) .. "/rec/req-*")
end

--- Recorded requests, oldest first; only those of provider `name` if given.
--  Each: { seq, method, uri, headers = { lower-case = value }, body, provider,
--  at, conn, tls, protocol ("HTTP/1.1", "HTTP/2.0"), resumed (a resumed TLS
--  session), port, client (mutual TLS: the client certificate's subject) }.
function Fake:requests(name)
  name = M.ALIASES[name] or name
  local seqs = {}
  for n in run("ls -1 " .. q(self.dir .. "/rec")):gmatch("req%-(%d+)%.lua") do
    seqs[#seqs + 1] = tonumber(n)
  end
  table.sort(seqs)
  local list = {}
  for _, n in ipairs(seqs) do
    local base = string.format("%s/rec/req-%08d", self.dir, n)
    local meta = read_file(base .. ".lua")
    meta = meta and serialize.decode(meta)
    if meta and (name == nil or meta.provider == name) then
      meta.body = read_file(base .. ".body") or ""
      list[#list + 1] = meta
    end
  end
  return list
end

--- The last recorded request (of provider `name` if given), or nil.
function Fake:last(name)
  local list = self:requests(name)
  return list[#list]
end

--- Set behaviours of provider `name`, or of all with "*". Calls merge; a kind
--  set to false is removed; spec false removes all of that name's.
--  Kinds: delay, respond, script, drop, throttle, huge, not_json, token_ttl;
--  `times = N` limits respond/drop/delay/huge/not_json of the same call.
function Fake:behave(name, spec)
  name = M.ALIASES[name] or name
  if name ~= "*" and not M.PREFIXES[name] then
    error("unknown provider " .. tostring(name), 2)
  end
  if spec ~= false and type(spec) ~= "table" then
    error("bad argument #2 to 'behave' (table or false expected)", 2)
  end
  self:_control("behave", serialize.encode({ name = name, spec = spec }))
end

--- Make the OpenAPI fake (fake/vendors/openapi.lua) answer `operations`
--  under a mount of its own; returns that mount's base URL (plain HTTP).
--  Each operation: { method, path (the document's template), media_type,
--  credentials = { { { header = "lower-case name", value = "..." }, ... }, ... }
--  (alternatives, as the document's security lists them), status, body (raw
--  JSON), headers }. reset() forgets them.
function Fake:openapi(mount, operations)
  if type(mount) ~= "string" or not mount:match("^[%w_-]+$") then
    error("bad argument #1 to 'openapi' (a mount name expected)", 2)
  end
  self:_control("openapi", serialize.encode({ mount = mount, operations = operations }))
  return self:base_url("openapi") .. "/" .. mount
end

--- Turn recording off (false) for long runs, or back on (true); reset()
--  turns it back on. stats().requests still counts every request.
function Fake:record(on)
  self:_control("record", on and "on" or "off")
end

--- The ledger behaviour's account (fake/behave.lua): { applications =
--  { [path] = times applied }, drops, drops_reused }.
function Fake:ledger()
  return serialize.decode(self:_control("ledger"))
end

--- Counters kept by the server: { requests = total seen, tokens_issued = lexful
--  tokens issued since the last reset }.
function Fake:stats()
  return serialize.decode(self:_control("stats"))
end

-- nginx runs under a small sh guard that this process feeds through a
-- popen pipe. When the pipe closes (stop(), exit, or a crash of the test
-- process) the guard stops nginx (TERM, then KILL after 3 s), reaps it and
-- removes the temp dir, unless it was told "keep" (a retry on other ports).
-- So closing the handle returns once nginx is gone, nginx never outlives its
-- tests, and no zombie is left to an init that does not reap.
-- Run as: sh -c GUARD sh DIR NGINX ARGS...
local GUARD = [[
trap '' INT HUP TERM  # only the closing pipe ends the guard
dir=$1; shift
(trap - INT HUP TERM; exec "$@") </dev/null >/dev/null 2>"$dir/stderr.log" &
pid=$!
msg=$(cat)
kill -TERM $pid 2>/dev/null
i=0
while [ $i -lt 60 ]; do
  s=$(awk '{print $3}' /proc/$pid/stat 2>/dev/null)
  if [ -z "$s" ] || [ "$s" = Z ]; then break; fi
  sleep 0.05; i=$((i+1))
done
if [ $i -ge 60 ]; then
  for c in $(pgrep -P $pid); do kill -KILL $c; done
  kill -KILL $pid
fi
wait $pid
case "$dir:$msg" in
  */lua-users-fake.*:keep) ;;
  */lua-users-fake.*:*) rm -rf "$dir" ;;
esac
]]

--- Stop nginx and remove the temp dir; returns once both are gone.
function Fake:stop()
  if self.stopped then return end
  self.stopped = true
  if self._handle then
    self._handle:close()
  elseif self.dir:find("/lua%-users%-fake%.[%w]+$") then -- never started
    run("rm -rf " .. q(self.dir))
  end
end

---------------------------------------------------------------- start

-- Start nginx (in the foreground, under GUARD) and wait until it answers.
-- Returns "up", "busy" (a port is taken: retry with others) or nil, reason.
local function launch(self)
  local dir = self.dir
  local stderr = dir .. "/stderr.log"
  local handle = assert(io.popen("sh -c " .. q(GUARD) .. " sh " .. q(dir) .. " "
    .. nginx_binary() .. " -p " .. q(dir) .. " -c " .. q(dir .. "/nginx.conf")
    .. " -e " .. q(self.error_log) .. " >/dev/null 2>&1", "w"))
  local why = "nginx does not answer"
  for _ = 1, 60 do
    -- The ping answers with the prefix: another server on that port cannot pass.
    if curl(q(self.url .. "/_control/ping"), 1) == dir then
      self._handle = handle
      self._pid = tonumber(read_file(dir .. "/nginx.pid") or "")
      return "up"
    end
    local log = (read_file(stderr) or "") .. (read_file(self.error_log) or "")
    if log:find("[emerg]", 1, true) then
      if log:find("Address already in use", 1, true) then
        handle:write("keep")
        handle:close()
        os.remove(self.error_log)
        return "busy"
      end
      why = log
      break
    end
    sleep(0.05)
  end
  why = why .. "\n" .. (read_file(stderr) or "") .. (read_file(self.error_log) or "")
  handle:close()
  return nil, why
end

--- Start the fakes. Returns a Fake with port, tls_port, url, tls_url,
--  ca_file, dir (the temp prefix) and error_log.
function M.start()
  local dir, ok = run('mktemp -d "${TMPDIR:-/tmp}/lua-users-fake.XXXXXX"')
  dir = dir:gsub("%s+$", "")
  if not ok then error("fake providers: mktemp failed: " .. dir, 2) end
  run("mkdir -p " .. q(dir .. "/rec") .. " " .. q(dir .. "/tmp"))
  local self = setmetatable({ dir = dir, error_log = dir .. "/error.log", ca_file = dir .. "/ca.crt",
    client_certs = { a = { cert = dir .. "/client-a.crt", key = dir .. "/client-a.key" },
                     b = { cert = dir .. "/client-b.crt", key = dir .. "/client-b.key" } } }, Fake)

  local started, err = pcall(function()
    make_certs(dir)
    local vars = {
      PREFIX = dir, LUA_DIR = HERE .. "/fake",
      USER = run("id -u"):match("^0%s") and "user root;" or "",
    }
    local template = assert(read_file(HERE .. "/fake/nginx.conf.in"))
    local used = used_ports()
    for _ = 1, 10 do
      for _, k in ipairs { "PORT", "TLS_PORT", "H2_PORT", "H2C_PORT", "SHORT_TLS_PORT", "MTLS_PORT" } do
        vars[k] = tostring(random_port(used))
      end
      write_file(dir .. "/nginx.conf", (template:gsub("@([%u%d_]+)@", vars)))
      self.port, self.tls_port = tonumber(vars.PORT), tonumber(vars.TLS_PORT)
      self.url = "http://127.0.0.1:" .. self.port
      self.tls_url = "https://127.0.0.1:" .. self.tls_port
      self.h2_url = "https://127.0.0.1:" .. vars.H2_PORT
      self.h2c_url = "http://127.0.0.1:" .. vars.H2C_PORT
      self.short_tls_url = "https://127.0.0.1:" .. vars.SHORT_TLS_PORT
      self.mtls_url = "https://127.0.0.1:" .. vars.MTLS_PORT
      local state, why = launch(self)
      if state == "up" then return end
      if state ~= "busy" then error("fake providers: nginx did not start:\n" .. why, 0) end
    end
    error("fake providers: no free port found", 0)
  end)
  if not started then
    self:stop()
    error(err, 2)
  end
  -- Stop this fake when it is collected or the Lua state closes (busted ends
  -- with os.exit(code, true)), so a forgotten stop() costs nothing.
  if newproxy then -- Lua 5.1 and LuaJIT: only userdata have __gc
    self._sentinel = newproxy(true)
    getmetatable(self._sentinel).__gc = function() pcall(Fake.stop, self) end
  else
    self._sentinel = setmetatable({}, { __gc = function() pcall(Fake.stop, self) end })
  end
  return self
end

return M
