-- Every attempt observable inside nginx (issue 18), against Debian's nginx
-- configured by examples/nginx/ with 4 workers: the counts of every worker
-- served by any one of them at /metrics (each flushes to a shared dict,
-- no lock per request), the incoming request's traceparent continued in
-- each provider request, and on_event over the cosocket transport.
local env = require "spec.support.env"
local core = require "users.core"
local nginx_host = require "spec.support.nginx_host"

local read = env.read

local PARENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
local PARENT = "00-" .. PARENT_TRACE .. "-b7ad6b7169203331-01"

-- Each answer says which worker made it; /observed runs one update with an
-- on_event handler and answers the events.
local SERVER = [[header_filter_by_lua_block { ngx.header["X-Worker"] = ngx.worker.pid() }
        location = /observed { content_by_lua_block {
            local users = require "users"
            local core = require "users.core"
            local seen = {}
            local user, err = users.update("generic", "obs1", { role = "x" }, {
              token = "test-token", retries = 1, backoff = 0.01,
              on_event = function(e) seen[#seen + 1] = e end })
            ngx.say(core.json_encode { ok = user ~= nil, err = err and tostring(err) or core.null, events = seen })
        } }
        location = /yielding { content_by_lua_block {
            local users = require "users"
            local core = require "users.core"
            local mode, n = ngx.var.arg_mode, 0
            local function pause() ngx.sleep(0.001) end
            local opts = { token = "test-token",
              on_event = function() n = n + 1; if mode == "event" then pause() end end }
            local user, err = users.update("generic", "y0", { role = "x" }, opts)
            local items = {}
            for i = 1, 6 do items[i] = { id = "y" .. i, fields = { role = "x" } } end
            opts.concurrency, opts.on_result = 3, mode == "result" and pause or nil
            local report = users.bulk_update("generic", items, opts)
            ngx.say(core.json_encode { ok = user ~= nil, err = err and tostring(err) or core.null,
              succeeded = report.succeeded, failures = report.failures, events = n })
        } }]]

-- n PATCHes through the host, `parallel` at once, with the parent's
-- traceparent; returns { { status, worker }, ... }.
local function fire(host, n, parallel)
  local cfg = os.tmpname()
  local f = assert(io.open(cfg, "w"))
  for i = 1, n do
    if i > 1 then f:write("next\n") end
    f:write(('url = "%s/users/generic/obs%d"\nrequest = "PATCH"\ndata = "{\\"role\\":\\"x\\"}"\n'):format(host.base, i))
    f:write(('header = "X-Provider-Token: test-token"\nheader = "traceparent: %s"\n'):format(PARENT))
    f:write('output = "/dev/null"\nwrite-out = "%{http_code} %header{x-worker}\\n"\n')
  end
  f:close()
  local out = env.sh(("curl -s --noproxy '*' --parallel --parallel-immediate --parallel-max %d -K %s"):format(parallel, cfg))
  os.remove(cfg)
  local list = {}
  for status, worker in out:gmatch("(%d+) (%d*)\n") do list[#list + 1] = { status = tonumber(status), worker = worker } end
  return list
end

-- The count of provider generic's 200s in a Prometheus text.
local function count_200(text)
  local n = 0
  for v in text:gmatch('http_client_request_duration_seconds_count{provider="generic",[^}]*'
                       .. 'http_response_status_code="200"[^}]*} (%d+)') do
    n = n + tonumber(v)
  end
  return n
end

describe("every attempt observable inside nginx (4 workers)", function()
  local host

  setup(function()
    env.start()
    host = nginx_host.start { workers = 4, server = SERVER, env = { GENERIC_BASE_URL = env.fake:base_url("generic") } }
  end)
  teardown(function()
    if host then host:stop() end
    env.stop()
  end)

  it("serves every worker's counts at /metrics, and continues the incoming trace", function()
    -- a provider that takes a little time: the requests overlap, over every worker
    env.fake:behave("generic", { delay = 0.2 })
    local n = 40
    local answers = fire(host, n, n)
    assert.equal(n, #answers)
    local workers, seen = 0, {}
    for _, a in ipairs(answers) do
      assert.equal(200, a.status)
      if not seen[a.worker] then seen[a.worker], workers = true, workers + 1 end
    end
    assert.is_true(workers >= 2, "one worker served them all")
    -- Each worker flushes once a second: the sum comes within a few.
    local text, got = "", 0
    for _ = 1, 100 do
      text = env.sh("curl -s --noproxy '*' " .. host.base .. "/metrics")
      got = count_200(text)
      if got >= n then break end
      core.sleep(0.1)
    end
    assert.equal(n, got, text)
    assert.matches("# TYPE http_client_request_duration_seconds histogram", text, 1, true)
    -- The provider saw each request as a child of the incoming trace.
    local reqs = env.fake:requests("generic")
    assert.equal(n, #reqs)
    local spans = {}
    for _, r in ipairs(reqs) do
      local trace_id, span = (r.headers.traceparent or ""):match("^00%-(%x+)%-(%x+)%-01$")
      assert.equal(PARENT_TRACE, trace_id)
      assert.is_nil(spans[span], "a span id sent twice")
      spans[span] = true
    end
    assert.is_nil(host:error_log():find("[error]", 1, true), host:error_log())
  end)

  it("hands the events of a call over cosockets to its handler", function()
    env.fake:reset()
    env.fake:behave("generic", { script = { { status = 503, body = "{}" } } })
    local out = core.json_decode(env.sh("curl -s --noproxy '*' " .. host.base .. "/observed"))
    assert.is_table(out, read(host.dir .. "/logs/error.log"))
    assert.is_true(out.ok, tostring(out.err))
    local names = {}
    for _, e in ipairs(out.events) do names[#names + 1] = e.name end
    assert.same({ "request", "answer", "retry", "request", "answer", "outcome" }, names)
    assert.equal(503, out.events[2]["http.response.status_code"])
    assert.equal("1.1", out.events[5]["network.protocol.version"])
    assert.equal("127.0.0.1", out.events[5]["server.address"])
    assert.equal("/v1/users/{user_id}", out.events[5]["url.template"])
  end)

  -- A handler may yield (ngx.sleep): the requests that end meanwhile are
  -- not lost (they were reported failed, "the request's thread failed",
  -- although the provider applied them).
  for _, mode in ipairs { "event", "result" } do
    it("loses nothing when a handler yields to nginx: on_" .. mode, function()
      env.fake:reset()
      env.fake:behave("generic", { delay = 0.05 }) -- the three in flight end together
      local text = env.sh("curl -s --noproxy '*' '" .. host.base .. "/yielding?mode=" .. mode .. "'")
      local out = core.json_decode(text)
      assert.is_table(out, host:error_log())
      assert.is_true(out.ok, tostring(out.err))
      assert.equal(6, out.succeeded, text)
      assert.same({}, out.failures)
      assert.equal(7 * 3, out.events) -- request, answer, outcome for each
      assert.equal(7, #env.fake:requests("generic"))
    end)
  end
end)
