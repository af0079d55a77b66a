-- Ambiguous outcomes (issue 20): a request that may have reached the
-- server without an answer (a timeout once written, a reset, an empty or
-- broken answer, a final status below 200, a gateway's 502 or 504). An
-- idempotent update is retried as any failure is; one that is not goes on
-- a connection of its own (libcurl cannot resend it), is never retried
-- unless retry_ambiguous = true, and ends as unknown_outcome. Every
-- declaration says which it is; an idempotency key makes any update safe
-- to send again, the same key at every attempt and in every run.
local users = require "users"
local core = require "users.core"
local env = require "spec.support.env"

local registry = require "users.registry"

-- A provider on the generic fake (PATCH /v1/users/{user_id}) registered
-- under `name` with `extra` keys: the rules below, on one server.
local function clone(name, extra, without)
  local d = {}
  for k, v in pairs(registry.get("generic").decl) do d[k] = v end
  d.name, d.replace = name, true
  for k, v in pairs(extra or {}) do d[k] = v end
  for _, k in ipairs(without or {}) do d[k] = nil end
  users.register(d)
  return name
end

-- The requests the generic fake recorded for user `id`, in order.
local function arrivals(id)
  local list = {}
  for _, r in ipairs(env.fake:requests("generic")) do
    if r.uri:match("/users/" .. id .. "$") then list[#list + 1] = r end
  end
  return list
end

-- The fake's delayed answer of a request the client gave up on goes on
-- after the test: wait it out, or the fake, waking, would take the next
-- test's behaviour (a drop set for another request).
local DELAY = 0.6
local function settle() core.sleep(DELAY) end

local function update(name, id, extra)
  return users.update(name, id, { role = "x" }, env.opts("generic", extra))
end

describe("ambiguous outcomes", function()
  setup(function()
    env.start()
    clone("once", { idempotent = false })                      -- an update that may not be sent twice
    clone("keyed", { idempotent = false, idempotency_key = "Idempotency-Key" })
  end)
  teardown(function() env.stop() end)
  before_each(function() env.fake:reset() end)

  describe("declarations", function()
    it("every provider of the module says whether its update is idempotent", function()
      local want = { generic = true, lexful = true, paradigm = true, activepieces = true,
                     lancepilot = "depends on the fields" }
      for _, name in ipairs(env.names) do
        assert.is_not_nil(registry.get(name).decl.idempotent, name)
        assert.equal(want[name], users.describe(name).idempotent, name)
      end
      local lp = registry.get("lancepilot").decl.idempotent
      assert.is_true(lp(env.valid.lancepilot.fields))
      assert.is_true(lp({ avatar = users.null }))
      assert.is_false(lp({ avatar = users.blob(env.PNG, "a.png") }))
    end)

    it("a compiled declaration is idempotent by its method unless the overlay says", function()
      local doc = { openapi = "3.0.3", info = { title = "T", version = "1" },
                    servers = { { url = "https://t.example" } }, paths = {} }
      for _, m in ipairs { "put", "patch", "delete", "post" } do
        doc.paths["/" .. m .. "/{id}"] = { [m] = { parameters = { { name = "id", ["in"] = "path", required = true,
          schema = { type = "string" } } }, requestBody = { content = { ["application/json"] = { schema = {
          type = "object", properties = { name = { type = "string" } } } } } }, responses = { ["200"] = {
          description = "ok" } } } }
      end
      for m, want in pairs { PUT = true, PATCH = true, DELETE = true, POST = false } do
        local decl = assert(users.openapi(doc, m .. " /" .. m:lower() .. "/{id}"))
        assert.equal(want, decl.idempotent, m)
        assert.is_nil(decl.idempotency_key)
      end
      local decl = assert(users.openapi(doc, "POST /post/{id}", { idempotent = true, idempotency_key = "Idempotency-Key" }))
      assert.is_true(decl.idempotent)
      assert.equal("Idempotency-Key", decl.idempotency_key)
      assert.is_false(assert(users.openapi(doc, "PATCH /patch/{id}", { idempotent = false })).idempotent)
      assert.has_error(function() users.openapi(doc, "POST /post/{id}", { idempotent = "yes" }) end)
      assert.has_error(function() users.openapi(doc, "POST /post/{id}", { idempotency_key = 1 }) end)
    end)

    it("a hand-written one is checked, and by its method when it does not say", function()
      assert.has_error(function() clone("bad1", { idempotent = "yes" }) end)
      assert.has_error(function() clone("bad2", { idempotency_key = "Bad Header" }) end)
      clone("silent_post", { method = "POST" }, { "idempotent" })
      assert.is_false(users.describe("silent_post").idempotent)
      clone("silent_put", { method = "PUT" }, { "idempotent" })
      assert.is_true(users.describe("silent_put").idempotent)
    end)
  end)

  describe("a request that is not idempotent", function()
    it("applied, then its connection dropped: not sent again, unknown_outcome", function()
      env.fake:behave("generic", { drop = true, times = 1 })
      local user, err = update("once", "u1", { retries = 3, backoff = 0.01 })
      assert.is_nil(user)
      assert.equal("transport", err.kind)
      assert.equal("unknown_outcome", err.code)
      assert.equal("reset", err.cause)
      assert.is_false(err.retryable)
      assert.equal(1, err.attempts)
      assert.matches("may have been applied", err.message)
      assert.equal(1, #arrivals("u1"))
    end)

    it("on a reused connection too: libcurl does not resend it by itself", function()
      assert.is_table(update("generic", "warm")) -- a kept-alive connection
      env.fake:reset()
      env.fake:behave("generic", { drop = true, times = 1 })
      local _, err = update("once", "u1", { retries = 0 })
      assert.equal("unknown_outcome", err.code)
      assert.equal(1, #arrivals("u1"))
    end)

    it("each goes on a connection of its own, while idempotent ones share theirs", function()
      for i = 1, 3 do assert.is_table(update("once", "o" .. i)) end
      for i = 1, 3 do assert.is_table(update("generic", "g" .. i)) end
      local conns = { o = {}, g = {} } -- the connections each kind went on
      for _, r in ipairs(env.fake:requests("generic")) do
        local t = conns[r.uri:match("/(%a)%d$")]
        t[r.conn] = (t[r.conn] or 0) + 1
      end
      local function count(t) local n = 0 for _ in pairs(t) do n = n + 1 end return n end
      assert.equal(3, count(conns.o))
      assert.equal(1, count(conns.g))
    end)

    it("a timeout once sent, a 502, a 504 and a final 101 are unknown_outcome; a 503 is retried", function()
      env.fake:behave("generic", { delay = DELAY, times = 1 })
      local _, err = update("once", "t1", { retries = 2, timeout = 0.2 })
      settle()
      assert.same({ "unknown_outcome", "timeout", 1 }, { err.code, err.cause, #arrivals("t1") })
      for _, status in ipairs { 502, 504 } do
        env.fake:behave("generic", { respond = { status = status, body = "{}" }, times = 1 })
        _, err = update("once", "s" .. status, { retries = 2, backoff = 0.01 })
        assert.same({ "unknown_outcome", "server_error", status, 1 }, { err.code, err.cause, err.status,
                                                                       #arrivals("s" .. status) })
      end
      _, err = users.update("once", "u1", { role = "x" }, { base_url = env.fake.url .. "/hostile/switch-101",
                                                            token = "test-token", retries = 2 })
      assert.same({ "unknown_outcome", "reset" }, { err.code, err.cause })
      env.fake:behave("generic", { respond = { status = 503, body = "{}" }, times = 1 })
      assert.is_table(update("once", "s503", { retries = 1, backoff = 0.01 })) -- refused, not applied: sent again
      assert.equal(2, #arrivals("s503"))
    end)

    it("with a deadline, a timeout once sent is unknown_outcome, not the deadline's timeout", function()
      env.fake:behave("generic", { delay = DELAY, times = 1 })
      local _, err = update("once", "d1", { deadline = 0.3 })
      settle()
      assert.equal("unknown_outcome", err.code)
      assert.equal("timeout", err.cause)
    end)

    it("is sent again after an ambiguous failure with retry_ambiguous = true", function()
      env.fake:behave("generic", { drop = true, times = 1 })
      local user, res = update("once", "u1", { retries = 1, backoff = 0.01, retry_ambiguous = true })
      assert.is_table(user, tostring(res))
      assert.equal(2, res.attempts)
      assert.equal(2, #arrivals("u1"))
      env.fake:behave("generic", { drop = true, times = 2 })
      local _, err = update("once", "u2", { retries = 1, backoff = 0.01, retry_ambiguous = true })
      assert.equal("unknown_outcome", err.code) -- the last attempt's outcome is not known either
      assert.equal(2, err.attempts)
      assert.has_error(function() update("once", "u3", { retry_ambiguous = "yes" }) end)
    end)

    it("a lancepilot update that uploads an avatar is one; without a file it is not", function()
      local lp = env.valid.lancepilot
      local function lancepilot(fields, drops)
        env.fake:reset()
        env.fake:behave("lancepilot", { drop = true, times = drops })
        return users.update("lancepilot", lp.id, fields, env.opts("lancepilot", { retries = 2, backoff = 0.01 }))
      end
      local with = {}
      for k, v in pairs(lp.fields) do with[k] = v end
      with.avatar = users.blob(env.PNG, "a.png", "image/png")
      local _, err = lancepilot(with, 1)
      assert.equal("unknown_outcome", err.code)
      assert.equal(1, #env.fake:requests("lancepilot"))
      assert.is_table(lancepilot(lp.fields, 1))
      assert.equal(2, #env.fake:requests("lancepilot"))
    end)
  end)

  describe("an idempotent request", function()
    it("is retried after an ambiguous failure, as before", function()
      env.fake:behave("generic", { drop = true, times = 1 })
      local user = update("generic", "u1", { retries = 1, backoff = 0.01 })
      assert.is_table(user)
      assert.equal(2, #arrivals("u1")) -- (by libcurl itself on a reused connection, or by a retry)
      env.fake:behave("generic", { respond = { status = 502, body = "{}" }, times = 1 })
      assert.is_table(update("generic", "u2", { retries = 1, backoff = 0.01 }))
    end)

    it("a plan's request says for itself, by its method when it does not", function()
      local codes, sent = {}, {}
      local function plan(method, idempotent)
        return function(call, user, res)
          if call.step == 1 then
            local req = assert(call:request()) -- the declaration's, made a plan's own request
            req.own, req.method, req.idempotent = nil, method, idempotent
            return "send", req
          end
          if user then return "done", user end
          return "fail", res
        end
      end
      for i, case in ipairs { { "POST" }, { "PATCH", false }, { "PUT" }, { "POST", true } } do
        clone("planned" .. i, { plan = plan(case[1], case[2]) })
        env.fake:behave("generic", { drop = true, times = 1 })
        local _, err = users.update("planned" .. i, "p" .. i, { role = "x" },
                                    env.opts("generic", { retries = 1, backoff = 0.01 }))
        codes[i], sent[i] = err and err.code, #arrivals("p" .. i)
      end
      -- (the fake answers anything but PATCH with a 405: what counts is what was sent)
      assert.same({ "unknown_outcome", "unknown_outcome", "method_not_allowed", "method_not_allowed" }, codes)
      assert.same({ 1, 1, 2, 2 }, sent)
    end)

    it("a token request is one: fetched again after a dropped answer", function()
      local key = { account_id = env.ACCOUNT, key_id = "test-key-id", key_secret = "test-key-secret", retries = 1,
                    backoff = 0.01 }
      env.fake:behave("lexful", { drop = true, times = 1 })
      local o = env.opts("lexful", key)
      o.token = nil
      assert.is_table(users.update("lexful", env.valid.lexful.id, env.valid.lexful.fields, o))
    end)
  end)

  describe("in a bulk run", function()
    local function items(n, extra)
      local list = {}
      for i = 1, n do
        list[i] = { id = "b" .. i, fields = { role = "r" .. i } }
        for k, v in pairs(extra or {}) do list[i][k] = v end
      end
      return list
    end

    local function run(list, extra)
      local o = env.opts("generic", { concurrency = 1, retries = 3, backoff = 0.01 })
      for k, v in pairs(extra or {}) do o[k] = v end
      local r = users.bulk_update("once", list, o)
      assert.equal(r.total, r.succeeded + r.failed + r.skipped + r.not_attempted)
      assert.is_true(r.held <= r.unknown and r.unknown <= r.failed)
      return r
    end

    it("counts an unknown outcome among the failed, keeps it in the journal, and a rerun holds it back", function()
      local journal = os.tmpname()
      os.remove(journal)
      env.fake:behave("generic", { drop = true, times = 1 })
      local r = run(items(5), { journal = journal })
      assert.same({ 5, 4, 1, 1, 0 }, { r.total, r.succeeded, r.failed, r.unknown, r.held })
      assert.equal(0, r.retried)
      assert.equal(5, #env.fake:requests("generic"))
      local f = r.failures[1]
      assert.same({ "unknown_outcome", "reset", 1 }, { f.err.code, f.err.cause, f.err.attempts })
      assert.matches("\nunknown " .. ("%x"):rep(16) .. "\t" .. f.id .. "\n", env.read(journal))

      env.fake:reset() -- the rerun: the four confirmed skipped, the unknown one held back, unsent
      r = run(items(5), { journal = journal })
      assert.same({ 5, 0, 4, 1, 1, 1 }, { r.total, r.succeeded, r.skipped, r.failed, r.unknown, r.held })
      assert.same({ "unknown_outcome", "held", 0, f.id }, { r.failures[1].err.code, r.failures[1].err.cause,
                                                              r.failures[1].err.attempts, r.failures[1].id })
      assert.matches("resend_unknown", r.failures[1].err.message)
      assert.same({}, env.fake:requests("generic"))

      r = run(items(5), { journal = journal, resend_unknown = true }) -- checked on the provider: sent again
      assert.same({ 1, 4, 0, 0 }, { r.succeeded, r.skipped, r.failed, r.unknown })
      assert.equal(1, #env.fake:requests("generic"))
      env.fake:reset()
      r = run(items(5), { journal = journal }) -- confirmed since: skipped like the others
      assert.same({ 5, 0 }, { r.skipped, r.failed })
      assert.same({}, env.fake:requests("generic"))
      os.remove(journal)
    end)

    it("holds back an item marked unknown = true, unless resend_unknown", function()
      local seen = {}
      local r = run(items(2, { unknown = true }), { on_result = function(item, _, err) seen[item.id] = err end })
      assert.same({ 2, 2, 2 }, { r.failed, r.unknown, r.held })
      assert.equal("held", seen.b1.cause)
      assert.same({}, env.fake:requests("generic"))
      r = run(items(2, { unknown = true }), { resend_unknown = true })
      assert.equal(2, r.succeeded)
      assert.has_error(function() run(items(1), { resend_unknown = "yes" }) end)
    end)

    it("an update abandoned in flight that is not idempotent ends unknown, an idempotent one aborted", function()
      for name, want in pairs { once = "unknown_outcome", generic = "aborted" } do
        env.fake:reset()
        env.fake:behave("generic", { delay = 3, times = 2 })
        local started = 0
        local r = users.bulk_update(name, items(2), env.opts("generic", { concurrency = 2,
          on_event = function(e) if e.name == "request" then started = started + 1 end end,
          should_stop = function() return started == 2 and "abandon" end }))
        assert.equal(2, r.failed, name)
        for _, f in ipairs(r.failures) do assert.equal(want, f.err.code, name) end
        assert.equal(want == "unknown_outcome" and 2 or 0, r.unknown)
      end
    end)
  end)

  describe("an idempotency key", function()
    it("is sent by a declaration that names its header: the same at every attempt, so the update is retried", function()
      env.fake:behave("generic", { drop = true, times = 1 })
      local user = update("keyed", "k1", { retries = 1, backoff = 0.01 })
      assert.is_table(user)
      local got = arrivals("k1")
      assert.equal(2, #got)
      local key = got[1].headers["idempotency-key"]
      assert.matches("^lua%-users%-%x+$", key)
      assert.equal(#"lua-users-" + 32, #key)
      assert.equal(key, got[2].headers["idempotency-key"])
    end)

    it("is the item's identity: the same update in another call or run, another for anything else", function()
      local function key_of(id, fields, extra)
        env.fake:reset()
        assert.is_table(users.update("keyed", id, fields, env.opts("generic", extra)))
        return arrivals(id)[1].headers["idempotency-key"]
      end
      local k = key_of("k1", { role = "x", email = "a@b.example" })
      assert.equal(k, key_of("k1", { email = "a@b.example", role = "x" })) -- key order does not matter
      local run = users.bulk_update("keyed", { { id = "k1", fields = { role = "x", email = "a@b.example" } } },
                                    env.opts("generic"))
      assert.equal(1, run.succeeded)
      assert.equal(k, arrivals("k1")[1].headers["idempotency-key"])
      assert.not_equal(k, key_of("k1", { role = "y", email = "a@b.example" }))
      assert.not_equal(k, key_of("k2", { role = "x", email = "a@b.example" }))
      assert.not_equal(k, key_of("k1", { role = "x", email = "a@b.example" }, -- another base URL
                                 { base_url = env.fake:tls_base_url("generic"), ca_file = env.fake.ca_file }))
    end)

    it("is never sent by a declaration that names none", function()
      assert.is_table(update("generic", "n1"))
      assert.is_nil(arrivals("n1")[1].headers["idempotency-key"])
    end)
  end)
end)

-- SCIM's requests are idempotent (the declaration says why): a PATCH of
-- replace and remove operations, applied but its answer lost, is sent
-- again and leaves the user as once.
describe("scim: an update applied, its answer lost", function()
  local S = require "spec.support.scim"
  local examples = dofile("spec/support/fake/vendors/scim_examples.lua")
  S.fakes()

  it("is sent again, applied twice to the same end: the user as after one", function()
    local trail = {}
    assert.is_true(registry.get("scim").decl.idempotent)
    S.f:behave("scim_rfc", { ledger = { every = 1 } }) -- each path's first 2xx loses its answer
    local user, err = users.update("scim", examples.BJENSEN_ID, { displayName = "Once", title = users.null },
                                   S.opts("scim_rfc", trail, { retries = 2, backoff = 0.01 }))
    local applications, tail = {}, "/Users/" .. examples.BJENSEN_ID
    for path, n in pairs(S.f:ledger().applications) do
      if path:sub(-#tail) == tail then applications[#applications + 1] = n end
    end
    S.f:behave("scim_rfc", { ledger = false })
    assert.is_table(user, tostring(err))
    assert.same({ 2 }, applications) -- the PATCH applied, dropped, sent again (by libcurl or a retry)
    assert.equal("PATCH 200", trail[#trail])
    local held = S.held("scim_rfc", examples.BJENSEN_ID)
    assert.equal("Once", held.displayName)
    assert.is_nil(held.title)
  end)
end)
