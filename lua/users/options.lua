--- Options: each checked at the front door against the provider, then
-- resolved in layers (a call's, a client's, users.configure's, the
-- environment's, the provider's defaults).
local core = require "users.core"
local transports = require "users.transport"
local budget = require "users.budget"

local _M = {}

local type, pairs, ipairs, tostring, select = type, pairs, ipairs, tostring, select
local getenv = os.getenv
local concat = table.concat
local unpack = table.unpack or unpack -- 5.1 and LuaJIT

-- Options every provider takes, with the check each value must pass: nil
-- when it may be used, else what is wrong. Numbers must be finite and in
-- range (a C cast of math.huge is undefined): a day at most for timeouts,
-- 1 GiB at most for a response.
local function number_in(lo, hi, integer)
  return function(v)
    if type(v) ~= "number" or v ~= v or v <= lo or v > hi or (integer and v % 1 ~= 0) then
      return ("must be a %s above %s and at most %s"):format(
        integer and "whole number" or "number", tostring(lo), tostring(hi))
    end
  end
end
local function of(t) return function(v) if type(v) ~= t then return "must be a " .. t end end end
local str = of("string")
local option_checks = {
  token = str, base_url = str, account_id = str, workspace = str,
  key_id = str, key_secret = str, ca_file = str, user_agent = str,
  client_cert = str, -- mutual TLS: a PEM certificate, its key in client_key or in it
  client_key = str,
  timeout = number_in(0, 86400), connect_timeout = number_in(0, 86400),
  max_body = number_in(0, 2 ^ 30, true),
  backoff = function(v)
    if type(v) ~= "number" or not (v >= 0 and v <= 3600) then return "must be a number from 0 to 3600" end
  end,
  max_retry_after = function(v)
    if type(v) ~= "number" or not (v >= 0 and v <= 86400) then return "must be a number from 0 to 86400" end
  end,
  retries = function(v)
    if type(v) ~= "number" or v < 0 or v > 100 or v % 1 ~= 0 then return "must be a whole number from 0 to 100" end
  end,
  headers = of("table"),
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
  budget = function(v, _, fname) return budget.problem(v, fname) end,
  budget_fallback = function(v)
    if v ~= "fail" and v ~= "local" then return 'must be "fail" or "local"' end
  end,
  deadline = number_in(0, 86400),
  -- "auto": HTTP/2 where the server offers it over TLS, else HTTP/1.1.
  http_version = function(v)
    if v ~= "auto" and v ~= "1.1" and v ~= "h2c" then return 'must be "auto", "1.1" or "h2c"' end
  end,
}
_M.option_checks = option_checks

--- Checks an options table for the provider of `entry`: nil, or the
-- message of a misuse (unknown key, wrong type or value) for the caller to
-- raise at its caller's line.
function _M.check(entry, opts, fname, argn)
  if opts == nil then return nil end
  if type(opts) ~= "table" then
    return ("bad argument #%d to '%s' (table expected, got %s)"):format(argn, fname, type(opts))
  end
  for k, v in pairs(opts) do
    local check = option_checks[k]
    if not check then
      return ("bad argument #%d to '%s' (unknown option '%s')"):format(argn, fname, tostring(k))
    end
    local problem = check(v, entry, fname)
    if problem then
      return ("bad argument #%d to '%s' (option '%s' %s)"):format(argn, fname, k, problem)
    end
  end
end

-- A credential is a token or a key pair, taken whole from one source.
local CREDENTIALS = { "token", "key_id", "key_secret" }
local IS_CREDENTIAL = { token = true, key_id = true, key_secret = true }

local function holds_credential(layer)
  for _, k in ipairs(CREDENTIALS) do
    if layer[k] ~= nil then return true end
  end
  return false
end

-- The options the environment may give a provider, with their variables
-- ({ "token", "LEXFUL_TOKEN" }, ...), made once per provider.
local env_of = setmetatable({}, { __mode = "k" })
local function env_names(entry)
  local list = env_of[entry]
  if list then return list end
  local prefix = entry.decl.name:upper() .. "_"
  list = {}
  for _, k in ipairs { "token", "base_url", unpack(entry.decl.options or {}) } do
    list[#list + 1] = { k, prefix .. k:upper() }
  end
  env_of[entry] = list
  return list
end

--- Layers of options, last wins, then the environment, then the provider.
-- The credential comes whole from the highest layer that has one (a
-- call's options, the client's, users.configure's, then the environment):
-- a client's own key pair is never mixed with, or beaten by, a token from
-- elsewhere; a client made without a credential falls back.
function _M.resolve(entry, ...)
  local o, credential = {}, nil
  for i = 1, select("#", ...) do
    local layer = select(i, ...)
    if layer then for k, v in pairs(layer) do o[k] = v end end
    if layer and holds_credential(layer) then credential = layer end
  end
  for _, k in ipairs(CREDENTIALS) do o[k] = credential and credential[k] end
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
  -- A call's deadline counts from here: its token request, budget waits,
  -- retries and back-offs included (a bulk run counts one per item).
  if o.deadline then o._deadline = core.now() + o.deadline end
  return o
end

return _M
