-- Every rule of each vendor's contract is checked before anything is sent:
-- a refused update returns err.kind == "invalid", names every offending
-- field, and no request reaches the (real, loopback) server.
local users = require "users"
local env = require "spec.support.env"

local function refused(name, id, fields, extra)
  local user, err = users.update(name, id, fields, env.opts(name, extra))
  assert.is_nil(user)
  assert.is_table(err, "expected an error")
  assert.equal("invalid", err.kind, tostring(err))
  assert.equal(name, err.provider)
  return err
end

-- The messages for one field, joined, so a spec can match on them.
local function says(err, field)
  assert.is_table(err.fields[field], "no error for " .. field .. " in " .. tostring(err))
  return table.concat(err.fields[field], "; ")
end

local function accepted(name, id, fields)
  local req, err = users.prepare(name, id, fields, env.opts(name))
  assert.is_table(req, err and tostring(err))
  return req
end

describe("validation", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)
  before_each(function() env.fake:reset() end)
  after_each(function()
    -- The point of validating first: nothing left the process.
    assert.same({}, env.fake:requests())
  end)

  describe("for every provider", function()
    for _, name in ipairs(env.names) do
      local v = env.valid[name]
      it(name .. " refuses an unknown field, naming it", function()
        local fields = {}
        for k, x in pairs(v.fields) do fields[k] = x end
        fields.no_such_field = "x"
        local err = refused(name, v.id, fields)
        assert.matches("is not a field of " .. name, says(err, "no_such_field"))
      end)
      it(name .. " refuses an update with no field", function()
        local err = refused(name, v.id, {})
        assert.matches("at least one field", err.message)
      end)
      it(name .. " refuses a non-string field name", function()
        local err = refused(name, v.id, { [1] = "x" })
        assert.is_table(err.fields.number)
      end)
    end
  end)

  describe("lancepilot", function()
    local id = 42
    local function with(changes)
      local f = { name = "Jane", email = "jane@example.com", timezone = "UTC", status = true }
      for k, x in pairs(changes) do f[k] = x ~= "nil" and x or nil end
      return f
    end

    it("names every missing required field at once", function()
      local err = refused("lancepilot", id, { client = true })
      for _, f in ipairs { "name", "email", "timezone", "status" } do
        assert.matches("is required", says(err, f))
      end
    end)
    it("limits name to 50 characters, counted as characters not bytes", function()
      accepted("lancepilot", id, with { name = string.rep("é", 50) })
      assert.matches("at most 50", says(refused("lancepilot", id, with { name = string.rep("a", 51) }), "name"))
    end)
    it("checks the email format", function()
      for _, bad in ipairs { "jane", "jane@", "@example.com", "jane@example", "ja ne@example.com",
                             "jane..doe@example.com", "jane@-example.com" } do
        assert.matches("valid email", says(refused("lancepilot", id, with { email = bad }), "email"))
      end
    end)
    it("bounds password to 6..255 and requires the confirmation to match", function()
      accepted("lancepilot", id, with { password = "secret", confirm_password = "secret" })
      local short, long = "short", string.rep("p", 256)
      assert.matches("at least 6", says(refused("lancepilot", id, with { password = short, confirm_password = short }), "password"))
      assert.matches("at most 255", says(refused("lancepilot", id, with { password = long, confirm_password = long }), "password"))
      local mismatch = with { password = "secret1", confirm_password = "secret2" }
      assert.matches("must match password", says(refused("lancepilot", id, mismatch), "confirm_password"))
      assert.matches("must match password", says(refused("lancepilot", id, with { password = "secret1" }), "confirm_password"))
      assert.matches("must match password", says(refused("lancepilot", id, with { confirm_password = "secret1" }), "confirm_password"))
    end)
    it("takes only exact IANA time zone names", function()
      accepted("lancepilot", id, with { timezone = "America/Argentina/Buenos_Aires" })
      accepted("lancepilot", id, with { timezone = "Europe/Kyiv" })
      for _, bad in ipairs { "europe/paris", "US/Eastern", "GMT+1", "Paris", "" } do
        assert.matches("allowed values", says(refused("lancepilot", id, with { timezone = bad }), "timezone"))
      end
    end)
    it("takes booleans only as Lua booleans", function()
      for _, bad in ipairs { "true", 1, "1" } do
        assert.matches("must be a boolean", says(refused("lancepilot", id, with { status = bad }), "status"))
        assert.matches("must be a boolean", says(refused("lancepilot", id, with { client = bad }), "client"))
      end
    end)
    it("takes an image of at most 1 MB as avatar, or null", function()
      local png = env.tmpfile(env.PNG)
      local text = env.tmpfile("just text, not an image")
      local big = env.tmpfile(env.PNG .. string.rep("\0", 1024 * 1024))
      accepted("lancepilot", id, with { avatar = users.file(png) })
      accepted("lancepilot", id, with { avatar = users.blob(env.PNG, "a.png", "image/png") })
      accepted("lancepilot", id, with { avatar = users.null })
      assert.matches("must be an image", says(refused("lancepilot", id, with { avatar = users.file(text) }), "avatar"))
      assert.matches("must be an image", says(refused("lancepilot", id, with { avatar = users.blob("GIF", "a.gif") }), "avatar"))
      assert.matches("at most 1048576 bytes", says(refused("lancepilot", id, with { avatar = users.file(big) }), "avatar"))
      assert.matches("image/%* content type", says(refused("lancepilot", id, with { avatar = users.file(png, "text/plain") }), "avatar"))
      assert.matches("cannot read", says(refused("lancepilot", id, with { avatar = users.file("/nonexistent/a.png") }), "avatar"))
      assert.matches("must be a file", says(refused("lancepilot", id, with { avatar = "a.png" }), "avatar"))
      assert.matches("forbidden characters", says(refused("lancepilot", id, with { avatar = users.blob(env.PNG, "a\r\n.png") }), "avatar"))
      os.remove(png); os.remove(text); os.remove(big)
    end)
    it("validates the workspace UUID and the integer user id", function()
      assert.matches("valid UUID", says(refused("lancepilot", id, with {}, { workspace = "not-a-uuid" }), "workspace"))
      local o = env.opts("lancepilot")
      o.workspace = nil
      local _, err = users.update("lancepilot", id, with {}, o)
      assert.equal("config", err.kind)
      assert.matches("LANCEPILOT_WORKSPACE", err.message, 1, true)
      assert.matches("integer", says(refused("lancepilot", "42/../1", with {}), "user"))
      assert.matches("integer", says(refused("lancepilot", 4.5, with {}), "user"))
      accepted("lancepilot", { workspace = env.WORKSPACE, user = "43" }, with {})
    end)
    it("refuses text that is not UTF-8", function()
      assert.matches("UTF%-8", says(refused("lancepilot", id, with { name = "J\255ne" }), "name"))
    end)
  end)

  describe("lexful", function()
    local id = env.USER_UUID
    it("checks email format and length", function()
      accepted("lexful", id, { email = "jane@example.com" })
      local long = string.rep("a", 64) .. "@" .. string.rep("b", 63) .. "." .. string.rep("c", 63) .. "." .. string.rep("d", 63) .. ".com"
      assert.matches("at most 255", says(refused("lexful", id, { email = long }), "email"))
      assert.matches("valid email", says(refused("lexful", id, { email = "nope" }), "email"))
    end)
    it("takes null for names, but not an empty or over-long name", function()
      accepted("lexful", id, { first_name = users.null, last_name = users.null })
      assert.matches("at least 1", says(refused("lexful", id, { first_name = "" }), "first_name"))
      assert.matches("at most 100", says(refused("lexful", id, { last_name = string.rep("x", 101) }), "last_name"))
    end)
    it("takes a role from the enum only", function()
      accepted("lexful", id, { role = "organization_viewer" })
      assert.matches("must be one of: admin", says(refused("lexful", id, { role = "Admin" }), "role"))
    end)
    it("takes scopes as arrays of UUIDs or \"*\"", function()
      accepted("lexful", id, { account_scopes = {}, organization_scopes = { "*", env.ACCOUNT } })
      local err = refused("lexful", id, { account_scopes = { env.ACCOUNT, "nope" }, organization_scopes = { a = 1 } })
      assert.matches("item 2 must be a UUID or \"%*\"", says(err, "account_scopes"))
      assert.matches("must be an array", says(err, "organization_scopes"))
      assert.matches("must be an array", says(refused("lexful", id, { account_scopes = "*" }), "account_scopes"))
      assert.matches("cannot be null", says(refused("lexful", id, { account_scopes = users.null }), "account_scopes"))
      assert.matches("holes", says(refused("lexful", id, { account_scopes = { "*", nil, "*" } }), "account_scopes"))
    end)
    it("validates the user id as a UUID", function()
      assert.matches("valid UUID", says(refused("lexful", "42", { role = "admin" }), "id"))
    end)
    it("names every offending field, with every message", function()
      local err = refused("lexful", id, { email = "x", first_name = "", role = "root", bogus = true })
      local n = 0
      for _ in pairs(err.fields) do n = n + 1 end
      assert.equal(4, n)
      assert.matches("4 fields", err.message)
    end)
  end)

  describe("generic", function()
    local id = "usr_123abc456def"
    it("takes every field as an optional string", function()
      accepted("generic", id, { email = "a@example.com", username = "jane", first_name = "J", last_name = "D", role = "admin" })
      assert.matches("must be a string", says(refused("generic", id, { username = 42 }), "username"))
      assert.matches("cannot be null", says(refused("generic", id, { role = users.null }), "role"))
    end)
    it("refuses a password change (the API has a separate endpoint)", function()
      assert.matches("not a field", says(refused("generic", id, { password = "secret123" }), "password"))
    end)
    it("refuses ids that would change the path", function()
      assert.is_table(refused("generic", "..", { role = "x" }).fields.user_id)
      assert.is_table(refused("generic", "", { role = "x" }).fields.user_id)
    end)
  end)

  describe("activepieces", function()
    it("takes enums exactly and externalId as a string, none nullable", function()
      accepted("activepieces", env.AP_ID, { status = "INACTIVE", platformRole = "OPERATOR", externalId = "ext-1" })
      local err = refused("activepieces", env.AP_ID, { status = "active", platformRole = "OWNER", externalId = users.null })
      assert.matches("ACTIVE, INACTIVE", says(err, "status"))
      assert.matches("ADMIN, MEMBER, OPERATOR", says(err, "platformRole"))
      assert.matches("cannot be null", says(err, "externalId"))
    end)
    it("catches the typo the server would drop silently", function()
      assert.matches("not a field", says(refused("activepieces", env.AP_ID, { platformrole = "ADMIN" }), "platformrole"))
    end)
    it("checks the id against ^[0-9a-zA-Z]{21}$", function()
      for _, bad in ipairs { "short", env.AP_ID .. "x", "abcdefghij-BCDEFGHIJ1", "abcdefghij/BCDEFGHIJ1" } do
        assert.matches("pattern", says(refused("activepieces", bad, { status = "ACTIVE" }), "id"))
      end
    end)
  end)

  describe("paradigm", function()
    it("takes workspaces as an array of integers, [] included", function()
      accepted("paradigm", 7, { workspaces = {} })
      accepted("paradigm", "7", { workspaces = { 1, "9007199254740993" } })
      local err = refused("paradigm", 7, { workspaces = { 1, 2.5, "x" } })
      assert.matches("item 2 must be an integer", says(err, "workspaces"))
      assert.matches("item 3 must be an integer", says(err, "workspaces"))
    end)
    it("cannot send [] as a form, and says so", function()
      local err = refused("paradigm", 7, { workspaces = {} }, { encoding = "form" })
      assert.matches("json encoding", says(err, "workspaces"))
    end)
    it("validates the integer id", function()
      assert.matches("integer", says(refused("paradigm", "7/../8", { workspaces = {} }), "id"))
    end)
  end)
end)
