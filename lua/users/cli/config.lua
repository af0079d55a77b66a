--- The command's configuration: library options from the command line,
-- credentials and base URLs from the environment the library reads
-- (never from arguments, which `ps` shows), checked before anything is
-- sent so that a mistake is one error naming the variable to set.
local core = require "users.core"
local users = require "users"
local security = require "users.security"
local args = require "users.cli.args"

local _M = {}

local ipairs, pairs, tostring = ipairs, pairs, tostring

local UUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"
local FORMAT_OK = { uuid = function(v) return v:match(UUID) ~= nil end }
local FORMAT_NAME = { uuid = "a UUID" }

--- Update options from parsed command-line options.
function _M.options(parsed)
  -- A store the command cannot use is a usage error, said before anything runs.
  local problem = parsed.budget and require("users.budget").problem(parsed.budget, "update")
  if problem then args.fail(("--budget %s (got '%s')"):format(problem, parsed.budget)) end
  return { base_url = parsed.base_url, retries = parsed.retries, timeout = parsed.timeout,
           http_version = parsed.http }
end

--- Fails (exit 2) unless the provider can be called as configured.
-- has_column(name): whether the input names a path parameter itself
-- (true, false, or nil when unknown).
function _M.check(provider, opts, has_column)
  local entry = users._registry.get(provider)
  local d = users.describe(provider)
  local o = users._options.resolve(entry, nil, nil, opts)
  local P = provider:upper() .. "_"
  local function fail(msg) args.fail(msg) end
  if not o.base_url then
    fail(("no base URL for %s: set %sBASE_URL, or give --base-url URL"):format(provider, P))
  end
  if not tostring(o.base_url):match("^[Hh][Tt][Tt][Pp][Ss]?://[^/%s]") then
    fail(("the base URL of %s is not an http(s) URL (%s): set %sBASE_URL or --base-url to https://host[/path]")
      :format(provider, tostring(o.base_url), P))
  end
  if d.fetches_token then
    if not o.token and not (o.key_id and o.key_secret) then
      if o.key_id or o.key_secret then
        fail(("%s%s is set but %s%s is not: a key pair needs both"):format(
          P, o.key_id and "KEY_ID" or "KEY_SECRET", P, o.key_id and "KEY_SECRET" or "KEY_ID"))
      end
      fail(("no credentials for %s: set %sTOKEN, or %sKEY_ID and %sKEY_SECRET"):format(provider, P, P, P))
    end
  else -- the credentials its declaration asks for (a token, unless it says otherwise)
    local cred, cerr = security.credential(entry, o)
    if not cred then fail(cerr and cerr.message or ("no token for %s: set %sTOKEN"):format(provider, P)) end
  end
  for header, option in pairs(d.headers) do
    local v, var = o[option], P .. option:upper()
    if v == nil then
      fail(("no %s for %s: set %s (sent as %s)"):format((option:gsub("_", " ")), provider, var, header))
    end
    local fmt = d.option_formats[option]
    if fmt and FORMAT_OK[fmt] and not FORMAT_OK[fmt](tostring(v)) then
      fail(("%s is not %s (it is '%s')"):format(var, FORMAT_NAME[fmt], tostring(v)))
    end
  end
  for _, p in ipairs(d.params) do
    if p.option then
      local v, var = o[p.option], P .. p.option:upper()
      if v == nil then
        if has_column and has_column(p.name) == false then
          fail(("no %s for %s: set %s, or give the input a %s column"):format(p.name, provider, var, p.name))
        end
      else
        local ok, msg = core.check_param(entry.compiled, p.name, v)
        if not ok then fail(("%s is not valid: %s %s (it is '%s')"):format(var, p.name, tostring(msg), tostring(v))) end
      end
    end
  end
  return o
end

return _M
