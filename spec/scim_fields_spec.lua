-- The SCIM User's attributes as declaration fields (users/scim/fields.lua):
-- what describe("scim") and the command's CSV columns will see.
local schema = require "users.scim.schema"
local fields = require "users.scim.fields"
local check = require "users.scim.check"

local function by_name()
  local t = {}
  for i, f in ipairs(fields.list()) do t[f[1]] = f; f.order = i end
  return t
end

describe("scim fields", function()
  it("lists the core attributes with their types", function()
    local f = by_name()
    assert.equal("string", f.userName.type)
    assert.is_false(f.userName.nullable)
    assert.equal("boolean", f.active.type)
    assert.is_true(f.active.nullable)
    assert.equal("object", f.name.type)
    assert.equal("array", f.emails.type)
    assert.equal("object", f.emails.items.type)
    assert.is_true(f.password.write_only)
    assert.is_true(f.userName.order < f.displayName.order)
  end)

  it("lists a complex attribute's sub-attributes as dotted fields, and the enterprise ones by URN", function()
    local f = by_name()
    assert.equal("string", f["name.givenName"].type)
    assert.equal("string", f[schema.ENTERPRISE .. ":department"].type)
    assert.equal("string", f[schema.ENTERPRISE .. ":manager.value"].type)
  end)

  it("leaves out what an update cannot set", function()
    local f = by_name()
    for _, name in ipairs { "id", "meta", "groups", "schemas", schema.ENTERPRISE .. ":manager.displayName" } do
      assert.is_nil(f[name], name)
    end
  end)

  it("names only what the check takes", function()
    for _, f in ipairs(fields.list()) do
      local v = ({ string = "x", boolean = true })[f.type]
      if v ~= nil then assert.is_truthy(check.attrs { [f[1]] = v }, f[1]) end
    end
  end)

  it("is a new list each time", function()
    local a = fields.list()
    a[1].type = "changed"
    assert.are_not.equal("changed", fields.list()[1].type)
  end)
end)
