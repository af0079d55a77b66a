--- Text as the command's input gives it (a CSV cell, a field=value word)
-- made into the value of a field, by the field's declared type:
--   empty          the field is left alone (the readers skip it)
--   null           JSON null (where the field is nullable)
--   boolean        true/false, 1/0, yes/no (any case)
--   integer        digits; an id or value too large to be exact stays text
--   array          items separated by ";" (a;b;c, spaces around items
--                  ignored), or a JSON array ([1,2], ["a","b"]), which CSV
--                  needs quoted as it holds commas: "[1,2]"; [] is empty
--   object         a JSON object ({"givenName":"Babs"}), quoted in CSV
--   file           a path (lancepilot's avatar)
--   string         the text exactly as written
-- Ids stay exactly the text written (leading zeros, 21 digits), unless the
-- provider's id is an integer.
local core = require "users.core"
local users = require "users"

local _M = {}

local type, pairs, ipairs, tonumber = type, pairs, ipairs, tonumber
local format = string.format
local tointeger = math.tointeger

local BOOLEANS = { ["true"] = true, ["1"] = true, yes = true, ["false"] = false, ["0"] = false, no = false }

--- An integer from its text when Lua holds it exactly, else nil.
function _M.exact_integer(text)
  local digits = text:match("^%s*([-+]?%d+)%s*$")
  if not digits then return nil end
  local n = tonumber(digits)
  -- 5.3+: beyond 64 bits tonumber gives a float, which tointeger refuses
  if tointeger then return n and tointeger(n) end
  if n and n > -2 ^ 53 and n < 2 ^ 53 then return n end
  return nil
end
local exact_integer = _M.exact_integer

local function convert_item(rule, text)
  local t = rule and rule.type
  text = text:match("^%s*(.-)%s*$")
  if t == "integer" then return exact_integer(text) or text end
  if t == "boolean" then
    local b = BOOLEANS[text:lower()]
    if b == nil then return text end
    return b
  end
  return text
end

--- A cell's text as the value of a field with this rule (from describe).
function _M.value(rule, text)
  if text == "null" then return users.null end
  local t = rule and rule.type
  if t == "boolean" or t == "integer" then return convert_item(rule, text) end
  if t == "array" then
    local body = text:match("^%s*(.-)%s*$")
    if body:sub(1, 1) == "[" then
      local list = core.json_decode(body)
      if type(list) ~= "table" then return text end -- refused by validation, with the field named
      return setmetatable(list, users.array_mt)
    end
    local list = setmetatable({}, users.array_mt)
    for part in (body .. ";"):gmatch("([^;]*);") do
      if part:find("%S") then list[#list + 1] = convert_item(rule.items, part) end
    end
    return list
  end
  if t == "file" then return users.file(text) end
  if t == "object" and text:match("^%s*{") then
    local obj = core.json_decode(text)
    if type(obj) == "table" then return obj end -- else refused by validation, with the field named
  end
  return text
end

--- The value of a field from its text; text that cannot be converted is
-- given as it is, for validation to refuse with the field named.
function _M.field(rule, text)
  local ok, v = pcall(_M.value, rule, text)
  if ok then return v end
  return text
end

--- The id as the provider takes it: integers converted when its id is one.
function _M.id(param, v)
  if param and param.type == "integer" then
    if type(v) == "string" then return exact_integer(v) or v end
    return v
  end
  if type(v) == "number" then -- a JSON number for an id that is text
    local n = tointeger and tointeger(v) or (v % 1 == 0 and v > -2 ^ 53 and v < 2 ^ 53 and v)
    if n then return tointeger and format("%d", n) or format("%.0f", n) end
  end
  return v
end

--- The provider's path parameters: the id's (the last one not taken from
-- an option), and all of them by name.
function _M.params(desc)
  local id_param, by_name = nil, {}
  for _, p in ipairs(desc.params) do
    by_name[p.name] = p
    if not p.option then id_param = p end
  end
  return id_param, by_name
end

--- The id of an item: a plain value, or a table when path parameters came
-- with it (workspace + user).
function _M.make_id(desc, id_param, parts, id)
  id = _M.id(id_param, id)
  if not parts then return id end
  local t = {}
  for name, v in pairs(parts) do t[name] = v end
  for _, p in ipairs(desc.params) do
    if t[p.name] == nil and not p.option then t[p.name] = id end
  end
  return t
end

return _M
