--- JSON pointers (RFC 6901) into the document: written for messages
-- ("#/paths/~1users~1{id}/patch/requestBody"), and read from local `$ref`s
-- ("#/components/schemas/User", percent-encoded or not).
local context = require "users.openapi.context"

local _M = {}

local type, tostring, tonumber = type, tostring, tonumber
local char = string.char
local fail = context.fail

--- A key as a pointer's token: ~ and / escaped.
function _M.escape(key)
  return (tostring(key):gsub("~", "~0"):gsub("/", "~1"))
end

--- The pointer to `key` inside the value at `pointer`.
function _M.join(pointer, key)
  return pointer .. "/" .. _M.escape(key)
end

local function unescape(token)
  token = token:gsub("%%(%x%x)", function(h) return char(tonumber(h, 16)) end)
  return (token:gsub("~1", "/"):gsub("~0", "~"))
end

--- The value a local reference ("#", "#/a/b") points at, or nil. A token
-- into a sequence is its index from 0.
function _M.resolve(doc, ref)
  if ref == "#" then return doc end
  if ref:sub(1, 2) ~= "#/" then return nil end
  local node = doc
  for token in (ref:sub(3) .. "/"):gmatch("(.-)/") do
    if type(node) ~= "table" then return nil end
    local key = unescape(token)
    local v = node[key]
    if v == nil and key:match("^%d+$") and (key == "0" or key:sub(1, 1) ~= "0") then
      v = node[tonumber(key) + 1]
    end
    node = v
  end
  return node
end

--- Follows `node`'s `$ref` (and a `$ref` it leads to, and so on) to what
-- it names: the value and its pointer. Siblings of a `$ref` are the
-- caller's to handle. A reference to another file, to nothing, or a
-- circle of references fails, named.
function _M.deref(ctx, node, pointer)
  local seen
  while type(node) == "table" and node["$ref"] ~= nil do
    local ref, at = node["$ref"], _M.join(pointer, "$ref")
    if type(ref) ~= "string" then fail(at, "$ref must be a string") end
    if ref:sub(1, 1) ~= "#" then
      fail(at, "$ref '" .. ref .. "' names another document: only references inside this one (#/...) are followed")
    end
    seen = seen or {}
    if seen[ref] then fail(at, "$ref '" .. ref .. "' leads back to itself") end
    seen[ref] = true
    local target = _M.resolve(ctx.doc, ref)
    if target == nil then fail(at, "$ref '" .. ref .. "' points at nothing in the document") end
    node, pointer = target, ref
  end
  return node, pointer
end

return _M
