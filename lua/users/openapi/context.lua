--- What every step of compiling one operation shares: the document, the
-- order of its keys, its version, the work done so far (bounded), and the
-- one way a step fails: a message naming the JSON pointer of the problem.
local _M = {}

local type, pairs, tostring, error, setmetatable = type, pairs, tostring, error, setmetatable
local sort = table.sort

-- Schemas translated for one operation, at most: shared subschemas ($ref,
-- YAML aliases) make a small text describe a huge tree. (Stripe's customer
-- update, the largest seen, takes 177.)
_M.MAX_SCHEMAS = 10000
-- Enum values copied for one operation, at most: a shared schema's enum
-- is copied wherever the schema is (the 600 time zones of one schema,
-- used by a field 10 000 times, would be six million values).
_M.MAX_ENUM_VALUES = 100000

local Failure = {}
Failure.__tostring = function(f) return f.message .. " (at " .. f.pointer .. ")" end

--- Stops compiling: `message` about what is at `pointer`.
function _M.fail(pointer, message)
  error(setmetatable({ pointer = pointer, message = message }, Failure), 0)
end

--- Whether a value raised is a failure of the compiler's (else a bug).
function _M.is_failure(v) return getmetatable(v) == Failure end

local Context = {}
Context.__index = Context

--- A new context for the document `doc` (`order`: each mapping's keys in
-- the text's order, or nil).
function _M.new(doc, order)
  local version = type(doc) == "table" and doc.openapi
  if type(version) == "number" then version = ("%.1f"):format(version) end -- YAML's unquoted 3.1
  if type(version) ~= "string" or not version:match("^3%.[01]%.") and not version:match("^3%.[01]$") then
    _M.fail("#/openapi", "not an OpenAPI 3.0 or 3.1 document (openapi: " .. tostring(version) .. ")")
  end
  return setmetatable({ doc = doc, order = order or {}, v31 = version:match("^3%.1") ~= nil,
                        schemas = 0, enum_values = 0 }, Context)
end

--- A table's string keys: in the document's order when it was read from
-- text, else sorted (a document given as a table).
function Context:keys(t)
  local known = self.order[t]
  if known then return known end
  local keys = {}
  for k in pairs(t) do
    if type(k) == "string" then keys[#keys + 1] = k end
  end
  sort(keys)
  return keys
end

--- Counts one schema translated; fails past MAX_SCHEMAS.
function Context:count(pointer)
  self.schemas = self.schemas + 1
  if self.schemas > _M.MAX_SCHEMAS then
    _M.fail(pointer, ("the operation's schemas expand to more than %d (shared or recursive schemas)")
      :format(_M.MAX_SCHEMAS))
  end
end

--- Counts n enum values copied; fails past MAX_ENUM_VALUES.
function Context:count_values(n, pointer)
  self.enum_values = self.enum_values + n
  if self.enum_values > _M.MAX_ENUM_VALUES then
    _M.fail(pointer, ("the operation's enums expand to more than %d values (shared schemas)")
      :format(_M.MAX_ENUM_VALUES))
  end
end

return _M
