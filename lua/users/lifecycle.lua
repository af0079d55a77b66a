--- One item's life, as steps: the plan's next request (its fields
-- validated, its URL built) -> admit (the account's rate slot, the item's
-- deadline) -> prepare (the token, a step of the same life when it must be
-- fetched; the headers; timeouts bounded by the deadline; a child
-- traceparent) -> send -> judge (users/response.lua) -> retry, refresh,
-- wait, or back to the plan with the request's outcome -> finish, with the
-- outcome scrubbed of secrets once, as it leaves the module.
--
-- Two drivers: `users.update` runs one life synchronously (it sends and
-- sleeps when told), a bulk run many at once (users/bulk.lua: it starts
-- sends in its session and keeps the waits in its queue). Both only do
-- what `step` says:
--
--   local life = lifecycle.new(lifecycle.driver(entry, o, ...), id, fields, now)
--   lifecycle.step(life, now) -> "send", req          send it; lifecycle.answer(life, now, <its result>)
--                                                      gives the next move
--                             -> "wait", seconds, why  come back then (why: "budget", "retry",
--                                                      "throttled" (a 429's back-off), "token", "plan")
--                             -> "done", user, res     over: the outcome
--                             -> "fail", err           over: the outcome
--
-- A provider's update is a plan of steps (users/plan.lua; lua/README, "A
-- provider's update as steps"): the default one, run inline here, sends
-- the declaration's own request; a token fetch is a plan of the same shape
-- (users/auth.lua) pushed inside the life that needs the token.
local errors = require "users.errors"
local client = require "users.client"
local security = require "users.security"
local response = require "users.response"
local auth = require "users.auth"
local deadline = require "users.deadline"
local secrets = require "users.secrets"
local suggest = require "users.suggest"
local trace = require "users.trace"
local events = require "users.events"
local metrics = require "users.metrics"
local plan = require "users.plan"
local ambiguous = require "users.ambiguous"

local _M = {}

local type, pcall, tostring = type, pcall, tostring
local huge, max = math.huge, math.max

--- What a request carries for a token that would be fetched, where nothing
-- may be sent (prepare with fetch_token = false, dry runs).
_M.PLACEHOLDER_TOKEN = "[token fetched at run time]"

---------------------------------------------------------------- a life

-- Phases.
local PLAN, ADMIT, PREPARE, SENT, RETRY, OVER = 1, 2, 3, 4, 5, 6

-- The step of the life's phase (below the steps). Each step returns a
-- move, or tail-calls the next: no loop (LuaJIT compiles the calls, and
-- would abort its traces at an inner loop here).
local next_step

--- What the lives of one call or one run share: `entry` and the
-- resolved options `o` (read only), and the driver's `gate` (the account's
-- budget gate, or nil), `limit` (the longest an attempt waits for its slot
-- without a deadline, in all: update's timeout; a bulk run's
-- max_retry_after), `limit_name` (its name, for the error: "timeout" by
-- default), `offline` (a token that would be fetched is not: the request
-- carries PLACEHOLDER_TOKEN), `dry` (no admission, no deadline); and the
-- trace context's parent.
function _M.driver(entry, o, gate, limit, offline, dry, limit_name)
  return { entry = entry, o = o, gate = not dry and gate or nil, limit = limit or huge, offline = offline,
           dry = dry, trace = o.traceparent ~= false and trace.parent(o) or false, limit_name = limit_name or "timeout" }
end

--- A new life of an item of `drv` (`driver`'s) at `now`.
function _M.new(drv, id, fields, now)
  local entry, o = drv.entry, drv.o
  local call = entry.decl.plan and plan.call(entry, o, id, fields, entry.decl.plan, drv.dry) or false
  -- The fields of every life named here with a value (false: none yet;
  -- 16 at most: the table stays small), so that none added later makes it
  -- grow; those of rarer paths (slot, last, refused, sent, span, delay,
  -- why) are added when needed. `call` is the plan on top (false: the
  -- declaration's own, run inline); a plan pushed on it (`pushed`) keeps
  -- the one it interrupted as `below`. `spec` is the request in progress,
  -- completed for the transport once `req_token` is set (its token, or
  -- true without one).
  return {
    id = id, fields = fields, drv = drv, call = call, phase = PLAN, started = now,
    deadline = not drv.dry and o.deadline and now + o.deadline or false,
    attempts = 0, tries = 0, spec = false, req_token = false, token = false,
    refreshed = false, sent_at = 0, user = false, res = false,
  }
end

-- The life is over: its outcome, scrubbed once, and what it held let go.
local function finish(life, now, user, res_or_err)
  life.phase = OVER
  local call = life.call
  while call do
    if call.on_end then pcall(call.on_end) end
    call = call.below
  end
  local o = life.drv.o
  local list = secrets.of(o, life.sent)
  if user ~= nil then
    local res = res_or_err or {}
    res.attempts, res.elapsed = life.attempts, now - life.started
    if res.headers then secrets.scrub_flat(res.headers, list) end
    if o.on_event then events.outcome(life, now, nil, res) end
    life.user, life.res = user, res -- the outcome, for a step after the end
    return "done", user, res
  end
  local err = res_or_err
  if not errors.is_error(err) then
    err = errors.invalid(life.drv.entry.decl.name, {}, "the update's plan failed: "
      .. (type(err) == "string" and err or "it gave no error (" .. type(err) .. ")"))
  end
  if err.kind ~= "invalid" and err.kind ~= "config" then err.attempts = life.attempts end
  if err.kind == "invalid" then suggest.fields(life.drv.entry, err) end
  secrets.scrub(err, list)
  if o.on_event then events.outcome(life, now, err) end
  life.user, life.res = false, err
  return "fail", err
end

local function deadline_error(life, waiting_for, last)
  return deadline.error(life.drv.entry.decl.name, life.drv.o.deadline, waiting_for, last)
end

-- The plan on top's next move: a pushed plan's, a declaration's own, or
-- the default's, inline: the declaration's request first (its outcome is
-- the item's: `answer` ends the life with it).
local function ask(life)
  local call, user, res = life.call, life.user, life.res
  if not call then
    local ok, spec, err = pcall(client.request, life.drv.entry, life.id, life.fields, life.drv.o)
    if not ok then -- a value's metamethod raised (its message, when it is one)
      return "fail", errors.invalid(life.drv.entry.decl.name, {}, type(spec) == "string" and spec or "the update cannot be made")
    end
    if not spec then return "fail", err end
    return "send", spec
  end
  life.user, life.res = false, false
  if user == false then user = nil end -- (a decoded user is never false)
  if res == false then res = nil end
  call.step, call.attempts = call.step + 1, life.attempts
  if user ~= nil then call.last_res = res end
  call.url_error = nil
  local ok, verb, a, b = pcall(call.plan, call, user, res)
  if not ok then
    return "fail", errors.invalid(life.drv.entry.decl.name, {}, type(verb) == "string" and verb or "the update cannot be made")
  end
  if verb == "done" and b == nil then b = call.last_res end
  return plan.move(call, verb, a, b) -- a move that cannot be carried out fails the item
end

-- A plan pushed inside the life: the token's, before the request that needs it.
local function push_token_plan(life, now)
  local call = plan.call(life.drv.entry, life.drv.o, life.id, life.fields, auth.plan)
  call.refused, call.started, call.below, call.pushed = life.refused, now, life.call, true
  call.parent = { life.spec, life.req_token, life.tries, life.refreshed }
  life.call = call
  life.refused = nil
  life.phase = PLAN
end

-- A pushed plan ended: the token is the interrupted request's, which goes on.
local function pop(life, now, verb, a)
  local call = life.call
  life.call = call.below
  if call.on_end then pcall(call.on_end) end
  if verb ~= "done" then return finish(life, now, nil, a) end
  life.token = a
  local p = call.parent
  life.spec, life.req_token, life.tries, life.refreshed = p[1], p[2], p[3], p[4]
  if life.drv.o.on_event and (call.fetched or call.refused) then events.token(life, now, call) end
  life.phase = PREPARE
  return next_step(life, now)
end

-- Whether the request in progress is the item's own plan's (not a pushed one's).
local function own(life) return not life.call or not life.call.pushed end

-- PLAN: ask the plan; a request goes to admission (when there is any).
local function plan_step(life, now)
  local verb, a, b = ask(life)
  if verb == "send" then
    ambiguous.mark(life.drv.entry, life.drv.o, a, life) -- idempotent or not; its key
    life.spec, life.req_token, life.tries, life.refreshed = a, false, 0, a.auth == false
    life.phase = (life.deadline or life.drv.gate) and ADMIT or PREPARE
    return next_step(life, now)
  elseif verb == "wait" then
    local why = b or "plan"
    if life.deadline and now + a > life.deadline then return finish(life, now, nil, deadline_error(life, why, life.last)) end
    if life.drv.o.on_event then events.wait(life, now, a, why) end
    return "wait", a, why
  elseif not own(life) then
    return pop(life, now, verb, a)
  elseif verb == "done" then
    return finish(life, now, a, b)
  end
  return finish(life, now, nil, a)
end

-- A retry after `delay` seconds, unless the deadline comes first.
local function retry(life, now, err, delay, why)
  life.last = err
  if life.deadline and now + delay > life.deadline then
    finish(life, now, nil, deadline_error(life, "retry", err)) -- the next step says it
    return
  end
  local spec = life.spec
  if life.drv.o.metrics ~= false then
    metrics.retry(life.drv.entry.decl.name, spec.method, spec.address or (client.server(life.drv.entry, life.drv.o)))
  end
  if life.drv.o.on_event then events.retry(life, now, err, delay) end
  life.phase, life.delay, life.why = RETRY, delay, why
end

-- A budget refusal of an attempt: `budget_unavailable` is retried as a
-- failed attempt is, while it may be; else (`rate_limited`) the outcome.
local function budget_refusal(life, now, err)
  life.tries = life.tries + 1
  if err.code == "budget_unavailable" and life.tries <= life.drv.o.retries then
    retry(life, now, err, response.backoff(life.drv.o, life.tries, err.retry_after), "retry")
    return next_step(life, now)
  end
  return finish(life, now, nil, err)
end

-- ADMIT: the item's deadline, then the account's slot (the one way to take
-- one: users/budget.lua's Gate:take); a slot taken ahead is checked again
-- when its time comes (a 429 elsewhere may have voided it), and one come
-- later than the gate's `late` is void too: leaving then, the request
-- would crowd the next slot's. An attempt waits for its slots until its
-- deadline, or `limit` in all.
local function admit(life, now)
  if life.deadline and now >= life.deadline then
    return finish(life, now, nil, deadline_error(life, life.last and "retry" or "budget", life.last))
  end
  local gate, asked = life.drv.gate, now
  if gate and life.spec.budget ~= false then
    local go, clock = false, life.drv.o.transport.now
    now = max(now, clock()) -- (a caller's `now` may be a moment old)
    if life.slot then
      local late = now - life.slot -- life.slot: when the slot taken comes
      life.slot = false
      if late <= gate.late then
        local void, err = gate:void()
        if void == nil then return budget_refusal(life, now, err) end
        go = not void
      end
    end
    if not go then
      life.since = life.since or now
      local bound = life.deadline or life.since + life.drv.limit
      local wait, err = gate:take(bound - now, life.deadline and "deadline" or life.drv.limit_name)
      if not wait then return budget_refusal(life, now, err) end
      now = max(now, clock()) -- the store decided before this: the slot is not earlier than now + wait
      if wait > 0 then
        life.slot = now + wait
        if life.drv.o.on_event then events.wait(life, now, wait, "budget") end
        return "wait", life.slot - asked, "budget"
      end
    end
    life.since = false
  end
  life.phase = PREPARE
  return next_step(life, now)
end

-- The token the request in progress carries, or false, or nil after
-- pushing the token's plan.
local function token_for(life, now)
  local o = life.drv.o
  if o.token and not life.refused then return o.token end
  if not auth.request(life.drv.entry, o) then return false end -- none: complete() says so
  if life.drv.offline then return _M.PLACEHOLDER_TOKEN end
  push_token_plan(life, now)
  return nil
end

-- PREPARE: the token (a plan of its own when it must be fetched), the
-- request completed, its timeouts bounded, its traceparent; then it leaves.
local function prepare(life, now)
  local spec, o = life.spec, life.drv.o
  local token = false -- a request without Authorization leaves the item's token alone
  if spec.auth ~= false then
    token = life.token or token_for(life, now)
    if token == nil then return next_step(life, now) end -- the token's plan goes first
    life.token = token
  end
  local req = spec
  if not life.req_token then
    local err
    req, err = client.complete(life.drv.entry, o, spec, token or nil)
    if not req then return finish(life, now, nil, err) end
    life.req_token = token or true
  elseif token and life.req_token ~= token then
    client.with_header(req, security.token_header(life.drv.entry, o, token))
    life.req_token = token
  else
    token = false -- sent before
  end
  if token and token ~= o.token and token ~= _M.PLACEHOLDER_TOKEN then -- a fetched token: secret too
    local sent = life.sent or {}
    sent[#sent + 1], life.sent = token, sent
  end
  if life.deadline and not deadline.clamp(req, o, life.deadline, now) then
    return finish(life, now, nil, deadline_error(life, life.last and "retry" or "budget", life.last))
  end
  if life.drv.trace then
    local header
    header, life.span = trace.child(life.drv.trace)
    client.with_header(req, "traceparent", header)
  end
  local tries, call = life.tries + 1, life.call
  life.tries, life.sent_at, life.phase = tries, now, SENT
  local mine = not call or not call.pushed
  if mine then -- the item's own request (a token request is not an attempt)
    life.attempts = life.attempts + 1
    req.attempt = life.attempts -- for a transport that logs
  else
    req.attempt = tries
  end
  -- a dry driver (prepare, dry runs) never sends the item's own request: no event
  if o.on_event and not (mine and life.drv.dry) then events.request(life, now) end
  return "send", req
end

-- RETRY: the wait before a retry, then admission again.
local function retry_step(life)
  life.phase = ADMIT
  return "wait", life.delay, life.why
end

-- OVER: the outcome again (the life ended as its answer came).
local function over(life)
  if life.user ~= false then return "done", life.user, life.res end
  return "fail", life.res
end

local function out() error("lifecycle: a step while a request is out (answer first)", 3) end

local STEPS = { [PLAN] = plan_step, [ADMIT] = admit, [PREPARE] = prepare, [SENT] = out, [RETRY] = retry_step,
                [OVER] = over }

function next_step(life, now) return STEPS[life.phase](life, now) end

--- The life's next move (see the module's comment). `now`: the
-- transport's clock.
_M.step = next_step

--- What the transport gave for the request of the last "send" (the one
-- place a transport's result enters: `res`, or nil, message, code, sent),
-- at `now`: counted, observed and judged. Returns the next move, as `step`.
function _M.answer(life, now, res, message, code, sent)
  local o, req = life.drv.o, life.spec
  local seconds = res and res.elapsed or now - life.sent_at
  if o.metrics ~= false then
    metrics.attempt(life.drv.entry.decl.name, req.method, req.address, res and res.status or "",
                    res and (res.status >= 400 and tostring(res.status) or "") or code, seconds)
  end
  if o.on_event then events.answer(life, now, res, code, seconds) end
  if not res and code == "timeout" and life.deadline and now >= life.deadline - 0.01 and (req.idempotent or not sent) then
    return finish(life, now, nil, deadline_error(life, "answer", life.last))
  end
  local action, a, b, pause = response.decide(life.drv.entry, o, life.tries, life.refreshed, res, message, code, sent,
                                              req.idempotent)
  if pause and life.drv.gate and life.spec.budget ~= false then life.drv.gate:pause(pause) end
  if action == "done" then
    if not life.call then return finish(life, now, a, b) end -- the default plan: the item's outcome
    life.user, life.res, life.phase = a, b, PLAN
  elseif action == "fail" then
    life.last = a
    if not life.call then return finish(life, now, nil, a) end
    life.res, life.phase = a, PLAN
  elseif action == "refresh" then -- not counted as an attempt
    life.refreshed, life.attempts, life.tries = true, life.attempts - 1, life.tries - 1
    life.refused, life.token = life.req_token, false
    life.phase = ADMIT
  else
    retry(life, now, a, b, res and res.status == 429 and "throttled" or "retry")
  end
  return next_step(life, now)
end

--- Ends a life the driver will not go on with (a bulk run that stopped):
-- with `err`, else its last error, else "not sent".
function _M.stop(life, now, err)
  if life.phase == OVER then return over(life) end
  err = err or life.last or errors.new {
    kind = "transport", code = "aborted", provider = life.drv.entry.decl.name, retryable = true,
    message = "not sent: the run stopped while it waited for its budget slot" }
  return finish(life, now, nil, err)
end

--- Whether the life's current request is its own plan's (not a token's).
function _M.main(life) return own(life) end

return _M
