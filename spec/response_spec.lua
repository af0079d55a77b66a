-- One response policy (users/response.lua) for users.update and
-- users.bulk_update: the same answers, fed to both over real HTTP, end in
-- the same outcome (the same user or the same err, after the same number
-- of requests), and response.judge decides each case as documented.
local users = require "users"
local response = require "users.response"
local registry = require "users.registry"
local env = require "spec.support.env"

local JSON = { ["Content-Type"] = "application/json" }
local HTML = { ["Content-Type"] = "text/html; charset=UTF-8" }
local PAGE = "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"

local function lexful_keys()
  local f = env.fake
  return { base_url = f:base_url("lexful"), account_id = env.ACCOUNT, timeout = 5,
           key_id = "test-key-id", key_secret = "test-key-secret" }
end

-- Each case: a provider, what the fake answers (steps of a script; `pass`
-- lets the vendor answer), options, and what the outcome must be.
local cases = {
  { "a 200 with the user", "generic", { { pass = true } }, {}, { ok = true } },
  { "a 204 without a body", "generic", { { status = 204, body = "" } }, {}, { ok = true } },
  { "lancepilot's 422", "lancepilot",
    { { status = 422, headers = JSON, body = '{"message":"The email has already been taken.",'
        .. '"errors":{"email":["The email has already been taken."]}}' } }, {},
    { code = "validation_error", status = 422, retryable = false } },
  { "lexful's 400, its documented validation error", "lexful",
    { { status = 400, headers = JSON, body = '{"status":400,"message":"Invalid email","error_id":"e1",'
        .. '"error_code":"VALIDATION","developer_message":"email: bad"}' } }, {},
    { code = "validation_error", status = 400, retryable = false } },
  { "generic's 422", "generic",
    { { status = 422, headers = JSON, body = '{"error":"validation_error","message":"Invalid",'
        .. '"details":{"email":["is taken"]}}' } }, {},
    { code = "validation_error", status = 422 } },
  { "activepieces' 400", "activepieces",
    { { status = 400, headers = JSON, body = '{"statusCode":400,"code":"FST_ERR_VALIDATION",'
        .. '"message":"body/status must be equal to one of the allowed values"}' } }, {},
    { code = "validation_error", status = 400 } },
  { "paradigm's 400 (Django REST Framework)", "paradigm",
    { { status = 400, headers = JSON, body = '{"workspaces":["Invalid pk \\"9\\" - object does not exist."]}' } },
    {}, { code = "validation_error", status = 400 } },
  { "an HTML 502 page from a gateway", "generic", { { status = 502, headers = HTML, body = PAGE } }, {},
    { code = "server_error", status = 502, retryable = true, body = PAGE } },
  { "a JSON-looking body that says it is text", "generic",
    { { status = 500, headers = { ["Content-Type"] = "text/plain" }, body = '{"error":"x"}' } }, {},
    { code = "server_error", body = '{"error":"x"}' } },
  { "an HTML 200", "generic", { { status = 200, headers = HTML, body = PAGE } }, {},
    { kind = "decode", code = "bad_response", status = 200 } },
  { "a 401 without a token to refresh", "generic", { { pass = true } }, { token = "wrong" },
    { code = "unauthorized", status = 401, retryable = false, requests = 1 } },
  { "a 401 with a token that can be fetched again", "lexful",
    { { status = 401, headers = JSON, body = '{"status":401,"message":"expired"}' }, { pass = true } },
    "keys", { ok = true, requests = 3 } },
  { "a 429 with Retry-After in seconds", "generic",
    { { status = 429, headers = { ["Retry-After"] = "7" }, body = "{}" } }, {},
    { code = "rate_limited", status = 429, retryable = true, retry_after = 7 } },
  { "a 429 with Retry-After as an HTTP-date", "generic",
    -- made when the case runs (steps), each path its own, 30 s ahead: read
    -- as 20 s or more ("about 30") unless 10 s pass between the two
    { { status = 429, headers = { ["Retry-After"] = function()
        return os.date("!%a, %d %b %Y %H:%M:%S GMT", os.time() + 30) end }, body = "{}" } }, {},
      { code = "rate_limited", retryable = true } },
  { "a 429 then the user, with one retry", "generic",
    { { status = 429, headers = { ["Retry-After"] = "1" }, body = "{}" }, { pass = true } }, { retries = 1 },
    { ok = true, requests = 2 } },
  { "a 503 then the user, with one retry", "generic",
    { { status = 503, body = "{}" }, { pass = true } }, { retries = 1 }, { ok = true, requests = 2 } },
  { "a 500 twice, with one retry", "generic",
    { { status = 500, body = "{}" }, { status = 500, body = "{}" } }, { retries = 1 },
    { code = "server_error", attempts = 2, requests = 2 } },
  -- libcurl sends once more, by itself, when a kept-alive connection closes
  -- before any answer: how many requests the server saw depends on whether
  -- the path reused a connection, so that count is not compared here.
  { "a dropped connection", "generic", { { drop = true }, { drop = true } }, {},
    { kind = "transport", code = "reset" }, { requests = true } },
  { "a server slower than the timeout", "generic", { { delay = 1 } }, { timeout = 0.3 },
    { kind = "transport", code = "timeout", retryable = true } },
  { "a refused connection", "generic", nil, { base_url = "http://127.0.0.1:1" },
    { kind = "transport", code = "connect", requests = 0 } },
}

-- What an outcome is made of, the same whichever path produced it.
local function outcome(user, err, requests)
  if user ~= nil then return { ok = true, id = type(user) == "table" and user.id or nil, requests = requests } end
  return {
    ok = false, kind = err.kind, code = err.code, status = err.status,
    message = err.message:gsub("%d+ milliseconds", "N milliseconds"):gsub("after %d+ ms", "after N ms"),
    retryable = err.retryable, attempts = err.attempts, fields = err.fields,
    body = err.body, requests = requests,
    -- an HTTP-date is read against the clock: the two paths may be a second apart
    retry_after = err.retry_after and (err.retry_after >= 20 and "about 30" or err.retry_after),
  }
end

local function options(name, extra)
  local o = extra == "keys" and lexful_keys() or env.opts(name, { backoff = 0.01 })
  o.retries = 0
  for k, v in pairs(extra ~= "keys" and extra or {}) do o[k] = v end
  return o
end

-- The steps for the fake, a header given as a function made now.
local function script(name, steps)
  env.fake:reset()
  if not steps then return end
  local now = {}
  for i, step in ipairs(steps) do
    now[i] = {}
    for k, v in pairs(step) do now[i][k] = v end
    if step.headers then
      now[i].headers = {}
      for k, v in pairs(step.headers) do now[i].headers[k] = type(v) == "function" and v() or v end
    end
  end
  env.fake:behave(name, { script = now })
end

local function via_update(name, steps, extra)
  local v = env.valid[name]
  if extra == "keys" then users.update(name, v.id, v.fields, options(name, extra)) end -- a token first
  script(name, steps)
  local user, err = users.update(name, v.id, v.fields, options(name, extra))
  return outcome(user, err, #env.fake:requests())
end

local function via_bulk(name, steps, extra)
  local v = env.valid[name]
  if extra == "keys" then users.update(name, v.id, v.fields, options(name, extra)) end
  script(name, steps)
  local got = {}
  local o = options(name, extra)
  o.on_result = function(_, user, err) got[#got + 1] = { user, err } end
  local report = users.bulk_update(name, { { id = v.id, fields = v.fields } }, o)
  assert.equal(1, #got)
  assert.equal(1, report.succeeded + report.failed)
  return outcome(got[1][1], got[1][2], #env.fake:requests())
end

describe("one response policy", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)

  for _, case in ipairs(cases) do
    local what, name, steps, extra, want, unstable = case[1], case[2], case[3], case[4], case[5], case[6]
    it(what .. ": update and bulk_update decide the same", function()
      local single = via_update(name, steps, extra)
      local bulk = via_bulk(name, steps, extra)
      for k in pairs(unstable or {}) do single[k], bulk[k] = nil, nil end
      assert.same(single, bulk)
      for k, v in pairs(want) do assert.equal(v, single[k], k) end
      if want.ok == nil then assert.is_false(single.ok) end
      if want.code == "rate_limited" then assert.is_not_nil(single.retry_after) end
    end)
  end
end)

describe("response.judge", function()
  local generic = registry.get("generic")
  local lexful = registry.get("lexful")
  local o = { retries = 2, backoff = 0.5 }
  local function res(status, body, headers)
    return { status = status, body = body or "", headers = headers or {} }
  end

  it("a 2xx is done, with its decoded body", function()
    local v = response.judge(generic, o, 1, false, res(200, '{"id":"u1"}'))
    assert.equal("done", v.action)
    assert.equal("u1", v.user.id)
  end)

  it("a retryable answer is retried while attempts remain, then fails", function()
    local v = response.judge(generic, o, 2, false, res(503, "{}"))
    assert.equal("retry", v.action)
    assert.is_true(v.delay >= 0.5 and v.delay <= 1.0, tostring(v.delay))
    v = response.judge(generic, o, 3, false, res(503, "{}"))
    assert.equal("fail", v.action)
    assert.equal(3, v.err.attempts)
  end)

  it("a retry waits at least what Retry-After asks", function()
    local v = response.judge(generic, o, 1, false, res(429, "{}", { ["retry-after"] = "12" }))
    assert.equal("retry", v.action)
    assert.equal(12, v.delay)
  end)

  it("a transport failure is an err of kind transport", function()
    local v = response.judge(generic, o, 3, false, nil, "Connection refused", "connect", false)
    assert.equal("fail", v.action)
    assert.equal("transport", v.err.kind)
    assert.equal("connect", v.err.code)
  end)

  it("a 401 asks for a refresh only where a token can be fetched, once", function()
    local keys = { retries = 0, backoff = 0.5, key_id = "k", key_secret = "s" }
    assert.equal("refresh", response.judge(lexful, keys, 1, false, res(401, "{}")).action)
    assert.equal("fail", response.judge(lexful, keys, 1, true, res(401, "{}")).action)
    local token = { retries = 0, backoff = 0.5, token = "t" }
    assert.equal("fail", response.judge(lexful, token, 1, false, res(401, "{}")).action)
  end)

  it("decodes an error body only when it is JSON; it redacts nothing (the outcome is, once, as it leaves)", function()
    local v = response.judge(generic, { retries = 0, token = "sekrit-token" }, 1, false,
      res(403, '{"message":"sekrit-token is not allowed"}', { ["content-type"] = "application/json" }))
    assert.equal("forbidden", v.err.code)
    assert.equal("sekrit-token is not allowed", v.err.body.message) -- spec/secrets_spec.lua: never outside
    v = response.judge(generic, o, 1, false, res(404, '{"x":1}', { ["content-type"] = "text/plain" }))
    assert.equal('{"x":1}', v.err.body)
  end)
end)
