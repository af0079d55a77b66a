-- A request's body string is lent to libcurl, not copied (src/transfer.c):
-- the transfer keeps it alive until libcurl lets go. Requests whose only
-- reference the caller drops at once, full collections while they run, and
-- a server that makes libcurl send one of them twice (it rewinds and reads
-- the body again): each body arrives byte for byte. Under make asan (the
-- collector at its most aggressive) a read of a freed string would fail the
-- run; here it would show as a wrong body.
local core = require "users.core"
local env = require "spec.support.env"

local function body(i)
  -- long enough never to be an interned short string
  return ('{"role":"member-%d","note":"%s"}'):format(i, ("n"):rep(300 + i))
end

local function request(i, url)
  return { method = "PATCH", url = url .. "/v1/users/u" .. i, body = body(i),
           headers = { "Authorization: Bearer test-token", "Content-Type: application/json" } }
end

describe("a body lent to libcurl", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)
  before_each(function() env.fake:reset() end)

  it("outlives the caller's request table, through collections and a resend", function()
    local url = env.fake:base_url("generic")
    local e = core.engine { max_host_connections = 4 }
    e:perform(request(0, url)) -- a kept-alive connection, for libcurl's resend
    env.fake:reset()
    env.fake:behave("generic", { drop_reused = true })
    local n, done = 40, 0
    for i = 1, n do
      e:add(request(i, url)) -- the request table, and its body, left to the collector
      collectgarbage()
    end
    while done < n do
      for _, t in ipairs(e:wait(10)) do
        collectgarbage()
        local res, msg = t:result()
        assert.is_table(res, msg)
        done = done + 1
      end
    end
    e:close()
    local got = {}
    for _, r in ipairs(env.fake:requests("generic")) do
      local i = tonumber(r.uri:match("/u(%d+)$"))
      got[i] = got[i] or r.body
      assert.equal(body(i), r.body, "request " .. i)
    end
    for i = 1, n do assert.equal(body(i), got[i], "request " .. i) end
  end)

  -- The registry holds a body while its transfer runs: afterwards, none
  -- is left there, whichever way the transfer ended.
  local function registry_size()
    local n = 0
    for _ in pairs(debug.getregistry()) do n = n + 1 end
    return n
  end

  it("is let go once the transfer is over, whichever way it ends", function()
    local url = env.fake:base_url("generic")
    local e = core.engine()
    e:perform(request(0, url))
    local before = registry_size()
    for i = 1, 20 do assert.is_table(e:perform(request(i, url))) end
    e:perform(request(21, "http://127.0.0.1:1/generic")) -- refused
    e:add(request(22, url)) -- abandoned by a close
    e:close()
    collectgarbage()
    collectgarbage()
    assert.equal(before, registry_size())
  end)
end)
