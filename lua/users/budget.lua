--- One budget per account, shared by every caller that uses the same store:
-- its rate ceiling (GCRA: `rate` requests per second, paced 5% under it,
-- bursts of `burst`, default 1), the pause a 429's Retry-After asked for,
-- and the provider's token (lexful's JWT). An account is its provider, its
-- base URL and its account id (lexful), or else a digest of its credential:
-- never a secret itself.
--
-- Where it lives is `opts.budget`:
--   "local" (the default)        this Lua state          users/budget/local.lua
--   { shared_dict = "NAME" }     every worker of one nginx users/budget/shdict.lua
--   "redis://HOST:PORT[/DB]"     every host               users/budget/redis.lua
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
local LOCAL = require "users.budget.local"

local _M = {}

local type, pairs, tostring, tonumber, setmetatable, rawget = type, pairs, tostring, tonumber, setmetatable, rawget
local max, min, huge = math.max, math.min, math.huge
local format = string.format
local now = core.now

--- Requests leave 5% under the rate: one that leaves late (its connection
-- still opening) must not land in the same second as one more than the
-- server allows, as the server counts them.
_M.MARGIN = 1.05

--- Seconds before a store that failed is tried again.
_M.RETRY_DOWN = 1

---------------------------------------------------------------- digests

local function hex(bin)
  return (bin:gsub(".", function(c) return format("%02x", c:byte()) end))
end

-- SHA-1, as hex: nginx's own inside nginx, luaossl's elsewhere (the same
-- digest, so that nginx and plain Lua hosts name an account alike).
local sha1
do
  local ngx = rawget(_G, "ngx")
  if ngx and ngx.sha1_bin then
    sha1 = function(s) return hex(ngx.sha1_bin(s)) end
  else
    local ok, digest = pcall(require, "openssl.digest")
    if ok then sha1 = function(s) return hex(digest.new("sha1"):final(s)) end end
  end
end
_M.sha1 = sha1

local digests, n_digests = {}, 0
local function digest(s)
  local d = digests[s]
  if d then return d end
  if not sha1 then return s end -- the local store only: the key never leaves memory
  if n_digests >= 256 then digests, n_digests = {}, 0 end
  d = sha1("lua-users\0" .. s):sub(1, 32)
  digests[s], n_digests = d, n_digests + 1
  return d
end

---------------------------------------------------------------- the option

local SHAPE = 'must be "local", { shared_dict = "NAME" } or "redis://HOST:PORT[/DB]"'
local LOCAL_SPEC = { kind = "local", id = "local" }
local parsed = {}

local function parse_redis(text)
  local rest = text:match("^redis://(.+)$")
  if not rest then return nil end
  local query
  rest, query = rest:match("^([^?]*)%??(.*)$")
  -- user information up to the last @; its %XX decoded (RFC 3986: a password
  -- holding @, ? or / is written %40, %3F, %2F)
  local password, hostport = rest:match("^:?(.*)@([^@]*)$")
  if not hostport then hostport = rest end
  password = password and password:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
  local authority, path = hostport:match("^([^/]+)(.*)$")
  if not authority then return nil end
  local host, port = authority:match("^%[([%x:]+)%]:?(%d*)$")
  if not host then host, port = authority:match("^([%w%.%-]+):?(%d*)$") end
  if not host then return nil end
  port = port == "" and 6379 or tonumber(port)
  if not port or port < 1 or port > 65535 then return nil end
  local db = 0
  if path ~= "" and path ~= "/" then
    db = tonumber(path:match("^/(%d+)$"))
    if not db then return nil end
  end
  local tokens = true
  for k, v in query:gmatch("([^&=]+)=([^&]*)") do
    if k == "tokens" and (v == "local" or v == "shared") then tokens = v == "shared"
    else return nil end
  end
  local url = format("redis://%s:%d/%d", authority:match("^%[") and "[" .. host .. "]" or host, port, db)
  return { kind = "redis", host = host, port = port, db = db, url = url, tokens = tokens,
           password = password ~= "" and password or nil,
           id = url .. (password and ("#" .. password) or "") }
end

--- The budget option parsed: a spec `{ kind, id, ... }`, or nil and what is
-- wrong with it.
function _M.parse(v)
  if v == nil or v == "local" then return LOCAL_SPEC end
  if type(v) == "string" then
    local spec = parsed[v]
    if spec then return spec end
    spec = parse_redis(v)
    if not spec then return nil, SHAPE end
    parsed[v] = spec
    return spec
  end
  if type(v) ~= "table" then return nil, SHAPE end
  for k in pairs(v) do
    if k ~= "shared_dict" and k ~= "tokens" then return nil, "has an unknown key '" .. tostring(k) .. "'" end
  end
  if type(v.shared_dict) ~= "string" or v.shared_dict == "" then return nil, SHAPE end
  if v.tokens ~= nil and v.tokens ~= "local" and v.tokens ~= "shared" then
    return nil, 'has tokens = "local" or "shared"'
  end
  return { kind = "shared_dict", name = v.shared_dict, id = "shared_dict:" .. v.shared_dict,
           tokens = v.tokens ~= "local" }
end

--- What is wrong with a budget option, or nil. `fname` is the function it
-- was given to: the store must exist where it is used (not in prepare,
-- which ignores it).
function _M.problem(v, fname)
  local spec, problem = _M.parse(v)
  if not spec then return problem end
  if spec.kind == "shared_dict" and fname ~= "prepare" then
    local ngx = rawget(_G, "ngx")
    if not (ngx and ngx.shared) then return "{ shared_dict = ... } works inside nginx only" end
    if not ngx.shared[spec.name] then
      return "names a shared dict that nginx.conf does not declare (lua_shared_dict " .. spec.name .. " 1m;)"
    end
  end
end

local stores = {}

-- The store of a spec, or nil and why it cannot be had.
local function store_for(spec)
  if spec.kind == "local" then return LOCAL end
  local store = stores[spec.id]
  if store then return store end
  if not sha1 then
    return nil, "a shared budget needs SHA-1 to name accounts: install lua-luaossl"
  end
  local err
  if spec.kind == "shared_dict" then
    store, err = require("users.budget.shdict").new(spec.name)
  else
    store, err = require("users.budget.redis").new(spec, sha1)
  end
  if store then stores[spec.id] = store end
  return store, err
end

---------------------------------------------------------------- warnings

--- Where warnings go (a store lost, or back): nginx's error log inside
-- nginx, stderr elsewhere. Replace it to send them elsewhere.
function _M.warn(message)
  local ngx = rawget(_G, "ngx")
  if ngx and ngx.log and ngx.WARN then
    ngx.log(ngx.WARN, "lua-users: ", message)
  else
    io.stderr:write("lua-users: ", message, "\n")
  end
end

---------------------------------------------------------------- a gate

local Gate = {}
Gate.__index = Gate

local down = {} -- store id -> { retry_at, err, warned }
local handoff = {} -- store id and key -> the next slot after the last the store gave (this host's clock)

--- Runs a store method for a key: the shared store, or, while it cannot
-- be reached, the local budget (budget_fallback = "local") or an error.
-- Across a hand-over neither budget gives a slot before the other's last.
function Gate:run(method, key, ...)
  local store, id = self.store, self.spec.id
  local state = down[id]
  local r1, r2
  if not store then
    r1, r2 = nil, self.problem
  elseif state and now() < state.retry_at then
    r1, r2 = nil, state.err
  else
    if state and self.fallback and method == "reserve" and LOCAL:ahead(key) > 0 then
      store:pause(key, LOCAL:ahead(key), 0) -- whether it answers, the call below tells
    end
    r1, r2 = store[method](store, key, ...)
    if method == "reserve" and r1 and self.fallback then
      handoff[id .. "\n" .. key] = now() + r2 + self.interval
    end
    if r1 == nil and r2 ~= nil then
      state = { retry_at = now() + _M.RETRY_DOWN, err = r2, warned = state and state.warned }
      down[id] = state
    elseif state then
      down[id] = nil
      if state.warned then _M.warn("budget " .. store.name .. " answers again: the shared budget resumes") end
    end
  end
  if r1 == nil and r2 ~= nil then
    local name = store and store.name or self.spec.url or self.spec.id
    if self.fallback then
      if state and not state.warned then
        state.warned = true
        _M.warn(("budget %s cannot be used (%s): a local budget stands in until it answers")
          :format(name, tostring(r2)))
      end
      if method == "reserve" then LOCAL:seed(key, handoff[id .. "\n" .. key]) end
      return LOCAL[method](LOCAL, key, ...)
    end
    return nil, errors.new {
      kind = "budget", code = "budget_unavailable", provider = self.provider, retryable = true,
      message = ("the budget %s cannot be used (%s); budget_fallback = \"local\" would go on with a local budget")
        :format(name, tostring(r2)),
    }
  end
  return r1, r2
end

local function credential(o)
  if o.token then return "token\n" .. o.token end
  if o.key_id then return "key\n" .. o.key_id .. "\n" .. tostring(o.key_secret) end
  return ""
end

local function base(o) return tostring(o.base_url) end -- as given, as tokens were always keyed

local function new_gate(entry, o, spec)
  local store, problem = store_for(spec)
  local rate = o.rate
  local interval = rate and _M.MARGIN / rate or 0
  return setmetatable({
    store = store, problem = problem, spec = spec, provider = entry.decl.name,
    fallback = o.budget_fallback == "local", rate = rate,
    interval = interval, tolerance = interval * ((o.burst or 1) - 1),
  }, Gate)
end

--- The gate of the account these options name, or nil when they ask for
-- no budget (neither `rate` nor `budget`: nothing is kept between calls).
function _M.gate(entry, o)
  if o.rate == nil and o.budget == nil then return nil end
  local spec = assert(_M.parse(o.budget))
  local g = new_gate(entry, o, spec)
  local who = o.account_id and ("account " .. tostring(o.account_id)) or ("credential " .. digest(credential(o)))
  g.key = "lua-users:budget:" .. entry.decl.name .. ":" .. base(o) .. ":" .. who
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

--- Waits for a slot (users.update): sleeps with the transport (ngx.sleep
-- inside nginx), at most until the deadline, or `timeout` seconds without
-- one. Returns true, or nil and an error (rate_limited: the next slot is
-- further than that; budget_unavailable).
function Gate:wait(transport, deadline, timeout)
  local limit = deadline or (transport.now() + timeout)
  while true do
    local ok, wait = self:run("reserve", self.key, self.interval, self.tolerance, max(0, limit - transport.now()))
    if ok == nil then return nil, wait end
    if not ok then return nil, self:too_far(wait, deadline) end
    if wait <= 0 then return true end
    transport.sleep(wait)
    -- A 429 elsewhere may have paused the account meanwhile: that slot is
    -- void, and the next comes after the pause.
    local left, err = self:run("paused", self.key)
    if left == nil then return nil, err end
    if left <= 0 then return true end
  end
end

--- Records the pause a 429 asked for, for everyone who shares the budget.
-- Best effort: a store that cannot be reached loses it.
function Gate:pause(seconds)
  if seconds and seconds > 0 then self:run("pause", self.key, seconds, self.tolerance) end
end

---------------------------------------------------------------- deadlines

--- The error of a call whose deadline ran out while it was `waiting_for`
-- ("answer", "retry", "budget" or "token"); `last`: the last error.
function _M.deadline_error(provider, seconds, waiting_for, last)
  local what = {
    answer = "while waiting for the provider's answer",
    retry = "before the retry it was waiting for",
    budget = "while waiting for a budget slot",
    token = "while waiting for another caller's token request",
  }
  local message = format("the deadline (%g s) ran out %s", seconds or 0, what[waiting_for] or waiting_for)
  if last then message = message .. " (the last error: " .. tostring(last.message or last.code) .. ")" end
  return errors.new { kind = "transport", code = "timeout", provider = provider, retryable = true,
                      waiting_for = waiting_for, message = message,
                      status = last and last.status, retry_after = last and last.retry_after }
end

--- Bounds a prepared request's timeouts by what is left before the
-- deadline; false when nothing is left.
function _M.clamp(req, o, deadline, t)
  local left = deadline - t
  if left <= 0 then return false end
  req.timeout = min(o.timeout, left)
  req.connect_timeout = min(o.connect_timeout, left)
  return true
end

--- For bulk runs: whether `job` may leave now. Returns 0 (go), seconds to
-- wait for its slot (taken, or a pause), or nil and an error (the item's
-- deadline ran out, no slot before it, the store cannot be reached).
-- `gate` may be nil (no budget): the deadline still counts.
function _M.admit(gate, job, o, t)
  if o.deadline then
    job.deadline = job.deadline or t + o.deadline
    o._deadline = job.deadline -- for a token request made as the job is prepared
    if t >= job.deadline then
      return nil, _M.deadline_error(gate and gate.provider or job.provider, o.deadline,
                                    job.err and "retry" or "budget", job.err)
    end
  end
  if not gate then return 0 end
  if job.slot then
    job.slot = nil
    local left, err = gate:run("paused", gate.key)
    if left == nil then return nil, err end
    if left <= 0 then return 0 end
  end
  local ok, wait = gate:run("reserve", gate.key, gate.interval, gate.tolerance,
                            job.deadline and (job.deadline - t) or huge)
  if ok == nil then return nil, wait end
  if not ok then return nil, gate:too_far(wait, job.deadline) end
  if wait <= 0 then return 0 end
  job.slot = true
  return wait
end

--- The outcome of a job the run stopped before its slot came.
function _M.unsent(provider)
  return errors.new { kind = "transport", code = "aborted", provider = provider, retryable = true,
                      message = "not sent: the run stopped while it waited for its budget slot" }
end

---------------------------------------------------------------- tokens

--- The provider's token for these options: from the budget's store (a
-- shared budget shares it, unless its `tokens` is "local"), or fetched,
-- once for everyone: `fetch()` -> { token, ttl } | nil, err runs under a
-- lock while the others wait. `refused`: a token the server refused (a
-- new one is fetched unless someone already has), or true (fetch anew).
function _M.token(entry, o, fetch, refused)
  local spec = assert(_M.parse(o.budget))
  if not spec.tokens then spec = LOCAL_SPEC end
  local g = new_gate(entry, o, spec)
  local key = "lua-users:token:" .. entry.decl.name .. ":" .. base(o) .. ":" .. tostring(o.account_id)
    .. ":" .. digest(credential(o))
  local lock = key .. ":lock"
  local transport = o.transport
  local lock_ttl = o.timeout + 1
  local give_up = min(o._deadline or huge, transport.now() + lock_ttl + 1)
  local step = 0.005
  local function usable(t) return t and t ~= refused and refused ~= true end
  while true do
    local t, err = g:run("get", key)
    if err then return nil, err end
    if usable(t) then return t end
    local owner, lerr = g:run("lock", lock, lock_ttl)
    if lerr then return nil, lerr end
    if owner then
      t = g:run("get", key) -- stored while we took the lock?
      if usable(t) then
        g:run("unlock", lock, owner)
        return t
      end
      local fresh, ferr = fetch()
      if fresh then g:run("set", key, fresh.token, max(0.001, fresh.ttl)) end
      g:run("unlock", lock, owner)
      if not fresh then return nil, ferr end
      return fresh.token
    end
    if transport.now() + step >= give_up then
      if o._deadline and give_up == o._deadline then
        return nil, _M.deadline_error(entry.decl.name, o.deadline, "token")
      end
      return nil, errors.new { kind = "transport", code = "timeout", provider = entry.decl.name,
                               retryable = true, waiting_for = "token",
                               message = "another caller's token request did not end in time" }
    end
    transport.sleep(step)
    step = min(step * 2, 0.1)
  end
end

_M._digest = digest

return _M
