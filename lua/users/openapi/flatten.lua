--- A schema as a document spells it ($ref, $ref with siblings, allOf,
-- oneOf/anyOf wrapping a null, type lists, OAS 3.0's boolean exclusive
-- bounds) made into one flat set of rules: every source that must hold
-- merged into it, each rule's pointer kept for messages.
-- users/openapi/schema.lua translates it into the declaration's words.
--
-- A flat schema:
--   pointer     where its first source is
--   types       nil (any type) or a set of JSON types, null apart
--   null        null is valid; only_null: nothing else is
--   kw, at      merged rules and annotations by keyword, and where each is
--   props       { { name, sources = { { node, pointer, chain }, ... } }, ... }
--   required    the set of required property names
--   items       sources of the items' schema
--   additional  nil, true, false, or sources of a schema
--   one_of, any_of   lists of alternatives: { node, pointer, chain } each
--   also        rules a second source gives that cannot merge with the
--               first's (two patterns): { keyword, value, pointer }, all must hold
--   recursive   a $ref to a schema that holds this one: not followed
--
-- A source's chain lists the $refs followed to reach it ({ target, up },
-- nil at the top): a $ref to one of them is a real cycle (a schema
-- inside itself). A $ref to a schema merged beside this one (allOf's
-- other members) is not, and is followed.
local context = require "users.openapi.context"
local pointer = require "users.openapi.pointer"
local keywords = require "users.openapi.keywords"

local _M = {}

local type, ipairs, pairs, tostring = type, ipairs, pairs, tostring
local fail, join = context.fail, pointer.join
local null = require("users.core").null

local LOWER = { minLength = true, minItems = true, minProperties = true, minimum = true,
                exclusiveMinimum = true }
local UPPER = { maxLength = true, maxItems = true, maxProperties = true, maximum = true,
                exclusiveMaximum = true }
local FLAGS = { readOnly = true, writeOnly = true, deprecated = true, uniqueItems = true }
local SAME = { pattern = true, format = true, multipleOf = true, contentMediaType = true }
local JSON_TYPES = { string = true, integer = true, number = true, boolean = true, array = true,
                     object = true, null = true }

local function list_of(v, at, what)
  if type(v) ~= "table" or (#v == 0 and next(v) ~= nil) then fail(at, what .. " must be a list") end
  return v
end

-- The types a `type` keyword allows (a set, null apart) and whether null is one.
local function types_of(v, at)
  local list = type(v) == "string" and { v } or list_of(v, at, "type")
  local set, has_null = {}, false
  for i, t in ipairs(list) do
    if not JSON_TYPES[t] then fail(join(at, i - 1), "unknown type '" .. tostring(t) .. "'") end
    if t == "null" then has_null = true else set[t] = true end
  end
  return set, has_null
end

local function intersect(a, b, at)
  if a == nil then return b end
  local out, any = {}, false
  for t in pairs(a) do
    if b[t] then out[t], any = true, true
    elseif t == "integer" and b.number or t == "number" and b.integer then out.integer, any = true, true end
  end
  if not any and next(a) and next(b) then fail(at, "allOf holds types that exclude each other") end
  return out
end

local function scalar(v, at)
  local t = type(v)
  if t ~= "string" and t ~= "number" and t ~= "boolean" and v ~= null then
    fail(at, "a value of enum or const must be a string, number, boolean or null")
  end
  return v
end

-- A rule that two sources give: the tighter bound, the same value, or the
-- second kept apart (flat.also) to hold as well.
local function merge_rule(flat, key, v, at, outer)
  local old = flat.kw[key]
  if old == nil or (outer and (key == "description" or key == "default")) then
    flat.kw[key], flat.at[key] = v, at
  elseif LOWER[key] then
    if v > old then flat.kw[key], flat.at[key] = v, at end
  elseif UPPER[key] then
    if v < old then flat.kw[key], flat.at[key] = v, at end
  elseif FLAGS[key] then
    flat.kw[key] = old or v
  elseif SAME[key] and old ~= v then
    flat.also[#flat.also + 1] = { key, v, at }
  end
end

-- An enum merged: the values both allow (looked up in a set: enums of
-- hundreds of values meet), each value counted against the bound.
local function merge_enum(ctx, flat, v, at, votes)
  local values, has_null = {}, false
  local list = list_of(v, at, "enum")
  ctx:count_values(#list, at)
  for i, x in ipairs(list) do
    if scalar(x, join(at, i - 1)) == null then has_null = true else values[#values + 1] = x end
  end
  votes.null, votes.typed = votes.null or has_null, true
  if flat.enum == nil then
    flat.enum, flat.at.enum = values, at
    return
  end
  local allowed, keep = {}, {}
  for _, y in ipairs(values) do allowed[y] = true end
  for _, x in ipairs(flat.enum) do if allowed[x] then keep[#keep + 1] = x end end
  flat.enum = keep
end

local add_source

local function merge_properties(ctx, flat, props, at, chain)
  if type(props) ~= "table" then fail(at, "properties must be an object") end
  for _, name in ipairs(ctx:keys(props)) do
    local p = flat.by_name[name]
    if not p then
      p = { name, sources = {} }
      flat.props[#flat.props + 1], flat.by_name[name] = p, p
    end
    p.sources[#p.sources + 1] = { props[name], join(at, name), chain }
  end
end

local function merge_additional(flat, v, at, chain)
  if v == false or flat.additional == false then
    flat.additional = false
  elseif v == true then
    flat.additional = flat.additional or true
  else
    if flat.additional == nil or flat.additional == true then flat.additional = {} end
    flat.additional[#flat.additional + 1] = { v, at, chain }
  end
end

local function merge_alternatives(flat, key, v, at, chain)
  local field = key == "oneOf" and "one_of" or "any_of"
  local list = {}
  for i, alt in ipairs(list_of(v, at, key)) do list[i] = { alt, join(at, i - 1), chain } end
  if flat[field] then
    flat.also[#flat.also + 1] = { field, list, at }
  else
    flat[field] = list
  end
end

-- OAS 3.0 writes an exclusive bound as a boolean beside minimum/maximum;
-- 3.1 (JSON Schema 2020-12) as the bound itself.
local function bound(node, key, v)
  if key == "exclusiveMinimum" or key == "exclusiveMaximum" then
    if type(v) == "boolean" then
      return v and node[key == "exclusiveMinimum" and "minimum" or "maximum"] or nil
    end
  elseif key == "minimum" and node.exclusiveMinimum == true
      or key == "maximum" and node.exclusiveMaximum == true then
    return nil -- written as the exclusive bound instead
  end
  return v
end

local function number_rule(key, v, at)
  if (LOWER[key] or UPPER[key] or key == "multipleOf") and type(v) ~= "number" then
    fail(at, key .. " must be a number")
  end
end

-- One keyword of a source. votes: what this source says of null.
local function merge_keyword(ctx, flat, node, key, v, at, outer, votes, chain)
  if key == "allOf" then
    for i, member in ipairs(list_of(v, at, "allOf")) do add_source(ctx, flat, member, join(at, i - 1), false, chain) end
  elseif key == "type" then
    local set, has_null = types_of(v, at)
    votes.null, votes.typed = votes.null or has_null, true
    if next(set) == nil then flat.only_null_votes = true end
    flat.types = intersect(flat.types, set, at)
  elseif key == "nullable" then
    votes.null = votes.null or v == true
  elseif key == "enum" then
    merge_enum(ctx, flat, v, at, votes)
  elseif key == "const" then
    votes.typed = true
    if scalar(v, at) == null then votes.null, flat.only_null_votes = true, true
    else merge_enum(ctx, flat, { v }, at, votes) end
  elseif key == "properties" then
    merge_properties(ctx, flat, v, at, chain)
  elseif key == "required" then
    for i, name in ipairs(list_of(v, at, "required")) do
      if type(name) ~= "string" then fail(join(at, i - 1), "required must list names") end
      flat.required[name] = true
    end
  elseif key == "items" then
    if type(v) == "table" and #v > 0 then fail(at, "items as a list (tuples) is not supported") end
    flat.items[#flat.items + 1] = { v, at, chain }
  elseif key == "additionalProperties" or key == "unevaluatedProperties" then
    merge_additional(flat, v, at, chain)
  elseif key == "oneOf" or key == "anyOf" then
    merge_alternatives(flat, key, v, at, chain)
  elseif key ~= "$ref" then
    v = bound(node, key, v)
    if v ~= nil then
      number_rule(key, v, at)
      merge_rule(flat, key, v, at, outer)
    end
  end
end

local function check_keyword(key, at)
  if keywords.RULES[key] or keywords.IGNORED[key] or key:sub(1, 2) == "x-" then return end
  if keywords.UNSUPPORTED[key] then
    fail(at, "the keyword '" .. key .. "' is not supported: the client cannot check it")
  end
  fail(at, "unknown keyword '" .. key .. "'")
end

local function merge_node(ctx, flat, node, at, outer, chain)
  local votes = {}
  for _, key in ipairs(ctx:keys(node)) do
    local kat = join(at, key)
    check_keyword(key, kat)
    if keywords.RULES[key] then merge_keyword(ctx, flat, node, key, node[key], kat, outer, votes, chain) end
  end
  if outer then
    flat.null_outer = flat.null_outer or votes.null
  elseif votes.typed or votes.null then
    flat.members = flat.members + 1
    if votes.null then flat.members_null = flat.members_null + 1 end
  end
end

local function in_chain(chain, target)
  while chain do
    if chain[1] == target then return true end
    chain = chain[2]
  end
  return false
end

-- Adds one source that must hold: its $ref followed (siblings too, in
-- OAS 3.1; OAS 3.0 ignores them), its keywords merged. chain: the $refs
-- followed to reach it.
add_source = function(ctx, flat, node, at, outer, chain)
  if node == true then return end
  if node == false then fail(at, "a schema that nothing satisfies (false) is not supported") end
  if type(node) ~= "table" then fail(at, "a schema must be an object") end
  local ref = node["$ref"]
  if ref ~= nil then
    local target, tat = pointer.deref(ctx, { ["$ref"] = ref }, at)
    if in_chain(chain, tat) then flat.recursive = true return end
    if not flat.refs[tat] then
      flat.refs[tat] = true
      add_source(ctx, flat, target, tat, outer, { tat, chain })
    end
    if not ctx.v31 then return end
  end
  ctx:count(at)
  merge_node(ctx, flat, node, at, outer, chain)
end

-- Whether an alternative is only null ({type: 'null'}, {enum: [null]}, ...).
local function is_null(ctx, alt, at)
  if type(alt) ~= "table" then return false end
  alt = pointer.deref(ctx, alt, at)
  if type(alt) ~= "table" then return false end
  local t = alt.type
  return t == "null" or (type(t) == "table" and #t == 1 and t[1] == "null")
    or (type(alt.enum) == "table" and #alt.enum == 1 and alt.enum[1] == null) or alt.const == null
end

-- oneOf/anyOf: null alternatives make the schema nullable; one alternative
-- left is merged as a rule that must hold (FastAPI's [S, {type: null}]).
local function unwrap(ctx, flat, field)
  local list = flat[field]
  if not list then return false end
  local rest = {}
  for _, alt in ipairs(list) do
    if is_null(ctx, alt[1], alt[2]) then flat.null_outer = true else rest[#rest + 1] = alt end
  end
  if #rest > 1 then flat[field] = rest return false end
  flat[field] = nil
  if #rest == 0 then flat.only_null_votes = true return false end
  add_source(ctx, flat, rest[1][1], rest[1][2], true, rest[1][3])
  return true
end

--- The flat schema of sources that must all hold ({ { node, pointer
-- [, chain] }, ... }).
function _M.flatten(ctx, sources)
  local flat = { pointer = sources[1][2], kw = {}, at = {}, props = {}, by_name = {}, required = {},
                 items = {}, also = {}, refs = {}, members = 0, members_null = 0 }
  for _, s in ipairs(sources) do add_source(ctx, flat, s[1], s[2], #sources == 1, s[3]) end
  while unwrap(ctx, flat, "one_of") or unwrap(ctx, flat, "any_of") do end
  flat.null = flat.null_outer or (flat.members > 0 and flat.members == flat.members_null)
  flat.only_null = flat.only_null_votes and (flat.types == nil or next(flat.types) == nil)
    and not flat.enum
  return flat
end

return _M
