--- The body of a SCIM PATCH (RFC 7644 section 3.5.2) from checked
-- attributes (users/scim/check.lua): the one form every server dialect
-- accepts.
--
--   { "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
--     "Operations": [ { "op": "replace", "path": "displayName", "value": "Babs" },
--                     { "op": "remove", "path": "title" }, ... ] }
--
-- One `replace` per given top-level attribute, its path the attribute's
-- name (an extension's `URN:attribute`). A complex attribute's value holds
-- the sub-attributes given, which replace those and keep the rest (section
-- 3.5.2.3); a multi-valued attribute is replaced whole. `users.null` (and
-- an empty array, the same state by RFC 7643 section 2.5) is a `remove`
-- with that path; a null sub-attribute is a `remove` of `name.sub`. Never a
-- filter in a path (GitHub refuses them, AWS takes `eq` only), never a
-- `remove` without a path (AWS requires one). Operations come in schema
-- order, then extensions by URN, so the same update is the same body.
local core = require "users.core"
local schema = require "users.scim.schema"
local check = require "users.scim.check"

local _M = {}

local pairs, ipairs, next, setmetatable, sort = pairs, ipairs, next, setmetatable, table.sort
local null, array_mt = core.null, core.array_mt

local function sorted_keys(t, skip)
  local keys = {}
  for k in pairs(t) do if not (skip and skip[k]) then keys[#keys + 1] = k end end
  sort(keys)
  return keys
end

-- The names of `t` in the order of the schema `s` (nil: unknown, sorted).
local function ordered(t, s)
  if not s then return sorted_keys(t) end
  local out = {}
  for _, name in ipairs(s.names) do
    if t[name] ~= nil then out[#out + 1] = name end
  end
  return out
end

-- The operations of one attribute at `path`.
local function operations(ops, path, v, def)
  if v == null or (check.is_array(v) and #v == 0 and (not def or def.multi)) then
    ops[#ops + 1] = { op = "remove", path = path }
    return
  end
  local complex = check.is_object(v) and (not def or (def.type == "complex" and not def.multi))
  if not complex then
    ops[#ops + 1] = { op = "replace", path = path, value = v }
    return
  end
  local set, removed = {}, {}
  for _, k in ipairs(sorted_keys(v)) do
    if v[k] == null then removed[#removed + 1] = k else set[k] = v[k] end
  end
  if next(set) ~= nil then ops[#ops + 1] = { op = "replace", path = path, value = set } end
  for _, k in ipairs(removed) do ops[#ops + 1] = { op = "remove", path = path .. "." .. k } end
end

--- The PATCH body (a table to encode as JSON) for checked attributes.
function _M.body(attrs)
  local ops = setmetatable({}, array_mt)
  local core_schema, urns = schema.extension(schema.CORE), {}
  for k in pairs(attrs) do
    if schema.is_urn(k) then urns[#urns + 1] = k end
  end
  for _, name in ipairs(ordered(attrs, core_schema)) do
    operations(ops, name, attrs[name], schema.attribute(name))
  end
  -- extensions this module knows first (schema order), then the others by URN
  sort(urns, function(a, b)
    local ka, kb = schema.extension(a) and 0 or 1, schema.extension(b) and 0 or 1
    if ka ~= kb then return ka < kb end
    return a < b
  end)
  for _, urn in ipairs(urns) do
    local s, ext = schema.extension(urn), attrs[urn]
    for _, name in ipairs(ordered(ext, s)) do
      operations(ops, urn .. ":" .. name, ext[name], s and schema.attribute(name, urn))
    end
  end
  return { schemas = setmetatable({ schema.PATCH_OP }, array_mt), Operations = ops }
end

return _M
