-- Self-check of the loopback fakes: lua5.4 spec/support/fake_selftest.lua
-- (from the repository root; also runs under lua5.1 and luajit). Starts the
-- fakes, sends good and bad requests to each vendor with curl, tries every
-- behaviour, stops, and exits non-zero if anything was not as expected.
package.path = "./?.lua;" .. package.path
local fake = require "spec.support.fake_providers"

local f = fake.start()
local failures, checks = 0, 0
local tmp = f.dir .. "/selftest"
os.execute("mkdir -p '" .. tmp .. "'")

local function q(s) return "'" .. tostring(s):gsub("'", [['\'']]) .. "'" end

local function write(path, data)
  local h = assert(io.open(path, "wb"))
  h:write(data)
  h:close()
end

local function read(path)
  local h = io.open(path, "rb")
  if not h then return "" end
  local d = h:read("*a")
  h:close()
  return d
end

-- One curl call. opts: headers = { "Name: value" }, data = raw body,
-- form = { "-F" arguments }, tls = true, max_time. Returns { status, body,
-- headers = { lower = value }, exit = curl's exit code, time }.
local function http(method, url, opts)
  opts = opts or {}
  local args = { "curl -s --noproxy '*' -X", method, "-o", q(tmp .. "/body"), "-D", q(tmp .. "/head"),
                 "-w", "'%{http_code} %{time_total}'", "--max-time", tostring(opts.max_time or 10) }
  for _, h in ipairs(opts.headers or {}) do args[#args + 1] = "-H " .. q(h) end
  if opts.data then
    write(tmp .. "/data", opts.data)
    args[#args + 1] = "--data-binary @" .. q(tmp .. "/data")
  end
  for _, a in ipairs(opts.form or {}) do args[#args + 1] = "-F " .. q(a) end
  if opts.tls then args[#args + 1] = "--cacert " .. q(f.ca_file) end
  args[#args + 1] = q(url)
  os.remove(tmp .. "/body")
  os.remove(tmp .. "/head")
  local p = io.popen(table.concat(args, " ") .. "; echo \" $?\"")
  local out = p:read("*a")
  p:close()
  local status, time, exit = out:match("(%d+) ([%d.]+) (%d+)")
  local res = { status = tonumber(status), time = tonumber(time), exit = tonumber(exit),
                body = read(tmp .. "/body"), headers = {} }
  for name, value in read(tmp .. "/head"):gmatch("([%w-]+):%s*([^\r\n]*)") do
    res.headers[name:lower()] = value
  end
  return res
end

local function check(label, ok, detail)
  checks = checks + 1
  if not ok then failures = failures + 1 end
  print((ok and "ok   " or "FAIL ") .. label .. (not ok and detail and ("\n     " .. detail) or ""))
end

-- Expect a status and, optionally, substrings of the body.
local function expect(label, res, status, ...)
  local ok = res.status == status
  for _, needle in ipairs({ ... }) do
    ok = ok and res.body:find(needle, 1, true) ~= nil
  end
  check(label .. " -> " .. tostring(res.status), ok,
    "expected " .. status .. ", got " .. tostring(res.status) .. " " .. res.body:sub(1, 300))
  return res
end

local AUTH = "Authorization: Bearer " .. fake.TOKEN
local JSON = "Content-Type: application/json"
local ACCEPT = "Accept: application/json"

print("fakes on ports " .. f.port .. " (http) and " .. f.tls_port .. " (https), prefix " .. f.dir)

---------------------------------------------------------------- lancepilot
do
  local url = f:base_url("lancepilot") .. "/workspaces/" .. fake.WORKSPACE .. "/users/42"
  local good = { "name=Jane Doe", "email=jane@example.com", "timezone=Europe/Paris", "status=1", "client=0" }
  expect("lancepilot valid multipart", http("POST", url, { headers = { AUTH, ACCEPT }, form = good }),
    200, '"message":"Resource updated successfully."', '"status":true', '"id":42')
  local r = f:last()
  check("lancepilot recorded multipart body", r.body:find('name="timezone"', 1, true) ~= nil
    and r.headers["content-type"]:find("multipart/form-data; boundary=", 1, true) == 1)
  expect("lancepilot invalid (missing, 'true', alias tz)", http("POST", url, { headers = { AUTH, ACCEPT },
    form = { "email=nope", "timezone=US/Eastern", "status=true" } }), 422,
    '"The name field is required. (and 3 more errors)"', '"timezone":["The timezone field must be a valid timezone."]',
    '"status":["The status field must be true or false."]')
  local redirect = http("POST", url, { headers = { AUTH }, form = { "name=x" } })
  expect("lancepilot invalid without Accept json", redirect, 302)
  check("lancepilot redirect Location /", redirect.headers.location == "/")
  expect("lancepilot no token", http("POST", url, { headers = { ACCEPT }, form = good }), 401, '"Unauthenticated."')
  expect("lancepilot unknown user", http("POST", f:base_url("lancepilot") .. "/workspaces/"
    .. fake.WORKSPACE .. "/users/404", { headers = { AUTH, ACCEPT }, form = good }), 404, '"Resource not found."')

  -- Binary avatar: every byte value, with a PNG signature, sent as a file.
  local png = "\137PNG\r\n\26\n"
  for i = 0, 255 do png = png .. string.char(i) end
  png = png .. "\r\n--not-a-boundary\r\n" .. string.rep("\0\255", 2000)
  write(tmp .. "/avatar.png", png)
  local form = { "avatar=@" .. tmp .. "/avatar.png;type=image/png" }
  for _, g in ipairs(good) do form[#form + 1] = g end
  expect("lancepilot avatar upload (TLS)", http("POST", f:tls_base_url("lancepilot") .. "/workspaces/"
    .. fake.WORKSPACE .. "/users/42", { headers = { AUTH, ACCEPT }, form = form, tls = true }),
    200, '"avatar":"https://')
  r = f:last()
  check("lancepilot avatar bytes recorded intact", r.tls and r.body:find(png, 1, true) ~= nil)
  write(tmp .. "/big.png", string.rep("x", 1024 * 1024 + 1))
  form[1] = "avatar=@" .. tmp .. "/big.png;type=image/png"
  expect("lancepilot avatar > 1 MB", http("POST", url, { headers = { AUTH, ACCEPT }, form = form }),
    422, "must not be greater than 1024 kilobytes")
  form[1] = "avatar=@" .. tmp .. "/avatar.png;type=text/plain"
  expect("lancepilot avatar not an image", http("POST", url, { headers = { AUTH, ACCEPT }, form = form }),
    422, "The avatar field must be an image.")
  form[1] = "avatar="
  expect("lancepilot avatar null (empty part)", http("POST", url, { headers = { AUTH, ACCEPT }, form = form }),
    200, '"avatar":null')
  expect("lancepilot password mismatch", http("POST", url, { headers = { AUTH, ACCEPT },
    form = { "name=J", "email=j@x.io", "timezone=UTC", "status=0", "password=secret1", "confirm_password=secret2" } }),
    422, '"confirm_password":["The confirm password field must match password."]')
end

---------------------------------------------------------------- lexful
do
  local base = f:base_url("lexful")
  local ACCOUNT = "X-Account-ID: " .. fake.LEXFUL.account_id
  local url = base .. "/v1/users/5f0c2c1e-8d3a-4c1b-9f00-0123456789ab"
  expect("lexful valid (test-token)", http("PATCH", url, { headers = { AUTH, ACCOUNT, JSON },
    data = '{"first_name":"Jane","last_name":null,"role":"admin","account_scopes":[],"organization_scopes":["*"]}' }),
    200, '"account_scopes":[]', '"last_name":null', '"external_ids":{}', '"deleted_at":null')
  expect("lexful empty first_name", http("PATCH", url, { headers = { AUTH, ACCOUNT, JSON },
    data = '{"first_name":""}' }), 400, '"message":"body/first_name must NOT have fewer than 1 characters"',
    '"error_code":"VALIDATION_ERROR"')
  expect("lexful scopes as {}", http("PATCH", url, { headers = { AUTH, ACCOUNT, JSON },
    data = '{"account_scopes":{}}' }), 400, "body/account_scopes must be array")
  expect("lexful unknown field", http("PATCH", url, { headers = { AUTH, ACCOUNT, JSON },
    data = '{"nickname":"x"}' }), 400, "must NOT have additional properties")
  expect("lexful missing account", http("PATCH", url, { headers = { AUTH, JSON }, data = "{}" }),
    403, '"error_code":"FORBIDDEN"')
  expect("lexful bad token", http("PATCH", url, { headers = { "Authorization: Bearer nope", ACCOUNT, JSON },
    data = "{}" }), 401, '"error_code":"UNAUTHORIZED"')
  expect("lexful unknown user", http("PATCH", base .. "/v1/users/" .. fake.MISSING.lexful,
    { headers = { AUTH, ACCOUNT, JSON }, data = '{"role":"viewer"}' }), 404, '"error_code":"NOT_FOUND"')

  f:behave("lexful", { token_ttl = 1 })
  local key = '{"id":"' .. fake.LEXFUL.key_id .. '","secret":"' .. fake.LEXFUL.key_secret .. '"}'
  expect("lexful wrong key", http("POST", base .. "/v1/auth/token", { headers = { ACCOUNT, JSON },
    data = '{"id":"test-key-id","secret":"wrong"}' }), 401)
  local tok = expect("lexful token", http("POST", base .. "/v1/auth/token", { headers = { ACCOUNT, JSON },
    data = key }), 200, '"expires_in":1')
  local jwt = tok.body:match('"token":"([^"]+)"') or ""
  check("lexful token is a JWT", jwt:find("^[%w_-]+%.[%w_-]+%.[%w_-]+$") ~= nil, jwt)
  check("lexful tokens_issued counted", f:stats().tokens_issued == 1)
  local with_jwt = { "Authorization: Bearer " .. jwt, ACCOUNT, JSON }
  expect("lexful issued token accepted", http("PATCH", url, { headers = with_jwt, data = '{"role":"viewer"}' }), 200)
  os.execute("sleep 1.1")
  expect("lexful issued token expired", http("PATCH", url, { headers = with_jwt, data = '{"role":"viewer"}' }),
    401, '"error_code":"UNAUTHORIZED"')
end

---------------------------------------------------------------- generic
do
  local url = f:base_url("generic") .. "/v1/users/usr_123"
  expect("generic valid", http("PATCH", url, { headers = { AUTH, JSON }, data = '{"first_name":"Jane"}' }),
    200, '"id":"usr_123"', '"first_name":"Jane"')
  expect("generic bad email", http("PATCH", url, { headers = { AUTH, JSON }, data = '{"email":"nope"}' }),
    400, '"details":{"email":["Invalid email format"]}')
  expect("generic password", http("PATCH", url, { headers = { AUTH, JSON }, data = '{"password":"x"}' }),
    400, '"password":[')
  expect("generic bad key", http("PATCH", url, { headers = { "Authorization: Bearer x", JSON }, data = "{}" }),
    401, '"error":"unauthorized"')
  expect("generic missing user", http("PATCH", f:base_url("generic") .. "/v1/users/missing",
    { headers = { AUTH, JSON }, data = "{}" }), 404, '"error":"not_found"')
  expect("generic taken username", http("PATCH", url, { headers = { AUTH, JSON }, data = '{"username":"taken"}' }),
    409, '"error":"conflict"')
end

---------------------------------------------------------------- activepieces
do
  local url = f:base_url("activepieces") .. "/v1/users/abcdefghij0123456789Z"
  local SK = "Authorization: Bearer " .. fake.ACTIVEPIECES_TOKEN
  expect("activepieces valid (sk- key, unknown field dropped)", http("POST", url, { headers = { SK, JSON },
    data = '{"status":"INACTIVE","platformRole":"OPERATOR","typo":1}' }), 200,
    '"status":"INACTIVE"', '"externalId":null', '"platformRole":"OPERATOR"')
  expect("activepieces bad enum", http("POST", url, { headers = { AUTH, JSON }, data = '{"status":"active"}' }),
    400, '"code":"FST_ERR_VALIDATION"', "body/status must be equal to one of the allowed values")
  expect("activepieces bad id", http("POST", f:base_url("activepieces") .. "/v1/users/short",
    { headers = { AUTH, JSON }, data = "{}" }), 400, "params/id")
  expect("activepieces no key", http("POST", url, { headers = { JSON }, data = "{}" }), 401, '"AUTHENTICATION"')
  expect("activepieces unknown user", http("POST", f:base_url("activepieces") .. "/v1/users/"
    .. fake.MISSING.activepieces, { headers = { AUTH, JSON }, data = "{}" }), 404, '"ENTITY_NOT_FOUND"')
  expect("activepieces deactivate admin", http("POST", f:base_url("activepieces") .. "/v1/users/"
    .. fake.ACTIVEPIECES_ADMIN, { headers = { AUTH, JSON }, data = '{"status":"INACTIVE"}' }), 409,
    "Admin cannot be deactivated")
end

---------------------------------------------------------------- paradigm
do
  local path = "/api/v2/users/7/workspaces/update/"
  local url = f:base_url("paradigm") .. path
  expect("paradigm valid JSON", http("PUT", url, { headers = { AUTH, JSON }, data = '{"workspaces":[3,4]}' }),
    200, '"id":7', '"roles":[]', '"name":"Workspace 4"')
  expect("paradigm empty list", http("PUT", url, { headers = { AUTH, JSON }, data = '{"workspaces":[]}' }),
    200, '"groups":[]')
  expect("paradigm form", http("PUT", url, { headers = { AUTH, "Content-Type: application/x-www-form-urlencoded" },
    data = "workspaces=1&workspaces=2" }), 200, '"name":"Workspace 2"')
  expect("paradigm multipart", http("PUT", url, { headers = { AUTH }, form = { "workspaces=5", "workspaces=6" } }),
    200, '"name":"Workspace 6"')
  expect("paradigm not an int", http("PUT", url, { headers = { AUTH, JSON }, data = '{"workspaces":["x"]}' }),
    400, '{"workspaces":["A valid integer is required."]}')
  expect("paradigm no token", http("PUT", url, { headers = { JSON }, data = '{"workspaces":[]}' }),
    401, "Authentication credentials were not provided.")
  expect("paradigm unknown user", http("PUT", f:base_url("paradigm") .. "/api/v2/users/404/workspaces/update/",
    { headers = { AUTH, JSON }, data = '{"workspaces":[]}' }), 404, '"Not found."')
  local r = http("PUT", url:sub(1, -2) .. "?x=1", { headers = { AUTH, JSON }, data = '{"workspaces":[]}' })
  expect("paradigm without trailing slash", r, 301)
  check("paradigm redirect Location", r.headers.location == "/paradigm" .. path .. "?x=1", r.headers.location)
end

---------------------------------------------------------------- openapi
do
  local base = f:openapi("vendor", {
    { method = "PATCH", path = "/guilds/{guild_id}/members/{user_id}", media_type = "application/json",
      credentials = { { { header = "authorization", value = "Bot t" } },
                      { { header = "apikey", value = "k" }, { header = "authorization", value = "Bearer t" } } },
      status = 200, body = '{"nick":"jo"}', headers = { ["X-Vendor"] = "yes" } },
    { method = "POST", path = "/guilds/{guild_id}/members/{user_id}/avatar" },
  })
  local url = base .. "/guilds/1/members/2"
  local r = expect("openapi operation", http("PATCH", url, { headers = { "Authorization: Bot t", JSON },
    data = '{"nick":"jo"}' }), 200, '{"nick":"jo"}')
  check("openapi answer headers", r.headers["x-vendor"] == "yes")
  local rec = f:last("openapi")
  check("openapi recorded", rec.method == "PATCH" and rec.uri == "/openapi/vendor/guilds/1/members/2"
    and rec.body == '{"nick":"jo"}' and rec.headers.authorization == "Bot t", rec.uri)
  expect("openapi second alternative (two headers)", http("PATCH", url, { headers = { "apikey: k",
    "Authorization: Bearer t", JSON }, data = "{}" }), 200)
  expect("openapi half an alternative", http("PATCH", url, { headers = { "Authorization: Bearer t", JSON },
    data = "{}" }), 401, '"error":"unauthorized"')
  expect("openapi wrong media type", http("PATCH", url, { headers = { "Authorization: Bot t",
    "Content-Type: text/plain" }, data = "x" }), 415, "expected application/json")
  local m = expect("openapi wrong method", http("PUT", url, { headers = { "Authorization: Bot t", JSON },
    data = "{}" }), 405)
  check("openapi 405 Allow", m.headers.allow == "PATCH", m.headers.allow)
  expect("openapi no such path", http("PATCH", base .. "/guilds/1", { headers = { JSON }, data = "{}" }), 404)
  expect("openapi template segment is one segment", http("PATCH", base .. "/guilds/1/members/2/3",
    { headers = { JSON }, data = "{}" }), 404)
  expect("openapi no credentials asked", http("POST", url .. "/avatar", { form = { "pic=x" } }), 200, "{}")
  expect("openapi unknown mount", http("PATCH", f:base_url("openapi") .. "/other/guilds/1/members/2",
    { headers = { JSON }, data = "{}" }), 404)
  f:behave("openapi", { respond = { status = 400, body = '{"errors":{"nick":"bad"}}' }, times = 1 })
  expect("openapi behaviour", http("PATCH", url, { headers = { "Authorization: Bot t", JSON }, data = "{}" }),
    400, '"nick":"bad"')
  f:reset()
  expect("openapi reset forgets operations", http("PATCH", url, { headers = { "Authorization: Bot t", JSON },
    data = "{}" }), 404)
end

expect("unknown route", http("GET", f.url .. "/nope"), 404, '"error":"not_found"')

---------------------------------------------------------------- behaviours
do
  local url = f:base_url("generic") .. "/v1/users/u1"
  local opts = { headers = { AUTH, JSON }, data = "{}" }
  f:reset()
  check("reset forgets requests", #f:requests() == 0)

  f:behave("generic", { respond = { status = 503, body = "down", headers = { ["Retry-After"] = "2" } }, times = 2 })
  local r1, r2, r3 = http("PATCH", url, opts), http("PATCH", url, opts), http("PATCH", url, opts)
  check("respond x2 then normal", r1.status == 503 and r2.status == 503 and r3.status == 200
    and r1.body == "down" and r1.headers["retry-after"] == "2")

  f:behave("*", { script = { { status = 500, body = "{}" }, { pass = true }, { status = 502 } } })
  local s = {}
  for i = 1, 4 do s[i] = http("PATCH", url, opts).status end
  check("script 500, pass, 502, then normal", table.concat(s, ",") == "500,200,502,200", table.concat(s, ","))

  f:behave("generic", { drop = true, times = 1 })
  local d = http("PATCH", url, opts)
  check("drop closes without a response", d.status == 0 and d.exit == 52, "curl exit " .. tostring(d.exit))
  expect("after drop", http("PATCH", url, opts), 200)

  f:behave("generic", { delay = 0.5, times = 1 })
  local slow = http("PATCH", url, opts)
  check("delay 0.5 s", slow.status == 200 and slow.time >= 0.5, "took " .. tostring(slow.time))
  local timeout = (function() f:behave("generic", { delay = 2, times = 1 })
    return http("PATCH", url, { headers = opts.headers, data = "{}", max_time = 0.5 }) end)()
  check("delay beyond client timeout", timeout.exit == 28, "curl exit " .. tostring(timeout.exit))
  -- A request still sleeping when reset() comes (its client gone) takes
  -- nothing set after it: the script's answer goes to the next request.
  f:behave("generic", { delay = 0.5, times = 1 })
  http("PATCH", url, { headers = opts.headers, data = "{}", max_time = 0.1 })
  f:reset()
  f:behave("generic", { script = { { status = 418, body = "{}" } } })
  os.execute("sleep 1") -- the overtaken request wakes meanwhile (a slower machine: it wakes after, and passes too)
  expect("a request a reset overtook takes nothing set since", http("PATCH", url, opts), 418)

  f:behave("generic", { huge = 100000 })
  local h = http("PATCH", url, opts)
  check("huge body", h.status == 200 and #h.body == 100000, #h.body)
  f:behave("generic", { huge = false, not_json = true })
  local n = http("PATCH", url, opts)
  check("not_json", n.status == 200 and n.headers["content-type"]:find("text/html", 1, true) == 1)
  f:behave("generic", false)

  f:behave("lancepilot", { throttle = { limit = 2 } }) -- the first window starts now
  local lurl = f:base_url("lancepilot") .. "/workspaces/" .. fake.WORKSPACE .. "/users/1"
  local lopts = { headers = { AUTH, ACCEPT }, form = { "name=a", "email=a@b.c", "timezone=UTC", "status=1" } }
  local t = {}
  for i = 1, 3 do t[i] = http("POST", lurl, lopts) end
  check("throttle 2/s: 200, 200, 429", t[1].status == 200 and t[2].status == 200 and t[3].status == 429,
    t[1].status .. "," .. t[2].status .. "," .. t[3].status)
  check("lancepilot 429 headers", t[3].headers["retry-after"] == "1" and t[3].headers["x-ratelimit-limit"] == "2"
    and t[3].headers["x-ratelimit-remaining"] == "0" and t[3].headers["x-ratelimit-reset"] ~= nil
    and t[3].body == '{"message":"Too Many Attempts."}', t[3].body)
  f:behave("generic", { throttle = { limit = 1, window = 0.5 } })
  local w1, w2 = http("PATCH", url, opts), http("PATCH", url, opts)
  os.execute("sleep 0.5")
  local w3 = http("PATCH", url, opts)
  check("throttle window resets", w1.status == 200 and w2.status == 429 and w3.status == 200
    and w2.body:find('"error":"rate_limited"', 1, true) ~= nil, w1.status .. "," .. w2.status .. "," .. w3.status)
  f:behave("generic", { throttle = false })
  f:behave("paradigm", { throttle = { limit = 0, retry_after = "date", retry_in = 2 } })
  local p = http("PUT", f:base_url("paradigm") .. "/api/v2/users/7/workspaces/update/",
    { headers = { AUTH, JSON }, data = '{"workspaces":[]}' })
  check("paradigm 429 with HTTP-date", p.status == 429 and (p.headers["retry-after"] or ""):find("GMT$") ~= nil
    and p.body:find("Expected available in 2 seconds", 1, true) ~= nil, p.headers["retry-after"])

  -- Concurrency: 20 parallel requests, all recorded once, connection ids set.
  f:reset()
  os.execute("for i in $(seq 1 20); do curl -s --noproxy '*' -o /dev/null -X PATCH -H " .. q(AUTH)
    .. " -H " .. q(JSON) .. " -d '{}' " .. q(url) .. " & done; wait")
  local all = f:requests("generic")
  local seqs = {}
  for _, r in ipairs(all) do seqs[r.seq] = true end
  local distinct = 0
  for _ in pairs(seqs) do distinct = distinct + 1 end
  check("20 concurrent requests recorded", #all == 20 and distinct == 20 and type(all[1].conn) == "number", #all)
end

---------------------------------------------------------------- SCIM servers
require("spec.support.fake_scim_selftest")(f, http, check, expect)

---------------------------------------------------------------- stop
local dir, pid = f.dir, f._pid
f:stop()
local alive = io.open("/proc/" .. tostring(pid) .. "/stat")
if alive then alive:close() end
check("stop: nginx gone, temp dir removed", not alive and io.open(dir .. "/nginx.conf") == nil)

print(string.format("%d checks, %d failed", checks, failures))
os.exit(failures == 0 and 0 or 1)
