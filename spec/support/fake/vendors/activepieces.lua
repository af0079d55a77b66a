-- Fake Activepieces: a Fastify server. POST /v1/users/{id}, JSON.
-- Like the real one it drops unknown body fields without a word.
local common = require "common"
local json = require "json"

local M = {}

M.MISSING_USER = "000000000000000000404"
M.ADMIN_USER = "adminadminadminadmin1"
M.TOKENS = { [common.TOKEN] = true, ["sk-" .. common.TOKEN] = true }

function M.throttled(wait)
  return { statusCode = 429, error = "Too Many Requests",
           message = "Rate limit exceeded, retry in " .. wait .. " second" .. (wait == 1 and "" or "s") }
end

local function fastify(status, code, message)
  local names = { [400] = "Bad Request", [404] = "Not Found", [415] = "Unsupported Media Type" }
  return common.send(status, { statusCode = status, code = code, error = names[status], message = message })
end

local function invalid(message) return fastify(400, "FST_ERR_VALIDATION", message) end

local ENUMS = {
  status = { ACTIVE = true, INACTIVE = true },
  platformRole = { ADMIN = true, MEMBER = true, OPERATOR = true },
}

local function body_of(req)
  local media = common.media_type(req)
  if req.body == "" then
    if media == "application/json" then
      return fastify(400, "FST_ERR_CTP_EMPTY_JSON_BODY",
        "Body cannot be empty when content-type is set to 'application/json'")
    end
    return invalid("body must be object")
  end
  if media ~= "application/json" then
    return fastify(415, "FST_ERR_CTP_INVALID_MEDIA_TYPE", "Unsupported Media Type: " .. tostring(media))
  end
  local body, err = json.decode(req.body)
  if body == nil then return fastify(400, "FST_ERR_CTP_INVALID_JSON_BODY", "Body is not valid JSON: " .. err) end
  if not json.is_object(body) then return invalid("body must be object") end
  return body
end

function M.handle(req)
  local id = req.path:match("^/v1/users/([^/]+)$")
  if not id or req.method ~= "POST" then
    return fastify(404, "FST_ERR_NOT_FOUND", "Route " .. req.method .. ":/api" .. req.path .. " not found")
  end
  if not M.TOKENS[common.bearer(req) or ""] then
    return common.send(401, { code = "AUTHENTICATION", params = { message = "invalid api key" } })
  end
  id = ngx.unescape_uri(id)
  if not id:find("^" .. string.rep("%w", 21) .. "$") then
    return invalid('params/id must match pattern "^[0-9a-zA-Z]{21}$"')
  end
  local body = body_of(req)
  for _, k in ipairs({ "status", "platformRole", "externalId" }) do
    local v = body[k]
    if v ~= nil then
      if type(v) ~= "string" then return invalid("body/" .. k .. " must be string") end
      if ENUMS[k] and not ENUMS[k][v] then
        return invalid("body/" .. k .. " must be equal to one of the allowed values")
      end
    end
  end
  if id == M.MISSING_USER then
    return common.send(404, { code = "ENTITY_NOT_FOUND", params = { entityType = "user", entityId = id } })
  end
  if id == M.ADMIN_USER and body.status == "INACTIVE" then
    return common.send(409, { code = "VALIDATION", params = { message = "Admin cannot be deactivated" } })
  end
  return common.send(200, {
    id = id, email = id:lower() .. "@example.com", firstName = "Test", lastName = "User",
    status = body.status or "ACTIVE",
    platformRole = body.platformRole or (id == M.ADMIN_USER and "ADMIN" or "MEMBER"),
    externalId = body.externalId or json.null,
    platformId = "platform0000000000001",
    created = "2024-01-01T00:00:00.000Z", updated = common.iso_now(true),
    lastActiveDate = json.null, imageUrl = json.null,
  })
end

return M
