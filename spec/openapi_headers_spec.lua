-- Header parameters and credentials of a compiled provider, in the library
-- and in the command: the headers OAS says to ignore, required headers
-- filled by the credentials, the declaration's header options or the
-- caller's headers, the command's --header and PROVIDER_HEADER_NAME,
-- what describe lists, and a dry run that never prints a credential.
local users = require "users"
local cli = require "spec.support.cli"
local env = require "spec.support.env"

-- One operation, PATCH /users/{id}; `security` and `parameters` (YAML
-- flow text) and the media type as given.
local function document(security, parameters, media)
  return ([[
openapi: 3.1.0
info: {title: Acme Users API, version: "1"}
servers: [{url: "https://api.acme.test/v1"}]
components:
  securitySchemes:
    bearer: {type: http, scheme: bearer}
    basic: {type: http, scheme: basic}
    key: {type: apiKey, in: header, name: X-API-Key}
security: %s
paths:
  /users/{id}:
    patch:
      operationId: updateUser
      parameters: [{name: id, in: path, required: true, schema: {type: integer}}%s]
      requestBody:
        content:
          %s:
            schema:
              type: object
              additionalProperties: false
              properties:
                name: {type: string, maxLength: 10}
      responses: {"200": {description: ok}}
]]):format(security, parameters ~= "" and (", " .. parameters) or "", media or "application/json")
end

local function register(name, text, overlay)
  overlay = overlay or {}
  overlay.name = name
  local decl = assert(users.openapi(text, "updateUser", overlay))
  decl.replace = true
  users.register(decl)
  return decl
end

local function prepare(name, opts)
  opts.base_url = "https://api.acme.test/v1"
  return users.prepare(name, 5, { name = "bob" }, opts)
end

describe("header parameters of a compiled provider", function()
  it("ignores Authorization, Content-Type and Accept header parameters, as OAS says", function()
    local decl = register("h_ignored", document("[{bearer: []}]",
      "{name: Authorization, in: header, required: true, schema: {type: string}}, "
      .. "{name: Content-Type, in: header, required: true, schema: {type: string, enum: [multipart/form-data]}}, "
      .. "{name: accept, in: header, required: true, schema: {type: string}}, "
      .. "{name: X-Req, in: header, required: true, schema: {type: string}}", "multipart/form-data"))
    assert.same({ "X-Req" }, decl.required_headers)
    local req = assert(prepare("h_ignored", { token = "tok", headers = { ["X-Req"] = "1" } }))
    assert.equal("Bearer tok", req.headers.Authorization)
    -- the boundary the body was written with
    assert.matches("^multipart/form%-data; boundary=lua%-users%-%x+$", req.headers["Content-Type"])
  end)

  it("takes a required header from the token when an API key scheme of the same name is chosen", function()
    register("h_scheme", document("[{key: []}]", "{name: x-api-key, in: header, required: true}"))
    local req = assert(prepare("h_scheme", { token = "k-123" }))
    assert.equal("k-123", req.headers["X-API-Key"])
    local entry = require("users.registry").get("h_scheme")
    assert.is_nil(require("users.security").problem(entry, { token = "k-123" }))
  end)

  it("takes a required header from the option the declaration's headers map to it", function()
    register("h_option", document("[{key: []}]", "{name: X-Tenant-Key, in: header, required: true}"),
             { headers = { ["X-Tenant-Key"] = "tenant" }, options = { "tenant" } })
    local req = assert(prepare("h_option", { token = "tok-9c1e", tenant = "acme-eu" }))
    assert.equal("acme-eu", req.headers["X-Tenant-Key"])
    local _, problems = users.settings("h_option", { token = "tok-9c1e", tenant = "acme-eu", base_url = "https://x.test" })
    assert.is_nil(problems)
  end)

  it("names a required header nothing fills, in an error and in users.settings", function()
    register("h_missing", document("[{bearer: []}]", "{name: X-Tenant-Key, in: header, required: true}"))
    local req, err = prepare("h_missing", { token = "tok-9c1e" })
    assert.is_nil(req)
    assert.equal("config", err.kind)
    assert.matches('the X%-Tenant%-Key header is required: set opts.headers%["X%-Tenant%-Key"%]', err.message)
    local _, problems = users.settings("h_missing", { token = "tok-9c1e" })
    assert.equal("X-Tenant-Key", problems.header)
    req = assert(prepare("h_missing", { token = "tok-9c1e", headers = { ["x-tenant-key"] = "t" } }))
    assert.equal("t", req.headers["x-tenant-key"])
  end)
end)

describe("the command, with header parameters and credentials", function()
  local dir
  before_each(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. cli.q(dir)))
  end)
  after_each(function() os.execute("rm -rf " .. cli.q(dir)) end)

  local DISCOURSE = cli.q(cli.ROOT .. "/spec/fixtures/openapi/discourse.json")
  local function discourse(rest, vars)
    return cli.run("update --openapi " .. DISCOURSE .. " --operation updateUser --name discourse jane name=Jane "
                   .. rest, vars)
  end

  it("reads a required header from PROVIDER_HEADER_NAME or --header, and says which is missing", function()
    local _, err, code = discourse("--dry-run", { DISCOURSE_HEADER_API_USERNAME = "system" })
    assert.equal(2, code)
    assert.matches("no Api%-Key header for discourse: set DISCOURSE_HEADER_API_KEY\n", err)
    local out
    out, err, code = discourse("--dry-run --header 'Api-Username: system'", { DISCOURSE_HEADER_API_KEY = "key-7f3a9" })
    assert.equal(0, code, err)
    assert.matches("\nApi%-Username: system\n", out)
    assert.matches("\nApi%-Key: %[REDACTED%]\n", out)
    assert.is_nil(out:find("key-7f3a9", 1, true))
    -- --header NAME: the value from the environment (a secret stays out of ps)
    out, err, code = discourse("--dry-run --header Api-Key --header 'Api-Username: x'",
                               { DISCOURSE_HEADER_API_KEY = "key-7f3a9" })
    assert.equal(0, code, err)
    assert.matches("\nApi%-Key: %[REDACTED%]\n", out)
    _, err, code = discourse("--dry-run --header X-Other", {})
    assert.equal(2, code)
    assert.matches("%-%-header X%-Other: set DISCOURSE_HEADER_X_OTHER to its value", err)
    _, err, code = discourse("--dry-run --header 'a b: c'", {})
    assert.equal(2, code)
    assert.matches("%-%-header needs 'Name: value'", err)
  end)

  it("updates through a fake with the headers the document requires", function()
    env.start()
    finally(env.stop)
    local base = env.fake:openapi("discourse", { { method = "PUT", path = "/u/{username}.json",
      media_type = "application/json", credentials = { { { header = "api-key", value = "key-7f3a9" },
                                                         { header = "api-username", value = "system" } } },
      body = '{"id":"1"}' } })
    local out, err, code = discourse("--base-url " .. cli.q(base),
      { DISCOURSE_HEADER_API_KEY = "key-7f3a9", DISCOURSE_HEADER_API_USERNAME = "system" })
    assert.equal(0, code, err)
    assert.equal('{"id":"1"}\n', out)
    local r = env.fake:last("openapi")
    assert.equal("key-7f3a9", r.headers["api-key"])
    assert.equal('{"name":"Jane"}', r.body)
  end)

  it("prints no credential in a dry run: API key headers, secret names, values that hold a secret", function()
    local doc = dir .. "/acme.yaml"
    env.write(doc, document("[{key: [], bearer: []}]", "{name: X-Tenant, in: header, required: true}"))
    local vars = { ACME_TOKEN = "tok-SEKRIT", ACME_HEADER_X_API_KEY = "apikey-SEKRIT",
                   ACME_HEADER_X_TENANT = "tenant-1" }
    local args = "--openapi " .. cli.q(doc) .. " --operation updateUser --name acme "
    local out, err, code = cli.run("update " .. args .. "5 name=bob --dry-run --header 'X-Echo: a tok-SEKRIT b'", vars)
    assert.equal(0, code, err)
    assert.is_nil(out:find("SEKRIT", 1, true), out)
    assert.matches("\nAuthorization: Bearer %[REDACTED%]\n", out)
    assert.matches("\nX%-API%-Key: %[REDACTED%]\n", out)
    assert.matches("\nX%-Echo: %[REDACTED%]\n", out)
    assert.matches("\nX%-Tenant: tenant%-1\n", out)
    local csv = dir .. "/users.csv"
    env.write(csv, "id,name\n5,bob\n")
    out, err, code = cli.run("bulk " .. args .. cli.q(csv) .. " --dry-run --verbose --no-journal", vars)
    assert.equal(0, code, out .. err)
    assert.is_nil((out .. err):find("SEKRIT", 1, true), out .. err)
    assert.matches("\nX%-API%-Key: %[REDACTED%]\n", out)
  end)

  it("describes the credentials a provider takes, and the headers it needs", function()
    local function environment(security, parameters)
      local doc = dir .. "/acme.yaml"
      env.write(doc, document(security, parameters or ""))
      local out, err, code = cli.run("describe --openapi " .. cli.q(doc) .. " --operation updateUser --name acme")
      assert.equal(0, code, err)
      return out:match("\nenvironment:\n(.-)\n\n")
    end
    local text = environment("[{key: []}]")
    assert.matches("ACME_TOKEN +the API key, sent as X%-API%-Key %(required%)", text)
    assert.is_nil(text:find("bearer", 1, true))
    text = environment("[{basic: []}]")
    assert.matches("ACME_USERNAME, ACME_PASSWORD +HTTP basic credentials %(required%)", text)
    assert.is_nil(text:find("ACME_TOKEN", 1, true))
    text = environment("[{basic: []}, {bearer: []}]")
    assert.matches("ACME_TOKEN +a bearer token; or, instead of it:\n *ACME_USERNAME, ACME_PASSWORD", text)
    text = environment("[]")
    assert.is_nil(text:find("ACME_TOKEN", 1, true))
    text = environment("[{bearer: [], key: []}]", "{name: X-Tenant, in: header, required: true}")
    assert.matches("ACME_TOKEN +a bearer token %(required%)", text)
    assert.matches("ACME_HEADER_X_API_KEY +required: sent as the X%-API%-Key header %(a secret%)", text)
    assert.matches("ACME_HEADER_X_TENANT +required: sent as the X%-Tenant header %(or %-%-header 'X%-Tenant: VALUE'%)", text)
  end)

  it("lists the providers when one file on the search path is broken, and says which", function()
    env.write(dir .. "/broken.lua", "error('boom in provider')")
    env.write(dir .. "/other.lua", "return { name = 'elsewhere' }")
    env.write(dir .. "/refused.lua", "return { name = 'refused', fields = { { 'x', type = 'colour' } } }")
    local out, err, code = cli.run("providers", { LUA_USERS_PROVIDERS = dir })
    assert.equal(1, code)
    assert.matches("^activepieces +Activepieces\n", out)
    assert.matches("\nparadigm ", out)
    assert.matches("lua%-users: provider file .*/broken%.lua failed: .*boom in provider\n", err)
    assert.matches("lua%-users: provider file .*/other%.lua must return a table with name = \"other\"\n", err)
    assert.matches("lua%-users: provider file .*/refused%.lua: .*colour.*\n", err)
    assert.is_nil(err:find("internal error", 1, true))
  end)
end)
