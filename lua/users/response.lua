--- The one policy for an answer: what users.update and bulk runs do with
-- what a transport returned. `judge` decodes it and decides; the callers
-- only carry the decision out (a bulk run adds its scheduling: window,
-- pause, rate, journal).
--
--   local v = response.judge(entry, o, attempts, refreshed, res, msg, code)
--   (res, msg, code: what the transport returned, users/transport.lua)
--   v.action == "done"     v.user, v.res          a 2xx with its decoded body
--   v.action == "fail"     v.err                  final (secrets redacted)
--   v.action == "retry"    v.err, v.delay         send again in v.delay seconds
--   v.action == "refresh"  v.err                  fetch a new token, resend at
--                                                 once (not counted as an attempt)
--   v.pause                seconds                a 429 (retried or not): the
--                                                 account pauses that long for
--                                                 everyone sharing its budget
local core = require "users.core"
local errors = require "users.errors"
local auth = require "users.auth"

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
    local why = not errors.is_json(ctype) and (" (" .. (ctype:match("^%s*([^;%s]+)") or ctype) .. ")")
      or (msg and (": " .. msg) or "")
    return nil, errors.new {
      kind = "decode", code = "bad_response", status = res.status, provider = name,
      message = "the response is not JSON" .. why,
      body = res.body, retryable = false,
    }
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

--- The decision for one answer. `attempts` counts this one; `refreshed`
-- says whether this request's token was fetched anew already.
function _M.judge(entry, o, attempts, refreshed, res, msg, code)
  local name = entry.decl.name
  local err
  if not res then
    err = errors.transport(name, code, msg)
  elseif res.status >= 200 and res.status < 300 then
    local user, derr = _M.decode(name, res)
    if user ~= nil then
      res.body = nil
      auth.redact_headers(res.headers, o) -- a server may echo a token
      return { action = "done", user = user, res = res }
    end
    err = derr
  else
    err = errors.from_response(entry.decl, res)
    -- A fetched token that the server refuses is fetched again, once.
    if res.status == 401 and not refreshed and auth.can_refresh(entry, o) then
      return { action = "refresh", err = err }
    end
  end
  err.attempts = attempts
  -- A server may not stall a run: past the cap, the caller decides.
  if err.retry_after and err.retry_after > (o.max_retry_after or _M.MAX_RETRY_AFTER) then
    err.retryable = false
    err.message = ("%s (the server asks to wait %.0f s, more than max_retry_after, %g s)"):format(
      err.message, err.retry_after, o.max_retry_after or _M.MAX_RETRY_AFTER)
    return { action = "fail", err = auth.redact(err, o) }
  end
  -- A 429 pauses the account (its budget, users/budget.lua) as long as the
  -- server asked, or as long as this request's back-off when it did not say.
  local retry = err.retryable and attempts <= o.retries
  local delay = (retry or res and res.status == 429) and _M.backoff(o, attempts, err.retry_after)
  local pause = res and res.status == 429 and (err.retry_after or delay) or nil
  if retry then
    return { action = "retry", err = err, delay = delay, pause = pause }
  end
  return { action = "fail", err = auth.redact(err, o), pause = pause }
end

return _M
