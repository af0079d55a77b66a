--- A SCIM error body (RFC 7644 section 3.12) read into the module's error
-- shape: what a provider declaration's `error(status, body)` returns.
--
--   { "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
--     "status": "409", "scimType": "uniqueness", "detail": "userName taken" }
--   -> { code = "conflict", scim_type = "uniqueness",
--        message = "userName taken (SCIM uniqueness)" }
--
-- `uniqueness` is a conflict; `invalidValue`, `invalidSyntax`,
-- `invalidPath`, `noTarget`, `mutability` and `invalidFilter` are
-- validation errors; any other (or none) leaves the code to the HTTP
-- status. A body that is not a SCIM error gives nil.
local schema = require "users.scim.schema"

local _M = {}

local type, pairs, ipairs, tostring = type, pairs, ipairs, tostring
local lower = string.lower

_M.CODES = {
  uniqueness = "conflict",
  invalidValue = "validation_error", invalidSyntax = "validation_error",
  invalidPath = "validation_error", noTarget = "validation_error",
  mutability = "validation_error", invalidFilter = "validation_error",
}

local get = schema.get

local function is_scim_error(body)
  local list = get(body, "schemas")
  if type(list) == "table" then
    for _, u in ipairs(list) do
      if type(u) == "string" and lower(u) == lower(schema.ERROR) then return true end
    end
  end
  -- no schemas, but the error's own members (servers that leave it out)
  return type(get(body, "scimType")) == "string"
    or (type(get(body, "detail")) == "string" and get(body, "status") ~= nil)
end

--- What a SCIM error body says: `{ code, message, scim_type }` (code and
-- scim_type nil where it does not say); nil when `body` is no SCIM error.
function _M.read(status, body)
  if type(body) ~= "table" or not is_scim_error(body) then return nil end
  local scim_type = get(body, "scimType")
  if type(scim_type) ~= "string" or scim_type == "" then scim_type = nil end
  -- scimType values are case-sensitive keywords; match them in any case all the same
  local code
  if scim_type then
    for k, c in pairs(_M.CODES) do
      if lower(k) == lower(scim_type) then code = c end
    end
  end
  local detail = get(body, "detail")
  if type(detail) ~= "string" or detail == "" then detail = nil end
  local message = detail or ("HTTP " .. tostring(status))
  if scim_type then message = message .. " (SCIM " .. scim_type .. ")" end
  return { code = code, message = message, scim_type = scim_type }
end

return _M
