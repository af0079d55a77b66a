-- The provider `scim` (users.update) against the fake SCIM servers, one per
-- dialect, over the real libcurl transport: what each server holds
-- afterwards is checked, not only what was sent. spec/scim_bulk_spec.lua
-- runs the same dialects through bulk_update, with the retry, deadline and
-- discovery rules.
local users = require "users"
local core = require "users.core"
local fake = require "spec.support.fake_providers"
local S = require "spec.support.scim"
local examples = dofile("spec/support/fake/vendors/scim_examples.lua")

local ID = examples.BJENSEN_ID
local OTHER = "9a8b7c6d-1234-4abc-8def-0123456789ab"
local ENT = examples.ENTERPRISE

local opts = S.opts

-- What the server holds for a user (bjensen by default), nil when none.
local function held(name, id) return S.held(name, id or ID) end

-- The last request of this method the server received.
local function last(name, method)
  local list = S.f:requests(name)
  for i = #list, 1, -1 do
    if list[i].method == method then return list[i] end
  end
end

describe("scim: users.update against the fake servers", function()
  S.fakes()

  it("RFC server: discovers once per base URL, PATCHes, and the server holds the change and the rest", function()
    local trail = {}
    local user, res = users.update("scim", ID, {
      displayName = "Babs", ["name.middleName"] = users.null, title = users.null,
      emails = { { value = "babs@example.com", type = "work", primary = true } },
      [ENT] = { department = "Sales" },
    }, opts("scim_rfc", trail))
    assert.same({ "GET 200", "PATCH 200" }, trail)
    assert.equal(2, res.attempts)
    assert.equal("Babs", user.displayName) -- the resource of the 200
    local now = held("scim_rfc")
    assert.equal("Babs", now.displayName)
    assert.is_nil(now.title)
    assert.same({ formatted = "Ms. Barbara J Jensen, III", familyName = "Jensen", givenName = "Barbara",
                  honorificPrefix = "Ms.", honorificSuffix = "III" }, now.name)
    assert.same({ { value = "babs@example.com", type = "work", primary = true } }, now.emails)
    assert.equal("Sales", now[ENT].department)
    assert.equal("Theme Park", now[ENT].division)
    assert.equal(2, #now.phoneNumbers)
    local sent = last("scim_rfc", "PATCH")
    assert.equal("application/scim+json", sent.headers["content-type"])
    assert.matches("^application/scim%+json", sent.headers.accept)
    assert.equal("Bearer " .. fake.TOKEN, sent.headers.authorization)
    for _, op in ipairs(core.json_decode(sent.body).Operations) do
      assert.is_string(op.path) -- a remove always has one
      assert.is_nil(op.path:find("[", 1, true)) -- never a filter
    end
    -- the same base URL (spelt with a trailing slash): no second discovery
    trail = {}
    assert.is_table(users.update("scim", OTHER, { title = "Chief" }, opts("scim_rfc", trail,
                                 { base_url = S.f:base_url("scim_rfc") .. "/" })))
    assert.same({ "PATCH 200" }, trail)
    assert.equal("Chief", held("scim_rfc", OTHER).title)
  end)

  it("PUT-only server: GET, merge, PUT with If-Match; nothing it had is lost", function()
    local trail = {}
    local user, res = users.update("scim", ID, { ["name.givenName"] = "Babs", [ENT] = { department = "Sales" } },
                                   opts("scim_put", trail))
    assert.same({ "GET 200", "GET 200", "PUT 200" }, trail)
    assert.equal(3, res.attempts)
    assert.equal("Babs", user.name.givenName)
    local now = held("scim_put")
    assert.equal("Babs", now.name.givenName)
    assert.equal("Jensen", now.name.familyName)
    assert.equal("Tour Guide", now.title)
    assert.equal(2, #now.emails)
    assert.equal(2, #now.groups) -- read-only: the server's own
    assert.equal("Theme Park", now[ENT].division)
    assert.equal("Sales", now[ENT].department)
    local put = last("scim_put", "PUT")
    assert.equal('W/"1"', put.headers["if-match"]) -- the server answers 428 without it
    assert.equal("application/scim+json", put.headers["content-type"]) -- and 415 for another type
    assert.is_nil(put.body:find('"meta"', 1, true))
  end)

  it("PUT-only server: a change made between our GET and our PUT survives (412, GET again)", function()
    S.f:behave("scim_put", { on_get = { id = ID, set = { title = "Changed elsewhere" } } })
    local trail = {}
    local user, res = users.update("scim", ID, { displayName = "Babs" }, opts("scim_put", trail, { scim_method = "put" }))
    assert.same({ "GET 200", "PUT 412", "GET 200", "PUT 200" }, trail)
    assert.equal(4, res.attempts)
    assert.equal("Babs", user.displayName)
    local now = held("scim_put")
    assert.equal("Babs", now.displayName)
    assert.equal("Changed elsewhere", now.title)
  end)

  it("PUT-only server: stale three times is a conflict, and ours is not written", function()
    S.f:behave("scim_put", { on_get = { id = ID, set = { title = "Changed elsewhere" }, times = 3 } })
    local trail = {}
    local user, err = users.update("scim", ID, { displayName = "Babs" }, opts("scim_put", trail, { scim_method = "put" }))
    assert.is_nil(user)
    assert.equal("conflict", err.code)
    assert.equal(412, err.status)
    assert.equal(6, err.attempts)
    assert.same({ "GET 200", "PUT 412", "GET 200", "PUT 412", "GET 200", "PUT 412" }, trail)
    local now = held("scim_put")
    assert.equal("Babs Jensen", now.displayName)
    assert.equal("Changed elsewhere", now.title)
  end)

  it("GitHub/AWS-like server: PATCH answers 204, the update is {} and the server holds it", function()
    local trail = {}
    local user = users.update("scim", ID, { displayName = "Babs", nickName = users.null, ["name.givenName"] = "B" },
                              opts("scim_github", trail))
    assert.same({ "GET 200", "PATCH 204" }, trail) -- its discovery answers application/json
    assert.same({}, user)
    local now = held("scim_github")
    assert.equal("Babs", now.displayName)
    assert.is_nil(now.nickName) -- a remove with a path: it refuses one without
    assert.equal("B", now.name.givenName)
    assert.equal("Jensen", now.name.familyName)
  end)

  it("GitHub/AWS-like server: its refusals come back as SCIM errors, the user unchanged", function()
    local user, err = users.update("scim", ID, { emails = { { value = "a@example.com" }, { value = "b@example.com" } } },
                                   opts("scim_github"))
    assert.is_nil(user)
    assert.equal("validation_error", err.code)
    assert.equal("invalidValue", err.scim_type)
    assert.matches("only one value", err.message)
    assert.equal(1, #held("scim_github").emails)
  end)

  it("GitHub: active = false deletes the identity (the README's warning)", function()
    assert.same({}, users.update("scim", ID, { active = false }, opts("scim_github")))
    assert.is_nil(held("scim_github"))
    local _, err = users.update("scim", ID, { active = true }, opts("scim_github"))
    assert.equal("not_found", err.code)
  end)

  it("server without ServiceProviderConfig: PATCH after the 404, and no second look", function()
    local trail = {}
    local user = users.update("scim", ID, { title = "Guide" }, opts("scim_nodisco", trail))
    assert.same({ "GET 404", "PATCH 200" }, trail)
    assert.equal("Guide", user.title)
    assert.equal("Guide", held("scim_nodisco").title)
    trail = {}
    users.update("scim", ID, { title = "Guide 2" }, opts("scim_nodisco", trail))
    assert.same({ "PATCH 200" }, trail)
  end)

  it("uniqueness: a conflict with err.scim_type, its detail in one line, the user unchanged", function()
    local _, err = users.update("scim", ID, { userName = "JSMITH@example.com" }, opts("scim_unique"))
    assert.equal("conflict", err.code)
    assert.equal("uniqueness", err.scim_type)
    assert.equal(409, err.status)
    assert.matches("is already taken %(SCIM uniqueness%)$", err.message)
    assert.is_nil(tostring(err):find("\n"))
    _, err = users.update("scim", ID, { emails = { { value = "jsmith@example.com", type = "work" } } },
                          opts("scim_unique"))
    assert.equal("conflict", err.code)
    assert.matches("belongs to another user", err.message)
    local now = held("scim_unique")
    assert.equal("bjensen@example.com", now.userName)
    assert.equal("bjensen@example.com", now.emails[1].value)
  end)

  it("checks before sending: read-only, wrong types, unknown names; nothing reaches the server", function()
    local user, err = users.update("scim", ID, { id = "x", active = "no", usrName = "b", emails = "b@example.com",
                                                 ["urn:example:params:scim:schemas:extension:acme:2.0:User:badge"] = 7 },
                                   opts("scim_rfc"))
    assert.is_nil(user)
    assert.equal("invalid", err.kind)
    assert.same({ "active", "emails", "id", "usrName" }, (function()
      local names = {}
      for k in pairs(err.fields) do names[#names + 1] = k end
      table.sort(names)
      return names
    end)())
    assert.matches("did you mean 'userName'", err.fields.usrName[1])
    assert.equal(0, #S.f:requests("scim_rfc"))
    user, err = users.update("scim", ID, { title = "x" }, opts("scim_rfc", nil, { base_url = "ftp://x" }))
    assert.is_nil(user)
    assert.equal("config", err.kind)
    assert.equal(0, #S.f:requests("scim_rfc"))
  end)

  it("an attribute under an unknown URN passes through, in any case of the known names", function()
    local urn = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
    local user = users.update("scim", ID, { TITLE = "Boss", [urn] = { badge = "B-7" } }, opts("scim_rfc"))
    assert.equal("Boss", user.title)
    local now = held("scim_rfc")
    assert.equal("Boss", now.title)
    assert.same({ badge = "B-7" }, now[urn])
  end)

  it("prepare and dry runs send nothing: the PATCH, or the GET a PUT starts with", function()
    local req = assert(users.prepare("scim", ID, { title = users.null }, opts("scim_rfc")))
    assert.equal("PATCH", req.method)
    assert.equal(S.f:base_url("scim_rfc") .. "/Users/" .. ID, req.url)
    assert.same({ { op = "remove", path = "title" } }, core.json_decode(req.body).Operations)
    assert.equal("application/scim+json", req.headers["Content-Type"])
    req = assert(users.prepare("scim", ID, { title = "x" }, opts("scim_rfc", nil, { scim_method = "put" })))
    assert.equal("GET", req.method)
    assert.equal(0, #S.f:requests("scim_rfc"))
    -- once the server is known to take no PATCH, the dry run shows its GET
    users.update("scim", OTHER, { title = "x" }, opts("scim_put"))
    req = assert(users.prepare("scim", ID, { title = "y" }, opts("scim_put")))
    assert.equal("GET", req.method)
    local report = users.bulk_update("scim", { { id = ID, fields = { title = "z" } } },
                                     opts("scim_nodisco", nil, { dry_run = true }))
    assert.equal(1, report.succeeded)
    assert.equal(0, #S.f:requests("scim_nodisco"))
  end)
end)
