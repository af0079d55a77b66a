--- The SCIM User's attributes as a provider declaration lists its fields
-- (lua/users/providers/README.md's vocabulary), for `describe("scim")`,
-- help texts and the command's CSV columns.
--
--   fields.list() -> { { "userName", type = "string" }, ...,
--                      { "name", type = "object", properties = {...} },
--                      { "name.givenName", type = "string" }, ...,
--                      { "emails", type = "array", items = { type = "object", ... } },
--                      { "urn:...:enterprise:2.0:User:department", type = "string" }, ... }
--
-- Every writable attribute once; a complex one also as its dotted
-- sub-attributes (`name.givenName`: a CSV column sets one); a multi-valued
-- one as an array of objects (a JSON cell). Read-only attributes (`id`,
-- `meta`, `groups`) are not fields: an update cannot set them. Objects
-- take no other sub-attribute (additional_properties = false), as the
-- check (users/scim/check.lua) refuses them.
local schema = require "users.scim.schema"

local _M = {}

local pairs, ipairs = pairs, ipairs

local TYPES = {
  string = { type = "string" }, reference = { type = "string" }, binary = { type = "string" },
  dateTime = { type = "string", format = "date-time" },
  boolean = { type = "boolean" }, integer = { type = "integer" }, decimal = { type = "number" },
}

local function simple(name, t, extra)
  local f = { name }
  for k, v in pairs(TYPES[t]) do f[k] = v end
  for k, v in pairs(extra or {}) do f[k] = v end
  return f
end

local function writable(def)
  return def.mutability == "readWrite" or def.mutability == "writeOnly"
end

local function properties(def)
  local props = {}
  for _, s in ipairs(def.sub) do
    if writable(s) then props[#props + 1] = simple(s.name, s.type) end
  end
  return props
end

-- The fields of one attribute (prefix: "" for the core, "URN:" otherwise).
local function add(list, def, prefix)
  local name = prefix .. def.name
  -- every attribute may be removed (users.null) but the one a user cannot be without
  local extra = { nullable = def.name ~= "userName", write_only = def.mutability == "writeOnly" or nil }
  if def.multi then
    list[#list + 1] = { name, type = "array", nullable = true,
                        items = { type = "object", properties = properties(def), additional_properties = false } }
  elseif def.type == "complex" then
    list[#list + 1] = { name, type = "object", nullable = true, properties = properties(def),
                        additional_properties = false }
    for _, p in ipairs(properties(def)) do
      list[#list + 1] = simple(name .. "." .. p[1], def.sub_by[p[1]:lower()].type, { nullable = true })
    end
  else
    list[#list + 1] = simple(name, def.type, extra)
  end
end

--- The field list (a new table each call: safe to change).
function _M.list()
  local list = {}
  for _, urn in ipairs({ schema.CORE, schema.ENTERPRISE }) do
    for _, n in ipairs(schema.names(urn)) do
      local def = schema.attribute(n, urn)
      if writable(def) then add(list, def, urn == schema.CORE and "" or urn .. ":") end
    end
  end
  return list
end

return _M
