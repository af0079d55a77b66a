--- The body of a SCIM PUT (RFC 7644 section 3.5.1) where a server has no
-- PATCH: the user as the GET returned it, with the update merged in.
--
--   local body = merge.resource(current, attrs)   -- attrs from check.attrs
--
-- The same outcome as the PATCH users/scim/patch.lua sends: a complex
-- attribute's given sub-attributes replace those and the others are kept;
-- a multi-valued attribute is replaced whole; `users.null` (or an empty
-- array) removes. On the way back, what the server owns is left out:
-- `meta` and every other read-only attribute (`groups`, the manager's
-- `displayName`), except `id`, which RFC 7644's own PUT example sends; and
-- nulls, which a PUT would read as "clear" (the same state, RFC 7643
-- section 2.5). The server's names are matched case-insensitively, so a
-- server that answers `UserName` gets one `userName` back, not two. An
-- extension given for the first time is added to `schemas`.
local core = require "users.core"
local schema = require "users.scim.schema"
local check = require "users.scim.check"

local _M = {}

local type, pairs, ipairs, next, getmetatable, setmetatable = type, pairs, ipairs, next, getmetatable, setmetatable
local lower = string.lower
local null, array_mt = core.null, core.array_mt

-- A deep copy without nulls; arrays stay arrays.
local function copy(v)
  if type(v) ~= "table" or v == null then return v end
  local t = {}
  for k, x in pairs(v) do
    if x ~= null then t[k] = copy(x) end
  end
  if check.is_array(v) then setmetatable(t, array_mt) end
  return t
end

local find = schema.key -- the key of t that is name in any case

-- A read-only attribute, or a read-only sub-attribute, of schema `urn`.
local function read_only(urn, name, sub)
  local def = schema.attribute(name, urn)
  if not def then return false end
  if sub then
    local s = schema.sub(def, sub)
    return s ~= nil and s.mutability == "readOnly"
  end
  return def.mutability == "readOnly" and def.name ~= "id"
end

-- Drops what the server owns from the attributes of one schema, in place.
local function drop_read_only(t, urn)
  for k, v in pairs(t) do
    if type(k) == "string" then
      if read_only(urn, k) then
        t[k] = nil
      elseif check.is_object(v) and schema.attribute(k, urn) then
        for sk in pairs(v) do
          if read_only(urn, k, sk) then v[sk] = nil end
        end
      end
    end
  end
end

-- Sets one attribute of `target` (a resource or an extension's table).
local function apply(target, name, v, def)
  local key = find(target, name)
  if v == null or (check.is_array(v) and #v == 0 and (not def or def.multi)) then
    if key then target[key] = nil end
    return
  end
  local complex = check.is_object(v) and (not def or (def.type == "complex" and not def.multi))
  local value = copy(v)
  if complex then
    value = key and check.is_object(target[key]) and target[key] or {}
    for sk, sv in pairs(v) do
      local skey = find(value, sk)
      if skey then value[skey] = nil end
      if sv ~= null then value[sk] = copy(sv) end
    end
  end
  if key then target[key] = nil end
  if not (complex and next(value) == nil) then target[name] = value end
end

-- Adds or removes `urn` in the resource's schemas.
local function set_schema(body, urn, present)
  local key = find(body, "schemas") or "schemas"
  local list = type(body[key]) == "table" and body[key] or { schema.CORE }
  local out = setmetatable({}, array_mt)
  for _, u in ipairs(list) do
    if type(u) ~= "string" or lower(u) ~= lower(urn) then out[#out + 1] = u end
  end
  if present then out[#out + 1] = urn end
  body[key] = out
end

-- Merges one extension's attributes into the body.
local function extension(body, urn, attrs)
  local known = schema.extension(urn)
  local key = find(body, urn)
  local t = key and check.is_object(body[key]) and body[key] or {}
  for name, v in pairs(attrs) do
    apply(t, name, v, known and schema.attribute(name, urn))
  end
  if key then body[key] = nil end
  if next(t) ~= nil then body[urn] = t end
  set_schema(body, urn, next(t) ~= nil)
end

--- The PUT body: `current` (the decoded GET) with `attrs` merged in.
function _M.resource(current, attrs)
  local body = copy(current)
  drop_read_only(body, schema.CORE)
  for k, v in pairs(body) do
    if schema.extension(k) and check.is_object(v) then drop_read_only(v, schema.extension(k).urn) end
  end
  local skey = find(body, "schemas")
  if skey then
    if getmetatable(body[skey]) ~= array_mt then setmetatable(body[skey], array_mt) end
  else
    body.schemas = setmetatable({ schema.CORE }, array_mt)
  end
  for name, v in pairs(attrs) do
    if schema.is_urn(name) then
      extension(body, name, v)
    else
      apply(body, name, v, schema.attribute(name))
    end
  end
  return body
end

return _M
