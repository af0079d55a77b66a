-- The demo behind `make demo`: starts the bundled fake providers on
-- loopback, runs every provider's example against them, exactly as they
-- would run against the real APIs (only the base URLs differ), then the
-- lua-users command: describe, update, and a bulk run from a CSV file
-- with a progress bar, its failures fed back in; last, a vendor from its
-- OpenAPI document alone: `lua-users import`, then a bulk run on it.
package.path = "lua/?.lua;./?.lua;" .. package.path
package.cpath = (os.getenv("LUA_USERS_CPATH") or "build/5.4/?.so") .. ";" .. package.cpath

local LUA = arg and arg[-1] or "lua5.4" -- the interpreter running us, for the command

local users = require "users"
local fake = require "spec.support.fake_providers"

local function q(s) return "'" .. tostring(s):gsub("'", [['\'']]) .. "'" end
local ROOT = io.popen("pwd"):read("*l") -- the checkout: the command runs from its tree

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
  print("== one update per provider, from Lua (" .. #runs .. " providers, fake servers on 127.0.0.1)")
  for _, run in ipairs(runs) do
    arg = run[2] -- luacheck: ignore 121
    dofile("examples/" .. run[1] .. ".lua")
  end
  os.remove(avatar)

  print("\n== SCIM 2.0: one user on a server with PATCH, then on one without (GET, then PUT with If-Match)")
  for _, dialect in ipairs { "scim_rfc", "scim_put" } do
    users.configure("scim", { base_url = server:base_url(dialect) })
    arg = { "2819c223-7f76-453a-919d-413861904646" } -- luacheck: ignore 121
    dofile("examples/scim.lua")
  end

  print("\n== what each server received")
  for _, req in ipairs(server:requests()) do
    print(("%-6s %-75s %s"):format(req.method, req.uri, req.headers["content-type"] or ""))
  end

  print("\n== refused before sending: every offending field is named")
  local _, err = users.update("lexful", "5f0c2c1e-8f5d-4c8e-9d6a-0a1b2c3d4e5f",
                              { first_name = "", role = "root", emial = "x" })
  print(tostring(err))

  -- The command, with what the environment would hold: credentials and base
  -- URLs in variables, never in arguments.
  local environment = ("GENERIC_BASE_URL=%s GENERIC_TOKEN=%s LEXFUL_BASE_URL=%s LEXFUL_ACCOUNT_ID=%s"
    .. " LEXFUL_KEY_ID=%s LEXFUL_KEY_SECRET=%s LUA_PATH=%s LUA_CPATH=%s"):format(
    q(server:base_url("generic")), fake.TOKEN, q(server:base_url("lexful")), fake.LEXFUL.account_id,
    fake.LEXFUL.key_id, fake.LEXFUL.key_secret, q(ROOT .. "/lua/?.lua;;"), q(package.cpath:match("^[^;]+") .. ";;"))
  local function command(words, dir, vars)
    print("\n$ lua-users " .. words)
    io.stdout:flush()
    os.execute(("%s%s %s %s %s/bin/lua-users %s"):format(dir and ("cd " .. q(dir) .. " && ") or "",
      environment, vars or "", LUA, q(ROOT), words))
  end

  print("\n== the command: lua-users")
  command("describe lexful")
  command("update lexful 5f0c2c1e-8f5d-4c8e-9d6a-0a1b2c3d4e5f role=admin 'account_scopes=*' --dry-run")
  command("update generic usr_123abc456def role=admin email=jane@example.com --verbose")

  -- A bulk run from a CSV file as a spreadsheet saves it: 2 000 rows, a
  -- few bad, a server that throttles above 400 requests a second.
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. dir))
  local csv = assert(io.open(dir .. "/users.csv", "wb"))
  csv:write("\239\187\191id,email,first_name,role\r\n")
  for i = 1, 2000 do
    local email = i % 500 == 0 and "not-an-email" or ("user" .. i .. "@example.com")
    local id = i % 700 == 0 and "missing" or ("usr_" .. i)
    csv:write(("%s,%s,\"Name %d\",member\r\n"):format(id, email, i))
  end
  csv:close()
  server:reset()
  server:record(false)
  server:behave("generic", { throttle = { limit = 400, retry_after = "1" } })
  print("\n== bulk: 2 000 rows from a CSV file, 16 in flight, the server throttles at 400/s")
  command("bulk generic users.csv --concurrency 16 --journal users.journal", dir)
  print("\n== the failures file, fixed and fed back in with the same journal")
  local fixed = assert(io.open(dir .. "/users.failures.csv", "rb")):read("*a")
    :gsub("not%-an%-email", "fixed@example.com"):gsub("\nmissing,", "\nusr_0,")
  local out = assert(io.open(dir .. "/users.failures.csv", "wb"))
  out:write(fixed) -- (Lua 5.1's write returns true, not the file)
  out:close()
  command("bulk generic users.failures.csv --journal users.journal", dir)
  print("server received " .. server:stats().requests .. " requests in all (429s and retries included)")

  -- A sixth vendor from its OpenAPI document alone: Box's user update
  -- (spec/fixtures/openapi/box.json), imported into a provider file on the
  -- search path, then a bulk run on it against a fake that serves the
  -- document's operation.
  print("\n== a vendor from its OpenAPI document: import, then bulk")
  assert(os.execute("mkdir -p " .. dir .. "/providers"))
  command("import spec/fixtures/openapi/box.json put_users_id --name box > " .. q(dir .. "/providers/box.lua")
          .. " && head -n 12 " .. q(dir .. "/providers/box.lua"))
  server:reset()
  local box = server:openapi("box", { { method = "PUT", path = "/users/{user_id}", media_type = "application/json",
    credentials = { { { header = "authorization", value = "Bearer " .. fake.TOKEN } } }, body = '{"type":"user"}' } })
  csv = assert(io.open(dir .. "/box.csv", "wb"))
  csv:write("id,name,role,job_title\n")
  for i = 1, 300 do
    csv:write(("%d,Name %d,%s,Engineer\n"):format(1000 + i, i, i % 100 == 0 and "admin" or "user"))
  end
  csv:close()
  command("bulk box box.csv --concurrency 8 --rate 250 --progress-interval 0.25 --no-journal", dir,
          ("LUA_USERS_PROVIDERS=providers BOX_TOKEN=%s BOX_BASE_URL=%s"):format(fake.TOKEN, q(box)))
  local received = #server:requests()
  print("box's fake received " .. received .. " PUT /users/{user_id} (the rows whose role "
        .. "is not in the document's enum were refused before sending)")
  assert(received == 297, "the imported provider's bulk run did not reach the fake")
  os.execute("rm -rf " .. dir)
end)
server:stop()
if not ok then
  io.stderr:write(tostring(failure), "\n")
  os.exit(1)
end
