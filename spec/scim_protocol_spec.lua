-- What SCIM servers send back, read: versions for If-Match (RFC 7644
-- section 3.14), the ServiceProviderConfig (RFC 7643 section 5) and error
-- bodies (RFC 7644 section 3.12).
local version = require "users.scim.version"
local discovery = require "users.scim.discovery"
local scim_errors = require "users.scim.errors"
local errors = require "users.errors"
local examples = dofile("spec/support/fake/vendors/scim_examples.lua")

describe("scim version", function()
  it("takes the ETag header first (RFC 7644 section 3.14's example)", function()
    assert.equal('W/"e180ee84f0671b1"', version.of({ etag = 'W/"e180ee84f0671b1"' },
                                                   { meta = { version = 'W/"other"' } }))
    assert.equal('"abc"', version.of({ ETag = ' "abc" ' }, {}))
  end)

  it("falls back to meta.version, in any case", function()
    assert.equal('W/"3694e05e9dff591"', version.of({}, { meta = { version = 'W/"3694e05e9dff591"' } }))
    assert.equal('W/"a"', version.of(nil, { Meta = { Version = 'W/"a"' } }))
  end)

  it("quotes a bare version, and sends none that could not be a header", function()
    assert.equal('"3"', version.of({}, { meta = { version = "3" } }))
    assert.equal('"7"', version.of({}, { meta = { version = 7 } }))
    assert.is_nil(version.of({ etag = '"a"\r\nX-Evil: 1' }, {}))
    assert.is_nil(version.entity_tag('a"b'))
    assert.is_nil(version.entity_tag("a b"))
    assert.is_nil(version.entity_tag(""))
    assert.is_nil(version.of({}, { meta = {} }))
    assert.is_nil(version.of({}, {}))
  end)
end)

describe("scim discovery", function()
  after_each(discovery.forget)

  it("reads patch.supported and etag.supported (RFC 7643 section 8.5's example)", function()
    assert.same({ found = true, patch = true, etag = true }, discovery.read(200, examples.service_provider_config(true, true)))
    assert.same({ found = true, patch = false, etag = true }, discovery.read(200, examples.service_provider_config(false, true)))
    assert.same({ found = true, patch = false, etag = false },
                discovery.read(200, { Patch = { Supported = "false" } }))
  end)

  it("takes no discovery document (404) as PATCH", function()
    local cfg = discovery.read(404, { detail = "not found" })
    assert.same({ found = false, patch = true, etag = false }, cfg)
    assert.equal("patch", discovery.method("auto", cfg))
  end)

  it("gives no configuration for an answer that says nothing either way", function()
    local cfg, why = discovery.read(500, nil)
    assert.is_nil(cfg)
    assert.matches("HTTP 500", why)
    assert.is_nil(discovery.read(401, {}))
    assert.is_nil(discovery.read(200, "<html>"))
  end)

  it("chooses the method: the option first, then what the server said", function()
    local put_only = discovery.read(200, examples.service_provider_config(false, true))
    assert.equal("put", discovery.method(nil, put_only))
    assert.equal("put", discovery.method("auto", put_only))
    assert.equal("patch", discovery.method("patch", put_only))
    assert.equal("put", discovery.method("put", nil))
    assert.is_true(discovery.needed("auto", nil))
    assert.is_true(discovery.needed(nil, nil))
    assert.is_false(discovery.needed("auto", put_only))
    assert.is_false(discovery.needed("put", nil))
  end)

  it("remembers per base URL, bounded", function()
    local cfg = { found = true, patch = false, etag = true }
    discovery.remember("https://a.example/scim/v2", cfg)
    assert.equal(cfg, discovery.recall("https://a.example/scim/v2"))
    assert.is_nil(discovery.recall("https://b.example/scim/v2"))
    for i = 1, 100 do discovery.remember("https://h" .. i .. ".example", cfg) end
    local kept = 0
    for i = 1, 100 do if discovery.recall("https://h" .. i .. ".example") then kept = kept + 1 end end
    assert.is_true(kept > 0 and kept <= 64)
  end)

  it("lets one owner at a time discover a base URL, for a while at most", function()
    local base, a, b = "https://c.example/scim/v2", {}, {}
    discovery.forget()
    assert.is_true(discovery.claim(base, a, 100, 30))
    assert.is_true(discovery.claim(base, a, 101, 30)) -- its own again
    assert.is_false(discovery.claim(base, b, 110, 30))
    assert.is_true(discovery.claim("https://d.example", b, 110, 30)) -- another base URL
    discovery.release(base, b) -- not b's: a keeps it
    assert.is_false(discovery.claim(base, b, 120, 30))
    assert.is_true(discovery.claim(base, b, 131, 30)) -- a's ran out (an owner gone silent)
    discovery.release(base, b)
    assert.is_true(discovery.claim(base, a, 132, 30))
  end)
end)

describe("scim error bodies", function()
  it("reads RFC 7644 section 3.12's example: mutability is a validation error", function()
    local info = scim_errors.read(400, examples.error(400, "mutability", "Attribute 'id' is readOnly"))
    assert.same({ code = "validation_error", scim_type = "mutability",
                  message = "Attribute 'id' is readOnly (SCIM mutability)" }, info)
  end)

  it("maps uniqueness to conflict and the request errors to validation_error", function()
    assert.equal("conflict", scim_errors.read(409, examples.error(409, "uniqueness", "taken")).code)
    for _, t in ipairs { "invalidValue", "invalidSyntax", "invalidPath", "noTarget", "mutability", "invalidFilter" } do
      assert.equal("validation_error", scim_errors.read(400, examples.error(400, t, "x")).code)
    end
    assert.is_nil(scim_errors.read(400, examples.error(400, "tooMany", "x")).code)
    assert.is_nil(scim_errors.read(400, examples.error(400, "sensitive", "x")).code)
  end)

  it("reads an error without scimType (RFC 7644's 404 example) and without schemas", function()
    local info = scim_errors.read(404, examples.error(404, nil,
      "Resource 2819c223-7f76-453a-919d-413861904646 not found"))
    assert.same({ message = "Resource 2819c223-7f76-453a-919d-413861904646 not found" }, info)
    info = scim_errors.read(409, { status = 409, scimType = "uniqueness" })
    assert.same({ code = "conflict", scim_type = "uniqueness", message = "HTTP 409 (SCIM uniqueness)" }, info)
  end)

  it("is nil for a body that is no SCIM error", function()
    assert.is_nil(scim_errors.read(500, "<html>"))
    assert.is_nil(scim_errors.read(400, { error = "bad", message = "x" }))
  end)

  it("makes the module's error through a declaration's error hook", function()
    local decl = { name = "scim", error = scim_errors.read }
    local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"409",'
      .. '"scimType":"uniqueness","detail":"userName bjensen is taken"}'
    local err = errors.from_response(decl, { status = 409, body = body,
                                             headers = { ["content-type"] = "application/scim+json" } })
    assert.equal("http", err.kind)
    assert.equal("conflict", err.code)
    assert.equal("userName bjensen is taken (SCIM uniqueness)", err.message)
    assert.equal("uniqueness", err.body.scimType)
    err = errors.from_response(decl, { status = 400, body = body:gsub("uniqueness", "invalidPath"):gsub("409", "400"),
                                       headers = { ["content-type"] = "application/json" } })
    assert.equal("validation_error", err.code)
  end)
end)
