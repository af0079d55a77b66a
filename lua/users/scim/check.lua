--- The check of a SCIM update before anything is sent, against the RFC 7643
-- User schema and the enterprise extension (users/scim/schema.lua).
--
--   local attrs, err = check.attrs(given)
--
-- On success `attrs` is a new table of the same shape with every name in
-- its canonical case (`USERNAME` -> `userName`, a known URN in its own
-- case), dotted keys nested (`["name.givenName"] = "J"` -> `name =
-- { givenName = "J" }`, `[URN .. ":manager.value"]` likewise), arrays
-- marked with `users.array_mt`, and `users.null` kept where it removes.
-- On failure `err` is an invalid error (`err.kind == "invalid"`) naming
-- every offending attribute in `err.fields`: read-only ones (`id`, `meta`,
-- `groups`, the manager's `displayName`), values of the wrong type (`active`
-- is a boolean), multi-valued attributes that are not arrays of objects,
-- unknown names (with the closest known one). Attributes under a URN that
-- is not known here pass through unchecked: servers add their own.
local core = require "users.core"
local errors = require "users.errors"
local suggest = require "users.suggest"
local schema = require "users.scim.schema"

local _M = {}

local type, pairs, next, getmetatable, setmetatable, tostring = type, pairs, next, getmetatable, setmetatable, tostring
local floor = math.floor

local null, array_mt = core.null, core.array_mt
local PROVIDER = "scim"

--- Whether a value is a Lua array: marked as one, empty, or keys 1..n.
function _M.is_array(v)
  if type(v) ~= "table" or v == null then return false end
  if getmetatable(v) == array_mt or next(v) == nil then return true end
  local n = 0
  for k in pairs(v) do
    if type(k) ~= "number" or k < 1 or k % 1 ~= 0 then return false end
    n = n + 1
  end
  return n == #v
end

local function is_object(v)
  return type(v) == "table" and v ~= null and not _M.is_array(v)
end
_M.is_object = is_object

local SIMPLE = {
  string = "string", reference = "string", binary = "string", dateTime = "string",
  boolean = "boolean", integer = "number", decimal = "number",
}
local WANT = {
  string = "must be a string", reference = "must be a string (a URI)",
  binary = "must be a string (base64)", boolean = "must be a boolean (true or false)",
  integer = "must be an integer", decimal = "must be a number",
  dateTime = "must be a date and time such as 2024-05-01T12:00:00Z (xsd:dateTime)",
}

-- The problem with a simple value of this type, or nil.
local function simple_problem(t, v)
  if type(v) ~= SIMPLE[t] then return WANT[t] end
  if t == "integer" and v ~= floor(v) then return WANT[t] end
  if t == "dateTime" and not v:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d") then return WANT[t] end
end

-- The problems found, by attribute path, and the way to add one.
local function new_problems()
  local p = { fields = {}, n = 0 }
  function p.add(label, msg)
    local list = p.fields[label]
    if not list then list = {}; p.fields[label] = list; p.n = p.n + 1 end
    list[#list + 1] = msg
  end
  return p
end

local function not_writable(def)
  if def.mutability == "readOnly" then return "is read-only: it cannot be updated" end
  if def.mutability == "managed" then return "is written by lua-users from the attributes given" end
end

local function unknown(word, candidates, what)
  local hint = suggest.closest(word, candidates)
  return "is not " .. what .. (hint and (": did you mean '" .. hint .. "'?") or "")
end

-- A complex value's sub-attributes, checked and renamed; nil when one is
-- wrong (each problem added). `element`: inside a multi-valued attribute,
-- where a null sub-attribute is simply left out.
local function complex(def, v, label, p, element)
  if not is_object(v) then
    p.add(label, def.multi and "must be an object such as { value = ..., type = ... }"
                            or "must be an object of sub-attributes")
    return nil
  end
  local out, ok = {}, true
  for k, sv in pairs(v) do
    local sub = schema.sub(def, k)
    local sl = label .. "." .. tostring(k)
    local msg = not sub and unknown(tostring(k), schema.sub_names(def), "a sub-attribute of " .. def.name)
      or not_writable(sub)
      or (sv ~= null and simple_problem(sub.type, sv))
    if msg then
      p.add(sl, msg); ok = false
    elseif out[sub.name] ~= nil then
      p.add(sl, "is given twice (names are case-insensitive)"); ok = false
    elseif not (element and sv == null) then
      out[sub.name] = sv
    end
  end
  if ok and next(out) == nil and not element then
    p.add(label, "sets no sub-attribute"); return nil
  end
  return ok and out or nil
end

-- A multi-valued attribute: an array of objects, one primary at most.
local function multi_valued(def, v, label, p)
  if not _M.is_array(v) then
    p.add(label, "is multi-valued: it must be an array such as { { value = ..., type = ... } }")
    return nil
  end
  local out, primaries, ok = setmetatable({}, array_mt), 0, true
  for i = 1, #v do
    local e = complex(def, v[i], label .. "[" .. i .. "]", p, true)
    if e then
      out[i] = e
      if e.primary == true then primaries = primaries + 1 end
    else
      ok = false
    end
  end
  if primaries > 1 then p.add(label, "has " .. primaries .. " values marked primary: one at most"); ok = false end
  return ok and out or nil
end

-- One attribute's value, checked and in canonical form; nil when wrong.
local function value_of(def, v, label, p)
  if v == null then return null end
  if def.multi then return multi_valued(def, v, label, p) end
  if def.type == "complex" then return complex(def, v, label, p) end
  local msg = simple_problem(def.type, v)
  if msg then p.add(label, msg); return nil end
  return v
end

_M.value_of = value_of

-- Where a name that is no attribute of the core schema may belong.
local function core_hint(name)
  local ext = schema.attribute(name, schema.ENTERPRISE)
  if ext then
    return ("is not a core User attribute: it belongs to the enterprise extension, "
      .. "give it as [\"%s\"] = { %s = ... }"):format(schema.ENTERPRISE, ext.name)
  end
  return unknown(name, schema.names(), "an attribute of the SCIM User schema (RFC 7643)")
end

-- Puts `value` at target[name] (or target[name][sub]), refusing a second
-- value for the same place; two objects of sub-attributes merge, so that
-- `name = {...}` and `["name.givenName"]` may come together, in any order.
-- Returns false when the place was taken.
local function place(target, name, sub, value)
  if sub ~= nil then return place(target, name, nil, { [sub] = value }) end
  local t = target[name]
  if t == nil then
    if is_object(value) then -- a copy: a later merge must not change the caller's table
      t = {}
      for k, v in pairs(value) do t[k] = v end
      value = t
    end
    target[name] = value
    return true
  end
  if not (is_object(t) and is_object(value)) then return false end
  for k in pairs(value) do if t[k] ~= nil then return false end end
  for k, v in pairs(value) do t[k] = v end
  return true
end

-- One attribute path of a known schema ("name", "name.givenName") and its
-- value, into `target` (the result, or its extension table).
local function attribute(s, path, v, label, target, p)
  local name, subname = path:match("^([^.]+)%.(.+)$")
  name = name or path
  local def = schema.attribute(name, s.urn)
  if not def then
    p.add(label, s.urn == schema.CORE and core_hint(name)
                 or unknown(name, s.names, "an attribute of " .. s.urn))
    return
  end
  local msg = not_writable(def)
  if msg then p.add(label, msg); return end
  local sub, value
  if subname then
    sub = schema.sub(def, subname)
    msg = def.multi and "is multi-valued: give the whole array (a path into one value would need a filter)"
      or not def.sub and (def.name .. " has no sub-attributes")
      or not sub and unknown(subname, schema.sub_names(def), "a sub-attribute of " .. def.name)
      or not_writable(sub)
      or (v ~= null and simple_problem(sub.type, v))
    if msg then p.add(label, msg); return end
    value = v
  else
    value = value_of(def, v, label, p)
    if value == nil then return end
  end
  if not place(target, def.name, sub and sub.name, value) then
    p.add(label, "is given twice (names are case-insensitive)")
  end
end

-- A key that starts with a URN, and its value, into `out`.
local function under_urn(key, v, out, p)
  local urn, path, s = schema.split_known(key)
  if not urn and type(v) == "table" and v ~= null and not (_M.is_array(v) and #v > 0) then
    -- an unknown schema's own attributes: passed through as given
    local t = out[key] or {}
    out[key] = t
    for k, av in pairs(v) do
      if not place(t, k, nil, av) then p.add(key .. ":" .. tostring(k), "is given twice") end
    end
    return
  end
  if not urn then
    urn, path = schema.split_unknown(key)
    if not urn then p.add(key, "is a URN without an attribute: give it a table of attributes"); return end
  end
  local t = out -- the core's attributes, fully qualified, are plain ones
  if urn ~= schema.CORE then
    t = out[urn]
    if t == nil then t = {}; out[urn] = t end
  end
  if not s then
    local name, sub = path:match("^([^.]+)%.(.+)$")
    if not place(t, name or path, sub, v) then p.add(key, "is given twice") end
  elseif path then
    attribute(s, path, v, key, t, p)
  elseif type(v) ~= "table" or v == null or (_M.is_array(v) and #v > 0) then
    p.add(key, "must be a table of the schema's attributes, such as { department = \"Sales\" }")
  else
    for k, av in pairs(v) do
      if type(k) ~= "string" then p.add(key .. ":" .. tostring(k), "is not an attribute name: names are strings")
      else attribute(s, k, av, key .. ":" .. k, t, p) end
    end
  end
end

local CORE = schema.extension(schema.CORE)

--- The attributes of an update, checked and in canonical form; or nil and
-- an invalid error naming every offending attribute.
function _M.attrs(given)
  if next(given) == nil then
    return nil, errors.invalid(PROVIDER, {}, "an update needs at least one field")
  end
  local out, p = {}, new_problems()
  for k, v in pairs(given) do
    if type(k) ~= "string" then
      p.add(tostring(k), "is not an attribute name: names are strings")
    elseif schema.is_urn(k) then
      under_urn(k, v, out, p)
    else
      attribute(CORE, k, v, k, out, p)
    end
  end
  if p.n > 0 then return nil, errors.invalid(PROVIDER, p.fields) end
  for k, v in pairs(out) do -- an extension left empty by its problems, or given empty
    if schema.is_urn(k) and type(v) == "table" and next(v) == nil then out[k] = nil end
  end
  if next(out) == nil then
    return nil, errors.invalid(PROVIDER, {}, "an update needs at least one field")
  end
  return out
end

return _M
