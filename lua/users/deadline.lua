--- Deadlines: `opts.deadline` bounds an item's whole life (its token
-- request, its waits for a budget slot, its retries and back-offs). The
-- moment it runs out is the item's own (users/lifecycle.lua keeps it in
-- the item's state, from when the call starts or the bulk run takes the
-- item); nothing here is kept between calls.
local errors = require "users.errors"

local _M = {}

local min, tostring = math.min, tostring
local format = string.format

local WHAT = {
  answer = "while waiting for the provider's answer",
  retry = "before the retry it was waiting for",
  budget = "while waiting for a budget slot",
  token = "while waiting for another caller's token request",
  plan = "while its update waited between two steps",
}

--- The error of an item whose deadline (`seconds` long) ran out while it
-- was `waiting_for` ("answer", "retry", "budget" or "token"); `last`: the
-- last error it had, if any.
function _M.error(provider, seconds, waiting_for, last)
  last = last or nil
  local message = format("the deadline (%g s) ran out %s", seconds or 0, WHAT[waiting_for] or waiting_for)
  if last then message = message .. " (the last error: " .. tostring(last.message or last.code) .. ")" end
  return errors.quotes(errors.new { kind = "transport", code = "timeout", provider = provider, retryable = true,
                                   waiting_for = waiting_for, message = message,
                                   status = last and last.status, retry_after = last and last.retry_after }, last)
end

--- Bounds a request's timeouts by what is left before `deadline` (`t`:
-- now); false when nothing is left.
function _M.clamp(req, o, deadline, t)
  local left = deadline - t
  if left <= 0 then return false end
  req.timeout = min(o.timeout, left)
  req.connect_timeout = min(o.connect_timeout, left)
  return true
end

return _M
