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
local hostile_redis = require "spec.support.hostile_redis"
local budget = require "users.budget"

local SMALL = os.getenv("VALGRIND_LUA") ~= nil
local q = require("spec.support.proc").q

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

-- The most requests any window of `width` seconds holds, of sorted times.
local function most_within(times, width)
  local most, j = 0, 1
  for i = 1, #times do
    while times[i] - times[j] >= width do j = j + 1 end
    if i - j + 1 > most then most = i - j + 1 end
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
      local n, rate, sent = SMALL and 6 or 12, 10, {}
      local t0 = core.now()
      for i = 1, n do
        assert.is_table(users.update("generic", "u" .. i, { role = "x" }, env.opts("generic", { rate = rate,
          on_event = function(e) if e.name == "request" then sent[#sent + 1] = e.time end end })))
      end
      local took = core.now() - t0
      assert.is_true(took >= (n - 1) * 1.05 / rate * 0.97, ("%d updates took %.2f s"):format(n, took))
      assert.equal(n, #sent)
      assert.is_true(most_within(sent, 1) <= rate) -- as sent (arrivals: delivery's delay has no bound)
      assert.equal(n, #env.fake:requests())
    end)

    it("keeps each account's budget to itself: another token is another account", function()
      -- One slot each 10.5 s: the second token's first call, right after the
      -- first's, leaves at once only on a budget of its own; the next call
      -- of each is refused (its slot is past the deadline), however slow
      -- the machine.
      local function call(i, token)
        local o = env.opts("generic", { rate = 0.1, deadline = 5, token = token,
                                        base_url = env.fake:base_url("generic") .. "/////" })
        local user, err = users.update("generic", "u" .. i, { role = "x" }, o) -- the second token is refused: it was sent
        return not user and err
      end
      assert.is_false(call(1, "test-token"))
      assert.equal(401, call(1, "test-token-2").status)
      assert.equal("rate_limited", call(2, "test-token").code)
      assert.equal("rate_limited", call(2, "test-token-2").code)
      assert.equal(2, #env.fake:requests())
    end)

    it("fails at once as rate_limited when the slot is past the deadline, sending nothing", function()
      -- another base URL (as given) is another account
      local o = env.opts("generic", { rate = 1, base_url = env.fake:base_url("generic") .. "/" })
      assert.is_table(users.update("generic", "u1", { role = "x" }, o))
      o.deadline = 0.5
      local user, err = users.update("generic", "u2", { role = "x" }, o)
      assert.is_nil(user)
      -- refused, not waited for: a wait to the deadline ends as a timeout
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
      o.deadline = 2.5 -- a pause kept (5 s) would refuse the next call at once: rate_limited
      assert.is_table(users.update("generic", "u2", { role = "x" }, o))
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
      local retries = 0
      local _, err = users.update("generic", "u1", { role = "x" }, env.opts("generic", {
        retries = 5, backoff = 0.4, deadline = 1,
        on_event = function(e) if e.name == "retry" then retries = retries + 1 end end }))
      -- each retry scheduled was sent; the one past the deadline was not
      -- scheduled (a wait for it would have announced it)
      assert.equal(#env.fake:requests() - 1, retries)
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

    it("bounds a bulk item's wait for its budget slot, as update's", function()
      -- rate 1: slots 0, 1.05, 2.1, 3.15 s from the first. With a deadline of
      -- 1.6 s the first two are within it (the second with 0.55 s for its
      -- answer), the others beyond it by 0.5 s at least, however late an
      -- item starts on a loaded machine: refused at once, never sent.
      local report = users.bulk_update("generic", items(4), env.opts("generic", {
        rate = 1, concurrency = 4, deadline = 1.6, base_url = env.fake:base_url("generic") .. "////" }))
      assert.equal(4, report.total)
      assert.equal(2, report.succeeded)
      assert.equal(2, report.failed)
      for _, f in ipairs(report.failures) do
        assert.equal("rate_limited", f.err.code)
        assert.matches("no budget slot within the deadline", f.err.message)
        assert.is_true(f.err.retry_after > 1.6, tostring(f.err.retry_after))
      end
      assert.equal(2, #env.fake:requests())
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

    it("one rate for every process, as they send and as the provider counts", function()
      local per, rate = SMALL and 8 or 20, 20
      local code = ([[
        local users = require "users"
        local list = {}
        for i = 1, %d do list[i] = { id = "child" .. i, fields = { role = "x" } } end
        local r = users.bulk_update("generic", list, { base_url = %q, token = "test-token",
                                    rate = %d, budget = %q, concurrency = 4,
                                    on_event = function(e) if e.name == "request" then print("sent " .. e.time) end end })
        print("succeeded " .. r.succeeded)
      ]]):format(per, env.fake:base_url("generic"), rate, redis.url)
      local t0 = core.now()
      local child = spawn(code)
      local sent = {}
      local report = users.bulk_update("generic", items(per, "parent"), env.opts("generic", {
        rate = rate, budget = redis.url, concurrency = 4,
        on_event = function(e) if e.name == "request" then sent[#sent + 1] = e.time end end }))
      local out = child()
      local took = core.now() - t0
      assert.equal(per, report.succeeded)
      assert.matches("succeeded " .. per, out)
      for t in out:gmatch("sent (%S+)") do sent[#sent + 1] = tonumber(t) end -- one clock: CLOCK_MONOTONIC
      table.sort(sent)
      assert.equal(2 * per, #sent)
      assert.is_true(most_within(sent, 1) <= rate, most_within(sent, 1) .. " sent in one second")
      local reqs = env.fake:requests()
      assert.equal(2 * per, #reqs)
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

    -- A bulk run of n items (or of an item source) with options o,
    -- abandoned after `guard` seconds (a run that stalls fails here, rather
    -- than hangs): its report.
    local function guarded(n, o, guard)
      local t0, run = core.now(), {}
      for k, val in pairs(o) do run[k] = val end
      run.should_stop = function() return core.now() - t0 > guard and "abandon" end
      return users.bulk_update("generic", type(n) == "number" and items(n) or n, run)
    end

    -- Redis is stopped and started again on what the client saw, never on
    -- the clock or the server's count: started as soon as the store has
    -- been found gone (else Redis could be back, empty, before any call
    -- noticed; on a loaded machine on_result lags the server's count).
    it("Redis stopped in the middle of a run and started again: no hang, no item lost", function()
      local n, results, unavailable = SMALL and 20 or 40, 0, 0
      local stopped, restarted, start_err
      local report = guarded(n, env.opts("generic", {
        rate = 40, budget = redis.url, concurrency = 4, backoff = 0.2, retries = 4,
        on_event = function(e)
          if e.name == "retry" and e["error.type"] == "budget_unavailable" then
            unavailable = unavailable + 1
            if unavailable == 2 then restarted, start_err = pcall(redis.start, redis) end
          end
        end,
        on_result = function()
          results = results + 1
          if not stopped and results >= n / 4 then stopped = true redis:stop() end
        end }), 120) -- no item waits on the store gone: a hang only is abandoned ("aborted")
      assert.is_true(stopped and restarted, tostring(start_err))
      assert.equal(n, report.total)
      assert.equal(n, report.succeeded + report.failed)
      assert.is_true(report.retried > 0)
      for _, f in ipairs(report.failures) do assert.equal("budget_unavailable", f.err.code) end
      assert.equal(report.succeeded, #env.fake:requests())
      -- every retry comes after the store was tried again (a second later):
      -- the items went on with the Redis started again
      assert.is_true(report.succeeded > n / 4, report.succeeded .. " succeeded")
      assert.matches("^lua%-users:budget:generic:", redis:cli("KEYS 'lua-users:budget:*'"))
    end)

    it("with budget_fallback = \"local\" the run goes on, with a warning, and the shared budget resumes", function()
      local rate, results, produced = 20, 0, 0
      local warnings, stopped, started, sent, start_err = {}, nil, nil, {}, nil
      local local_sent, after_resume = 0, 0
      -- Items until the store has answered again (tried a second after it
      -- went) and four more went through it; 400 at most, for a run where
      -- it never does.
      local function source()
        if after_resume >= 4 or produced >= 400 then return nil end
        produced = produced + 1
        return { id = "u" .. produced, fields = { role = "r" } }
      end
      local warn = budget.warn
      budget.warn = function(msg) warnings[#warnings + 1] = msg end
      local report = users.bulk_update("generic", source, env.opts("generic", {
        rate = rate, budget = redis.url, budget_fallback = "local", concurrency = 4, retries = 0,
        on_event = function(e)
          if e.name ~= "request" then return end
          sent[#sent + 1] = e.time
          if #warnings == 1 then local_sent = local_sent + 1 end
          if #warnings >= 2 then after_resume = after_resume + 1 end
        end,
        on_result = function()
          results = results + 1
          if not stopped and results >= 8 then stopped = true redis:stop() end
          -- back once two requests left under the local budget
          if stopped and not started and local_sent >= 2 then started, start_err = pcall(redis.start, redis) end
        end }))
      budget.warn = warn
      assert.is_true(started, tostring(start_err))
      assert.equal(produced, report.succeeded)
      assert.equal(produced, #env.fake:requests())
      assert.matches("a local budget stands in", warnings[1] or "")
      assert.matches("shared budget resumes", warnings[2] or "")
      assert.is_true(local_sent >= 2 and after_resume >= 4, local_sent .. " local, " .. after_resume .. " after")
      -- The ceiling holds across both hand-overs, as the client sent: the
      -- local budget starts after the store's last slot, and the store,
      -- back (and empty), starts after the local budget's last, with no
      -- burst.
      table.sort(sent)
      assert.is_true(most_within(sent, 1) <= rate, most_within(sent, 1) .. " sent in one second")
      assert.equal(produced, #sent)
      -- The shared budget is used again: the Redis started empty holds the
      -- account, its next slot where the run's last left it.
      local key = redis:cli("KEYS 'lua-users:budget:*'")
      assert.matches("^lua%-users:budget:generic:", key)
      local secs, us = redis:cli("TIME"):match("(%d+)%s+(%d+)")
      local ahead = (tonumber(redis:cli("HGET " .. q(key) .. " t")) - (secs * 1e6 + us)) / 1e6
      assert.is_true(ahead > -5 and ahead < 1.05 / rate + 0.01, ("its next slot is %.3f s from now"):format(ahead))
    end)

    -- Writes the account's hash in Redis as a store in trouble would hold it
    -- (seconds from Redis's now): t, the next slot; p, a pause's end; u, the
    -- last write. Returns the options of that account.
    local function hold(t, p, u)
      redis:cli("FLUSHALL")
      local o = env.opts("generic", { rate = 20, budget = redis.url, base_url = env.fake:base_url("generic") .. "///" })
      assert.is_table(users.update("generic", "first", { role = "x" }, o))
      local key = redis:cli("KEYS 'lua-users:budget:*'")
      local secs, us = redis:cli("TIME"):match("(%d+)%s+(%d+)")
      local now = secs * 1e6 + us
      redis:cli(("HSET %s t %.0f p %.0f u %.0f"):format(q(key), now + t * 1e6, now + p * 1e6, now + u * 1e6))
      env.fake:reset()
      return o
    end

    it("Redis's clock stepped back an hour: the next slot keeps its distance from the last write", function()
      local o = hold(3600 + 0.05, 0, 3600) -- written 'an hour from now': the clock went back since
      local report = guarded(5, o, 60) -- a stalled run would be abandoned, not succeed
      assert.equal(5, report.succeeded)
    end)

    it("a slot an hour away is refused at once in a bulk run too: its wait is bounded by max_retry_after", function()
      local o = hold(3600, 3600, 0) -- another host's pause, an hour long
      local report = guarded(3, o, 60) -- a run that waited would be abandoned: "aborted"
      assert.equal(3, report.failed)
      for _, f in ipairs(report.failures) do
        assert.equal("rate_limited", f.err.code)
        assert.matches("no budget slot within the max_retry_after: the next is 3%d+%.%d+ s away", f.err.message)
      end
      o.max_retry_after = 7200 -- a caller who allows it waits (here, until the guard abandons the run)
      report = guarded(1, o, 1)
      assert.equal("aborted", report.failures[1].err.code)
      assert.same({}, env.fake:requests())
    end)

    it("an absurd answer from the store is the store unavailable, never a wait", function()
      for _, reply in ipairs { ":-5000000000000", ":5000000000000" } do -- 58 days: not taken, and taken
        local liar = hostile_redis.start(reply, env.lua_bin())
        local o = env.opts("generic", { rate = 5, budget = liar.url, retries = 0 })
        local report = guarded(2, o, 60) -- a run that waited would be abandoned: "aborted"
        assert.equal(2, report.failed, reply)
        for _, f in ipairs(report.failures) do
          assert.equal("budget_unavailable", f.err.code, reply)
          assert.matches("it answered an absurd wait", f.err.message)
        end
        local warnings, warn = {}, budget.warn
        budget.warn = function(msg) warnings[#warnings + 1] = msg end
        o.budget_fallback = "local"
        report = guarded(2, o, 60)
        budget.warn = warn
        assert.equal(2, report.succeeded, reply)
        assert.matches("absurd wait", warnings[1] or "")
        liar:stop()
      end
    end)

    it("a store that never answers holds a call no longer than its timeout, then is unavailable", function()
      local mute = hostile_redis.start("silent", env.lua_bin())
      local t0 = core.now()
      local user, err = users.update("generic", "u1", { role = "x" }, env.opts("generic", {
        rate = 5, budget = mute.url, timeout = 600 }))
      local took = core.now() - t0
      assert.is_nil(user)
      assert.equal("budget_unavailable", err.code)
      assert.matches("cannot be used %(.*timeout", err.message)
      assert.is_true(took < 300, ("gave up after %.2f s"):format(took)) -- the store's 0.5 s, not the call's 600
      assert.same({}, env.fake:requests())
      local warnings, warn = {}, budget.warn
      budget.warn = function(msg) warnings[#warnings + 1] = msg end
      local report = users.bulk_update("generic", items(2), env.opts("generic", {
        rate = 5, budget = mute.url, budget_fallback = "local" }))
      budget.warn = warn
      assert.equal(2, report.succeeded) -- the local budget stood in
      assert.matches("cannot be used %(.*timeout.*a local budget stands in", warnings[1] or "")
      mute:stop()
    end)

    it("a Redis that is not there fails the call at once, without its password", function()
      local t0 = core.now()
      local user, err = users.update("generic", "u1", { role = "x" }, env.opts("generic", {
        budget = "redis://:hunter2@127.0.0.1:1/0", rate = 5, timeout = 600 }))
      assert.is_nil(user)
      assert.is_true(core.now() - t0 < 300) -- refused, not the call's 600 s
      assert.equal("budget", err.kind)
      assert.equal("budget_unavailable", err.code)
      assert.is_true(err.retryable)
      assert.matches("redis://127.0.0.1:1/0", err.message)
      assert.is_nil(tostring(err):find("hunter2", 1, true))
      assert.same({}, env.fake:requests())
    end)
  end)
end)
