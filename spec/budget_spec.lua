-- One budget per account in plain Lua (issue 11): the options at the front
-- door, the local budget (users.update waits for its slot, a 429 pauses the
-- account), the whole-call deadline, and the Redis budget shared with
-- other processes (Debian's redis-server, started here): its rate, its
-- token, Redis stopped in the middle of a run and started again.
local users = require "users"
local core = require "users.core"
local env = require "spec.support.env"
local fake = require "spec.support.fake_providers"
local redis_server = require "spec.support.redis_server"
local budget = require "users.budget"

local SMALL = os.getenv("VALGRIND_LUA") ~= nil

local function raised(f)
  local ok, msg = pcall(f)
  assert.is_false(ok, "did not raise")
  assert.matches("budget_spec%.lua:%d+: bad argument", msg)
  return msg
end

local function items(n, prefix)
  local list = {}
  for i = 1, n do list[i] = { id = (prefix or "u") .. i, fields = { role = "r" } } end
  return list
end

local function most_per_second(reqs)
  local per, most = {}, 0
  for _, r in ipairs(reqs) do
    local s = math.floor(r.at)
    per[s] = (per[s] or 0) + 1
    if per[s] > most then most = per[s] end
  end
  return most
end

-- Runs Lua code in another process, in the background; returns a function
-- that waits for it and gives its output.
local function spawn(code)
  local script, out = os.tmpname(), os.tmpname()
  env.write(script, 'package.path = "lua/?.lua;" .. package.path\n'
    .. ('package.cpath = %q .. ";" .. package.cpath\n'):format(package.cpath:match("^[^;]+")) .. code)
  os.execute(("%s %s > %s 2>&1; echo '#done' >> %s &"):format(env.lua_bin(), script, out, out))
  return function()
    for _ = 1, 600 do
      local text = env.read(out) or ""
      if text:find("#done", 1, true) then
        os.remove(script) os.remove(out)
        return text
      end
      core.sleep(0.05)
    end
    error("the child did not end")
  end
end

describe("budget", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)
  before_each(function() env.fake:reset() end)

  local v = env.valid.lexful
  local function calls(opts)
    return {
      function() users.update("lexful", v.id, v.fields, env.opts("lexful", opts)) end,
      function() users.bulk_update("lexful", { { id = v.id, fields = v.fields } }, env.opts("lexful", opts)) end,
      function() users.new("lexful", opts) end,
      function() users.configure("lexful", opts) end,
    }
  end

  describe("options", function()
    it("rate, burst, budget, budget_fallback and deadline are checked at the front door", function()
      local bad = {
        { rate = 0 }, { rate = -1 }, { rate = 0 / 0 }, { rate = math.huge }, { rate = "10" },
        { burst = 0 }, { burst = 1.5 }, { budget = "memcached://x" }, { budget = "redis://" },
        { budget = "redis://h:99999" }, { budget = "redis://h:1/x" }, { budget = "redis://h:1?what=1" },
        { budget = {} }, { budget = { shared_dict = "users_budget", other = 1 } }, { budget = 1 },
        { budget = { shared_dict = "users_budget" } }, -- outside nginx
        { budget_fallback = "maybe" }, { deadline = 0 }, { deadline = -1 }, { deadline = 1e9 },
      }
      for _, opts in ipairs(bad) do
        for _, call in ipairs(calls(opts)) do raised(call) end
      end
      assert.same({}, env.fake:requests())
      assert.matches("inside nginx only", raised(calls({ budget = { shared_dict = "x" } })[1]))
    end)

    it("prepare takes them and ignores them", function()
      local req = assert(users.prepare("lexful", v.id, v.fields, env.opts("lexful", {
        rate = 1, budget = { shared_dict = "users_budget" }, budget_fallback = "local", deadline = 1 })))
      assert.equal("PATCH", req.method)
      for _, ok in ipairs { "local", "redis://127.0.0.1:6379", "redis://:pw@[::1]:6380/2?tokens=local" } do
        assert.is_table(users.prepare("lexful", v.id, v.fields, env.opts("lexful", { budget = ok })))
      end
    end)
  end)

  describe("the local budget", function()
    it("makes users.update wait for its slot: never more than `rate` a second", function()
      local n, rate = SMALL and 6 or 12, 10
      local t0 = core.now()
      for i = 1, n do
        assert.is_table(users.update("generic", "u" .. i, { role = "x" }, env.opts("generic", { rate = rate })))
      end
      local took = core.now() - t0
      assert.is_true(took >= (n - 1) * 1.05 / rate * 0.97, ("%d updates took %.2f s"):format(n, took))
      assert.is_true(took < (n - 1) * 1.05 / rate * 2 + 5) -- not held far beyond its slots
      assert.is_true(most_per_second(env.fake:requests()) <= rate)
    end)

    it("keeps each account's budget to itself: another token is another account", function()
      local t0 = core.now()
      for i = 1, 4 do
        for _, token in ipairs { "test-token", "test-token-2" } do
          local o = env.opts("generic", { rate = 2, token = token, base_url = env.fake:base_url("generic") .. "////" })
          users.update("generic", "u" .. i, { role = "x" }, o) -- the second token is refused: it was sent
        end
      end
      local took = core.now() - t0
      -- 3 slots each; one shared budget would take 7: the bound is between
      assert.is_true(took >= 3 * 1.05 / 2 * 0.97 and took < 5 * 1.05 / 2, ("took %.2f s"):format(took))
      assert.equal(8, #env.fake:requests())
    end)

    it("fails at once as rate_limited when the slot is past the deadline, sending nothing", function()
      -- another base URL (as given) is another account
      local o = env.opts("generic", { rate = 1, base_url = env.fake:base_url("generic") .. "/" })
      assert.is_table(users.update("generic", "u1", { role = "x" }, o))
      o.deadline = 0.5
      local t0 = core.now()
      local user, err = users.update("generic", "u2", { role = "x" }, o)
      assert.is_nil(user)
      assert.is_true(core.now() - t0 < 0.45) -- before the deadline itself
      assert.equal("budget", err.kind)
      assert.equal("rate_limited", err.code)
      assert.is_true(err.retryable)
      assert.is_true(err.retry_after > 0.5 and err.retry_after <= 1.05, tostring(err.retry_after))
      assert.matches("no budget slot within the deadline", tostring(err))
      assert.equal(1, #env.fake:requests())
    end)

    it("a 429 pauses the account for the next calls, as long as Retry-After says", function()
      env.fake:behave("generic", { script = { { status = 429, body = "{}", headers = { ["Retry-After"] = "1" } } } })
      local o = env.opts("generic", { budget = "local", base_url = env.fake:base_url("generic") .. "//" })
      local _, err = users.update("generic", "u1", { role = "x" }, o)
      assert.equal(429, err.status)
      local t0 = core.now()
      local _, early = users.update("generic", "u2", { role = "x" }, env.opts("generic", {
        budget = "local", base_url = o.base_url, deadline = 0.3 }))
      assert.equal("rate_limited", early.code)
      assert.matches("paused", early.message)
      assert.is_table(users.update("generic", "u3", { role = "x" }, o))
      local took = core.now() - t0
      assert.is_true(took >= 0.9, ("the next call left after %.2f s"):format(took))
      assert.equal(2, #env.fake:requests())
    end)

    it("without rate or budget nothing is kept between calls, as before", function()
      env.fake:behave("generic", { script = { { status = 429, body = "{}", headers = { ["Retry-After"] = "5" } } } })
      local o = env.opts("generic", { base_url = env.fake:base_url("generic") .. "///" })
      local _, err = users.update("generic", "u1", { role = "x" }, o)
      assert.equal(429, err.status)
      local t0 = core.now()
      assert.is_table(users.update("generic", "u2", { role = "x" }, o))
      assert.is_true(core.now() - t0 < 2.5) -- not the 5 s Retry-After
    end)
  end)

  describe("the deadline", function()
    it("bounds the wait for an answer, and says so", function()
      env.fake:behave("generic", { delay = 5 })
      local t0 = core.now()
      local user, err = users.update("generic", "u1", { role = "x" }, env.opts("generic", { deadline = 0.5 }))
      local took = core.now() - t0
      assert.is_nil(user)
      assert.equal("timeout", err.code)
      assert.equal("answer", err.waiting_for)
      assert.matches("deadline %(0%.5 s%) ran out while waiting for the provider's answer", err.message)
      assert.is_true(took >= 0.45 and took < 2.5, ("took %.2f s"):format(took)) -- the answer takes 5 s
    end)

    it("bounds retries and back-offs: a retry past it is not waited for", function()
      env.fake:behave("generic", { respond = { status = 503, body = "{}" } })
      local t0 = core.now()
      local _, err = users.update("generic", "u1", { role = "x" }, env.opts("generic", {
        retries = 5, backoff = 0.4, deadline = 1 }))
      local took = core.now() - t0 -- the retry it did not wait for was due at 1.7 s or later
      assert.is_true(took < 1.6, ("took %.2f s"):format(took))
      assert.equal("timeout", err.code)
      assert.equal("retry", err.waiting_for)
      assert.matches("the last error: HTTP 503", err.message)
      assert.is_true(#env.fake:requests() >= 2)
    end)

    it("leaves calls that fit alone", function()
      env.fake:behave("generic", { script = { { status = 503, body = "{}" } } })
      local user, res = users.update("generic", "u1", { role = "x" }, env.opts("generic", {
        retries = 2, backoff = 0.05, deadline = 5, rate = 50 }))
      assert.is_table(user, res and tostring(res))
      assert.equal(2, res.attempts)
    end)

    it("counts per item in a bulk run", function()
      env.fake:behave("generic", { delay = 0.6, times = 2 })
      local report = users.bulk_update("generic", items(6), env.opts("generic", {
        concurrency = 2, deadline = 0.4, retries = 0 }))
      assert.equal(6, report.total)
      assert.equal(4, report.succeeded)
      assert.equal(2, report.failed)
      for _, f in ipairs(report.failures) do assert.equal("timeout", f.err.code) end
    end)
  end)

  describe("in Redis", function()
    local redis
    setup(function() redis = redis_server.start() end)
    teardown(function() if redis then redis:close() end end)

    it("one rate for every process, counted per second by the provider", function()
      local per, rate = SMALL and 8 or 20, 20
      local code = ([[
        local users = require "users"
        local list = {}
        for i = 1, %d do list[i] = { id = "child" .. i, fields = { role = "x" } } end
        local r = users.bulk_update("generic", list, { base_url = %q, token = "test-token",
                                    rate = %d, budget = %q, concurrency = 4 })
        print("succeeded " .. r.succeeded)
      ]]):format(per, env.fake:base_url("generic"), rate, redis.url)
      local t0 = core.now()
      local child = spawn(code)
      local report = users.bulk_update("generic", items(per, "parent"), env.opts("generic", {
        rate = rate, budget = redis.url, concurrency = 4 }))
      local out = child()
      local took = core.now() - t0
      assert.equal(per, report.succeeded)
      assert.matches("succeeded " .. per, out)
      local reqs = env.fake:requests()
      assert.equal(2 * per, #reqs)
      assert.is_true(most_per_second(reqs) <= rate)
      assert.is_true(took >= (2 * per - 1) * 1.05 / rate * 0.95, ("took %.2f s"):format(took))
      assert.matches("^lua%-users:budget:generic:", redis:cli("KEYS 'lua-users:budget:*'"))
    end)

    it("one token for every process; tokens=local keeps them apart", function()
      local function child(url)
        return spawn(([[
          local users = require "users"
          local u, err = users.update("lexful", %q, { role = "admin" }, { base_url = %q,
            account_id = %q, key_id = "test-key-id", key_secret = "test-key-secret", budget = %q })
          print(u and "ok" or tostring(err))
        ]]):format(v.id, env.fake:base_url("lexful"), env.ACCOUNT, url))
      end
      local key = { account_id = env.ACCOUNT, key_id = fake.LEXFUL.key_id, key_secret = fake.LEXFUL.key_secret }
      local o = env.opts("lexful", key)
      o.token, o.budget = nil, redis.url
      assert.is_table(users.update("lexful", v.id, v.fields, o))
      assert.matches("ok", child(redis.url)())
      assert.matches("ok", child(redis.url)())
      assert.equal(1, env.fake:stats().tokens_issued)
      -- The token is in Redis, under a key without the secret.
      local keys = redis:cli("KEYS 'lua-users:token:*'")
      assert.matches("^lua%-users:token:lexful:", keys)
      assert.is_nil(keys:find("test-key-secret", 1, true))
      assert.matches("ok", child(redis.url .. "?tokens=local")())
      assert.equal(2, env.fake:stats().tokens_issued)
      -- A 401 (the provider forgot its tokens): one refresh for everyone.
      env.fake:reset()
      assert.matches("ok", child(redis.url)())
      assert.is_table(users.update("lexful", v.id, v.fields, o))
      assert.equal(1, env.fake:stats().tokens_issued)
    end)

    it("Redis stopped in the middle of a run and started again: no hang, no item lost", function()
      local n = SMALL and 20 or 40
      local stopped, restarted
      local report = users.bulk_update("generic", items(n), env.opts("generic", {
        rate = 40, budget = redis.url, concurrency = 4, backoff = 0.2, retries = 4,
        on_result = function()
          local done = #env.fake:requests()
          if not stopped and done >= n / 4 then stopped = core.now() redis:stop() end
          if stopped and not restarted and core.now() - stopped > 0.5 then restarted = true redis:start() end
        end }))
      assert.is_true(stopped ~= nil and restarted)
      assert.equal(n, report.total)
      assert.equal(n, report.succeeded + report.failed)
      assert.is_true(report.retried > 0)
      for _, f in ipairs(report.failures) do assert.equal("budget_unavailable", f.err.code) end
      assert.is_true(report.elapsed < 10)
      assert.equal(report.succeeded, #env.fake:requests())
    end)

    it("with budget_fallback = \"local\" the run goes on, with a warning, and the shared budget resumes", function()
      local n, rate = SMALL and 30 or 40, 20
      local warnings, stopped, started = {}, nil, nil
      local warn = budget.warn
      budget.warn = function(msg) warnings[#warnings + 1] = msg end
      local report = users.bulk_update("generic", items(n), env.opts("generic", {
        rate = rate, budget = redis.url, budget_fallback = "local", concurrency = 4, retries = 0,
        on_result = function()
          local done = #env.fake:requests()
          if not stopped and done >= n / 4 then stopped = true redis:stop() end
          if stopped and not started and done >= n / 4 + 2 then started = true redis:start() end
        end }))
      budget.warn = warn
      assert.equal(n, report.succeeded)
      assert.equal(n, #env.fake:requests())
      -- Known limit: a Redis restarted empty knows nothing of the slots the
      -- local budget gave meanwhile, and the hand-over back has been seen to
      -- let 2 more than the ceiling into one second (the issue asks here for
      -- no hang and no lost item; the ceiling holds everywhere else).
      local most = most_per_second(env.fake:requests())
      assert.is_true(most <= rate + 3, most .. " in one second")
      assert.matches("a local budget stands in", warnings[1] or "")
      assert.matches("shared budget resumes", warnings[2] or "")
    end)

    it("a Redis that is not there fails the call at once, without its password", function()
      local t0 = core.now()
      local user, err = users.update("generic", "u1", { role = "x" }, env.opts("generic", {
        budget = "redis://:hunter2@127.0.0.1:1/0", rate = 5 }))
      assert.is_nil(user)
      assert.is_true(core.now() - t0 < 5)
      assert.equal("budget", err.kind)
      assert.equal("budget_unavailable", err.code)
      assert.is_true(err.retryable)
      assert.matches("redis://127.0.0.1:1/0", err.message)
      assert.is_nil(tostring(err):find("hunter2", 1, true))
      assert.same({}, env.fake:requests())
    end)
  end)
end)
