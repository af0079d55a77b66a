--- The rate gate: one budget per account, shared by every caller that uses
-- the same store: its rate ceiling (GCRA: `rate` requests per second,
-- paced 5% under it, bursts of `burst`, default 1) and the pause a 429's
-- Retry-After asked for. The store is users/budget/stores.lua's; the
-- account's name users/account.lua's; its token users/tokens.lua's.
--
-- A store that cannot be reached fails the call (`budget_unavailable`), or,
-- with `budget_fallback = "local"`, the local budget stands in, with a
-- warning, until the store answers again (it is tried again each second).
-- A store that answers an absurd wait (not a number, negative, more than a
-- day, or a slot taken further away than asked) is one that cannot be
-- used, the same way. When it answers again, its first decision for an
-- account treats the account's bucket as just drained: the next slot comes
-- an interval later (or after the last slot the local budget, or the store
-- before it went, gave), never at once, and no burst.
--
-- A slot is taken for a moment: a request that leaves later than LATE
-- after it (a loaded machine, a stalled loop) would crowd the next slot's
-- request; its slot is void, and it takes another (users/lifecycle.lua).
--
-- The store contract (times in seconds, relative; keys are strings):
--   store.name, store.shared
--   store:reserve(key, interval, tolerance, max_wait)
--        -> true, wait    a slot is taken: leave in `wait` seconds
--        -> false, wait   the next slot is further than max_wait: none taken
--   store:pause(key, seconds, tolerance) -> true    nothing leaves before it ends
--   store:paused(key)                    -> seconds left (0: none)
--   store:get(key) -> value | nil;  store:set(key, value, ttl) -> true
--   store:lock(key, ttl) -> owner | false (held);  store:unlock(key, owner) -> true
--   and nil, message when the store cannot be reached.
-- @module users.budget
local core = require "users.core"
local errors = require "users.errors"
local account = require "users.account"
local stores = require "users.budget.stores"
local LOCAL = require "users.budget.local"
local log = require "users.log"

local _M = {}

local type, tostring, setmetatable, select = type, tostring, setmetatable, select
local format = string.format
local min, max, huge = math.min, math.max, math.huge
local now = core.now

--- Requests leave 5% under the rate: one that leaves late (its connection
-- still opening) must not land in the same second as one more than the
-- server allows, as the server counts them.
_M.MARGIN = 1.05

--- Seconds before a store that failed is tried again.
_M.RETRY_DOWN = 1

--- The longest wait a store may answer (seconds, beyond two intervals):
-- none of the module's bounds (deadline, timeout, max_retry_after) is
-- longer, so a longer one is a broken store, not a wait.
_M.ABSURD = 86400

--- For the command, which checks `--budget` before it runs (the rule is
-- users/budget/stores.lua's).
_M.problem = stores.problem

--- Where a budget's warnings go (a store lost, or back): users/log.lua's
-- by default; replace it to send them elsewhere.
_M.warn = log.warn

---------------------------------------------------------------- a store, with its stand-in

local Access = {}
Access.__index = Access

-- Per store id: { retry_at, err, warned } while it cannot be reached, and
-- when it last went (`went`); the next slot after the last one the store
-- gave, per store and key (this host's clock), for the hand-over to the
-- local budget and back; and when each key was last handed back.
local down, went, handoff, handed = {}, {}, {}, {}

--- The store of `spec` for the account of `entry` and `o`, with the local
-- budget standing in while it cannot be reached when `o` allows.
function _M.access(entry, o, spec)
  local store, problem = stores.store(spec)
  local rate = o.rate
  local interval = rate and _M.MARGIN / rate or 0
  local tolerance = interval * ((o.burst or 1) - 1)
  return setmetatable({
    store = store, problem = problem, spec = spec, provider = entry.decl.name,
    fallback = o.budget_fallback == "local", rate = rate,
    interval = interval, tolerance = tolerance, absurd = _M.ABSURD + 2 * interval + tolerance,
    -- a slot may be left this late (a window of a second then holds no more
    -- than `rate` of them: the MARGIN's 5 %), at most a quarter interval
    late = interval > 0 and min(_M.MARGIN - 1, interval / 4) or huge,
  }, Access)
end

-- What is absurd in a store's answer to `method` (max_wait: reserve's
-- bound), or nil.
local function absurd(self, method, r1, r2, max_wait)
  local wait = method == "reserve" and r2 or r1
  if r1 == nil or (method ~= "reserve" and method ~= "paused") then return nil end
  if type(wait) ~= "number" or wait ~= wait or wait < 0 or wait > self.absurd
     or (method == "reserve" and (type(r1) ~= "boolean" or (r1 and wait > max_wait + 0.001))) then
    return "it answered an absurd wait: " .. tostring(wait) .. " s"
  end
end

-- After the store was lost: its first decision for this key treats the
-- bucket as just drained (the next slot an interval away, or after the
-- last the local budget or the store gave, with no burst).
function Access:hand_back(key)
  local id, k = self.spec.id, self.spec.id .. "\n" .. key
  if not went[id] or (handed[k] or -huge) >= went[id] then return end
  handed[k] = now()
  local after = max(self.interval, (handoff[k] or 0) - now(), self.fallback and LOCAL:ahead(key) or 0)
  if after > 0 then self.store:pause(key, after, self.tolerance) end -- whether it answers, the call after tells
end

-- The store lost: the local budget stands in (and says so once), or the
-- call fails.
function Access:lost(method, key, why, state, ...)
  local name = self.store and self.store.name or self.spec.url or self.spec.id
  if self.fallback then
    if state and not state.warned then
      state.warned = true
      _M.warn(("budget %s cannot be used (%s): a local budget stands in until it answers")
        :format(name, tostring(why)))
    end
    if method == "reserve" then LOCAL:seed(key, handoff[self.spec.id .. "\n" .. key]) end
    return LOCAL[method](LOCAL, key, ...)
  end
  return nil, errors.outside(errors.new {
    kind = "budget", code = "budget_unavailable", provider = self.provider, retryable = true,
    message = ("the budget %s cannot be used (%s); budget_fallback = \"local\" would go on with a local budget")
      :format(name, tostring(why)),
  }, tostring(why)) -- the store's words
end

--- Runs a store method for a key: the shared store, or, while it cannot
-- be reached, the local budget (budget_fallback = "local") or an error.
-- Across a hand-over neither budget gives a slot before the other's last.
function Access:run(method, key, ...)
  local store, id = self.store, self.spec.id
  if not store then return self:lost(method, key, self.problem, nil, ...) end
  local state = down[id]
  if state and now() < state.retry_at then return self:lost(method, key, state.err, state, ...) end
  self:hand_back(key)
  local r1, r2 = store[method](store, key, ...)
  local wrong = absurd(self, method, r1, r2, select(3, ...))
  if wrong then r1, r2 = nil, wrong end
  if method == "reserve" and r1 then handoff[id .. "\n" .. key] = now() + r2 + self.interval end
  if r1 == nil and r2 ~= nil then
    state = { retry_at = now() + _M.RETRY_DOWN, err = r2, warned = state and state.warned }
    down[id], went[id] = state, now()
    return self:lost(method, key, r2, state, ...)
  elseif state then
    down[id] = nil
    if state.warned then _M.warn("budget " .. store.name .. " answers again: the shared budget resumes") end
  end
  return r1, r2
end

---------------------------------------------------------------- the gate

local Gate = setmetatable({}, Access)
Gate.__index = Gate

--- The gate of the account these options name, or nil when they ask for
-- no budget (neither `rate` nor `budget`: nothing is kept between calls).
function _M.gate(entry, o)
  if o.rate == nil and o.budget == nil then return nil end
  local g = setmetatable(_M.access(entry, o, assert(stores.parse(o.budget))), Gate)
  g.key = account.budget_key(entry, o)
  return g
end

-- The budget's refusal: no slot within the time the call has (`bound`
-- names it: "deadline", "timeout", "max_retry_after").
function Gate:too_far(wait, bound)
  local left = self:run("paused", self.key)
  local why = type(left) == "number" and left > 0
    and format("the account is paused for %.2f s", left)
    or format("the account's rate is %g requests per second", self.rate or 0)
  return errors.new {
    kind = "budget", code = "rate_limited", provider = self.provider, retryable = true,
    retry_after = wait,
    message = format("no budget slot within the %s: the next is %.2f s away (%s)", bound or "timeout", wait, why),
  }
end

--- The one way to take a slot: 0 (leave now), seconds to wait (the slot is
-- taken: leave then, once `void` says it still holds), or nil and an error
-- (`rate_limited`: the next slot is further than `max_wait`, which `bound`
-- names; `budget_unavailable`).
function Gate:take(max_wait, bound)
  local ok, wait = self:run("reserve", self.key, self.interval, self.tolerance, max_wait)
  if ok == nil then return nil, wait end
  if not ok then return nil, self:too_far(wait, bound) end
  return wait > 0 and wait or 0
end

--- After the wait for a taken slot: whether a 429 elsewhere paused the
-- account meanwhile (true: that slot is void, take another after the
-- pause); or nil and an error.
function Gate:void()
  local left, err = self:run("paused", self.key)
  if left == nil then return nil, err end
  return left > 0
end

--- Records the pause a 429 asked for, for everyone who shares the budget.
-- Best effort: a store that cannot be reached loses it.
function Gate:pause(seconds)
  if seconds and seconds > 0 then self:run("pause", self.key, seconds, self.tolerance) end
end

--- Names an account's budget store for the bench and tools (SHA-1 as hex).
_M.sha1 = account.sha1

return _M
