-- The transport contract's failure (users/transport.lua): nil, message,
-- code, sent, from the libcurl transport (send, and a session's wait), over
-- real sockets: whether any of the request may have reached the server,
-- answers that end on an interim status, answers that are not HTTP, and
-- req.reuse = false, which keeps libcurl from sending an update twice.
local users = require "users"
local curl = require "users.transport.curl"
local env = require "spec.support.env"

local function prepare(extra)
  local req = assert(users.prepare("generic", "u1", { role = "admin" }, env.opts("generic", extra)))
  return req
end

local function hostile(case)
  local req = prepare { base_url = env.fake.url .. "/hostile/" .. case, timeout = 5 }
  return req
end

-- The requests the generic fake recorded for user `id`.
local function arrived(id)
  local n = 0
  for _, r in ipairs(env.fake:requests("generic")) do
    if r.uri:match("/users/" .. id .. "$") then n = n + 1 end
  end
  return n
end

-- One request through a session: its result row.
local function via_session(req)
  local s = curl.session(4)
  local h = s.start(req)
  local row = env.drain(s, 1)[1]
  s.close()
  assert.equal(h, row[1])
  return row
end

describe("the transport's failure: nil, message, code, sent", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)
  before_each(function() env.fake:reset() end)

  it("a refused connection: nothing sent, in send and in a session alike", function()
    local req = prepare { base_url = "http://127.0.0.1:1/generic" }
    local res, msg, code, sent = curl.send(req)
    assert.is_nil(res)
    assert.is_string(msg)
    assert.equal("connect", code)
    assert.is_false(sent)
    local row = via_session(req)
    assert.same({ "connect", false }, { row[4], row[5] }) -- the message says how many ms: not compared
    assert.is_nil(row[2])
    assert.matches("Couldn't connect", row[3])
  end)

  it("a TLS failure: nothing sent", function()
    local _, _, code, sent = curl.send(prepare { base_url = env.fake:tls_base_url("generic") })
    assert.equal("tls", code)
    assert.is_false(sent)
  end)

  it("a timeout after the request was written: sent", function()
    env.fake:behave("generic", { delay = 2, times = 1 })
    local _, _, code, sent = curl.send(prepare { timeout = 0.3 })
    assert.equal("timeout", code)
    assert.is_true(sent)
  end)

  it("a connection closed without an answer is a reset; an answer that is not HTTP, or whose chunk "
    .. "size is not hex, a bad_response: sent, each", function()
    for case, want in pairs { reset = "reset", truncated = "reset", ["not-http"] = "bad_response",
                              ["bad-chunk"] = "bad_response" } do
      local res, msg, code, sent = curl.send(hostile(case))
      assert.is_nil(res, case)
      assert.equal(want, code, case .. ": " .. tostring(msg))
      assert.is_true(sent, case)
    end
  end)

  it("an answer that ends on an interim status (an unasked-for 101) is a reset, sent", function()
    local req = hostile("switch-101")
    local res, msg, code, sent = curl.send(req)
    assert.is_nil(res)
    assert.equal("reset", code)
    assert.is_true(sent)
    assert.matches("HTTP 101", msg)
    local row = via_session(req)
    assert.same({ "reset", true }, { row[4], row[5] })
  end)

  it("a header block over 256 KB is too_large, sent", function()
    local res, msg, code, sent = curl.send(hostile("huge-head"))
    assert.is_nil(res)
    assert.equal("too_large", code)
    assert.equal("response headers larger than 262144 bytes", msg)
    assert.is_true(sent)
    -- to the byte, as the nginx transport (spec/nginx_transport_spec.lua)
    assert.equal(200, (assert(curl.send(hostile("head-262144")))).status)
    assert.same({ "too_large", "response headers larger than 262144 bytes" },
      { select(3, curl.send(hostile("head-262145"))), (select(2, curl.send(hostile("head-262145")))) })
  end)

  it("users.update reports a 101 as a transport reset, not as an HTTP answer", function()
    local user, err = users.update("generic", "u1", { role = "x" },
      { base_url = env.fake.url .. "/hostile/switch-101", token = "test-token", retries = 0 })
    assert.is_nil(user)
    assert.equal("transport", err.kind)
    assert.equal("reset", err.code)
  end)
end)

describe("behind an HTTPS proxy (https_proxy)", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)
  before_each(function() env.fake:reset() end)

  -- The fakes' plain port stands for a proxy that refuses the tunnel (nginx
  -- answers CONNECT with an error). libcurl counts the CONNECT exchange in
  -- its request and header sizes: none of it went to the origin.
  it("a refused tunnel is a failure to connect that sent nothing", function()
    local out = env.run_lua(([[
      local curl = require "users.transport.curl"
      local res, msg, code, sent = curl.send { method = "PATCH", url = %q, headers = {}, body = "{}",
        ca_file = %q, timeout = 5 }
      print(tostring(res), code, tostring(sent), msg)
    ]]):format(env.fake:tls_base_url("generic", "h2") .. "/users/u1", env.fake.ca_file),
      "https_proxy=" .. env.fake.url .. " HTTPS_PROXY= no_proxy= NO_PROXY=")
    assert.matches("^nil\tconnect\tfalse\tCONNECT tunnel failed", out)
    assert.equal(0, arrived("u1"))
  end)
end)

describe("req.reuse = false", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)
  before_each(function() env.fake:reset() end)

  -- The server applies the update, then closes the connection before it
  -- answers. On a connection used before, libcurl sends the request again
  -- by itself on a new one (lib/transfer.c, Curl_retry_request): applied
  -- twice, and reported as one success.
  local function applied_then_dropped(reuse)
    assert(curl.send(prepare())) -- a kept-alive connection to the fake
    env.fake:reset()
    env.fake:behave("generic", { drop = true, times = 1 })
    local req = prepare()
    req.reuse = reuse
    local res, msg, code, sent = curl.send(req)
    return res, msg, code, sent, arrived("u1")
  end

  it("by default, libcurl resends an update whose reused connection died: applied twice", function()
    local res, _, _, _, n = applied_then_dropped()
    assert.is_table(res)
    assert.equal(200, res.status)
    assert.equal(2, n)
  end)

  it("with reuse = false, the update is applied once and reported as sent, unanswered", function()
    local res, _, code, sent, n = applied_then_dropped(false)
    assert.is_nil(res)
    assert.equal("reset", code)
    assert.is_true(sent)
    assert.equal(1, n)
  end)

  it("in a session too, beside requests that share connections", function()
    local s = curl.session(4)
    local function run(req)
      s.start(req)
      return env.drain(s, 1)[1]
    end
    assert.is_table(run(prepare())[2])
    env.fake:reset()
    env.fake:behave("generic", { drop = true, times = 1 })
    local req = prepare()
    req.reuse = false
    local row = run(req)
    s.close()
    assert.same({ "reset", true }, { row[4], row[5] })
    assert.equal(1, arrived("u1"))
  end)

  -- Each such request is alone on a connection opened for it, over HTTP/2
  -- too (the engine runs it on a multi handle of its own: no other
  -- request can join it), and it still speaks HTTP/2 where offered.
  it("opens a connection of its own, closed after it, over HTTP/2 too", function()
    for _, base in ipairs { env.fake:base_url("generic"), env.fake:tls_base_url("generic", "h2") } do
      env.fake:reset()
      local o = { base_url = base, ca_file = env.fake.ca_file }
      local shared = prepare(o)
      o.headers = { ["X-Own"] = "1" }
      local own = prepare(o)
      own.reuse = false
      local s = curl.session(8)
      local handles = {}
      for _ = 1, 6 do s.start(shared) handles[s.start(own)] = true end
      for _, r in ipairs(env.drain(s, 12)) do
        assert.is_table(r[2], tostring(r[3]))
        if handles[r[1]] then assert.equal(base:match("^https") and "HTTP/2" or "HTTP/1.1", r[2].protocol) end
      end
      s.close()
      local by_conn, owns = {}, {}
      for _, r in ipairs(env.fake:requests("generic")) do
        by_conn[r.conn] = (by_conn[r.conn] or 0) + 1
        if r.headers["x-own"] then owns[#owns + 1] = r end
      end
      assert.equal(6, #owns)
      for _, r in ipairs(owns) do assert.equal(1, by_conn[r.conn], base) end
    end
  end)

  it("is a boolean", function()
    local req = prepare()
    req.reuse = "no"
    assert.has_error(function() curl.send(req) end, "'reuse' must be a boolean")
  end)
end)
