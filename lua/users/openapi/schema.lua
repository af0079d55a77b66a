--- A document's schema in the declaration's words (lua/users/providers/
-- README.md): users/openapi/flatten.lua merges what must hold, this file
-- writes it as `type`, `nullable`, `max_length`, `properties`, `one_of`...
local context = require "users.openapi.context"
local flatten = require "users.openapi.flatten"
local keywords = require "users.openapi.keywords"

local _M = {}

local type, ipairs, pairs = type, ipairs, pairs
local fail = context.fail

-- Schemas nest at most this deep (the C core's own bound).
_M.MAX_DEPTH = 64

local RENAMED = {
  minLength = "min_length", maxLength = "max_length", minItems = "min_items",
  maxItems = "max_items", minProperties = "min_properties", maxProperties = "max_properties",
  minimum = "minimum", maximum = "maximum", exclusiveMinimum = "exclusive_minimum",
  exclusiveMaximum = "exclusive_maximum", multipleOf = "multiple_of", pattern = "pattern",
  uniqueItems = "unique_items", readOnly = "read_only", writeOnly = "write_only",
  deprecated = "deprecated", default = "default",
}

local translate

local function one(ctx, node, at, depth, files, chain)
  return translate(ctx, flatten.flatten(ctx, { { node, at, chain } }), depth, files)
end

-- The JSON types as the declaration's `type`, or alternatives of types.
local function write_type(flat, s)
  local list = {}
  local types = flat.types
  if types and types.integer and types.number then types.integer = nil end
  for _, t in ipairs(keywords.TYPES) do
    if types and types[t] then list[#list + 1] = t end
  end
  if #list == 1 then
    s.type = list[1]
  elseif #list > 1 then
    s.any_of = {}
    for i, t in ipairs(list) do s.any_of[i] = { type = t } end
  elseif next(flat.props) or flat.additional ~= nil or flat.kw.minProperties or flat.kw.maxProperties then
    s.type = "object" -- properties without a type: documents mean an object
  elseif #flat.items > 0 then
    s.type = "array"
  end
end

-- A string that is a file, where files may be (`files`): multipart's
-- binary (OAS 3.0), or OAS 3.1's contentMediaType of what is not text
-- (image/png, application/octet-stream; a JSON or text part is a string).
local function is_file(flat, s, files)
  if not files or s.type ~= "string" then return false end
  local media = flat.kw.contentMediaType
  if flat.kw.format == "binary" then return true end
  return type(media) == "string" and not (media:match("^text/") or media:match("json") or media:match("xml"))
end

local function write_format(flat, s)
  local f = flat.kw.format
  if f == nil then return end
  if type(f) ~= "string" then fail(flat.at.format, "format must be a string") end
  -- a format on another type than string is an annotation (JSON Schema)
  if keywords.FORMATS[f] and (s.type == nil or s.type == "string") then
    s.format = f
  else
    s.format_hint = f
  end
end

local function write_rules(flat, s)
  for key, name in pairs(RENAMED) do
    local v = flat.kw[key]
    if v ~= nil and v ~= false then s[name] = v end
  end
  if s.pattern ~= nil and type(s.pattern) ~= "string" then fail(flat.at.pattern, "pattern must be a string") end
  local text = type(flat.kw.description) == "string" and flat.kw.description:match("^%s*(.-)%s*$")
  if text and text ~= "" then s.description = text:gsub("%s+", " ") end
  if flat.enum then s.enum = flat.enum end
  if flat.null then s.nullable = true end
  if flat.only_null then s.nullable, s.enum = true, {} end
end

-- files: the properties are a multipart body's fields, which may be files.
local function write_properties(ctx, flat, s, depth, files)
  if #flat.props == 0 and not next(flat.required) then return end
  s.properties = {}
  for _, p in ipairs(flat.props) do
    local prop = translate(ctx, flatten.flatten(ctx, p.sources), depth + 1, files)
    prop[1] = p[1]
    -- required and readOnly: the property is required in responses only (OAS)
    if flat.required[p[1]] and not prop.read_only then prop.required = true end
    s.properties[#s.properties + 1] = prop
  end
  for _, name in ipairs(ctx:keys(flat.required)) do
    if not flat.by_name[name] then s.properties[#s.properties + 1] = { name, required = true } end
  end
end

local function write_additional(ctx, flat, s, depth)
  local a = flat.additional
  if a == nil then return end
  if a == true or a == false then
    s.additional_properties = a
  else
    s.additional_properties = translate(ctx, flatten.flatten(ctx, a), depth + 1)
  end
end

-- A schema that holds when both do: an any_of and a one_of of one
-- alternative each (each of them must then hold).
local function both(a, b) return { any_of = { a }, one_of = { b } } end

local function attach(s, rule)
  if not s.any_of then s.any_of = { rule }
  elseif not s.one_of then s.one_of = { rule }
  else s.any_of = { both({ any_of = s.any_of }, rule) } end
end

local function alternatives(ctx, list, depth, files)
  local out = {}
  for i, alt in ipairs(list) do out[i] = one(ctx, alt[1], alt[2], depth + 1, files, alt[3]) end
  return out
end

-- oneOf and anyOf; and the rules a second allOf member gives that cannot
-- merge with the first's (two patterns, two sets of alternatives), which
-- must hold as well.
local function write_alternatives(ctx, flat, s, depth, files)
  local musts = {}
  if flat.one_of then s.one_of = alternatives(ctx, flat.one_of, depth, files) end
  if flat.any_of then
    local out = alternatives(ctx, flat.any_of, depth, files)
    if s.any_of then musts[1] = { any_of = out } else s.any_of = out end -- types took any_of
  end
  for _, a in ipairs(flat.also) do
    local key, v, at = a[1], a[2], a[3]
    if key == "one_of" or key == "any_of" then
      musts[#musts + 1] = { [key] = alternatives(ctx, v, depth, files) }
    else
      musts[#musts + 1] = one(ctx, { [key] = v }, at, depth + 1, files)
    end
  end
  local extra = musts[1]
  for i = 2, #musts do extra = both(extra, musts[i]) end
  if extra then attach(s, extra) end
end

--- The declaration's schema for a flat schema. `files`: a string that is
-- binary is a file here (multipart's top-level fields and their items).
translate = function(ctx, flat, depth, files)
  depth = depth or 0
  if depth > _M.MAX_DEPTH then fail(flat.pointer, "schemas nested deeper than " .. _M.MAX_DEPTH) end
  local s = {}
  if flat.recursive and next(flat.kw) == nil and flat.types == nil then
    s.description = "recursive: not checked past this point"
    return s
  end
  write_type(flat, s)
  if is_file(flat, s, files) then
    s.type = "file"
  else
    write_format(flat, s)
  end
  write_rules(flat, s)
  -- a $ref back to a schema that holds this one is a recursion: marked
  -- where it recurses, not followed (the C core holds trees only)
  if #flat.items > 0 then
    s.items = translate(ctx, flatten.flatten(ctx, flat.items), depth + 1, files and s.type == "array" and depth == 1)
  end
  write_properties(ctx, flat, s, depth, files and depth == 0 and s.type == "object")
  write_additional(ctx, flat, s, depth)
  write_alternatives(ctx, flat, s, depth, files)
  return s
end
_M.translate = translate

--- The declaration's schema for the document's schema `node` at `at`.
function _M.compile(ctx, node, at, files)
  return one(ctx, node, at, 0, files)
end

--- The flat form, for a caller that reads the top level itself (the body).
function _M.flat(ctx, node, at) return flatten.flatten(ctx, { { node, at } }) end

return _M
