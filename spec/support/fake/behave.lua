-- Scripted behaviours (delay, drop, canned responses, throttling, ...) set by
-- the controller. They live in the fake_state shared dict so that they hold
-- across requests and connections; counters use atomic incr so that `times`
-- stays exact under concurrent requests.
local serialize = require "serialize"
local common = require "common"

local state = ngx.shared.fake_state
local M = {}

-- Behaviours that a `times = N` in the same call limits to N requests.
local COUNTED = { respond = true, drop = true, huge = true, not_json = true, delay = true }

local function load(who)
  local s = state:get("b:" .. who)
  return s and serialize.decode(s) or {}
end

--- Merge spec into the behaviours of `who` (a provider name or "*").
--  A kind set to false is removed; spec == false removes them all.
function M.set(who, spec)
  local current = spec and load(who) or {}
  for kind, v in pairs(spec or {}) do
    if kind ~= "times" then
      local counter = "n:" .. who .. ":" .. kind
      if v == false then
        current[kind] = nil
        state:delete(counter)
      else
        if kind == "throttle" and type(v) == "table" then
          v.since = ngx.now() -- windows start now, so tests do not race a clock tick
        end
        current[kind] = v
        if kind == "script" then
          state:set(counter, 0)
        elseif COUNTED[kind] and spec.times then
          state:set(counter, spec.times)
        else
          state:delete(counter)
        end
      end
    end
  end
  state:set("b:" .. who, serialize.encode(current))
end

--- The behaviour `kind` for provider `name` (its own first, then "*"),
--  consuming one use of it. Returns the value, or nil.
function M.take(name, kind)
  for _, who in ipairs({ name, "*" }) do
    local v = load(who)[kind]
    if v ~= nil then
      local counter = "n:" .. who .. ":" .. kind
      if kind == "script" then
        local i = state:incr(counter, 1, 0)
        if v[i] then return v[i] end
      else
        local left = state:incr(counter, -1)
        if left == nil or left >= 0 then return v end
      end
    end
  end
end

--- Like take, without consuming (for settings such as token_ttl).
function M.peek(name, kind)
  local v = load(name)[kind]
  if v == nil then v = load("*")[kind] end
  return v
end

-- Fixed-window throttle, windows counted from when it was set: counts this
-- request, returns the throttle spec, how many requests the window has seen,
-- and when the window ends.
local function count_throttle(name)
  local t = M.peek(name, "throttle")
  if type(t) ~= "table" or not t.limit then return nil end
  local window, since = t.window or 1, t.since or 0
  local slot = math.floor((ngx.now() - since) / window)
  local n = state:incr("t:" .. name .. ":" .. since .. ":" .. slot, 1, 0, window * 2 + 1)
  return t, n, since + (slot + 1) * window
end

-- A request is of the generation of behaviours current when it came
-- (handler.lua notes it); reset() begins a new one.
local function generation() return ngx.shared.fake_seq:get("gen") or 0 end

function M.arrived() ngx.ctx.gen = generation() end

-- Sleeps; a request that a reset() overtook meanwhile (one whose client gave
-- up in an earlier test) is closed then, taking nothing of the behaviours,
-- scripts and counters set since for the requests of a later test. Never
-- returns in that case.
local function sleep(seconds)
  if type(seconds) == "number" and seconds > 0 then ngx.sleep(seconds) end
  if ngx.ctx.gen ~= generation() then return ngx.exit(444) end
end

-- A canned response: { status, body (string or table), headers, delay, drop }.
-- "@BEARER@" in a string body, a header name or value is the request's
-- bearer token, echoed back as careless servers do.
local function canned(r)
  sleep(r.delay)
  if r.drop then return ngx.exit(444) end
  local bearer = (ngx.var.http_authorization or ""):match("(%S+)%s*$") or ""
  local function echo(v)
    if type(v) ~= "string" or not v:find("@BEARER@", 1, true) then return v end
    return (v:gsub("@BEARER@", function() return bearer end))
  end
  local headers = {}
  for k, v in pairs(r.headers or {}) do headers[echo(k)] = echo(v) end
  return common.send(r.status or 200, echo(r.body), headers)
end

local function huge_body(size)
  local head, tail = '{"data":"', '"}'
  return head .. string.rep("x", math.max(0, size - #head - #tail)) .. tail
end

-- A number in [0, 1) from the seed, the URI and the attempt: the same run
-- of faults for the same seed, whatever the order requests arrive in.
local function draw(seed, uri, attempt)
  local m = 4294967296 -- every step stays below 2^53: exact in doubles
  local h = 5381
  for i = 1, #uri do h = (h * 33 + uri:byte(i)) % m end
  h = (h + seed * 7919 + attempt * 104729) % m
  for _ = 1, 3 do h = (h * 69069 + 1) % m end
  return h / m
end

-- Seeded faults for the soak: { seed, p500, p429, preset, pmalformed,
-- pstall, stall = seconds, upto = attempts that may fault }. Past `upto`
-- attempts of one URI the request passes, so every fault is transient.
-- Updates the vendor will apply are marked "applied:<uri>".
local function fault(faults)
  local uri = ngx.var.uri
  local attempt = state:incr("f:" .. uri, 1, 0)
  local x = attempt <= (faults.upto or 2) and draw(faults.seed or 1, uri, attempt) or 1
  local function band(p) local hit = x < (p or 0); x = x - (p or 0); return hit end
  if band(faults.p500) then
    return common.send(500, { error = "server_error", message = "Internal error" })
  elseif band(faults.p429) then
    local ra = attempt % 2 == 0 and ngx.http_time(ngx.time()) or "0"
    return common.send(429, { error = "rate_limited", message = "Too many requests" }, { ["Retry-After"] = ra })
  elseif band(faults.preset) then
    return ngx.exit(444)
  elseif band(faults.pmalformed) then
    if attempt % 2 == 0 then -- a gateway's garbage
      return common.send(502, '{"error": "bad gateway", "message": "upstr', { ["Content-Type"] = "application/json" })
    end
    ngx.status = 200 -- a body cut short of its Content-Length
    ngx.header["Content-Type"] = "application/json"
    ngx.header["Content-Length"] = 64
    ngx.print('{"id":"')
    ngx.flush(true)
    return ngx.exit(444)
  elseif band(faults.pstall) then
    state:set("applied:" .. uri, true)
    sleep(faults.stall or 1)
    return -- the vendor answers, too late for the client
  end
  state:set("applied:" .. uri, true)
end

-- Applications counted per item (the request's path), for the fault spec of
-- ambiguous outcomes: { every = N, key = "Idempotency-Key" }. The first
-- application of an item whose number (the path's last digits) is a
-- multiple of N is made, then its connection dropped before the answer
-- (common.send). With `key`, a request that carries a key seen before gets
-- the first answer again and is not applied again (an idempotency key).
local function ledger(spec)
  local key = spec.key and ngx.var["http_" .. spec.key:lower():gsub("-", "_")]
  local stored = key and state:get("k:" .. key)
  if stored then
    local r = serialize.decode(stored)
    return common.send(r.status, r.body)
  end
  ngx.ctx.ledger = { path = ngx.var.uri, key = key, every = spec.every }
end

--- Apply the behaviours of provider `name` to the current request. Returns
--  normally when the vendor should answer as usual; otherwise ends the request.
function M.apply(name, vendor)
  local faults = M.peek(name, "faults")
  if faults then return fault(faults) end
  local led = M.peek(name, "ledger")
  if led then ledger(led) end
  local throttle, seen, reset_at = count_throttle(name)
  sleep(M.take(name, "delay"))
  if M.take(name, "drop") then return ngx.exit(444) end
  -- A server that closes a kept-alive connection as a request arrives on it
  -- (an idle timeout racing the client): the client resends on a new one.
  if M.peek(name, "drop_reused") and tonumber(ngx.var.connection_requests) > 1 then return ngx.exit(444) end

  local step = M.take(name, "script")
  if step and not step.pass then return canned(step) end
  local respond = M.take(name, "respond")
  if respond then return canned(respond) end

  if throttle then
    local remaining = math.max(0, throttle.limit - seen)
    if vendor.rate_limit_headers then
      ngx.ctx.extra_headers = {
        ["X-RateLimit-Limit"] = tostring(throttle.limit),
        ["X-RateLimit-Remaining"] = tostring(remaining),
      }
    end
    if seen > throttle.limit then
      local wait = throttle.retry_in or math.max(1, math.ceil(reset_at - ngx.now()))
      local headers = {}
      local ra = throttle.retry_after
      if ra == "date" then
        headers["Retry-After"] = ngx.http_time(ngx.time() + wait)
      elseif ra ~= false then
        headers["Retry-After"] = tostring(ra or wait)
        wait = tonumber(ra) or wait
      end
      if vendor.rate_limit_headers then
        headers["X-RateLimit-Reset"] = tostring(math.ceil(reset_at))
      end
      return common.send(429, vendor.throttled(wait), headers)
    end
  end

  if M.take(name, "not_json") then
    return common.send(200, "<!DOCTYPE html>\n<html><head><title>Maintenance</title></head>"
      .. "<body><h1>We'll be right back</h1></body></html>\n",
      { ["Content-Type"] = "text/html; charset=UTF-8" })
  end
  local size = M.take(name, "huge")
  if size then return common.send(200, huge_body(size)) end
end

--- Forget every behaviour, counter, throttle window and issued token.
function M.reset()
  ngx.shared.fake_seq:incr("gen", 1, 0)
  state:flush_all()
  state:flush_expired()
end

return M
