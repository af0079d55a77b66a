-- One SCIM update as its requests (users/scim/steps.lua), answer by answer:
-- discovery, PATCH, GET + PUT with If-Match, the 412 refetches.
local users = require "users"
local schema = require "users.scim.schema"
local check = require "users.scim.check"
local steps = require "users.scim.steps"
local examples = dofile("spec/support/fake/vendors/scim_examples.lua")

local function plan(given, o)
  return steps.new(assert(check.attrs(given)), o)
end

local PUT_ONLY = { found = true, patch = false, etag = true }

describe("scim steps", function()
  it("discovers first when nothing is remembered, then PATCHes", function()
    local p = plan { displayName = "Babs" }
    local req = p:first()
    assert.same({ step = "discover", method = "GET", path = "/ServiceProviderConfig" }, req)
    local what, nxt = p:answer { status = 200, headers = {}, body = examples.service_provider_config(true, false) }
    assert.equal("send", what)
    assert.equal("PATCH", nxt.method)
    assert.equal("/Users/{id}", nxt.path)
    assert.same({ { op = "replace", path = "displayName", value = "Babs" } }, nxt.body.Operations)
    assert.same({ found = true, patch = true, etag = false }, p.config)
  end)

  it("PATCHes when there is no discovery document (404)", function()
    local p = plan { displayName = "Babs" }
    p:first()
    local what, nxt = p:answer { status = 404, headers = {}, body = examples.error(404, nil, "no") }
    assert.equal("send", what)
    assert.equal("patch", nxt.step)
  end)

  it("leaves an error answer to the discovery to the lifecycle", function()
    local p = plan { displayName = "Babs" }
    p:first()
    assert.equal("judge", p:answer { status = 503, headers = {} })
    assert.is_nil(p.config)
  end)

  it("returns the resource of a 200 PATCH, and {} for a 204", function()
    local p = plan({ active = false }, { method = "patch" })
    assert.equal("patch", p:first().step)
    local what, user = p:answer { status = 200, headers = {}, body = { id = "1", active = false } }
    assert.equal("done", what)
    assert.same({ id = "1", active = false }, user)
    p = plan({ active = false }, { method = "patch" })
    p:first()
    what, user = p:answer { status = 204, headers = {}, body = nil }
    assert.equal("done", what)
    assert.same({}, user)
  end)

  it("GETs, merges and PUTs with If-Match where PATCH is not supported", function()
    local p = plan({ ["name.givenName"] = "Babs", title = users.null }, { config = PUT_ONLY })
    assert.same({ step = "get", method = "GET", path = "/Users/{id}" }, p:first())
    local current = examples.full_user()
    current.meta = { version = 'W/"3694e05e9dff591"' }
    local what, req = p:answer { status = 200, headers = { etag = 'W/"e180ee84f0671b1"' }, body = current }
    assert.equal("send", what)
    assert.equal("PUT", req.method)
    assert.equal("/Users/{id}", req.path)
    assert.equal('W/"e180ee84f0671b1"', req.if_match)
    assert.equal("Babs", req.body.name.givenName)
    assert.equal("Jensen", req.body.name.familyName)
    assert.is_nil(req.body.title)
    assert.is_nil(req.body.meta)
    local done, user = p:answer { status = 200, headers = {}, body = { id = "x" } }
    assert.equal("done", done)
    assert.same({ id = "x" }, user)
  end)

  it("takes meta.version for If-Match where the GET sent no ETag", function()
    local p = plan({ title = "x" }, { method = "put" })
    p:first()
    local _, req = p:answer { status = 200, headers = {}, body = { id = "1", meta = { version = 'W/"9"' } } }
    assert.equal('W/"9"', req.if_match)
  end)

  it("goes back to the GET after a 412, at most twice, then fails with conflict", function()
    local p = plan({ title = "x" }, { config = PUT_ONLY })
    p:first()
    for round = 1, 3 do
      local what, req = p:answer { status = 200, headers = { etag = '"' .. round .. '"' }, body = { id = "1" } }
      assert.equal("send", what)
      assert.equal('"' .. round .. '"', req.if_match)
      what, req = p:answer { status = 412, headers = {}, body = examples.error(412, nil, "stale") }
      if round < 3 then
        assert.equal("send", what)
        assert.same({ step = "get", method = "GET", path = "/Users/{id}" }, req)
      else
        assert.equal("fail", what)
        assert.equal("conflict", req.code)
        assert.equal("http", req.kind)
        assert.equal(412, req.status)
        assert.matches("3 times", req.message)
      end
    end
  end)

  it("leaves other error answers to the GET and the PUT to the lifecycle", function()
    local p = plan({ title = "x" }, { method = "put" })
    p:first()
    assert.equal("judge", p:answer { status = 404, headers = {}, body = examples.error(404, nil, "gone") })
    p:answer { status = 200, headers = {}, body = { id = "1" } }
    assert.equal("judge", p:answer { status = 428, headers = {}, body = examples.error(428, nil, "If-Match") })
  end)

  it("fails a GET that answers no JSON object", function()
    local p = plan({ title = "x" }, { method = "put" })
    p:first()
    local what, err = p:answer { status = 200, headers = {}, body = "<html>" }
    assert.equal("fail", what)
    assert.equal("bad_response", err.code)
  end)

  it("adds the enterprise schema on a PUT that sets it for the first time", function()
    local p = plan({ [schema.ENTERPRISE] = { department = "Sales" } }, { method = "put" })
    p:first()
    local _, req = p:answer { status = 200, headers = {}, body = examples.full_user() }
    assert.same({ schema.CORE, schema.ENTERPRISE }, req.body.schemas)
  end)
end)
