--- Bulk updates: many users at once, concurrently, under a rate ceiling,
-- retried, resumable through a journal, with progress. Every input item is
-- accounted for exactly once in the report.
--
-- The loop: fill the free slots (due retries first, then new items), then
-- wait in the transport for the first completion or the next timed event (a
-- rate slot, a retry coming due, the end of a pause a 429 asked for). The
-- rate and the pauses are the account's budget (users/budget.lua): a job
-- whose slot is not yet due waits among the retries.
--
-- A run stops taking items early when the configuration is wrong (an item
-- that cannot be prepared for want of a token, a base URL, ...: nothing is
-- sent), after `max_auth_failures` answers 401/403 in a row, when
-- `should_stop()` says so, or when a callback raises. What is in flight
-- then finishes and is counted; what was not taken is counted in
-- report.not_attempted, so total = succeeded + failed + skipped + not_attempted.
local core = require "users.core"
local client = require "users.client"
local errors = require "users.errors"
local auth = require "users.auth"
local headers = require "users.headers"
local response = require "users.response"
local journal = require "users.journal"
local progress = require "users.progress"
local budget = require "users.budget"
local suggest = require "users.suggest"

local _M = {}

local type, ipairs, pcall, tostring = type, ipairs, pcall, tostring
local min, max, floor, huge = math.min, math.max, math.floor, math.huge

-- Options of the run itself; the rest are update options.
_M.KEYS = {
  concurrency = function(v) return type(v) == "number" and v >= 1 and v % 1 == 0 end,
  on_result = function(v) return type(v) == "function" end,
  progress = function(v) return v == true or v == false or type(v) == "function" end,
  journal = function(v) return type(v) == "string" end,
  dry_run = function(v) return type(v) == "boolean" end,
  total = function(v) return type(v) == "number" and v >= 0 end,
  max_failures = function(v) return type(v) == "number" and v >= 0 and v % 1 == 0 end,
  max_auth_failures = function(v) return v == false or (type(v) == "number" and v >= 0 and v % 1 == 0) end,
  should_stop = function(v) return type(v) == "function" end,
}

-- What a dry run shows for a token it would fetch (lexful's key pair):
-- nothing is sent in a dry run, not even the token request.
_M.PLACEHOLDER_TOKEN = "[token fetched at run time]"

-- Answers that say the credentials are refused.
local AUTH_STATUS = { [401] = true, [403] = true }

-- A failure as the report keeps it: the error without the provider's body,
-- so that a run of many failures stays small (on_result has it whole).
local function lean(err)
  return errors.new { kind = err.kind, code = err.code, status = err.status, message = err.message,
                      fields = err.fields, retry_after = err.retry_after, retryable = err.retryable,
                      attempts = err.attempts, provider = err.provider }
end

-- items: an array, or a function returning one item per call (nil at the end).
local function source(items)
  local i = 0
  if type(items) == "function" then
    return function()
      local item = items()
      if item == nil then return nil end
      i = i + 1
      return i, item
    end, nil
  end
  local n = #items
  return function()
    if i >= n then return nil end
    i = i + 1
    return i, items[i]
  end, n
end

-- The run itself; the journal it opens goes in opened.jr.
local function run_items(entry, items, run, o, opened)
  local name = entry.decl.name
  local transport = o.transport
  local concurrency = run.concurrency or 8
  local gate = not run.dry_run and budget.gate(entry, o) -- the account's rate and pauses
  local next_item, length = source(items)
  local total = run.total or length
  local started = core.now()
  local report = { total = 0, done = 0, succeeded = 0, failed = 0, skipped = 0, retried = 0,
                   not_attempted = 0,
                   failures = setmetatable({}, core.array_mt), -- [] in JSON, even empty
                   failures_dropped = 0, dry_run = run.dry_run or nil }
  local max_failures = run.max_failures or 1000
  local max_auth = run.max_auth_failures
  if max_auth == nil then max_auth = 5 end
  if max_auth == 0 then max_auth = false end
  local jr
  if run.journal then
    local err
    jr, err = journal.open(run.journal, journal.scope(entry, o), run.dry_run)
    if not jr then error(err, 0) end
    opened.jr = jr
  end
  -- A dry run prepares with a stand-in for a token it would have to fetch.
  local po = o
  if run.dry_run and not o.token and auth.can_refresh(entry, o) then
    po = {}
    for k, v in pairs(o) do po[k] = v end
    po.token = _M.PLACEHOLDER_TOKEN
  end
  local show = progress.new(run.progress, total, started)
  local session = not run.dry_run and transport.session(concurrency)

  local inflight, n_inflight = {}, 0
  local waiting = {}              -- jobs to retry, each with .due
  local window = concurrency      -- in-flight limit; halved by a 429, grows back
  local pause_until = 0
  local exhausted, broken_input = false, false
  local abort, abandon = nil, false -- why no new item is taken; in-flight requests dropped too
  local auth_streak = 0

  -- The run stops taking items: the first reason stays, with its message
  -- for people (report.error) when the run could not go on as asked.
  local function halt(reason, message)
    if abort then
      report.error = report.error or message
      return
    end
    abort = reason
    report.stopped = reason
    report.error = message
  end

  -- A callback (on_result, progress, the items iterator) or a value's
  -- metamethod that raises stops the run: nothing new is taken, what is in
  -- flight finishes and is counted, and the report carries the first error.
  local function stop(e)
    halt("error", type(e) == "string" and e or "an error that is not a string")
  end

  local function poll_stop()
    if not run.should_stop or abandon then return end
    local ok, v = pcall(run.should_stop)
    if not ok then return stop(v) end
    if v then
      halt("interrupted")
      if v == "abandon" then abandon = true end
    end
  end

  local function tick()
    if not show then return end
    local ok, perr = pcall(show.update, show, report)
    if not ok then stop(perr); show = nil end
  end

  local function finish(job, user, err, res)
    report.done = report.done + 1
    if user ~= nil then
      auth_streak = 0
      report.succeeded = report.succeeded + 1
      if jr and not run.dry_run then
        local ok, jerr = pcall(jr.record, jr, job.key, job.id)
        if not ok then stop(jerr) end
      end
    else
      if err.kind == "http" and AUTH_STATUS[err.status] then
        auth_streak = auth_streak + 1
        if max_auth and auth_streak >= max_auth then
          halt("auth", ("stopped after %d authentication failures in a row (the last: %s):"
            .. " the credentials are refused; check the token or key pair, and the account"):format(
            auth_streak, tostring(err)))
        end
      else
        auth_streak = 0
      end
      report.failed = report.failed + 1
      local f = report.failures
      if #f < max_failures then
        f[#f + 1] = { index = job.index, id = job.id, err = lean(err) }
      else
        report.failures_dropped = report.failures_dropped + 1
      end
    end
    if run.on_result then
      local ok, cerr = pcall(run.on_result, job.item, user, err, res)
      if not ok then stop(cerr) end
    end
    tick()
  end

  local function dispatch(job, now)
    job.attempts = job.attempts + 1
    local ok, req, err = pcall(client.prepare, entry, job.id, job.fields, po)
    if not ok then
      req, err = nil, errors.invalid(name, {}, type(req) == "string" and req or "the item cannot be prepared")
    end
    if not req then
      err = auth.redact(err, po)
      if err.kind == "config" then
        -- Nothing can be sent until the configuration is fixed: one error,
        -- not one failure per item.
        halt("config", tostring(err))
        report.config_error = err
        report.not_attempted = report.not_attempted + 1
        return
      end
      return finish(job, nil, suggest.fields(entry, err))
    end
    if run.dry_run then return finish(job, req, nil) end
    job.auth = headers.get(req.headers, "Authorization")
    if job.deadline then budget.clamp(req, o, job.deadline, now) end
    req.attempt = job.attempts -- for a transport that logs
    inflight[session.start(req)] = job
    n_inflight = n_inflight + 1
  end

  -- The account's budget and the item's deadline: the job leaves now, or
  -- waits among the retries for its slot, or (no slot, no store) fails as
  -- an attempt does: retried while it may be, else finished.
  local function admit(job, now)
    local wait, err = budget.admit(gate, job, o, now)
    if wait == 0 then return true end
    if wait then
      job.due, job.err = now + wait, job.err or budget.unsent(name)
      waiting[#waiting + 1] = job
      return false
    end
    job.attempts = job.attempts + 1
    err.attempts = job.attempts
    local due = now + response.backoff(o, job.attempts, err.retry_after)
    if err.retryable and job.attempts <= o.retries and not (job.deadline and due > job.deadline) then
      report.retried = report.retried + 1
      job.err, job.due = err, due
      waiting[#waiting + 1] = job
      return false
    end
    finish(job, nil, auth.redact(err, o))
    return false
  end

  -- The next job to send: a retry that is due, else a new item.
  local function take(now)
    for i, job in ipairs(waiting) do
      if job.due <= now then
        table.remove(waiting, i)
        return job
      end
    end
    -- Retries hold their place: new items wait while many are pending.
    if exhausted or abort or #waiting + n_inflight >= 2 * concurrency then return nil end
    local ok, index, item = pcall(next_item)
    if not ok then broken_input = true stop(index) return nil end
    if not index then exhausted = true return nil end
    report.total = report.total + 1
    local job = { index = index, item = item, attempts = 0 }
    if type(item) == "table" and item.error ~= nil then -- an input row its reader could not read
      finish(job, nil, errors.invalid(name, {}, tostring(item.error)))
      return take(now)
    end
    if type(item) ~= "table" or type(item.fields) ~= "table" or item.id == nil then
      finish(job, nil, errors.invalid(name, {}, "item " .. index .. " is not { id = ..., fields = { ... } }"))
      return take(now)
    end
    job.id, job.fields = item.id, item.fields
    if jr then
      local kok, key = pcall(journal.key, job.id, job.fields)
      if not kok then
        finish(job, nil, errors.invalid(name, {}, tostring(key)))
        return take(now)
      end
      job.key = key
      if jr:take(key) then
        report.skipped = report.skipped + 1
        report.done = report.done + 1
        tick()
        return take(now)
      end
    end
    return job
  end

  -- What to do with an answer is response.judge's; here only its scheduling.
  local function complete(job, res, code, msg, now)
    local v = response.judge(entry, o, job.attempts, job.refreshed, res, code, msg)
    if v.pause and gate then gate:pause(v.pause) end
    if v.action == "done" then
      window = min(concurrency, window + 1)
      return finish(job, v.user, nil, v.res)
    elseif v.action == "fail" then
      return finish(job, nil, v.err)
    elseif v.action == "refresh" then
      -- One fetch for a run of 401s: only when this job used the current token.
      job.refreshed = true
      if job.auth == "Bearer " .. tostring(auth.token(entry, o)) then
        local _, terr = auth.token(entry, o, (job.auth:gsub("^Bearer ", "")))
        if terr then return finish(job, nil, auth.redact(terr, o)) end
      end
      job.attempts = job.attempts - 1
      job.err, job.due = v.err, now
      waiting[#waiting + 1] = job
      return
    end
    -- A retry backs off; a 429 slows the whole run: fewer in flight, and a pause.
    if v.err.status == 429 then
      window = max(1, floor(window / 2))
      pause_until = max(pause_until, now + v.delay)
    end
    if job.deadline and now + v.delay > job.deadline then
      return finish(job, nil, auth.redact(budget.deadline_error(name, o.deadline, "retry", v.err), o))
    end
    report.retried = report.retried + 1
    job.err = v.err -- its outcome, should the run stop before it is sent again
    job.due = now + v.delay
    waiting[#waiting + 1] = job
  end

  local function fill()
    local now = core.now()
    poll_stop()
    while not abort and n_inflight < window and now >= pause_until do
      local job = take(now)
      if not job then break end
      if admit(job, now) then dispatch(job, now) end
      now = core.now()
    end
    return now
  end

  -- With should_stop, no wait lasts longer than this: the run looks again.
  local cap = run.should_stop and 0.2 or huge

  while true do
    local now = fill()
    if abandon or (n_inflight == 0 and (abort or (exhausted and #waiting == 0))) then break end

    -- Sleep until the first of: a completion, or, when a slot is free, the
    -- next thing that could be sent (a retry coming due, a new item), no
    -- sooner than the rate slot and the end of a pause.
    local wake = huge
    if not abort and n_inflight < window then
      for _, job in ipairs(waiting) do wake = min(wake, job.due) end
      if not exhausted and #waiting + n_inflight < 2 * concurrency then wake = now end
      if wake < huge then wake = max(wake, pause_until) end
    end
    local timeout = min(cap, max(0, wake - now))
    if n_inflight > 0 then
      local done = session.wait(timeout < huge and timeout or nil) -- nil: until one completes
      for _, r in ipairs(done) do
        local job = inflight[r[1]]
        inflight[r[1]] = nil
        n_inflight = n_inflight - 1
        complete(job, r[2], r[3], r[4], core.now())
        fill() -- the freed slot takes its next request before the other replies are read
      end
    elseif timeout > 0 and timeout < huge then
      transport.sleep(timeout)
    end
  end

  -- A stopped run reports what waited for a retry with its last error, and
  -- what it abandoned in flight (a second interrupt) as aborted: those may
  -- or may not have reached the server, and are not in the journal.
  for _, job in ipairs(waiting) do finish(job, nil, auth.redact(job.err, o)) end
  if session then session.close() end
  for _, job in pairs(inflight) do
    finish(job, nil, errors.new { kind = "transport", code = "aborted", provider = name, retryable = true,
      attempts = job.attempts, message = "abandoned in flight when the run was interrupted (it may have been applied)" })
  end
  -- What was never taken: counted, so that every item is accounted for.
  if abort and not exhausted then
    local rest = 0
    if length then
      rest = length - report.total
    elseif run.total then
      rest = max(0, run.total - report.total)
    elseif not broken_input then
      while true do -- an iterator without a total: counted to its end
        local ok, index = pcall(next_item)
        if not ok then stop(index) break end
        if not index then break end
        rest = rest + 1
      end
    end
    report.total = report.total + rest
    report.not_attempted = report.not_attempted + rest
  end
  if jr then jr:close() end
  report.elapsed = core.now() - started
  if show then
    local ok, perr = pcall(show.finish, show, report)
    if not ok then stop(perr) end
  end
  report.done = nil
  return report
end

--- Runs the bulk update. `run` holds the run options, `o` the resolved
-- update options. Returns the report. The journal is closed however the
-- run ends: one that raises (a callback, a transport) leaves no lock held.
function _M.run(entry, items, run, o)
  local opened = {}
  local ok, report = pcall(run_items, entry, items, run, o, opened)
  if not ok then
    if opened.jr then opened.jr:close() end
    error(report, 0)
  end
  return report
end

return _M
