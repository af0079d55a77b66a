--- An overlay: what a document does not say, laid over what it does. Its
-- keys are checked before anything is compiled (a wrong type is misuse);
-- one that names a field, parameter or encoding the operation does not
-- have is a compile error.
--   name, title                  the provider's name and title
--   base_url                     when the document has no usable servers
--   id                           which path parameter a plain id fills, when there are several
--   params = { name = rules }    rules added to (or tightening) a path parameter's,
--                                or `option = "..."`: filled from that option
--   fields = { name = rules }    rules added to (or tightening) a field's
--   encodings = { ... }          the encodings offered, in order (a subset)
--   idempotent                   true, false or function(fields): whether an
--                                update may be sent again after an ambiguous
--                                failure (the compiler's default: by method)
--   idempotency_key              the header of the provider's idempotency keys
--   form_booleans, additional_fields, error, status_codes, token_request,
--   headers, options, option_formats: as in a hand-written declaration
local context = require "users.openapi.context"

local _M = {}

local type, pairs, ipairs, tostring = type, pairs, ipairs, tostring
local fail = context.fail

local KEYS = {
  name = "string", title = "string", base_url = "string", id = "string", params = "table",
  fields = "table", encodings = "table", form_booleans = "table", additional_fields = "any",
  error = "function", status_codes = "table", token_request = "function", headers = "table",
  options = "table", option_formats = "table", idempotent = "any", idempotency_key = "string",
}
_M.KEYS = KEYS

--- nil, or what is wrong with the overlay (for a misuse error).
function _M.problem(overlay)
  if overlay == nil then return nil end
  if type(overlay) ~= "table" then return "table expected, got " .. type(overlay) end
  for k, v in pairs(overlay) do
    local want = KEYS[k]
    if not want then return "unknown overlay key '" .. tostring(k) .. "'" end
    if want ~= "any" and type(v) ~= want then return ("overlay key '%s' must be a %s"):format(k, want) end
  end
  local idem = overlay.idempotent
  if idem ~= nil and type(idem) ~= "boolean" and type(idem) ~= "function" then
    return "overlay key 'idempotent' must be true, false or a function(fields)"
  end
  if overlay.name and not overlay.name:match("^[%l][%l%d_]*$") then
    return "overlay name must be lower case letters, digits and _ (a Lua module name)"
  end
end

local function merge_rules(list, rules, what)
  local by_name = {}
  for _, f in ipairs(list) do by_name[f[1]] = f end
  for name, r in pairs(rules) do
    local f = by_name[name]
    if not f then fail("overlay." .. what, "the operation has no " .. what:sub(1, -2) .. " '" .. tostring(name) .. "'") end
    if type(r) ~= "table" then fail("overlay." .. what .. "." .. tostring(name), "rules must be a table") end
    for k, v in pairs(r) do f[k] = v end
  end
end

local function choose_encodings(decl, wanted)
  local have = {}
  for _, e in ipairs(decl.encodings) do have[e] = true end
  for _, e in ipairs(wanted) do
    if not have[e] then fail("overlay.encodings", "the operation's body cannot be sent as " .. tostring(e)) end
  end
  decl.encodings = wanted
end

-- The parameter a plain id fills goes last (users/client.lua gives a plain
-- id to the last parameter; the others come from options or an id table).
local function move_last(decl, name)
  for i, p in ipairs(decl.params) do
    if p[1] == name then
      table.remove(decl.params, i)
      decl.params[#decl.params + 1] = p
      return
    end
  end
  fail("overlay.id", "the path has no parameter '" .. name .. "'")
end

--- Lays the overlay over the compiled declaration.
function _M.apply(decl, overlay)
  if overlay == nil then return decl end
  for k, v in pairs(overlay) do
    if k == "fields" then merge_rules(decl.fields, v, "fields")
    elseif k == "params" then merge_rules(decl.params, v, "params")
    elseif k == "encodings" then choose_encodings(decl, v)
    elseif k == "id" then move_last(decl, v)
    else decl[k] = v end
  end
  return decl
end

return _M
