-- The fault spec of ambiguous outcomes (issue 20): a lancepilot fake that
-- counts every application of every item, and for 1 % of the items applies
-- the update, then drops the connection before it answers. Two bulk runs of
-- half the items each:
--   - lancepilot's avatar uploads, which are not idempotent: each goes on a
--     connection of its own and is never sent twice; a dropped one ends as
--     unknown_outcome;
--   - the same provider declaring an idempotency key (with and without an
--     avatar): its requests share kept-alive connections, so some drops hit
--     a reused one (where libcurl resends by itself); every resend carries
--     the same key, and the server answers it without applying it again.
-- Every item ends applied exactly once, reported succeeded or
-- unknown_outcome, none lost.
--
-- 10 000 items (about 8 s here); 1 000 under ASan and 400 under valgrind,
-- where each costs several and tens of times more; LUA_USERS_FAULT=N sets it.
local users = require "users"
local env = require "spec.support.env"

local ASAN = (os.getenv("LUA_USERS_LUA") or ""):find("asan", 1, true)
local N = tonumber(os.getenv("LUA_USERS_FAULT"))
  or (os.getenv("LUA_USERS_VALGRIND") and 400 or ASAN and 1000 or 10000)
local EVERY = 100 -- 1 %

describe("the fault spec of ambiguous outcomes", function()
  setup(function()
    env.start()
    local d = {}
    for k, v in pairs(require("users.registry").get("lancepilot").decl) do d[k] = v end
    d.name, d.idempotency_key, d.replace = "lancepilot_keyed", "Idempotency-Key", true
    users.register(d)
  end)
  teardown(function() env.stop() end)

  -- Items first..last of lancepilot's update, an avatar on those `avatar` says.
  local function items(first, last, avatar)
    local i = first - 1
    local png = users.blob(env.PNG, "a.png", "image/png")
    return function()
      i = i + 1
      if i > last then return nil end
      local fields = { name = "User " .. i, email = "u" .. i .. "@example.com", timezone = "UTC", status = true }
      if avatar(i) then fields.avatar = png end
      return { id = i, fields = fields }
    end
  end

  -- A run of items first..last on `provider`: each item's outcome by id,
  -- the report, and the fake's ledger.
  local function run(provider, first, last, avatar)
    env.fake:reset()
    env.fake:record(false)
    env.fake:behave("lancepilot", { ledger = { every = EVERY, key = "Idempotency-Key" } })
    local outcomes, twice = {}, 0
    local report = users.bulk_update(provider, items(first, last, avatar), env.opts("lancepilot", {
      concurrency = 16, retries = 3, backoff = 0.01, total = last - first + 1,
      on_result = function(item, user, err)
        if outcomes[item.id] then twice = twice + 1 end
        outcomes[item.id] = user and "succeeded" or err.code
      end }))
    local ledger = env.fake:ledger()
    env.fake:behave("lancepilot", { ledger = false })
    env.fake:record(true)
    assert.equal(0, twice)
    return outcomes, report, ledger
  end

  -- Every item applied exactly once, and reported succeeded, or
  -- unknown_outcome when (and only when) the ledger dropped its answer
  -- without a key to resend it under. Returns the accounting.
  local function account(outcomes, report, ledger, first, last, keyed)
    local by_item = {}
    for path, n in pairs(ledger.applications) do by_item[tonumber(path:match("(%d+)$"))] = n end
    local a = { once = 0, unknown = 0, lost = 0, more = 0, never = 0 }
    for i = first, last do
      local applied, outcome = by_item[i] or 0, outcomes[i]
      if applied == 1 then a.once = a.once + 1 elseif applied == 0 then a.never = a.never + 1 else a.more = a.more + 1 end
      if outcome == "unknown_outcome" then
        a.unknown = a.unknown + 1
        assert.is_true(i % EVERY == 0 and not keyed, "item " .. i .. " unknown")
      elseif outcome ~= "succeeded" then
        a.lost = a.lost + 1
      end
    end
    assert.equal(last - first + 1, report.total)
    assert.equal(report.total, report.succeeded + report.failed + report.skipped + report.not_attempted)
    assert.equal(a.unknown, report.unknown)
    return a
  end

  local function say(what, a, ledger)
    print(("\n  %s: %d applied once, %d unknown_outcome, %d lost, %d applied more than once, %d never;"
      .. " %d answers dropped, %d of them on reused connections"):format(what, a.once, a.unknown, a.lost, a.more,
      a.never, ledger.drops, ledger.drops_reused))
  end

  it(("%d items, 1 %% answers dropped once applied: each applied once, succeeded or unknown_outcome, none lost")
    :format(N), function()
    local half, base = math.floor(N / 2), 10000 -- (the fake knows no user 404: ids from 10001)
    -- Avatar uploads, not idempotent: sent once each, on connections of their own.
    local outcomes, report, ledger = run("lancepilot", base + 1, base + half, function() return true end)
    local a = account(outcomes, report, ledger, base + 1, base + half, false)
    say("avatar uploads", a, ledger)
    assert.same({ half, math.floor(half / EVERY), 0, 0, 0 }, { a.once, a.unknown, a.lost, a.more, a.never })
    assert.equal(math.floor(half / EVERY), ledger.drops)
    assert.equal(0, ledger.drops_reused)
    assert.equal(0, report.retried)

    -- With an idempotency key: sent again (by libcurl on a reused connection,
    -- or by a retry), answered again, applied once.
    outcomes, report, ledger = run("lancepilot_keyed", base + half + 1, base + N, function(i) return i % 2 == 1 end)
    a = account(outcomes, report, ledger, base + half + 1, base + N, true)
    say("with an idempotency key", a, ledger)
    assert.same({ N - half, 0, 0, 0, 0 }, { a.once, a.unknown, a.lost, a.more, a.never })
    assert.equal(math.floor((N - half) / EVERY), ledger.drops)
    assert.is_true(ledger.drops_reused > 0, "no drop on a reused connection")
  end)
end)
