-- The SCIM PATCH body (users/scim/patch.lua): RFC 7644 section 3.5.2, in the
-- one form every dialect takes (a path on every operation, never a filter).
local users = require "users"
local core = require "users.core"
local schema = require "users.scim.schema"
local check = require "users.scim.check"
local patch = require "users.scim.patch"

local null = users.null
local ENT = schema.ENTERPRISE

local function body(given)
  return patch.body(assert(check.attrs(given)))
end

-- The operations as they go on the wire (encoded, then decoded again).
local function wire(given)
  local decoded = core.json_decode(core.json_encode(body(given)))
  assert.same({ schema.PATCH_OP }, decoded.schemas)
  return decoded.Operations
end

describe("scim patch", function()
  it("is one replace per attribute, path = its name, in schema order", function()
    assert.same({
      { op = "replace", path = "userName", value = "bjensen" },
      { op = "replace", path = "displayName", value = "Babs Jensen" },
      { op = "replace", path = "active", value = false },
    }, wire { active = false, DISPLAYNAME = "Babs Jensen", userName = "bjensen" })
  end)

  it("removes with a path for users.null", function()
    assert.same({
      { op = "remove", path = "title" },
      { op = "remove", path = "phoneNumbers" },
    }, wire { title = null, phoneNumbers = null })
  end)

  it("replaces a complex attribute with the sub-attributes given; a null one is removed by its own path", function()
    assert.same({
      { op = "replace", path = "name", value = { familyName = "Jensen", givenName = "Barbara" } },
      { op = "remove", path = "name.middleName" },
    }, wire { name = { givenName = "Barbara", familyName = "Jensen", middleName = null } })
    assert.same({ { op = "remove", path = "name.honorificPrefix" } },
                wire { ["name.honorificPrefix"] = null })
  end)

  it("replaces a multi-valued attribute whole, as an array; an empty one is removed", function()
    local ops = wire { emails = { { value = "bjensen@example.com", type = "work", primary = true } },
                       roles = setmetatable({}, users.array_mt) }
    assert.same({
      { op = "replace", path = "emails", value = { { value = "bjensen@example.com", type = "work", primary = true } } },
      { op = "remove", path = "roles" },
    }, ops)
    local raw = core.json_encode(body { emails = { { value = "a@example.com" } } })
    assert.matches('"value":%[{"value":"a@example.com"}%]', raw)
  end)

  it("gives an extension attribute the path URN:attribute, known extensions first", function()
    local acme = "urn:acme:params:scim:schemas:extension:2.0:User"
    assert.same({
      { op = "replace", path = "title", value = "Tour Guide" },
      { op = "remove", path = ENT .. ":costCenter" },
      { op = "replace", path = ENT .. ":department", value = "Tour Operations" },
      { op = "replace", path = ENT .. ":manager", value = { value = "26118915" } },
      { op = "replace", path = acme .. ":badge", value = { color = "red" } },
      { op = "remove", path = acme .. ":badge.shape" },
      { op = "replace", path = acme .. ":level", value = 3 },
    }, wire {
      [acme] = { level = 3, badge = { color = "red", shape = null } },
      [ENT:lower()] = { department = "Tour Operations", costCenter = null, ["manager.value"] = "26118915" },
      title = "Tour Guide",
    })
  end)

  it("never sends a filter path or a remove without a path", function()
    local ops = wire {
      userName = "b", name = { givenName = "B", middleName = null }, emails = { { value = "b@example.com" } },
      addresses = null, [ENT] = { manager = { value = "m", ["$ref"] = null }, division = null },
    }
    assert.is_true(#ops >= 6)
    for _, op in ipairs(ops) do
      assert.is_string(op.path)
      assert.is_nil(op.path:find("[", 1, true))
      assert.is_truthy(op.op == "replace" or op.op == "remove")
      if op.op == "remove" then assert.is_nil(op.value) else assert.is_not_nil(op.value) end
    end
  end)

  it("gives the same body for the same update, whatever the order of the keys", function()
    local a = core.json_encode(body { title = "x", userName = "u", [ENT] = { department = "d", division = "v" } })
    for _ = 1, 20 do
      local t = {}
      t[ENT] = { division = "v", department = "d" }
      t.userName, t.title = "u", "x"
      assert.equal(a, core.json_encode(body(t)))
    end
  end)
end)
