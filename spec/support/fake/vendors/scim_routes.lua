-- The routes of the fake SCIM servers (vendors/scim.lua has the dialects):
--   GET /ServiceProviderConfig, GET /Users?filter=, POST /Users,
--   GET /Users/{id}, PATCH /Users/{id}, PUT /Users/{id}.
local common = require "common"
local json = require "json"
local store = require "vendors.scim_store"
local ops = require "vendors.scim_ops"
local filter = require "vendors.scim_filter"
local examples = require "vendors.scim_examples"
local scim = require "vendors.scim"

local M = {}

local function service_provider_config(d)
  if d.spc == false then ops.fail(404, nil, "no ServiceProviderConfig here") end
  local spc = examples.service_provider_config(d.patch ~= false, d.etag == true)
  spc.filter.supported = d.filters == true
  return scim.send(d, 200, spc)
end

local function list(d, req)
  local users = store.all(d)
  local f = req.query:match("^filter=([^&]*)") or req.query:match("&filter=([^&]*)")
  local out = json.array()
  local tree
  if f then
    local why
    tree, why = filter.parse(ngx.unescape_uri((f:gsub("%+", " "))), d.filter_ops)
    if not tree then ops.fail(400, "invalidFilter", why) end
  end
  for _, u in ipairs(users) do
    if not tree or filter.match(tree, u) then
      local _, version, created = store.get(d, u.id)
      out[#out + 1] = scim.render(d, u, version, created)
    end
  end
  return scim.send(d, 200, { schemas = json.array({ scim.LIST }), totalResults = #out,
                             startIndex = 1, itemsPerPage = #out, Resources = out })
end

local function create(d, req)
  local user = scim.body_of(d, req)
  if not json.is_object(user) then ops.fail(400, "invalidSyntax", "the body is not a JSON object") end
  user.id, user.meta, user.groups = common.uuid4(), nil, nil
  ops.validate(user, d)
  scim.check_unique(d, user)
  local version = store.put(d, user)
  local _, _, created = store.get(d, user.id)
  return scim.respond_user(d, 201, user, version, created)
end

local function patch(d, req, id, user, version, created)
  if d.patch == false then ops.fail(501, nil, "PATCH is not supported: GET the user and PUT it whole") end
  scim.check_precondition(d, req, "PATCH", version)
  local body = scim.body_of(d, req)
  ops.patch(user, body, d)
  ops.validate(user, d)
  scim.check_unique(d, user)
  if d.active_deletes and user.active == false then
    store.delete(d, id) -- GitHub: deprovisioned, the identity and its id are gone
    return { status = 204, body = "" }
  end
  version = store.put(d, user)
  if d.patch_status == 204 then return { status = 204, body = "" } end
  return scim.respond_user(d, 200, user, version, created)
end

-- PUT replaces every attribute the client may write (RFC 7644 section
-- 3.5.1): what it leaves out is gone; read-only ones are the server's.
local function put(d, req, id, old, version, created)
  scim.check_precondition(d, req, "PUT", version)
  local user = scim.body_of(d, req)
  if not json.is_object(user) then ops.fail(400, "invalidSyntax", "the body is not a JSON object") end
  local core = false
  for _, s in ipairs(json.is_array(user.schemas) and user.schemas or {}) do
    if type(s) == "string" and s:lower() == ops.CORE:lower() then core = true end
  end
  if not core then ops.fail(400, "invalidSyntax", "schemas must hold " .. ops.CORE) end
  if user.id ~= nil and user.id ~= id then ops.fail(400, "invalidValue", "id does not match the URL") end
  user.id, user.meta, user.groups = id, nil, old.groups
  ops.validate(user, d)
  scim.check_unique(d, user)
  version = store.put(d, user)
  return scim.respond_user(d, 200, user, version, created)
end

local function one_user(d, req, id)
  local user, version, created = store.get(d, id)
  if not user then ops.fail(404, nil, "Resource " .. id .. " not found") end
  if req.method == "GET" then
    local rendered = scim.render(d, user, version, created) -- as it is now, then someone changes it
    scim.someone_else(d, id)
    local headers = {}
    if d.etag then headers.ETag = rendered.meta.version end
    return scim.send(d, 200, rendered, headers)
  elseif req.method == "PATCH" then
    return patch(d, req, id, user, version, created)
  elseif req.method == "PUT" then
    return put(d, req, id, user, version, created)
  end
  ops.fail(405, nil, "method not allowed")
end

local function route(d, req)
  if common.bearer(req) ~= common.TOKEN then ops.fail(401, nil, "Authorization failure: bearer token required") end
  local path = req.path
  if path == "/ServiceProviderConfig" and req.method == "GET" then return service_provider_config(d) end
  if path == "/Users" and req.method == "GET" then return list(d, req) end
  if path == "/Users" and req.method == "POST" then return create(d, req) end
  local id = path:match("^/Users/([^/]+)$")
  if id then return one_user(d, req, ngx.unescape_uri(id)) end
  ops.fail(404, nil, "no such endpoint: " .. path)
end

function M.handle(d, req)
  local ok, res = pcall(route, d, req)
  if not ok then
    if type(res) ~= "table" or not res.status then error(res, 0) end
    res = scim.scim_error(d, res)
  end
  -- nginx would judge If-Match against the answer's ETag itself (its
  -- not_modified filter) and turn a good PUT into a 412: the fake judged it.
  ngx.req.clear_header("If-Match")
  ngx.req.clear_header("If-None-Match")
  return common.send(res.status, res.body, res.headers)
end

return M
