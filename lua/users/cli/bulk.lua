--- `lua-users bulk PROVIDER FILE`: a file of users (or `-`, standard
-- input) through users.bulk_update, with a progress bar, a journal, a
-- failures file in the input's format, and a summary that says what to do
-- next (users.cli.summary).
--
-- Before anything is sent: the input's header and encoding, the
-- configuration, and every path the run writes are checked (a mistake is
-- exit 2, nothing sent). While it runs, the command stops taking rows on
-- Ctrl-C or SIGTERM, after --max-connection-failures rows in a row that
-- could not reach the server (or the budget store), or when the failures
-- file cannot be written; the library stops it after --max-auth-failures
-- answers 401/403 in a row, at a configuration error, or when the journal
-- cannot be written.
local cli_core = require "users.cli_core"
local users = require "users"
local args = require "users.cli.args"
local config = require "users.cli.config"
local failures = require "users.cli.failures"
local help = require "users.cli.help"
local hints = require "users.cli.hints"
local input = require "users.cli.input"
local lines = require "users.cli.lines"
local paths = require "users.cli.paths"
local request = require "users.cli.request"
local summary = require "users.cli.summary"
local journal = require "users.journal"
local progress = require "users.progress"

local _M = {}

local pairs, tostring, pcall = pairs, tostring, pcall

local out = io.stdout

local SPEC = {
  ["--help"] = { "flag" }, ["-h"] = { "flag", key = "help" },
  ["--format"] = { "choice", choices = input.FORMATS },
  ["--delimiter"] = { "string" },
  ["--concurrency"] = { "number", integer = true, min = 1, max = 1000 },
  ["--rate"] = { "number", above = 0 },
  ["--retries"] = { "number", integer = true, min = 0, max = 100 },
  ["--journal"] = { "string" },
  ["--no-journal"] = { "flag" },
  ["--failures"] = { "string" },
  ["--max-auth-failures"] = { "number", integer = true, min = 0, max = 1000000 },
  ["--max-connection-failures"] = { "number", integer = true, min = 0, max = 1000000 },
  ["--base-url"] = { "string" },
  ["--timeout"] = { "number", above = 0, max = 86400 },
  ["--http"] = { "choice", choices = { "auto", "1.1", "h2c" } },
  ["--dry-run"] = { "flag" },
  ["--verbose"] = { "flag" }, ["-v"] = { "flag", key = "verbose" },
  ["--progress-interval"] = { "number", above = 0, max = 3600 },
  ["--resend-unknown"] = { "flag" },
}
for k, v in pairs(config.SPEC) do SPEC[k] = v end

local DELIMITERS = { tab = "\t", ["\\t"] = "\t" }

-- Failures that say the server (or the budget store) cannot be reached at
-- all: a run of them stops the run, as a run of 401s does.
local UNREACHABLE = { connect = true, dns = true, tls = true }
local function unreachable(e)
  return (e.kind == "transport" and UNREACHABLE[e.code]) or (e.kind == "budget" and e.code == "budget_unavailable")
end

-- Whether a failure's request may have reached the server.
local function reached(e)
  if e.cause == "held" then return false end -- held back: not sent in this run
  return e.kind == "http" or e.kind == "decode" or (e.kind == "transport" and not UNREACHABLE[e.code])
end

local function on_failure(run, item, e)
  local text = hints.error_text(e)
  if e.code == "aborted" then run.abandoned:add(item.line) end
  if e.code == "unknown_outcome" then -- marked, so that a rerun of the failures file holds it back
    run[e.cause == "held" and "held" or "unknown"]:add(item.line)
    text = failures.UNKNOWN .. text
  end
  run.failures:write(item, text)
  if run.failures.failed and not run.stop then run.stop = "files" end
  if #run.examples < 5 then
    run.examples[#run.examples + 1] = item.error and ("  " .. text) -- it names its line
      or ("  line %d (%s): %s"):format(item.line, journal.show_id(item.id), text)
  else
    run.more = run.more + 1
  end
  if unreachable(e) then
    run.streak = run.streak + 1
    local max = run.o.max_connection_failures or 5
    if max > 0 and run.streak >= max and not run.stop then
      run.stop, run.stop_error, run.stop_count = "connection", text, run.streak
    end
  else
    run.streak = 0
  end
  if e.kind == "http" and e.status == 429 then run.throttled = run.throttled + 1 end
  if reached(e) then run.sent = run.sent + 1 end
end

local function on_success(run, item, res)
  run.streak = 0
  if run.o.dry_run then
    out:write(run.o.verbose and (request.full(res, run.secret) .. "\n") or request.line(res), "\n")
    return
  end
  run.sent = run.sent + 1
  local j = run.plan.journal and journal.last(run.plan.journal)
  if j and j.unrecorded > run.seen_unrecorded then -- its confirmation could not be written
    run.seen_unrecorded = j.unrecorded
    run.unrecorded:add(item.line)
  end
end

-- Asked by the run between waits: true stops taking rows, "abandon" drops
-- the requests in flight too (a second signal).
local function should_stop(run)
  local n, signal = cli_core.signals()
  if n > run.announced then
    run.announced = n
    if n == 1 then
      run.log(("lua-users: %s: finishing the requests in flight, then stopping (Ctrl-C again abandons them)")
        :format(signal or "interrupted"))
    elseif n == 2 then
      run.log("lua-users: abandoning the requests in flight (once more ends the process at once)")
    end
  end
  if n >= 2 then return "abandon" end
  return n >= 1 or run.stop ~= nil
end

-- The items, one at a time; none once the run stops (the summary counts
-- a counted file's rest as not attempted; a pipe is not read on, as the
-- library would to its end to count what is left: it is not known).
local function items(run)
  return function()
    if run.stop or cli_core.signals() > 0 or (run.report and run.report.stopped) then return nil end
    return run.input:next()
  end
end

local function execute(run, opts)
  local o = run.o
  local bar = progress.new(not o.dry_run, run.input.total, run.started,
                           { interval = o.progress_interval, quiet_finish = true })
  run.bar, run.log = bar, function(line) bar:log(line) end
  for _, line in ipairs(run.plan.notes) do run.log(line) end
  if o.verbose and not o.dry_run then opts.on_event = request.on_event(run.log) end
  opts.on_result = function(item, res, e)
    if e then on_failure(run, item, e) else on_success(run, item, res) end
  end
  opts.progress = function(_, _, report)
    run.report = report
    bar:update(report)
  end
  opts.should_stop = function() return should_stop(run) end
  opts.total, opts.journal, opts.dry_run = run.input.total, run.plan.journal, o.dry_run or nil
  opts.concurrency, opts.max_auth_failures = o.concurrency, o.max_auth_failures
  opts.resend_unknown = o.resend_unknown or nil
  local ok, report = pcall(users.bulk_update, run.d.name, items(run), opts)
  if not ok then
    run.failures:close(true)
    paths.release(run.plan, "unstarted")
    args.fail(tostring(report)) -- the journal could not be opened (unreadable, another scope): nothing was sent
  end
  run.failures:close()
  report.done = report.succeeded + report.failed + report.skipped
  bar:finish(report)
  return report
end

--- Runs `bulk` with argv; returns the exit code.
function _M.run(argv)
  -- SIGINT and SIGTERM only count from here on: the run looks between waits.
  cli_core.trap_signals(3)
  local o, pos = args.parse(argv, 2, SPEC, "bulk")
  if o.help then
    out:write(help.bulk)
    return 0
  end
  local d = config.provider(pos[1], "bulk")
  local path = pos[2]
  if not path then args.fail("which file? give a CSV or JSON file (or - for standard input) after the provider",
                             { usage = "bulk" }) end
  if pos[3] then args.fail("one file at a time (got '" .. pos[3] .. "' too)", { usage = "bulk" }) end
  if o.delimiter then
    o.delimiter = DELIMITERS[o.delimiter] or o.delimiter
    if #o.delimiter ~= 1 or o.delimiter:find('["\r\n]') then
      args.fail("--delimiter takes one character (, ; tab |), not '" .. o.delimiter .. "'", { usage = "bulk" })
    end
  end
  local src = input.open(path, o, d)
  local opts = config.options(o, d)
  src.options = config.check(d.name, opts, function(name) return src:has_column(name) end)
  local run = { d = d, o = o, argv = argv, input = src, plan = paths.plan(o, src), examples = {}, more = 0,
                abandoned = lines.new(), unrecorded = lines.new(), unknown = lines.new(), held = lines.new(),
                seen_unrecorded = 0, sent = 0, streak = 0,
                throttled = 0, announced = 0, started = require("users.core").now() }
  run.failures, run.secret = run.plan.failures, request.secret(d, src.options)
  local report = execute(run, opts)
  return summary.finish(run, report)
end

return _M
