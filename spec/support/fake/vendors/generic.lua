-- Fake of the generic REST API of generic.md: PATCH /v1/users/{user_id}, JSON.
local common = require "common"
local json = require "json"

local M = {}

M.MISSING_USER, M.TAKEN_USERNAME = "missing", "taken"

local FIELDS = { "email", "username", "first_name", "last_name", "role" }

function M.throttled(wait)
  return { error = "rate_limited", message = "Too many requests, retry in " .. wait .. " seconds" }
end

local function invalid(details)
  return common.send(400, {
    error = "validation_error", message = "Invalid request parameters", details = details,
  })
end

function M.handle(req)
  local id = req.path:match("^/v1/users/([^/]+)$")
  if not id then
    return common.send(404, { error = "not_found", message = "Not found" })
  end
  if req.method ~= "PATCH" then
    return common.send(405, { error = "method_not_allowed", message = "Use PATCH" }, { Allow = "PATCH" })
  end
  if common.bearer(req) ~= common.TOKEN then
    return common.send(401, { error = "unauthorized", message = "Invalid API key" })
  end
  id = ngx.unescape_uri(id)

  local body, err
  if common.media_type(req) ~= "application/json" then
    err = "Content-Type must be application/json"
  else
    body, err = json.decode(req.body)
    if body ~= nil and not json.is_object(body) then err = "Expected a JSON object" end
  end
  if err then return invalid({ body = json.array({ err }) }) end

  local details, bad = {}, false
  for _, k in ipairs(FIELDS) do
    local v = body[k]
    if v ~= nil and type(v) ~= "string" then
      details[k], bad = json.array({ "Must be a string" }), true
    end
  end
  if type(body.email) == "string" and not body.email:find("^[^@%s]+@[^@%s]+%.[^@%s]+$") then
    details.email, bad = json.array({ "Invalid email format" }), true
  end
  if body.password ~= nil then
    details.password, bad = json.array({ "Password updates require a separate endpoint" }), true
  end
  if bad then return invalid(details) end

  if id == M.MISSING_USER then
    return common.send(404, { error = "not_found", message = "User not found" })
  end
  if body.username == M.TAKEN_USERNAME then
    return common.send(409, { error = "conflict", message = "Username already taken" })
  end
  local user = {
    id = id, email = "user@example.com", username = "user", first_name = "Test",
    last_name = "User", role = "member",
    created_at = "2023-01-01T12:00:00Z", updated_at = common.iso_now(),
  }
  for _, k in ipairs(FIELDS) do
    if body[k] ~= nil then user[k] = body[k] end
  end
  return common.send(200, user)
end

return M
