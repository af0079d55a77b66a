-- One lifecycle (users/lifecycle.lua) for update and bulk runs (issue 18):
-- the same outcome from both for a timeout past the deadline, and a
-- provider's update declared as steps of several requests (the hook of
-- lua/README, "A provider's update as steps"), run by update, prepare and
-- bulk runs alike, with its retries, its attempts and its errors.
local users = require "users"
local env = require "spec.support.env"

local function deadline_outcome(err)
  return { kind = err.kind, code = err.code, waiting_for = err.waiting_for, retryable = err.retryable,
           message = err.message, attempts = err.attempts }
end

-- A provider whose update is a GET of the user, then a PATCH with its ETag
-- in If-Match; a 412 goes back to the GET, at most twice (SCIM's shape).
local PLANNED = {
  name = "planned", title = "Planned", method = "PATCH", path = "/v1/users/{user_id}",
  params = { { "user_id", type = "string", min_length = 1, max_length = 255 } },
  fields = { { "role", type = "string" }, { "email", type = "string" } },
  plan = function(call, user, res)
    local s = call.state
    if call.step == 1 then -- the fields are checked before anything is sent
      local req, err = call:request()
      if not req then return "fail", err end
      s.refetches, s.phase = 0, nil
    end
    local stale = user == nil and s.phase == "put" and res.status == 412
    if call.step == 1 or (stale and s.refetches < 2) then
      if stale then s.refetches = s.refetches + 1 end
      s.phase = "get"
      return "send", { method = "GET", url = call:url("/v1/users/{user_id}"), template = "/v1/users/{user_id}" }
    end
    if stale then
      return "fail", call:error { code = "conflict", status = 412, message = "the user kept changing" }
    end
    if user == nil then return "fail", res end
    if s.phase == "get" then
      s.phase = "put"
      local req, err = call:request()
      if not req then return "fail", err end
      req.headers = { ["If-Match"] = res.headers.etag or "none" }
      return "send", req
    end
    return "done", user, res
  end,
}

-- A canned answer. (nginx itself answers 412 to an If-Match that its
-- response's ETag does not match: a PATCH's answer carries the ETag asked.)
local function got(status, etag)
  return { status = status, headers = { ["Content-Type"] = "application/json", ETag = etag },
           body = status == 200 and '{"id":"u1","role":"old"}' or '{"error":"precondition_failed","message":"stale"}' }
end

describe("one lifecycle", function()
  setup(function()
    package.preload["users.providers.planned"] = function() return PLANNED end
    env.start()
  end)
  teardown(function()
    package.preload["users.providers.planned"] = nil
    env.stop()
  end)
  before_each(function() env.fake:reset() end)

  -- No spec here but the first is about timeouts: one that only a hang
  -- reaches (a plan's retried attempt would take its script's next answer).
  local function planned_opts(extra)
    local o = { base_url = env.fake:base_url("generic"), token = "test-token", timeout = 60 }
    for k, v in pairs(extra or {}) do o[k] = v end
    return o
  end

  it("update and a bulk run give the same error for a transport timeout past the deadline", function()
    env.fake:behave("generic", { delay = 3 }) -- far past the deadline, however slow the machine
    local o = env.opts("generic", { deadline = 0.8, retries = 0 })
    local _, err = users.update("generic", "u1", { role = "x" }, o)
    local seen
    o.on_result = function(_, _, e) seen = e end
    local report = users.bulk_update("generic", { { id = "u1", fields = { role = "x" } } }, o)
    assert.equal(1, report.failed)
    assert.same(deadline_outcome(err), deadline_outcome(seen))
    assert.equal("timeout", seen.code)
    assert.equal("answer", seen.waiting_for)
    assert.matches("the deadline %(0%.8 s%) ran out while waiting for the provider's answer", seen.message)
  end)

  it("runs a provider's plan of several requests: GET, then PATCH with If-Match", function()
    env.fake:behave("generic", { script = { got(200, '"v1"'), got(200, '"v1"') } })
    local user, res = users.update("planned", "u1", { role = "admin" }, planned_opts())
    assert.is_table(user, tostring(res))
    assert.equal("u1", user.id)
    assert.equal(2, res.attempts)
    local reqs = env.fake:requests()
    assert.equal(2, #reqs)
    assert.equal("GET", reqs[1].method)
    assert.equal("PATCH", reqs[2].method)
    assert.equal('"v1"', reqs[2].headers["if-match"])
    assert.equal("Bearer test-token", reqs[1].headers["authorization"])
    assert.equal('{"role":"admin"}', reqs[2].body)
    assert.equal("application/json", reqs[2].headers["content-type"])
  end)

  it("goes back to the GET after a 412, at most twice, then fails as the plan says", function()
    env.fake:behave("generic", { script = {
      got(200, '"v1"'), got(412), got(200, '"v2"'), got(412), got(200, '"v3"'), got(412) } })
    local user, err = users.update("planned", "u1", { role = "admin" }, planned_opts())
    assert.is_nil(user)
    assert.equal("conflict", err.code)
    assert.equal(412, err.status)
    assert.equal(6, err.attempts)
    local etags = {}
    for _, r in ipairs(env.fake:requests()) do etags[#etags + 1] = r.method .. " " .. (r.headers["if-match"] or "") end
    assert.same({ "GET ", 'PATCH "v1"', "GET ", 'PATCH "v2"', "GET ", 'PATCH "v3"' }, etags)
  end)

  it("retries each request of a plan on its own: a 503 on the PATCH is retried, the GET is not sent again", function()
    env.fake:behave("generic", { script = { got(200, '"v1"'), { status = 503, body = "{}" }, got(200, '"v1"') } })
    local user, res = users.update("planned", "u1", { role = "admin" }, planned_opts { retries = 1, backoff = 0.01 })
    assert.is_table(user, tostring(res))
    assert.equal(3, res.attempts)
    local methods = {}
    for _, r in ipairs(env.fake:requests()) do methods[#methods + 1] = r.method end
    assert.same({ "GET", "PATCH", "PATCH" }, methods)
  end)

  it("a plan's invalid fields fail before anything is sent, its runs in bulk are counted as any", function()
    local _, err = users.update("planned", "u1", { role = 5 }, planned_opts())
    assert.equal("invalid", err.kind)
    assert.same({}, env.fake:requests())
    env.fake:behave("generic", { script = { got(200, '"a"'), got(200, '"a"'), got(200, '"b"'), got(200, '"b"') } })
    local report = users.bulk_update("planned", { { id = "a", fields = { role = "x" } }, { id = "b", fields = { role = "y" } } },
      planned_opts { concurrency = 1 })
    assert.equal(2, report.succeeded)
    assert.equal(4, #env.fake:requests())
  end)

  it("the default plan, declared, does what a declaration without one does", function()
    local DEFAULT = {}
    for k, v in pairs(require "users.providers.generic") do DEFAULT[k] = v end
    DEFAULT.name, DEFAULT.plan = "defaulted", require("users.plan").default
    package.preload["users.providers.defaulted"] = function() return DEFAULT end
    local user, res = users.update("defaulted", "u1", { role = "admin" }, planned_opts())
    package.preload["users.providers.defaulted"] = nil
    assert.is_table(user, tostring(res))
    assert.equal(1, res.attempts)
    local plain = env.fake:requests()[1]
    assert.is_table(users.update("generic", "u1", { role = "admin" }, planned_opts()))
    local own = env.fake:requests()[2]
    assert.equal(own.method .. " " .. own.uri .. " " .. own.body, plain.method .. " " .. plain.uri .. " " .. plain.body)
  end)

  it("prepare gives a plan's first request; a plan that raises fails its item, never the caller", function()
    local req = assert(users.prepare("planned", "u1", { role = "x" }, planned_opts()))
    assert.equal("GET", req.method)
    assert.matches("/generic/v1/users/u1$", req.url)
    PLANNED.plan, PLANNED.saved = function() error("plan broke") end, PLANNED.plan
    local ok, user, err = pcall(users.update, "planned", "u2", { role = "x" }, planned_opts())
    PLANNED.plan, PLANNED.saved = PLANNED.saved, nil
    assert.is_true(ok)
    assert.is_nil(user)
    assert.equal("invalid", err.kind)
    assert.matches("plan broke", err.message)
  end)

  -- A plan's moves that cannot be carried out fail the item (kind
  -- "invalid"), in update and bulk runs alike: nothing is sent, nothing raises.
  local BAD_MOVES = {
    { "json that is not UTF-8", "cannot encode the request's json",
      function(call) return "send", { method = "PUT", url = call:url("/v1/users/{user_id}"), json = { role = "\255" } } end },
    { "a url that call:url refused (nil in a table constructor)", "invalid user id", id = "",
      function(call) return "send", { method = "GET", url = call:url("/v1/users/{user_id}") } end },
    { "a path with a parameter the provider does not have", "names {nope}, which is not a parameter",
      function(call) return "send", { method = "GET", url = call:url("/v1/users/{user_id}/{nope}") } end },
    { "no url nor path", "without url or path", function() return "send", { method = "GET" } end },
    { "no method", "without a method", function(call) return "send", { url = call:url(), body = "{}" } end },
    { "a method with CR LF", "without a method",
      function(call) return "send", { method = "GET /x HTTP/1.1\r\nX-A: b\r\n", url = call:url() } end },
    { "a url with user information", "not an absolute http",
      function() return "send", { method = "GET", url = "http://evil@127.0.0.1:1/x" } end },
    { "a body table", "body that is not a string",
      function(call) return "send", { method = "PUT", url = call:url(), body = { role = "x" } } end },
    { "a content type with CR LF", "bad content_type",
      function(call) return "send", { method = "PUT", url = call:url(), body = "{}", content_type = "a\r\nX: y" } end },
    { "a wait without seconds", "wait without a number", function() return "wait" end },
    { "a wait without end", "wait without a number", function() return "wait", math.huge end },
    { "done without a user", "done without a user", function() return "done" end },
    { "done with a response that is a string", "response that is a string", function() return "done", {}, "ok" end },
    { "a verb it does not know", "returned 'sent'", function() return "sent", {} end },
  }

  for _, case in ipairs(BAD_MOVES) do
    local what, message, first = case[1], case[2], case[3]
    it("a plan's move that cannot be carried out fails its item: " .. what, function()
      local plan = PLANNED.plan
      PLANNED.plan = function(call, user, res)
        if call.step == 1 then return first(call) end
        return plan(call, user, res)
      end
      local id = case.id or "u1"
      local ok, user, err = pcall(users.update, "planned", id, { role = "x" }, planned_opts())
      local rok, report = pcall(users.bulk_update, "planned", { { id = id, fields = { role = "x" } } }, planned_opts())
      PLANNED.plan = plan
      assert.is_true(ok, tostring(user))
      assert.is_nil(user)
      assert.equal("invalid", err.kind)
      assert.matches(message, err.message, 1, true)
      assert.is_true(rok, tostring(report))
      assert.equal(1, report.failed)
      assert.equal("invalid", report.failures[1].err.kind)
      assert.same({}, env.fake:requests())
    end)
  end
end)
