-- Hostile servers (issue 9): a server that breaks HTTP on purpose
-- (spec/support/fake/hostile.lua writes raw bytes), and the documented
-- outcome of each case, through update and bulk_update alike.
local users = require "users"
local core = require "users.core"
local env = require "spec.support.env"

local function opts(case, extra)
  local o = { base_url = env.fake.url .. "/hostile/" .. case, token = "test-token", timeout = 1,
              retries = 0, backoff = 0.01 }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local function update(case, extra)
  local t0 = core.now()
  local user, err = users.update("generic", "u1", { role = "x" }, opts(case, extra))
  return user, err, core.now() - t0
end

local function bulk(case, extra)
  local got
  local o = opts(case, extra)
  o.on_result = function(_, user, err) got = { user, err } end
  local report = users.bulk_update("generic", { { id = "u1", fields = { role = "x" } } }, o)
  assert.equal(1, report.total)
  return got[1], got[2], report
end

describe("hostile servers", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)

  it("headers ended by bare LFs, the block exactly filling a buffer: read right", function()
    local user, err = update("bare-lf")
    assert.is_table(user, tostring(err))
    assert.equal("u1", user.id)
    assert.equal("u1", (bulk("bare-lf")).id)
  end)

  it("endless 1xx answers end at the total timeout", function()
    local user, err, took = update("endless-1xx")
    assert.is_nil(user)
    assert.equal("timeout", err.code)
    assert.is_true(took < 10, ("took %.1f s"):format(took)) -- the server would go on for 20 s
    local _, berr = bulk("endless-1xx")
    assert.equal("timeout", berr.code)
  end)

  it("a slowloris answer ends at the total timeout", function()
    local user, err, took = update("slowloris")
    assert.is_nil(user)
    assert.equal("timeout", err.code)
    assert.is_true(took < 10, ("took %.1f s"):format(took)) -- the server would go on for 20 s
  end)

  it("a truncated body is a retryable reset, not a short user", function()
    local user, err = update("truncated")
    assert.is_nil(user)
    assert.equal("transport", err.kind)
    assert.equal("reset", err.code)
    assert.is_true(err.retryable)
    local _, berr = bulk("truncated")
    assert.equal("reset", berr.code)
  end)

  it("a connection closed without an answer is a reset", function()
    local _, err = update("reset")
    assert.equal("reset", err.code)
    local _, berr = bulk("reset")
    assert.equal("reset", berr.code)
  end)

  it("a garbage Retry-After is ignored: the back-off decides", function()
    local user, err, took = update("garbage-retry", { retries = 1 })
    assert.is_nil(user)
    assert.equal("rate_limited", err.code)
    assert.is_nil(err.retry_after)
    assert.equal(2, err.attempts)
    assert.is_true(took < 10) -- a back-off of 0.01 s, not a wait the garbage made up
    local _, berr, report = bulk("garbage-retry", { retries = 1 })
    assert.equal("rate_limited", berr.code)
    assert.equal(1, report.retried)
  end)

  it("redirects to other schemes are reported, never followed", function()
    for _, scheme in ipairs { "file", "ftp", "gopher", "javascript" } do
      local user, err = update("redirect-" .. scheme)
      assert.is_nil(user)
      assert.equal("redirect", err.code)
      assert.equal(302, err.status)
      assert.matches("not followed", err.message)
      local _, berr = bulk("redirect-" .. scheme)
      assert.equal("redirect", berr.code)
    end
  end)

  it("40 000 repeats of one header are joined, in linear time", function()
    local user, res = users.update("generic", "u1", { role = "x" }, opts("many-headers", { timeout = 5 }))
    assert.is_table(user, tostring(res))
    assert.equal(40000 * 3 - 2, #res.headers.a)
  end)
end)
