--- The command's configuration: library options from the command line,
-- credentials and base URLs from the environment the library reads
-- (never from arguments, which `ps` shows), checked before anything is
-- sent so that a mistake is one error naming the variable to set.
--
-- TLS as curl has it: `--ca-file` (curl's --cacert), else CURL_CA_BUNDLE,
-- else SSL_CERT_FILE; `--client-cert` and `--client-key`. A Redis budget's
-- password from LUA_USERS_REDIS_PASSWORD rather than the `--budget` URL.
local users = require "users"
local args = require "users.cli.args"
local describe = require "users.cli.describe"
local source = require "users.cli.source"
local suggest = require "users.suggest"

local _M = {}

local ipairs, pairs, tostring, pcall, next = ipairs, pairs, tostring, pcall, next
local concat = table.concat
local getenv = os.getenv

local UUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"
local FORMAT_OK = { uuid = function(v) return v:match(UUID) ~= nil end }
local FORMAT_NAME = { uuid = "a UUID" }

--- The provider's description (users.describe), or a usage failure with a
-- suggestion.
function _M.provider(name, usage)
  local names = users.providers()
  if not name then args.fail("which provider? (" .. concat(names, ", ") .. ")", { usage = usage }) end
  local ok, d = pcall(users.describe, name)
  if not ok then
    local hint = suggest.closest(name, names)
    args.fail(("unknown provider '%s'%s (the providers: %s)"):format(name,
      hint and (", did you mean " .. hint .. "?") or "", concat(names, ", ")), { usage = usage })
  end
  return d
end

--- The options of TLS, the budget and ambiguous outcomes, shared by update and bulk.
_M.SPEC = {
  ["--ca-file"] = { "string" },
  ["--client-cert"] = { "string" },
  ["--client-key"] = { "string" },
  ["--budget"] = { "string" },
  ["--retry-ambiguous"] = { "flag" },
  ["--header"] = { "string", many = true },
}

-- A file the run will read, checked now: its path, or a usage failure
-- that says where the path came from.
local function readable(path, what, from)
  local f, err = source.open(path, "rb")
  if not f then
    args.fail(("cannot read the %s %s%s: %s"):format(what, path, from and (" (from " .. from .. ")") or "",
      (tostring(err):gsub("^.*: ", ""))))
  end
  f:close()
  return path
end

-- The CA bundle, as curl finds it: the option, CURL_CA_BUNDLE, SSL_CERT_FILE.
local function ca_file(parsed)
  if parsed.ca_file then return readable(parsed.ca_file, "CA file") end
  for _, var in ipairs { "CURL_CA_BUNDLE", "SSL_CERT_FILE" } do
    local v = getenv(var)
    if v and v ~= "" then return readable(v, "CA file", var) end
  end
end

local function percent_encode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

-- The --budget URL, with LUA_USERS_REDIS_PASSWORD in it when it has none.
local function budget_url(url)
  local password = getenv("LUA_USERS_REDIS_PASSWORD")
  if not url or not password or password == "" or not url:match("^redis://") then return url end
  if url:match("^redis://[^/?]*@") then return url end -- the URL's own wins
  return "redis://:" .. percent_encode(password) .. "@" .. url:sub(9)
end

-- The request headers: `--header 'Name: value'`; `--header Name` and each
-- header the provider needs beyond its token (describe.headers_needed)
-- from PROVIDER_HEADER_NAME, so that a secret need not be an argument.
local function headers_of(parsed, d)
  local h, given = {}, {}
  for _, a in ipairs(parsed.header or {}) do
    local name, value = a:match("^%s*([!#$%%&'*+.^_`|~%w-]+)%s*:%s*(.-)%s*$")
    if not name and a:match("^%s*[!#$%%&'*+.^_`|~%w-]+%s*$") then
      name = a:match("^%s*(.-)%s*$")
      local var = describe.header_variable(d.name, name)
      value = getenv(var)
      if not value or value == "" then args.fail(("--header %s: set %s to its value"):format(name, var)) end
    end
    if not name then args.fail(("--header needs 'Name: value' or a name (got '%s')"):format(a)) end
    h[name], given[name:lower()] = value, true
  end
  for _, need in ipairs(describe.headers_needed(d)) do
    local value = getenv(describe.header_variable(d.name, need[1]))
    if value and value ~= "" and not given[need[1]:lower()] then h[need[1]] = value end
  end
  return next(h) and h or nil
end

--- Update options from parsed command-line options (and the environment's
-- TLS and Redis variables, and the provider `d`'s headers).
function _M.options(parsed, d)
  local budget = budget_url(parsed.budget)
  -- A store the command cannot use is a usage error, said before anything runs.
  local problem = budget and require("users.budget").problem(budget, "update")
  if problem then args.fail(("--budget %s (got '%s')"):format(problem, parsed.budget)) end
  if parsed.client_key and not parsed.client_cert then
    args.fail("--client-key needs --client-cert (the certificate the key belongs to)")
  end
  local o = { base_url = parsed.base_url, retries = parsed.retries, timeout = parsed.timeout,
              http_version = parsed.http, rate = parsed.rate, budget = budget, ca_file = ca_file(parsed),
              retry_ambiguous = parsed.retry_ambiguous or nil, headers = headers_of(parsed, d) }
  if parsed.client_cert then
    o.client_cert = readable(parsed.client_cert, "client certificate")
    o.client_key = parsed.client_key and readable(parsed.client_key, "client key")
  end
  return o
end

--- Fails (exit 2) unless the provider can be called as configured; returns
-- the options resolved (users.settings). has_column(name): whether the
-- input names a path parameter itself (true, false, or nil when unknown).
function _M.check(provider, opts, has_column)
  local d = users.describe(provider)
  local ok, o, problems = pcall(users.settings, provider, opts)
  if not ok then
    args.fail((tostring(o):gsub("^bad argument #%d to 'settings' %((.*)%)$", "%1")))
  end
  local P = provider:upper() .. "_"
  local fail = args.fail
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
  elseif not o.token and #d.security == 1 and d.security[1] == "bearer token" then
    fail(("no token for %s: set %sTOKEN"):format(provider, P))
  elseif problems and problems.header then -- a header its document asks for
    local h = problems.header
    fail(("no %s header for %s: set %s%s"):format(h, provider, describe.header_variable(provider, h),
      require("users.secrets").secret_name(h) and "" or (", or give --header '" .. h .. ": VALUE'")))
  elseif problems and problems.credentials then -- what else its document asks for
    fail(problems.credentials)
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
      if v == nil and has_column and has_column(p.name) == false then
        fail(("no %s for %s: set %s, or give the input a %s column"):format(p.name, provider, var, p.name))
      end
      if problems and problems[p.option] then
        fail(("%s is not valid: %s %s (it is '%s')"):format(var, p.name, tostring(problems[p.option]), tostring(v)))
      end
    end
  end
  return o
end

return _M
