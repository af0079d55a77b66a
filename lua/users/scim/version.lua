--- A SCIM resource's version, for `If-Match` (RFC 7644 section 3.14): the
-- `ETag` header of the GET, or else the resource's `meta.version`, which
-- the RFC makes the same entity tag (`W/"3694e05e9dff590"`).
--
--   local tag = version.of(res.headers, user)   -- nil when neither says
--
-- A value the server sent without the quotes an entity tag needs (some
-- send `meta.version` as `3`) is quoted; one that could not be sent in a
-- header (CR, LF, NUL, a quote inside) is no version at all.
local schema = require "users.scim.schema"

local _M = {}

local type, tostring = type, tostring

local get = schema.get

--- An entity tag as If-Match takes it, from what a server sent; or nil.
function _M.entity_tag(v)
  if type(v) == "number" then v = tostring(v) end
  if type(v) ~= "string" then return nil end
  v = v:match("^%s*(.-)%s*$")
  if v == "" or v:find("[%z\1-\31\127]") then return nil end
  local weak, opaque = v:match('^(W/)"([^"]*)"$')
  if not opaque then opaque = v:match('^"([^"]*)"$') end
  if opaque then return (weak or "") .. '"' .. opaque .. '"' end
  if v:find('"', 1, true) or v:find("%s") then return nil end
  return '"' .. v .. '"'
end

--- The version to send in If-Match: the ETag header first, then
-- `meta.version` of the resource. Nil when neither gives one.
function _M.of(headers, resource)
  local tag = _M.entity_tag(get(headers, "etag"))
  if tag then return tag end
  return _M.entity_tag(get(get(resource, "meta"), "version"))
end

return _M
