-- Regression specs for the red team's findings on the Lua side (issue 9):
-- each failed before its fix.
local users = require "users"
local core = require "users.core"
local env = require "spec.support.env"

local JSON = { ["Content-Type"] = "application/json" }

-- Whether `secret` appears anywhere in v: strings, keys, any depth.
local function contains(v, secret, seen)
  seen = seen or {}
  if type(v) == "string" then return v:find(secret, 1, true) ~= nil end
  if type(v) ~= "table" or seen[v] then return false end
  seen[v] = true
  for k, x in pairs(v) do
    if contains(k, secret, seen) or contains(x, secret, seen) then return true end
  end
  return false
end

local function lexful_keys(extra)
  local o = { base_url = env.fake:base_url("lexful"), account_id = env.ACCOUNT, timeout = 5,
              key_id = "test-key-id", key_secret = "test-key-secret", backoff = 0.01 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

describe("hardening", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)
  before_each(function() env.fake:reset() end)

  describe("a server cannot stall a run with Retry-After (finding 2)", function()
    local huge = { "1000000000", "99999999999999999999999", "Fri, 31 Dec 9999 23:59:59 GMT" }
    it("update fails at once as rate_limited, retry_after set", function()
      for _, ra in ipairs(huge) do
        env.fake:behave("generic", { respond = { status = 429, headers = { ["Retry-After"] = ra }, body = "{}" } })
        local t0 = core.now()
        local user, err = users.update("generic", "u1", { role = "x" }, env.opts("generic", { retries = 3 }))
        assert.is_nil(user)
        assert.is_true(core.now() - t0 < 10, ra) -- not the server's wait
        assert.equal("rate_limited", err.code)
        assert.is_true(err.retry_after > 300, ra)
        assert.is_false(err.retryable)
        assert.matches("max_retry_after", err.message)
        assert.equal(1, #env.fake:requests())
        env.fake:reset()
      end
    end)

    it("bulk_update too, and max_retry_after sets the cap", function()
      env.fake:behave("generic", { respond = { status = 429, headers = { ["Retry-After"] = "1000000000" }, body = "{}" } })
      local t0 = core.now()
      local report = users.bulk_update("generic", { { id = "a", fields = { role = "x" } }, { id = "b", fields = { role = "x" } } },
        env.opts("generic", { retries = 5 }))
      assert.is_true(core.now() - t0 < 10)
      assert.equal(2, report.failed)
      assert.equal("rate_limited", report.failures[1].err.code)
      env.fake:reset()
      env.fake:behave("generic", { script = { { status = 429, headers = { ["Retry-After"] = "1" }, body = "{}" } } })
      local user, err = users.update("generic", "u1", { role = "x" }, env.opts("generic", { retries = 1, max_retry_after = 0.5 }))
      assert.is_nil(user)
      assert.equal(1, err.retry_after)
      assert.equal(1, #env.fake:requests())
    end)
  end)

  describe("secrets are redacted everywhere (findings 3 and 4)", function()
    it("a token echoed as an object key, or 20 tables deep, or 3 characters long", function()
      for _, token in ipairs { "tok-SECRET-abc123", "q7z" } do
        local deep = '"' .. token .. '"'
        for _ = 1, 20 do deep = '{"a":' .. deep .. "}" end
        env.fake:behave("generic", { respond = { status = 422, headers = JSON,
          body = '{"error":"validation_error","message":"no","details":{"' .. token .. '":["is ' .. token
            .. '"]},"deep":' .. deep .. "}" } })
        local _, err = users.update("generic", "u1", { role = "x" }, env.opts("generic", { token = token }))
        assert.equal("validation_error", err.code)
        assert.is_false(contains(err, token), token)
        assert.is_nil(tostring(err):find(token, 1, true))
        local seen = {}
        local report = users.bulk_update("generic", { { id = "u1", fields = { role = "x" } } },
          env.opts("generic", { token = token, retries = 0, on_result = function(_, _, e) seen[#seen + 1] = e end }))
        assert.is_false(contains(report, token))
        assert.is_false(contains(seen, token))
        env.fake:reset()
      end
    end)

    it("the lexful key secret echoed by the token endpoint", function()
      env.fake:behave("lexful", { respond = { status = 401, headers = JSON,
        body = '{"status":401,"message":"bad key test-key-secret","error_id":"x","test-key-secret":1}' } })
      local _, err = users.update("lexful", env.USER_UUID, { role = "admin" }, lexful_keys { key_id = "echo-key" })
      assert.equal("unauthorized", err.code)
      assert.is_false(contains(err, "test-key-secret"))
      assert.is_nil(tostring(err):find("test-key-secret", 1, true))
    end)

    it("a bulk run scrubs the token it refreshed away, from answers sent with it", function()
      local v = env.valid.lexful
      assert.is_table(users.update("lexful", v.id, v.fields, lexful_keys())) -- a token cached
      env.fake:reset()
      -- Two requests leave with the same token; one gets a 401 (the token is
      -- fetched again), the other, later, an answer that echoes the old token.
      env.fake:behave("lexful", { script = {
        { status = 401, headers = JSON, body = '{"status":401,"message":"expired"}' },
        { delay = 0.3, status = 403, headers = JSON, body = '{"status":403,"message":"not for @BEARER@"}' },
      } })
      local errs = {}
      local report = users.bulk_update("lexful", { { id = v.id, fields = v.fields }, { id = v.id, fields = v.fields } },
        lexful_keys { concurrency = 2, retries = 0, on_result = function(_, _, e) errs[#errs + 1] = e end })
      assert.equal(1, report.failed)
      assert.equal("forbidden", report.failures[1].err.code)
      local sent = {}
      for _, r in ipairs(env.fake:requests()) do
        local t = (r.headers.authorization or ""):match("Bearer (%S+)")
        if t then sent[#sent + 1] = t end
      end
      assert.is_true(#sent >= 2)
      for _, t in ipairs(sent) do
        assert.is_false(contains(errs, t))
        assert.is_false(contains(report, t))
      end
    end)
  end)

  it("a file value is read raw, once: an __index cannot answer validation and encoding apart (finding 6)", function()
    local lp = env.valid.lancepilot
    local function with(avatar)
      local f = {}
      for k, x in pairs(lp.fields) do f[k] = x end
      f.avatar = avatar
      return f
    end
    local calls = 0
    local shifty = setmetatable({ data = env.PNG }, { __index = function(_, k)
      calls = calls + 1
      if k == "filename" then return 'a.png"\r\nContent-Type: text/html\r\n\r\nINJECTED' end
      if k == "content_type" then return calls > 2 and "text/html" or "image/png" end
    end })
    assert.is_table(users.update("lancepilot", lp.id, with(shifty), env.opts("lancepilot")))
    local body = env.fake:last().body
    assert.is_nil(body:find("INJECTED", 1, true))
    assert.matches('filename="upload"', body)
    assert.equal(0, calls)
    -- a table whose data exists only through __index is not a file
    local big = setmetatable({ filename = "a.png" }, { __index = function(_, k)
      if k == "data" then calls = calls + 1; return calls == 1 and env.PNG or env.PNG .. ("x"):rep(2 * 1024 * 1024) end
    end })
    local user, err = users.update("lancepilot", lp.id, with(big), env.opts("lancepilot"))
    assert.is_nil(user)
    assert.matches("must be a file", tostring(err))
    assert.equal(1, #env.fake:requests())
  end)

  it("a base URL with user information is refused, the token never sent (also seen)", function()
    local user, err = users.update("generic", "u1", { role = "x" },
      env.opts("generic", { base_url = "http://evil@" .. env.fake:base_url("generic"):gsub("^http://", "") }))
    assert.is_nil(user)
    assert.equal("config", err.kind)
    assert.same({}, env.fake:requests())
  end)

  it("a 2xx whose body is false is a success that `if not user` sees as one (finding 12)", function()
    env.fake:behave("generic", { respond = { status = 200, headers = JSON, body = "false" } })
    local user, res = users.update("generic", "u1", { role = "x" }, env.opts("generic"))
    assert.same({}, user)
    assert.equal(200, res.status)
    local report = users.bulk_update("generic", { { id = "u1", fields = { role = "x" } } }, env.opts("generic"))
    assert.equal(1, report.succeeded)
  end)

  it("failures stay small and bounded; on_result has them whole (finding 10)", function()
    env.fake:record(false)
    local body = '{"error":"validation_error","message":"no","details":{"role":["' .. ("x"):rep(2000) .. '"]},'
      .. '"padding":"' .. ("p"):rep(2000) .. '"}'
    env.fake:behave("generic", { respond = { status = 422, headers = JSON, body = body } })
    local list = {}
    for i = 1, 1500 do list[i] = { id = "u" .. i, fields = { role = "x" } } end
    local bodies = 0
    collectgarbage()
    local before = collectgarbage("count")
    local report = users.bulk_update("generic", list, env.opts("generic", { concurrency = 20,
      on_result = function(_, _, err) if err and err.body.padding then bodies = bodies + 1 end end }))
    collectgarbage()
    local grown = collectgarbage("count") - before
    assert.equal(1500, report.failed)
    assert.equal(1500, bodies)
    assert.equal(1000, #report.failures)
    assert.equal(500, report.failures_dropped)
    assert.is_nil(report.failures[1].err.body)
    assert.equal("validation_error", report.failures[1].err.code)
    -- each kept failure holds its fields (2 KB here) but no longer its body
    assert.is_true(grown < 4000, ("the report holds %.0f KB"):format(grown))
    env.fake:record(true)
  end)

  describe("a raising callback stops the run and loses nothing (finding 11)", function()
    local function items(n)
      local t = {}
      for i = 1, n do t[i] = { id = "u" .. i, fields = { role = "x" } } end
      return t
    end
    local function journal_lines(path) -- confirmed items, below the journal's header
      local n = 0
      for _ in (env.read(path) or ""):gmatch("\nok ") do n = n + 1 end
      return n
    end

    it("on_result: the report comes back with the error, every item taken is counted", function()
      local path = os.tmpname()
      local calls = 0
      local report = users.bulk_update("generic", items(20), env.opts("generic", { concurrency = 3, journal = path,
        on_result = function() calls = calls + 1; if calls == 2 then error("stop here") end end }))
      assert.matches("stop here", report.error)
      assert.equal(20, report.total) -- those not taken are counted as not attempted
      assert.is_true(report.not_attempted > 0)
      assert.equal(report.total, report.succeeded + report.failed + report.not_attempted)
      assert.equal(report.succeeded + report.failed, calls)
      assert.equal(report.succeeded, journal_lines(path))
      assert.equal(report.succeeded + report.failed, #env.fake:requests())
      os.remove(path)
    end)

    it("a progress callback or an id whose __tostring raises", function()
      local report = users.bulk_update("generic", items(20), env.opts("generic", { concurrency = 2,
        progress = function(done) if done == 3 then error("progress broke") end end }))
      assert.matches("progress broke", report.error)
      assert.equal(report.total, report.succeeded + report.failed + report.not_attempted)
      env.fake:reset()
      local path = os.tmpname()
      local lp = env.valid.lancepilot
      local list = {}
      for i = 1, 5 do list[i] = { id = { workspace = env.WORKSPACE, user = i }, fields = lp.fields } end
      setmetatable(list[2].id, { __tostring = function() error("no string for you") end })
      report = users.bulk_update("lancepilot", list, env.opts("lancepilot", { concurrency = 1, journal = path }))
      assert.matches("no string for you", report.error)
      assert.equal(report.total, report.succeeded + report.failed + report.not_attempted)
      os.remove(path)
    end)

    it("an iterator that raises", function()
      local i = 0
      local report = users.bulk_update("generic", function()
        i = i + 1
        if i == 4 then error("input broke") end
        return { id = "u" .. i, fields = { role = "x" } }
      end, env.opts("generic", { concurrency = 2 }))
      assert.matches("input broke", report.error)
      assert.equal(3, report.total)
      assert.equal(3, report.succeeded)
    end)
  end)
end)
