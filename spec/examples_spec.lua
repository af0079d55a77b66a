-- Every example script, run once as its reader would run it (the same
-- interpreter as the specs, the module found in the tree), against the
-- fakes: only the environment's base URLs differ from production. And the
-- fakes' own self-check (spec/support/fake_selftest.lua), which the wire
-- specs rely on: each vendor's answers and every behaviour, tried with curl.
local env = require "spec.support.env"
local cli = require "spec.support.cli"

local q = cli.q
local SCIM_ID = "2819c223-7f76-453a-919d-413861904646" -- RFC 7643's bjensen, on every fake SCIM server

-- The interpreter of the children: the specs' own, or, under make valgrind,
-- the same under valgrind (spec/support/valgrind-lua).
local function lua_bin() return os.getenv("LUA_USERS_VALGRIND_CHILDREN") or env.lua_bin() end

-- Runs `lua examples/<script> args` in a scratch directory (or in the
-- checkout: `dir`) with `vars`; returns stdout, stderr and the exit code.
local function example(script, args, vars, dir)
  local scratch = not dir and cli.dir()
  dir = dir or scratch
  local words = { "env" }
  for k, v in pairs(vars or {}) do words[#words + 1] = k .. "=" .. q(v) end
  table.sort(words)
  words[#words + 1] = "LUA_PATH=" .. q(cli.ROOT .. "/lua/?.lua;" .. cli.ROOT .. "/?.lua;;")
  words[#words + 1] = "LUA_CPATH=" .. q(package.cpath:match("^[^;]+") .. ";;")
  local o, e = os.tmpname(), os.tmpname()
  local p = io.popen(("cd %s && %s %s %s %s >%s 2>%s; echo $?"):format(q(dir), table.concat(words, " "),
    lua_bin(), q(cli.ROOT .. "/examples/" .. script), args or "", q(o), q(e)))
  local code = tonumber(p:read("*a"):match("(%d+)%s*$"))
  p:close()
  local out, err = env.read(o), env.read(e)
  os.remove(o)
  os.remove(e)
  if scratch then cli.rm(scratch) end
  return out, err, code
end

describe("the examples", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)
  before_each(function() env.fake:reset() end)

  local png
  setup(function() png = env.tmpfile(env.PNG) end)
  teardown(function() os.remove(png) end)

  local runs = {
    { "generic.lua", "usr_123abc456def", "^generic: usr_123abc456def <jane@example.com> is admin\n$" },
    { "lexful.lua", env.USER_UUID, "^lexful: .* is now viewer %(0 account scopes%)\n$" },
    { "activepieces.lua", env.AP_ID, "^activepieces: .* is MEMBER, " },
    { "paradigm.lua", "7 3 5", "^paradigm: .* is in 2 workspace%(s%)" },
    { "lancepilot.lua", "42", "^lancepilot: " },
  }
  for _, run in ipairs(runs) do
    local script, args, want = run[1], run[2], run[3]
    it(script .. " updates its provider", function()
      local name = script:match("^(%w+)")
      local out, err, code = example(script, args, cli.vars(name))
      assert.equal(0, code, err)
      assert.matches(want, out)
      assert.equal(1, #env.fake:requests(name))
    end)
  end

  -- scim.lua against three dialects: PATCH (200), GET + PUT with If-Match, PATCH (204)
  for _, dialect in ipairs { "scim_rfc", "scim_put", "scim_github" } do
    it("scim.lua updates a user on " .. dialect, function()
      local out, err, code = example("scim.lua", SCIM_ID, { SCIM_BASE_URL = env.fake:base_url(dialect),
                                                           SCIM_TOKEN = "test-token" })
      assert.equal(0, code, err)
      assert.matches(dialect == "scim_github" and "^scim: " .. SCIM_ID:gsub("%-", "%%-") .. " updated\n$"
                     or "^scim: bjensen@example.com is now Babs Jensen, Tour Lead in Tour Operations\n$", out)
      local held = env.fake:last(dialect)
      assert.equal(dialect == "scim_put" and "PUT" or "PATCH", held.method)
    end)
  end

  it("lancepilot.lua uploads an avatar from a file", function()
    local out, err, code = example("lancepilot.lua", "42 " .. q(png), cli.vars("lancepilot"))
    assert.equal(0, code, err)
    assert.matches("^lancepilot: ", out)
    assert.matches("^multipart/form%-data", env.fake:last("lancepilot").headers["content-type"])
  end)

  it("bulk.lua runs a bulk update with a journal, and a rerun skips what was done", function()
    local dir = cli.dir()
    local vars = cli.vars("generic")
    local function run()
      local p = io.popen(("cd %s && env GENERIC_BASE_URL=%s GENERIC_TOKEN=%s LUA_PATH=%s LUA_CPATH=%s %s %s 30 2>&1; echo $?")
        :format(q(dir), q(vars.GENERIC_BASE_URL), q(vars.GENERIC_TOKEN), q(cli.ROOT .. "/lua/?.lua;;"),
                q(package.cpath:match("^[^;]+") .. ";;"), lua_bin(), q(cli.ROOT .. "/examples/bulk.lua")))
      local out = p:read("*a")
      p:close()
      return out
    end
    assert.matches("^30 items: 30 succeeded, 0 failed, 0 skipped %(journal%), 0 not attempted\n0%s*$", run())
    assert.matches("^30 items: 0 succeeded, 0 failed, 30 skipped %(journal%), 0 not attempted\n0%s*$", run())
    assert.equal(30, #env.fake:requests("generic"))
    cli.rm(dir)
  end)

  it("demo.lua (make demo) runs from start to end", function()
    local out, err, code = example("demo.lua", "", { LUA_USERS_CPATH = package.cpath:match("^[^;]+") }, cli.ROOT)
    assert.equal(0, code, err .. out)
    assert.matches("== one update per provider", out)
    assert.matches("generic: 2000 items", out)
    -- a sixth vendor from its document: imported, then a bulk run on it
    assert.matches("\n  name = \"box\",\n", out)
    assert.matches("\nbox: 300 items, 297 succeeded, 3 failed", out)
  end)
end)

describe("the command, as the demo runs it", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)

  -- bin/lua-users under lua_bin() (under make valgrind, valgrind's): an
  -- update with --verbose, and a bulk run with a journal and a failures file.
  it("updates, and runs a bulk file with its journal and failures", function()
    local dir = cli.dir()
    env.write(dir .. "/u.csv", "id,role\nu1,admin\nmissing,admin\nu2,member\n")
    local words = { "env" }
    for k, v in pairs(cli.vars("generic")) do words[#words + 1] = k .. "=" .. q(v) end
    words[#words + 1] = "LUA_PATH=" .. q(cli.ROOT .. "/lua/?.lua;;")
    words[#words + 1] = "LUA_CPATH=" .. q(package.cpath:match("^[^;]+") .. ";;")
    words[#words + 1] = lua_bin() .. " " .. q(cli.ROOT .. "/bin/lua-users")
    local command = table.concat(words, " ")
    local out = env.sh(("cd %s && %s update generic u9 role=admin --verbose 2>&1; echo rc=$?"):format(q(dir), command))
    assert.matches("PATCH %S*/users/u9 %-> 200", out)
    assert.matches("rc=0%s*$", out)
    out = env.sh(("cd %s && %s bulk generic u.csv --journal u.journal 2>&1; echo rc=$?"):format(q(dir), command))
    assert.matches("3 items, 2 succeeded, 1 failed", out)
    assert.matches("rc=1%s*$", out)
    assert.matches("^id,role", env.read(dir .. "/u.failures.csv") or "")
    cli.rm(dir)
  end)
end)

describe("the fakes", function()
  it("pass their own self-check (spec/support/fake_selftest.lua)", function()
    -- plain Lua and curl, no C of the module's: never under valgrind
    local out = env.sh(("cd %s && %s spec/support/fake_selftest.lua; echo rc=$?"):format(q(cli.ROOT), env.lua_bin()))
    assert.matches("%d+ checks, 0 failed", out)
    assert.matches("rc=0%s*$", out)
  end)
end)
