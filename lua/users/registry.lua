--- Provider declarations by name, compiled once per Lua state by the C
-- core, listed and described. A name is found, in this order:
--   1. registered with `users.register` (which may replace any other);
--   2. the module's own, users/providers/NAME.lua on package.path;
--   3. a provider file NAME.lua in a directory of the search path: each
--      directory of LUA_USERS_PROVIDERS (separated by ':'), then
--      $XDG_CONFIG_HOME/lua-users/providers (~/.config/lua-users/providers
--      when XDG_CONFIG_HOME is not set). `lua-users import` writes such
--      files. A file there cannot shadow one of the module's own names.
local core = require "users.core"
local security = require "users.security"

local _M = {}

local type, pairs, ipairs, pcall, require, tostring = type, pairs, ipairs, pcall, require, tostring
local getenv = os.getenv
local compiled = {}

local NAME = "^[%l][%l%d_]*$"

local function copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = copy(x) end
  return setmetatable(t, getmetatable(v))
end

--- The directories of the search path, in order.
function _M.search_path()
  local dirs = {}
  for dir in (getenv("LUA_USERS_PROVIDERS") or ""):gmatch("[^:]+") do dirs[#dirs + 1] = dir end
  local config = getenv("XDG_CONFIG_HOME")
  if not config or config == "" then
    local home = getenv("HOME")
    config = home and home ~= "" and (home .. "/.config") or nil
  end
  if config then dirs[#dirs + 1] = config .. "/lua-users/providers" end
  return dirs
end

local function readable(path)
  local f = io.open(path, "r")
  if f then f:close() end
  return f ~= nil
end

-- A provider file of the search path: the declaration, or nil (no such
-- file), or nil and a message.
local function from_search_path(name)
  for _, dir in ipairs(_M.search_path()) do
    local path = dir .. "/" .. name .. ".lua"
    if readable(path) then
      local chunk, err = loadfile(path)
      if not chunk then return nil, "provider file " .. path .. ": " .. tostring(err) end
      local ok, decl = pcall(chunk)
      if not ok then return nil, "provider file " .. path .. " failed: " .. tostring(decl) end
      return decl, nil, path
    end
  end
end

-- The module's own provider NAME: the declaration, or nil (none), or nil
-- and a message.
local function builtin(name)
  local ok, decl = pcall(require, "users.providers." .. name)
  if ok then return decl end
  if tostring(decl):find("module 'users.providers." .. name .. "' not found", 1, true) then return nil end
  return nil, "provider '" .. name .. "' failed to load: " .. tostring(decl)
end

--- Whether an update by each method may be sent again after an ambiguous
-- failure (sent, no answer), where a declaration, or a plan's request,
-- does not say: PUT, PATCH, DELETE and reads may; POST may not.
_M.IDEMPOTENT_METHODS = { GET = true, HEAD = true, OPTIONS = true, PUT = true, PATCH = true, DELETE = true }

-- A header name (RFC 9110's token).
local TOKEN = "^[!#$%%&'*+%-.^_`|~%w]+$"

-- The declaration's keys on ambiguous outcomes, checked.
local function check_outcomes(decl)
  local v, k = decl.idempotent, decl.idempotency_key
  if v ~= nil and type(v) ~= "boolean" and type(v) ~= "function" then
    error("provider declaration: 'idempotent' must be true, false or a function(fields)", 0)
  end
  if k ~= nil and not (type(k) == "string" and k:match(TOKEN)) then
    error("provider declaration: 'idempotency_key' must be a header name", 0)
  end
end

--- Whether a declaration's update is idempotent, for people: true, false,
-- or "depends on the fields".
function _M.idempotent_text(d)
  if type(d.idempotent) == "function" then return "depends on the fields" end
  if d.idempotent == nil then return _M.IDEMPOTENT_METHODS[d.method] == true end
  return d.idempotent
end

local function entry_of(decl)
  check_outcomes(decl)
  local entry = { decl = decl, compiled = core.compile(decl), encodings = {} }
  for _, e in ipairs(decl.encodings or { "json" }) do entry.encodings[e] = true end
  return entry
end

--- The declaration and its compiled form, or nil and a message.
function _M.get(name)
  local entry = compiled[name]
  if entry then return entry end
  if type(name) ~= "string" or not name:match(NAME) then
    return nil, "unknown provider '" .. tostring(name) .. "'"
  end
  local decl, err, where = builtin(name)
  if err then return nil, err end
  if decl == nil then decl, err, where = from_search_path(name) end
  if err then return nil, err end
  if decl == nil then return nil, "unknown provider '" .. name .. "'" end
  if type(decl) ~= "table" or decl.name ~= name then
    return nil, "provider file " .. (where or ("for '" .. name .. "'")) .. " must return a table with name = \""
      .. name .. "\""
  end
  local ok, e = pcall(entry_of, decl)
  if not ok then
    return nil, (where and ("provider file " .. where) or ("provider '" .. name .. "'")) .. ": " .. tostring(e)
  end
  compiled[name] = e
  return e
end

--- Whether a provider of this name exists (registered, the module's own,
-- or a file on the search path), without loading it.
function _M.exists(name)
  if compiled[name] then return true end
  for _, n in ipairs(_M.names()) do if n == name then return true end end
  return false
end

--- Registers a declaration (a copy: changing the table afterwards changes
-- nothing). Raises when the name exists, unless `decl.replace` is true,
-- and when the core refuses the declaration.
function _M.register(decl)
  local name = decl.name
  if type(name) ~= "string" or not name:match(NAME) then
    error("the declaration's name must be lower case letters, digits and _ (got " .. tostring(name) .. ")", 0)
  end
  if decl.replace ~= true and _M.exists(name) then
    error("a provider named '" .. name .. "' exists: set replace = true in the declaration to replace it", 0)
  end
  local own = copy(decl)
  own.replace = nil
  local ok, e = pcall(entry_of, own)
  if not ok then error("provider '" .. name .. "': " .. tostring(e), 0) end
  compiled[name] = e
  return e
end

local function add_names(list, seen, dir, pattern)
  for _, f in ipairs(core.list_dir(dir) or {}) do
    local n = f:match(pattern)
    if n and not seen[n] then seen[n] = true; list[#list + 1] = n end
  end
end

--- Names of every provider: the module's own (on package.path), those
-- registered, and the search path's; sorted.
function _M.names()
  local seen, list = {}, {}
  for template in package.path:gmatch("[^;]+") do
    local dir = template:match("^(.*)%?%.lua$")
    if dir then add_names(list, seen, dir .. "users/providers", "^([%l][%l%d_]*)%.lua$") end
  end
  for n in pairs(compiled) do
    if not seen[n] then seen[n] = true; list[#list + 1] = n end
  end
  for _, dir in ipairs(_M.search_path()) do add_names(list, seen, dir, "^([%l][%l%d_]*)%.lua$") end
  table.sort(list)
  return list
end

-- How a declaration authenticates, in words for describe: "bearer token",
-- "username and password", "token in X-API-Key", "none"; alternatives
-- joined with " or ".
local function security_text(d)
  if d.security == nil then return { "bearer token" } end
  local out = {}
  for i, alt in ipairs(d.security) do
    local parts = {}
    for _, r in ipairs(alt) do
      parts[#parts + 1] = r.kind == "bearer" and "bearer token" or r.kind == "basic" and "username and password"
        or r.kind == "header" and ("header " .. r.header) or r.why or r.kind
    end
    out[i] = #parts == 0 and "none" or table.concat(parts, " + ")
  end
  return out
end

--- A provider's contract, for help texts and CLIs (a copy: safe to change).
function _M.describe(entry)
  local d = entry.decl
  local fields = {}
  for i, f in ipairs(d.fields) do
    local info = copy(f)
    info[1] = nil
    info.name, info.order = f[1], i
    info.required = f.required or false
    info.nullable = f.nullable or false
    fields[f[1]] = info
  end
  local params = {}
  for i, p in ipairs(d.params or {}) do
    local info = copy(p)
    info[1] = nil
    info.name = p[1]
    params[i] = info
  end
  return {
    name = d.name, title = d.title, method = d.method, path = d.path,
    base_url = d.base_url, encodings = copy(d.encodings or { "json" }),
    options = copy(d.options or {}), params = params, fields = fields,
    headers = copy(d.headers or {}),              -- header name -> the option it carries
    option_formats = copy(d.option_formats or {}), -- option -> "uuid", ...
    fetches_token = d.token_request ~= nil,        -- key_id + key_secret fetch a token
    security = security_text(d),                   -- { "bearer token", "username and password", ... }
    credentials = security.describe(d),            -- the same alternatives, as tables (users/security.lua)
    required_headers = copy(d.required_headers or {}),
    source = copy(d.source),                       -- { operation, operation_id, pointer } from OpenAPI
    additional_fields = copy(d.additional_fields or false), -- undeclared fields: false, true or a schema
    form_booleans = copy(d.form_booleans or { "1", "0" }),  -- a boolean in form and multipart
    -- may an update be sent again after an ambiguous failure: true, false, or
    -- "depends on the fields" (lancepilot: not with an avatar to upload)
    idempotent = _M.idempotent_text(d),
    idempotency_key = d.idempotency_key,           -- the header of an idempotency key, or nil
    notes = copy(d.notes or {}),                   -- sentences the fields do not say (scim's names, methods)
  }
end

return _M
