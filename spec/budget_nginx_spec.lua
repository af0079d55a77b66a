-- One budget per account across nginx workers and hosts (issue 11), with
-- real servers: Debian's nginx configured by examples/nginx/ (4 or 8
-- workers, the users_budget shared dict), Debian's redis-server, and the
-- fake providers, which record when each request arrived.
--   * 4 workers x 50 concurrent updates under 20 a second: never more than
--     20 in any second the provider counts, and the wall time that makes;
--   * two nginx and a plain-Lua bulk run on one Redis budget: the same, in
--     about N / rate;
--   * a 429 with Retry-After 2 answered to one worker: nothing reaches the
--     provider from anyone for the next 2 s;
--   * lexful's key pair from 8 workers: one token request, and one after a
--     401;
--   * Redis gone: a clear error at once, or the local budget.
local env = require "spec.support.env"
local core = require "users.core"
local users = require "users"
local nginx_host = require "spec.support.nginx_host"
local redis_server = require "spec.support.redis_server"

local sh, read = env.sh, env.read
local SMALL = os.getenv("VALGRIND_LUA") ~= nil -- valgrind: fewer requests, same shape

-- Each response says which worker made it.
local WORKER = [[header_filter_by_lua_block { ngx.header["X-Worker"] = ngx.worker.pid() }]]

-- n updates of `provider` through host, `parallel` at once, in the
-- background; returns a function that waits for them and gives
-- { { status, worker }, ... }.
local function fire(host, provider, n, parallel, tag, headers)
  local cfg = os.tmpname()
  local f = assert(io.open(cfg, "w"))
  local body = [[{\"role\":\"admin\"}]]
  for i = 1, n do
    if i > 1 then f:write("next\n") end
    local id = provider == "lexful" and ("5f0c2c1e-8f5d-4c8e-9d6a-%012d"):format(i) or (tag .. i)
    f:write(('url = "%s/users/%s/%s"\nrequest = "PATCH"\ndata = "%s"\n'):format(host.base, provider, id, body))
    for _, h in ipairs(headers or { "X-Provider-Token: test-token" }) do f:write(('header = "%s"\n'):format(h)) end
    f:write('output = "/dev/null"\nwrite-out = "%{http_code} %header{x-worker}\\n"\n')
  end
  f:close()
  local out, flag = cfg .. ".out", cfg .. ".done"
  os.execute(("{ curl -s --noproxy '*' --parallel --parallel-immediate --parallel-max %d -K %s > %s 2>/dev/null;"
    .. " echo done > %s; } &"):format(parallel, cfg, out, flag))
  return function()
    for _ = 1, 1200 do
      if read(flag) then break end
      core.sleep(0.05)
    end
    local list = {}
    for status, worker in (read(out) or ""):gmatch("(%d+) (%d*)\n") do
      list[#list + 1] = { status = tonumber(status), worker = worker }
    end
    os.remove(cfg) os.remove(out) os.remove(flag)
    return list
  end
end

local function count(list, status)
  local n, workers, nw = 0, {}, 0
  for _, r in ipairs(list) do
    if r.status == status then n = n + 1 end
    if r.worker ~= "" and not workers[r.worker] then workers[r.worker] = true; nw = nw + 1 end
  end
  return n, nw
end

-- The provider's requests by arrival, and the most it saw in one second.
local function arrivals(provider)
  local reqs = env.fake:requests(provider)
  table.sort(reqs, function(a, b) return a.at < b.at end)
  local per, most = {}, 0
  for _, r in ipairs(reqs) do
    local s = math.floor(r.at)
    per[s] = (per[s] or 0) + 1
    if per[s] > most then most = per[s] end
  end
  return reqs, most
end

describe("one budget per account across workers and hosts", function()
  local redis
  local hosts = {}

  local function host(opts)
    opts.server = (opts.server or "") .. "\n        " .. WORKER
    local h = nginx_host.start(opts)
    hosts[#hosts + 1] = h
    return h
  end

  setup(function()
    env.start()
    redis = redis_server.start()
  end)

  teardown(function()
    for _, h in ipairs(hosts) do h:stop() end
    if redis then redis:close() end
    env.stop()
  end)

  before_each(function() env.fake:reset() end)

  local function generic_env(extra)
    local e = { GENERIC_BASE_URL = env.fake:base_url("generic") }
    for k, v in pairs(extra or {}) do e[k] = v end
    return e
  end

  it("4 workers x 50 concurrent updates under 20 a second: never more than 20 in a second", function()
    local per, rate = SMALL and 10 or 50, 20
    local h = host { workers = 4, env = generic_env { USERS_RATE = rate } }
    local waits = {}
    local t0 = core.now()
    for c = 1, 4 do waits[c] = fire(h, "generic", per, per, "w" .. c .. "-") end
    local all = {}
    for c = 1, 4 do
      for _, r in ipairs(waits[c]()) do all[#all + 1] = r end
    end
    local wall = core.now() - t0
    local ok, workers = count(all, 200)
    assert.equal(4 * per, ok, h:error_log())
    assert.is_true(workers >= 2, workers .. " worker(s) answered")
    local reqs, most = arrivals("generic")
    assert.equal(4 * per, #reqs)
    assert.is_true(most <= rate, most .. " requests in one second")
    -- The slots are 1.05 / rate apart: the last leaves (n - 1) of them after the first.
    local want = (4 * per - 1) * 1.05 / rate
    local span = reqs[#reqs].at - reqs[1].at
    assert.is_true(span >= want * 0.97, ("the provider saw them over %.2f s, want %.2f"):format(span, want))
    assert.is_true(wall < want * 1.5 + 5, ("took %.2f s, want about %.2f"):format(wall, want))
    assert.is_nil(h:error_log():find("%[error%]"))
  end)

  it("two nginx and a plain-Lua bulk run share one Redis budget", function()
    local per, rate = SMALL and 10 or 40, 30
    local e = generic_env { USERS_RATE = rate, USERS_BUDGET = redis.url }
    local a, b = host { workers = 2, env = e }, host { workers = 2, env = e }
    local items = {}
    for i = 1, per do items[i] = { id = "lua" .. i, fields = { role = "admin" } } end
    local t0 = core.now()
    local wa, wb = fire(a, "generic", per, 20, "a"), fire(b, "generic", per, 20, "b")
    local report = users.bulk_update("generic", items, env.opts("generic", {
      rate = rate, budget = redis.url, concurrency = 8 }))
    local ra, rb = wa(), wb()
    local wall = core.now() - t0
    assert.equal(per, report.succeeded)
    assert.equal(per, (count(ra, 200)))
    assert.equal(per, (count(rb, 200)))
    local reqs, most = arrivals("generic")
    assert.equal(3 * per, #reqs)
    assert.is_true(most <= rate, most .. " requests in one second")
    local ideal = 3 * per / rate
    -- never faster than the rate; the upper bound leaves room for a loaded machine
    assert.is_true(wall >= ideal * 0.9 and wall <= ideal * 1.5 + 5,
                   ("took %.2f s, N / rate is %.2f"):format(wall, ideal))
  end)

  it("a 429 with Retry-After 2 to one worker holds every worker and host for 2 s", function()
    local per, rate = SMALL and 15 or 30, 20
    local e = generic_env { USERS_RATE = rate, USERS_BUDGET = redis.url }
    local a, b = host { workers = 2, env = e }, host { workers = 2, env = e }
    local script = {}
    for i = 1, 10 do script[i] = { pass = true } end
    script[11] = { status = 429, body = "{}", headers = { ["Retry-After"] = "2" } }
    env.fake:behave("generic", { script = script })
    local wa, wb = fire(a, "generic", per, 10, "a"), fire(b, "generic", per, 10, "b")
    local ra, rb = wa(), wb()
    assert.equal(2 * per - 1, count(ra, 200) + count(rb, 200))
    assert.equal(1, count(ra, 429) + count(rb, 429))
    local by_seq = env.fake:requests("generic")
    table.sort(by_seq, function(x, y) return x.seq < y.seq end)
    local t429 = by_seq[11].at
    local during, after = 0, 0
    for _, r in ipairs(by_seq) do
      -- 20 ms of grace: one that left before the 429 came back
      if r.at > t429 + 0.02 and r.at < t429 + 2 then during = during + 1 end
      if r.at >= t429 + 2 then after = after + 1 end
    end
    assert.equal(0, during)
    assert.equal(2 * per - 11, after)
  end)

  it("lexful's key pair from 8 workers: one token request, and one refresh after a 401", function()
    local h = host { workers = 8, env = {
      LEXFUL_BASE_URL = env.fake:base_url("lexful"), LEXFUL_ACCOUNT_ID = env.ACCOUNT,
      LEXFUL_KEY_ID = "test-key-id", LEXFUL_KEY_SECRET = "test-key-secret" } }
    local n = SMALL and 16 or 48
    local list = fire(h, "lexful", n, n, nil, {})()
    local ok, workers = count(list, 200)
    assert.equal(n, ok, h:error_log())
    assert.is_true(workers >= 2, workers .. " worker(s) answered")
    assert.equal(1, env.fake:stats().tokens_issued)
    env.fake:reset() -- the provider forgets its tokens: every worker's next PATCH gets a 401
    list = fire(h, "lexful", n, n, nil, {})()
    assert.equal(n, (count(list, 200)), h:error_log())
    assert.equal(1, env.fake:stats().tokens_issued)
    local posts = 0
    for _, r in ipairs(env.fake:requests("lexful")) do
      if r.method == "POST" then posts = posts + 1 end
    end
    assert.equal(1, posts)
  end)

  it("without Redis: a clear error at once, or the local budget when asked", function()
    local e = generic_env { USERS_RATE = 50, USERS_BUDGET = "redis://127.0.0.1:" .. redis.port .. "/0" }
    local a = host { workers = 1, env = e }
    e.USERS_BUDGET_FALLBACK = "local"
    local b = host { workers = 1, env = e }
    local function patch(h, id)
      return sh(("curl -s --noproxy '*' -w ' %%{http_code}' -X PATCH -H 'X-Provider-Token: test-token'"
        .. [[ -d '{"role":"x"}' %s/users/generic/%s]]):format(h.base, id))
    end
    redis:stop()
    local t0 = core.now()
    local out = patch(a, "u1")
    assert.is_true(core.now() - t0 < 5)
    assert.matches('"code":"budget_unavailable"', out)
    assert.matches("budget_fallback", out)
    assert.matches(" 200$", patch(b, "u2"))
    assert.matches("a local budget stands in", b:error_log())
    redis:start()
    core.sleep(1.1) -- a lost store is tried again each second
    assert.matches(" 200$", patch(a, "u3"))
    assert.matches("lua%-users:budget:generic:", redis:cli("KEYS '*'"))
  end)
end)
