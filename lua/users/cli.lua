--- The `lua-users` command: users.update and users.bulk_update for people
-- with a terminal and a CSV export. bin/lua-users calls main(arg).
--
--   lua-users providers | describe PROVIDER | update PROVIDER ID field=value ...
--             | bulk PROVIDER FILE [options] | help [COMMAND]
--
-- Credentials and base URLs come from the environment variables the
-- library reads. Exit codes: 0 all done, 1 some items failed, 2 usage or
-- configuration error, 130 interrupted.
local core = require "users.core"
local cli_core = require "users.cli_core"
local users = require "users"
local args = require "users.cli.args"
local config = require "users.cli.config"
local describe = require "users.cli.describe"
local request = require "users.cli.request"
local input = require "users.cli.input"
local suggest = require "users.suggest"

local _M = { EXIT = { ok = 0, failed = 1, usage = 2, interrupted = 130 } }

local ipairs, pairs, type, tostring, pcall, xpcall = ipairs, pairs, type, tostring, pcall, xpcall
local concat = table.concat

local EXIT_CODES = [[
exit codes:
  0    every item done (or skipped: done by an earlier run)
  1    some items failed, or were not attempted (the run stopped)
  2    usage or configuration error: nothing was sent
  130  interrupted (SIGINT, SIGTERM)]]

local ENVIRONMENT = [[
environment (never arguments, which other users can see with ps):
  PROVIDER_TOKEN       the bearer token (GENERIC_TOKEN, PARADIGM_TOKEN, ...)
  PROVIDER_BASE_URL    the API's base URL (GENERIC_BASE_URL has no default)
  LEXFUL_ACCOUNT_ID    lexful's account (X-Account-ID); LEXFUL_KEY_ID and
                       LEXFUL_KEY_SECRET fetch and refresh the token instead of LEXFUL_TOKEN
  LANCEPILOT_WORKSPACE lancepilot's workspace, unless the input gives it
  `lua-users describe PROVIDER` lists a provider's own.]]

_M.USAGE = {
  main = "usage: lua-users providers | describe PROVIDER | update PROVIDER ID field=value... | bulk PROVIDER FILE [options]",
  providers = "usage: lua-users providers",
  describe = "usage: lua-users describe PROVIDER",
  update = "usage: lua-users update PROVIDER ID field=value ... [--json '{...}'] [--dry-run] [--verbose] [options]",
  bulk = "usage: lua-users bulk PROVIDER FILE [--format csv|jsonl] [--concurrency N] [--rate R] [--budget URL] [--retries N]"
    .. " [--journal F] [--failures F] [--dry-run] [--verbose] [options]",
}

_M.HELP = {}

_M.HELP.main = _M.USAGE.main .. [[


Updates users on SaaS platforms: lancepilot, lexful, generic, activepieces, paradigm.

commands:
  providers                           the providers, one a line
  describe PROVIDER                   its fields and rules, id format and environment variables
  update PROVIDER ID field=value ...  updates one user
  bulk PROVIDER FILE                  updates the users of a CSV or JSON lines file
  help [COMMAND]                      this text, or a command's (also: COMMAND --help)
  --version                           the version

]] .. ENVIRONMENT .. "\n\n" .. EXIT_CODES .. "\n"

_M.HELP.providers = _M.USAGE.providers .. "\n\nThe providers, one a line: name and title.\n\n" .. EXIT_CODES .. "\n"

_M.HELP.describe = _M.USAGE.describe .. [[


A provider's request, id format, fields with their rules (types, lengths,
formats, enums, nullability), and the environment variables it reads.

]] .. EXIT_CODES .. "\n"

_M.HELP.update = _M.USAGE.update .. [[


Updates one user. Each field=value is converted by the field's declared type,
as a CSV cell is: empty leaves it alone, null is null, booleans true/false,
1/0, yes/no; integers; arrays a;b;c or a JSON array ([1,2]; [] is empty); a
file field is a path. A name that is a path parameter (lancepilot's
workspace=UUID) goes into the id. On success the user as the provider
returned it is printed as JSON on stdout.

options:
  --json OBJECT        fields as a JSON object, e.g. '{"role":"admin","account_scopes":[]}'
  --base-url URL       the provider's base URL (default: PROVIDER_BASE_URL, else the provider's own)
  --retries N          retries of transport errors, 429 and 5xx (default 0)
  --rate R             the account's ceiling: at most R requests a second, shared
                       through --budget (waits for its slot)
  --budget URL         where the account's budget lives: local (default) or
                       redis://HOST:PORT[/DB], shared by every host that names it
  --timeout S          seconds for the whole request (default 30)
  --http VERSION       auto (default: HTTP/2 where the server offers it over TLS),
                       1.1, or h2c (HTTP/2 without TLS, for gateways that speak it)
  --dry-run            print the request that would be sent, credentials redacted; send
                       nothing at all (not even a token request)
  --verbose            one line per request on stderr: method, path, status, protocol,
                       attempt, time
  -h, --help           this text

]] .. ENVIRONMENT .. "\n\n" .. [[
exit codes:
  0    updated (or, with --dry-run, valid)
  1    refused (invalid), or failed (HTTP error, network, not JSON)
  2    usage or configuration error: nothing was sent
  130  interrupted (SIGINT, SIGTERM)
]]

_M.HELP.bulk = _M.USAGE.bulk .. [[


Updates every user listed in FILE, concurrently and under a rate, retrying
what may pass on a second try. The rows that fail go to a failures file in
FILE's own format, each with its error, ready to be fixed and fed back in.
A journal records every confirmed update; a rerun skips exactly those, in
any order, so an interrupted run resumes where it stopped.

options:
  --format csv|jsonl       the input's format (default: from the name, else its first line)
  --concurrency N          requests in flight (default 8)
  --rate R                 at most R requests a second (default: no limit)
  --budget URL             where the account's rate and pauses live: local (default) or
                           redis://HOST:PORT[/DB], shared with every host that names it
  --retries N              retries of transport errors, 429 and 5xx (default 3)
  --journal FILE           the journal (default: FILE.journal, removed when a run ends
                           with every item attempted, kept when it stops early)
  --no-journal             keep no journal
  --failures FILE          the failed rows (default: FILE without its extension +
                           .failures.csv or .failures.jsonl; .dry-run.failures.* in a dry run)
  --max-auth-failures N    stop after N answers 401/403 in a row (default 5; 0: never)
  --base-url URL           the provider's base URL (default: PROVIDER_BASE_URL)
  --timeout S              seconds per request (default 30)
  --http VERSION           auto (default: HTTP/2 where the server offers it over TLS,
                           the run's requests multiplexed on one connection), 1.1, or
                           h2c (HTTP/2 without TLS, for gateways that speak it)
  --dry-run                validate every row and print each request (one line each;
                           with --verbose, whole); send nothing, write no journal
  --verbose                one line per request on stderr: method, path, status, protocol,
                           attempt, time
  --progress-interval S    seconds between progress lines when stderr is not a terminal (default 5)
  -h, --help               this text

input:
  CSV (RFC 4180, as spreadsheets save it; a UTF-8 BOM is ignored): a header row
  naming `id` and the provider's fields (see describe); columns starting with _
  are ignored (the failures file's _error), and a path parameter column
  (lancepilot's workspace) joins the id. A row with more or fewer cells than
  the header is refused with its line number. Cells are converted by the
  field's type: empty = leave the field alone, null = null, booleans
  true/false, 1/0, yes/no, integers, arrays a;b;c (quoted or not) or a JSON
  array, which CSV needs quoted: "[1,2]" ([] is empty), a file is its path.
  Ids stay exactly as written (leading zeros, long digits) unless the
  provider's id is an integer.
  JSON lines: one object a line, {"id": ..., "fields": {...}} or
  {"id": ..., "field": value, ...}; keys starting with _ are ignored. A line
  that is not JSON is copied to the failures file verbatim, after a note with
  its error.

Ctrl-C (or SIGTERM) stops taking rows, lets the requests in flight finish,
writes the journal and prints the command that resumes; a second Ctrl-C
abandons the requests in flight.

]] .. ENVIRONMENT .. "\n\n" .. EXIT_CODES .. "\n"

local out, err_out = io.stdout, io.stderr

local function say(...) out:write(...) out:write("\n") end

--- The provider's entry, or a usage failure with a suggestion.
function _M.provider(name, usage)
  if not name then args.fail("which provider? (" .. concat(users.providers(), ", ") .. ")", { usage = usage }) end
  local ok = pcall(users.describe, name)
  if not ok then
    local hint = suggest.closest(name, users.providers())
    args.fail(("unknown provider '%s'%s (the providers: %s)"):format(name,
      hint and (", did you mean " .. hint .. "?") or "", concat(users.providers(), ", ")), { usage = usage })
  end
  return users.describe(name)
end

local function help_spec()
  return { ["--help"] = { "flag" }, ["-h"] = { "flag", key = "help" } }
end

local function show_help(which)
  out:write(_M.HELP[which])
  return 0
end

---------------------------------------------------------------- providers, describe

local function cmd_providers(argv)
  local o = args.parse(argv, 2, help_spec(), "providers")
  if o.help then return show_help("providers") end
  for _, name in ipairs(users.providers()) do
    local d = users.describe(name)
    say(("%-14s %s"):format(name, d.title or ""))
  end
  return 0
end

local function cmd_describe(argv)
  local o, pos = args.parse(argv, 2, help_spec(), "describe")
  if o.help then return show_help("describe") end
  if #pos > 1 then args.fail("describe takes one provider", { usage = "describe" }) end
  local d = _M.provider(pos[1], "describe")
  for _, line in ipairs(describe.text(d)) do say(line) end
  return 0
end

---------------------------------------------------------------- update

-- The id and fields of `update`: ID, then field=value words, then --json.
local function update_item(d, pos, json)
  local id_param, params = nil, {}
  for _, p in ipairs(d.params) do
    params[p.name] = p
    if not p.option then id_param = p end
  end
  local id = pos[2]
  if id == nil then args.fail("which user? give the id after the provider", { usage = "update" }) end
  if id_param and id_param.type == "integer" then id = input.exact_integer(id) or id end
  local fields, parts = {}, nil
  local function put(name, value)
    if fields[name] ~= nil then args.fail("the field " .. name .. " is given twice", { usage = "update" }) end
    fields[name] = value
  end
  for i = 3, #pos do
    local name, text = pos[i]:match("^([^=]+)=(.*)$")
    if not name then
      args.fail(("'%s' is not field=value"):format(pos[i]), { usage = "update" })
    end
    if params[name] and params[name].option then
      parts = parts or {}
      parts[name] = text
    elseif text ~= "" then
      local rule = d.fields[name]
      local ok, v = pcall(input.convert, rule, text)
      if ok then put(name, v) else put(name, text) end -- v may be false
    end
  end
  if json then
    local obj, msg = core.json_decode(json)
    if type(obj) ~= "table" or obj[1] ~= nil then
      args.fail("--json needs a JSON object of fields" .. (msg and (": " .. msg) or ""), { usage = "update" })
    end
    for k, v in pairs(obj) do
      local rule = d.fields[k]
      if rule and rule.type == "file" and type(v) == "string" then v = users.file(v) end
      put(k, v)
    end
  end
  if next(fields) == nil then
    args.fail("no field to update: give field=value (see lua-users describe " .. d.name .. ")", { usage = "update" })
  end
  if parts then
    for _, p in ipairs(d.params) do if not p.option then parts[p.name] = id end end
    id = parts
  end
  return id, fields
end

local function failure_code(e)
  return e.kind == "config" and 2 or 1
end

local function cmd_update(argv)
  local spec = help_spec()
  spec["--json"] = { "string" }
  spec["--base-url"] = { "string" }
  spec["--retries"] = { "number", integer = true, min = 0, max = 100 }
  spec["--rate"] = { "number", above = 0 }
  spec["--budget"] = { "string" }
  spec["--timeout"] = { "number", above = 0, max = 86400 }
  spec["--http"] = { "choice", choices = { "auto", "1.1", "h2c" } }
  spec["--dry-run"] = { "flag" }
  spec["--verbose"] = { "flag" }
  spec["-v"] = { "flag", key = "verbose" }
  local o, pos = args.parse(argv, 2, spec, "update")
  if o.help then return show_help("update") end
  local d = _M.provider(pos[1], "update")
  local id, fields = update_item(d, pos, o.json)
  local opts = config.options(o)
  opts.rate, opts.budget = o.rate, o.budget
  config.check(d.name, opts, function(name) return type(id) == "table" and id[name] ~= nil end)
  if o.dry_run then
    opts.fetch_token = false
    local req, e = users.prepare(d.name, id, fields, opts)
    if not req then
      err_out:write("lua-users: ", tostring(e), "\n")
      return failure_code(e)
    end
    say(request.full(req))
    say("(dry run: nothing was sent)")
    return 0
  end
  if o.verbose then
    opts.transport = request.verbose(require("users.transport").default(), function(line)
      err_out:write(line, "\n")
    end)
  end
  local user, e = users.update(d.name, id, fields, opts)
  if user == nil then
    err_out:write("lua-users: ", tostring(e), "\n")
    return failure_code(e)
  end
  say(core.json_encode(user))
  return 0
end

---------------------------------------------------------------- main

local commands = {
  providers = cmd_providers,
  describe = cmd_describe,
  update = cmd_update,
  bulk = function(argv) return require("users.cli.bulk").run(argv) end,
}

local function dispatch(argv)
  -- Ctrl-C ends a command at once, without a traceback; bulk runs trap it
  -- to stop on their own terms (users/cli/bulk.lua).
  cli_core.trap_signals(1)
  local name = argv[1]
  if name == nil then
    err_out:write(_M.USAGE.main, "\n(lua-users --help for more)\n")
    return 2
  end
  if name == "--help" or name == "-h" or name == "help" then
    local which = argv[2] or "main"
    if not _M.HELP[which] then args.fail("no help for '" .. which .. "'", { usage = "main" }) end
    return show_help(which)
  end
  if name == "--version" then
    say("lua-users ", users._VERSION)
    return 0
  end
  local cmd = commands[name]
  if not cmd then
    local names = { "providers", "describe", "update", "bulk", "help" }
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
      err_out:write(_M.USAGE[code.usage] or _M.USAGE.main, "\n")
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
