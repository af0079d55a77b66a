-- The SCIM User schema and the check before sending (users/scim/schema.lua,
-- users/scim/check.lua): RFC 7643 sections 2.1, 4.1, 4.3 and 7.
local users = require "users"
local schema = require "users.scim.schema"
local check = require "users.scim.check"
local examples = dofile("spec/support/fake/vendors/scim_examples.lua")

local null = users.null
local ENT = schema.ENTERPRISE

local function refused(given)
  local attrs, err = check.attrs(given)
  assert.is_nil(attrs)
  assert.equal("invalid", err.kind)
  assert.equal("validation_error", err.code)
  assert.equal("scim", err.provider)
  return err
end

describe("scim schema", function()
  it("knows every attribute of RFC 7643 section 4.1 and the enterprise extension", function()
    for _, name in ipairs { "userName", "name", "displayName", "nickName", "profileUrl", "title",
                            "userType", "preferredLanguage", "locale", "timezone", "active", "password",
                            "emails", "phoneNumbers", "ims", "photos", "addresses", "groups",
                            "entitlements", "roles", "x509Certificates", "id", "externalId", "meta" } do
      assert.equal(name, schema.attribute(name).name)
    end
    for _, name in ipairs { "employeeNumber", "costCenter", "organization", "division", "department", "manager" } do
      assert.equal(name, schema.attribute(name, ENT).name)
    end
  end)

  it("matches names and URNs in any case, and gives back the canonical one", function()
    assert.equal("userName", schema.attribute("USERNAME").name)
    assert.equal("givenName", schema.sub(schema.attribute("NAME"), "givenname").name)
    assert.equal(ENT, schema.extension(ENT:upper()).urn)
    assert.equal("department", schema.attribute("Department", ENT:lower()).name)
    assert.is_nil(schema.attribute("department"))
  end)

  it("says what is multi-valued, complex, read-only", function()
    local emails = schema.attribute("emails")
    assert.is_true(emails.multi)
    assert.equal("complex", emails.type)
    assert.equal("boolean", schema.sub(emails, "primary").type)
    assert.equal("readOnly", schema.attribute("groups").mutability)
    assert.equal("readOnly", schema.attribute("id").mutability)
    assert.equal("writeOnly", schema.attribute("password").mutability)
    assert.equal("readOnly", schema.sub(schema.attribute("manager", ENT), "displayName").mutability)
    assert.equal("readWrite", schema.sub(schema.attribute("manager", ENT), "value").mutability)
    assert.is_false(schema.attribute("name").multi)
  end)

  it("finds a member of a server's answer in any case", function()
    local t = { Meta = { VERSION = "1" }, id = "x" }
    assert.equal("Meta", schema.key(t, "meta"))
    assert.equal("1", schema.get(schema.get(t, "meta"), "version"))
    assert.equal("x", schema.get(t, "ID"))
    assert.is_nil(schema.get(t, "nope"))
    assert.is_nil(schema.get("not a table", "meta"))
  end)

  it("splits URN keys: a known schema in any case, or at the last colon", function()
    local urn, path = schema.split_known(ENT:upper() .. ":department")
    assert.same({ ENT, "department" }, { urn, path })
    assert.equal(ENT, (schema.split_known(ENT)))
    assert.equal(schema.CORE, (schema.split_known(schema.CORE .. ":userName")))
    assert.is_nil(schema.split_known("urn:acme:2.0:User:badge"))
    assert.same({ "urn:acme:2.0:User", "badge.color" }, { schema.split_unknown("urn:acme:2.0:User:badge.color") })
  end)
end)

describe("scim check", function()
  it("accepts the writable attributes of the RFC's full user and gives canonical names", function()
    local u = examples.enterprise_user()
    u.id, u.schemas, u.groups = nil, nil, nil
    u[ENT].manager.displayName = nil
    local attrs = assert(check.attrs(u))
    assert.same(u.name, attrs.name)
    assert.same(u.emails, attrs.emails)
    assert.equal(users.array_mt, getmetatable(attrs.emails))
    assert.same(u[ENT], attrs[ENT])
  end)

  it("restores canonical case: attributes, sub-attributes, known URNs", function()
    local attrs = assert(check.attrs {
      USERNAME = "bjensen", NAME = { GIVENNAME = "Barbara" }, Active = false,
      EMAILS = { { VALUE = "b@example.com", Type = "work", PRIMARY = true } },
      [ENT:upper()] = { DEPARTMENT = "Sales" },
    })
    assert.same({
      userName = "bjensen", name = { givenName = "Barbara" }, active = false,
      emails = { { value = "b@example.com", type = "work", primary = true } },
      [ENT] = { department = "Sales" },
    }, attrs)
  end)

  it("nests dotted keys and URN-qualified keys, merging them with tables in any order", function()
    local attrs = assert(check.attrs {
      ["name.givenName"] = "Barbara", name = { familyName = "Jensen" },
      [schema.CORE .. ":displayName"] = "Babs",
      [ENT .. ":manager.value"] = "26118915", [ENT] = { department = "Sales" },
      [ENT .. ":costCenter"] = "4130",
    })
    assert.same({ givenName = "Barbara", familyName = "Jensen" }, attrs.name)
    assert.equal("Babs", attrs.displayName)
    assert.same({ department = "Sales", costCenter = "4130", manager = { value = "26118915" } }, attrs[ENT])
  end)

  it("keeps users.null where it removes, and leaves null sub-attributes out of array values", function()
    local attrs = assert(check.attrs {
      title = null, name = { middleName = null, givenName = "B" },
      emails = { { value = "b@example.com", display = null } },
      [ENT] = { department = null },
    })
    assert.equal(null, attrs.title)
    assert.equal(null, attrs.name.middleName)
    assert.same({ { value = "b@example.com" } }, attrs.emails)
    assert.equal(null, attrs[ENT].department)
  end)

  it("refuses the read-only id, meta and groups, and the manager's displayName", function()
    local err = refused {
      id = "x", meta = { version = "W/\"1\"" }, groups = { { value = "g" } },
      [ENT] = { manager = { displayName = "John" } }, ["Meta.version"] = "2",
    }
    assert.same({ "is read-only: it cannot be updated" }, err.fields.id)
    assert.same({ "is read-only: it cannot be updated" }, err.fields.meta)
    assert.same({ "is read-only: it cannot be updated" }, err.fields.groups)
    assert.same({ "is read-only: it cannot be updated" }, err.fields["Meta.version"])
    assert.same({ "is read-only: it cannot be updated" }, err.fields[ENT .. ":manager.displayName"])
  end)

  it("refuses schemas: lua-users writes it from the extensions given", function()
    local err = refused { schemas = { schema.CORE } }
    assert.matches("written by lua%-users", err.fields.schemas[1])
  end)

  it("wants active as a boolean and strings where RFC 7643 says string", function()
    local err = refused { active = "false", displayName = 42, name = { givenName = true } }
    assert.same({ "must be a boolean (true or false)" }, err.fields.active)
    assert.same({ "must be a string" }, err.fields.displayName)
    assert.same({ "must be a string" }, err.fields["name.givenName"])
  end)

  it("wants multi-valued attributes as arrays of objects, one primary at most", function()
    local err = refused {
      emails = { value = "b@example.com" },
      phoneNumbers = { "555-555-5555" },
      addresses = { { locality = "Hollywood", primary = "yes" } },
      roles = { { value = "a", primary = true }, { value = "b", primary = true } },
      ims = { { value = "x", bogus = 1 } },
    }
    assert.matches("multi%-valued: it must be an array", err.fields.emails[1])
    assert.matches("must be an object", err.fields["phoneNumbers[1]"][1])
    assert.same({ "must be a boolean (true or false)" }, err.fields["addresses[1].primary"])
    assert.same({ "has 2 values marked primary: one at most" }, err.fields.roles)
    assert.matches("is not a sub%-attribute of ims", err.fields["ims[1].bogus"][1])
  end)

  it("refuses a path into a multi-valued attribute: that would need a filter", function()
    local err = refused { ["emails.value"] = "b@example.com" }
    assert.matches("multi%-valued: give the whole array", err.fields["emails.value"][1])
  end)

  it("refuses an unknown top-level attribute with the closest one", function()
    local err = refused { usrName = "b", dispalyName = "B", frobnicate = 1 }
    assert.matches("did you mean 'userName'%?$", err.fields.usrName[1])
    assert.matches("did you mean 'displayName'%?$", err.fields.dispalyName[1])
    assert.equal("is not an attribute of the SCIM User schema (RFC 7643)", err.fields.frobnicate[1])
  end)

  it("says where an enterprise attribute given at the top level belongs", function()
    local err = refused { department = "Sales" }
    assert.matches("enterprise extension", err.fields.department[1])
    assert.matches(ENT, err.fields.department[1], 1, true)
  end)

  it("checks attributes of the enterprise extension, with suggestions", function()
    local err = refused { [ENT] = { departmnt = "Sales", costCenter = 4130 } }
    assert.matches("did you mean 'department'%?$", err.fields[ENT .. ":departmnt"][1])
    assert.same({ "must be a string" }, err.fields[ENT .. ":costCenter"])
  end)

  it("passes attributes under an unknown URN through unchecked", function()
    local acme = "urn:acme:params:scim:schemas:extension:2.0:User"
    local attrs = assert(check.attrs {
      [acme] = { badge = { color = "red" }, level = 3 }, [acme .. ":floor"] = 2,
      ["urn:acme:other:2.0:User:clearance.level"] = "secret",
    })
    assert.same({ badge = { color = "red" }, level = 3, floor = 2 }, attrs[acme])
    assert.same({ clearance = { level = "secret" } }, attrs["urn:acme:other:2.0:User"])
  end)

  it("refuses the same attribute twice in two cases", function()
    local err = refused { userName = "a", USERNAME = "b" }
    local msgs = err.fields.userName or err.fields.USERNAME
    assert.same({ "is given twice (names are case-insensitive)" }, msgs)
  end)

  it("does not change the caller's tables", function()
    local name = { givenName = "B" }
    local attrs = assert(check.attrs { name = name, ["name.familyName"] = "J" })
    assert.same({ givenName = "B" }, name)
    assert.same({ givenName = "B", familyName = "J" }, attrs.name)
  end)

  it("needs at least one attribute", function()
    assert.equal("an update needs at least one field", refused({}).message)
    assert.equal("an update needs at least one field", refused({ [ENT] = {} }).message)
  end)

  it("names every offender in one error", function()
    local err = refused { id = "x", active = 1, emails = "x", nope = true }
    local n = 0
    for _ in pairs(err.fields) do n = n + 1 end
    assert.equal(4, n)
    assert.matches("4 fields are not valid", tostring(err))
  end)
end)
