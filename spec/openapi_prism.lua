-- Prism judges what we send, not our own code: each vendor document of
-- spec/fixtures/openapi/ and each seed provider's document is mocked by
-- Prism (spec/support/prism.lua), and every valid update the specs build for
-- it goes there through the module and libcurl; Prism must find nothing
-- wrong with the request. The same request without its credentials must be
-- refused, so that a Prism that judges nothing cannot pass.
--
-- Prism takes seconds to start each document, so this runs once per test
-- command, on one Lua (make prism; scripts/dev.sh test runs it), not in
-- each of the suite's runs: its name does not end in _spec.
local users = require "users"
local prism = require "spec.support.prism"
local curl = require "users.transport.curl"
local env = require "spec.support.env"

local null = users.null

-- The vendor documents, less Stripe's: Prism 5.14.2 does not finish starting
-- on it (its 412 schemas, circular through `error`, keep it busy for more
-- than 15 minutes); its updates are checked against the fake only.
local cases = {}
local fixtures = dofile("spec/fixtures/openapi/cases.lua")
local merged = fixtures.merged
for _, c in ipairs(fixtures.load(users)) do
  if c.prism ~= false then cases[#cases + 1] = c end
end

-- The seed providers: their documents as shipped beside their declarations,
-- and updates of each field kind and encoding. `known`: what Prism may find
-- wrong and why it is not (see spec/support/prism.lua's verdict).
local BEARER = { { header = "authorization" } }
-- NOTES.md: lancepilot's Laravel server reads booleans as "1"/"0" parts, as
-- the overlay sends them; its document says type boolean.
local LARAVEL = { ["body.status"] = "must be boolean", ["body.client"] = "must be boolean" }
-- Prism 5.14 reads repeated form keys and parts as one value (its open
-- issue stoplightio/prism#2473, PR #2654), while OpenAPI's form style, as
-- the document's encoding defaults, writes an array as repeated keys.
local REPEATED = { ["body.workspaces"] = "must be array" }
local seeds = {
  { name = "lexful", document = "lua/users/providers/lexful/openapi.yaml",
    opts = { token = "test-token", account_id = env.ACCOUNT },
    credentials = { { header = "authorization" }, { header = "x-account-id" } },
    valid = {
      { id = env.USER_UUID, fields = { first_name = "Jane", last_name = null, role = "admin",
                                       account_scopes = {}, organization_scopes = { "*", env.ACCOUNT } } },
      { id = env.USER_UUID, fields = { email = "jane@example.com" } },
    } },
  { name = "lancepilot", document = "lua/users/providers/lancepilot/openapi.yaml",
    opts = { token = "test-token", workspace = env.WORKSPACE }, credentials = BEARER,
    valid = {
      { id = 42, fields = { name = "Jane Doe", email = "jane@example.com", timezone = "Europe/Paris",
                            status = true, client = false }, known = LARAVEL },
      { id = 42, fields = { name = "Jane", email = "jane@example.com", timezone = "UTC", status = false,
                            password = "secret1", confirm_password = "secret1",
                            avatar = users.blob(env.PNG, "avatar.png", "image/png") }, known = LARAVEL },
    } },
  { name = "activepieces", document = "lua/users/providers/activepieces/openapi.yaml",
    opts = { token = "sk-test-token" }, credentials = BEARER,
    valid = {
      { id = env.AP_ID, fields = { status = "INACTIVE", platformRole = "OPERATOR" } },
      { id = env.AP_ID, fields = { externalId = "ext-42" } },
    } },
  { name = "paradigm", document = "lua/users/providers/paradigm/openapi.yaml",
    opts = { token = "test-token" }, credentials = BEARER,
    valid = {
      { id = 7, fields = { workspaces = { 3, 4 } } },
      { id = 7, fields = { workspaces = {} } },
      { id = 7, fields = { workspaces = { 1, 2 } }, opts = { encoding = "form" }, known = REPEATED },
      { id = 7, fields = { workspaces = { 5 } }, opts = { encoding = "multipart" }, known = REPEATED },
    } },
}


-- The libcurl transport, keeping the last answer: Prism's verdict is in
-- its headers.
local function recording()
  local seen = {}
  local t = setmetatable({}, { __index = curl })
  function t.send(req)
    local res, a, b, c = curl.send(req)
    seen.res = res
    return res, a, b, c
  end
  return t, seen
end

local function documents()
  local list = {}
  for _, c in ipairs(cases) do list[#list + 1] = c.document end
  for _, s in ipairs(seeds) do list[#list + 1] = s.document end
  return list
end

local function check(name, document, opts, credentials, valid)
  local url
  setup(function() url = prism.get(document).url end)
  local function options(v)
    return merged(opts, { base_url = url, retries = 0, timeout = 30 }, v.opts)
  end

  for i, v in ipairs(valid) do
    it("accepts valid update " .. i, function()
      local transport, seen = recording()
      local _, err = users.update(name, v.id, v.fields, merged(options(v), { transport = transport }))
      assert(seen.res, "nothing reached Prism: " .. tostring(err))
      local why = prism.verdict(seen.res, v.known)
      assert(why == nil, "Prism refused it:\n" .. tostring(why))
    end)
  end

  it("refuses the first one without its credentials (the judge judges)", function()
    local v = valid[1]
    local req = users.prepare(name, v.id, v.fields, options(v))
    for header in pairs(req.headers) do
      for _, need in ipairs(credentials) do
        if header:lower() == need.header then req.headers[header] = nil end
      end
    end
    local res = assert(curl.send(req))
    assert.truthy(prism.verdict(res), "Prism took a request without credentials")
  end)
end

describe("Prism", function()
  setup(function() prism.start_all(documents()) end)
  teardown(function() prism.stop_all() end)

  for _, c in ipairs(cases) do
    describe(c.name .. " (" .. c.operation .. ")", function()
      setup(function()
        local decl = assert(users.openapi(c.document, c.operation, merged({ name = c.name }, c.overlay)))
        decl.replace = true
        users.register(decl)
      end)
      check(c.name, c.document, c.opts, c.credentials[1], c.valid)
    end)
  end

  for _, s in ipairs(seeds) do
    describe("seed provider " .. s.name, function()
      check(s.name, s.document, s.opts, s.credentials, s.valid)
    end)
  end
end)
