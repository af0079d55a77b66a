-- The rockspec builds and installs the module into a fresh tree with
-- `luarocks make --deps-mode none`, and it loads from outside the repo.
local env = require "spec.support.env"

local function run(cmd)
  local p = io.popen(cmd .. " 2>&1; echo \"exit:$?\"")
  local out = p:read("*a")
  p:close()
  local code = tonumber(out:match("exit:(%d+)%s*$"))
  return code, out
end

local VERSION = require "users.version"
local ROCKSPEC = "lua-users-" .. VERSION .. "-1.rockspec"

describe("luarocks", function()
  it("names the version of users/version.lua, the one place it is written", function()
    local rockspec = assert(io.open(ROCKSPEC), ROCKSPEC .. " is missing"):read("*a")
    assert.equal(VERSION .. "-1", rockspec:match('\nversion = "([^"]+)"'))
    assert.equal(VERSION, require("users")._VERSION)
    local _, others = run("ls lua-users-*.rockspec")
    assert.equal(ROCKSPEC, (others:gsub("%s*exit:%d+%s*$", "")))
  end)

  it("packs a source rock of the checkout (make pack)", function()
    local abi = jit and "5.1" or _VERSION:match("%d+%.%d+")
    local code, out = run("make -s pack LUA=" .. (jit and "jit" or abi))
    assert.equal(0, code, out)
    local rock = "build/pack/lua-users-" .. VERSION .. "-1.src.rock"
    assert.truthy(io.open(rock), out)
    os.remove(rock)
  end)

  it("lists every Lua file of the module in the rockspec", function()
    local rockspec = io.open(ROCKSPEC):read("*a")
    local _, files = run("cd lua && find . -name '*.lua' | sort")
    local n = 0
    for path in files:gmatch("%./([^\n]+%.lua)") do
      n = n + 1
      local module = path:gsub("%.lua$", ""):gsub("/", ".")
      assert.truthy(rockspec:find('["' .. module .. '"] = "lua/' .. path .. '"', 1, true)
                    or rockspec:find(module .. ' = "lua/' .. path .. '"', 1, true),
                    path .. " is missing from the rockspec")
    end
    assert.is_true(n >= 15)
  end)

  -- One fresh tree with the rock, built by the first test that needs it and
  -- read by both: building the C core takes most of this file's time.
  local rock_tree
  local function installed_rock()
    if not rock_tree then
      local abi = jit and "5.1" or _VERSION:match("%d+%.%d+")
      local tree = os.tmpname()
      os.remove(tree)
      local code, out = run(("luarocks --lua-version %s --tree %s make --deps-mode none " .. ROCKSPEC)
        :format(abi, tree))
      assert.equal(0, code, out)
      rock_tree = tree
    end
    return rock_tree
  end
  teardown(function()
    if rock_tree then os.execute("rm -rf " .. rock_tree) end
  end)

  it("installs the rock into a fresh tree, usable from anywhere", function()
    local abi = jit and "5.1" or _VERSION:match("%d+%.%d+")
    local tree = installed_rock()
    local code, out
    local script = os.tmpname()
    local f = assert(io.open(script, "w"))
    f:write([[local u = require "users"
      assert(package.cpath:find("]] .. tree .. [[", 1, true), "the tree is not on the cpath")
      assert(u.prepare("paradigm", 7, { workspaces = { 1 } }, { token = "t" }).body == '{"workspaces":[1]}')
      local r = u.bulk_update("paradigm", { { id = 7, fields = { workspaces = {} } } }, { token = "t", dry_run = true })
      assert(r.succeeded == 1)
      assert(require("users.transport.nginx").name == "nginx")
      io.write(u._VERSION, " ", table.concat(u.providers(), ","))]])
    f:close()
    code, out = run(("cd / && eval \"$(luarocks --lua-version %s --tree %s path)\" && %s %s")
      :format(abi, tree, env.lua_bin(), script))
    os.remove(script)
    assert.equal(0, code, out)
    assert.equal(VERSION, out:match("^(%S+) "))
    assert.matches(" activepieces,generic,lancepilot,lexful,paradigm", out)
  end)

  -- The command: luarocks installs TREE/bin/lua-users (a wrapper with the
  -- tree's interpreter), which finds its module without `luarocks path`.
  it("installs a working lua-users command with the rock, and with make install", function()
    local abi = jit and "5.1" or _VERSION:match("%d+%.%d+")
    local tree = installed_rock()
    local code, out
    local dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
    env.write(dir .. "/u.csv", "id,role\nu1,admin\nu2,\n")
    local vars = "env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 GENERIC_BASE_URL=https://api.example.com GENERIC_TOKEN=secret-t "
    code, out = run(("cd %s && %s %s/bin/lua-users --version && %s %s/bin/lua-users update generic u1 role=admin --dry-run"
      .. " && %s %s/bin/lua-users bulk generic u.csv --dry-run"):format(dir, vars, tree, vars, tree, vars, tree))
    assert.equal(1, code, out) -- bulk: one row of two failed
    assert.matches("^lua%-users " .. VERSION:gsub("%.", "%%.") .. "\n", out)
    assert.matches("\nPATCH https://api.example.com/v1/users/u1\n", out)
    assert.matches("\nAuthorization: Bearer %[REDACTED%]\n", out)
    assert.matches('\nPATCH https://api.example.com/v1/users/u1 {"role":"admin"}\n', out)
    assert.matches("generic: 2 items, 1 succeeded, 1 failed", out) -- u2 has no field to update
    assert.is_nil(out:find("secret-t", 1, true))
    -- make install PREFIX=...: the script names the interpreter it was built for
    local lua = jit and "jit" or abi -- the system's interpreter (make asan runs the specs in its own)
    tree = os.tmpname()
    os.remove(tree)
    code, out = run(("make -s install PREFIX=%s LUA=%s"):format(tree, lua))
    assert.equal(0, code, out)
    local first = io.open(tree .. "/bin/lua-users"):read("*l")
    assert.equal("#!/usr/bin/env " .. (jit and "luajit" or "lua" .. abi), first)
    -- it finds its module where make install put it, on no path of the interpreter's
    code, out = run(("cd / && env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 %s/bin/lua-users providers")
      :format(tree))
    assert.equal(0, code, out)
    assert.matches("^activepieces +Activepieces\n", out)
    assert.truthy(io.open(tree .. "/lib/lua/" .. abi .. "/users/cli_core.so"), "users.cli_core is installed")
    os.execute("rm -rf " .. tree .. " " .. dir)
  end)
end)
