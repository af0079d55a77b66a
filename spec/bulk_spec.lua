-- users.bulk_update against the loopback fakes: concurrency, the rate
-- ceiling as the server counts it, retries, Retry-After, the run-wide slow
-- down on 429, streaming, the journal after SIGKILL, and the report.
local users = require "users"
local core = require "users.core"
local env = require "spec.support.env"

local function items(n, prefix)
  local list = {}
  for i = 1, n do list[i] = { id = (prefix or "u") .. i, fields = { role = "r" .. i } } end
  return list
end

local function opts(extra)
  local o = env.opts("generic", { backoff = 0.05 })
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local function count_distinct(list, key)
  local seen, n = {}, 0
  for _, r in ipairs(list) do
    local k = key(r)
    if not seen[k] then seen[k] = true; n = n + 1 end
  end
  return n, seen
end

local function id_of(req) return req.uri:match("/v1/users/([^/?]+)$") end

describe("bulk_update", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)
  before_each(function() env.fake:reset() end)

  it("sends every item once over at most `concurrency` connections", function()
    local report = users.bulk_update("generic", items(200), opts { concurrency = 5 })
    assert.equal(200, report.total)
    assert.equal(200, report.succeeded)
    assert.equal(0, report.failed + report.skipped + report.retried)
    assert.is_number(report.elapsed)
    local reqs = env.fake:requests()
    assert.equal(200, #reqs)
    assert.equal(200, (count_distinct(reqs, id_of)))
    assert.is_true(count_distinct(reqs, function(r) return r.conn end) <= 5)
  end)

  -- n items at `concurrency` to a server holding each `delay`: all succeed,
  -- in n / concurrency rounds at least, and the first `concurrency` were in
  -- flight together: the last of them arrived before the fake could answer
  -- the first (no wall-clock upper bound: a loaded machine only slows it).
  local VALGRIND = os.getenv("VALGRIND_LUA") ~= nil
  local function rounds(n, concurrency, delay)
    env.fake:behave("generic", { delay = delay })
    local t0 = core.now()
    -- a timeout only a hang reaches: the suite's 5 s is below valgrind's delay
    local report = users.bulk_update("generic", items(n), opts { concurrency = concurrency, timeout = delay + 120 })
    local elapsed, want = core.now() - t0, n / concurrency * delay
    assert.equal(n, report.succeeded)
    assert.is_true(elapsed >= want * 0.95, ("%d rounds of %.1f s took %.2f s"):format(math.floor(n / concurrency), delay, elapsed))
    local at = {}
    for i, r in ipairs(env.fake:requests()) do at[i] = r.at end
    table.sort(at)
    local span = at[concurrency] - at[1]
    assert.is_true(span < delay, ("the first %d arrived over %.2f s"):format(concurrency, span))
  end

  it("runs 150 in flight at once, more sockets than one poll() batch once took", function()
    rounds(300, 150, VALGRIND and 6 or 1) -- valgrind: 150 transfers set up at ~50x the cost
    assert.is_true(count_distinct(env.fake:requests(), function(r) return r.conn end) <= 150)
  end)

  it("keeps `concurrency` requests in flight, no more", function()
    local delay = VALGRIND and 1 or 0.2 -- valgrind: four transfers set up within one delay
    rounds(VALGRIND and 12 or 20, 4, delay)
    -- No more than 4 arrived in any span shorter than the delay: a fifth
    -- leaves only once one of the four is answered, which the fake holds.
    local reqs = env.fake:requests()
    for i = 1, #reqs do
      local n = 0
      for j = 1, #reqs do
        if reqs[j].at >= reqs[i].at and reqs[j].at < reqs[i].at + delay - 0.01 then n = n + 1 end
      end
      assert.is_true(n <= 4, n .. " requests within " .. (delay - 0.01) .. " s")
    end
  end)

  -- What the client sent, as its own request events say (the moment the
  -- lifecycle let each leave: a loaded machine cannot blur it), and what the
  -- server received: sorted times of each.
  local function paced(n, rate, extra)
    local sent = {}
    local o = opts { concurrency = 10, rate = rate,
                     on_event = function(e) if e.name == "request" then sent[#sent + 1] = e.time end end }
    for k, v in pairs(extra or {}) do o[k] = v end
    local report = users.bulk_update("generic", items(n), o)
    assert.equal(n, report.succeeded)
    local arrived = {}
    for i, r in ipairs(env.fake:requests()) do arrived[i] = r.at end
    table.sort(sent)
    table.sort(arrived)
    assert.equal(n, #sent)
    assert.equal(n, #arrived)
    return sent, arrived
  end

  -- The client: any m + 1 requests in a row left over at least m intervals,
  -- less what a slot may be left late (budget.lua's gate: a quarter
  -- interval at most; later, its slot is void and it takes another) and
  -- 10 ms for the moment between the budget's decision and the lifecycle's
  -- clock: rate + 1 in a row span more than a second (1.05 - 0.0105 - 0.01),
  -- so never more than `rate` in any second. The server's arrival times are
  -- not checked against a window: how late delivery makes an arrival on a
  -- loaded machine has no bound, so such a check could fail from timing
  -- alone; the server counts what it got instead.
  local function within_rate(sent, arrived, rate)
    local interval = 1.05 / rate
    local late = math.min(0.05, interval / 4) + 0.01
    for i = 1, #sent do
      for m = 1, math.min(rate, #sent - i) do
        local span = sent[i + m] - sent[i]
        assert.is_true(span >= m * interval - late,
          ("the client sent %d requests within %.3f s (at least %.3f)"):format(m + 1, span, m * interval - late))
      end
    end
    for i = rate + 1, #sent do assert.is_true(sent[i] - sent[i - rate] >= 1) end
    assert.equal(#sent, #arrived)
  end

  it("never exceeds the rate: as the client sends, and as the server receives", function()
    local t0 = core.now()
    local sent, arrived = paced(75, 25)
    assert.is_true(core.now() - t0 >= 74 / 25 * 0.98)
    within_rate(sent, arrived, 25)
  end)

  it("never exceeds the rate after the run stalls: slots that came meanwhile are not left as if on time", function()
    local stalled = false
    local sent, arrived = paced(60, 25, { on_result = function(_, _, _)
      if not stalled and #env.fake:requests() >= 20 then stalled = true core.sleep(0.3) end -- seven slots go by
    end })
    assert.is_true(stalled)
    within_rate(sent, arrived, 25)
  end)

  it("retries 5xx and resets, then succeeds", function()
    env.fake:behave("generic", { script = {
      { drop = true }, { status = 500, body = "{}" }, { status = 503, body = "{}" } } })
    local report = users.bulk_update("generic", items(10), opts { concurrency = 1, retries = 3 })
    assert.equal(10, report.succeeded)
    assert.equal(3, report.retried)
    assert.equal(13, #env.fake:requests())
  end)

  it("gives up after `retries`, and never retries a 4xx other than 429", function()
    env.fake:behave("generic", { respond = { status = 500, body = "{}" } })
    local report = users.bulk_update("generic", items(1), opts { retries = 2 })
    assert.equal(1, report.failed)
    local f = report.failures[1]
    assert.equal(1, f.index)
    assert.equal("u1", f.id)
    assert.equal("server_error", f.err.code)
    assert.equal(3, f.err.attempts)
    assert.equal(2, report.retried)
    assert.equal(3, #env.fake:requests())

    env.fake:reset()
    local list = items(2)
    list[2] = { id = "missing", fields = { role = "x" } }
    report = users.bulk_update("generic", list, opts { retries = 3 })
    assert.equal(1, report.succeeded)
    assert.equal(1, report.failed)
    assert.equal(0, report.retried)
    assert.equal("not_found", report.failures[1].err.code)
    assert.equal(2, report.failures[1].index)
    assert.equal(2, #env.fake:requests())
  end)

  local function pause_after_429(retry_after)
    env.fake:behave("generic", { script = {
      { status = 429, body = "{}", headers = { ["Retry-After"] = retry_after } } } })
    local report = users.bulk_update("generic", items(12), opts { concurrency = 3 })
    assert.equal(12, report.succeeded)
    assert.equal(1, report.retried)
    local reqs = env.fake:requests()
    table.sort(reqs, function(a, b) return a.at < b.at end)
    local t429 = reqs[1].at
    -- The whole run paused: besides the two already in flight, nothing was
    -- sent until Retry-After had passed.
    local early = 0
    for i = 2, #reqs do
      if reqs[i].at < t429 + 0.9 then early = early + 1 end
    end
    assert.is_true(early <= 2, early .. " requests during the pause")
    assert.is_true(reqs[#reqs].at - t429 >= 0.9)
  end

  it("slows the whole run on 429, honouring Retry-After in seconds", function()
    pause_after_429("1")
  end)

  it("honours Retry-After as an HTTP-date", function()
    -- whole seconds: 3 ahead is at least 1 s ahead however the second turns
    -- before the client reads it (up to 2 s later)
    pause_after_429(os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 3))
  end)

  it("calls on_result once per item and reports progress", function()
    local seen, progress = {}, {}
    local list = items(30)
    list[31] = { id = "missing", fields = { role = "x" } }
    list[32] = "not an item"
    local report = users.bulk_update("generic", list, opts {
      concurrency = 4,
      on_result = function(item, user, err)
        local key = type(item) == "table" and item.id or item
        assert.is_nil(seen[key])
        seen[key] = user and "ok" or err.code
      end,
      progress = function(done, total) progress[#progress + 1] = { done, total } end,
    })
    assert.equal(32, report.total)
    assert.equal(30, report.succeeded)
    assert.equal(2, report.failed)
    assert.equal("not_found", seen.missing)
    assert.equal("validation_error", seen["not an item"])
    assert.equal("ok", seen.u17)
    assert.equal(32, #progress)
    assert.same({ 32, 32 }, progress[#progress])
    for i = 2, #progress do assert.is_true(progress[i][1] > progress[i - 1][1]) end
  end)

  it("dry_run validates and prepares every item, sends nothing", function()
    local list = items(5)
    list[6] = { id = "u6", fields = { role = 42 } }
    local prepared = 0
    local report = users.bulk_update("generic", list, opts {
      dry_run = true,
      on_result = function(_, req) if req then prepared = prepared + 1; assert.equal("PATCH", req.method) end end,
    })
    assert.equal(5, report.succeeded)
    assert.equal(1, report.failed)
    assert.equal("invalid", report.failures[1].err.kind)
    assert.equal(5, prepared)
    assert.same({}, env.fake:requests())
  end)

  it("stops at the error of an on_result callback and returns the report with it", function()
    local report = users.bulk_update("generic", items(20), opts {
      concurrency = 2, on_result = function() error("stop here") end })
    assert.matches("stop here", report.error)
    assert.equal("error", report.stopped)
    assert.is_true(#env.fake:requests() <= 3)
    assert.equal(#env.fake:requests(), report.succeeded + report.failed)
    -- every item is accounted for: those never taken as not attempted
    assert.equal(20, report.total)
    assert.equal(20, report.succeeded + report.failed + report.skipped + report.not_attempted)
  end)

  it("streams an iterator: 100 000 items in constant memory", function()
    env.fake:record(false)
    -- valgrind is ~50x slower, ASan (make asan sets LUA_USERS_GC) 2x: both
    -- look for C memory errors, which 1 000 items show as well; the plain
    -- runs check the Lua heap over 100 000
    local n = (os.getenv("VALGRIND_LUA") or os.getenv("LUA_USERS_GC")) and 1000 or 100000
    local i = 0
    local function next_item()
      i = i + 1
      if i > n then return nil end
      return { id = "s" .. i, fields = { role = "member" } }
    end
    local samples = {}
    local before = env.fake:stats().requests
    local report = users.bulk_update("generic", next_item, opts {
      concurrency = 20,
      progress = function(done)
        if done == n / 10 or done == n / 2 or done == n then
          collectgarbage("collect")
          samples[#samples + 1] = collectgarbage("count")
        end
      end,
    })
    assert.equal(n, report.total)
    assert.equal(n, report.succeeded)
    assert.equal(n, env.fake:stats().requests - before)
    assert.equal(3, #samples)
    -- Holding the items would take n * ~150 bytes (13 MB), and a leak of 12
    -- bytes an item 1 MB; what the collector leaves over varies by a few
    -- hundred KB from run to run.
    assert.is_true(samples[3] - samples[1] < 1024, ("Lua heap grew from %.0f KB to %.0f KB"):format(samples[1], samples[3]))
  end)

  it("resumes from the journal after SIGKILL: nothing lost, at most `concurrency` sent twice", function()
    local journal = os.tmpname()
    os.remove(journal)
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write(([[
      package.path = "lua/?.lua;" .. package.path
      package.cpath = os.getenv("LUA_USERS_CPATH") .. ";" .. package.cpath
      local users = require "users"
      local list = {}
      for i = 1, 120 do list[i] = { id = "j" .. i, fields = { role = "r" } } end
      users.bulk_update("generic", list, { base_url = %q, token = "test-token",
                        concurrency = 5, journal = %q })
    ]]):format(env.fake:base_url("generic"), journal))
    f:close()
    env.fake:behave("generic", { delay = 0.05 })
    local p = io.popen(("LUA_USERS_CPATH='%s' sh -c 'echo $$; exec %s %s' 2>&1"):format(
      package.cpath:match("^[^;]+"), env.lua_bin(), script))
    local pid = assert(tonumber(p:read("*l")))
    local lines = 0
    for _ = 1, 200 do -- wait until part of the run is confirmed, then kill it
      core.sleep(0.02)
      local jf = io.open(journal)
      if jf then
        lines = select(2, jf:read("*a"):gsub("\nok ", "")) -- confirmed items, below the header
        jf:close()
      end
      if lines >= 40 then break end
    end
    os.execute("kill -9 " .. pid)
    p:close()
    assert.is_true(lines >= 40 and lines < 120, "journal lines at kill: " .. lines)

    env.fake:behave("generic", false)
    local list = {}
    for i = 1, 120 do list[i] = { id = "j" .. i, fields = { role = "r" } } end
    local report = users.bulk_update("generic", list, opts { concurrency = 5, journal = journal })
    assert.equal(120, report.total)
    assert.is_true(report.skipped >= 40)
    assert.equal(120, report.skipped + report.succeeded)

    local sent = {}
    for _, r in ipairs(env.fake:requests()) do
      local id = id_of(r)
      sent[id] = (sent[id] or 0) + 1
    end
    local twice = 0
    for i = 1, 120 do
      assert.is_not_nil(sent["j" .. i], "j" .. i .. " was never sent")
      if sent["j" .. i] > 1 then twice = twice + 1 end
    end
    assert.is_true(twice <= 5, twice .. " items sent twice")
    -- A third run has nothing left to do.
    env.fake:reset()
    report = users.bulk_update("generic", list, opts { journal = journal })
    assert.equal(120, report.skipped)
    assert.same({}, env.fake:requests())
    os.remove(journal)
    os.remove(script)
  end)

  it("raises on misuse", function()
    assert.has_error(function() users.bulk_update("generic", 42) end)
    assert.has_error(function() users.bulk_update("generic", {}, { concurrency = 0 }) end)
    assert.has_error(function() users.bulk_update("generic", {}, { bogus = 1 }) end)
  end)

  it("works from a client, with update's retries too", function()
    local c = users.new("generic", opts())
    local report = c:bulk_update(items(3), { concurrency = 2 })
    assert.equal(3, report.succeeded)
  end)
end)
