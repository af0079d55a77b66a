-- The cosocket transport (users/transport/nginx.lua) inside a real nginx,
-- against the fakes: the contract's failure (nil, message, code, sent),
-- what it bounds of a hostile server's answer (a head over 256 KB, a bad
-- chunk: an error for that request, nothing in nginx's log), req.reuse =
-- false (a connection of its own), mutual TLS with a connection never
-- reused across certificates, and a session's timeouts.
local users = require "users"
local core = require "users.core"
local env = require "spec.support.env"
local nginx_host = require "spec.support.nginx_host"

-- POST /_t { reqs = { req, ... }, session = bool, hide = bool, bodies = { n, ... } }
-- answers the outcome of each request in order: { res, msg, code, sent }.
-- hide: as an nginx whose Lua module has no tcpsock:setclientcert; bodies:
-- request i gets a body of bodies[i] bytes, made there.
local LOCATION = [==[location = /_t { content_by_lua_block {
    local core = require "users.core"
    local t = require "users.transport.nginx"
    ngx.req.read_body()
    local job = core.json_decode(ngx.req.get_body_data())
    for i, n in ipairs(job.bodies or {}) do job.reqs[i].body = ("b"):rep(n) end
    local methods = getmetatable(ngx.socket.tcp()).__index
    local setclientcert = methods.setclientcert
    if job.hide then methods.setclientcert = nil end
    local out = {}
    local function row(res, msg, code, sent)
      if res then return { res = res } end
      return { msg = msg, code = code, sent = sent }
    end
    if job.session then
      local s, handles = t.session(#job.reqs), {}
      for i, req in ipairs(job.reqs) do handles[s.start(req)] = i end
      local left = #job.reqs
      while left > 0 do
        for _, r in ipairs(s.wait(job.wait)) do
          out[handles[r[1]]] = row(r[2], r[3], r[4], r[5])
          left = left - 1
        end
      end
      s.close()
    else
      for i, req in ipairs(job.reqs) do out[i] = row(t.send(req)) end
    end
    methods.setclientcert = setclientcert
    ngx.say(core.json_encode(out))
  } }]==]

describe("the nginx transport", function()
  local host

  setup(function()
    env.start()
    host = nginx_host.start { server = LOCATION, trusted_ca = env.fake.ca_file }
  end)
  teardown(function()
    if host then host:stop() end
    env.stop()
  end)
  before_each(function() env.fake:reset() end)

  local function run(reqs, extra)
    local job = { reqs = reqs }
    for k, v in pairs(extra or {}) do job[k] = v end
    env.write(host.dir .. "/job.json", core.json_encode(job))
    -- a bound, so that a transport that spun or hung fails the spec instead
    local out = env.sh(("curl -s --noproxy '*' --max-time 120 --data-binary @%s %s/_t"):format(
      host.dir .. "/job.json", host.base))
    local rows = core.json_decode(out)
    assert.is_table(rows, out .. host:error_log())
    return rows
  end

  local function prepare(extra, fields)
    local req = assert(users.prepare("generic", "u1", fields or { role = "admin" }, env.opts("generic", extra)))
    return req
  end

  local function hostile(case, timeout)
    return prepare { base_url = env.fake.url .. "/hostile/" .. case, timeout = timeout or 5 }
  end

  it("says what may have been sent, as the libcurl transport does", function()
    env.fake:behave("generic", { delay = 2, times = 1 })
    local rows = run {
      prepare { base_url = "http://127.0.0.1:1/generic" },
      prepare { timeout = 0.3 },
      hostile("reset"),
      hostile("switch-101"),
      hostile("not-http"),
      prepare(),
    }
    local got = {}
    for i, r in ipairs(rows) do got[i] = { r.code, r.sent } end
    assert.same({ { "connect", false }, { "timeout", true }, { "reset", true }, { "reset", true },
                  { "bad_response", true }, {} }, got)
    assert.equal(200, rows[6].res.status)
  end)

  -- /hostile/rst resets the connection once the head came: a 64 KB request
  -- was written whole (the reset comes to the read: "connection reset by
  -- peer", no failed connect), a 12 MB one only in part (the write fails).
  it("a reset after the request, or in the middle of writing it, is a reset of a request sent", function()
    local rows = run({ hostile("rst"), hostile("rst") }, { bodies = { 64 * 1024, 12 * 1024 * 1024 } })
    assert.same({ { "reset", true }, { "reset", true } },
      { { rows[1].code, rows[1].sent }, { rows[2].code, rows[2].sent } })
    assert.matches("^receive: ", rows[1].msg)
    assert.matches("^send: ", rows[2].msg)
  end)

  it("a bad chunk, a head over 256 KB and 200 000 header lines fail that request only, logging nothing", function()
    local logged = #host:error_log()
    local rows = run { hostile("bad-chunk"), hostile("huge-head"), hostile("lines-200000"), prepare(),
                       hostile("head-262144"), hostile("head-262145") }
    assert.same({ "bad_response", true }, { rows[1].code, rows[1].sent })
    -- the libcurl transport's cap, to the byte (spec/sent_spec.lua)
    assert.equal(200, rows[5].res and rows[5].res.status)
    assert.same({ "too_large", "response headers larger than 262144 bytes" }, { rows[6].code, rows[6].msg })
    assert.same({ "too_large", "response headers larger than 262144 bytes" }, { rows[2].code, rows[2].msg })
    assert.same({ "too_large", "response headers larger than 262144 bytes" }, { rows[3].code, rows[3].msg })
    assert.equal(200, rows[4].res.status)
    local log = host:error_log():sub(logged + 1)
    assert.is_nil(log:find("lua user thread aborted", 1, true), log)
    assert.is_nil(log:find("[error]", 1, true), log)
  end)

  it("with reuse = false, a connection of its own, closed after it", function()
    local own = prepare()
    own.reuse = false
    run { prepare(), own, prepare() }
    local conns = {}
    for i, r in ipairs(env.fake:requests("generic")) do conns[i] = r.conn end
    assert.equal(3, #conns)
    assert.are_not.equal(conns[1], conns[2])
    assert.equal(conns[1], conns[3]) -- the pooled one again: the own one was closed
  end)

  it("sends the client certificate asked for, on a connection never shared with another", function()
    local a, b = env.fake.client_certs.a, env.fake.client_certs.b
    local base = env.fake:mtls_base_url("generic")
    local function with(cert)
      return prepare { base_url = base, client_cert = cert and cert.cert, client_key = cert and cert.key }
    end
    local rows = run { with(a), with(b), with(nil), with(a), with(b), with(nil) }
    for i, r in ipairs(rows) do assert.is_table(r.res, i .. ": " .. tostring(r.msg)) end
    local seen, conn_of = {}, {}
    for i, r in ipairs(env.fake:requests("generic")) do
      seen[i] = r.client or "none"
      conn_of[r.conn] = conn_of[r.conn] or seen[i]
      assert.equal(conn_of[r.conn], seen[i], "connection " .. r.conn .. " carried two identities")
    end
    assert.same({ "CN=client-a", "CN=client-b", "none", "CN=client-a", "CN=client-b", "none" }, seen)
  end)

  -- OpenSSL would ask the worker's terminal (or stdin) for the pass phrase.
  it("refuses an encrypted key as a TLS failure that sent nothing, never asking for a pass phrase", function()
    local c, enc = env.fake.client_certs.a, os.tmpname()
    env.sh(("openssl pkey -in %s -aes256 -passout pass:secret -out %s"):format(c.key, enc))
    local rows = run { prepare { base_url = env.fake:mtls_base_url("generic"), client_cert = c.cert, client_key = enc } }
    os.remove(enc)
    assert.same({ "tls", false }, { rows[1].code, rows[1].sent })
    assert.matches("encrypted", rows[1].msg)
    assert.same({}, env.fake:requests())
  end)

  it("names what is missing when the Lua module cannot send a client certificate", function()
    local c = env.fake.client_certs.a
    local req = prepare { base_url = env.fake:mtls_base_url("generic"), client_cert = c.cert, client_key = c.key }
    req.reuse = false -- a new connection: a kept one has its certificate already
    local rows = run({ req }, { hide = true })
    assert.same({ "tls", false }, { rows[1].code, rows[1].sent })
    assert.matches("setclientcert", rows[1].msg)
  end)

  it("a session ends each request at its own timeout, whatever the server trickles", function()
    local rows = run({ hostile("endless-1xx", 0.5), hostile("slowloris", 0.5), prepare() }, { session = true })
    assert.same({ "timeout", true }, { rows[1].code, rows[1].sent })
    assert.same({ "timeout", true }, { rows[2].code, rows[2].sent })
    assert.equal(200, rows[3].res.status)
  end)

  it("a session whose deadlines fall between nginx's milliseconds never spins", function()
    -- nginx's clock moves only between events, in whole milliseconds: a
    -- wait that slept to just before a deadline, then was called again,
    -- spun for good (the worker at 100 % CPU, the request never answered)
    local reqs = {}
    for i = 1, 30 do reqs[i] = hostile("endless-1xx", 0.1 + i * 0.0131) end
    local rows = run(reqs, { session = true })
    assert.equal(30, #rows)
    for i, r in ipairs(rows) do assert.same({ "timeout", true }, { r.code, r.sent }, i) end
  end)
end)
