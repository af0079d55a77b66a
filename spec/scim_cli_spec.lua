-- The command with the provider `scim`, against the fake RFC server:
-- describe lists the core attributes; an update takes words such as
-- active=false, name.givenName=Babs and a JSON emails cell; a CSV file's
-- columns set sub-attributes. What the server holds afterwards is checked.
local env = require "spec.support.env"
local cli = require "spec.support.cli"
local core = require "users.core"
local transport = require "users.transport.curl"
local examples = dofile("spec/support/fake/vendors/scim_examples.lua")

local q = cli.q
local ID = examples.BJENSEN_ID
local OTHER = "9a8b7c6d-1234-4abc-8def-0123456789ab"
local ENT = examples.ENTERPRISE

local function held(id)
  local res = assert(transport.send { method = "GET", url = env.fake:base_url("scim") .. "/Users/" .. id,
                                      headers = { Authorization = "Bearer test-token" },
                                      timeout = 10, connect_timeout = 5 })
  assert.equal(200, res.status)
  return core.json_decode(res.body)
end

describe("lua-users with scim", function()
  local dir
  cli.fakes_and_dirs(function(d) dir = d end)

  it("describe scim lists the core attributes, the enterprise ones and the name rules", function()
    local out, err, code = cli.run("describe scim", cli.vars("scim"))
    assert.equal(0, code, err)
    for _, name in ipairs { "userName", "name.givenName", "emails", "active", ENT .. ":department" } do
      assert.matches("\n  " .. name:gsub("%p", "%%%0") .. "%s", out)
    end
    assert.matches("SCIM_BASE_URL", out)
    assert.matches("note: +attribute names match in any case", out)
    assert.is_nil(out:find("\n  groups ", 1, true)) -- read-only: no field
  end)

  it("update scim ID active=false name.givenName=... emails=<JSON> sets them on the server", function()
    local out, err, code = cli.run(("update scim %s active=false name.givenName=Babs %s %s"):format(ID,
      q('emails=[{"value":"babs@example.com","type":"work","primary":true}]'),
      q(ENT .. ":department=Sales")), cli.vars("scim"))
    assert.equal(0, code, err)
    assert.equal("Babs", core.json_decode(out).name.givenName)
    local u = held(ID)
    assert.is_false(u.active)
    assert.equal("Babs", u.name.givenName)
    assert.equal("Jensen", u.name.familyName)
    assert.same({ { value = "babs@example.com", type = "work", primary = true } }, u.emails)
    assert.equal("Sales", u[ENT].department)
    assert.equal("Theme Park", u[ENT].division)
  end)

  it("an object cell is JSON; --dry-run prints the PATCH and sends nothing", function()
    local out, err, code = cli.run(("update scim %s %s title=null --dry-run"):format(ID,
      q('name={"givenName":"B","familyName":"J"}')), cli.vars("scim"))
    assert.equal(0, code, err)
    assert.matches("PATCH %S+/Users/" .. ID:gsub("%-", "%%-"), out)
    assert.matches('"op":"remove","path":"title"', out, 1, true)
    assert.matches('"value":{"familyName":"J","givenName":"B"}', out, 1, true)
    assert.equal(0, #env.fake:requests("scim"))
  end)

  it("a refused attribute exits 1 with the attribute named, nothing sent", function()
    local _, err, code = cli.run(("update scim %s groups=x usrName=b"):format(ID), cli.vars("scim"))
    assert.equal(1, code)
    assert.matches("groups is read%-only", err)
    assert.matches("did you mean 'userName'", err)
    assert.equal(0, #env.fake:requests("scim"))
  end)

  it("bulk: CSV columns name.givenName, emails (JSON) and active set each user", function()
    env.write(dir .. "/u.csv", table.concat({
      "id,name.givenName,emails,active",
      ID .. ',Barb,"[{""value"":""barb@example.com"",""type"":""work""}]",false',
      OTHER .. ",Johnny,,true",
    }, "\n") .. "\n")
    local out, err, code = cli.run("bulk scim u.csv", cli.vars("scim"), dir)
    assert.equal(0, code, err .. out)
    local u = held(ID)
    assert.equal("Barb", u.name.givenName)
    assert.equal("Jensen", u.name.familyName)
    assert.same({ { value = "barb@example.com", type = "work" } }, u.emails)
    assert.is_false(u.active)
    local o = held(OTHER)
    assert.equal("Johnny", o.name.givenName)
    assert.equal("jsmith@example.com", o.emails[1].value)
    assert.is_true(o.active)
  end)
end)
