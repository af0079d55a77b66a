-- Every attempt observable (issue 18): on_event (per call, per client, per
-- configure, per bulk run) with OpenTelemetry's HTTP client attribute
-- names, nothing secret, a raising handler harmless; W3C trace context
-- (a child traceparent per attempt); users.metrics() as a table and in
-- Prometheus's text format. spec/observe_nginx_spec.lua does the same
-- inside nginx, with several workers.
local users = require "users"
local env = require "spec.support.env"
local fake = require "spec.support.fake_providers"

local PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

local function collector()
  local list = {}
  return list, function(e) list[#list + 1] = e end
end

local function names(list)
  local out = {}
  for _, e in ipairs(list) do out[#out + 1] = e.name end
  return out
end

local contains = env.contains

-- The series of the duration histogram with these labels, or nil.
local function series(m, labels)
  for _, s in ipairs(m.http_client_request_duration_seconds) do
    local ok = true
    for k, v in pairs(labels) do if s.labels[k] ~= v then ok = false end end
    if ok then return s end
  end
end

describe("every attempt observable", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)
  before_each(function() env.fake:reset() end)

  describe("on_event", function()
    it("gives one event per attempt and per wait, with OpenTelemetry's attribute names", function()
      env.fake:behave("generic", { script = { { status = 503, body = "{}" } } })
      local events, on_event = collector()
      local user = users.update("generic", "u1", { role = "x" }, env.opts("generic", {
        retries = 1, backoff = 0.01, on_event = on_event }))
      assert.is_table(user)
      assert.same({ "request", "answer", "retry", "request", "answer", "outcome" }, names(events))
      local port = tonumber(env.fake:base_url("generic"):match(":(%d+)/"))
      for i, e in ipairs(events) do
        assert.equal("generic", e.provider, i)
        if e.name ~= "outcome" then
          assert.equal("PATCH", e["http.request.method"])
          assert.equal("127.0.0.1", e["server.address"])
          assert.equal(port, e["server.port"])
          assert.equal("/v1/users/{user_id}", e["url.template"])
        end
      end
      assert.equal(1, events[2].attempt)
      assert.equal(503, events[2]["http.response.status_code"])
      assert.equal("503", events[2]["error.type"])
      assert.equal("1.1", events[2]["network.protocol.version"])
      assert.is_true(events[2].duration >= 0 and events[2].duration < 5)
      assert.equal("server_error", events[3]["error.type"])
      assert.is_true(events[3].delay > 0)
      assert.equal(2, events[5].attempt)
      assert.equal(200, events[5]["http.response.status_code"])
      assert.is_nil(events[5]["error.type"])
      assert.is_true(events[6].ok)
      assert.equal(2, events[6].attempts)
    end)

    it("a transport failure's event says its error.type", function()
      local events, on_event = collector()
      local _, err = users.update("generic", "u1", { role = "x" }, { base_url = "http://127.0.0.1:1/x",
        token = "t0k3n-here", on_event = on_event })
      assert.equal("connect", err.code)
      assert.equal("connect", events[2]["error.type"])
      assert.is_nil(events[2]["http.response.status_code"])
      assert.is_false(events[3].ok)
      assert.equal("connect", events[3]["error.type"])
    end)

    it("works per client, per configure and per bulk run; a call's own handler wins", function()
      local by_client, on_client = collector()
      local client = users.new("generic", env.opts("generic", { on_event = on_client }))
      assert.is_table(client:update("u1", { role = "x" }))
      assert.same({ "request", "answer", "outcome" }, names(by_client))
      local by_call, on_call = collector()
      assert.is_table(client:update("u1", { role = "x" }, { on_event = on_call }))
      assert.equal(3, #by_call)
      assert.equal(3, #by_client)
      local configured, on_configured = collector()
      users.configure("paradigm", { on_event = on_configured })
      assert.is_table(users.update("paradigm", 7, { workspaces = { 1 } }, env.opts("paradigm")))
      assert.same({ "request", "answer", "outcome" }, names(configured))
      local in_bulk, on_bulk = collector()
      local report = users.bulk_update("generic", { { id = "a", fields = { role = "x" } },
        { id = "b", fields = { role = "y" } } }, env.opts("generic", { on_event = on_bulk }))
      assert.equal(2, report.succeeded)
      local outcomes = 0
      for _, e in ipairs(in_bulk) do if e.name == "outcome" then outcomes = outcomes + 1 end end
      assert.equal(2, outcomes)
      assert.equal(6, #in_bulk)
    end)

    it("says when a call waits for its budget slot", function()
      local events, on_event = collector()
      -- one slot every 2.1 s: the second call waits, however slow the machine
      local o = env.opts("generic", { rate = 0.5, on_event = on_event, base_url = env.fake:base_url("generic") .. "/" })
      for i = 1, 2 do assert.is_table(users.update("generic", "u" .. i, { role = "x" }, o)) end
      local waits = 0
      for _, e in ipairs(events) do
        if e.name == "wait" then
          waits = waits + 1
          assert.equal("budget", e.waiting_for)
          assert.is_true(e.duration > 0)
        end
      end
      assert.is_true(waits >= 1, "no wait event")
    end)

    it("says when a token is fetched and when it is fetched again after a 401, without a secret", function()
      local events, on_event = collector()
      local o = env.opts("lexful", { key_id = fake.LEXFUL.key_id, key_secret = fake.LEXFUL.key_secret, on_event = on_event,
                                    base_url = env.fake:base_url("lexful") .. "/" })
      o.token = nil
      local v = env.valid.lexful
      assert.is_table(users.update("lexful", v.id, v.fields, o))
      env.fake:reset() -- the server forgets its tokens: a 401, then a new token
      assert.is_table(users.update("lexful", v.id, v.fields, o))
      local tokens = {}
      for _, e in ipairs(events) do if e.name == "token" then tokens[#tokens + 1] = e end end
      assert.equal(2, #tokens)
      assert.is_true(tokens[1].fetched)
      assert.is_false(tokens[1].refreshed)
      assert.is_true(tokens[2].fetched)
      assert.is_true(tokens[2].refreshed)
      assert.is_false(contains(events, fake.LEXFUL.key_secret))
      assert.is_false(contains(events, "eyJ")) -- no JWT
    end)

    it("says no request for one never sent: prepare, dry runs (a token request on the way is sent, and said)", function()
      local events, on_event = collector()
      assert.is_table(users.prepare("generic", "u1", { role = "x" }, env.opts("generic", { on_event = on_event })))
      local report = users.bulk_update("generic", { { id = "u1", fields = { role = "x" } } },
        env.opts("generic", { on_event = on_event, dry_run = true }))
      assert.equal(1, report.succeeded)
      assert.same({}, events)
      local o = env.opts("lexful", { key_id = fake.LEXFUL.key_id, key_secret = fake.LEXFUL.key_secret, on_event = on_event,
                                    base_url = env.fake:base_url("lexful") .. "///" }) -- an account of its own: no token kept
      o.token = nil
      local v = env.valid.lexful
      assert.is_table(users.prepare("lexful", v.id, v.fields, o))
      assert.same({ "request", "answer", "token" }, names(events))
      assert.are_not.equal("PATCH", events[1]["http.request.method"])
      for _, r in ipairs(env.fake:requests()) do assert.are_not.equal("PATCH", r.method) end -- never sent
    end)

    it("a handler that raises never breaks a call, and is said once", function()
      local log = require "users.log"
      local warn, said = log.warn, {}
      log.warn = function(m) said[#said + 1] = m end
      local calls = 0
      local boom = function() calls = calls + 1 error("handler broke") end
      local user = users.update("generic", "u1", { role = "x" }, env.opts("generic", { on_event = boom }))
      local report = users.bulk_update("generic", { { id = "a", fields = { role = "x" } } },
        env.opts("generic", { on_event = boom }))
      log.warn = warn
      assert.is_table(user)
      assert.equal(1, report.succeeded)
      assert.equal(6, calls)
      assert.equal(1, #said)
      assert.matches("handler broke", said[1])
    end)

    it("a handler whose error cannot be made a string never breaks a call", function()
      local log = require "users.log"
      local warn, said = log.warn, {}
      log.warn = function(m) said[#said + 1] = m end
      local bad = setmetatable({}, { __tostring = function() error("tostring broke") end })
      local ok, user, err = pcall(users.update, "generic", "u1", { role = "x" },
        env.opts("generic", { on_event = function() error(bad) end }))
      log.warn = warn
      assert.is_true(ok, tostring(user))
      assert.is_table(user, tostring(err))
      assert.equal(1, #said)
      assert.matches("an on_event handler raised", said[1])
    end)

    it("must be a function", function()
      assert.has_error(function() users.update("generic", "u1", { role = "x" }, { on_event = true }) end)
    end)
  end)

  describe("trace context", function()
    it("sends a child of the traceparent with each attempt: same trace, a new span each", function()
      env.fake:behave("generic", { script = { { status = 503, body = "{}" } } })
      local events, on_event = collector()
      assert.is_table(users.update("generic", "u1", { role = "x" }, env.opts("generic", {
        retries = 1, backoff = 0.01, traceparent = PARENT, on_event = on_event })))
      local reqs = env.fake:requests()
      assert.equal(2, #reqs)
      local spans = {}
      for i, r in ipairs(reqs) do
        local trace_id, span, flags = r.headers.traceparent:match("^00%-(%x+)%-(%x+)%-(%x%x)$")
        assert.equal("4bf92f3577b34da6a3ce929d0e0e4736", trace_id)
        assert.equal(16, #span)
        assert.equal("01", flags)
        assert.are_not.equal("00f067aa0ba902b7", span)
        spans[i] = span
      end
      assert.are_not.equal(spans[1], spans[2])
      assert.equal(spans[1], events[1].span_id)
      assert.equal(spans[2], events[4].span_id)
      assert.equal("4bf92f3577b34da6a3ce929d0e0e4736", events[1].trace_id)
      assert.equal("00f067aa0ba902b7", events[1].parent_span_id)
    end)

    it("makes span ids of 16 hex digits where /dev/urandom cannot be read", function()
      local open, random, original = io.open, math.random, package.loaded["users.trace"]
      -- luacheck: push ignore 122 (the standard library's functions stand in for a while)
      io.open = function(path, ...) if path == "/dev/urandom" then return nil, "no" end return open(path, ...) end
      math.random = function() return 0.999 end -- the largest byte each time
      package.loaded["users.trace"] = nil
      local ok, id = pcall(function() return require("users.trace").span_id() end)
      io.open, math.random, package.loaded["users.trace"] = open, random, original
      -- luacheck: pop
      assert.is_true(ok, id)
      assert.equal("ffffffffffffffff", id)
    end)

    it("sends none without one; refuses one that is not W3C's", function()
      assert.is_table(users.update("generic", "u1", { role = "x" }, env.opts("generic")))
      assert.is_nil(env.fake:last().headers.traceparent)
      assert.is_table(users.update("generic", "u1", { role = "x" }, env.opts("generic", { traceparent = false })))
      for _, bad in ipairs { "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "x",
                             "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                             "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", 42 } do
        assert.has_error(function()
          users.update("generic", "u1", { role = "x" }, env.opts("generic", { traceparent = bad }))
        end)
      end
    end)
  end)

  describe("metrics", function()
    it("counts every attempt by provider, method, server and status, and the retries", function()
      local before = users.metrics()
      local labels = { provider = "generic", http_request_method = "PATCH", server_address = "127.0.0.1" }
      local function count(m, status)
        labels.http_response_status_code = status
        local s = series(m, labels)
        return s and s.count or 0, s
      end
      local ok0, fail0 = count(before, "200"), count(before, "503")
      local function retries(m)
        for _, r in ipairs(m.http_client_retries_total) do
          if r.labels.provider == "generic" and r.labels.server_address == "127.0.0.1" then return r.value end
        end
        return 0
      end
      local r0 = retries(before)
      env.fake:behave("generic", { script = { { status = 503, body = "{}" } } })
      for i = 1, 3 do
        assert.is_table(users.update("generic", "u" .. i, { role = "x" }, env.opts("generic", { retries = 1, backoff = 0.01 })))
      end
      assert.is_table(users.update("generic", "u9", { role = "x" }, env.opts("generic", { metrics = false })))
      local after = users.metrics()
      local ok1, s200 = count(after, "200")
      local fail1, s503 = count(after, "503")
      assert.equal(3, ok1 - ok0)
      assert.equal(1, fail1 - fail0)
      assert.equal("503", s503.labels.error_type)
      assert.equal("", s200.labels.error_type)
      assert.equal(1, retries(after) - r0)
      assert.is_true(s200.sum > 0)
      local last = 0
      for _, b in ipairs(s200.buckets) do
        assert.is_true(b.count >= last)
        last = b.count
      end
      assert.is_true(last <= s200.count)
      assert.equal(10, s200.buckets[#s200.buckets].le)
    end)

    it("gives Prometheus's text format", function()
      assert.is_table(users.update("generic", "u1", { role = "x" }, env.opts("generic")))
      local text = users.metrics("prometheus")
      assert.matches("# TYPE http_client_request_duration_seconds histogram\n", text, 1, true)
      assert.matches("# TYPE http_client_retries_total counter\n", text, 1, true)
      local labels = 'provider="generic",http_request_method="PATCH",server_address="127.0.0.1",'
        .. 'http_response_status_code="200",error_type=""'
      local inf = text:match("http_client_request_duration_seconds_bucket{" .. labels:gsub("%p", "%%%0")
        .. ',le="%+Inf"} (%d+)\n')
      local total = text:match("http_client_request_duration_seconds_count{" .. labels:gsub("%p", "%%%0") .. "} (%d+)\n")
      assert.is_not_nil(inf, text)
      assert.equal(inf, total)
      assert.matches('le="0.005"', text, 1, true)
      assert.matches("http_client_request_duration_seconds_sum{" .. labels, text, 1, true)
      assert.has_error(function() users.metrics("json") end)
    end)
  end)
end)
