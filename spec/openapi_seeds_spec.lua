-- The seed providers compiled from their vendors' documents against the
-- hand-written declarations they replaced (frozen in spec/fixtures/
-- handwritten/): for each provider, thousands of generated updates (valid
-- and invalid, every field and rule, ids and options too), from a fixed
-- seed, get from both the same verdict, the same err.kind, err.code and
-- err.fields keys, and the same request: method, URL, headers and body
-- (the multipart boundary, random, aside).
local users = require "users"
local deepcompare = require("luassert.util").deepcompare

-- Fewer under valgrind and ASan (make asan sets LUA_USERS_GC), which look for
-- memory errors, not for differences: the plain runs compare 10 000.
local N = (os.getenv("LUA_USERS_VALGRIND") or os.getenv("LUA_USERS_GC")) and 300 or 10000

-- Park-Miller's minimal standard generator: the same numbers on every Lua
-- (16807 * 2^31 stays within a double's exact integers).
local function generator(seed)
  local x = seed
  return function(n)
    x = 16807 * x % 2147483647
    return x % n + 1
  end
end

local PNG = "\137PNG\r\n\26\n\0\0\0\rIHDR\0\0\0\1\0\0\0\1\8\6\0\0\0\31\21\196\137"
local UUID = "5f0c2c1e-8f5d-4c8e-9d6a-0a1b2c3d4e5f"
local BIG = PNG .. ("\0"):rep(1024 * 1024)

-- Values any field may get: mostly wrong for it.
local ANY = {
  "", "x", ("x"):rep(51), ("é"):rep(50), ("é"):rep(101), ("p"):rep(256), "not an email", "a@b",
  "\255\254", "with\0nul", UUID, UUID:upper(), UUID:sub(2), "*", "US/Eastern", "europe/paris",
  0, 1, -1, 42, 1.5, 2 ^ 53, "12", "-3", "1e3", true, false, users.null,
  {}, { 1, 2 }, { "a" }, { x = 1 }, { { 1 } }, setmetatable({}, users.array_mt),
}

local function blob(bytes, name, ctype) return function() return users.blob(bytes, name, ctype) end end

local cases = {
  lancepilot = {
    fields = {
      name = { "Jane", ("n"):rep(50), ("é"):rep(50) },
      email = { "jane@example.com", "j.doe+x@mail.example.org" },
      password = { "secret1", ("p"):rep(6), ("p"):rep(255) },
      confirm_password = { "secret1", ("p"):rep(6) },
      timezone = { "Europe/Paris", "UTC", "America/New_York", "Asia/Kolkata" },
      status = { true, false },
      client = { true, false },
      avatar = { blob(PNG, "a.png", "image/png"), blob(PNG, "b.png"), users.null,
                 blob("plain text", "a.txt", "text/plain"), blob(BIG, "big.png", "image/png") },
    },
    required = { "name", "email", "timezone", "status" },
    ids = { { workspace = UUID, user = 42 }, { workspace = UUID, user = 7 }, 42, 42, "42",
            { workspace = "nope", user = 1 }, { workspace = UUID, user = "x" }, { user = 7 }, -5 },
    options = { { workspace = UUID }, { workspace = UUID }, { workspace = UUID }, {}, { workspace = "not-a-uuid" } },
  },
  lexful = {
    fields = {
      email = { "jane@example.com", ("a"):rep(243) .. "@example.com" },
      first_name = { "Jane", users.null, ("f"):rep(100) },
      last_name = { "Doe", users.null, "é" },
      role = { "system_admin", "system_support", "admin", "support", "viewer", "organization_viewer" },
      account_scopes = { {}, { "*" }, { UUID }, { UUID, "*" }, { "*", "nope" }, { UUID, 3 } },
      organization_scopes = { {}, { "*" }, { UUID:upper() }, setmetatable({}, users.array_mt) },
    },
    ids = { UUID, UUID, UUID:upper(), "nope", 42, UUID .. "0" },
    options = { { account_id = UUID }, { account_id = UUID, headers = { ["X-Trace"] = "1" } }, {} },
  },
  activepieces = {
    fields = {
      status = { "ACTIVE", "INACTIVE" },
      platformRole = { "ADMIN", "MEMBER", "OPERATOR" },
      externalId = { "ext-1", "", ("e"):rep(300) },
    },
    ids = { ("a"):rep(21), "0123456789abcdefABCDE", ("a"):rep(20), ("a"):rep(20) .. "-", 42 },
    options = { {} },
  },
  paradigm = {
    fields = {
      workspaces = { {}, { 1, 2 }, { 3 }, setmetatable({}, users.array_mt), { 1, "2" }, { 1.5 } },
    },
    ids = { 7, "7", -1, "abc", 1.5, 0 },
    options = { { encoding = "json" }, { encoding = "form" }, { encoding = "multipart" }, {} },
  },
}

local UNKNOWN = { "nmae", "Email", "role2", "workspace", "id" }

local function pick(r, list)
  local v = list[r(#list)]
  if type(v) == "function" then return v() end
  return v
end

-- One update: a few fields (half the time over the required ones, valid),
-- each valid for it or any value, now and then
-- a field the provider does not have; sometimes none at all.
local function update(r, case, names)
  local fields, n = {}, r(#names + 2) - 1
  if case.required and r(2) == 1 then -- every required field, valid, to build on
    for _, name in ipairs(case.required) do fields[name] = pick(r, case.fields[name]) end
    n = r(4) - 1
  end
  for _ = 1, n do
    local name = names[r(#names)]
    fields[name] = r(10) <= 8 and pick(r, case.fields[name]) or pick(r, ANY)
  end
  if r(20) == 1 then fields[pick(r, UNKNOWN)] = "x" end
  if fields.password ~= nil and r(3) > 1 then fields.confirm_password = fields.password end
  return fields
end

-- A value in a failure's message.
local function show(v, depth)
  if type(v) == "string" then return ("%q"):format(#v > 40 and v:sub(1, 40) .. "..." or v) end
  if type(v) ~= "table" or (depth or 0) > 2 then return tostring(v) end
  local parts = {}
  for k, x in pairs(v) do parts[#parts + 1] = tostring(k) .. "=" .. show(x, (depth or 0) + 1) end
  table.sort(parts)
  return "{" .. table.concat(parts, ", ") .. "}"
end

local function normal(s, boundary)
  if type(s) ~= "string" or not boundary then return s end
  local out = {}
  local i = 1
  while true do
    local a, b = s:find(boundary, i, true)
    if not a then break end
    out[#out + 1] = s:sub(i, a - 1)
    out[#out + 1] = "BOUNDARY"
    i = b + 1
  end
  out[#out + 1] = s:sub(i)
  return table.concat(out)
end

-- What a prepare gave, as one comparable table.
local function outcome(req, err)
  if not req then
    local keys = {}
    for k in pairs(err.fields or {}) do keys[#keys + 1] = k end
    table.sort(keys)
    return { kind = err.kind, code = err.code, fields = table.concat(keys, " "),
             message = err.kind ~= "invalid" and err.message or nil }
  end
  local ctype = req.headers["Content-Type"]
  local boundary = ctype and ctype:match("boundary=(.+)$")
  local h = {}
  for k, v in pairs(req.headers) do h[k:lower()] = normal(v, boundary) end
  return { method = req.method, url = req.url, headers = h, body = normal(req.body, boundary) }
end

for _, name in ipairs { "lancepilot", "lexful", "activepieces", "paradigm" } do
  describe(name .. " compiled from its document", function()
    it("gives what the hand-written declaration gave, on " .. N .. " generated updates", function()
      local case = cases[name]
      local names = {}
      for f in pairs(case.fields) do names[#names + 1] = f end
      table.sort(names)
      -- a client with a token, and one without (a config error)
      local compiled = { users.new(name, { token = "tok" }), users.new(name) }
      local frozen = dofile("spec/fixtures/handwritten/" .. name .. ".lua")
      frozen.replace = true
      users.register(frozen)
      local handwritten = { users.new(name, { token = "tok" }), users.new(name) }
      local r = generator(22 + #name)
      local seen = { valid = 0, invalid = 0, other = 0, fields = {} }
      for i = 1, N do
        local id, fields, opts = pick(r, case.ids), update(r, case, names), pick(r, case.options)
        local c = r(25) == 1 and 2 or 1
        local a = outcome(users.prepare(compiled[c], id, fields, opts))
        local b = outcome(users.prepare(handwritten[c], id, fields, opts))
        -- assert.same's own comparison first: the message costs more than
        -- the check, so it is built only for a difference
        if not deepcompare(b, a, true) then
          assert.same(b, a, ("update %d: id %s, fields %s, options %s"):format(i, show(id), show(fields), show(opts)))
        end
        local kind = a.method and "valid" or a.kind == "invalid" and "invalid" or "other"
        seen[kind] = seen[kind] + 1
        for f in pairs(fields) do seen.fields[f] = true end
      end
      if os.getenv("LUA_USERS_DIFF_STATS") then
        print(("%s: %d updates, %d valid, %d invalid, %d other"):format(name, N, seen.valid, seen.invalid, seen.other))
      end
      -- the generator exercises what it should: both verdicts, every field
      assert.is_true(seen.valid >= N / 20, "too few valid updates: " .. seen.valid)
      assert.is_true(seen.invalid >= N / 20, "too few invalid updates: " .. seen.invalid)
      for _, f in ipairs(names) do assert.is_true(seen.fields[f], f .. " never generated") end
    end)
  end)
end
