-- The OpenAPI compiler's schemas: each JSON Schema keyword into the
-- declaration's words (lua/users/providers/README.md), the messy cases real
-- documents have, and the keywords it refuses, named with their pointer.
local openapi = require "users.openapi"
local users = require "users"

local null = users.null

-- A document whose one operation, PATCH /users/{id}, takes `schema` as its
-- JSON body; `schemas` become #/components/schemas; `version` 3.1 unless said.
local function doc(schema, schemas, version)
  return {
    openapi = version or "3.1.0", info = { title = "Acme", version = "1" },
    servers = { { url = "https://api.acme.test" } },
    paths = { ["/users/{id}"] = { patch = {
      operationId = "updateUser",
      parameters = { { name = "id", ["in"] = "path", required = true, schema = { type = "integer" } } },
      requestBody = { content = { ["application/json"] = { schema = schema } } },
    } } },
    components = { schemas = schemas },
  }
end

local function fields(schema, schemas, version)
  local d, err = openapi.declaration(doc(schema, schemas, version), "updateUser")
  assert(d, tostring(err))
  local by = {}
  for i, f in ipairs(d.fields) do by[f[1]] = f; f.order = i end
  return by, d
end

local function field(s, schemas, version)
  return fields({ type = "object", properties = { f = s } }, schemas, version).f
end

local function refused(schema, pattern, pointer, schemas, version)
  local d, err = openapi.declaration(doc(schema, schemas, version), "updateUser")
  assert.is_nil(d)
  assert.equal("config", err.kind)
  assert.matches(pattern, err.message)
  if pointer then assert.equal(pointer, err.pointer) end
  return err
end

local BODY = "#/paths/~1users~1{id}/patch/requestBody/content/application~1json/schema"

describe("the OpenAPI compiler's schemas", function()
  it("turns camelCase rules into the declaration's snake_case ones", function()
    local f = field { type = "string", minLength = 1, maxLength = 5, pattern = "^a", format = "email",
                      description = " An\n  email ", default = "a@b.co", deprecated = true }
    assert.same({ "f", type = "string", min_length = 1, max_length = 5, pattern = "^a", format = "email",
                  description = "An email", default = "a@b.co", deprecated = true, order = 1 }, f)
    local n = field { type = "number", minimum = 0, maximum = 10, multipleOf = 0.5 }
    assert.same({ 0, 10, 0.5 }, { n.minimum, n.maximum, n.multiple_of })
    local a = field { type = "array", items = { type = "integer" }, minItems = 1, maxItems = 3, uniqueItems = true }
    assert.same({ type = "integer" }, a.items)
    assert.same({ 1, 3, true }, { a.min_items, a.max_items, a.unique_items })
    local o = field { type = "object", minProperties = 1, maxProperties = 2, additionalProperties = { type = "string" } }
    assert.same({ 1, 2 }, { o.min_properties, o.max_properties })
    assert.same({ type = "string" }, o.additional_properties)
  end)

  it("writes OAS 3.0's boolean exclusive bounds as 3.1's numbers", function()
    local f = field({ type = "integer", minimum = 1, exclusiveMinimum = true, maximum = 9, exclusiveMaximum = false },
                    nil, "3.0.3")
    assert.equal(1, f.exclusive_minimum)
    assert.is_nil(f.minimum)
    assert.equal(9, f.maximum)
    assert.is_nil(f.exclusive_maximum)
    local g = field { type = "integer", exclusiveMinimum = 0, exclusiveMaximum = 100 }
    assert.same({ 0, 100 }, { g.exclusive_minimum, g.exclusive_maximum })
  end)

  it("makes null a nullable: 3.0's nullable, 3.1 type lists, enum and const null, the FastAPI wrapper", function()
    assert.is_true(field({ type = "string", nullable = true }, nil, "3.0.3").nullable)
    local t = field { type = { "string", "null" }, maxLength = 3 }
    assert.same({ "f", type = "string", nullable = true, max_length = 3, order = 1 }, t)
    local e = field { type = "string", enum = { "a", "b", null } }
    assert.same({ "a", "b" }, e.enum)
    assert.is_true(e.nullable)
    local w = field { anyOf = { { type = "string", format = "date" }, { type = "null" } } }
    assert.same({ "f", type = "string", format = "date", nullable = true, order = 1 }, w)
    local r = field({ oneOf = { { type = "null" }, { ["$ref"] = "#/components/schemas/Id" } } },
                    { Id = { type = "string", pattern = "^[0-9]+$" } })
    assert.same({ "f", type = "string", pattern = "^[0-9]+$", nullable = true, order = 1 }, r)
    local only = field { type = "null" }
    assert.is_true(only.nullable)
    assert.same({}, only.enum)
  end)

  it("keeps several types, and real alternatives, as alternatives", function()
    local f = field { type = { "string", "integer" }, maxLength = 3 }
    assert.same({ { type = "string" }, { type = "integer" } }, f.any_of)
    assert.equal(3, f.max_length)
    local o = field { oneOf = { { type = "string", format = "uuid" }, { type = "string", enum = { "*" } } } }
    assert.same({ { type = "string", format = "uuid" }, { type = "string", enum = { "*" } } }, o.one_of)
    local single = field({ oneOf = { { ["$ref"] = "#/components/schemas/S" } } }, { S = { type = "boolean" } })
    assert.same({ "f", type = "boolean", order = 1 }, single)
  end)

  it("keeps enum and const of strings, numbers and booleans; refuses objects in them", function()
    assert.same({ 1, 2.5, true, "x" }, field({ enum = { 1, 2.5, true, "x" } }).enum)
    assert.same({ "only" }, field({ type = "string", const = "only" }).enum)
    refused({ type = "object", properties = { f = { enum = { { a = 1 } } } } },
            "a value of enum or const must be", BODY .. "/properties/f/enum/0")
  end)

  it("checks the formats the core knows, and keeps any other as a hint, as on another type", function()
    for _, fmt in ipairs { "email", "uuid", "date-time", "date", "uri", "hostname", "ipv4", "ipv6" } do
      assert.equal(fmt, field({ type = "string", format = fmt }).format)
    end
    local phone = field { type = "string", format = "phone" }
    assert.equal("phone", phone.format_hint)
    assert.is_nil(phone.format)
    local wrong = field { type = "integer", format = "date-time" }
    assert.equal("date-time", wrong.format_hint)
    assert.is_nil(wrong.format)
    assert.equal("binary", field({ type = "string", format = "binary" }).format_hint) -- JSON: no files
  end)

  it("nests objects: properties in order, required, additionalProperties false, true and a schema", function()
    local by = fields {
      type = "object",
      properties = {
        address = { type = "object", required = { "city" }, additionalProperties = false,
                    properties = { city = { type = "string" }, zip = { type = "string" } } },
        meta = { type = "object", additionalProperties = { type = "string", maxLength = 10 } },
        free = { type = "object", additionalProperties = true },
      },
    }
    assert.same({ { "city", type = "string", required = true }, { "zip", type = "string" } }, by.address.properties)
    assert.is_false(by.address.additional_properties)
    assert.same({ type = "string", max_length = 10 }, by.meta.additional_properties)
    assert.is_true(by.free.additional_properties)
  end)

  it("reads readOnly (refused in an update: required then applies to responses only) and writeOnly", function()
    local by = fields { type = "object", required = { "id", "name" },
                        properties = { id = { type = "string", readOnly = true }, name = { type = "string" },
                                       secret = { type = "string", writeOnly = true } } }
    assert.is_true(by.id.read_only)
    assert.is_nil(by.id.required)
    assert.is_true(by.name.required)
    assert.is_true(by.secret.write_only)
  end)

  it("merges allOf: properties, required, the tighter bounds, the common types", function()
    local by = fields({ allOf = {
      { ["$ref"] = "#/components/schemas/Base" },
      { type = "object", required = { "b" }, properties = { b = { type = "integer", maximum = 5 },
                                                           a = { maxLength = 3 } } },
    } }, { Base = { type = "object", properties = { a = { type = "string", maxLength = 10, minLength = 1 },
                                                    b = { type = "number", minimum = 0, maximum = 9 } } } })
    assert.same({ "a", type = "string", min_length = 1, max_length = 3, order = 1 }, by.a)
    assert.same({ "b", type = "integer", minimum = 0, maximum = 5, required = true, order = 2 }, by.b)
    refused({ type = "object", properties = { f = { allOf = { { type = "string" }, { type = "integer" } } } } },
            "allOf holds types that exclude each other")
  end)

  it("keeps both of two patterns allOf gives: the second must hold too", function()
    local f = field { allOf = { { type = "string", pattern = "^a" }, { pattern = "b$" } } }
    assert.equal("^a", f.pattern)
    assert.same({ { pattern = "b$" } }, f.any_of)
  end)

  it("reads 3.0's nullable beside allOf of one $ref (a common way to say it)", function()
    local f = field({ allOf = { { ["$ref"] = "#/components/schemas/Name" } }, nullable = true },
                    { Name = { type = "string", maxLength = 8 } }, "3.0.3")
    assert.same({ "f", type = "string", max_length = 8, nullable = true, order = 1 }, f)
  end)

  it("follows local $ref, chains of them, and $ref into another schema's allOf item", function()
    local schemas = {
      A = { ["$ref"] = "#/components/schemas/B" }, B = { type = "string", maxLength = 4 },
      User = { allOf = { { type = "object" }, { type = "object", properties = { x = { type = "boolean" } } } } },
    }
    assert.equal(4, field({ ["$ref"] = "#/components/schemas/A" }, schemas).max_length)
    local f = field({ ["$ref"] = "#/components/schemas/User/allOf/1/properties/x" }, schemas)
    assert.equal("boolean", f.type)
    assert.equal("string", field({ ["$ref"] = "#/components/schemas/%42" }, { B = { type = "string" } }).type)
  end)

  it("merges a $ref's siblings in 3.1, and ignores them in 3.0, as each says", function()
    local schemas = { Name = { type = "string", maxLength = 8 } }
    local f = field({ ["$ref"] = "#/components/schemas/Name", minLength = 2, description = "the name" }, schemas)
    assert.same({ "f", type = "string", max_length = 8, min_length = 2, description = "the name", order = 1 }, f)
    local g = field({ ["$ref"] = "#/components/schemas/Name", minLength = 2 }, schemas, "3.0.3")
    assert.same({ "f", type = "string", max_length = 8, order = 1 }, g)
  end)

  it("refuses a $ref to another file, to nothing, or in a circle, naming it", function()
    refused({ ["$ref"] = "other.yaml#/components/schemas/User" }, "names another document", BODY .. "/$ref")
    refused({ ["$ref"] = "#/components/schemas/Nope" }, "points at nothing", BODY .. "/$ref")
    refused({ ["$ref"] = "#/components/schemas/A" }, "leads back to itself", nil,
            { A = { ["$ref"] = "#/components/schemas/B" }, B = { ["$ref"] = "#/components/schemas/A" } })
  end)

  it("marks a recursive schema where it recurses, and checks everything above it", function()
    local by = fields({ ["$ref"] = "#/components/schemas/Node" }, {
      Node = { type = "object", properties = { name = { type = "string", maxLength = 3 },
                                               child = { ["$ref"] = "#/components/schemas/Node" } } },
    })
    assert.equal(3, by.name.max_length)
    assert.matches("recursive", by.child.description)
    assert.is_nil(by.child.type)
  end)

  it("follows a $ref to a schema merged beside it (allOf): only a schema inside itself is a recursion", function()
    local person = { type = "object", additionalProperties = false, properties = {
      name = { type = "string", maxLength = 5 }, friend = { ["$ref"] = "#/components/schemas/Person" } } }
    local by = fields({ ["$ref"] = "#/components/schemas/User" }, {
      Person = person,
      User = { allOf = { { ["$ref"] = "#/components/schemas/Person" },
                         { type = "object", properties = { manager = { ["$ref"] = "#/components/schemas/Person" } } } } },
    })
    local function prop(s, name)
      for _, p in ipairs(s.properties) do if p[1] == name then return p end end
    end
    assert.equal("object", by.manager.type) -- checked: not a recursion
    assert.equal(5, prop(by.manager, "name").max_length)
    assert.is_false(by.manager.additional_properties)
    assert.matches("recursive", prop(by.manager, "friend").description) -- Person.friend is one
    assert.matches("recursive", by.friend.description)
    -- through two schemas: A.b is a B, whose a is an A again
    local two = fields({ ["$ref"] = "#/components/schemas/A" }, {
      A = { type = "object", properties = { b = { ["$ref"] = "#/components/schemas/B" } } },
      B = { type = "object", properties = { a = { ["$ref"] = "#/components/schemas/A" }, n = { type = "integer" } } },
    })
    assert.equal("integer", prop(two.b, "n").type)
    assert.matches("recursive", prop(two.b, "a").description)
  end)

  it("bounds what shared schemas expand to", function()
    local context = require "users.openapi.context"
    local max = context.MAX_SCHEMAS
    context.MAX_SCHEMAS = 300 -- the same bound, reached sooner (ASan's collector is slow)
    finally(function() context.MAX_SCHEMAS = max end)
    local schemas, prev = {}, nil
    for i = 1, 20 do
      local props = {}
      for j = 1, 4 do props["p" .. j] = prev and { ["$ref"] = "#/components/schemas/S" .. (i - 1) } or { type = "string" } end
      schemas["S" .. i] = { type = "object", properties = props }
      prev = i
    end
    refused({ ["$ref"] = "#/components/schemas/S20" }, "expand to more than 300", nil, schemas)
  end)

  it("bounds the enum values shared schemas copy", function()
    local context = require "users.openapi.context"
    local max = context.MAX_ENUM_VALUES
    context.MAX_ENUM_VALUES = 5000 -- the same bound, reached sooner
    finally(function() context.MAX_ENUM_VALUES = max end)
    local zones, props = {}, {}
    for i = 1, 600 do zones[i] = "Zone/" .. i end
    for j = 1, 3 do props["z" .. j] = { ["$ref"] = "#/components/schemas/Zone" } end
    local ok = fields({ type = "object", properties = props }, { Zone = { type = "string", enum = zones } })
    assert.equal(600, #ok.z3.enum) -- within the bound
    for j = 4, 20 do props["z" .. j] = { ["$ref"] = "#/components/schemas/Zone" } end
    refused({ type = "object", properties = props }, "enums expand to more than 5000 values", nil,
            { Zone = { type = "string", enum = zones } })
  end)

  it("refuses what it cannot check, naming the keyword and its pointer", function()
    refused({ type = "object", properties = { f = { type = "string", ["not"] = { enum = { "x" } } } } },
            "the keyword 'not' is not supported", BODY .. "/properties/f/not")
    refused({ type = "object", properties = { f = { type = "string", maxlength = 3 } } },
            "unknown keyword 'maxlength'", BODY .. "/properties/f/maxlength")
    refused({ type = "object", patternProperties = { ["^x"] = { type = "string" } } },
            "the keyword 'patternProperties' is not supported", BODY .. "/patternProperties")
    refused({ type = "object", properties = { f = false } }, "nothing satisfies", BODY .. "/properties/f")
  end)

  it("ignores annotations and x- extensions", function()
    local f = field { type = "string", title = "T", example = "e", examples = { "e" }, xml = {}, ["x-foo"] = 1,
                      externalDocs = { url = "x" }, ["$comment"] = "c" }
    assert.same({ "f", type = "string", order = 1 }, f)
  end)

  it("reads a multipart file from OAS 3.0's binary format or 3.1's contentMediaType of what is not text", function()
    local document = doc({ type = "object" })
    document.paths["/users/{id}"].patch.requestBody = { content = { ["multipart/form-data"] = { schema = {
      type = "object", properties = {
        a = { type = "string", format = "binary" }, b = { type = "string", contentMediaType = "image/png" },
        c = { type = "string", contentMediaType = "application/json" }, d = { type = "string" },
        e = { type = "array", items = { type = "string", format = "binary" } } } } } } }
    local d = assert(openapi.declaration(document, "updateUser"))
    local by = {}
    for _, f in ipairs(d.fields) do by[f[1]] = f end
    assert.same({ "file", "file", "string", "string", "array", "file" },
                { by.a.type, by.b.type, by.c.type, by.d.type, by.e.type, by.e.items.type })
    document.openapi = 3.1 -- a YAML document's unquoted version
    assert.truthy(openapi.declaration(document, "updateUser"))
  end)

  it("takes an object without `type` when it has properties, an array when it has items", function()
    assert.equal("object", field({ properties = { a = { type = "string" } } }).type)
    assert.equal("array", field({ items = { type = "string" } }).type)
  end)

  it("declares a required property the document does not describe, as any value", function()
    local by = fields { type = "object", required = { "a", "ghost" }, properties = { a = { type = "string" } } }
    assert.same({ "ghost", required = true, order = 2 }, by.ghost)
  end)
end)
