-- The fault soak (issue 9): a bulk run against a provider that, seeded,
-- answers 500 (5 %), 429 with Retry-After in seconds or as an HTTP-date
-- (5 %), resets (2 %), sends malformed or truncated JSON (2 %), or stalls
-- past the timeout (1 %), each fault on an item's first two attempts only:
-- every fault is transient. Every item must be accounted for once, every
-- one end succeeded, the server's record of applied updates equal the
-- report, and RSS stay flat.
--
-- CI runs 1 000 items; `make soak` runs 10 000 (LUA_USERS_SOAK=N).
local users = require "users"
local core = require "users.core"
local env = require "spec.support.env"

local N = tonumber(os.getenv("LUA_USERS_SOAK")) or (os.getenv("VALGRIND_LUA") and 200 or 1000)
local SEED = tonumber(os.getenv("LUA_USERS_SOAK_SEED")) or 20261201

local function rss_kb()
  local f = io.open("/proc/self/statm")
  local pages = f and tonumber(f:read("*a"):match("^%d+%s+(%d+)"))
  if f then f:close() end
  return (pages or 0) * 4
end

describe("the fault soak", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)

  it(("%d updates through seeded faults: each accounted once, each succeeded"):format(N), function()
    env.fake:reset()
    env.fake:record(false)
    env.fake:behave("generic", { faults = { seed = SEED, p500 = 0.05, p429 = 0.05, preset = 0.02,
                                            pmalformed = 0.02, pstall = 0.01, stall = 0.6, upto = 2 } })
    local seen, twice, rss = {}, 0, {}
    local i = 0
    local t0 = core.now()
    local report = users.bulk_update("generic", function()
      i = i + 1
      if i > N then return nil end
      return { id = "soak-" .. i, fields = { role = "r" .. i % 7 } }
    end, env.opts("generic", {
      concurrency = 32, retries = 4, backoff = 0.01, timeout = 0.4, total = N,
      on_result = function(item, user, err)
        assert(user, item.id .. ": " .. tostring(err))
        if seen[item.id] then twice = twice + 1 end
        seen[item.id] = true
      end,
      progress = function(done)
        if done == math.floor(N / 5) then collectgarbage(); rss[1] = rss_kb() end
        if done == N then collectgarbage(); rss[2] = rss_kb() end
      end,
    }))
    local elapsed = core.now() - t0
    local stats = env.fake:stats()
    env.fake:behave("generic", { faults = false })
    env.fake:record(true)
    print(("\n  soak: %d items in %.1f s, %d retried, %d requests, %d applied, RSS %d KB at 20%% and %d KB at 100%%")
      :format(N, elapsed, report.retried, stats.requests, stats.applied, rss[1] or -1, rss[2] or -1))
    assert.is_nil(report.error)
    assert.equal(N, report.total)
    assert.equal(N, report.succeeded)
    assert.equal(0, report.failed)
    assert.equal(0, twice)
    assert.equal(N, stats.applied)
    assert.is_true(report.retried > N * 0.1, "the faults did not happen: " .. report.retried)
    assert.is_true(stats.requests >= N + report.retried)
    -- (ASan keeps freed memory in quarantine by design: RSS says nothing there)
    if not (os.getenv("LUA_USERS_LUA") or ""):find("asan", 1, true) then
      assert.is_true(rss[2] - rss[1] < 8 * 1024, ("RSS grew by %d KB"):format(rss[2] - rss[1]))
    end
  end)
end)
