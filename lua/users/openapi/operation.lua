--- Finding the operation (an operationId, or "METHOD /path" as the
-- document writes it), its base URL (servers: the operation's, the path
-- item's, the document's; variables at their defaults) and its parameters
-- (path parameters as the id's checks; required header parameters).
local context = require "users.openapi.context"
local pointer = require "users.openapi.pointer"
local schema = require "users.openapi.schema"
local suggest = require "users.suggest"

local _M = {}

local type, ipairs, tostring = type, ipairs, tostring
local fail, join = context.fail, pointer.join

local METHODS = { "get", "put", "post", "delete", "options", "head", "patch", "trace" }
local IGNORED_HEADERS = { authorization = true, ["content-type"] = true, accept = true }

local function paths_of(ctx)
  local paths = ctx.doc.paths
  if type(paths) ~= "table" then fail("#/paths", "the document has no paths") end
  return paths
end

local function by_method(ctx, method, path)
  local paths = paths_of(ctx)
  if paths[path] == nil then
    local near = suggest.closest(path, ctx:keys(paths), 3)
    fail("#/paths", "no path '" .. path .. "' in the document" .. (near and (" (did you mean '" .. near .. "'?)") or ""))
  end
  local item, iat = pointer.deref(ctx, paths[path], join("#/paths", path))
  local op = type(item) == "table" and item[method:lower()]
  if type(op) ~= "table" then fail(iat, "no " .. method:upper() .. " operation on " .. path) end
  return op, path, method:upper(), item, join(iat, method:lower())
end

local function by_id(ctx, id)
  local paths, ids = paths_of(ctx), {}
  for _, path in ipairs(ctx:keys(paths)) do
    local item, iat = pointer.deref(ctx, paths[path], join("#/paths", path))
    for _, m in ipairs(METHODS) do
      local op = type(item) == "table" and item[m]
      if type(op) == "table" and op.operationId ~= nil then
        if op.operationId == id then return op, path, m:upper(), item, join(iat, m) end
        ids[#ids + 1] = tostring(op.operationId)
      end
    end
  end
  local near = suggest.closest(id, ids, 3)
  fail("#/paths", "no operation with operationId '" .. id .. "'"
    .. (near and (" (did you mean '" .. near .. "'?)") or "") .. "; or name it as 'METHOD /path'")
end

--- The operation: op, path, METHOD, the path item, and the op's pointer.
function _M.find(ctx, operation)
  if type(operation) ~= "string" or operation == "" then
    fail("#/paths", "the operation must be an operationId or 'METHOD /path'")
  end
  local method, path = operation:match("^(%a+)%s+(/%S*)$")
  if method then return by_method(ctx, method, path) end
  return by_id(ctx, operation)
end

--- The base URL the servers give (the first server, variables at their
-- defaults, without a trailing slash), or nil when it is relative or
-- cannot be made: the caller's base_url (or the overlay's) is then needed.
function _M.base_url(ctx, op, item)
  local servers = op.servers or item.servers or ctx.doc.servers
  local first = type(servers) == "table" and servers[1]
  if type(first) ~= "table" or type(first.url) ~= "string" then return nil end
  local vars, missing = type(first.variables) == "table" and first.variables or {}, false
  local url = first.url:gsub("{([^}]*)}", function(name)
    local v = vars[name]
    if type(v) == "table" and type(v.default) == "string" then return v.default end
    missing = true
  end)
  if missing or not url:match("^[Hh][Tt][Tt][Pp][Ss]?://[^/%s]") then return nil end
  return (url:gsub("/+$", ""))
end

-- The parameters of the path item and the operation (the operation's
-- replace the path item's of the same name and place), by "in:name".
local function parameters(ctx, op, item, at)
  local all, order = {}, {}
  local item_at = at:match("^(.*)/[^/]*$")
  for _, src in ipairs { { item.parameters, join(item_at, "parameters") }, { op.parameters, join(at, "parameters") } } do
    local list, lat = src[1], src[2]
    if type(list) == "table" then
      for i, p in ipairs(list) do
        local param, pat = pointer.deref(ctx, p, join(lat, i - 1))
        if type(param) ~= "table" or type(param.name) ~= "string" then fail(pat, "a parameter without a name") end
        local key = tostring(param["in"]) .. ":" .. param.name
        if not all[key] then order[#order + 1] = key end
        all[key] = { param, pat }
      end
    end
  end
  return all, order
end

local function path_param(ctx, name, p, pat)
  if p.schema == nil then fail(pat, "path parameter '" .. name .. "' has no schema") end
  local s = schema.compile(ctx, p.schema, join(pat, "schema"))
  if s.type ~= nil and s.type ~= "string" and s.type ~= "integer" and s.type ~= "number" then
    fail(join(pat, "schema"), "path parameter '" .. name .. "' must be a string or a number")
  end
  if type(p.description) == "string" and not s.description then s.description = p.description end
  return s
end

--- The path parameters, in the path's order (`params`, names made safe
-- for a path template: [%w_]), the path written with those names, and the
-- header parameters the operation requires.
function _M.params(ctx, op, item, path, at)
  local all, order = parameters(ctx, op, item, at)
  local params, seen = {}, {}
  local template = path:gsub("{([^}]*)}", function(name)
    local safe = name:gsub("[^%w_]", "_")
    if safe == "" or seen[safe] then fail(at, "path parameter '{" .. name .. "}' cannot be told apart") end
    seen[safe] = true
    local found = all["path:" .. name]
    local s = found and path_param(ctx, name, found[1], found[2]) or { type = "string" }
    s[1] = safe
    params[#params + 1] = s
    return "{" .. safe .. "}"
  end)
  local headers = {}
  for _, key in ipairs(order) do
    local p, pat = all[key][1], all[key][2]
    -- OAS: a header parameter named Authorization, Content-Type or Accept
    -- SHALL be ignored (the security scheme, the media type and the client
    -- say them)
    local ignored = p["in"] == "header" and IGNORED_HEADERS[p.name:lower()]
    if p.required == true and p["in"] == "header" and not ignored then
      headers[#headers + 1] = p.name
    elseif p.required == true and (p["in"] == "query" or p["in"] == "cookie") then
      fail(pat, "the required " .. p["in"] .. " parameter '" .. p.name
        .. "' is not supported: the client sends only the path, headers and a body")
    end
  end
  return params, template, headers
end

return _M
