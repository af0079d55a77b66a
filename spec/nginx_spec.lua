-- lua-users inside a real nginx (Debian's, with its Lua module on LuaJIT),
-- configured by examples/nginx/: the provider calls go through cosockets, so
-- 20 concurrent requests to a provider that takes 1 s each are at the
-- provider together, not one after another as a blocking transport would
-- send them from one worker (20 s).
local env = require "spec.support.env"
local core = require "users.core"

local sh, read = env.sh, env.read
local function users_prepare(...) return require("users").prepare(...) end

local TRANSPORT_LOCATION = [[location = /_transport { content_by_lua_block {
            local core = require "users.core"
            ngx.req.read_body()
            local req = core.json_decode(ngx.req.get_body_data())
            local res, msg, code, sent = require("users.transport.nginx").send(req)
            ngx.say(core.json_encode { res = res or core.null, code = code, msg = msg, sent = sent })
        } }]]

describe("inside nginx (examples/nginx)", function()
  local dir, port, pid, base

  setup(function()
    env.start()
    -- The C core for nginx's LuaJIT.
    assert(os.execute("make -s LUA=jit >/dev/null"))
    dir = sh("mktemp -d"):gsub("%s+$", "")
    for _, d in ipairs { "logs", "temp" } do assert(os.execute("mkdir -p " .. dir .. "/" .. d)) end
    local root = sh("pwd"):gsub("%s+$", "")
    for _ = 1, 20 do
      port = math.random(20000, 60000)
      local conf = read("examples/nginx/nginx.conf"):gsub("@ROOT@", root):gsub("@PORT@", port)
      -- For the transport contract: a location that sends the request it is
      -- given through users.transport.nginx and answers what came back.
      conf = conf:gsub("location /users/", function(l) return TRANSPORT_LOCATION .. "\n        " .. l end, 1)
      -- As root, nginx's workers would run as nobody, who may not read the
      -- checkout (under /root, say): keep them root for the test.
      if sh("id -u"):match("^0%s") then conf = "user root;\n" .. conf end
      local f = assert(io.open(dir .. "/nginx.conf", "w"))
      f:write(conf)
      f:close()
      pid = sh(("GENERIC_BASE_URL='%s' PARADIGM_BASE_URL='%s' SCIM_BASE_URL='%s' nginx -p %s -c %s/nginx.conf"
        .. " >/dev/null 2>&1 & echo $!"):format(env.fake:base_url("generic"), env.fake:base_url("paradigm"),
        env.fake:base_url("scim_put"), dir, dir)):match("(%d+)%s*$")
      base = "http://127.0.0.1:" .. port
      local up = false
      for _ = 1, 50 do
        core.sleep(0.05)
        if sh("curl -s -o /dev/null -w '%{http_code}' " .. base .. "/users/nope/1") == "404" then up = true break end
      end
      if up then break end
      os.execute("kill " .. pid .. " 2>/dev/null")
    end
  end)

  teardown(function()
    if pid then os.execute("kill " .. pid .. " 2>/dev/null") end
    core.sleep(0.2)
    if dir then os.execute("rm -rf " .. dir) end
    env.stop()
  end)

  before_each(function() env.fake:reset() end)

  -- The most requests the provider held at once: each holds it `delay` s
  -- from its arrival. A transport that blocked the worker would give 1.
  local function most_at_once(delay)
    local at = {}
    for _, r in ipairs(env.fake:requests()) do at[#at + 1] = r.at end
    local most = 0
    for _, a in ipairs(at) do
      local n = 0
      for _, b in ipairs(at) do if b <= a and b + delay > a then n = n + 1 end end
      if n > most then most = n end
    end
    return most
  end

  it("serves 20 concurrent updates to a 1 s provider at once", function()
    env.fake:behave("generic", { delay = 1 })
    local cfg = dir .. "/parallel.cfg"
    local f = assert(io.open(cfg, "w"))
    for i = 1, 20 do
      if i > 1 then f:write("next\n") end
      f:write(('url = "%s/users/generic/u%d"\nrequest = "PATCH"\ndata = "{\\"role\\":\\"admin\\"}"\n'):format(base, i))
      f:write(('header = "X-Provider-Token: test-token"\noutput = "%s/out-%d"\n'):format(dir, i))
      f:write('write-out = "%{http_code}\\n"\n')
    end
    f:close()
    -- One request first: the worker compiles the provider once, and both
    -- sides open connections; what is measured is the steady state.
    sh(("curl -s -X PATCH -H 'X-Provider-Token: test-token' -d '{\"role\":\"x\"}' %s/users/generic/warm"):format(base))
    env.fake:reset()
    env.fake:behave("generic", { delay = 1 })
    local t0 = core.now()
    -- stderr dropped: curl's parallel progress meter can show there even
    -- with -s, and its byte counts ("2004") must not count as a status
    local codes = sh(("{ curl -s --parallel --parallel-immediate --parallel-max 20 -K %s 2>/dev/null; }"):format(cfg))
    local wall = core.now() - t0
    local n200 = 0
    for line in codes:gmatch("[^\n]+") do
      if line == "200" then n200 = n200 + 1 end
    end
    assert.equal(20, n200, codes)
    assert.is_true(most_at_once(1) > 10, most_at_once(1) .. " at once")
    assert.is_true(wall < 10, ("20 requests took %.2f s"):format(wall)) -- one at a time: 20 s
    for i = 1, 20 do
      local user = core.json_decode(read(("%s/out-%d"):format(dir, i)))
      assert.equal("u" .. i, user.id)
      assert.equal("admin", user.role)
    end
    local reqs = env.fake:requests()
    assert.equal(20, #reqs)
    for _, r in ipairs(reqs) do
      assert.equal("PATCH", r.method)
      assert.equal("Bearer test-token", r.headers.authorization)
      assert.equal('{"role":"admin"}', r.body)
      assert.equal("application/json", r.headers.accept)
    end
    assert.is_nil((read(dir .. "/logs/error.log") or ""):find("%[error%]"))
  end)

  it("keeps each request's credentials to itself", function()
    local function patch(token, id)
      local header = token and ("-H 'X-Provider-Token: " .. token .. "'") or ""
      return sh(("curl -s -w ' %%{http_code}' -X PATCH %s -d '{\"role\":\"x\"}' %s/users/generic/%s")
        :format(header, base, id))
    end
    local good = patch("test-token", "a"):gsub(" 200$", "")
    local bad = patch("stolen", "b")
    local none = patch(nil, "c")
    assert.equal("a", core.json_decode(good).id)
    assert.matches('"code":"unauthorized".* 401$', bad)
    assert.matches('"kind":"config".* 500$', none)
    local auth = {}
    for _, r in ipairs(env.fake:requests()) do auth[#auth + 1] = r.headers.authorization end
    assert.same({ "Bearer test-token", "Bearer stolen" }, auth)
  end)

  it("gives the same validation and error shapes as everywhere else", function()
    local out = sh(("curl -s -w ' %%{http_code}' -X PATCH -H 'X-Provider-Token: test-token' "
      .. "-d '{\"workspaces\":[1,\"x\"],\"bogus\":1}' %s/users/paradigm/7"):format(base))
    assert.matches('"kind":"invalid".* 422$', out)
    assert.matches("bogus", out)
    assert.matches("item 2 must be an integer", out)
    out = sh(("curl -s -w ' %%{http_code}' -X PATCH -H 'X-Provider-Token: test-token' "
      .. "-d '{\"workspaces\":[]}' %s/users/paradigm/404"):format(base))
    assert.matches('"code":"not_found".* 404$', out)
    assert.equal(1, #env.fake:requests())
  end)

  it("runs a bulk update in the request, concurrently, with retries", function()
    env.fake:behave("generic", { delay = 1, script = { { status = 503, body = "{}" } } })
    local items = {}
    for i = 1, 10 do items[i] = ('{"id":"b%d","fields":{"role":"member"}}'):format(i) end
    local body = dir .. "/bulk.json"
    local f = assert(io.open(body, "w"))
    f:write("[" .. table.concat(items, ",") .. "]")
    f:close()
    local t0 = core.now()
    local out = sh(("curl -s -X POST -H 'X-Provider-Token: test-token' --data-binary @%s '%s/bulk/generic?concurrency=5'")
      :format(body, base))
    local wall = core.now() - t0
    local report = core.json_decode(out)
    assert.is_table(report, out)
    assert.equal(10, report.total)
    assert.equal(10, report.succeeded)
    assert.equal(1, report.retried)
    assert.is_true(wall < 8, ("bulk of 10 at 5 in flight took %.2f s"):format(wall)) -- one at a time: 10 s
    assert.equal(11, #env.fake:requests())
    local most = most_at_once(1)
    assert.is_true(most > 1 and most <= 5, most .. " at once") -- concurrently, and never more than 5
  end)
  it("updates over SCIM: the worker discovers once, then GETs and PUTs with If-Match", function()
    local ids = { "2819c223-7f76-453a-919d-413861904646", "9a8b7c6d-1234-4abc-8def-0123456789ab" }
    env.write(dir .. "/scim.json", ('[{"id":"%s","fields":{"title":"Guide","nickName":null}},'
      .. '{"id":"%s","fields":{"name.givenName":"Jo"}}]'):format(ids[1], ids[2]))
    local out = sh(("curl -s -X POST -H 'X-Provider-Token: test-token' --data-binary @%s/scim.json"
      .. " '%s/bulk/scim?concurrency=2'"):format(dir, base))
    local report = core.json_decode(out)
    assert.is_table(report, out)
    assert.equal(2, report.succeeded, out)
    out = sh(("curl -s -X PATCH -H 'X-Provider-Token: test-token' -d '{\"displayName\":\"Babs\"}' %s/users/scim/%s")
      :format(base, ids[1]))
    assert.equal("Babs", core.json_decode(out).displayName, out)
    local seen = {}
    for _, r in ipairs(env.fake:requests("scim_put")) do
      local what = r.method .. " " .. r.uri:match("[^/]+$")
      seen[what] = (seen[what] or 0) + 1
      if r.method == "PUT" then assert.matches('^W/"%d+"$', r.headers["if-match"]) end
    end
    assert.equal(1, seen["GET ServiceProviderConfig"]) -- once for the worker
    assert.equal(2, seen["PUT " .. ids[1]])
    assert.equal(1, seen["PUT " .. ids[2]])
    local held = core.json_decode(sh(("curl -s -H 'Authorization: Bearer test-token' %s/Users/%s")
      :format(env.fake:base_url("scim_put"), ids[1])))
    assert.equal("Babs", held.displayName)
    assert.equal("Guide", held.title)
    assert.is_nil(held.nickName)
    assert.equal("Jensen", held.name.familyName)
    held = core.json_decode(sh(("curl -s -H 'Authorization: Bearer test-token' %s/Users/%s")
      :format(env.fake:base_url("scim_put"), ids[2])))
    assert.equal("Jo", held.name.givenName)
    assert.equal("Smith", held.name.familyName)
  end)

  -- The transport contract (users/transport.lua): the same prepared
  -- requests through libcurl and through cosockets reach the provider as
  -- the same request and come back as the same answer.
  it("follows the transport contract as the libcurl transport does", function()
    local users = require "users"
    local curl = require "users.transport.curl"
    local png = env.tmpfile(env.PNG)
    local reqs = {}
    for _, name in ipairs(env.names) do
      local v = env.valid[name]
      reqs[#reqs + 1] = assert(users.prepare(name, v.id, v.fields, env.opts(name)))
    end
    local lp = env.valid.lancepilot
    local fields = {}
    for k, x in pairs(lp.fields) do fields[k] = x end
    fields.avatar = users.file(png, "image/png")
    reqs[#reqs + 1] = assert(users.prepare("lancepilot", lp.id, fields, env.opts("lancepilot")))
    reqs[#reqs + 1] = assert(users.prepare("generic", "u1", { role = "x" }, env.opts("generic", {
      headers = { authorization = "Bearer test-token", ["content-type"] = "application/json; charset=utf-8",
                  host = "users.example" } })))
    reqs[#reqs + 1] = assert(users.prepare("generic", "missing", { role = "x" }, env.opts("generic")))
    local keep = { "accept", "authorization", "content-type", "content-length", "user-agent", "host",
                   "x-account-id", "expect" }
    local function seen()
      local r = env.fake:last()
      local h = {}
      for _, k in ipairs(keep) do h[k] = r.headers[k] end
      if h["content-type"] then h["content-type"] = h["content-type"]:gsub("boundary=.*", "boundary=B") end
      return { method = r.method, uri = r.uri, headers = h, n = #env.fake:requests(),
               body_length = #r.body }
    end
    local function answer(res)
      local body = res.body:gsub('"%d%d%d%d%-%d%d%-%d%dT[^"]*"', '"(time)"') -- the fakes stamp updates
      return { status = res.status, body = body, ctype = res.headers["content-type"] }
    end
    for i, req in ipairs(reqs) do
      if req.segments then req.body = nil end -- the chunk iterator is for other hosts
      env.fake:reset()
      local res = assert(curl.send(req))
      local by_curl, curl_answer = seen(), answer(res)
      env.fake:reset()
      env.write(dir .. "/req.json", core.json_encode(req))
      local raw = sh(("curl -s --data-binary @%s/req.json %s/_transport"):format(dir, base))
      local out = core.json_decode(raw)
      assert.is_table(out, "request " .. i .. ": " .. raw .. (read(dir .. "/logs/error.log") or ""))
      assert.is_table(out.res, "request " .. i .. ": " .. tostring(out.msg))
      assert.same(by_curl, seen(), "request " .. i)
      reqs[i].seen = by_curl
      assert.same(curl_answer, answer(out.res), "request " .. i)
    end
    local override = reqs[#reqs - 1].seen.headers -- the caller's headers won, once each
    assert.equal("users.example", override.host)
    assert.equal("Bearer test-token", override.authorization)
    assert.equal("application/json; charset=utf-8", override["content-type"])
    assert.is_nil(reqs[#reqs - 2].seen.headers.expect)
    assert.matches("^multipart/form%-data", reqs[#reqs - 2].seen.headers["content-type"])
    os.remove(png)
  end)
  it("ends a trickling answer at its total timeout (endless 1xx, slowloris)", function()
    for _, case in ipairs { "endless-1xx", "slowloris" } do
      local req = assert(users_prepare("generic", "u1", { role = "x" },
        { base_url = env.fake.url .. "/hostile/" .. case, token = "test-token", timeout = 1 }))
      env.write(dir .. "/req.json", core.json_encode(req))
      local t0 = core.now()
      local out = core.json_decode(sh(("curl -s --data-binary @%s/req.json %s/_transport"):format(dir, base)))
      local took = core.now() - t0
      assert.is_table(out, case)
      assert.equal("timeout", out.code, case)
      assert.is_true(took < 10, ("%s took %.1f s"):format(case, took)) -- the server goes on for 20 s
    end
  end)
end)
