-- The provider `scim` in bulk runs against the fake SCIM servers, and the
-- rules every provider keeps (retries, deadline, discovery once per base
-- URL): each user's state on the server is checked afterwards.
local users = require "users"
local core = require "users.core"
local S = require "spec.support.scim"
local examples = dofile("spec/support/fake/vendors/scim_examples.lua")

-- users made for a run (a few under valgrind)
local N = os.getenv("LUA_USERS_VALGRIND") and 3 or 12

local opts, raw, array, held = S.opts, S.raw, S.array, S.held

-- A bulk run of `list` on dialect `name`, 4 in flight.
local function bulk(name, list, extra)
  local o = opts(name, nil, extra)
  o.concurrency = 4
  return users.bulk_update("scim", list, o)
end

-- N new users on dialect `name` (POST /Users): their ids.
local function create(name)
  local ids = {}
  for i = 1, N do
    local res = raw("POST", S.f:base_url(name) .. "/Users", {
      schemas = array { examples.CORE }, userName = ("user%d@example.com"):format(i),
      name = { givenName = "U" .. i, familyName = "Bulk" }, title = "T" .. i,
      emails = array { { value = ("user%d@example.com"):format(i), type = "work" } },
    })
    assert.equal(201, res.status, res.body)
    ids[i] = core.json_decode(res.body).id
  end
  return ids
end

-- How many requests of `method` to a path ending in `tail` the server received.
local function count(name, method, tail)
  local n = 0
  for _, r in ipairs(S.f:requests(name)) do
    if r.method == method and (tail == "" or r.uri:sub(-#tail) == tail) then n = n + 1 end
  end
  return n
end

-- Each item: a new displayName and givenName; every other one's title removed.
local function items(ids)
  local list = {}
  for i, id in ipairs(ids) do
    list[i] = { id = id, fields = { displayName = "Bulk " .. i, ["name.givenName"] = "G" .. i,
                                    title = i % 2 == 0 and users.null or nil } }
  end
  return list
end

local function assert_updated(name, ids)
  for i, id in ipairs(ids) do
    local u = held(name, id)
    assert.equal("Bulk " .. i, u.displayName)
    assert.equal("G" .. i, u.name.givenName)
    assert.equal("Bulk", u.name.familyName) -- kept
    assert.equal(("user%d@example.com"):format(i), u.emails[1].value) -- kept
    if i % 2 == 0 then assert.is_nil(u.title) else assert.equal("T" .. i, u.title) end
  end
end

describe("scim: bulk_update against the fake servers", function()
  S.fakes()

  for _, case in ipairs {
    { "scim_rfc", "PATCH" }, { "scim_put", "PUT" }, { "scim_github", "PATCH" }, { "scim_nodisco", "PATCH" },
  } do
    local name, method = case[1], case[2]
    it(name .. ": every item updated, one discovery GET for the run, the rest of each user kept", function()
      local ids = create(name)
      local report = bulk(name, items(ids))
      assert.equal(N, report.succeeded, tostring((report.failures[1] or {}).err))
      assert.equal(0, report.failed)
      assert.equal(1, count(name, "GET", "/ServiceProviderConfig"))
      assert.equal(N, count(name, method, "")) -- PATCH or PUT: one per item
      assert_updated(name, ids)
    end)
  end

  it("PUT-only server: a change made between an item's GET and its PUT survives; a rerun skips", function()
    local ids = create("scim_put")
    S.f:behave("scim_put", { on_get = { id = ids[1], set = { nickName = "Changed elsewhere" } } })
    local attempts, journal = {}, os.tmpname()
    os.remove(journal)
    local report = bulk("scim_put", items(ids), {
      scim_method = "put", journal = journal,
      on_result = function(item, _, _, res) attempts[item.id] = res and res.attempts end })
    assert.equal(N, report.succeeded)
    assert.equal(4, attempts[ids[1]]) -- GET, PUT 412, GET, PUT
    assert.equal(2, attempts[ids[2]])
    assert_updated("scim_put", ids)
    assert.equal("Changed elsewhere", held("scim_put", ids[1]).nickName)
    report = bulk("scim_put", items(ids), { scim_method = "put", journal = journal })
    assert.equal(N, report.skipped)
    os.remove(journal)
  end)

  it("an item stale three times fails as a conflict, a taken userName as uniqueness; the others pass", function()
    local ids = create("scim_put")
    S.f:behave("scim_put", { on_get = { id = ids[1], set = { nickName = "Elsewhere" }, times = 3 } })
    local list = items(ids)
    list[2].fields.userName = "user1@example.com" -- ids[1]'s
    local report = bulk("scim_put", list)
    assert.equal(2, report.failed)
    assert.equal(N - 2, report.succeeded)
    local by_id = {}
    for _, fl in ipairs(report.failures) do by_id[fl.id] = fl.err end
    assert.equal("conflict", by_id[ids[1]].code)
    assert.equal(412, by_id[ids[1]].status)
    assert.equal("conflict", by_id[ids[2]].code)
    assert.equal("uniqueness", by_id[ids[2]].scim_type, tostring(by_id[ids[2]]))
    for i = 1, 2 do
      local u = held("scim_put", ids[i])
      assert.equal("user" .. i .. "@example.com", u.userName)
      assert.is_nil(u.displayName) -- not written
    end
  end)

  it("a discovery that fails fails its item only: another item discovers, once", function()
    local ids = create("scim_rfc")
    S.f:behave("scim_rfc", { script = { { status = 500, body = examples.error(500, nil, "down") } } })
    -- the failed item gives its claim up as it ends: the others do not wait
    -- for the claim to run out (a timeout's time) past their deadline
    local report = bulk("scim_rfc", items(ids), { retries = 0, timeout = 60, deadline = 30 })
    assert.equal(1, report.failed)
    assert.equal("server_error", report.failures[1].err.code)
    assert.equal(N - 1, report.succeeded)
    assert.equal(2, count("scim_rfc", "GET", "/ServiceProviderConfig"))
    assert.equal(N - 1, count("scim_rfc", "PATCH", ""))
  end)
end)

describe("scim: the rules of every provider", function()
  S.fakes()

  local ID = examples.BJENSEN_ID

  it("retries each request on its own: a 503 to the GET is sent again, and counted", function()
    S.f:behave("scim_put", { script = { { status = 503, body = examples.error(503, nil, "busy") } } })
    local user, res = users.update("scim", ID, { title = "Retried" },
                                   opts("scim_put", nil, { scim_method = "put", retries = 1, backoff = 0.01 }))
    assert.equal("Retried", user.title)
    assert.equal(3, res.attempts) -- GET 503, GET, PUT
    assert.equal(2, count("scim_put", "GET", ID))
    assert.equal("Retried", held("scim_put", ID).title)
  end)

  it("a deadline covers the GET, the PUT and the refetches of one update, not each request", function()
    -- each request 0.4 s; six (three stale rounds) would take 2.4 s and end
    -- as a conflict: a deadline of 2 s for the whole update ends it first
    S.f:behave("scim_put", { on_get = { id = ID, set = { nickName = "Elsewhere" }, times = 3 }, delay = 0.4 })
    local user, err = users.update("scim", ID, { displayName = "Late" },
                                   opts("scim_put", nil, { scim_method = "put", deadline = 2 }))
    assert.is_nil(user)
    assert.equal("timeout", err.code)
    S.f:behave("scim_put", false)
    assert.equal("Babs Jensen", held("scim_put", ID).displayName)
  end)

  it("each request takes its budget slot: a budget that cannot be reached sends nothing", function()
    local user, err = users.update("scim", ID, { title = "x" }, opts("scim_rfc", nil, {
      rate = 100, budget = "redis://127.0.0.1:1/0", budget_fallback = "fail" }))
    assert.is_nil(user)
    assert.equal("budget", err.kind)
    assert.equal("budget_unavailable", err.code)
    assert.equal(0, #S.f:requests("scim_rfc"))
  end)

  -- (the last of the file: what it configures stays for the file's Lua state)
  it("users.new and users.configure: a client's options, then the configured ones", function()
    local client = users.new("scim", opts("scim_nodisco"))
    assert.equal("C", client:update(ID, { title = "C" }).title)
    users.configure("scim", opts("scim_rfc", nil, { scim_method = "patch" }))
    local trail = {}
    assert.equal("D", users.update("scim", ID, { title = "D" }, { on_event = opts("scim_rfc", trail).on_event }).title)
    assert.same({ "PATCH 200" }, trail) -- scim_method = "patch": no discovery
    assert.equal("C", held("scim_nodisco", ID).title)
    assert.equal("D", held("scim_rfc", ID).title)
  end)
end)
