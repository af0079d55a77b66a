--- An operation's request body as the declaration's `fields`,
-- `encodings` (json, form, multipart: each a media type the document
-- offers), `content_types` (a JSON media type other than
-- application/json, e.g. application/merge-patch+json) and
-- `additional_fields`. Form and multipart take the encoding object's
-- style, explode and per-part content types.
local context = require "users.openapi.context"
local pointer = require "users.openapi.pointer"
local schema = require "users.openapi.schema"

local _M = {}

local type, ipairs, pairs, tostring = type, ipairs, pairs, tostring
local fail, join = context.fail, pointer.join
local concat, sort = table.concat, table.sort

-- Media types by the encoding that sends them, best first: for JSON,
-- application/json, then JSON Merge Patch, then any other +json type.
local function encoding_of(media)
  local m = media:lower():match("^%s*([^;%s]+)")
  if not m then return nil end
  if m == "application/json" then return "json", 1 end
  if m == "application/merge-patch+json" then return "json", 2 end
  if m:match("^application/[%w.-]+%+json$") and m ~= "application/json-patch+json" then return "json", 3 end
  if m == "application/x-www-form-urlencoded" then return "form", 4 end
  if m == "multipart/form-data" then return "multipart", 5 end
end

local STYLES = { form = true, deepObject = true, spaceDelimited = true, pipeDelimited = true }

-- Whether a value of the compiled schema s can be a table: a style says
-- how a form writes tables; a scalar is name=value in every style (OAS),
-- so the core takes a style only where a table can be.
local function holds_table(s)
  if s.type == "object" or s.type == "array" then return true end
  if s.type ~= nil then return false end
  if not s.any_of and not s.one_of then return true end
  for _, list in ipairs { s.any_of or {}, s.one_of or {} } do
    for _, alt in ipairs(list) do if holds_table(alt) then return true end end
  end
  return false
end

-- encoding.{style, explode} (form) and encoding.contentType (multipart).
local function apply_encoding(ctx, fields, encoding, at, enc)
  if encoding == nil then return end
  if type(encoding) ~= "table" then fail(at, "encoding must be an object") end
  local by_name = {}
  for _, f in ipairs(fields) do by_name[f[1]] = f end
  for _, name in ipairs(ctx:keys(encoding)) do
    local e, eat = pointer.deref(ctx, encoding[name], join(at, name))
    local f = by_name[name]
    if f and type(e) == "table" then
      if enc == "form" then
        if e.style ~= nil then
          if not STYLES[e.style] then fail(join(eat, "style"), "unknown style '" .. tostring(e.style) .. "'") end
          f.style = holds_table(f) and e.style or nil
        end
        if type(e.explode) == "boolean" and holds_table(f) then f.explode = e.explode end
      elseif enc == "multipart" and type(e.contentType) == "string" then
        local ct = e.contentType:match("^%s*(.-)%s*$")
        if f.type == "file" or (f.type == "array" and f.items and f.items.type == "file") then
          if not ct:find(",", 1, true) then (f.type == "file" and f or f.items).content_type = ct end
        elseif f.type == "array" and f.items and f.items.type ~= "object" and not ct:find("json", 1, true) then
          -- each item is a part of its own (text/csv, ...): the type is each item's
          if ct ~= "text/plain" then f.items.part_content_type = ct end
        elseif ct ~= "text/plain" then
          f.part_content_type = ct
        end
      end
    end
  end
end

-- The top-level schema: an object whose properties are the fields.
local function fields_of(ctx, node, at, enc)
  local flat = schema.flat(ctx, node, at)
  local s = schema.translate(ctx, flat, 0, enc == "multipart")
  if s.type ~= "object" or s.one_of or s.any_of then
    fail(at, "the request body must be an object with properties (a body of another shape is not supported)")
  end
  -- the C core bounds the count of an object's properties, not of the
  -- body's fields: refused rather than ignored
  for _, key in ipairs { "minProperties", "maxProperties" } do
    if flat.kw[key] ~= nil then
      fail(flat.at[key], "the keyword '" .. key .. "' on the request body itself is not supported")
    end
  end
  local fields = s.properties or {}
  local files, others = {}, {}
  for _, f in ipairs(fields) do
    local file = f.type == "file" or (f.type == "array" and f.items and f.items.type == "file")
    if file then files[#files + 1] = f else others[#others + 1] = f end
  end
  -- Files go last: servers that stream a multipart body (busboy, multer)
  -- see the fields before the file arrives.
  for _, f in ipairs(files) do others[#others + 1] = f end
  local additional = s.additional_properties
  -- A field the document does not name is refused (a typo caught before
  -- sending), unless the document lets other properties through itself.
  if flat.additional == nil then additional = nil end
  if additional == false then additional = nil end
  return others, additional, #files > 0
end

local function same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local function media_types(ctx, content, at)
  local found, names = {}, {}
  for _, media in ipairs(ctx:keys(content)) do
    local enc, rank = encoding_of(media)
    names[#names + 1] = media
    if enc and (not found[enc] or rank < found[enc].rank) then
      found[enc] = { media = media, rank = rank, enc = enc }
    end
  end
  local list = {}
  for _, m in pairs(found) do list[#list + 1] = m end
  sort(list, function(a, b) return a.rank < b.rank end)
  if #list == 0 then
    fail(at, "no media type the client can send (" .. concat(names, ", ")
      .. "): it sends application/json (and +json types), x-www-form-urlencoded and multipart/form-data")
  end
  return list
end

--- Writes the body into the declaration `decl`: fields, encodings,
-- content_types, additional_fields. `op` is the operation at `at`.
function _M.compile(ctx, decl, op, at)
  if op.requestBody == nil then fail(at, "the operation has no requestBody: there is nothing to update") end
  local body, bat = pointer.deref(ctx, op.requestBody, join(at, "requestBody"))
  if type(body) ~= "table" or type(body.content) ~= "table" then fail(bat, "requestBody has no content") end
  local cat = join(bat, "content")
  local first
  decl.encodings = {}
  for _, m in ipairs(media_types(ctx, body.content, cat)) do
    local mat = join(cat, m.media)
    local media = body.content[m.media]
    if type(media) ~= "table" or media.schema == nil then fail(mat, "a media type without a schema") end
    local sat, eat = join(mat, "schema"), join(mat, "encoding")
    local fields, additional, has_files = fields_of(ctx, media.schema, sat, m.enc)
    if not first then
      if has_files and m.enc ~= "multipart" then fail(sat, "file fields need multipart/form-data") end
      first = { bare = (fields_of(ctx, media.schema, sat, m.enc)), additional = additional }
      decl.fields, decl.additional_fields, decl.encodings[1] = fields, additional, m.enc
      apply_encoding(ctx, fields, media.encoding, eat, m.enc)
    elseif not has_files and same(fields, first.bare) and same(additional, first.additional) then
      -- the same fields in another media type: what form and multipart
      -- add (style, explode, part content types) goes on them
      apply_encoding(ctx, decl.fields, media.encoding, eat, m.enc)
      decl.encodings[#decl.encodings + 1] = m.enc
    end
    local bare = m.media:match("^%s*([^;%s]+)")
    if m.enc == "json" and bare:lower() ~= "application/json" then decl.content_types = { json = bare } end
  end
  if #decl.fields == 0 and not decl.additional_fields then
    fail(bat, "the request body has no properties: there is nothing to update")
  end
end

return _M
