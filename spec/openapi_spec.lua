-- users.openapi: an operation of a vendor's document into a provider
-- declaration (reading, lookup, servers, parameters, bodies, security,
-- overlays), users.register, and the credentials a compiled provider sends.
local users = require "users"
local openapi = require "users.openapi"
local core = require "users.core"

local ACME = [[
openapi: 3.0.3
info: {title: Acme Cloud API, version: "1"}
servers:
  - url: https://{region}.acme.test/api/{version}
    variables:
      region: {default: eu, enum: [eu, us]}
      version: {default: v2}
security:
  - bearer: []
paths:
  /orgs/{org}/users/{user-id}:
    parameters:
      - {name: org, in: path, required: true, schema: {type: string, pattern: "^[a-z]+$"}}
    patch:
      operationId: updateUser
      parameters:
        - {name: user-id, in: path, required: true, description: the user, schema: {type: integer}}
        - {name: X-Request-Tag, in: header, required: true, schema: {type: string}}
        - {name: verbose, in: query, schema: {type: boolean}}
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/UserPatch'}
    put:
      servers: [{url: "https://put.acme.test/"}]
      requestBody:
        content:
          text/plain:
            schema: {type: string}
  /users/{id}:
    servers: [{url: https://users.acme.test}]
    post:
      operationId: replaceUser
      security: [{basic: []}, {key: []}]
      parameters:
        - {name: id, in: path, required: true, schema: {type: string, format: uuid}}
      requestBody:
        content:
          application/merge-patch+json:
            schema: {$ref: '#/components/schemas/UserPatch'}
          multipart/form-data:
            schema:
              type: object
              properties:
                zeta: {type: string}
                photo: {type: string, format: binary}
                alpha: {type: object, properties: {x: {type: string}}}
            encoding:
              photo: {contentType: image/png}
              alpha: {contentType: application/json}
          application/x-www-form-urlencoded:
            schema: {$ref: '#/components/schemas/UserPatch'}
            encoding:
              tags: {style: pipeDelimited, explode: false}
components:
  securitySchemes:
    bearer: {type: http, scheme: bearer}
    basic: {type: http, scheme: Basic}
    key: {type: apiKey, in: header, name: X-API-Key}
    query: {type: apiKey, in: query, name: api_key}
    oauth: {type: oauth2, flows: {}}
  schemas:
    UserPatch:
      type: object
      properties:
        zname: {type: string, maxLength: 10}
        email: {type: string}
        tags: {type: array, items: {type: string}}
]]

local function decl(op, overlay, document)
  local d, err = openapi.declaration(document or ACME, op, overlay)
  assert(d, tostring(err))
  return d
end

local function names(list)
  local out = {}
  for i, f in ipairs(list) do out[i] = f[1] end
  return out
end

describe("users.openapi", function()
  it("reads a document from a path, YAML text, JSON text or a table, to the same declaration", function()
    local path = os.tmpname() .. ".yaml"
    local f = assert(io.open(path, "w"))
    f:write(ACME)
    f:close()
    local from_text = decl("updateUser")
    local from_path = decl("updateUser", nil, path)
    local doc = core.yaml_decode(ACME)
    local from_table = decl("updateUser", nil, doc)
    local from_json = decl("updateUser", nil, core.json_encode(doc))
    os.remove(path)
    from_text.error, from_path.error, from_table.error, from_json.error = nil, nil, nil, nil
    -- without the text's order (a table, JSON), the fields come sorted
    for _, d in ipairs { from_text, from_path } do table.sort(d.fields, function(a, b) return a[1] < b[1] end) end
    assert.same(from_text, from_path)
    assert.same(from_text, from_table)
    assert.same(from_text, from_json)
    local jpath = os.tmpname() .. ".json"
    f = assert(io.open(jpath, "w"))
    f:write(core.json_encode(doc))
    f:close()
    local from_jpath = decl("updateUser", nil, jpath)
    os.remove(jpath)
    from_jpath.error = nil
    assert.same(from_text, from_jpath)
  end)

  it("keeps the document's order of properties when the text has one (YAML), else sorts them", function()
    assert.same({ "zname", "email", "tags" }, names(decl("updateUser").fields))
    assert.same({ "email", "tags", "zname" }, names(decl("updateUser", nil, core.yaml_decode(ACME)).fields))
  end)

  it("finds an operation by operationId or as METHOD /path, and says which it could not", function()
    local a, b = decl("updateUser"), decl("patch /orgs/{org}/users/{user-id}")
    a.error, b.error = nil, nil
    assert.same(a, b)
    local _, err = openapi.declaration(ACME, "updateUsr")
    assert.equal("config", err.kind)
    assert.equal("#/paths", err.pointer)
    assert.matches("no operation with operationId 'updateUsr' %(did you mean 'updateUser'%?%)", err.message)
    _, err = openapi.declaration(ACME, "DELETE /users/{id}")
    assert.matches("no DELETE operation on /users/{id}", err.message)
    assert.equal("#/paths/~1users~1{id}", err.pointer)
    _, err = openapi.declaration(ACME, "PATCH /users/{uid}")
    assert.matches("did you mean '/users/{id}'", err.message)
  end)

  it("takes the base URL from the servers: variables at their defaults, the path item's and the operation's first", function()
    assert.equal("https://eu.acme.test/api/v2", decl("updateUser").base_url)
    assert.equal("https://users.acme.test", decl("replaceUser").base_url)
    local relative = ACME:gsub("url: https://{region}.acme.test/api/{version}", "url: /api")
    assert.is_nil(decl("updateUser", nil, relative).base_url)
    assert.equal("https://x.test", decl("updateUser", { base_url = "https://x.test" }, relative).base_url)
  end)

  it("makes path parameters the id's checks, in the path's order, names safe for a template", function()
    local d = decl("updateUser")
    assert.equal("/orgs/{org}/users/{user_id}", d.path)
    assert.same({ { "org", type = "string", pattern = "^[a-z]+$" },
                  { "user_id", type = "integer", description = "the user" } }, d.params)
    assert.same({ "X-Request-Tag" }, d.required_headers)
    assert.equal("PATCH", d.method)
  end)

  it("refuses a required query parameter, naming it", function()
    local text = ACME:gsub("{name: verbose, in: query,", "{name: verbose, in: query, required: true,")
    local _, err = openapi.declaration(text, "updateUser")
    assert.matches("the required query parameter 'verbose' is not supported", err.message)
    assert.equal("#/paths/~1orgs~1{org}~1users~1{user-id}/patch/parameters/2", err.pointer)
  end)

  it("offers each media type it can send: JSON (merge patch too), form with its styles, multipart with files last", function()
    local d = decl("replaceUser")
    assert.same({ "json", "form" }, d.encodings) -- multipart's fields are other ones
    assert.same({ json = "application/merge-patch+json" }, d.content_types)
    local tags = d.fields[3]
    assert.same({ "tags", type = "array", items = { type = "string" }, style = "pipeDelimited", explode = false }, tags)
    local m = decl("replaceUser", nil, ACME:gsub("application/merge%-patch%+json:.-application/x", "application/x"))
    assert.same({ "form" }, m.encodings)
    local mp = decl("replaceUser", nil, ACME:gsub("          application/merge%-patch%+json:\n.-multipart", "          multipart")
                                           :gsub("          application/x%-www.-\ncomponents:", "components:"))
    assert.same({ "multipart" }, mp.encodings)
    assert.same({ "zeta", "alpha", "photo" }, names(mp.fields))
    assert.same({ "photo", type = "file", content_type = "image/png" }, mp.fields[3])
    assert.equal("application/json", mp.fields[2].part_content_type)
    assert.same({ "true", "false" }, mp.form_booleans)
    local _, err = openapi.declaration(ACME, "PUT /orgs/{org}/users/{user-id}")
    assert.matches("no media type the client can send %(text/plain%)", err.message)
  end)

  it("gives a multipart array's contentType to each item's part, and refuses what it cannot bound on the body", function()
    local doc = ACME:gsub("          application/merge%-patch%+json:\n.-multipart", "          multipart")
                    :gsub("          application/x%-www.-\ncomponents:", "components:")
                    :gsub("zeta: {type: string}", "zeta: {type: array, items: {type: string}}")
                    :gsub("alpha: {contentType: application/json}", "%0\n              zeta: {contentType: text/csv}")
    local mp = decl("replaceUser", nil, doc)
    assert.same({ "zeta", type = "array", items = { type = "string", part_content_type = "text/csv" } }, mp.fields[1])
    local _, err = openapi.declaration(doc:gsub("              type: object\n", "%0              minProperties: 1\n", 1),
                                       "replaceUser")
    assert.matches("the keyword 'minProperties' on the request body itself is not supported", err.message)
    assert.matches("/multipart~1form%-data/schema/minProperties$", err.pointer)
  end)

  it("turns security schemes into alternatives, and refuses an operation only an unsupported one serves", function()
    assert.same({ { { kind = "bearer", name = "bearer", pointer = "#/components/securitySchemes/bearer" } } },
                decl("updateUser").security)
    local d = decl("replaceUser")
    assert.same({ "basic", "header" }, { d.security[1][1].kind, d.security[2][1].kind })
    assert.equal("X-API-Key", d.security[2][1].header)
    assert.same({ "username", "password" }, d.options)
    local q = ACME:gsub("security: %[{basic: %[%]}, {key: %[%]}%]", "security: [{query: []}]")
    local _, err = openapi.declaration(q, "replaceUser")
    assert.matches("an apiKey in the query %('api_key', #/components/securitySchemes/query%) is not supported", err.message)
    local mixed = ACME:gsub("security: %[{basic: %[%]}, {key: %[%]}%]", "security: [{query: []}, {oauth: []}]")
    assert.same({ "unsupported", "bearer" }, { decl("replaceUser", nil, mixed).security[1][1].kind,
                                               decl("replaceUser", nil, mixed).security[2][1].kind })
    local none = ACME:gsub("security: %[{basic: %[%]}, {key: %[%]}%]", "security: []")
    assert.same({}, decl("replaceUser", nil, none).security)
  end)

  it("lays the overlay over the document: names, rules, options, the id, encodings", function()
    local d = decl("updateUser", { name = "acme", title = "Acme", id = "org", params = { user_id = { option = "workspace" } },
                                   fields = { zname = { min_length = 2 } }, encodings = { "json" } })
    assert.equal("acme", d.name)
    assert.same({ "user_id", "org" }, names(d.params))
    assert.equal("workspace", d.params[1].option)
    assert.same({ "zname", type = "string", max_length = 10, min_length = 2 }, d.fields[1])
    local _, err = openapi.declaration(ACME, "updateUser", { fields = { nope = { max_length = 1 } } })
    assert.matches("the operation has no field 'nope'", err.message)
    _, err = openapi.declaration(ACME, "updateUser", { encodings = { "multipart" } })
    assert.matches("cannot be sent as multipart", err.message)
    assert.has_error(function() users.openapi(ACME, "updateUser", { nmae = "x" }) end,
                     "bad argument #3 to 'openapi' (unknown overlay key 'nmae')")
    assert.has_error(function() users.openapi(42, "updateUser") end)
    assert.has_error(function() users.openapi(ACME) end)
  end)

  it("names its provider after the document's title unless the overlay says", function()
    assert.equal("acme_cloud_api", decl("updateUser").name)
  end)

  it("says what is wrong with a document that is not one", function()
    local _, err = users.openapi("openapi: 2.0\n", "x")
    assert.matches("not an OpenAPI 3.0 or 3.1 document", err.message)
    _, err = users.openapi("a: [", "x")
    assert.matches("^OpenAPI: cannot read the document: invalid YAML: line", err.message)
    assert.matches("^users: OpenAPI: cannot read", tostring(err))
    _, err = users.openapi("/nonexistent/acme.yaml", "x")
    assert.matches("cannot open the document", err.message)
    _, err = users.openapi('{"openapi": "3.1.0", "paths": {}', "x")
    assert.matches("invalid JSON", err.message)
  end)
end)

-- A document whose operation needs nothing the core learns in issue 22:
-- it compiles on the core as it is, and sends.
local PLAIN = [[
openapi: 3.1.0
info: {title: Plain, version: "1"}
servers: [{url: "https://plain.test/v1"}]
paths:
  /users/{id}:
    patch:
      parameters: [{name: id, in: path, required: true, schema: {type: string}}]
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                name: {type: string, maxLength: 5}
components:
  securitySchemes:
    bearer: {type: http, scheme: bearer}
    basic: {type: http, scheme: basic}
    key: {type: apiKey, in: header, name: X-API-Key}
    tenant: {type: apiKey, in: header, name: X-Tenant}
]]

local function plain(name, security)
  local text = PLAIN:gsub("    patch:\n", "    patch:\n      security: " .. security .. "\n")
  local d = assert(users.openapi(text, "PATCH /users/{id}", { name = name }))
  users.register(d)
  return name
end

describe("a provider compiled from a document", function()
  it("works by its name everywhere once registered; a name that exists raises unless replace is true", function()
    local d = assert(users.openapi(PLAIN, "PATCH /users/{id}", { name = "plain" }))
    users.register(d)
    assert.truthy(table.concat(users.providers(), ","):find("plain", 1, true))
    assert.equal("PATCH", users.describe("plain").method)
    local req = assert(users.prepare("plain", "u1", { name = "Jane" }, { token = "tok-1" }))
    assert.equal("https://plain.test/v1/users/u1", req.url)
    assert.equal('{"name":"Jane"}', req.body)
    local _, err = users.prepare("plain", "u1", { name = "Janette" }, { token = "tok-1" })
    assert.same({ "name" }, (function() local k = {} for n in pairs(err.fields) do k[#k + 1] = n end return k end)())
    assert.has_error(function() users.register(d) end,
      "bad argument #1 to 'register' (a provider named 'plain' exists: set replace = true in the declaration to replace it)")
    assert.has_error(function() users.register({ name = "lexful", fields = {} }) end)
    d.replace = true
    d.base_url = "https://other.test"
    users.register(d)
    assert.equal("https://other.test/users/u1", users.prepare("plain", "u1", { name = "J" }, { token = "t1" }).url)
    d.base_url = "https://changed.test" -- registered as a copy
    assert.equal("https://other.test/users/u1", users.prepare("plain", "u1", { name = "J" }, { token = "t1" }).url)
    local client = users.new("plain", { token = "t1" })
    assert.equal("https://other.test/users/u1", client:prepare("u1", { name = "J" }).url)
    users.configure("plain", { base_url = "https://configured.test" })
    assert.equal("https://configured.test/users/u1", users.prepare("plain", "u1", { name = "J" }, { token = "t1" }).url)
  end)

  it("sends the token as a bearer, or raw in an API key header; basic with username and password", function()
    local h = users.prepare(plain("p_bearer", "[{bearer: []}]"), "u", { name = "J" }, { token = "tok-1" }).headers
    assert.equal("Bearer tok-1", h.Authorization)
    h = users.prepare(plain("p_key", "[{key: []}]"), "u", { name = "J" }, { token = "tok-2" }).headers
    assert.equal("tok-2", h["X-API-Key"])
    assert.is_nil(h.Authorization)
    h = users.prepare(plain("p_basic", "[{basic: []}]"), "u", { name = "J" },
                      { username = "ann", password = "s3cret" }).headers
    assert.equal("Basic " .. "YW5uOnMzY3JldA==", h.Authorization)
    local _, err = users.prepare("p_basic", "u", { name = "J" }, { username = "ann" })
    assert.equal("config", err.kind)
    assert.matches("no username and password for p_basic: set opts.username and opts.password, or "
                   .. "P_BASIC_USERNAME and P_BASIC_PASSWORD", err.message)
  end)

  it("uses the first alternative the credentials satisfy", function()
    local name = plain("p_alts", "[{basic: []}, {bearer: []}]")
    assert.equal("Bearer tok", users.prepare(name, "u", { name = "J" }, { token = "tok" }).headers.Authorization)
    assert.equal("Basic YTpi", users.prepare(name, "u", { name = "J" }, { username = "a", password = "b" }).headers.Authorization)
    local _, err = users.prepare(name, "u", { name = "J" }, {})
    assert.matches("no username and password for p_alts", err.message)
  end)

  it("takes a second scheme's header from opts.headers, and names it when it is missing", function()
    local name = plain("p_two", "[{bearer: [], tenant: []}]")
    local req = users.prepare(name, "u", { name = "J" }, { token = "tok", headers = { ["x-tenant"] = "t-9" } })
    assert.equal("Bearer tok", req.headers.Authorization)
    assert.equal("t-9", req.headers["x-tenant"])
    local _, err = users.prepare(name, "u", { name = "J" }, { token = "tok" })
    assert.equal("config", err.kind)
    assert.matches('no X%-Tenant for p_two: set opts.headers%["X%-Tenant"%]', err.message)
  end)

  it("sends no credentials where the operation needs none, and a token where the document says nothing", function()
    local h = users.prepare(plain("p_none", "[]"), "u", { name = "J" }, { token = "tok" }).headers
    assert.is_nil(h.Authorization)
    local silent = assert(users.openapi(PLAIN, "PATCH /users/{id}", { name = "p_silent" }))
    users.register(silent)
    assert.equal("Bearer tok", users.prepare("p_silent", "u", { name = "J" }, { token = "tok" }).headers.Authorization)
    assert.is_nil(users.prepare("p_silent", "u", { name = "J" }, {}).headers.Authorization)
  end)

  it("never lets a password or an API key header out in an error", function()
    local name = plain("p_secret", "[{basic: []}]")
    local _, err = users.prepare(name, "u", { name = "Janette-s3cretpw" }, { username = "ann", password = "s3cretpw" })
    assert.equal("invalid", err.kind)
    -- refused before the headers were made: the password is scrubbed all the same
    assert.is_nil(tostring(err):find("s3cretpw", 1, true))
  end)

  it("scrubs a required header parameter that holds a key from errors, as a token", function()
    local text = PLAIN:gsub("parameters: %[", "parameters: [{name: Api-Key, in: header, required: true}, "
                                              .. "{name: Api-Username, in: header, required: true}, ")
    users.register(assert(users.openapi(text, "PATCH /users/{id}", { name = "p_hdrkey" })))
    local entry = require("users.registry").get("p_hdrkey")
    local o = { token = "tok-9", headers = { ["api-key"] = "k-secret-123", ["Api-Username"] = "system" } }
    assert.is_nil(require("users.security").problem(entry, o))
    local errors = require "users.errors"
    local err = errors.new { message = "key k-secret-123 refused for system" }
    errors.outside(err, err.message) -- a server's words
    local secrets = require "users.secrets"
    secrets.scrub(err, secrets.of(o))
    assert.equal("key [REDACTED] refused for system", err.message)
  end)

  it("sends the document's JSON media type and needs its required header parameters", function()
    local text = PLAIN:gsub("application/json:", "application/merge-patch+json:")
                      :gsub("parameters: %[", "parameters: [{name: X-Req, in: header, required: true}, ")
    users.register(assert(users.openapi(text, "PATCH /users/{id}", { name = "p_merge" })))
    local _, err = users.prepare("p_merge", "u", { name = "J" }, { token = "tok-3" })
    assert.matches('the X%-Req header is required: set opts.headers%["X%-Req"%]', err.message)
    local req = users.prepare("p_merge", "u", { name = "J" }, { token = "tok-3", headers = { ["X-Req"] = "1" } })
    assert.equal("application/merge-patch+json", req.headers["Content-Type"])
  end)
end)

-- What the C core checks for a compiled provider: the document's rules,
-- nested objects and arrays named by their path in err.fields.
local RICH = [[
openapi: 3.1.0
info: {title: Rich, version: "1"}
servers: [{url: "https://rich.test"}]
security: [{bearer: []}]
paths:
  /users/{id}:
    put:
      operationId: putUser
      parameters: [{name: id, in: path, required: true, schema: {type: string, format: uuid}}]
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/User'}
components:
  securitySchemes:
    bearer: {type: http, scheme: bearer}
  schemas:
    User:
      type: object
      additionalProperties: false
      required: [id, name]
      properties:
        id: {type: string, readOnly: true}
        name: {type: string, minLength: 1, maxLength: 10}
        age: {type: [integer, "null"], minimum: 0, exclusiveMaximum: 150}
        born: {type: string, format: date}
        site: {anyOf: [{type: string, format: uri}, {type: "null"}]}
        address:
          type: object
          additionalProperties: false
          properties:
            city: {type: string, pattern: "^[A-Z][a-z]+$"}
        emails:
          type: array
          maxItems: 2
          items:
            type: object
            required: [value]
            properties:
              value: {type: string, format: email}
        meta: {type: object, additionalProperties: {type: string}}
]]

describe("a compiled provider's checks", function()
  local UUID = "5f0c2c1e-8f5d-4c8e-9d6a-0a1b2c3d4e5f"
  setup(function()
    users.register(assert(users.openapi(RICH, "putUser", { name = "rich" })))
  end)

  local function problems(fields)
    if fields.name == nil then fields.name = "Jane" end -- required
    local req, err = users.prepare("rich", UUID, fields, { token = "tok-rich" })
    if req then return nil, req end
    local keys = {}
    for k in pairs(err.fields or {}) do keys[#keys + 1] = k end
    table.sort(keys)
    return table.concat(keys, " "), err
  end

  it("sends a valid update as JSON, nested objects and nulls exactly as given", function()
    local _, req = problems { name = "Jane", age = users.null, site = users.null, born = "2000-02-29",
                              address = { city = "Paris" }, emails = { { value = "j@example.com" } },
                              meta = { team = "a" } }
    assert.equal("PUT", req.method)
    assert.equal('{"name":"Jane","age":null,"born":"2000-02-29","site":null,"address":{"city":"Paris"},'
                 .. '"emails":[{"value":"j@example.com"}],"meta":{"team":"a"}}', req.body)
  end)

  it("refuses what the document refuses, each offender named by its path", function()
    assert.equal("id", (problems { id = "x", name = "Jane" }))
    local keys, err = problems { id = "x", name = "Jane" }
    assert.matches("read%-only", err.fields[keys][1])
    assert.equal("name", (problems { name = ("n"):rep(11) }))
    assert.equal("age", (problems { age = 150 }))
    assert.equal("born", (problems { born = "2001-02-29" }))
    assert.equal("site", (problems { site = "not a uri" }))
    assert.equal("address.city", (problems { address = { city = "paris" } }))
    assert.equal("address.zip", (problems { address = { zip = "75001" } }))
    assert.equal("emails[1].value", (problems { emails = { { value = "nope" } } }))
    assert.equal("emails", (problems { emails = { { value = "a@b.co" }, { value = "c@d.co" }, { value = "e@f.co" } } }))
    assert.equal("meta.team", (problems { meta = { team = 1 } }))
    assert.equal("nmae", (problems { nmae = "Jane" }))
    assert.equal("name", (problems { name = users.null }))
  end)
end)
