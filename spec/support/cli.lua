-- Runs bin/lua-users as a child process, as people do: the interpreter of
-- the specs, the module found in the tree, the environment given.
local env = require "spec.support.env"

local M = {}

local function q(s) return "'" .. tostring(s):gsub("'", [['\'']]) .. "'" end
M.q = q

local ROOT = env.sh("pwd"):gsub("%s+$", "")
M.ROOT = ROOT

--- The shell words that start the command, with `vars` (a table) set.
function M.command(vars)
  local words, unset = {}, {}
  for k, v in pairs(vars or {}) do
    if v == false then unset[#unset + 1] = "-u " .. k else words[#words + 1] = k .. "=" .. q(v) end
  end
  table.sort(words)
  table.sort(unset)
  table.insert(words, 1, "env " .. table.concat(unset, " "))
  words[#words + 1] = "LUA_PATH=" .. q(ROOT .. "/lua/?.lua;;")
  words[#words + 1] = "LUA_CPATH=" .. q(package.cpath:match("^[^;]+") .. ";;")
  words[#words + 1] = env.lua_bin() .. " " .. q(ROOT .. "/bin/lua-users")
  return table.concat(words, " ")
end

--- Runs `lua-users ARGS` (a string of shell words) in dir; returns stdout,
-- stderr and the exit code. `feed`: a shell command whose output is piped
-- to the command's standard input (`cat users.csv`); `prefix`: shell words
-- before the command (`ulimit -f 64;`, `setpriv ...`).
function M.run(argline, vars, dir, feed, prefix)
  local o, e = os.tmpname(), os.tmpname()
  local p = io.popen(("cd %s && %s%s%s %s >%s 2>%s; echo $?"):format(q(dir or ROOT), feed and (feed .. " | ") or "",
    prefix or "", M.command(vars), argline, o, e))
  local code = tonumber(p:read("*a"):match("(%d+)%s*$"))
  p:close()
  local out, err = env.read(o), env.read(e)
  os.remove(o)
  os.remove(e)
  return out, err, code
end

--- Starts `lua-users ARGS` in dir in the background; returns its pid and a
-- function that waits for it and returns stdout, stderr and the exit code.
-- `tag` tells apart the files of two at once.
function M.start(argline, vars, dir, tag)
  tag = tag or ""
  local o, e, pidfile = dir .. "/out" .. tag, dir .. "/err" .. tag, dir .. "/pid" .. tag
  -- 2>/dev/null: the shell's own "Killed" when a spec kills the command
  local p = io.popen(("cd %s && sh -c 'echo $$ > %s; exec %s %s >%s 2>%s' 2>/dev/null; echo $?"):format(
    q(dir), pidfile, M.command(vars):gsub("'", [['"'"']]), argline, o, e))
  local pid
  for _ = 1, 6000 do -- a cap only
    pid = tonumber(env.read(pidfile) or "")
    if pid then break end
    os.execute("sleep 0.01")
  end
  return pid, function()
    local code = tonumber(p:read("*a"):match("(%d+)%s*$"))
    p:close()
    return env.read(o), env.read(e), code
  end
end

--- For the enclosing describe: the fakes started once, reset before each
-- test, and a fresh directory for each, given to set(dir) and removed after.
function M.fakes_and_dirs(set)
  local busted = require "busted"
  local current
  busted.setup(function() env.start() end)
  busted.teardown(function() env.stop() end)
  busted.before_each(function()
    env.fake:reset()
    current = M.dir()
    set(current)
  end)
  busted.after_each(function() M.rm(current) end)
end

--- The environment that points `provider` at the fakes with valid credentials.
function M.vars(provider, extra)
  local P = provider:upper()
  local v = { [P .. "_BASE_URL"] = env.fake:base_url(provider), [P .. "_TOKEN"] = "test-token" }
  if provider == "activepieces" then v.ACTIVEPIECES_TOKEN = "sk-test-token" end
  if provider == "lexful" then v.LEXFUL_ACCOUNT_ID = env.ACCOUNT end
  if provider == "lancepilot" then v.LANCEPILOT_WORKSPACE = env.WORKSPACE end
  for k, x in pairs(extra or {}) do v[k] = x end -- false: unset
  return v
end

--- A fresh directory for a spec's files; rm(dir) removes it.
function M.dir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. q(d)))
  return d
end

function M.rm(d) os.execute("rm -rf " .. q(d)) end

--- The user ids the fake received, in order of arrival (generic and lexful).
function M.sent_ids(name)
  local ids = {}
  for _, r in ipairs(env.fake:requests(name)) do
    local id = r.uri:match("/users/([^/?]+)")
    if id then ids[#ids + 1] = id end
  end
  return ids
end

return M
