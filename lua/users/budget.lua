--- The rate gate: one budget per account, shared by every caller that uses
-- the same store: its rate ceiling (GCRA: `rate` requests per second,
-- paced 5% under it, bursts of `burst`, default 1) and the pause a 429's
-- Retry-After asked for. The store is users/budget/stores.lua's; the
-- account's name users/account.lua's; its token users/tokens.lua's.
--
-- A store that cannot be reached fails the call (`budget_unavailable`), or,
-- with `budget_fallback = "local"`, the local budget stands in, with a
-- warning, until the store answers again (it is tried again each second).
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

local type, tostring, setmetatable = type, tostring, setmetatable
local format = string.format
local now = core.now

--- Requests leave 5% under the rate: one that leaves late (its connection
-- still opening) must not land in the same second as one more than the
-- server allows, as the server counts them.
_M.MARGIN = 1.05

--- Seconds before a store that failed is tried again.
_M.RETRY_DOWN = 1

--- For the command, which checks `--budget` before it runs (the rule is
-- users/budget/stores.lua's).
_M.problem = stores.problem

--- Where a budget's warnings go (a store lost, or back): users/log.lua's
-- by default; replace it to send them elsewhere.
_M.warn = log.warn

---------------------------------------------------------------- a store, with its stand-in

local Access = {}
Access.__index = Access

-- Per store id: { retry_at, err, warned } while it cannot be reached; and
-- the next slot after the last one the store gave, per store and key (this
-- host's clock), for the hand-over to the local budget and back.
local down, handoff = {}, {}

--- The store of `spec` for the account of `entry` and `o`, with the local
-- budget standing in while it cannot be reached when `o` allows.
function _M.access(entry, o, spec)
  local store, problem = stores.store(spec)
  local rate = o.rate
  local interval = rate and _M.MARGIN / rate or 0
  return setmetatable({
    store = store, problem = problem, spec = spec, provider = entry.decl.name,
    fallback = o.budget_fallback == "local", rate = rate,
    interval = interval, tolerance = interval * ((o.burst or 1) - 1),
  }, Access)
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
  if state and self.fallback and method == "reserve" and LOCAL:ahead(key) > 0 then
    store:pause(key, LOCAL:ahead(key), 0) -- whether it answers, the call below tells
  end
  local r1, r2 = store[method](store, key, ...)
  if method == "reserve" and r1 and self.fallback then
    handoff[id .. "\n" .. key] = now() + r2 + self.interval
  end
  if r1 == nil and r2 ~= nil then
    state = { retry_at = now() + _M.RETRY_DOWN, err = r2, warned = state and state.warned }
    down[id] = state
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

-- The budget's refusal: no slot within the time the call has.
function Gate:too_far(wait, deadline)
  local left = self:run("paused", self.key)
  local why = type(left) == "number" and left > 0
    and format("the account is paused for %.2f s after a 429", left)
    or format("the account's rate is %g requests per second", self.rate or 0)
  return errors.new {
    kind = "budget", code = "rate_limited", provider = self.provider, retryable = true,
    retry_after = wait,
    message = format("no budget slot within the %s: the next is %.2f s away (%s)",
                     deadline and "deadline" or "timeout", wait, why),
  }
end

--- The one way to take a slot: 0 (leave now), seconds to wait (the slot is
-- taken: leave then, once `void` says it still holds), or nil and an error
-- (`rate_limited`: the next slot is further than `max_wait`; `deadline`
-- says which bound that was; `budget_unavailable`).
function Gate:take(max_wait, deadline)
  local ok, wait = self:run("reserve", self.key, self.interval, self.tolerance, max_wait)
  if ok == nil then return nil, wait end
  if not ok then return nil, self:too_far(wait, deadline) end
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
