-- What lua-users says, and when it stops (issue 19): a run of connection
-- failures stops a bulk run as a run of 401s does; an error page that is
-- not JSON is shown as a short clean excerpt; a 429 storm says so; TLS as
-- curl has it (--ca-file, CURL_CA_BUNDLE, SSL_CERT_FILE) with a hint that
-- fits the failure; a Redis budget's password from the environment, or
-- percent-decoded from the URL.
local env = require "spec.support.env"
local cli = require "spec.support.cli"
local redis_server = require "spec.support.redis_server"

local run, vars, write, read = cli.run, cli.vars, env.write, env.read

local function users_csv(n)
  local lines = { "id,role" }
  for i = 1, n do lines[#lines + 1] = "u" .. i .. ",admin" end
  return table.concat(lines, "\n") .. "\n"
end

describe("lua-users", function()
  local dir
  cli.fakes_and_dirs(function(d) dir = d end)

  describe("bulk stops after --max-connection-failures rows in a row that reach nothing", function()
    it("an unreachable server: the rest is not attempted, and the one next step is the resume", function()
      write(dir .. "/u.csv", users_csv(60))
      local v = vars("generic", { GENERIC_BASE_URL = "http://127.0.0.1:1/generic" })
      local out, err, code = run("bulk generic u.csv --concurrency 4 --retries 0", v, dir)
      assert.equal(1, code, err)
      assert.matches("^lua%-users: stopped after 5 rows in a row could not reach the server or the budget store %(the"
        .. " last: generic: [^\n]*connect", err)
      local failed, rest = out:match("generic: 60 items, 0 succeeded, (%d+) failed, 0 skipped %(done before%), (%d+) not attempted")
      failed, rest = tonumber(failed), tonumber(rest)
      assert.truthy(failed, out)
      assert.is_true(failed >= 5 and failed <= 5 + 8 and failed + rest == 60, out)
      assert.matches("\nstopped: " .. rest .. " items not attempted. When the server (and the budget store) can be reached"
        .. " again, resume: lua-users bulk generic u.csv --concurrency 4 --retries 0\n", out, 1, true)
      assert.is_nil(out:find("fix them, then", 1, true))
      -- 0: never stop
      out, err, code = run("bulk generic u.csv --concurrency 4 --retries 0 --max-connection-failures 0 --no-journal", v, dir)
      assert.equal(1, code, err)
      assert.matches("generic: 60 items, 0 succeeded, 60 failed, 0 skipped %(done before%), 0 not attempted", out)
    end)

    it("an unreachable budget store does the same", function()
      write(dir .. "/u.csv", users_csv(40))
      local out, err, code = run("bulk generic u.csv --concurrency 2 --retries 0 --rate 1000 --budget redis://127.0.0.1:1",
                                 vars("generic"), dir)
      assert.equal(1, code, err)
      assert.matches("^lua%-users: stopped after 5 rows in a row could not reach the server or the budget store", err)
      local failed, rest = out:match("generic: 40 items, 0 succeeded, (%d+) failed, 0 skipped %(done before%), (%d+) not attempted")
      assert.is_true(tonumber(failed) <= 5 + 4 and tonumber(failed) + tonumber(rest) == 40, out)
      assert.same({}, env.fake:requests())
    end)

    it("after 401s too, one next step: the resume, which sends the failed rows again", function()
      write(dir .. "/u.csv", users_csv(20))
      local out, err, code = run("bulk generic u.csv --concurrency 1 --max-auth-failures 3",
                                 vars("generic", { GENERIC_TOKEN = "expired" }), dir)
      assert.equal(1, code, err)
      local last = "\nfailures: 3 rows in u.failures.csv (their errors: the resume below sends them again)\n"
        .. "stopped: 17 items not attempted. Fix the credentials (GENERIC_TOKEN), then resume: lua-users bulk generic u.csv"
        .. " --concurrency 1 --max-auth-failures 3\n"
      assert.equal(last, out:sub(-#last))
      assert.is_nil(out:find("fix them, then", 1, true))
    end)
  end)

  describe("what the server said", function()
    local PAGE = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title><style>body { color: red }</style>"
      .. "<script>var secret = 1;</script></head>\n<body><h1>Bad&nbsp;Gateway</h1><!-- upstream: 10.0.0.7 -->\n"
      .. "<p>The upstream &amp; its proxy &lt;edge-3&gt; timed out.</p>\n" .. ("<p>filler text</p>"):rep(40) .. "</body></html>\n"

    it("an HTML error page is shown as a short, clean excerpt, in update and in bulk's failures", function()
      env.fake:behave("generic", { respond = { status = 502, body = PAGE, headers = { ["Content-Type"] = "text/html" } } })
      local out, err, code = run("update generic u1 role=admin", vars("generic"), dir)
      assert.equal(1, code, out)
      local said = err:match('^lua%-users: generic: HTTP 502 %(the server said: "(.-)"%)\n$')
      assert.truthy(said, err)
      assert.matches("^502 Bad Gateway Bad Gateway The upstream & its proxy <edge%-3> timed out%. filler text filler", said)
      assert.is_true(#said <= 163, said)
      assert.matches("%.%.%.$", said)
      assert.is_nil(said:find("secret", 1, true))
      assert.is_nil(said:find("10.0.0.7", 1, true))
      assert.is_nil(said:find("color", 1, true))
      write(dir .. "/u.csv", users_csv(1))
      out, err, code = run("bulk generic u.csv --retries 0", vars("generic"), dir)
      assert.equal(1, code, err)
      assert.matches("1 items, 0 succeeded, 1 failed", out)
      assert.matches('\nu1,admin,"generic: HTTP 502 (the server said: ""502 Bad Gateway Bad Gateway The upstream',
                     read(dir .. "/u.failures.csv"), 1, true)
    end)

    it("a 429 storm that used up its retries says so, and suggests --rate", function()
      env.fake:behave("generic", { respond = { status = 429, body = '{"error":"rate_limited","message":"Slow down"}',
                                               headers = { ["Retry-After"] = "0" } } })
      write(dir .. "/u.csv", users_csv(6))
      local out, err, code = run("bulk generic u.csv --retries 1 --concurrency 2 --rate 20", vars("generic"), dir)
      assert.equal(1, code, err)
      assert.matches("\n6 rows failed with 429 Too Many Requests after their retries (--retries 1): the provider limits the"
        .. " rate; run them again slower, e.g. --rate 10\n", out, 1, true)
    end)
  end)

  describe("TLS", function()
    -- The fake's HTTPS URL; CURL_CA_BUNDLE and SSL_CERT_FILE unset unless given.
    local function with(t)
      t = t or {}
      for k, x in pairs { GENERIC_BASE_URL = env.fake:tls_base_url("generic"), CURL_CA_BUNDLE = false,
                          SSL_CERT_FILE = false } do
        if t[k] == nil then t[k] = x end
      end
      return vars("generic", t)
    end

    local function update(v, extra)
      return run("update generic u1 role=admin " .. (extra or ""), with(v), dir)
    end

    it("--ca-file, CURL_CA_BUNDLE and SSL_CERT_FILE are honoured as curl does, in that order", function()
      local ca = env.fake.ca_file
      for _, case in ipairs {
        { {}, "--ca-file " .. ca },
        { { SSL_CERT_FILE = ca } },
        { { CURL_CA_BUNDLE = ca, SSL_CERT_FILE = "/etc/hostname" } },   -- CURL_CA_BUNDLE first
        { { CURL_CA_BUNDLE = "/etc/hostname" }, "--ca-file " .. ca },    -- the option before both
      } do
        local out, err, code = update(case[1], case[2])
        assert.equal(0, code, err)
        assert.matches('"role":"admin"', out)
      end
      write(dir .. "/u.csv", users_csv(2))
      local out, err, code = run("bulk generic u.csv --ca-file " .. ca, with(), dir)
      assert.equal(0, code, err)
      assert.matches("2 items, 2 succeeded", out)
      assert.equal(6, #env.fake:requests())
    end)

    it("a CA file that cannot be read is a usage error naming where it came from, nothing sent", function()
      for _, case in ipairs {
        { { SSL_CERT_FILE = "/nonexistent/ca.pem" }, nil, "the CA file /nonexistent/ca.pem %(from SSL_CERT_FILE%)" },
        { { CURL_CA_BUNDLE = "/nonexistent/b.pem" }, nil, "the CA file /nonexistent/b.pem %(from CURL_CA_BUNDLE%)" },
        { {}, "--ca-file /nonexistent/c.pem", "the CA file /nonexistent/c%.pem: No such" },
        { {}, "--client-cert /nonexistent/me.pem", "the client certificate /nonexistent/me%.pem: No such" },
        { {}, "--client-key k.pem", "%-%-client%-key needs %-%-client%-cert" },
      } do
        local out, err, code = update(case[1], case[2])
        assert.equal(2, code, out .. err)
        assert.matches("^lua%-users: [^\n]*" .. case[3], err)
      end
      assert.same({}, env.fake:requests())
    end)

    it("a TLS failure comes with the hint that fits it", function()
      local out, err, code = update()
      assert.equal(1, code, out)
      assert.matches("^lua%-users: generic: SSL certificate problem: unable to get local issuer certificate %(the server's"
        .. " certificate is not trusted here: give the CA that signs it with %-%-ca%-file FILE %(or set CURL_CA_BUNDLE or"
        .. " SSL_CERT_FILE%)%)\n$", err)
      local plain = env.fake:base_url("generic"):gsub("^http:", "https:")
      out, err, code = update({ GENERIC_BASE_URL = plain }, "--ca-file " .. env.fake.ca_file)
      assert.equal(1, code, out)
      assert.matches("%(the server does not speak TLS there: is the base URL http:// rather than https://%?%)\n$", err)
      assert.is_nil(err:find("opts.ca_file", 1, true))
    end)
  end)

  describe("a Redis budget's password", function()
    local redis
    local PASSWORD = "p@ss?w/rd:1"
    setup(function()
      redis = redis_server.start()
      redis:cli("CONFIG SET requirepass " .. cli.q(PASSWORD))
    end)
    teardown(function() if redis then redis:close() end end)

    it("comes from LUA_USERS_REDIS_PASSWORD, or percent-decoded from the URL", function()
      write(dir .. "/u.csv", users_csv(3))
      local url = "redis://127.0.0.1:" .. redis.port .. "/0"
      local line = "bulk generic u.csv --rate 100 --retries 0 --no-journal --budget "
      local out, err, code = run(line .. url, vars("generic", { LUA_USERS_REDIS_PASSWORD = PASSWORD }), dir)
      assert.equal(0, code, err)
      assert.matches("3 items, 3 succeeded", out)
      local encoded = "redis://:" .. PASSWORD:gsub("[@?/:]", function(c) return ("%%%02X"):format(c:byte()) end)
        .. "@127.0.0.1:" .. redis.port .. "/0"
      out, err, code = run(line .. cli.q(encoded), vars("generic"), dir)
      assert.equal(0, code, err)
      assert.matches("3 items, 3 succeeded", out)
      assert.is_nil((out .. err):find(PASSWORD, 1, true))
      -- without it: the store refuses, nothing is sent
      env.fake:reset()
      out, err, code = run(line .. url, vars("generic"), dir)
      assert.equal(1, code, err)
      assert.matches("3 items, 0 succeeded, 3 failed", out)
      assert.same({}, env.fake:requests())
    end)
  end)
end)
