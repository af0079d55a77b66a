--- `lua-users bulk PROVIDER FILE`: a file of users through
-- users.bulk_update, with a progress bar, a journal, a failures file in
-- the input's format, and a summary that says what to do next.
local core = require "users.core"
local cli_core = require "users.cli_core"
local users = require "users"
local cli = require "users.cli"
local args = require "users.cli.args"
local config = require "users.cli.config"
local describe = require "users.cli.describe"
local input = require "users.cli.input"
local request = require "users.cli.request"
local journal = require "users.journal"
local progress = require "users.progress"

local _M = {}

local ipairs, tostring, pcall = ipairs, tostring, pcall
local concat = table.concat

local out, err_out = io.stdout, io.stderr

local SPEC = {
  ["--help"] = { "flag" }, ["-h"] = { "flag", key = "help" },
  ["--format"] = { "choice", choices = { "csv", "jsonl" } },
  ["--concurrency"] = { "number", integer = true, min = 1, max = 1000 },
  ["--rate"] = { "number", above = 0 },
  ["--budget"] = { "string" },
  ["--retries"] = { "number", integer = true, min = 0, max = 100 },
  ["--journal"] = { "string" },
  ["--no-journal"] = { "flag" },
  ["--failures"] = { "string" },
  ["--max-auth-failures"] = { "number", integer = true, min = 0, max = 1000000 },
  ["--base-url"] = { "string" },
  ["--timeout"] = { "number", above = 0, max = 86400 },
  ["--http"] = { "choice", choices = { "auto", "1.1", "h2c" } },
  ["--dry-run"] = { "flag" },
  ["--verbose"] = { "flag" }, ["-v"] = { "flag", key = "verbose" },
  ["--progress-interval"] = { "number", above = 0, max = 3600 },
}

-- FILE.csv -> FILE.failures.csv (FILE.dry-run.failures.csv in a dry run).
local function default_failures(path, fmt, dry_run)
  local base = path:gsub("%.[%w]+$", "")
  return base .. (dry_run and ".dry-run" or "") .. ".failures." .. (fmt == "csv" and "csv" or "jsonl")
end

local function command(argv)
  local words = { "lua-users" }
  for _, a in ipairs(argv) do words[#words + 1] = args.quote(a) end
  return concat(words, " ")
end

-- The variables that hold the credentials, for a message that says what to fix.
local function credential_vars(d)
  local names = {}
  for _, e in ipairs(describe.environment(d)) do
    if not e[1]:match("_BASE_URL$") then names[#names + 1] = e[1] end
  end
  return concat(names, ", ")
end

function _M.run(argv)
  -- SIGINT and SIGTERM only count from here on: the run looks between waits.
  cli_core.trap_signals(3)
  local o, pos = args.parse(argv, 2, SPEC, "bulk")
  if o.help then
    out:write(cli.HELP.bulk)
    return 0
  end
  local d = cli.provider(pos[1], "bulk")
  local path = pos[2]
  if not path then args.fail("which file? give a CSV or JSON lines file after the provider", { usage = "bulk" }) end
  if pos[3] then args.fail("one file at a time (got '" .. pos[3] .. "' too)", { usage = "bulk" }) end
  local fh, ferr = io.open(path, "rb")
  if not fh then args.fail("cannot open " .. tostring(ferr)) end
  local _, rerr = fh:read(0)
  if rerr then args.fail("cannot read " .. path .. ": " .. tostring(rerr)) end
  local fmt = o.format or input.sniff(path, fh)
  local reader = fmt == "csv" and input.csv(fh, d, path) or input.jsonl(fh, d)

  local opts = config.options(o)
  reader.options = config.check(d.name, opts, function(name) return reader:has_column(name) end)
  local total = input.count(path, fmt)

  -- The journal: given, or kept next to the input while a run is unfinished.
  local journal_path, auto = o.journal, false
  if not journal_path and not o.no_journal then
    journal_path, auto = path .. ".journal", true
  end
  local log_lines = {}
  local function note(line) log_lines[#log_lines + 1] = line end
  if journal_path then
    local existing = io.open(journal_path, "rb")
    if existing then
      existing:close()
      if auto then note("lua-users: resuming: " .. journal_path .. " holds the updates an unfinished run confirmed;"
        .. " they are skipped (--no-journal sends every row)") end
    elseif o.dry_run then
      journal_path = nil -- nothing to read, and a dry run writes none
    elseif auto then
      local probe = io.open(journal_path, "ab")
      if probe then
        probe:close()
        os.remove(journal_path)
      else
        note("lua-users: warning: cannot write " .. journal_path .. ": an interrupted run could not be resumed"
          .. " exactly (give --journal FILE)")
        journal_path = nil
      end
    end
  end

  local failures_path = o.failures or default_failures(path, fmt, o.dry_run)
  if failures_path == path or failures_path == journal_path then
    args.fail("the failures file must not be the input or the journal: " .. failures_path, { usage = "bulk" })
  end
  local failures = input.failures(failures_path, reader)

  local started = core.now()
  local bar = progress.new(not o.dry_run, total, started, { interval = o.progress_interval, quiet_finish = true })
  local function log(line) bar:log(line) end
  for _, line in ipairs(log_lines) do log(line) end
  if o.verbose and not o.dry_run then
    opts.transport = request.verbose(require("users.transport").default(), log)
  end

  local announced = 0
  local function should_stop()
    local n, signal = cli_core.signals()
    if n > announced then
      announced = n
      if n == 1 then
        log(("lua-users: %s: finishing the requests in flight, then stopping (Ctrl-C again abandons them)")
          :format(signal or "interrupted"))
      elseif n == 2 then
        log("lua-users: abandoning the requests in flight (once more ends the process at once)")
      end
    end
    if n >= 2 then return "abandon" end
    return n >= 1
  end

  local examples, more = {}, 0
  opts.on_result = function(item, res, e)
    if e then
      failures:write(item, e)
      if #examples < 5 then
        examples[#examples + 1] = item.error and ("  " .. tostring(e)) -- it names its line
          or ("  line %d (%s): %s"):format(item.line, journal.show_id(item.id), tostring(e))
      else
        more = more + 1
      end
    elseif o.dry_run then
      out:write(o.verbose and (request.full(res) .. "\n") or request.line(res), "\n")
    end
  end
  opts.progress = function(_, _, report) bar:update(report) end
  opts.should_stop = should_stop
  opts.total = total
  opts.journal = journal_path
  opts.dry_run = o.dry_run or nil
  opts.concurrency, opts.rate, opts.budget = o.concurrency, o.rate, o.budget
  opts.max_auth_failures = o.max_auth_failures

  local ok, report = pcall(users.bulk_update, d.name, function() return reader:next() end, opts)
  fh:close()
  failures:close()
  if not ok then args.fail(tostring(report)) end
  local r = report
  r.done = r.succeeded + r.failed + r.skipped
  bar:finish(r)

  if r.stopped == "config" then
    err_out:write("lua-users: ", r.error, "\n")
    if r.succeeded + r.failed == 0 then return 2 end
  end
  local sent = r.succeeded + r.failed
  out:write(("%s: %d items, %d succeeded, %d failed, %d skipped (done before), %d not attempted, %d retries,"
    .. " %.2f s (%.0f/s)%s\n"):format(d.name, r.total, r.succeeded, r.failed, r.skipped, r.not_attempted,
    r.retried, r.elapsed, r.elapsed > 0 and sent / r.elapsed or 0, o.dry_run and "; dry run: nothing sent" or ""))
  for _, line in ipairs(examples) do out:write(line, "\n") end
  if more > 0 then out:write(("  ... and %d more\n"):format(more)) end
  if failures.count > 0 then
    out:write(("failures: %d %s in %s; fix them, then: lua-users bulk %s %s\n"):format(
      failures.count, failures.count == 1 and "row" or "rows", failures_path, d.name, args.quote(failures_path)))
  end
  local resume = journal_path and command(argv)
    or "no journal was kept: a rerun sends every row again (give --journal FILE to resume exactly)"
  if r.stopped == "config" then return 2 end
  if r.stopped == "error" then
    err_out:write("lua-users: ", tostring(r.error), "\n")
    return 2
  end
  if r.stopped == "auth" then
    err_out:write("lua-users: ", r.error, "\n")
    out:write(("stopped: %d items not attempted. Fix the credentials (%s), then resume: %s\n"):format(
      r.not_attempted, credential_vars(d), resume))
    return 1
  end
  if r.stopped == "interrupted" then
    out:write(("interrupted: %d items not attempted%s\n"):format(r.not_attempted,
      o.dry_run and "" or ("; resume with: " .. resume)))
    return 130
  end
  if auto and journal_path and not o.dry_run then os.remove(journal_path) end -- the run is complete
  return (r.failed > 0 or r.not_attempted > 0) and 1 or 0
end

return _M
