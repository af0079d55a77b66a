-- core.marshal_json validates and encodes in one pass; core.validate then
-- core.encode_json are the reference. For every provider and thousands of
-- generated updates, valid and not, the two must give the same answer:
-- the same body, or the same problems, or both an error.
local core = require "users.core"
local users = require "users"

local NULL = users.null
local LONG = ("long_"):rep(10) -- 50 bytes: Lua 5.3/5.4 do not intern it
-- Generated updates per provider: sized for native speed; under valgrind and
-- under ASan's collector at its most aggressive (LUA_USERS_GC, set by make
-- asan) an update costs a hundred times more. What they prove does not
-- shrink: every value of the pool is tried in every field first, whatever N.
local N = (os.getenv("LUA_USERS_VALGRIND") or os.getenv("LUA_USERS_GC") == "aggressive") and 150 or 3000

-- Values of every kind a caller might pass, right and wrong for any field.
local function pool()
  local backwards = {}
  backwards[3], backwards[2], backwards[1] = 3, 2, 1 -- keys 1..3 in the hash part
  return {
    "jane@example.com", "bad@", "", "x", "Jane", ("a"):rep(120), "admin", "ADMIN", "MEMBER",
    "Europe/Paris", "Mars/Olympus", "5f0c2c1e-8f5d-4c8e-9d6a-0a1b2c3d4e5f", "*", "**",
    "5F0C2C1E-8F5D-4C8E-9D6A-0A1B2C3D4E5G", "Zoë", "日本語", "quote\"back\\slash", "tab\there",
    "nul\0byte", "\255bad utf8", "line\nbreak", "ACTIVE", "12", "-7", "9223372036854775808",
    LONG, 0, 42, -3, 1.5, 2 ^ 53, 0 / 0, true, false, NULL,
    {}, setmetatable({}, users.array_mt), { 1, 2, 3 }, { 7 }, { "5f0c2c1e-8f5d-4c8e-9d6a-0a1b2c3d4e5f", "*" },
    { "*" }, { "a", "b" }, { 1, nil, 3 }, backwards, { x = 1 }, { 1, 2, x = 3 }, { { 1 } },
    { 1.5 }, { "12" }, { NULL }, { [0] = 1 }, function() end,
    users.blob("\137PNG\r\n\26\n....", "a.png"),
  }
end

-- A right value for a field of the five providers.
local RIGHT = {
  email = "jane@example.com", role = "admin", account_scopes = { "5f0c2c1e-8f5d-4c8e-9d6a-0a1b2c3d4e5f", "*" },
  organization_scopes = { "*" }, platformRole = "MEMBER", workspaces = { 1, 2 }, timezone = "Europe/Paris",
  password = "secret1", confirm_password = "secret1", client = false,
  avatar = users.blob("\137PNG\r\n\26\n....", "a.png"),
}
local function right(provider, f)
  if f[1] == "status" then return provider == "activepieces" and "ACTIVE" or true end
  if RIGHT[f[1]] ~= nil then return RIGHT[f[1]] end
  return "Jane"
end

-- Problems tables (string keys, lists of strings) equal, without luassert:
-- its assertions allocate, and thousands of them cost minutes under the
-- aggressive collector. A difference is then asserted, and reported, by it.
-- (json_encode writes an object's keys sorted.)
local function same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  return core.json_encode(a) == core.json_encode(b)
end

local function compare(provider, fields)
  local c = provider.compiled
  local ok_m, body, problems, reason = pcall(core.marshal_json, c, fields)
  local want_problems, want_reason = core.validate(c, fields)
  if want_problems or want_reason then
    if not (ok_m and body == nil and same(want_problems, problems) and want_reason == reason) then
      assert.same({ true, nil, want_problems, want_reason }, { ok_m, body, problems, reason })
    end
    return "invalid"
  end
  local ok_e, want_body = pcall(core.encode_json, c, fields)
  if ok_e ~= ok_m or (ok_e and want_body ~= body) then assert.same({ ok_e, want_body }, { ok_m, body }) end
  return ok_e and "valid" or "refused"
end

describe("core.marshal_json", function()
  for _, name in ipairs { "lexful", "generic", "activepieces", "paradigm", "lancepilot" } do
    it("answers as validate + encode_json for generated " .. name .. " updates", function()
      math.randomseed(42)
      local provider = require("users.registry").get(name)
      local names = {}
      for i, f in ipairs(provider.decl.fields) do names[i] = f[1] end
      names[#names + 1] = "not_a_field"
      names[#names + 1] = LONG
      local values = pool()
      local seen = { valid = 0, invalid = 0, refused = 0 }
      local function rights(all)
        local fields = {}
        for _, f in ipairs(provider.decl.fields) do -- right values, often
          if all or math.random(10) <= (f.required and 9 or 6) then fields[f[1]] = right(name, f) end
        end
        return fields
      end
      local function try(fields)
        local kind = compare(provider, fields)
        seen[kind] = seen[kind] + 1
      end
      for _, field in ipairs(names) do -- each value in each field, among right ones
        for _, value in ipairs(values) do
          local fields = rights(true)
          fields[field] = value
          try(fields)
        end
      end
      local systematic = { valid = seen.valid, invalid = seen.invalid }
      for _ = 1, N do -- then a few of anything, at random
        local fields = rights()
        for _ = 1, math.random(0, 2) do fields[names[math.random(#names)]] = values[math.random(#values)] end
        if math.random(20) == 1 then fields[1] = "positional" end
        try(fields)
      end
      -- each pass must exercise both answers, or the test proves little
      assert.is_true(systematic.valid > 0 and systematic.invalid > 0, "the pass of each value in each field")
      local valid, invalid = seen.valid - systematic.valid, seen.invalid - systematic.invalid
      assert.is_true(valid > N / 30, "valid updates generated: " .. valid)
      assert.is_true(invalid > N / 30, "invalid updates generated: " .. invalid)
    end)
  end

  it("writes fields in declaration order, whatever order the table has", function()
    local p = core.compile { name = "order", fields = {
      { "b", type = "string" }, { "a", type = "integer" }, { "c", type = "array", items = { type = "string" } },
      { LONG, type = "boolean" } } }
    local t = {}
    t[LONG] = false; t.c = { "x", "y" }; t.a = 5; t.b = "é"
    assert.equal('{"b":"é","a":5,"c":["x","y"],"' .. LONG .. '":false}', core.marshal_json(p, t))
    assert.equal(core.encode_json(p, t), core.marshal_json(p, t))
  end)

  it("matches enum values that are not interned (long) as well as short ones", function()
    local long_value = ("v"):rep(60)
    local p = core.compile { name = "enums", fields = { { "e", type = "string", enum = { "a", long_value } } } }
    assert.equal('{"e":"' .. long_value .. '"}', core.marshal_json(p, { e = ("v"):rep(30) .. ("v"):rep(30) }))
    assert.equal('{"e":"a"}', core.marshal_json(p, { e = "a" }))
    local body, problems = core.marshal_json(p, { e = "b" })
    assert.is_nil(body)
    assert.same({ e = { "must be one of: a, " .. long_value } }, problems)
  end)

  it("refuses declarations it could not encode as declared", function()
    -- two fields of one name: the reference would write the key twice
    local ok, err = pcall(core.compile, { name = "dup", fields = { { "d" }, { "d", type = "string" } } })
    assert.is_false(ok)
    assert.matches("field d is declared twice", err)
    -- an enum value with a NUL: C strings cannot hold it
    ok, err = pcall(core.compile, { name = "nul", fields = { { "e", type = "string", enum = { "a\0b" } } } })
    assert.is_false(ok)
    assert.matches("without NUL", err)
  end)

  it("writes an empty array as [] where the schema says array", function()
    local p = core.compile { name = "arr", fields = { { "a", type = "array", items = { type = "integer" } },
                                                     { "b", type = "array", min_items = 1, items = { type = "string" } } } }
    assert.equal('{"a":[]}', core.marshal_json(p, { a = {} }))
    assert.equal(core.encode_json(p, { a = {} }), core.marshal_json(p, { a = {} }))
    local body, problems = core.marshal_json(p, { b = {} })
    assert.is_nil(body)
    assert.same({ b = { "must have at least 1 items" } }, problems)
  end)

  it("reports an empty update as validate does", function()
    local p = require("users.registry").get("generic").compiled
    assert.same({ nil, nil, "empty" }, { core.marshal_json(p, {}) })
  end)

  it("raises for a closed provider or a value that is not a provider", function()
    local p = core.compile { name = "closing", fields = { { "a", type = "string" } } }
    assert.has_error(function() core.marshal_json({}, { a = "x" }) end)
    assert.has_error(function() core.marshal_json(io.stdout, { a = "x" }) end)
    getmetatable(p).__gc(p)
    local ok, err = pcall(core.marshal_json, p, { a = "x" })
    assert.is_false(ok)
    assert.matches("provider is closed", err)
  end)
end)
