-- Fake SCIM 2.0 servers (RFC 7643, RFC 7644): the HTTP side shared by every
-- dialect (vendors/scim_rfc.lua, scim_put.lua, scim_github.lua,
-- scim_nodisco.lua, scim_unique.lua), each a table of what it does:
--   spc              GET /ServiceProviderConfig answers (false: 404)
--   patch            PATCH is supported (false: 501, and the SPC says so)
--   patch_status     200 (the resource) or 204 (nothing)
--   etag             ETag headers and meta.version; If-Match honoured (412)
--   require_if_match a PUT without If-Match is refused (428)
--   filters          value paths with filters taken in PATCH paths
--   filter_ops       the filter operators taken (nil: all)
--   single_values    one value per multi-valued attribute (AWS)
--   keep_on_remove   attributes a remove may not target (AWS: userName, active)
--   active_deletes   active: false deletes the identity (GitHub)
--   unique_emails    email values are unique across users (userName always is)
--   strict_media     requests must be application/scim+json (else 415)
--   content_type     what answers are sent as
-- Users live in vendors/scim_store.lua; operations in vendors/scim_ops.lua.
-- Behaviour `on_get = { id = ..., set = { attr = value, ... }, times = N }`
-- (f:behave): after answering a GET of that user, the fake changes it as
-- someone else would, N times (once when times is nil): the PUT that
-- follows carries a stale If-Match.
local common = require "common"
local json = require "json"
local behave = require "behave"
local store = require "vendors.scim_store"
local ops = require "vendors.scim_ops"
local examples = require "vendors.scim_examples"

local M = {}

local ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
local LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

local function copy(v)
  return json.decode(json.encode(v))
end

-- The user as the server shows it: meta added, version in it where ETags are on.
local function render(d, user, version, created)
  local u = copy(user)
  u.meta = { resourceType = "User", created = created, lastModified = common.iso_now(),
             location = d.prefix .. "/Users/" .. u.id }
  if d.etag then u.meta.version = 'W/"' .. version .. '"' end
  return u
end

-- An answer, sent by vendors/scim_routes.lua once the request is handled.
local function send(d, status, body, headers)
  headers = headers or {}
  headers["Content-Type"] = d.content_type or "application/scim+json"
  return { status = status, body = body, headers = headers }
end

local function scim_error(d, e)
  return send(d, e.status, { schemas = json.array({ ERROR }), status = tostring(e.status),
                             scimType = e.scimType, detail = e.detail })
end

local function respond_user(d, status, user, version, created)
  local headers = {}
  if d.etag then headers.ETag = 'W/"' .. version .. '"' end
  return send(d, status, render(d, user, version, created), headers)
end

-- Weak comparison (RFC 9110 section 8.8.3.2) of If-Match's tags with ours.
local function if_match_ok(header, version)
  if header:match("^%s*%*%s*$") then return true end
  for tag in header:gmatch("[^,]+") do
    local opaque = tag:match('^%s*W/"([^"]*)"%s*$') or tag:match('^%s*"([^"]*)"%s*$')
    if opaque == tostring(version) then return true end
  end
  return false
end

local function check_precondition(d, req, method, version)
  if not d.etag then return end
  local header = common.header(req, "if-match")
  if not header then
    if d.require_if_match and method == "PUT" then
      ops.fail(428, nil, "a PUT needs If-Match with the version of the user")
    end
    return
  end
  if not if_match_ok(header, version) then
    ops.fail(412, nil, "the user changed: its version is " .. 'W/"' .. version .. '"')
  end
end

-- userName is unique in every dialect (RFC 7643: uniqueness "server");
-- email values too where the dialect says so.
local function check_unique(d, user)
  local name = user[ops.find(user, "userName")]:lower()
  local emails = {}
  if d.unique_emails then
    for _, e in ipairs(user[ops.find(user, "emails") or "emails"] or {}) do
      if type(e.value) == "string" then emails[e.value:lower()] = true end
    end
  end
  for _, other in ipairs(store.all(d)) do
    if other.id ~= user.id then
      if other.userName:lower() == name then
        ops.fail(409, "uniqueness", "userName " .. name .. " is already taken")
      end
      for _, e in ipairs(other.emails or {}) do
        if type(e.value) == "string" and emails[e.value:lower()] then
          ops.fail(409, "uniqueness", "the email " .. e.value .. " belongs to another user")
        end
      end
    end
  end
end

local function body_of(d, req)
  local media = common.media_type(req)
  if media ~= "application/scim+json" and (d.strict_media or media ~= "application/json") then
    ops.fail(415, nil, "Content-Type must be application/scim+json")
  end
  local body, err = json.decode(req.body)
  if body == nil then ops.fail(400, "invalidSyntax", "the body is not JSON: " .. err) end
  return body
end

-- A change made by someone else right after a GET (behaviour on_get).
local function someone_else(d, id)
  local spec = behave.peek(d.name, "on_get")
  if type(spec) ~= "table" or spec.id ~= id then return end
  local user = store.get(d, id)
  if not user then return end
  for k, v in pairs(spec.set or {}) do user[ops.find(user, k) or k] = v end
  store.put(d, user)
  local left = (spec.times or 1) - 1
  if left > 0 then spec.times = left else spec = false end
  behave.set(d.name, { on_get = spec })
end

M.render, M.send, M.scim_error, M.respond_user = render, send, scim_error, respond_user
M.check_precondition, M.check_unique, M.body_of, M.someone_else = check_precondition, check_unique, body_of, someone_else
M.copy, M.LIST = copy, LIST

--- A vendor module for a dialect (see the top of this file).
function M.dialect(d)
  local routes = require "vendors.scim_routes"
  return {
    dialect = d,
    throttled = function(wait)
      return { schemas = json.array({ ERROR }), status = "429",
               detail = "Too many requests: retry in " .. wait .. " seconds" }
    end,
    handle = function(req) return routes.handle(d, req) end,
    spc = function() return examples.service_provider_config(d.patch ~= false, d.etag == true) end,
  }
end

return M
