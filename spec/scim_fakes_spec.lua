-- The SCIM modules against the fake SCIM servers, one per dialect, over the
-- real libcurl transport: each update is driven request by request as the
-- lifecycle will drive it (users/scim/steps.lua), and what each server
-- holds afterwards is checked, not only what was sent. The wiring into
-- users.update comes with the request lifecycle (issue 18); this spec's
-- small driver stands in for it.
local users = require "users"
local core = require "users.core"
local transport = require "users.transport.curl"
local check = require "users.scim.check"
local steps = require "users.scim.steps"
local discovery = require "users.scim.discovery"
local scim_errors = require "users.scim.errors"
local errors = require "users.errors"
local fake = require "spec.support.fake_providers"
local examples = dofile("spec/support/fake/vendors/scim_examples.lua")

local ID = examples.BJENSEN_ID
local ENT = examples.ENTERPRISE
local DECL = { name = "scim", error = scim_errors.read }

local f

-- One request of a plan, over libcurl; the answer judged as the lifecycle
-- judges it: user, res for a 2xx, nil, err otherwise.
local function send(name, req)
  local h = { Authorization = "Bearer " .. fake.TOKEN, ["User-Agent"] = "lua-users-spec" }
  for k, v in pairs(req.headers or {}) do h[k] = v end
  local r = { method = req.method, url = f:base_url(name) .. req.template:gsub("{id}", core.escape(ID)),
              headers = h, timeout = 10, connect_timeout = 5 }
  if req.json then
    h["Content-Type"] = req.content_type
    r.body = core.json_encode(req.json)
    r.body_length = #r.body
  end
  local res = assert(transport.send(r))
  if res.status >= 200 and res.status < 300 then
    local user = res.body ~= "" and core.json_decode(res.body) or {}
    return user, { status = res.status, headers = res.headers }
  end
  return nil, errors.from_response(DECL, res)
end

-- One update as the lifecycle will run it: user or nil, err; and the
-- requests made, as "METHOD status".
local function update(name, given, o)
  local plan = steps.new(assert(check.attrs(given)), o)
  local trail = {}
  local what, x = plan:first()
  while what == "send" do
    local user, res = send(name, x)
    trail[#trail + 1] = x.method .. " " .. res.status
    what, x = plan:answer(user, res)
  end
  if what == "done" then return x, trail, plan end
  return nil, x, trail
end

-- The last request of this method the server received.
local function last(name, method)
  local list = f:requests(name)
  for i = #list, 1, -1 do
    if list[i].method == method then return list[i] end
  end
end

local function on_server(name)
  local user, res = send(name, { method = "GET", template = "/Users/{id}" })
  assert.equal(200, res.status)
  return user
end

describe("scim against the fake servers", function()
  setup(function() f = fake.start() end)
  teardown(function() f:stop() end)
  before_each(function() f:reset(); discovery.forget() end)

  it("RFC server: discovers, PATCHes, and the server holds the change and the rest", function()
    local user, trail, plan = update("scim_rfc", {
      displayName = "Babs", ["name.middleName"] = users.null, title = users.null,
      emails = { { value = "babs@example.com", type = "work", primary = true } },
      [ENT] = { department = "Sales" },
    })
    assert.same({ "GET 200", "PATCH 200" }, trail)
    assert.same({ found = true, patch = true, etag = true }, plan.config)
    assert.equal("Babs", user.displayName)
    local held = on_server("scim_rfc")
    assert.equal("Babs", held.displayName)
    assert.is_nil(held.title)
    assert.same({ formatted = "Ms. Barbara J Jensen, III", familyName = "Jensen", givenName = "Barbara",
                  honorificPrefix = "Ms.", honorificSuffix = "III" }, held.name)
    assert.same({ { value = "babs@example.com", type = "work", primary = true } }, held.emails)
    assert.equal("Sales", held[ENT].department)
    assert.equal("Theme Park", held[ENT].division)
    assert.equal(2, #held.phoneNumbers)
    local sent = last("scim_rfc", "PATCH")
    assert.equal("application/scim+json", sent.headers["content-type"])
    for _, op in ipairs(core.json_decode(sent.body).Operations) do
      assert.is_string(op.path)
      assert.is_nil(op.path:find("[", 1, true))
    end
  end)

  it("PUT-only server: GET, merge, PUT with If-Match; nothing it had is lost", function()
    local user, trail = update("scim_put", { ["name.givenName"] = "Babs", [ENT] = { department = "Sales" } })
    assert.same({ "GET 200", "GET 200", "PUT 200" }, trail)
    assert.equal("Babs", user.name.givenName)
    local held = on_server("scim_put")
    assert.equal("Babs", held.name.givenName)
    assert.equal("Jensen", held.name.familyName)
    assert.equal("Tour Guide", held.title)
    assert.equal(2, #held.emails)
    assert.equal(2, #held.groups) -- read-only, kept by the server
    assert.equal("Theme Park", held[ENT].division)
    assert.equal("Sales", held[ENT].department)
    local put = last("scim_put", "PUT")
    assert.equal('W/"1"', put.headers["if-match"])
    assert.is_nil(put.body:find('"meta"', 1, true))
  end)

  it("PUT-only server: a change made between our GET and our PUT survives (412, then GET again)", function()
    f:behave("scim_put", { on_get = { id = ID, set = { title = "Changed elsewhere" } } })
    local user, trail = update("scim_put", { displayName = "Babs" }, { method = "put" })
    assert.same({ "GET 200", "PUT 412", "GET 200", "PUT 200" }, trail)
    assert.equal("Babs", user.displayName)
    local held = on_server("scim_put")
    assert.equal("Babs", held.displayName)
    assert.equal("Changed elsewhere", held.title)
  end)

  it("PUT-only server: stale three times is a conflict, and ours is not written", function()
    f:behave("scim_put", { on_get = { id = ID, set = { title = "Changed elsewhere" }, times = 3 } })
    local user, err, trail = update("scim_put", { displayName = "Babs" }, { method = "put" })
    assert.is_nil(user)
    assert.equal("conflict", err.code)
    assert.same({ "GET 200", "PUT 412", "GET 200", "PUT 412", "GET 200", "PUT 412" }, trail)
    local held = on_server("scim_put")
    assert.equal("Babs Jensen", held.displayName)
    assert.equal("Changed elsewhere", held.title)
  end)

  it("GitHub/AWS-like server: PATCH answers 204, the update is {} and the server holds it", function()
    local user, trail = update("scim_github", { displayName = "Babs", nickName = users.null,
                                                ["name.givenName"] = "B" })
    assert.same({ "GET 200", "PATCH 204" }, trail)
    assert.same({}, user)
    local held = on_server("scim_github")
    assert.equal("Babs", held.displayName)
    assert.is_nil(held.nickName)
    assert.equal("B", held.name.givenName)
    assert.equal("Jensen", held.name.familyName)
  end)

  it("GitHub/AWS-like server: its refusals come back as SCIM errors", function()
    local _, err = update("scim_github", { emails = { { value = "a@example.com" }, { value = "b@example.com" } } },
                          { method = "patch" })
    assert.equal("validation_error", err.code)
    assert.matches("only one value", err.message)
    assert.equal("invalidValue", err.body.scimType)
  end)

  it("server without ServiceProviderConfig: PATCH after the 404", function()
    local user, trail, plan = update("scim_nodisco", { title = "Guide" })
    assert.same({ "GET 404", "PATCH 200" }, trail)
    assert.is_false(plan.config.found)
    assert.equal("Guide", user.title)
    assert.equal("Guide", on_server("scim_nodisco").title)
  end)

  it("uniqueness: a conflict with scimType uniqueness, and the user unchanged", function()
    local _, err = update("scim_unique", { userName = "JSMITH@example.com" })
    assert.equal("conflict", err.code)
    assert.equal(409, err.status)
    assert.matches("is already taken %(SCIM uniqueness%)$", err.message)
    assert.equal("bjensen@example.com", on_server("scim_unique").userName)
  end)
end)
