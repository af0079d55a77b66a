--- Bulk updates: many users at once, concurrently, under a rate ceiling,
-- retried, resumable through a journal, with progress. Every input item is
-- accounted for exactly once in the report (users/report.lua keeps it).
--
-- This file only schedules: each item is a life (users/lifecycle.lua) and
-- does what its steps say. The loop: fill the free places of the window
-- (due waits first, then new items), then wait in the transport's session
-- for the first completion or the next timed event (a rate slot, a retry
-- coming due, the end of a pause a 429 asked for). A 429 also halves the
-- window, which grows back by one with each success.
--
-- A run stops taking items early when the configuration is wrong (an item
-- that cannot be prepared for want of a token, a base URL, ...: nothing is
-- sent), after `max_auth_failures` answers 401/403 in a row, when
-- `should_stop()` says so, or when a callback raises. What is in flight
-- then finishes and is counted; what was not taken is counted in
-- report.not_attempted, so total = succeeded + failed + skipped + not_attempted.
local core = require "users.core"
local check = require "users.check"
local errors = require "users.errors"
local budget = require "users.budget"
local journal = require "users.journal"
local lifecycle = require "users.lifecycle"
local report = require "users.report"
local ambiguous = require "users.ambiguous"
local response = require "users.response"

local _M = {}

local type, pairs, ipairs, pcall, tostring, select = type, pairs, ipairs, pcall, tostring, select
local min, max, floor, huge = math.min, math.max, math.floor, math.huge
local whole = check.number_from(0, huge, true)

--- Options of the run itself, with their rules (users/check.lua); the
-- rest are update options.
_M.RULES = {
  concurrency = check.number_from(1, huge, true),
  on_result = check.of("function"),
  progress = function(v) if not (type(v) == "boolean" or type(v) == "function") then return "must be a boolean or a function" end end,
  journal = check.of("string"),
  dry_run = check.of("boolean"),
  total = check.number_from(0, huge),
  max_failures = whole,
  max_auth_failures = function(v) if v ~= false then return whole(v) end end,
  should_stop = check.of("function"),
  resend_unknown = check.of("boolean"),
}

--- What a dry run shows for a token it would fetch (lexful's key pair):
-- nothing is sent in a dry run, not even the token request.
_M.PLACEHOLDER_TOKEN = lifecycle.PLACEHOLDER_TOKEN

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

-- A new item from the input as a job with its life, or nil (none now);
-- items that cannot be sent are counted on the way (a tail call, not a
-- loop: LuaJIT would abort its traces at an inner loop here).
local function intake(s, now)
  local books = s.books
  if s.exhausted or books.abort or #s.waiting + s.n_inflight >= 2 * s.concurrency then return nil end
  local ok, index, item = pcall(s.next_item)
  if not ok then s.broken_input = true books:stop(index) return nil end
  if not index then s.exhausted = true return nil end
  books.report.total = books.report.total + 1
  local job = { index = index, item = item, id = nil, fields = nil, key = nil, life = nil, due = 0 }
  local problem
  if type(item) == "table" and item.error ~= nil then -- an input row its reader could not read
    problem = tostring(item.error)
  elseif type(item) ~= "table" or type(item.fields) ~= "table" or item.id == nil then
    problem = "item " .. index .. " is not { id = ..., fields = { ... } }"
  else
    job.id, job.fields = item.id, item.fields
    if books.journal then
      local kok, key = pcall(journal.key, job.id, job.fields)
      if kok then job.key = key else problem = tostring(key) end
    end
  end
  if problem then
    books:finish(job, nil, errors.invalid(s.name, {}, problem))
    return intake(s, now)
  elseif job.key and books.journal:take(job.key) then
    books:skip()
    return intake(s, now)
  elseif not s.run.resend_unknown and (item.unknown == true or (job.key and books.journal:unknown_take(job.key))) then
    books:finish(job, nil, ambiguous.held(s.name)) -- sent before, no answer: never blindly again
    return intake(s, now)
  end
  job.life = lifecycle.new(s.drv, job.id, job.fields, now)
  return job
end

-- The next job to step: a wait that is due (retries hold their place: new
-- items wait while many are pending), else a new item.
local function take(s, now)
  for i, job in ipairs(s.waiting) do
    if job.due <= now then
      table.remove(s.waiting, i)
      return job
    end
  end
  return intake(s, now)
end

-- Carries out a job's next move (what its life's step or answer said).
local function carry(s, job, now, what, a, b)
  if what == "send" then
    if s.dry then return s.books:finish(job, a, nil) end -- what would be sent
    s.inflight[s.session.start(a)] = job
    s.n_inflight = s.n_inflight + 1
  elseif what == "wait" then
    job.due = now + a
    s.waiting[#s.waiting + 1] = job
    if b == "retry" or b == "throttled" then s.books.report.retried = s.books.report.retried + 1 end
    if b == "throttled" then -- a 429 slows the whole run: fewer in flight, and a pause
      s.window = max(1, floor(s.window / 2))
      s.pause_until = max(s.pause_until, now + a)
    end
  elseif what == "done" then
    s.window = min(s.concurrency, s.window + 1)
    s.books:finish(job, a, nil, b)
  elseif a.kind == "config" then
    s.books:config(a)
  else
    s.books:finish(job, nil, a)
  end
end

local function poll_stop(s)
  local books, should_stop = s.books, s.run.should_stop
  if not should_stop or books.abandon then return end
  local ok, v = pcall(should_stop)
  if not ok then return books:stop(v) end
  if v then
    books:halt("interrupted")
    if v == "abandon" then books.abandon = true end
  end
end

local function fill(s)
  local now = core.now()
  poll_stop(s)
  while not s.books.abort and s.n_inflight < s.window and now >= s.pause_until do
    local job = take(s, now)
    if not job then break end
    carry(s, job, now, lifecycle.step(job.life, now))
    now = core.now()
  end
  return now
end

-- Waits for the first of: a completion, or, when a place is free, the next
-- thing that could be stepped (a wait coming due, a new item), no sooner
-- than the end of a pause. With should_stop, at most `s.cap` seconds.
local function await(s, now)
  local wake = huge
  if not s.books.abort and s.n_inflight < s.window then
    for _, job in ipairs(s.waiting) do wake = min(wake, job.due) end
    if not s.exhausted and #s.waiting + s.n_inflight < 2 * s.concurrency then wake = now end
    if wake < huge then wake = max(wake, s.pause_until) end
  end
  local timeout = min(s.cap, max(0, wake - now))
  if s.n_inflight > 0 then
    for _, r in ipairs(s.session.wait(timeout < huge and timeout or nil)) do -- nil: until one completes
      local job = s.inflight[r[1]]
      s.inflight[r[1]] = nil
      s.n_inflight = s.n_inflight - 1
      local t = core.now()
      carry(s, job, t, lifecycle.answer(job.life, t, r[2], r[3], r[4], r[5]))
      fill(s) -- the freed place takes its next request before the other replies are read
    end
  elseif timeout > 0 and timeout < huge then
    s.o.transport.sleep(timeout)
  end
end

-- A stopped run ends what waited with its last error, and what it
-- abandoned in flight (a second interrupt) as aborted: those may or may
-- not have reached the server, and are not in the journal. What was never
-- taken is counted, so that every item is accounted for.
local function wind_down(s)
  local books, now = s.books, core.now()
  for _, job in ipairs(s.waiting) do books:finish(job, nil, select(2, lifecycle.stop(job.life, now))) end
  if s.session then s.session.close() end
  for _, job in pairs(s.inflight) do
    local err = errors.new {
      kind = "transport", code = "aborted", provider = s.name, retryable = true, attempts = job.life.attempts,
      message = "abandoned in flight when the run was interrupted (it may have been applied)" }
    if job.life.spec.idempotent == false then err = ambiguous.unknown(err) end -- not to be sent blindly again
    books:finish(job, nil, select(2, lifecycle.stop(job.life, now, err)))
  end
  if books.abort and not s.exhausted then
    local rest, r = 0, books.report
    if s.length then
      rest = s.length - r.total
    elseif s.run.total then
      rest = max(0, s.run.total - r.total)
    elseif not s.broken_input then
      while true do -- an iterator without a total: counted to its end
        local ok, index = pcall(s.next_item)
        if not ok then books:stop(index) break end
        if not index then break end
        rest = rest + 1
      end
    end
    r.total, r.not_attempted = r.total + rest, r.not_attempted + rest
  end
end

-- The run itself, its books in s.books once opened.
local function run_items(s, items)
  local next_item, length = source(items)
  local run, o, entry, concurrency = s.run, s.o, s.entry, s.concurrency
  s.next_item, s.length = next_item, length
  s.books = report.new(entry, run, o, run.total or length, s.started)
  local gate = not run.dry_run and budget.gate(entry, o)
  -- An attempt waits for its budget slot as long as max_retry_after lets a
  -- server hold it, or as long as the run's own window of requests takes.
  local limit = gate and max(o.max_retry_after or response.MAX_RETRY_AFTER, 2 * concurrency * gate.interval)
  s.drv = lifecycle.driver(entry, o, gate, limit, run.dry_run, run.dry_run, "max_retry_after")
  s.session = not run.dry_run and o.transport.session(concurrency)
  while true do
    local now = fill(s)
    if s.books.abandon or (s.n_inflight == 0 and (s.books.abort or (s.exhausted and #s.waiting == 0))) then break end
    await(s, now)
  end
  wind_down(s)
  return s.books:close()
end

--- Runs the bulk update. `run` holds the run options, `o` the resolved
-- update options (shared by every item, never written). Returns the report.
-- The journal is closed however the run ends: one that raises (a
-- transport, a store) leaves no lock held.
function _M.run(entry, items, run, o)
  local concurrency = run.concurrency or 8
  local s = {
    entry = entry, o = o, run = run, name = entry.decl.name, dry = run.dry_run, started = core.now(),
    concurrency = concurrency, window = concurrency, pause_until = 0, waiting = {}, inflight = {}, n_inflight = 0,
    cap = run.should_stop and 0.2 or huge, -- with should_stop, the run looks again that often
  }
  local ok, result = pcall(run_items, s, items)
  if not ok then
    local jr = s.books and s.books.journal
    if jr then pcall(jr.close, jr) end
    if s.session then pcall(s.session.close) end
    error(result, 0)
  end
  return result
end

return _M
