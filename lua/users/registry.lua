--- Provider declarations: found by name under users/providers/, compiled
-- once per Lua state by the C core, listed and described.
local core = require "users.core"

local _M = {}

local type, pairs, ipairs, pcall, require = type, pairs, ipairs, pcall, require
local compiled = {}

local function copy(v)
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = copy(x) end
  return t
end

--- The declaration and its compiled form, or nil and a message.
function _M.get(name)
  local entry = compiled[name]
  if entry then return entry end
  if type(name) ~= "string" or not name:match("^[%l][%l%d_]*$") then
    return nil, "unknown provider '" .. tostring(name) .. "'"
  end
  local ok, decl = pcall(require, "users.providers." .. name)
  if not ok then
    if tostring(decl):find("module 'users.providers." .. name .. "' not found", 1, true) then
      return nil, "unknown provider '" .. name .. "'"
    end
    return nil, "provider '" .. name .. "' failed to load: " .. tostring(decl)
  end
  if type(decl) ~= "table" or decl.name ~= name then
    return nil, "provider file for '" .. name .. "' must return a table with name = \"" .. name .. "\""
  end
  local cok, c = pcall(core.compile, decl)
  if not cok then return nil, "provider '" .. name .. "': " .. tostring(c) end
  entry = { decl = decl, compiled = c }
  entry.encodings = {}
  for _, e in ipairs(decl.encodings or { "json" }) do entry.encodings[e] = true end
  compiled[name] = entry
  return entry
end

--- Names of every provider file on package.path, sorted.
function _M.names()
  local seen, list = {}, {}
  for template in package.path:gmatch("[^;]+") do
    local dir = template:match("^(.*)%?%.lua$")
    if dir then
      local files = core.list_dir(dir .. "users/providers")
      for _, f in ipairs(files or {}) do
        local n = f:match("^([%l][%l%d_]*)%.lua$")
        if n and not seen[n] then seen[n] = true; list[#list + 1] = n end
      end
    end
  end
  for n in pairs(compiled) do
    if not seen[n] then seen[n] = true; list[#list + 1] = n end
  end
  table.sort(list)
  return list
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
    additional_fields = copy(d.additional_fields or false), -- undeclared fields: false, true or a schema
    form_booleans = copy(d.form_booleans or { "1", "0" }),  -- a boolean in form and multipart
  }
end

return _M
