--- A bulk run's report, kept as its items end: the counts, the first
-- failures (each without the provider's body), the journal's
-- confirmations, `on_result` and progress. Also why the run stopped
-- taking items (`halt`): a configuration error, credentials refused in a
-- row, an interruption, a callback that raised. users/bulk.lua schedules;
-- this keeps the books.
local core = require "users.core"
local errors = require "users.errors"
local journal = require "users.journal"
local progress = require "users.progress"

local _M = {}

local type, pcall, tostring, setmetatable = type, pcall, tostring, setmetatable

-- Answers that say the credentials are refused.
local AUTH_STATUS = { [401] = true, [403] = true }

local Keeper = {}
Keeper.__index = Keeper

--- The books of a run of `entry` with run options `run` and update
-- options `o`; `total` is the number of items when known. Raises when the
-- journal cannot be opened.
function _M.new(entry, run, o, total, started)
  local max_auth = run.max_auth_failures
  if max_auth == nil then max_auth = 5 end
  if max_auth == 0 then max_auth = false end
  local k = setmetatable({
    run = run, started = started, max_failures = run.max_failures or 1000, max_auth = max_auth, streak = 0,
    report = { total = 0, done = 0, succeeded = 0, failed = 0, skipped = 0, retried = 0, not_attempted = 0,
               unknown = 0, held = 0, -- of the failed: outcome unknown; of those, held back unsent
               failures = setmetatable({}, core.array_mt), -- [] in JSON, even empty
               failures_dropped = 0, dry_run = run.dry_run or nil },
    show = run.progress and progress.new(run.progress, total, started) or nil, -- none: nothing to call
  }, Keeper)
  if run.journal then
    local jr, err = journal.open(run.journal, journal.scope(entry, o), run.dry_run)
    if not jr then error(err, 0) end
    k.journal = jr
  end
  return k
end

--- The run stops taking items: the first reason stays, with its message
-- for people (report.error) when the run could not go on as asked.
function Keeper:halt(reason, message)
  local report = self.report
  if self.abort then
    report.error = report.error or message
    return
  end
  self.abort, report.stopped, report.error = reason, reason, message
end

--- A callback (on_result, progress, the items iterator) or a value's
-- metamethod raised: nothing new is taken, what is in flight finishes and
-- is counted, and the report carries the first error.
function Keeper:stop(e)
  self:halt("error", type(e) == "string" and e or "an error that is not a string")
end

function Keeper:tick()
  if not self.show then return end
  local ok, perr = pcall(self.show.update, self.show, self.report)
  if not ok then self:stop(perr); self.show = nil end
end

-- A failure as the report keeps it: the error without the provider's body,
-- so that a run of many failures stays small (on_result has it whole).
local function lean(err)
  return errors.new { kind = err.kind, code = err.code, status = err.status, message = err.message,
                      fields = err.fields, retry_after = err.retry_after, retryable = err.retryable,
                      attempts = err.attempts, provider = err.provider, cause = err.cause,
                      scim_type = err.scim_type }
end

-- Credentials refused again and again: sending the rest would only fail the same way.
function Keeper:count_auth(err)
  if err and err.kind == "http" and AUTH_STATUS[err.status] then
    self.streak = self.streak + 1
    if self.max_auth and self.streak >= self.max_auth then
      self:halt("auth", ("stopped after %d authentication failures in a row (the last: %s):"
        .. " the credentials are refused; check the token or key pair, and the account"):format(
        self.streak, tostring(err)))
    end
  else
    self.streak = 0
  end
end

--- An item is over: `user, nil, res` or `nil, err`.
function Keeper:finish(job, user, err, res)
  local report = self.report
  report.done = report.done + 1
  self:count_auth(err)
  if user ~= nil then
    report.succeeded = report.succeeded + 1
    if self.journal and not self.run.dry_run then
      local ok, jerr = pcall(self.journal.record, self.journal, job.key, job.id)
      if not ok then self:stop(jerr) end
    end
  else
    report.failed = report.failed + 1
    if err.code == "unknown_outcome" then self:unknown(job, err) end
    local f = report.failures
    if #f < self.max_failures then
      f[#f + 1] = { index = job.index, id = job.id, err = lean(err) }
    else
      report.failures_dropped = report.failures_dropped + 1
    end
  end
  if self.run.on_result then
    local ok, cerr = pcall(self.run.on_result, job.item, user, err, res)
    if not ok then self:stop(cerr) end
  end
  self:tick()
end

-- An item whose outcome is unknown: counted, and on record in the journal
-- (unless it was held back for an earlier record: that one stays).
function Keeper:unknown(job, err)
  local report = self.report
  report.unknown = report.unknown + 1
  if err.cause == "held" then
    report.held = report.held + 1
  elseif self.journal and not self.run.dry_run and job.key then
    local ok, jerr = pcall(self.journal.record, self.journal, job.key, job.id, "unknown")
    if not ok then self:stop(jerr) end
  end
end

--- An item whose configuration is wrong: nothing can be sent until it is
-- fixed, so one error stops the run, not one failure per item.
function Keeper:config(err)
  self:halt("config", tostring(err))
  self.report.config_error = err
  self.report.not_attempted = self.report.not_attempted + 1
end

--- An item the journal had confirmed already.
function Keeper:skip()
  local report = self.report
  report.skipped, report.done = report.skipped + 1, report.done + 1
  self:tick()
end

--- The report, once the run is over.
function Keeper:close()
  local report = self.report
  if self.journal then self.journal:close() end
  report.elapsed = core.now() - self.started
  if self.show then
    local ok, perr = pcall(self.show.finish, self.show, report)
    if not ok then self:stop(perr) end
  end
  report.done = nil
  return report
end

return _M
