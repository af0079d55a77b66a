--- What a bulk run says when it ends: the counts (abandoned rows apart
-- from failed ones), a few failures, why it stopped, what was lost when a
-- file it writes could not be written, and one next step, the right one:
-- after a stop, the command that resumes (the journal then sends the
-- failed rows again too: feeding the failures file as well would send them
-- twice); after a complete run, the failures file fed back. Returns the
-- exit code. A run is complete only when every row was attempted and every
-- file written: only then is its automatic journal removed.
local cli_core = require "users.cli_core"
local args = require "users.cli.args"
local describe = require "users.cli.describe"
local journal = require "users.journal"
local paths = require "users.cli.paths"
local source = require "users.cli.source"

local _M = {}

local ipairs, tostring = ipairs, tostring
local concat = table.concat
local format, floor, max = string.format, math.floor, math.max

local out, err_out = io.stdout, io.stderr

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

-- Why the run stopped early, or nil: a word, and what the library said.
local function why(run, r)
  if cli_core.signals() > 0 then return "interrupted" end
  if run.stop then return run.stop end
  if r.stopped == "error" then
    local j = run.plan.journal and journal.last(run.plan.journal)
    if j and j.failed then return "journal" end
    if run.input.failure then return "input" end
  end
  if run.input.src.cut then return "interrupted" end
  return r.stopped
end

-- "N not attempted", or, for a pipe that was not read to its end, where
-- the rest starts.
local function not_attempted(run, r, stopped)
  local src = run.input.src
  if stopped and run.input.total == nil and not (src.eof and src.pos > #src.buf) then
    return format("%d not attempted, the input from line %d on not read", r.not_attempted,
      run.input.stopped_at or src.line)
  end
  return format("%d not attempted", r.not_attempted)
end

local function counts(run, r, stopped)
  local abandoned = run.abandoned.n
  local sent = r.succeeded + r.failed
  local unknown = (r.unknown or 0) > 0 and format(" (%d outcome unknown)", r.unknown) or ""
  out:write(format("%s: %d items, %d succeeded, %d failed%s, %s%d skipped (done before), %s, %d retries,"
    .. " %.2f s (%.0f/s)%s\n", run.d.name, r.total, r.succeeded, r.failed - abandoned, unknown,
    abandoned > 0 and format("%d abandoned in flight, ", abandoned) or "", r.skipped,
    not_attempted(run, r, stopped), r.retried, r.elapsed, r.elapsed > 0 and sent / r.elapsed or 0,
    run.o.dry_run and "; dry run: nothing sent" or ""))
  for _, line in ipairs(run.examples) do out:write(line, "\n") end
  if run.more > 0 then out:write(format("  ... and %d more\n", run.more)) end
  if abandoned > 0 then
    out:write("abandoned in flight (they may have been applied; the journal does not hold them): ",
      run.abandoned:text(), "\n")
  end
  if run.unknown.n > 0 then
    out:write("outcome unknown (sent, but no answer came back: they may have been applied, so they were not"
      .. " sent again): ", run.unknown:text(), "\n")
  end
  if run.held.n > 0 then
    out:write("held back, not sent (an earlier run sent them without an answer): ", run.held:text(), "\n")
  end
end

-- What a file the run writes lost. Returns true when one could not be written.
local function losses(run)
  local f, lost = run.failures, false
  if f.failed then
    lost = true
    err_out:write(format("lua-users: cannot write the failures file %s (%s): it holds %d of the %d failed rows"
      .. " (the last maybe cut short); not in it: %s\n", f.path, f.failed, f.written, f.count, f.lost:text()))
  end
  if f.uncopied.n > 0 then
    out:write(format("not copied to %s (longer than %s, not read): %s of %s\n", f.path,
      source.size_text(run.input.src.limit), f.uncopied:text(), run.input.name))
  end
  local j = run.plan.journal and journal.last(run.plan.journal)
  if j and j.failed then
    lost = true
    err_out:write(format("lua-users: %s: %d confirmed updates are not in it (%s): a resume sends them again\n",
      j.failed, run.unrecorded.n, run.unrecorded:text()))
  end
  return lost
end

local STEP = {
  auth = function(run) return "Fix the credentials (" .. credential_vars(run.d) .. "), then resume: " end,
  connection = function() return "When the server (and the budget store) can be reached again, resume: " end,
  files = function(run) return "Free space for " .. run.failures.path .. " (or give --failures FILE), then resume: " end,
  journal = function() return "Free space for the journal, then resume: " end,
  input = function() return "Convert the input to UTF-8, then resume: " end,
  config = function() return "Fix the configuration, then run again: " end,
}

-- The one next step, and the failures file's line.
local function next_step(run, r, stopped)
  local f = run.failures
  local shown = f.written > 0 and format("failures: %d %s in %s", f.written, f.written == 1 and "row" or "rows", f.path)
  local unknown = run.unknown.n + run.held.n
  if shown and unknown > 0 then
    shown = shown .. format(" (%d marked %s: a rerun holds them back; check them on the provider, then give"
      .. " --resend-unknown)", unknown, "unknown_outcome")
  end
  if not stopped then
    if shown then out:write(format("%s; fix them, then: lua-users bulk %s %s\n", shown, run.d.name, args.quote(f.path))) end
    return
  end
  if shown then out:write(shown, " (their errors: the resume below sends them again)\n") end
  local resume = command(run.argv)
  if run.input.path == "-" or run.input.total == nil then resume = "the same input again, to " .. resume end
  if not run.plan.journal then
    resume = "no journal was kept: a rerun sends every row again (give --journal FILE to resume exactly)"
  end
  if stopped == "interrupted" then
    out:write(format("interrupted: %d items not attempted%s\n", r.not_attempted,
      run.o.dry_run and "" or ("; resume with: " .. resume)))
  else
    out:write(format("stopped: %d items not attempted. %s%s\n", r.not_attempted,
      run.plan.journal and (STEP[stopped] or function() return "Resume: " end)(run) or "", resume))
  end
end

-- The 429s that used up their retries: say so, and a slower rate.
local function throttled(run, r)
  if run.throttled == 0 then return end
  local rate = run.o.rate or (r.elapsed > 0 and run.sent / r.elapsed) or 1
  out:write(format("%d %s failed with 429 Too Many Requests after their retries (--retries %d): the provider"
    .. " limits the rate; run them again slower, e.g. --rate %g\n", run.throttled, run.throttled == 1 and "row" or "rows",
    run.o.retries or 3, max(0.1, floor(rate * 5) / 10)))
end

--- Prints the end of a run; returns the exit code.
function _M.finish(run, r)
  local total = run.input.total
  if total and total > r.total then -- rows the command held back once it stopped
    r.not_attempted = r.not_attempted + total - r.total
    r.total = total
  end
  local stopped = why(run, r)
  counts(run, r, stopped)
  throttled(run, r)
  local lost = losses(run)
  if stopped == "files" and not lost then lost = true end
  if stopped and stopped ~= "interrupted" then
    local text = stopped == "connection" and format("stopped after %d rows in a row could not reach the server or"
      .. " the budget store (the last: %s)", run.stop_count, tostring(run.stop_error)) or r.error or run.input.failure
    if text and stopped ~= "files" and stopped ~= "journal" then err_out:write("lua-users: ", text, "\n") end
  end
  next_step(run, r, stopped or (lost and "files") or nil)
  local j = run.plan.journal and journal.last(run.plan.journal)
  local empty = j and j.loaded == 0 and j.recorded == 0 and not j.failed and run.sent == 0
  -- Removed while still locked: the run is complete, or there is nothing to resume from.
  local _, rerr = paths.release(run.plan, run.plan.auto and ((not stopped and not lost) or empty) and true)
  if rerr then err_out:write("lua-users: ", rerr, "\n") end
  if stopped == "interrupted" then return 130 end
  if (stopped == "config" or stopped == "error" or stopped == "input") and run.sent == 0 then return 2 end
  if stopped or lost or r.failed > 0 or r.not_attempted > 0 then return 1 end
  return 0
end

return _M
