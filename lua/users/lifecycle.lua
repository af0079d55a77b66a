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
--   local life = lifecycle.new(entry, o, id, fields, now, opts)
--   lifecycle.step(life, now) -> "send", req          send it, then lifecycle.answer(life, <its result>)
--                             -> "wait", seconds, why  come back then (why: "budget", "retry",
--                                                      "throttled" (a 429's back-off), "token", "plan")
--                             -> "done", user, res     over: the outcome
--                             -> "fail", err           over: the outcome
--
-- A provider's update is a plan of steps (lua/README, "A provider's update
-- as steps"): the default one sends the declaration's own request; a token
-- fetch is a plan of the same shape (users/auth.lua) run inside the life
-- that needs the token.
local errors = require "users.errors"
local client = require "users.client"
local response = require "users.response"
local auth = require "users.auth"
local deadline = require "users.deadline"
local secrets = require "users.secrets"
local suggest = require "users.suggest"
local trace = require "users.trace"
local events = require "users.events"
local metrics = require "users.metrics"

local _M = {}

local type, pcall, setmetatable, tostring = type, pcall, setmetatable, tostring
local huge = math.huge

--- What a request carries for a token that would be fetched, where nothing
-- may be sent (prepare with fetch_token = false, dry runs).
_M.PLACEHOLDER_TOKEN = "[token fetched at run time]"

---------------------------------------------------------------- the plan's view

local Call = {}
Call.__index = Call

--- The declaration's own request for the item (validated, encoded), or nil, err.
function Call:request() return client.request(self.entry, self.id, self.fields, self.opts) end

--- The base URL + path, `{param}` the id's validated, percent-encoded values.
function Call:url(path) return client.url(self.entry, self.id, self.opts, path) end

--- An error of this provider (kind "http" and not retryable unless said).
function Call:error(t)
  t.kind, t.provider = t.kind or "http", self.provider
  if t.retryable == nil then t.retryable = false end
  return errors.new(t)
end

--- The plan of a declaration without one: its own request, its outcome.
function _M.default_plan(call, user, res)
  if call.step == 1 then return "send", call:request() end
  if user == nil then return "fail", res end
  return "done", user, res
end

---------------------------------------------------------------- a life

-- Phases.
local PLAN, ADMIT, PREPARE, SENT, ANSWERED, OVER = 1, 2, 3, 4, 5, 6

--- A new life. `opts`: `gate` (the account's budget gate, or nil), `limit`
-- (the longest wait for a slot without a deadline: update's timeout, a bulk
-- run's none), `offline` (a token that would be fetched is not: the
-- request carries PLACEHOLDER_TOKEN), `dry` (no admission, no deadline).
function _M.new(entry, o, id, fields, now, opts)
  local decl = entry.decl
  local call = setmetatable({ entry = entry, id = id, fields = fields, opts = o, provider = decl.name,
                              step = 0, attempts = 0, plan = decl.plan or _M.default_plan }, Call)
  if decl.plan then call.state = {} end
  local dry = opts and opts.dry
  return {
    entry = entry, o = o, provider = decl.name, stack = { call }, phase = PLAN, started = now,
    gate = not dry and opts and opts.gate or nil, limit = opts and opts.limit or huge,
    offline = opts and opts.offline, deadline = not dry and o.deadline and now + o.deadline or nil,
    attempts = 0, tries = 0, handler = o.on_event, counted = o.metrics ~= false,
    trace = o.traceparent ~= false and trace.parent(o) or nil,
  }
end

-- The life is over: its outcome, scrubbed once, and what it held let go.
local function finish(life, now, user, res_or_err)
  life.phase = OVER
  for i = #life.stack, 1, -1 do
    local on_end = life.stack[i].on_end
    if on_end then pcall(on_end) end
  end
  local list = secrets.of(life.o, life.sent)
  if user ~= nil then
    local res = res_or_err or life.last_res or {}
    res.attempts, res.elapsed = life.attempts, now - life.started
    if res.headers then secrets.scrub_flat(res.headers, list) end
    if life.handler then events.outcome(life, now, nil, res) end
    return "done", user, res
  end
  local err = res_or_err
  if not errors.is_error(err) then
    err = errors.invalid(life.provider, {}, "the update's plan failed: " .. tostring(err))
  end
  if err.kind ~= "invalid" and err.kind ~= "config" then err.attempts = life.attempts end
  if err.kind == "invalid" then suggest.fields(life.entry, err) end
  secrets.scrub(err, list)
  if life.handler then events.outcome(life, now, err) end
  return "fail", err
end

local function deadline_error(life, waiting_for, last)
  return deadline.error(life.provider, life.o.deadline, waiting_for, last)
end

-- The top plan's next move.
local function ask(life)
  local call = life.stack[#life.stack]
  call.step, call.attempts = call.step + 1, life.attempts
  local user, res = life.user, life.res
  life.user, life.res = nil, nil
  local ok, verb, a, b = pcall(call.plan, call, user, res)
  if not ok then return "fail", errors.invalid(life.provider, {}, type(verb) == "string" and verb or "the update cannot be made") end
  if verb == "send" and a == nil then return "fail", b end -- call:request() failed
  return verb, a, b
end

-- A plan pushed inside the life: the token's, before the request that needs it.
local function push_token_plan(life)
  local top = life.stack[#life.stack]
  life.stack[#life.stack + 1] = setmetatable({ entry = life.entry, id = top.id, fields = top.fields, opts = life.o,
                                               provider = life.provider, step = 0, attempts = 0, state = {},
                                               plan = auth.plan, refused = life.refused, started = life.now,
                                               parent = { life.spec, life.req, life.req_token, life.tries, life.refreshed } },
                                             Call)
  life.refused = nil
  life.phase = PLAN
end

-- A sub-plan ended: the token is the parent request's, which goes on.
local function pop(life, now, verb, a)
  local call = life.stack[#life.stack]
  life.stack[#life.stack] = nil
  if call.on_end then pcall(call.on_end) end
  if verb ~= "done" then return finish(life, now, nil, a) end
  life.token = a
  local p = call.parent
  life.spec, life.req, life.req_token, life.tries, life.refreshed = p[1], p[2], p[3], p[4], p[5]
  if life.handler then events.token(life, now, call) end
  life.phase = PREPARE
end

-- PLAN: ask the plan; a request goes to admission.
local function plan_step(life, now)
  local verb, a, b = ask(life)
  if verb == "send" then
    life.spec, life.req, life.tries, life.refreshed = a, nil, 0, a.auth == false
    life.phase = ADMIT
    return
  elseif verb == "wait" then
    local why = b or "plan"
    if life.deadline and now + a > life.deadline then return finish(life, now, nil, deadline_error(life, why, life.last)) end
    if life.handler then events.wait(life, now, a, why) end
    return "wait", a, why
  elseif #life.stack > 1 then
    return pop(life, now, verb, a)
  elseif verb == "done" then
    return finish(life, now, a, b)
  end
  return finish(life, now, nil, a)
end

-- A budget refusal of an attempt: retried as a failed attempt is, while it
-- may be; else the outcome.
local function budget_refusal(life, now, err)
  life.tries = life.tries + 1
  local delay = response.backoff(life.o, life.tries, err.retry_after)
  if err.code == "budget_unavailable" and life.tries <= life.o.retries
     and not (life.deadline and now + delay > life.deadline) then
    life.last = err
    if life.counted then metrics.retry(life.provider, life.spec.method, (client.server(life.entry, life.o))) end
    if life.handler then events.retry(life, now, err, delay) end
    return "wait", delay, "retry"
  end
  return finish(life, now, nil, err)
end

-- ADMIT: the item's deadline, then the account's slot (the one way to take
-- one: users/budget.lua's Gate:take); a slot taken ahead is checked again
-- when its time comes (a 429 elsewhere may have voided it).
local function admit(life, now)
  if life.deadline and now >= life.deadline then
    return finish(life, now, nil, deadline_error(life, life.last and "retry" or "budget", life.last))
  end
  local gate = life.gate
  if gate and life.spec.budget ~= false then
    local go = false
    if life.slot then
      life.slot = nil
      local void, err = gate:void()
      if void == nil then return budget_refusal(life, now, err) end
      go = not void
    end
    if not go then
      local wait, err = gate:take(life.deadline and life.deadline - now or life.limit, life.deadline)
      if not wait then return budget_refusal(life, now, err) end
      if wait > 0 then
        life.slot = true
        if life.handler then events.wait(life, now, wait, "budget") end
        return "wait", wait, "budget"
      end
    end
  end
  life.phase = PREPARE
end

-- PREPARE: the token (a plan of its own when it must be fetched), the
-- request completed, its timeouts bounded, its traceparent; then it leaves.
local function prepare(life, now)
  local spec, o = life.spec, life.o
  if spec.auth ~= false and not life.token then
    if o.token and not life.refused then
      life.token = o.token
    elseif auth.request(life.entry, o) then
      if life.offline then
        life.token = _M.PLACEHOLDER_TOKEN
      else
        return push_token_plan(life)
      end
    end
  end
  local req, token = life.req, spec.auth ~= false and life.token or nil
  if not req then
    local err
    req, err = client.complete(life.entry, o, spec, token)
    if not req then return finish(life, now, nil, err) end
    life.req, life.req_token = req, token
  elseif token and life.req_token ~= token then
    client.with_header(req, "Authorization", "Bearer " .. token)
    life.req_token = token
  else
    token = nil -- sent before
  end
  if token and token ~= o.token and token ~= _M.PLACEHOLDER_TOKEN then -- a fetched token: secret too
    local sent = life.sent or {}
    sent[#sent + 1], life.sent = token, sent
  end
  if life.deadline and not deadline.clamp(req, o, life.deadline, now) then
    return finish(life, now, nil, deadline_error(life, life.last and "retry" or "budget", life.last))
  end
  if life.trace then
    local header
    header, life.span = trace.child(life.trace)
    client.with_header(req, "traceparent", header)
  end
  life.tries, life.sent_at = life.tries + 1, now
  if #life.stack == 1 then life.attempts = life.attempts + 1 end -- a token request is not an attempt
  req.attempt = #life.stack == 1 and life.attempts or life.tries -- for a transport that logs
  life.phase = SENT
  if life.handler then events.request(life, now) end
  return "send", req
end

-- ANSWERED: counted, observed, judged; the outcome goes back to the plan.
local function judge(life, now)
  local res, message, code, sent = life.a_res, life.a_message, life.a_code, life.a_sent
  life.a_res, life.a_message, life.a_code, life.a_sent = nil, nil, nil, nil
  local seconds = res and res.elapsed or now - life.sent_at
  if life.counted then
    metrics.attempt(life.provider, life.req.method, life.req.address, res and res.status or "",
                    res and (res.status >= 400 and tostring(res.status) or "") or code, seconds)
  end
  if life.handler then events.answer(life, now, res, code, seconds) end
  if not res and code == "timeout" and life.deadline and now >= life.deadline - 0.01 then
    return finish(life, now, nil, deadline_error(life, "answer", life.last))
  end
  local v = response.judge(life.entry, life.o, life.tries, life.refreshed, res, message, code, sent)
  if v.pause and life.gate and life.spec.budget ~= false then life.gate:pause(v.pause) end
  local action = v.action
  if action == "done" or action == "fail" then
    life.user, life.res, life.last_res = v.user, v.user ~= nil and v.res or v.err, v.res
    if action == "fail" then life.last = v.err end
    life.phase = PLAN
  elseif action == "refresh" then -- not counted as an attempt
    life.refreshed, life.attempts, life.tries = true, life.attempts - 1, life.tries - 1
    life.refused, life.token = life.req_token or true, nil
    life.phase = ADMIT
  else
    life.last = v.err
    if life.deadline and now + v.delay > life.deadline then
      return finish(life, now, nil, deadline_error(life, "retry", v.err))
    end
    if life.counted then metrics.retry(life.provider, life.req.method, life.req.address) end
    if life.handler then events.retry(life, now, v.err, v.delay) end
    life.phase = ADMIT
    return "wait", v.delay, res and res.status == 429 and "throttled" or "retry"
  end
end

local STEPS = { [PLAN] = plan_step, [ADMIT] = admit, [PREPARE] = prepare, [ANSWERED] = judge }

--- The life's next move (see the module's comment). `now`: the
-- transport's clock.
function _M.step(life, now)
  life.now = now
  while true do
    local f = STEPS[life.phase]
    if not f then error("lifecycle: no step in phase " .. tostring(life.phase), 2) end
    local verb, a, b = f(life, now)
    if verb then return verb, a, b end
  end
end

-- The transports' failure codes (users/transport.lua).
local CODES = { timeout = true, connect = true, dns = true, tls = true, reset = true, too_large = true,
                bad_url = true, aborted = true, file_changed = true, transport = true }

--- What the transport gave for the request of the last "send" (the one
-- place a transport's result enters): `res`, or nil, message, code, sent.
function _M.answer(life, res, message, code, sent)
  -- Until the transports turn to that order (COORD.md interface 2), they fail as nil, code, message:
  if not res and CODES[message] and not CODES[code] then message, code = code, message end
  life.a_res, life.a_message, life.a_code, life.a_sent = res, message, code, sent
  life.phase = ANSWERED
end

--- Ends a life the driver will not go on with (a bulk run that stopped):
-- with `err`, else its last error, else "not sent".
function _M.stop(life, now, err)
  if life.phase == OVER then return end
  err = err or life.last or errors.new {
    kind = "transport", code = "aborted", provider = life.provider, retryable = true,
    message = "not sent: the run stopped while it waited for its budget slot" }
  return finish(life, now, nil, err)
end

--- Whether the life's current request is its own plan's (not a token's).
function _M.main(life) return #life.stack == 1 end

return _M
