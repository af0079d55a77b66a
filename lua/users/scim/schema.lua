--- The SCIM User schema (RFC 7643 section 4.1, its common attributes of
-- section 3.1, and the enterprise extension of section 4.3): each
-- attribute's canonical name, type, mutability, whether it is multi-valued,
-- and its sub-attributes. Names are matched case-insensitively, as RFC 7643
-- section 2.1 says; what a caller wrote is mapped back to the canonical
-- name for the wire.
--
--   local def = schema.attribute("USERNAME")        -- core attribute
--   def.name, def.type, def.multi, def.mutability, def.order
--   schema.sub(def, "givenname")                     -- a sub-attribute
--   local ext = schema.extension("urn:...:enterprise:2.0:user")
--   schema.attribute("department", ext.urn)
local _M = {}

local lower = string.lower
local type, pairs, ipairs = type, pairs, ipairs

_M.CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
_M.ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
_M.PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
_M.ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
_M.SPC = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"

-- A sub-attribute list: "name" is a readWrite string; { "name", "type",
-- "mutability" } says otherwise.
local function subs(list)
  local out = {}
  for i, s in ipairs(list) do
    if type(s) == "string" then s = { s } end
    out[i] = { name = s[1], type = s[2] or "string", mutability = s[3] or "readWrite", multi = false }
  end
  return out
end

-- The sub-attributes every multi-valued attribute of the User has
-- (RFC 7643 section 2.4), with the type of its value.
local function multi(value_type)
  return subs { { "value", value_type }, "display", "type", { "primary", "boolean" } }
end

local READ_ONLY_GROUP = subs {
  { "value", "string", "readOnly" }, { "$ref", "reference", "readOnly" },
  { "display", "string", "readOnly" }, { "type", "string", "readOnly" },
}

-- { name, type, multi = bool, mutability, sub = sub-attributes }
local CORE = {
  { "id", "string", mutability = "readOnly" },
  { "externalId", "string" },
  { "meta", "complex", mutability = "readOnly", sub = subs {
    { "resourceType", "string", "readOnly" }, { "created", "dateTime", "readOnly" },
    { "lastModified", "dateTime", "readOnly" }, { "location", "reference", "readOnly" },
    { "version", "string", "readOnly" } } },
  -- lua-users writes `schemas` itself, from the extensions given.
  { "schemas", "reference", multi = true, mutability = "managed" },
  { "userName", "string" },
  { "name", "complex", sub = subs { "formatted", "familyName", "givenName", "middleName",
                                    "honorificPrefix", "honorificSuffix" } },
  { "displayName", "string" },
  { "nickName", "string" },
  { "profileUrl", "reference" },
  { "title", "string" },
  { "userType", "string" },
  { "preferredLanguage", "string" },
  { "locale", "string" },
  { "timezone", "string" },
  { "active", "boolean" },
  { "password", "string", mutability = "writeOnly" },
  { "emails", "complex", multi = true, sub = multi("string") },
  { "phoneNumbers", "complex", multi = true, sub = multi("string") },
  { "ims", "complex", multi = true, sub = multi("string") },
  { "photos", "complex", multi = true, sub = multi("reference") },
  { "addresses", "complex", multi = true, sub = subs {
    "formatted", "streetAddress", "locality", "region", "postalCode", "country", "type",
    { "primary", "boolean" } } },
  { "groups", "complex", multi = true, mutability = "readOnly", sub = READ_ONLY_GROUP },
  { "entitlements", "complex", multi = true, sub = multi("string") },
  { "roles", "complex", multi = true, sub = multi("string") },
  { "x509Certificates", "complex", multi = true, sub = multi("binary") },
}

local ENTERPRISE = {
  { "employeeNumber", "string" },
  { "costCenter", "string" },
  { "organization", "string" },
  { "division", "string" },
  { "department", "string" },
  { "manager", "complex", sub = subs { "value", { "$ref", "reference" },
                                       { "displayName", "string", "readOnly" } } },
}

-- name -> def, by lower-case name, and the canonical names in order.
local function index(list, urn)
  local by, names = {}, {}
  for i, a in ipairs(list) do
    local def = { name = a[1], type = a[2], multi = a.multi or false,
                  mutability = a.mutability or "readWrite", order = i, urn = urn, sub = a.sub }
    if def.sub then
      def.sub_by = {}
      for _, s in ipairs(def.sub) do def.sub_by[lower(s.name)] = s end
    end
    by[lower(def.name)] = def
    names[i] = def.name
  end
  return { urn = urn, by = by, names = names }
end

local schemas = {
  [lower(_M.CORE)] = index(CORE, _M.CORE),
  [lower(_M.ENTERPRISE)] = index(ENTERPRISE, _M.ENTERPRISE),
}

--- The known schema of a URN (case-insensitive), or nil: `{ urn, names }`
-- with `urn` canonical and `names` the attribute names in schema order.
function _M.extension(urn)
  return type(urn) == "string" and schemas[lower(urn)] or nil
end

--- The definition of an attribute of a schema (the core User schema when
-- `urn` is nil), matched case-insensitively; nil when it has none.
function _M.attribute(name, urn)
  local s = schemas[lower(urn or _M.CORE)]
  return s and type(name) == "string" and s.by[lower(name)] or nil
end

--- The definition of a sub-attribute of a complex attribute, or nil.
function _M.sub(def, name)
  return def and def.sub_by and type(name) == "string" and def.sub_by[lower(name)] or nil
end

--- The canonical names of a schema's attributes (the core's when `urn`
-- is nil), in schema order; and of a complex attribute's sub-attributes.
function _M.names(urn)
  return schemas[lower(urn or _M.CORE)].names
end

function _M.sub_names(def)
  local out = {}
  for i, s in ipairs(def.sub or {}) do out[i] = s.name end
  return out
end

--- The key of table `t` that is `name` in any case (names are
-- case-insensitive, RFC 7643 section 2.1), or nil.
function _M.key(t, name)
  if t[name] ~= nil then return name end
  local l = lower(name)
  for k in pairs(t) do
    if type(k) == "string" and lower(k) == l then return k end
  end
  return nil
end

--- The member `name` of `t` in any case; nil when `t` is no table or has none.
function _M.get(t, name)
  if type(t) ~= "table" then return nil end
  local k = _M.key(t, name)
  if k == nil then return nil end
  return t[k]
end

--- Whether a key names a schema (a URN) rather than an attribute.
function _M.is_urn(key)
  return type(key) == "string" and lower(key:sub(1, 4)) == "urn:"
end

--- Splits a key that starts with a known schema's URN (in any case):
-- returns the canonical URN, the attribute path after its ":" (nil when
-- the key is the URN alone), and the schema. Nil for any other key.
function _M.split_known(key)
  local known = _M.extension(key)
  if known then return known.urn, nil, known end
  for _, s in pairs(schemas) do
    local n = #s.urn
    if #key > n + 1 and key:sub(n + 1, n + 1) == ":" and lower(key:sub(1, n)) == lower(s.urn) then
      return s.urn, key:sub(n + 2), s
    end
  end
end

--- Splits a key under a schema nobody here knows into the URN and the
-- attribute path: the path is what follows the last ":" (attribute names
-- hold no ":", RFC 7644 section 3.10). Nil when no attribute path follows.
function _M.split_unknown(key)
  return key:match("^(.+):([%a$][%w_$.-]*)$")
end

return _M
