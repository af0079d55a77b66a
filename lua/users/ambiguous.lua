--- Ambiguous outcomes: a request that may have reached the server without
-- an answer coming back (a transport failure once some of it was written:
-- a timeout, a reset, an empty or broken answer; a 502 or 504 from a
-- gateway, whose upstream may have applied it) leaves the update's outcome
-- unknown. An idempotent request is sent again as any failed one is; one
-- that is not is sent on a connection of its own (`reuse = false`: libcurl
-- never resends it by itself), is not retried after such a failure unless
-- `retry_ambiguous = true`, and ends as `unknown_outcome`.
--
-- Whether a request is idempotent: the declaration says for its own update
-- (`idempotent = true | false | function(fields)`, by method when it does
-- not: users/registry.lua), a plan's request for itself (`idempotent`, by
-- method when it does not). A declaration that names an idempotency key
-- header (`idempotency_key = "Idempotency-Key"`) sends its own update with
-- a key made from the item's identity (users/journal.lua's: provider, base
-- URL, tenant, id and fields), the same at every retry and in every run of
-- the same update: the server applies it once, so it is sent again as an
-- idempotent one is.
local errors = require "users.errors"
local journal = require "users.journal"
local registry = require "users.registry"

local _M = {}

local type, pcall, pairs, tostring = type, pcall, pairs, tostring
local concat, sort = table.concat, table.sort

-- Transport failures that, once the request was (maybe) written, leave
-- its outcome unknown; and gateways' answers that do.
local AFTER_SENT = { timeout = true, reset = true, bad_response = true, transport = true }
local GATEWAY = { [502] = true, [504] = true }

--- Whether the declaration's own update of `fields` is idempotent.
function _M.update(entry, fields)
  local v = entry.decl.idempotent
  if v == nil then return registry.IDEMPOTENT_METHODS[entry.decl.method] == true end
  if type(v) == "function" then
    local ok, r = pcall(v, fields)
    return ok and r == true -- a function that raises: not idempotent (the safe side)
  end
  return v == true
end

--- Whether a transport's result (`res`, or nil, `code`, `sent`) leaves the
-- request's outcome unknown.
function _M.ambiguous(res, code, sent)
  if res then return GATEWAY[res.status] == true end
  return sent == true and AFTER_SENT[code] == true
end

--- The error of an update whose outcome is unknown, from `err`, the
-- ambiguous failure of its last attempt: `kind = "transport"`,
-- `code = "unknown_outcome"`, `cause` its code (`timeout`, `reset`,
-- `bad_response`, `server_error`, ...), not retryable.
function _M.unknown(err)
  return errors.quotes(errors.new {
    kind = "transport", code = "unknown_outcome", cause = err.code, status = err.status, provider = err.provider,
    attempts = err.attempts, body = err.body, retryable = false,
    message = "sent, but no answer came back (" .. tostring(err.message) .. "): the update may have been"
      .. " applied, so it is not sent again (it is not idempotent: retry_ambiguous = true resends it)",
  }, err)
end

--- The error of an item held back, not sent: an earlier run sent the same
-- update without an answer (its journal, or the item's `unknown = true`,
-- says so). `cause = "held"`, `attempts = 0`.
function _M.held(provider)
  return errors.new {
    kind = "transport", code = "unknown_outcome", cause = "held", provider = provider, attempts = 0,
    retryable = false,
    message = "not sent: an earlier run sent this update and no answer came back, so it may have been applied;"
      .. " check it on the provider, then send it again with resend_unknown = true (lua-users: --resend-unknown)",
  }
end

-- The item's identity as text: its journal scope, then its journal key.
local function identity(entry, o, id, fields)
  local scope, parts = journal.scope(entry, o), {}
  for k, v in pairs(scope.tenant) do parts[#parts + 1] = k .. "=" .. v end
  sort(parts)
  return concat({ scope.provider, scope.base_url, concat(parts, "&"), journal.key(id, fields) }, "\n")
end

--- The idempotency key of the item's update: the same for every attempt
-- and every run of the same update (provider, base URL, tenant, id and
-- fields), another for any other; 32 hex digits after "lua-users-".
function _M.key(entry, o, id, fields)
  local text = identity(entry, o, id, fields)
  return "lua-users-" .. journal.digest(text) .. journal.digest(text .. "\n2")
end

--- Marks a request about to be admitted (`spec`, of `life`): whether it is
-- idempotent (its own say, the declaration's for its own update, else its
-- method's), its idempotency key (the declaration's own update, when the
-- declaration names the header), and `reuse = false` when it may not be
-- sent twice.
function _M.mark(entry, o, spec, life)
  local header = entry.decl.idempotency_key
  if header and spec.own and not life.idempotency_key then
    local ok, key = pcall(_M.key, entry, o, life.id, life.fields) -- (a value's metamethod may raise)
    life.idempotency_key = ok and key or false
  end
  if header and spec.own and life.idempotency_key then
    local h = spec.headers or {}
    h[header] = life.idempotency_key
    spec.headers, spec.idempotent = h, true -- the server applies it once, however often it is sent
  elseif spec.own then
    spec.idempotent = _M.update(entry, life.fields)
  elseif spec.idempotent == nil then
    spec.idempotent = registry.IDEMPOTENT_METHODS[spec.method] == true
  end
  if not spec.idempotent then spec.reuse = false end
end

return _M
