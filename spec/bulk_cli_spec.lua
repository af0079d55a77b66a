-- examples/bulk.lua, the command for people: CSV (RFC 4180) and JSON lines
-- in, report out, failures written in the same format and accepted back.
local env = require "spec.support.env"

local write, read = env.write, env.read

local function run_cli(provider, file, extra)
  local cmd = ("%s_BASE_URL='%s' %s_TOKEN=test-token LUA_CPATH='%s;;' %s examples/bulk.lua %s %s %s 2>&1; echo \"exit:$?\"")
    :format(provider:upper(), env.fake:base_url(provider), provider:upper(), package.cpath:match("^[^;]+"),
            env.lua_bin(), provider, file, extra or "")
  local p = io.popen(cmd)
  local out = p:read("*a")
  p:close()
  return out, tonumber(out:match("exit:(%d+)%s*$"))
end

describe("examples/bulk.lua", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)
  before_each(function() env.fake:reset() end)

  it("reads RFC 4180 CSV and writes the failures back as CSV", function()
    local dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
    write(dir .. "/people.csv", table.concat({
      "id,email,first_name,role",
      'u1,a@example.com,"Jane, ""JJ""",admin',
      "u2,not-an-email,Bob,member",
      'missing,c@example.com,"Two\nlines",member',
      "u4,,Dee,", -- empty cells: fields left alone
    }, "\r\n") .. "\r\n")
    local out, code = run_cli("generic", dir .. "/people.csv", "--concurrency 2")
    assert.equal(1, code, out)
    assert.matches("4 items, 2 succeeded, 2 failed", out)
    local bodies = {}
    for _, r in ipairs(env.fake:requests()) do bodies[r.uri:match("[^/]+$")] = r.body end
    assert.equal('{"email":"a@example.com","first_name":"Jane, \\"JJ\\"","role":"admin"}', bodies.u1)
    assert.equal('{"email":"c@example.com","first_name":"Two\\nlines","role":"member"}', bodies.missing)
    assert.equal('{"first_name":"Dee"}', bodies.u4)
    assert.is_nil(bodies.u2) -- refused before sending
    local failures = read(dir .. "/people.failures.csv")
    assert.matches("^id,email,first_name,role,_error\n", failures)
    assert.matches('\nmissing,c@example.com,"Two\nlines",member,generic: User not found\n', failures, 1, true)
    assert.matches("\nu2,not%-an%-email,Bob,member,", failures)
    -- Fed back in, the same two fail again, and the _error column is ignored.
    env.fake:reset()
    out = run_cli("generic", dir .. "/people.failures.csv")
    assert.matches("2 items, 0 succeeded, 2 failed", out)
    assert.equal(1, #env.fake:requests())
    os.execute("rm -rf " .. dir)
  end)

  it("reads JSON lines, typed values included", function()
    local file = os.tmpname()
    write(file, '{"id":7,"fields":{"workspaces":[1,2]}}\n\n{"id":8,"workspaces":[]}\n{"id":404,"workspaces":[3]}\n')
    local out = run_cli("paradigm", file, "--dry-run")
    assert.matches("3 items, 3 succeeded, 0 failed", out)
    assert.matches("dry run", out)
    assert.same({}, env.fake:requests())
    out = run_cli("paradigm", file)
    assert.matches("3 items, 2 succeeded, 1 failed", out)
    local uris = {}
    for _, r in ipairs(env.fake:requests()) do uris[#uris + 1] = r.uri .. " " .. r.body end
    table.sort(uris)
    assert.same({ '/paradigm/api/v2/users/404/workspaces/update/ {"workspaces":[3]}',
                  '/paradigm/api/v2/users/7/workspaces/update/ {"workspaces":[1,2]}',
                  '/paradigm/api/v2/users/8/workspaces/update/ {"workspaces":[]}' }, uris)
    local failures = read(file:gsub("%.%w+$", "") .. ".failures.jsonl")
    assert.matches('"_error":"paradigm: Not found."', failures, 1, true)
    assert.matches('"id":404', failures, 1, true)
    os.remove(file)
    os.remove((file:gsub("%.%w+$", "") .. ".failures.jsonl"))
  end)
end)
