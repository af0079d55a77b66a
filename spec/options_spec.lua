-- Options are checked at the front door, against the provider: a misuse
-- raises at the caller's own line in update, prepare, bulk_update, new and
-- configure alike; headers merge case-insensitively and every value that
-- becomes a header is checked in one place.
local users = require "users"
local env = require "spec.support.env"

-- The message a call raises, which must point at this file (the caller).
local function raised(f)
  local ok, msg = pcall(f)
  assert.is_false(ok, "did not raise")
  assert.matches("options_spec%.lua:%d+: bad argument", msg)
  return msg
end

describe("options", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)
  before_each(function() env.fake:reset() end)

  local v = env.valid.lexful
  local function calls(opts)
    return {
      function() users.update("lexful", v.id, v.fields, env.opts("lexful", opts)) end,
      function() users.prepare("lexful", v.id, v.fields, env.opts("lexful", opts)) end,
      function() users.bulk_update("lexful", { { id = v.id, fields = v.fields } }, env.opts("lexful", opts)) end,
      function() users.new("lexful", opts) end,
      function() users.configure("lexful", opts) end,
    }
  end

  it("an encoding the provider does not take raises at the caller's line, everywhere", function()
    for _, call in ipairs(calls { encoding = "form" }) do
      assert.matches("option 'encoding' is 'form', which lexful does not take %(it takes: json%)", raised(call))
    end
    assert.same({}, env.fake:requests())
  end)

  it("numbers out of range raise instead of overflowing a C cast", function()
    local bad = {
      { timeout = math.huge }, { timeout = 1e16 }, { timeout = 0 / 0 }, { timeout = -1 },
      { connect_timeout = math.huge }, { max_body = math.huge }, { max_body = 0.5 }, { max_body = 2 ^ 31 },
      { retries = 1.5 }, { retries = 1e9 }, { backoff = -1 }, { backoff = math.huge },
    }
    for _, opts in ipairs(bad) do
      for _, call in ipairs(calls(opts)) do raised(call) end
    end
    assert.same({}, env.fake:requests())
    assert.is_table(users.update("lexful", v.id, v.fields, env.opts("lexful", { timeout = 86400, max_body = 2 ^ 30 })))
  end)

  it("a transport that lacks part of the contract raises", function()
    local msg = raised(function()
      users.update("generic", "u1", { role = "x" }, { transport = { send = function() end } })
    end)
    assert.matches("needs a function 'session'", msg)
  end)

  it("a caller's header replaces ours whatever its case, sent once", function()
    local o = env.opts("generic", { headers = {
      authorization = "Bearer test-token", ["content-type"] = "application/json; charset=utf-8",
      accept = "application/vnd.api+json, application/json", ["USER-AGENT"] = "tool/1" } })
    assert.is_table(users.update("generic", "u1", { role = "x" }, o))
    local h = env.fake:last().headers
    assert.equal("Bearer test-token", h.authorization)
    assert.equal("application/json; charset=utf-8", h["content-type"])
    assert.equal("application/vnd.api+json, application/json", h.accept)
    assert.equal("tool/1", h["user-agent"])
    local req = users.prepare("generic", "u1", { role = "x" }, o)
    local names = {}
    for k in pairs(req.headers) do names[#names + 1] = k:lower() end
    table.sort(names)
    assert.same({ "accept", "authorization", "content-type", "user-agent" }, names)
  end)

  it("framing headers, empty values and a user agent with CR or LF are refused, nothing sent", function()
    local bad = {
      { headers = { ["Content-Length"] = "3" } }, { headers = { ["transfer-encoding"] = "chunked" } },
      { headers = { Accept = "" } }, { headers = { ["User-Agent"] = " " } },
      { user_agent = "x\r\nX-Injected: 1" }, { user_agent = "x\0" }, { user_agent = "" },
    }
    for _, extra in ipairs(bad) do
      local o = env.opts("generic", extra)
      local user, err = users.update("generic", "u1", { role = "x" }, o)
      assert.is_nil(user)
      assert.equal("invalid", err.kind)
      local req, perr = users.prepare("generic", "u1", { role = "x" }, o)
      assert.is_nil(req)
      assert.equal(err.message, perr.message)
      local report = users.bulk_update("generic", { { id = "u1", fields = { role = "x" } } }, o)
      assert.equal(1, report.failed)
      assert.equal(err.message, report.failures[1].err.message)
    end
    assert.same({}, env.fake:requests())
  end)

  describe("changed between calls with the same table", function()
    local function sent() return env.fake:last().headers end

    it("a token, a header or a default changed between calls is what the next call sends", function()
      local o = env.opts("generic", { headers = { ["X-Run"] = "1" } })
      local function send(opts) users.update("generic", "u1", { role = "x" }, opts); return sent() end
      for _ = 1, 3 do assert.equal("Bearer test-token", send(o).authorization) end
      o.token = "second-token"
      assert.equal("Bearer second-token", send(o).authorization)
      o.token = "test-token"
      o.headers["X-Run"] = "2"
      assert.equal("2", send(o)["x-run"])
      o.headers["X-Other"] = "y"
      assert.equal("y", send(o)["x-other"])
      o.user_agent = "tool/2"
      assert.equal("tool/2", send(o)["user-agent"])
      local c = users.new("generic", { token = "client-token", base_url = o.base_url })
      for _ = 1, 3 do c:update("u1", { role = "x" }) end
      assert.equal("Bearer client-token", sent().authorization)
      users.configure("generic", { user_agent = "configured/1" }) -- this file's last use of generic's defaults
      c:update("u1", { role = "x" })
      assert.equal("configured/1", sent()["user-agent"])
    end)

    it("a table inside the options changed between calls is what the next call resolves", function()
      local entry = require("users.registry").get("generic")
      local options = require "users.options"
      local o = env.opts("generic", { headers = { ["X-Run"] = "1" } })
      local first = options.for_call(entry, nil, nil, o, "update", 4)
      assert.equal(first, options.for_call(entry, nil, nil, o, "update", 4)) -- the same table: resolved once
      o.headers["X-Run"] = "2"
      local second = options.for_call(entry, nil, nil, o, "update", 4)
      assert.not_equal(first, second)
      assert.equal(second, options.for_call(entry, nil, nil, o, "update", 4))
      o.headers["X-Other"] = "y"
      assert.not_equal(second, options.for_call(entry, nil, nil, o, "update", 4))
    end)

    it("a client and users.configure keep their headers when the caller changes the table afterwards", function()
      local template = { ["X-Tenant"] = "a" }
      local a = users.new("generic", { token = "test-token", base_url = env.fake:base_url("generic"), headers = template })
      template["X-Tenant"] = "b" -- the template, made ready for the next tenant
      assert.is_table(a:update("u1", { role = "x" }))
      assert.equal("a", sent()["x-tenant"])
      local shared = { ["X-Configured"] = "1" }
      users.configure("generic", { headers = shared })
      shared["X-Configured"] = "2"
      assert.is_table(a:update("u1", { role = "x" }))
      assert.equal("a", sent()["x-tenant"])
      assert.is_table(users.update("generic", "u1", { role = "x" }, env.opts("generic")))
      assert.equal("1", sent()["x-configured"])
      users.configure("generic", { headers = {} })
    end)

    it("a value made bad between calls raises, and sends nothing", function()
      local o = env.opts("generic")
      for _ = 1, 3 do assert.is_table(users.update("generic", "u1", { role = "x" }, o)) end
      env.fake:reset()
      o.timeout = -1
      assert.matches("option 'timeout'", raised(function() users.update("generic", "u1", { role = "x" }, o) end))
      o.timeout, o.colour = 5, "red"
      assert.matches("unknown option 'colour'", raised(function() users.update("generic", "u1", { role = "x" }, o) end))
      assert.same({}, env.fake:requests())
    end)

    it("each call's deadline counts from that call", function()
      local o = env.opts("generic", { deadline = 1.5 })
      for _ = 1, 3 do assert.is_table(users.update("generic", "u1", { role = "x" }, o)) end
      require("users.core").sleep(1.6)
      env.fake:behave("generic", { delay = 0.1, times = 1 })
      assert.is_table(users.update("generic", "u1", { role = "x" }, o))
      env.fake:behave("generic", { delay = 5, times = 1 })
      local user, err = users.update("generic", "u1", { role = "x" }, o)
      assert.is_nil(user)
      assert.equal("timeout", err.code)
    end)
  end)
end)
