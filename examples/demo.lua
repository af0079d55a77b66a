-- The demo behind `make demo`: starts the bundled fake providers on
-- loopback, runs every provider's example against them, exactly as they
-- would run against the real APIs (only the base URLs differ), then a bulk
-- run from a CSV file with a progress bar.
package.path = "lua/?.lua;./?.lua;" .. package.path
package.cpath = (os.getenv("LUA_USERS_CPATH") or "build/5.4/?.so") .. ";" .. package.cpath

local LUA = arg and arg[-1] or "lua5.4" -- the interpreter running us, for the bulk child

local users = require "users"
local fake = require "spec.support.fake_providers"

local server = fake.start()
local ok, failure = pcall(function()
  -- What the environment would hold in production: credentials and, for
  -- the demo only, base URLs that point at the fakes.
  local creds = {
    lancepilot = { workspace = fake.WORKSPACE },
    lexful = { account_id = fake.LEXFUL.account_id, key_id = fake.LEXFUL.key_id,
               key_secret = fake.LEXFUL.key_secret },
    activepieces = { token = fake.ACTIVEPIECES_TOKEN },
  }
  for _, name in ipairs(users.providers()) do
    local o = creds[name] or {}
    o.base_url = server:base_url(name)
    if not o.key_id then o.token = o.token or fake.TOKEN end
    users.configure(name, o)
  end

  local avatar = os.tmpname()
  local f = assert(io.open(avatar, "wb"))
  f:write("\137PNG\r\n\26\n", string.rep("\0", 64))
  f:close()

  local runs = {
    { "lancepilot", { "42", avatar } },
    { "lexful", { "5f0c2c1e-8f5d-4c8e-9d6a-0a1b2c3d4e5f" } },
    { "generic", { "usr_123abc456def" } },
    { "activepieces", { "abcdefghijABCDEFGHIJ1" } },
    { "paradigm", { "7", "3", "5" } },
  }
  print("== one update per provider (" .. #runs .. " providers, fake servers on 127.0.0.1)")
  for _, run in ipairs(runs) do
    arg = run[2] -- luacheck: ignore 121
    dofile("examples/" .. run[1] .. ".lua")
  end
  os.remove(avatar)

  print("\n== what each server received")
  for _, req in ipairs(server:requests()) do
    print(("%-6s %-75s %s"):format(req.method, req.uri, req.headers["content-type"] or ""))
  end

  print("\n== refused before sending: every offending field is named")
  local _, err = users.update("lexful", "5f0c2c1e-8f5d-4c8e-9d6a-0a1b2c3d4e5f",
                              { first_name = "", role = "root", emial = "x" })
  print(tostring(err))

  -- A bulk run from a CSV file, through the command for people: 2 000 rows,
  -- a few of them bad, a server that throttles above 400 requests a second.
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. dir))
  local csv = assert(io.open(dir .. "/users.csv", "w"))
  csv:write("id,email,first_name,role\n")
  for i = 1, 2000 do
    local email = i % 500 == 0 and "not-an-email" or ("user" .. i .. "@example.com")
    local id = i % 700 == 0 and "missing" or ("usr_" .. i)
    csv:write(("%s,%s,\"Name %d\",member\n"):format(id, email, i))
  end
  csv:close()
  server:reset()
  server:record(false)
  server:behave("generic", { throttle = { limit = 400, retry_after = "1" } })
  print("\n== bulk: 2 000 rows from a CSV file, 16 in flight, the server throttles at 400/s")
  os.execute(("GENERIC_BASE_URL='%s' GENERIC_TOKEN=%s LUA_CPATH='%s;;' %s examples/bulk.lua generic %s/users.csv --concurrency 16")
    :format(server:base_url("generic"), fake.TOKEN, package.cpath:match("^[^;]+"), LUA, dir))
  print("server received " .. server:stats().requests .. " requests in all (429s and retries included)")
  os.execute("rm -rf " .. dir)
end)
server:stop()
if not ok then
  io.stderr:write(tostring(failure), "\n")
  os.exit(1)
end
