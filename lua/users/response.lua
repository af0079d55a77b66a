--- The one policy for an answer: what the lifecycle (users/lifecycle.lua)
-- does with what a transport returned, for `update` and bulk runs alike.
--
--   local v = response.judge(entry, o, tries, refreshed, res, message, code, sent, idempotent)
--   (response.decide gives the same as values: action, user | err, res | delay, pause)
--   v.action == "done"     v.user, v.res          a 2xx with its decoded body
--   v.action == "fail"     v.err                  final for this request
--   v.action == "retry"    v.err, v.delay         send again in v.delay seconds
--   v.action == "refresh"  v.err                  fetch a new token, resend at
--                                                 once (not counted as an attempt)
--   v.pause                seconds                a 429 (retried or not): the
--                                                 account pauses that long for
--                                                 everyone sharing its budget
-- `res, message, code, sent` is the transport's result in the module's one
-- failure shape (users/transport.lua). A request that is not idempotent
-- (`idempotent == false`) and may have reached the server without an
-- answer (users/ambiguous.lua) is not retried unless `o.retry_ambiguous`,
-- and fails as `unknown_outcome`. Nothing is redacted here: the outcome
-- is, once, as it leaves the lifecycle.
local core = require "users.core"
local errors = require "users.errors"
local auth = require "users.auth"
local ambiguous = require "users.ambiguous"

local _M = {}

-- The longest Retry-After honoured by default (seconds): opts.max_retry_after.
_M.MAX_RETRY_AFTER = 300

local random, min, max = math.random, math.min, math.max

--- The decoded body of a 2xx answer, or nil and a decode error.
function _M.decode(name, res)
  if res.body == "" then return {} end
  local ctype = res.headers["content-type"]
  local value, msg = core.json_decode(res.body)
  -- JSON false would make `if not user` fire on a success: a 2xx that
  -- carries no user is an empty table, as an empty body is.
  if value == false and errors.is_json(ctype) then return {} end
  if value == nil or not errors.is_json(ctype) then
    -- what the server said it sent, when it said something else than JSON
    local said = not errors.is_json(ctype) and (ctype:match("^%s*([^;%s]+)") or ctype) -- the server's words
    local why = said and (" (" .. said .. ")") or (msg and (": " .. msg) or "")
    return nil, errors.outside(errors.new {
      kind = "decode", code = "bad_response", status = res.status, provider = name,
      message = "the response is not JSON" .. why,
      body = res.body, retryable = false,
    }, said)
  end
  return value
end

--- Seconds before retry `attempt`: exponential, with jitter, at most 30 s,
-- and never sooner than the server's Retry-After.
function _M.backoff(o, attempt, retry_after)
  local delay = min(30, o.backoff * 2 ^ (attempt - 1)) * (0.5 + random() * 0.5)
  if retry_after then delay = max(delay, retry_after) end
  return delay
end

-- What to do with a failed attempt: retried while it may be, the account
-- paused after a 429.
local function after_failure(o, tries, res, err)
  err.attempts = tries
  -- A server may not stall a run: past the cap, the caller decides.
  local cap = o.max_retry_after or _M.MAX_RETRY_AFTER
  if err.retry_after and err.retry_after > cap then
    err.retryable = false
    err.message = ("%s (the server asks to wait %.0f s, more than max_retry_after, %g s)"):format(
      err.message, err.retry_after, cap)
    return "fail", err
  end
  -- A 429 pauses the account (its budget, users/budget.lua) as long as the
  -- server asked, or as long as this request's back-off when it did not say.
  local retry = err.retryable and tries <= o.retries
  local delay = (retry or res and res.status == 429) and _M.backoff(o, tries, err.retry_after)
  local pause = res and res.status == 429 and (err.retry_after or delay) or nil
  if retry then return "retry", err, delay, pause end
  return "fail", err, nil, pause
end

-- An ambiguous failure of a request that is not idempotent: retried only
-- when the caller allows it, else (and after the last retry) its outcome
-- is unknown.
local function after_ambiguity(o, tries, err)
  err.attempts = tries
  if o.retry_ambiguous and tries <= o.retries then return "retry", err, _M.backoff(o, tries, err.retry_after) end
  return "fail", ambiguous.unknown(err)
end

--- The decision for one answer, as values: "done", user, res | "fail",
-- err, nil, pause | "retry", err, delay, pause | "refresh", err. `tries`
-- counts this attempt of the request; `refreshed` says whether its token
-- was fetched anew already; `sent` is the transport's; `idempotent ==
-- false` says the request may not be sent twice (nil: it may).
function _M.decide(entry, o, tries, refreshed, res, message, code, sent, idempotent)
  local name = entry.decl.name
  local err
  if not res then
    err = errors.transport(name, code, message)
  elseif res.status >= 200 and res.status < 300 then
    local user, derr = _M.decode(name, res)
    if user ~= nil then
      res.body = nil
      return "done", user, res
    end
    err = derr
  else
    err = errors.from_response(entry.decl, res)
    -- A fetched token that the server refuses is fetched again, once.
    if res.status == 401 and not refreshed and auth.can_refresh(entry, o) then return "refresh", err end
  end
  if idempotent == false and ambiguous.ambiguous(res, code, sent) then return after_ambiguity(o, tries, err) end
  return after_failure(o, tries, res, err)
end

--- The same decision as a table (see the module's comment).
function _M.judge(entry, o, tries, refreshed, res, message, code, sent, idempotent)
  local action, a, b, pause = _M.decide(entry, o, tries, refreshed, res, message, code, sent, idempotent)
  if action == "done" then return { action = action, user = a, res = b } end
  return { action = action, err = a, delay = action == "retry" and b or nil, pause = pause }
end

return _M
