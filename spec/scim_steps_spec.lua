-- One SCIM update as its requests (users/scim/steps.lua), answer by answer,
-- in the shape of the lifecycle's plan hook: discovery, PATCH, GET + PUT
-- with If-Match, the 412 refetches.
local users = require "users"
local errors = require "users.errors"
local schema = require "users.scim.schema"
local check = require "users.scim.check"
local steps = require "users.scim.steps"
local examples = dofile("spec/support/fake/vendors/scim_examples.lua")

local function plan(given, o)
  return steps.new(assert(check.attrs(given)), o)
end

-- The error the lifecycle hands a plan for a final non-2xx answer.
local function failed(status, body)
  return errors.new { kind = "http", status = status, code = "http_error", body = body, provider = "scim",
                      message = "HTTP " .. status }
end

local function ok(status, headers) return { status = status, headers = headers or {} } end

local PUT_ONLY = { found = true, patch = false, etag = true }
local ACCEPT = "application/scim+json, application/json"

describe("scim steps", function()
  it("discovers first when nothing is remembered, then PATCHes", function()
    local p = plan { displayName = "Babs" }
    local what, req = p:first()
    assert.equal("send", what)
    assert.same({ step = "discover", method = "GET", template = "/ServiceProviderConfig",
                  headers = { Accept = ACCEPT }, idempotent = true }, req)
    local nxt
    what, nxt = p:answer(examples.service_provider_config(true, false), ok(200))
    assert.equal("send", what)
    assert.equal("PATCH", nxt.method)
    assert.equal("/Users/{id}", nxt.template)
    assert.equal("application/scim+json", nxt.content_type)
    assert.same({ { op = "replace", path = "displayName", value = "Babs" } }, nxt.json.Operations)
    assert.is_true(nxt.idempotent)
    assert.same({ found = true, patch = true, etag = false }, p.config)
  end)

  it("PATCHes when there is no discovery document (404)", function()
    local p = plan { displayName = "Babs" }
    p:first()
    local what, nxt = p:answer(nil, failed(404, examples.error(404, nil, "no")))
    assert.equal("send", what)
    assert.equal("patch", nxt.step)
    assert.is_false(p.config.found)
  end)

  it("fails with the lifecycle's error when the discovery fails otherwise", function()
    local p = plan { displayName = "Babs" }
    p:first()
    local err = failed(503)
    local what, got = p:answer(nil, err)
    assert.equal("fail", what)
    assert.equal(err, got)
    assert.is_nil(p.config)
    p = plan { displayName = "Babs" }
    p:first()
    local terr = errors.transport("scim", "connect", "refused")
    assert.same({ "fail", terr }, { p:answer(nil, terr) })
    p = plan { displayName = "Babs" }
    p:first()
    what, got = p:answer("not an object", ok(200))
    assert.equal("fail", what)
    assert.equal("bad_response", got.code)
  end)

  it("says a PATCH may be resent: replace and remove operations with paths leave the user as once", function()
    local _, req = plan({ title = "x" }, { method = "patch" }):first()
    assert.is_true(req.idempotent)
    _, req = plan({ title = users.null, ["name.givenName"] = "B" }, { method = "patch" }):first()
    assert.is_true(req.idempotent)
    for _, op in ipairs(req.json.Operations) do assert.is_true(op.op == "replace" or op.op == "remove") end
  end)

  it("dry (prepare, dry runs): no discovery; the PATCH, or the GET a PUT starts with", function()
    local _, req = plan({ title = "x" }, { dry = true }):first()
    assert.equal("patch", req.step)
    _, req = plan({ title = "x" }, { dry = true, config = PUT_ONLY }):first()
    assert.equal("get", req.step)
    _, req = plan({ title = "x" }, { dry = true, method = "put" }):first()
    assert.equal("get", req.step)
  end)

  it("returns the resource of a 200 PATCH, and {} for a 204", function()
    local p = plan({ active = false }, { method = "patch" })
    local _, req = p:first()
    assert.equal("patch", req.step)
    assert.same({ "done", { id = "1", active = false } }, { p:answer({ id = "1", active = false }, ok(200)) })
    p = plan({ active = false }, { method = "patch" })
    p:first()
    assert.same({ "done", {} }, { p:answer({}, ok(204)) })
  end)

  it("GETs, merges and PUTs with If-Match where PATCH is not supported", function()
    local p = plan({ ["name.givenName"] = "Babs", title = users.null }, { config = PUT_ONLY })
    local _, first = p:first()
    assert.same({ step = "get", method = "GET", template = "/Users/{id}", headers = { Accept = ACCEPT },
                  idempotent = true }, first)
    local current = examples.full_user()
    current.meta = { version = 'W/"3694e05e9dff591"' }
    local what, req = p:answer(current, ok(200, { etag = 'W/"e180ee84f0671b1"' }))
    assert.equal("send", what)
    assert.equal("PUT", req.method)
    assert.equal("/Users/{id}", req.template)
    assert.equal('W/"e180ee84f0671b1"', req.headers["If-Match"])
    assert.equal("application/scim+json", req.content_type)
    assert.is_true(req.idempotent)
    assert.equal("Babs", req.json.name.givenName)
    assert.equal("Jensen", req.json.name.familyName)
    assert.is_nil(req.json.title)
    assert.is_nil(req.json.meta)
    assert.same({ "done", { id = "x" } }, { p:answer({ id = "x" }, ok(200)) })
  end)

  it("takes meta.version for If-Match where the GET sent no ETag", function()
    local p = plan({ title = "x" }, { method = "put" })
    p:first()
    local _, req = p:answer({ id = "1", meta = { version = 'W/"9"' } }, ok(200))
    assert.equal('W/"9"', req.headers["If-Match"])
  end)

  it("goes back to the GET after a 412, at most twice, then fails with conflict", function()
    local p = plan({ title = "x" }, { config = PUT_ONLY })
    p:first()
    for round = 1, 3 do
      local what, req = p:answer({ id = "1" }, ok(200, { etag = '"' .. round .. '"' }))
      assert.equal("send", what)
      assert.equal('"' .. round .. '"', req.headers["If-Match"])
      what, req = p:answer(nil, failed(412, examples.error(412, nil, "stale")))
      if round < 3 then
        assert.equal("send", what)
        assert.equal("get", req.step)
      else
        assert.equal("fail", what)
        assert.equal("conflict", req.code)
        assert.equal("http", req.kind)
        assert.equal(412, req.status)
        assert.is_false(req.retryable)
        assert.matches("3 times", req.message)
      end
    end
  end)

  it("makes its errors with the lifecycle's maker when given one", function()
    local made
    local p = plan({ title = "x" }, { method = "put", refetches = 0,
                                      error = function(t) made = t; return t end })
    p:first()
    p:answer({ id = "1" }, ok(200))
    local what, err = p:answer(nil, failed(412))
    assert.equal("fail", what)
    assert.equal(made, err)
    assert.equal("conflict", err.code)
  end)

  it("passes other failures of the GET and the PUT through", function()
    local p = plan({ title = "x" }, { method = "put" })
    p:first()
    local gone = failed(404)
    assert.same({ "fail", gone }, { p:answer(nil, gone) })
    p = plan({ title = "x" }, { method = "put" })
    p:first()
    p:answer({ id = "1" }, ok(200))
    local precondition = failed(428)
    assert.same({ "fail", precondition }, { p:answer(nil, precondition) })
  end)

  it("fails a GET that answers no JSON object", function()
    local p = plan({ title = "x" }, { method = "put" })
    p:first()
    local what, err = p:answer({ "a", "list" }, ok(200))
    assert.equal("fail", what)
    assert.equal("bad_response", err.code)
  end)

  it("adds the enterprise schema on a PUT that sets it for the first time", function()
    local p = plan({ [schema.ENTERPRISE] = { department = "Sales" } }, { method = "put" })
    p:first()
    local _, req = p:answer(examples.full_user(), ok(200))
    assert.same({ schema.CORE, schema.ENTERPRISE }, req.json.schemas)
  end)
end)
