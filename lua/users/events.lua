--- Every attempt observable: the events users/lifecycle.lua hands to
-- `opts.on_event` (per call, per client, per configure, per bulk run), one
-- per attempt and per wait. Attribute names are OpenTelemetry's for HTTP
-- clients; nothing secret is in them (no header, no body, no message). A handler that raises never breaks the call: its
-- error is ignored (and said once, users/log.lua).
--
--   name = "request"   an attempt leaves             (attempt attributes), time
--   name = "answer"    its answer, or its failure    + http.response.status_code | error.type,
--                                                      network.protocol.version, duration
--   name = "retry"     a retry is scheduled          + error.type, delay
--   name = "wait"      a wait: a budget slot, another caller's token
--                                                    waiting_for, duration (seconds to wait)
--   name = "token"     a token fetched, or another   fetched (this item made the request),
--                      after a 401               refreshed (after a 401), duration
--   name = "outcome"   the item is over              ok, attempts, duration, error.type, http.response.status_code
-- Attempt attributes: provider, attempt (of this request: a token
-- request counts its own), http.request.method, server.address,
-- server.port, url.template, url.full (the module's URLs hold no
-- credentials and no query: a base URL with user information is refused),
-- and with trace context trace_id, span_id (the attempt's) and parent_span_id.
local client = require "users.client"
local log = require "users.log"

local _M = {}

local pcall, tostring, type, setmetatable = pcall, tostring, type, setmetatable

local PROTOCOL = { ["HTTP/1.0"] = "1.0", ["HTTP/1.1"] = "1.1", ["HTTP/2"] = "2", ["HTTP/2.0"] = "2", ["HTTP/3"] = "3" }

local warned = setmetatable({}, { __mode = "k" }) -- handlers said to raise

local function emit(life, event)
  local handler = life.drv.o.on_event
  local ok, err = pcall(handler, event)
  if not ok and not warned[handler] then
    warned[handler] = true
    local shown, text = pcall(tostring, err) -- an error object's __tostring may raise too
    if not (shown and type(text) == "string") then text = "(an error that cannot be shown)" end
    log.warn("an on_event handler raised (ignored from now on in silence): " .. text)
  end
end

local function attempt(life, name)
  local req = life.spec
  local address, port = req.address, req.port
  if not address then address, port = client.server(life.drv.entry, life.drv.o) end
  local e = { name = name, provider = life.drv.entry.decl.name, attempt = req.attempt or life.attempts,
              ["http.request.method"] = req.method, ["server.address"] = address, ["server.port"] = port,
              ["url.template"] = req.template, ["url.full"] = req.url }
  local parent = life.drv.trace
  if parent then e.trace_id, e.span_id, e.parent_span_id = parent.trace_id, life.span, parent.span_id end
  return e
end

function _M.request(life, now)
  local e = attempt(life, "request")
  e.time = now -- when it leaves: the moment the lifecycle let it go (its budget slot's)
  emit(life, e)
end

function _M.answer(life, _, res, code, seconds)
  local e = attempt(life, "answer")
  e.duration = seconds
  if res then
    e["http.response.status_code"] = res.status
    e["network.protocol.version"] = PROTOCOL[res.protocol]
    if res.status >= 400 then e["error.type"] = tostring(res.status) end
  else
    e["error.type"] = code
  end
  emit(life, e)
end

function _M.retry(life, _, err, delay)
  local e = attempt(life, "retry")
  e["error.type"], e["http.response.status_code"], e.delay = err.code, err.status, delay
  emit(life, e)
end

function _M.wait(life, _, seconds, why)
  emit(life, { name = "wait", provider = life.drv.entry.decl.name, waiting_for = why, duration = seconds,
               attempt = life.attempts })
end

function _M.token(life, now, call)
  emit(life, { name = "token", provider = life.drv.entry.decl.name, fetched = call.fetched == true,
               refreshed = call.refused ~= nil, duration = now - (call.started or now) })
end

function _M.outcome(life, now, err, res)
  local e = { name = "outcome", provider = life.drv.entry.decl.name, ok = err == nil, attempts = life.attempts,
              duration = now - life.started }
  if err then
    e["error.type"], e["http.response.status_code"] = err.code, err.status
  else
    e["http.response.status_code"] = res.status
  end
  if life.drv.trace then e.trace_id = life.drv.trace.trace_id end
  emit(life, e)
end

return _M
