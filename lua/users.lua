--- lua-users: update a user on any of several SaaS APIs with one call.
--
--     local users = require "users"
--     local user, err = users.update("lexful", id, { first_name = "Jane" })
--
-- The contract is in DESIGN.md; errors have one shape (users/errors.lua).
local core = require "users.core"
local registry = require "users.registry"
local client = require "users.client"
local auth = require "users.auth"
local bulk = require "users.bulk"
local suggest = require "users.suggest"

local _M = {
  _VERSION = require "users.version",
  null = core.null,          -- JSON null (the same value as cjson.null and ngx.null)
  array_mt = core.array_mt,  -- marks tables that encode as JSON arrays
}

local type, error, setmetatable, pairs = type, error, setmetatable, pairs

local defaults = {}  -- users.configure(provider, opts)

local function bad(n, fname, msg)
  return ("bad argument #%d to '%s' (%s)"):format(n, fname, msg)
end

local Client = {}
Client.__index = Client

-- provider: a name or a client. Returns entry, the client's options; or
-- nil, the message of a misuse.
local function resolve_provider(provider, fname)
  if getmetatable(provider) == Client then return provider.entry, provider.opts end
  if type(provider) ~= "string" then
    return nil, bad(1, fname, "provider name or client expected, got " .. type(provider))
  end
  local entry, msg = registry.get(provider)
  if not entry then return nil, bad(1, fname, msg) end
  return entry
end

-- Everything update and prepare share: misuse raises at the caller's line
-- (level 3: the public function's caller), data problems return nil, err.
-- offline: a token that would be fetched is not (prepare's fetch_token = false).
local function prepare(fname, provider, id, fields, opts, offline)
  local entry, own = resolve_provider(provider, fname)
  if not entry then error(own, 3) end
  local tid = type(id)
  if not (tid == "string" or tid == "number" or tid == "table") then
    error(bad(2, fname, "user id expected (string, integer or table), got " .. tid), 3)
  end
  if type(fields) ~= "table" then
    error(bad(3, fname, "table of fields expected, got " .. type(fields)), 3)
  end
  local misuse = client.check_options(entry, opts, fname, 4)
  if misuse then error(misuse, 3) end
  local o = client.resolve(entry, defaults[entry.decl.name], own, opts)
  if offline and not o.token and auth.can_refresh(entry, o) then o.token = bulk.PLACEHOLDER_TOKEN end
  local req, err = client.prepare(entry, id, fields, o)
  if not req then err = suggest.fields(entry, err) end
  return entry, o, req, err
end

--- Updates one user. Returns user, res or nil, err.
-- @param provider a provider name ("lexful", ...) or a client from users.new
-- @param id the provider's user id (lancepilot: { workspace =, user = } too)
-- @param fields the provider's own field names and values
-- @param opts optional: token, base_url, timeout, retries, ... (DESIGN.md)
function _M.update(provider, id, fields, opts)
  local entry, o, req, err = prepare("update", provider, id, fields, opts)
  if not req then return nil, auth.redact(err, o) end
  return client.send(entry, req, o)
end

--- Validates and builds the request without sending it:
-- { method, url, headers, body } (body: a string, or a chunk iterator when
-- a file is attached), or nil, err. A token that has to be fetched (lexful's
-- key pair) is fetched, unless opts.fetch_token is false: the request then
-- carries "Authorization: Bearer [token fetched at run time]" and nothing
-- at all is sent (dry runs).
function _M.prepare(provider, id, fields, opts)
  local offline = false
  if type(opts) == "table" and opts.fetch_token ~= nil then
    if type(opts.fetch_token) ~= "boolean" then
      error(bad(4, "prepare", "option 'fetch_token' must be a boolean"), 2)
    end
    offline = opts.fetch_token == false
    local rest = {}
    for k, v in pairs(opts) do if k ~= "fetch_token" then rest[k] = v end end
    opts = rest
  end
  local _, o, req, err = prepare("prepare", provider, id, fields, opts, offline)
  if not req then return nil, auth.redact(err, o) end
  return req
end

local function entry_or_raise(provider, fname)
  local entry, msg = resolve_provider(provider, fname)
  if not entry then error(msg, 3) end
  return entry
end

--- Updates many users: { { id = ..., fields = { ... } }, ... } or an iterator
-- function returning such items. Returns the report (see users/bulk.lua).
function _M.bulk_update(provider, items, opts)
  local entry, own = resolve_provider(provider, "bulk_update")
  if not entry then error(own, 2) end
  if type(items) ~= "table" and type(items) ~= "function" then
    error(bad(2, "bulk_update", "array or iterator function expected, got " .. type(items)), 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(bad(3, "bulk_update", "table expected, got " .. type(opts)), 2)
  end
  local run, update_opts = {}, {}
  for k, v in pairs(opts or {}) do
    local check = bulk.KEYS[k]
    if check then
      if not check(v) then error(bad(3, "bulk_update", "option '" .. k .. "' has a wrong type or value"), 2) end
      run[k] = v
    else
      update_opts[k] = v
    end
  end
  local misuse = client.check_options(entry, update_opts, "bulk_update", 3)
  if misuse then error(misuse, 2) end
  local o = client.resolve(entry, defaults[entry.decl.name], own, update_opts)
  if o.retries == 0 and update_opts.retries == nil and not (own and own.retries)
     and not (defaults[entry.decl.name] or {}).retries then
    o.retries = 3 -- a bulk run retries what may pass on a second try, unless told otherwise
  end
  return bulk.run(entry, items, run, o)
end

--- Process-wide defaults for a provider (the same keys as opts).
function _M.configure(provider, opts)
  local entry = entry_or_raise(provider, "configure")
  local misuse = client.check_options(entry, opts, "configure", 2)
  if misuse then error(misuse, 2) end
  local d = defaults[entry.decl.name] or {}
  for k, v in pairs(opts or {}) do d[k] = v end
  defaults[entry.decl.name] = d
end

--- A client with its own options (credentials per tenant or per request).
function _M.new(provider, opts)
  local entry = entry_or_raise(provider, "new")
  local misuse = client.check_options(entry, opts, "new", 2)
  if misuse then error(misuse, 2) end
  local own = {}
  for k, v in pairs(opts or {}) do own[k] = v end
  return setmetatable({ entry = entry, opts = own, provider = entry.decl.name }, Client)
end

function Client:update(id, fields, opts) return _M.update(self, id, fields, opts) end
function Client:prepare(id, fields, opts) return _M.prepare(self, id, fields, opts) end
function Client:bulk_update(items, opts) return _M.bulk_update(self, items, opts) end
Client.__tostring = function(c) return "users client (" .. c.provider .. ")" end

local File = { __name = "users.file" }

--- A file to upload, streamed from disk when the request is sent.
function _M.file(path, content_type)
  if type(path) ~= "string" or path == "" then error(bad(1, "file", "path expected"), 2) end
  if content_type ~= nil and type(content_type) ~= "string" then
    error(bad(2, "file", "content type string expected"), 2)
  end
  return setmetatable({ path = path, filename = path:match("([^/]+)$"),
                        content_type = content_type }, File)
end

--- Bytes to upload as a file.
function _M.blob(bytes, filename, content_type)
  if type(bytes) ~= "string" then error(bad(1, "blob", "string expected"), 2) end
  if type(filename) ~= "string" then error(bad(2, "blob", "file name expected"), 2) end
  if content_type ~= nil and type(content_type) ~= "string" then
    error(bad(3, "blob", "content type string expected"), 2)
  end
  return setmetatable({ data = bytes, filename = filename, content_type = content_type }, File)
end

--- Names of the providers that can be used.
function _M.providers() return registry.names() end

--- A provider's fields and rules: { name, method, path, fields = { ... } }.
function _M.describe(provider)
  local entry = entry_or_raise(provider, "describe")
  return registry.describe(entry)
end

-- For the bulk helpers and tests: the low layers, not part of the contract.
_M._client, _M._registry = client, registry

return _M
