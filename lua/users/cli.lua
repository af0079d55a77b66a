--- The `lua-users` command: users.update and users.bulk_update for people
-- with a terminal and a CSV export. bin/lua-users calls main(arg).
--
--   lua-users providers | describe PROVIDER | update PROVIDER ID field=value ...
--             | bulk PROVIDER FILE|- [options] | import DOCUMENT OPERATION | help [COMMAND]
--
-- Each subcommand is a module of users/cli/ (update.lua, bulk.lua, import.lua), and
-- none of them requires this one. Credentials and base URLs come from the
-- environment variables the library reads. Exit codes: 0 all done, 1 some
-- items failed, 2 usage or configuration error (nothing sent), 130
-- interrupted.
local cli_core = require "users.cli_core"
local users = require "users"
local args = require "users.cli.args"
local config = require "users.cli.config"
local describe = require "users.cli.describe"
local help = require "users.cli.help"
local suggest = require "users.suggest"

local _M = { EXIT = { ok = 0, failed = 1, usage = 2, interrupted = 130 } }

local ipairs, tostring, xpcall, pcall = ipairs, tostring, xpcall, pcall

local out, err_out = io.stdout, io.stderr

local function say(...) out:write(...) out:write("\n") end

local function help_spec()
  return { ["--help"] = { "flag" }, ["-h"] = { "flag", key = "help" } }
end

local function show_help(which)
  out:write(help[which])
  return 0
end

-- One broken provider file on the search path is said on stderr; the
-- others are listed all the same (exit 1).
local function cmd_providers(argv)
  local o = args.parse(argv, 2, help_spec(), "providers")
  if o.help then return show_help("providers") end
  local code = 0
  for _, name in ipairs(users.providers()) do
    local ok, d = pcall(users.describe, name)
    if ok then
      say(("%-14s %s"):format(name, d.title or ""))
    else
      err_out:write("lua-users: ", (tostring(d):gsub("^bad argument #%d+ to '%w+' %((.*)%)$", "%1")), "\n")
      code = 1
    end
  end
  return code
end

local function cmd_describe(argv)
  local o, pos = args.parse(argv, 2, help_spec(), "describe")
  if o.help then return show_help("describe") end
  if #pos > 1 then args.fail("describe takes one provider", { usage = "describe" }) end
  local d = config.provider(pos[1], "describe")
  for _, line in ipairs(describe.text(d)) do say(line) end
  return 0
end

local commands = {
  providers = cmd_providers,
  describe = cmd_describe,
  update = function(argv) return require("users.cli.update").run(argv) end,
  bulk = function(argv) return require("users.cli.bulk").run(argv) end,
  import = function(argv) return require("users.cli.import").run(argv) end,
}

local function dispatch(argv)
  -- Ctrl-C ends a command at once, without a traceback; bulk runs trap it
  -- to stop on their own terms (users/cli/bulk.lua).
  cli_core.trap_signals(1)
  local name = argv[1]
  if name == nil then
    err_out:write(help.USAGE.main, "\n(lua-users --help for more)\n")
    return 2
  end
  if name == "--help" or name == "-h" or name == "help" then
    local which = argv[2] or "main"
    if which == "USAGE" or not help[which] then args.fail("no help for '" .. which .. "'", { usage = "main" }) end
    return show_help(which)
  end
  if name == "--version" then
    say("lua-users ", users._VERSION)
    return 0
  end
  argv = require("users.cli.import").openapi_args(argv) -- --openapi DOC --operation OP: a provider
  local cmd = commands[name]
  if not cmd then
    local names = { "providers", "describe", "update", "bulk", "import", "help" }
    local hint = suggest.closest(name, names)
    args.fail(("unknown command '%s'%s"):format(name, hint and (", did you mean " .. hint .. "?") or ""),
              { usage = "main" })
  end
  return cmd(argv)
end

--- Runs the command with argv (the script's `arg`); returns the exit code.
-- A mistake is one line and the usage, never a traceback.
function _M.main(argv)
  local tb
  local ok, code = xpcall(function() return dispatch(argv or {}) end, function(e)
    if not args.is_failure(e) then tb = debug.traceback(tostring(e), 2) end
    return e
  end)
  if ok then return code or 0 end
  if args.is_failure(code) then
    err_out:write("lua-users: ", code.message, "\n")
    if code.usage then
      err_out:write(help.USAGE[code.usage] or help.USAGE.main, "\n")
      local more = code.usage == "main" and "lua-users --help" or ("lua-users " .. code.usage .. " --help")
      err_out:write("(", more, " for more)\n")
    end
    return code.code
  end
  err_out:write("lua-users: internal error: ", tostring(code), "\n")
  if os.getenv("LUA_USERS_DEBUG") then err_out:write(tb or "", "\n") end
  return 2
end

return _M
