-- From a vendor's document to a bulk run without any Lua: `lua-users
-- import` prints a provider file, the search path loads it by name, and
-- describe, update and bulk take --openapi DOCUMENT --operation OP.
local cli = require "spec.support.cli"
local env = require "spec.support.env"

local DOC = cli.ROOT .. "/lua/users/providers/paradigm/openapi.yaml"
local OP = "api_v2_users_workspaces_update_update"

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. cli.q(d)))
  return d
end

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

describe("lua-users import", function()
  local dir
  before_each(function() dir = tmpdir() end)
  after_each(function() os.execute("rm -rf " .. cli.q(dir)) end)

  it("prints a provider file that the search path then loads by its name", function()
    local out, err, code = cli.run("import " .. cli.q(DOC) .. " " .. OP .. " --name acme")
    assert.equal(0, code, err)
    local chunk = assert((loadstring or load)(out))
    local decl = chunk()
    assert.equal("acme", decl.name)
    assert.equal("PUT", decl.method)
    assert.same({ "json", "form", "multipart" }, decl.encodings)
    write(dir .. "/acme.lua", out)
    local vars = { LUA_USERS_PROVIDERS = "/nonexistent:" .. dir, ACME_TOKEN = "tok-acme" }
    out, err, code = cli.run("providers", vars)
    assert.equal(0, code, err)
    assert.matches("\nacme%s+Paradigm API\n", "\n" .. out)
    out, err, code = cli.run("describe acme", vars)
    assert.equal(0, code, err)
    assert.matches("PUT {base}/api/v2/users/{id}/workspaces/update/", out)
    out, err, code = cli.run("update acme 7 'workspaces=3;4' --dry-run", vars)
    assert.equal(0, code, err)
    assert.matches('{"workspaces":%[3,4%]}', out)
  end)

  it("finds provider files in XDG_CONFIG_HOME's lua-users/providers, never in place of a built-in one", function()
    local out = cli.run("import " .. cli.q(DOC) .. " " .. OP .. " --name paradigm")
    assert(os.execute("mkdir -p " .. cli.q(dir .. "/lua-users/providers")))
    write(dir .. "/lua-users/providers/mine.lua", (out:gsub('name = "paradigm"', 'name = "mine"')))
    write(dir .. "/lua-users/providers/paradigm.lua", 'return { name = "paradigm", title = "impostor" }')
    local vars = { XDG_CONFIG_HOME = dir, MINE_TOKEN = "tok-mine", LUA_USERS_PROVIDERS = false }
    local list, err, code = cli.run("providers", vars)
    assert.equal(0, code, err)
    assert.matches("\nmine ", "\n" .. list)
    assert.matches("Paradigm %(LightOn%)", list)
    assert.is_nil(list:find("impostor", 1, true))
  end)

  it("says which file a broken provider file is", function()
    write(dir .. "/broken.lua", "return { name = 'other' }")
    write(dir .. "/fails.lua", "error('oops')")
    local script = 'local r = require "users.registry"; print(select(2, r.get("broken"))); print(select(2, r.get("fails")))'
    local out = env.sh(("LUA_USERS_PROVIDERS=%s LUA_PATH=%s LUA_CPATH=%s %s -e %s"):format(cli.q(dir),
      cli.q(cli.ROOT .. "/lua/?.lua;;"), cli.q(package.cpath:match("^[^;]+") .. ";;"), env.lua_bin(), cli.q(script)))
    assert.matches("provider file " .. dir:gsub("%p", "%%%0") .. "/broken.lua must return a table with name = \"broken\"", out)
    assert.matches("provider file " .. dir:gsub("%p", "%%%0") .. "/fails.lua failed: .*oops", out)
  end)

  it("fails with exit 2 and the document's pointer when the operation cannot be compiled", function()
    local _, err, code = cli.run("import " .. cli.q(DOC) .. " updateUsr")
    assert.equal(2, code)
    assert.matches("OpenAPI: no operation with operationId 'updateUsr'.*%(at #/paths%)", err)
    _, err, code = cli.run("import " .. cli.q(DOC) .. " " .. OP .. " --name Bad-Name")
    assert.equal(2, code)
    assert.matches("%-%-name must be lower case", err)
    _, err, code = cli.run("import " .. cli.q(DOC))
    assert.equal(2, code)
    assert.matches("usage: lua%-users import DOCUMENT OPERATION", err)
  end)

  it("lets describe, update and bulk take --openapi DOCUMENT --operation OP instead of a provider", function()
    local vars = { ACME_TOKEN = "tok-acme" }
    local out, err, code = cli.run("describe --openapi " .. cli.q(DOC) .. " --operation " .. OP .. " --name acme", vars)
    assert.equal(0, code, err)
    assert.matches("acme %- Paradigm API", out)
    out, err, code = cli.run("update --openapi=" .. cli.q(DOC) .. " --operation='PUT /api/v2/users/{id}/workspaces/update/'"
                             .. " --name acme 7 'workspaces=[]' --dry-run", vars)
    assert.equal(0, code, err)
    assert.matches("PUT https://paradigm.lighton.ai/api/v2/users/7/workspaces/update/", out)
    local csv = dir .. "/users.csv"
    write(csv, "id,workspaces\n7,1;2\n8,x\n")
    out, err, code = cli.run("bulk --openapi " .. cli.q(DOC) .. " --operation " .. OP .. " --name acme "
                             .. cli.q(csv) .. " --dry-run --no-journal", vars)
    assert.equal(1, code, out .. err)
    assert.matches("1 failed", out .. err)
    local _, uerr, ucode = cli.run("update --openapi " .. cli.q(DOC) .. " 7 workspaces=1", vars)
    assert.equal(2, ucode)
    assert.matches("%-%-openapi DOCUMENT and %-%-operation OP go together", uerr)
  end)

  it("runs a bulk update from a vendor's document alone, against a fake", function()
    env.start()
    finally(env.stop)
    local csv = dir .. "/users.csv"
    write(csv, "id,workspaces\n7,1;2\n8,[]\n")
    local vars = { ACME_TOKEN = "test-token", ACME_BASE_URL = env.fake:base_url("paradigm") }
    local out, err, code = cli.run("bulk --openapi " .. cli.q(DOC) .. " --operation " .. OP .. " --name acme "
                                   .. cli.q(csv) .. " --no-journal", vars)
    assert.equal(0, code, out .. err)
    assert.matches("2 succeeded", out .. err)
  end)
end)
