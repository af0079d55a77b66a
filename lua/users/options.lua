--- Options: each checked at the front door against the provider (rules of
-- users/check.lua), then resolved in layers (a call's, a client's,
-- users.configure's, the environment's, the provider's defaults).
local check = require "users.check"
local transports = require "users.transport"
local stores = require "users.budget.stores"
local trace = require "users.trace"

local _M = {}

local type, pairs, ipairs, tostring, select, rawget, getmetatable, setmetatable =
  type, pairs, ipairs, tostring, select, rawget, getmetatable, setmetatable
local getenv = os.getenv
local concat = table.concat
local unpack = table.unpack or unpack -- 5.1 and LuaJIT

local str, number_in, number_from, one_of = check.of("string"), check.number_in, check.number_from, check.one_of

--- Every option a provider takes, with its rule (users/check.lua): numbers
-- finite and in range (a C cast of math.huge is undefined), a day at most
-- for timeouts, 1 GiB at most for a response.
_M.RULES = {
  token = str, base_url = str, account_id = str, workspace = str,
  key_id = str, key_secret = str, ca_file = str, user_agent = str,
  username = str, password = str, -- HTTP basic, where a declaration's security asks for it
  client_cert = str, -- mutual TLS: a PEM certificate, its key in client_key or in it
  client_key = str,
  timeout = number_in(0, 86400), connect_timeout = number_in(0, 86400),
  max_body = number_in(0, 2 ^ 30, true),
  backoff = number_from(0, 3600),
  max_retry_after = number_from(0, 86400),
  retries = number_from(0, 100, true),
  -- An update that is not idempotent, sent without an answer, is sent again (users/ambiguous.lua).
  retry_ambiguous = check.of("boolean"),
  headers = check.of("table"),
  encoding = function(v, entry)
    if not entry.encodings[v] then
      return ("is '%s', which %s does not take (it takes: %s)"):format(
        tostring(v), entry.decl.name, concat(entry.decl.encodings or { "json" }, ", "))
    end
  end,
  transport = function(v) return transports.problem(v) end,
  -- One budget per account (users/budget.lua).
  rate = number_in(0, 1e6),
  burst = number_in(0, 10000, true),
  budget = function(v, _, fname) return stores.problem(v, fname) end,
  budget_fallback = one_of("fail", "local"),
  deadline = number_in(0, 86400),
  -- "auto": HTTP/2 where the server offers it over TLS, else HTTP/1.1.
  http_version = one_of("auto", "1.1", "h2c"),
  -- Every attempt observable (users/events.lua, users/trace.lua, users/metrics.lua).
  on_event = check.of("function"),
  traceparent = function(v)
    if v ~= false and not (type(v) == "string" and trace.parse(v)) then
      return "must be a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>) or false"
    end
  end,
  metrics = check.of("boolean"),
  -- SCIM (users/providers/scim.lua): the update's method, "auto" from the server's discovery document
  scim_method = one_of("auto", "patch", "put"),
}

--- Checks an options table for the provider of `entry`; raises a misuse of
-- argument `n` of `fname` at the public function's caller's line
-- (`level` as in check.fail).
function _M.check(entry, opts, fname, n, level)
  local rules = entry.option_rules
  if not rules then -- a declaration's own options (a header's value: `tenant`) are strings
    rules = setmetatable({}, { __index = _M.RULES })
    for _, k in ipairs(entry.decl.options or {}) do
      if not _M.RULES[k] then rules[k] = str end
    end
    entry.option_rules = rules
  end
  check.options(n, fname, opts, rules, entry, (level or 1) + 1)
end

-- A credential is a token or a key pair, taken whole from one source.
local IS_CREDENTIAL = { token = true, key_id = true, key_secret = true, username = true, password = true }
local NONE = {}

local function holds_credential(layer)
  return layer.token ~= nil or layer.key_id ~= nil or layer.key_secret ~= nil
    or layer.username ~= nil or layer.password ~= nil
end

-- The options the environment may give a provider, with their variables
-- ({ "token", "LEXFUL_TOKEN" }, ...): kept on the entry, made once (an
-- entry never changes once compiled; a provider registered again is a new
-- entry).
local function env_names(entry)
  local list = entry.env_names
  if list then return list end
  local prefix = entry.decl.name:upper() .. "_"
  list = {}
  for _, k in ipairs { "token", "base_url", unpack(entry.decl.options or {}) } do
    list[#list + 1] = { k, prefix .. k:upper() }
  end
  entry.env_names = list
  return list
end

--- Layers of options, last wins, then the environment, then the provider.
-- The credential comes whole from the highest layer that has one (a
-- call's options, the client's, users.configure's, then the environment):
-- a client's own key pair is never mixed with, or beaten by, a token from
-- elsewhere; a client made without a credential falls back. The result is
-- the call's own, read only from then on (a bulk run's items share it).
function _M.resolve(entry, ...)
  local o, credential = {}, nil
  for i = 1, select("#", ...) do
    local layer = select(i, ...)
    if layer then
      for k, v in pairs(layer) do o[k] = v end
      if holds_credential(layer) then credential = layer end
    end
  end
  local c = credential or NONE
  o.token, o.key_id, o.key_secret, o.username, o.password = c.token, c.key_id, c.key_secret, c.username, c.password
  for _, e in ipairs(env_names(entry)) do
    local k = e[1]
    if o[k] == nil and not (credential and IS_CREDENTIAL[k]) then
      local v = getenv(e[2])
      if v and v ~= "" then o[k] = v end
    end
  end
  o.base_url = o.base_url or entry.decl.base_url
  o.encoding = o.encoding or (entry.decl.encodings or { "json" })[1]
  o.timeout = o.timeout or 30
  o.connect_timeout = o.connect_timeout or 10
  o.retries = o.retries or 0
  o.backoff = o.backoff or 0.5
  o.max_body = o.max_body or 8 * 1024 * 1024
  o.transport = o.transport or transports.default()
  return o
end

-- The options of the last call of each provider, and what they were
-- resolved from: a loop of calls with the same options table (the common
-- case) checks and resolves them once. They are used again while the call
-- gives the same table holding the same values (compared at every call,
-- and the tables in it one level down: headers changed in place count),
-- with the same client and the same defaults (users.configure replaces
-- its table on each change); the environment is read once, as Lua cannot
-- change it. Not inside nginx, where the default transport depends on the
-- phase. Weak keys: an entry's memo goes with it.
local last = setmetatable({}, { __mode = "k" })
local IN_NGINX = rawget(_G, "ngx") ~= nil

-- Whether `t` holds what `copy` (a table and its count of keys) held.
local function same(t, copy, count)
  local n = 0
  for k, v in pairs(t) do
    if copy[k] ~= v then return false end
    n = n + 1
  end
  return n == count
end

-- The options table as given, and the tables in it (headers, a budget)
-- one level down: a caller may change a nested table between calls.
local function unchanged(m, opts)
  if opts == nil then return true end
  if not same(opts, m.copy, m.count) then return false end
  for k, inner in pairs(m.nested) do
    if not same(opts[k], inner[1], inner[2]) then return false end
  end
  return true
end

-- What the memo keeps of an options table: its values, their count, and
-- each plain table in it ({ copy, count } by key).
local function snapshot(opts)
  local copy, count, nested = {}, 0, {}
  for k, v in pairs(opts or copy) do
    if type(v) == "table" and getmetatable(v) == nil then
      local inner, n = {}, 0
      for ik, iv in pairs(v) do inner[ik], n = iv, n + 1 end
      nested[k] = { inner, n }
    end
    copy[k], count = v, count + 1
  end
  return copy, count, nested
end

--- A copy of an options table to keep (a client's, users.configure's),
-- each plain table in it (headers, a budget) copied too: a caller who
-- changes one afterwards (a template of headers for the next tenant)
-- changes nothing kept.
function _M.copy(opts)
  local copy = {}
  for k, v in pairs(opts or copy) do
    if type(v) == "table" and getmetatable(v) == nil then
      local inner = {}
      for ik, iv in pairs(v) do inner[ik] = iv end
      v = inner
    end
    copy[k] = v
  end
  return copy
end

--- A call's options checked (raising at the public function's caller, as
-- `check`) and resolved over the client's own (`own`) and the configured
-- defaults (`defaults`). The result is shared: read only.
function _M.for_call(entry, defaults, own, opts, fname, n, level)
  local m = last[entry]
  if m and m.opts == opts and m.own == own and m.defaults == defaults and unchanged(m, opts) then return m.o end
  _M.check(entry, opts, fname, n, (level or 1) + 1)
  local o = _M.resolve(entry, defaults, own, opts)
  if not IN_NGINX then
    local copy, count, nested = snapshot(opts)
    last[entry] = { opts = opts, own = own, defaults = defaults, copy = copy, count = count, nested = nested, o = o }
  end
  return o
end

return _M
