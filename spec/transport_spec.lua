-- Real libcurl against real sockets: failures come back as transport errors,
-- TLS is verified, nothing unsafe reaches the wire, secrets never leak.
local users = require "users"
local env = require "spec.support.env"

local generic = { id = "u1", fields = { role = "admin" } }

local function update(extra)
  return users.update("generic", generic.id, generic.fields, env.opts("generic", extra))
end

describe("transport", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)
  before_each(function() env.fake:reset() end)

  it("connection refused is a retryable transport error", function()
    local user, err = update { base_url = "http://127.0.0.1:1/generic" }
    assert.is_nil(user)
    assert.equal("transport", err.kind)
    assert.equal("connect", err.code)
    assert.is_true(err.retryable)
  end)

  it("a slow server hits the total timeout", function()
    env.fake:behave("generic", { delay = 30, times = 1 })
    local t0 = require("users.core").now()
    local _, err = update { timeout = 0.5 }
    assert.equal("timeout", err.code)
    assert.is_true(require("users.core").now() - t0 < 15) -- long before the server's answer
  end)

  it("a dropped connection is a reset", function()
    env.fake:behave("generic", { drop = true, times = 1 })
    local _, err = update()
    assert.equal("transport", err.kind)
    assert.equal("reset", err.code)
  end)

  it("a body over the cap is refused, not buffered", function()
    env.fake:behave("generic", { huge = 200000, times = 2 })
    local _, err = update { max_body = 10000 }
    assert.equal("too_large", err.code)
    assert.is_false(err.retryable)
    local user = update { max_body = 1000000 }
    assert.is_table(user)
  end)

  it("refuses a self-signed server unless ca_file names its CA", function()
    local base = env.fake:tls_base_url("generic")
    local user, err = update { base_url = base }
    assert.is_nil(user)
    assert.equal("tls", err.code)
    assert.matches("ca_file", err.message)
    user, err = update { base_url = base, ca_file = env.fake.ca_file }
    assert.is_table(user, err and tostring(err))
    assert.is_true(env.fake:last().tls)
  end)

  it("sends through the proxy named by the environment", function()
    -- A child process with http_proxy set: the fake, as the proxy, sees the
    -- request for a host that does not resolve.
    local out = env.run_lua([[
      local users = require "users"
      local user, err = users.update("generic", "via-proxy", { role = "admin" },
        { base_url = "http://users-proxy-test.invalid/generic", token = "test-token", timeout = 5 })
      io.write(user and "ok" or tostring(err))
    ]], ("http_proxy=%s no_proxy= NO_PROXY="):format(env.fake.url))
    assert.equal("ok", out)
    assert.equal("/generic/v1/users/via-proxy", env.fake:last().uri)
  end)

  it("refuses header values with CR, LF or NUL, sending nothing", function()
    for _, bad in ipairs { "a\r\nX-Injected: 1", "a\nb", "a\0b" } do
      local user, err = update { headers = { ["X-Trace"] = bad } }
      assert.is_nil(user)
      assert.equal("invalid", err.kind)
      assert.matches("CR, LF or NUL", err.message)
    end
    local _, err = update { headers = { ["Bad Name"] = "x" } }
    assert.equal("invalid", err.kind)
    assert.same({}, env.fake:requests())
  end)

  it("sends extra headers as given", function()
    assert.is_table(update { headers = { ["X-Request-Id"] = "abc-123" }, user_agent = "my-tool/2" })
    local req = env.fake:last()
    assert.equal("abc-123", req.headers["x-request-id"])
    assert.equal("my-tool/2", req.headers["user-agent"])
  end)

  it("each prepared request's header map is its own, and what is sent follows it", function()
    local o = env.opts("generic")
    local a = assert(users.prepare("generic", "u1", generic.fields, o))
    local b = assert(users.prepare("generic", "u2", generic.fields, o))
    assert.are_not.equal(a.headers, b.headers)
    a.headers["X-Trace"] = "a-only"
    assert.is_nil(b.headers["X-Trace"])
    local curl = require "users.transport.curl"
    assert(curl.send(a))
    assert.equal("a-only", env.fake:last().headers["x-trace"])
    assert(curl.send(b))
    assert.is_nil(env.fake:last().headers["x-trace"])
  end)

  it("refuses a token with CR or LF without showing it", function()
    local user, err = update { token = "secret-token-\r\nX-Evil: 1" }
    assert.is_nil(user)
    assert.equal("config", err.kind)
    assert.is_nil(tostring(err):find("secret-token", 1, true))
    assert.same({}, env.fake:requests())
  end)

  it("never shows the token, even when the server echoes it", function()
    local token = "tok-SECRET-abc123"
    env.fake:behave("generic", { respond = { status = 400, headers = { ["Content-Type"] = "application/json" },
      body = '{"error":"validation_error","message":"bad token ' .. token .. '","details":{"role":["' .. token .. '"]}}' }, times = 1 })
    local _, err = update { token = token }
    local function contains(v)
      if type(v) == "string" then return v:find(token, 1, true) ~= nil end
      if type(v) == "table" then
        for k, x in pairs(v) do if contains(k) or contains(x) then return true end end
      end
      return false
    end
    assert.is_false(contains(err))
    assert.is_nil(tostring(err):find(token, 1, true))
    assert.matches("REDACTED", err.message)
  end)

  it("misses a base URL or token with a config error", function()
    local o = env.opts("generic")
    o.token = nil
    local _, err = users.update("generic", "u1", { role = "x" }, o)
    assert.equal("config", err.kind)
    assert.matches("GENERIC_TOKEN", err.message)
    _, err = users.update("generic", "u1", { role = "x" }, { token = "t" })
    assert.equal("config", err.kind)
    assert.matches("GENERIC_BASE_URL", err.message)
    _, err = users.update("generic", "u1", { role = "x" }, { token = "t", base_url = "ftp://x" })
    assert.equal("config", err.kind)
    _, err = users.update("generic", "u1", { role = "x" }, { token = "t", base_url = "http://x/a?b=1" })
    assert.equal("config", err.kind)
  end)

  describe("retries", function()
    it("retries 5xx and resets, then succeeds", function()
      env.fake:behave("generic", { script = {
        { status = 503, body = '{"error":"unavailable"}' },
        { status = 500, body = '{"error":"boom"}' },
      } })
      local user, res = update { retries = 3, backoff = 0.01 }
      assert.is_table(user, res and tostring(res))
      assert.equal(3, res.attempts)
      assert.equal(3, #env.fake:requests())
    end)
    it("gives up after the last retry, saying how many attempts", function()
      env.fake:behave("generic", { respond = { status = 500, body = "{}" } })
      local _, err = update { retries = 2, backoff = 0.01 }
      assert.equal("server_error", err.code)
      assert.equal(3, err.attempts)
      assert.equal(3, #env.fake:requests())
    end)
    it("does not retry a 4xx other than 429", function()
      local _, err = users.update("generic", "missing", { role = "x" }, env.opts("generic", { retries = 3, backoff = 0.01 }))
      assert.equal("not_found", err.code)
      assert.equal(1, #env.fake:requests())
    end)
    it("waits as long as Retry-After says", function()
      env.fake:behave("generic", { script = { { status = 429, body = "{}", headers = { ["Retry-After"] = "1" } } } })
      local t0 = require("users.core").now()
      local user, res = update { retries = 1, backoff = 0.01 }
      assert.is_table(user)
      assert.equal(2, res.attempts)
      assert.is_true(require("users.core").now() - t0 >= 0.95)
    end)
  end)
end)
