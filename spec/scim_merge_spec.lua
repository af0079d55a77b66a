-- The SCIM PUT body (users/scim/merge.lua): the GET's user with the update
-- merged in, RFC 7644 section 3.5.1, from the RFC 7643 examples.
local users = require "users"
local core = require "users.core"
local schema = require "users.scim.schema"
local check = require "users.scim.check"
local merge = require "users.scim.merge"
local examples = dofile("spec/support/fake/vendors/scim_examples.lua")

local null = users.null
local ENT = schema.ENTERPRISE

-- The GET as the client has it: the example with meta, through JSON.
local function fetched(user)
  user.meta = { resourceType = "User", created = "2010-01-23T04:56:22Z",
                lastModified = "2011-05-13T04:42:34Z", version = 'W/"3694e05e9dff591"',
                location = "https://example.com/v2/Users/" .. examples.BJENSEN_ID }
  return core.json_decode(core.json_encode(user))
end

local function put(current, given)
  return merge.resource(current, assert(check.attrs(given)))
end

describe("scim merge", function()
  it("keeps what the update does not name and leaves meta and read-only groups out", function()
    local body = put(fetched(examples.full_user()), { displayName = "Babs" })
    local want = examples.full_user()
    want.displayName, want.groups = "Babs", nil
    assert.same(want, body)
    assert.is_nil(body.meta)
    assert.equal(examples.BJENSEN_ID, body.id) -- as RFC 7644's own PUT example sends it
  end)

  it("replaces the given sub-attributes of a complex attribute and keeps the others", function()
    local body = put(fetched(examples.full_user()), { name = { givenName = "Babs", middleName = null } })
    assert.same({ formatted = "Ms. Barbara J Jensen, III", familyName = "Jensen", givenName = "Babs",
                  honorificPrefix = "Ms.", honorificSuffix = "III" }, body.name)
  end)

  it("replaces a multi-valued attribute whole", function()
    local body = put(fetched(examples.full_user()), { emails = { { value = "babs@example.org", type = "home" } } })
    assert.same({ { value = "babs@example.org", type = "home" } }, body.emails)
    assert.equal(users.array_mt, getmetatable(body.emails))
    assert.equal(2, #body.phoneNumbers)
  end)

  it("removes for users.null and for an empty array", function()
    local body = put(fetched(examples.full_user()), { title = null, ims = setmetatable({}, users.array_mt),
                                                      ["name.formatted"] = null })
    assert.is_nil(body.title)
    assert.is_nil(body.ims)
    assert.is_nil(body.name.formatted)
    assert.equal("Jensen", body.name.familyName)
  end)

  it("merges into the enterprise extension and drops the manager's read-only displayName", function()
    local body = put(fetched(examples.enterprise_user()), { [ENT] = { department = "Sales", ["manager.value"] = "42" } })
    assert.same({ employeeNumber = "701984", costCenter = "4130", organization = "Universal Studios",
                  division = "Theme Park", department = "Sales",
                  manager = { value = "42", ["$ref"] = "../Users/26118915-6090-4610-87e4-49d8ca9f808d" } }, body[ENT])
    assert.same({ schema.CORE, ENT }, body.schemas)
  end)

  it("adds an extension given for the first time to schemas, and takes it out when emptied", function()
    local body = put(fetched(examples.full_user()), { [ENT] = { department = "Sales" } })
    assert.same({ department = "Sales" }, body[ENT])
    assert.same({ schema.CORE, ENT }, body.schemas)
    local acme = "urn:acme:2.0:User"
    local u = examples.enterprise_user()
    u.schemas[3], u[acme] = acme, { badge = "gold" }
    body = put(fetched(u), { [ENT] = { employeeNumber = null, costCenter = null, organization = null,
      division = null, department = null, manager = null } })
    assert.is_nil(body[ENT])
    assert.same({ schema.CORE, acme }, body.schemas)
    assert.same({ badge = "gold" }, body[acme]) -- a server's own extension goes back as it came
  end)

  it("matches the server's names in any case: one attribute back, under its canonical name", function()
    local current = { schemas = { schema.CORE }, id = "1", UserName = "old", NAME = { GivenName = "A", familyName = "B" },
                      Meta = { version = 'W/"1"' }, urn_ignored = nil,
                      [ENT:upper()] = { Department = "X" } }
    local body = put(current, { userName = "new", name = { givenName = "C" }, [ENT] = { department = "Y" } })
    assert.same({ schemas = { schema.CORE, ENT }, id = "1", userName = "new",
                  name = { givenName = "C", familyName = "B" }, [ENT] = { department = "Y" } }, body)
  end)

  it("leaves out nulls the server returned, and never changes the GET's tables", function()
    local current = fetched(examples.full_user())
    current.nickName = null
    local before = core.json_encode(current)
    local body = put(current, { name = { givenName = "X" }, emails = { { value = "x@example.com" } } })
    assert.is_nil(body.nickName)
    assert.equal(before, core.json_encode(current))
  end)

  it("encodes back to JSON with arrays as arrays", function()
    local body = put(fetched(examples.full_user()), { roles = { { value = "admin" } } })
    local raw = core.json_encode(body)
    assert.matches('"roles":%[{"value":"admin"}%]', raw)
    assert.matches('"schemas":%["urn:ietf:params:scim:schemas:core:2.0:User"%]', raw)
  end)
end)
