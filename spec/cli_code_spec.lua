-- The command's own code (issue 18): its C is a module of its own,
-- users.cli_core, built from src/cli/; the command uses the public API (no
-- users._options, users._registry), its modules require one another
-- without a loop, and no function is over 80 lines, no file over 400.
local cli_core = require "users.cli_core"

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function ls(pattern)
  local p = io.popen("ls " .. pattern .. " 2>/dev/null")
  local list = {}
  for line in p:lines() do list[#list + 1] = line end
  p:close()
  table.sort(list)
  return list
end

local FILES = ls("lua/users/cli.lua lua/users/cli/*.lua lua/users/journal.lua lua/users/journal/*.lua")

describe("users.cli_core", function()
  it("holds the command's C functions, and users.core none of them", function()
    local names = {}
    for k, v in pairs(cli_core) do names[#names + 1] = k .. ":" .. type(v) end
    table.sort(names)
    assert.same({ "creatable:function", "digest:function", "digest_set:function", "kind:function", "lock:function",
                  "signals:function", "term_width:function", "trap_signals:function" }, names)
    local core = require "users.core"
    for _, n in ipairs { "digest", "digest_set", "term_width", "trap_signals", "signals" } do assert.is_nil(core[n]) end
  end)

  it("is built by luarocks from exactly the C files in src/cli/, and compat.c", function()
    local rockspec = read("lua-users-" .. require("users.version") .. "-1.rockspec")
    local listed = {}
    for path in rockspec:match('%["users%.cli_core"%] = (%b{})'):gmatch('"(src/[^"]+%.c)"') do
      listed[#listed + 1] = path
    end
    table.sort(listed)
    local want = ls("src/cli/*.c")
    want[#want + 1] = "src/compat.c"
    table.sort(want)
    assert.same(want, listed)
  end)

  it("counts a digest past 255", function()
    local s, d = cli_core.digest_set(), cli_core.digest("same update")
    for _ = 1, 300 do s:add(d) end
    assert.equal(300, s:count(d))
    assert.equal(300, s:size())
    for _ = 1, 300 do assert.is_true(s:take(d)) end
    assert.is_false(s:take(d))
  end)

  it("tells what a path names, and which file", function()
    local dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir " .. dir)
    assert.equal("absent", cli_core.kind(dir .. "/none"))
    assert.equal("directory", (cli_core.kind(dir)))
    assert.equal("char", (cli_core.kind("/dev/null")))
    io.open(dir .. "/f", "w"):close()
    local k, id = cli_core.kind(dir .. "/f")
    assert.equal("file", k)
    assert.equal(id, select(2, cli_core.kind(dir .. "/./f")))
    assert.not_equal(id, select(2, cli_core.kind(dir)))
    local _, err = cli_core.kind(dir .. "/f/x")
    assert.matches("Not a directory", err)
    os.execute("rm -rf " .. dir)
  end)

  it("locks a file against every other lock, until released or collected", function()
    local path = os.tmpname()
    local a = assert(cli_core.lock(path))
    local none, err, code = cli_core.lock(path)
    assert.is_nil(none)
    assert.equal("busy", code)
    assert.matches("locked by another run", err)
    a:release()
    a:release() -- twice is harmless
    assert(cli_core.lock(path)) -- dropped at once
    collectgarbage()
    collectgarbage()
    local c = assert(cli_core.lock(path), "a collected lock is released")
    c:release()
    assert.equal("not_file", select(3, cli_core.lock("/dev/null")))
    assert.equal("error", select(3, cli_core.lock("/nonexistent/dir/j")))
    os.remove(path)
  end)

  it("removes a locked file before it lets go, only while its path names that file", function()
    local path, moved = os.tmpname(), os.tmpname()
    local a = assert(cli_core.lock(path))
    require("spec.support.env").write(path, "held")
    assert.is_false(a:remove(true)) -- "if empty": it holds something
    assert.equal("file", (cli_core.kind(path)))
    assert.is_true(a:remove())
    assert.equal("absent", cli_core.kind(path))
    a:release()
    a = assert(cli_core.lock(path))
    assert(os.rename(path, moved))
    require("spec.support.env").write(path, "another run's")
    local ok, err = a:remove()
    assert.is_nil(ok)
    assert.matches("no longer the locked file", err)
    assert.equal("another run's", io.open(path):read("*a"), "what replaced it is left alone")
    a:release()
    assert.has_error(function() a:remove() end)
    os.remove(path)
    os.remove(moved)
  end)

  it("tells whether a file can be created where none is, and removes only what it made", function()
    local path = os.tmpname()
    assert.equal("exists", cli_core.creatable(path)) -- another run's new file, say: left alone
    assert.equal("file", (cli_core.kind(path)))
    os.remove(path)
    assert.is_true(cli_core.creatable(path))
    assert.equal("absent", cli_core.kind(path))
    local none, err = cli_core.creatable("/nonexistent/dir/f")
    assert.is_nil(none)
    assert.matches("^/nonexistent/dir/f: No such file or directory$", err)
  end)

  it("counts SIGINT and SIGTERM one after the other: neither handler interrupts the other", function()
    -- The process is stopped while both are sent, so that both are pending
    -- when it resumes. Had SIGINT's handler not blocked SIGTERM, SIGTERM's
    -- would run on top of it, before its body, and the last signal seen
    -- would be SIGINT.
    local out = require("spec.support.env").run_lua([[
      local c = require "users.cli_core"
      c.trap_signals(10)
      local p = io.popen("kill -STOP $PPID; kill -INT $PPID; kill -TERM $PPID; kill -CONT $PPID")
      p:read("*a")
      p:close()
      print(c.signals())
    ]])
    assert.equal("2\tSIGTERM\n", out)
  end)
end)

describe("the command's Lua", function()
  it("uses no back door of the library", function()
    for _, path in ipairs(FILES) do
      local s = read(path)
      assert.is_nil(s:find("_options", 1, true), path)
      assert.is_nil(s:find("_registry", 1, true), path)
    end
  end)

  it("has no require loop", function()
    local requires = {}
    for _, path in ipairs(FILES) do
      local name = path:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/", ".")
      requires[name] = {}
      for m in read(path):gmatch('require%(?%s*"([%w_.]+)"') do requires[name][#requires[name] + 1] = m end
    end
    local state = {}
    local function visit(name, chain)
      if state[name] == "done" or not requires[name] then return end
      assert.is_false(state[name] == "open", "a require loop: " .. table.concat(chain, " -> ") .. " -> " .. name)
      state[name] = "open"
      chain[#chain + 1] = name
      for _, m in ipairs(requires[name]) do visit(m, chain) end
      chain[#chain] = nil
      state[name] = "done"
    end
    for name in pairs(requires) do visit(name, {}) end
  end)

  it("has no function over 80 lines and no file over 400", function()
    for _, path in ipairs(FILES) do
      local lines = {}
      for line in (read(path) .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = line end
      assert.is_true(#lines <= 400, ("%s: %d lines"):format(path, #lines))
      for i, line in ipairs(lines) do
        local indent = line:match("^(%s*)[%w_.%s=]*function[%s%w_.:]*%(")
        if indent and not line:find("%f[%w]end[%s,)]*$") then
          local j = i + 1
          while lines[j] and not lines[j]:match("^" .. indent .. "end[%s,)]*$") do j = j + 1 end
          assert.is_true(j - i + 1 <= 80, ("%s:%d: a function of %d lines"):format(path, i, j - i + 1))
        end
      end
    end
  end)
end)
