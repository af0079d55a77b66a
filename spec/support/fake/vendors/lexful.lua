-- Fake Lexful: a Fastify application with JSON-schema (Ajv) validation.
-- POST /v1/auth/token issues short-lived JWTs; PATCH /v1/users/{uuid}.
local common = require "common"
local json = require "json"
local behave = require "behave"

local M = {}

M.ACCOUNT = "11111111-1111-4111-8111-111111111111"
M.KEY_ID, M.KEY_SECRET = "test-key-id", "test-key-secret"
M.MISSING_USER = "00000000-0000-4000-8000-000000000404"

local state = ngx.shared.fake_state

local function error_body(status, message, code, developer)
  return {
    status = status, message = message, error_id = common.uuid4(),
    error_code = code, developer_message = developer or message,
  }
end

local function fail(status, message, code, developer)
  return common.send(status, error_body(status, message, code, developer))
end

function M.throttled(wait)
  return error_body(429, "Too Many Requests", "RATE_LIMITED",
    "Rate limit exceeded, retry in " .. wait .. " seconds")
end

local function invalid(message)
  return fail(400, message, "VALIDATION_ERROR", message)
end

local function check_account(req)
  local account = common.header(req, "x-account-id")
  if not account or account:lower() ~= M.ACCOUNT then
    return fail(403, "Forbidden", "FORBIDDEN", "X-Account-ID header is missing or not an account of this key")
  end
end

-- Fastify's JSON body parsing: the media type must be JSON, the body a
-- non-empty valid JSON text, and the schema here wants an object.
local function json_object(req)
  local media = common.media_type(req)
  if req.body == "" then
    if media == "application/json" then
      return invalid("Body cannot be empty when content-type is set to 'application/json'")
    end
    return invalid("body must be object")
  end
  if media ~= "application/json" then
    return fail(415, "Unsupported Media Type: " .. tostring(media), "UNSUPPORTED_MEDIA_TYPE")
  end
  local body, err = json.decode(req.body)
  if body == nil then return invalid("Body is not valid JSON: " .. err) end
  if not json.is_object(body) then return invalid("body must be object") end
  return body
end

---------------------------------------------------------------- tokens

local function b64url(s)
  return (ngx.encode_base64(s):gsub("%+", "-"):gsub("/", "_"):gsub("=", ""))
end

-- A JWT in shape: the fake only checks tokens it remembers issuing, so the
-- signature is an HMAC over the token made to look like HS256's 32 bytes.
local function issue(ttl)
  local now = ngx.now()
  local header = b64url(json.encode({ alg = "HS256", typ = "JWT" }))
  local payload = b64url(json.encode({
    sub = M.KEY_ID, account_id = M.ACCOUNT, jti = common.uuid4(),
    iat = math.floor(now), exp = math.floor(now + ttl),
  }))
  local input = header .. "." .. payload
  local sig = ngx.hmac_sha1(M.KEY_SECRET, input) .. ngx.hmac_sha1(input, M.KEY_SECRET)
  local token = input .. "." .. b64url(sig:sub(1, 32))
  state:set("tok:" .. token, now + ttl, math.max(ttl, 0) + 60)
  state:incr("lexful:tokens_issued", 1, 0)
  return token
end

local function valid_token(token)
  if token == common.TOKEN then return true end
  local exp = token and state:get("tok:" .. token)
  return exp ~= nil and exp > ngx.now()
end

local function token_endpoint(req)
  check_account(req)
  local body = json_object(req)
  for _, k in ipairs({ "id", "secret" }) do
    if body[k] == nil then return invalid("body must have required property '" .. k .. "'") end
    if type(body[k]) ~= "string" then return invalid("body/" .. k .. " must be string") end
  end
  if body.id ~= M.KEY_ID or body.secret ~= M.KEY_SECRET then
    return fail(401, "Unauthorized", "UNAUTHORIZED", "Invalid API key id or secret")
  end
  local ttl = tonumber(behave.peek("lexful", "token_ttl")) or 3600
  return common.send(200, { token = issue(ttl), expires_in = ttl })
end

---------------------------------------------------------------- users

local ROLES = { system_admin = true, system_support = true, admin = true,
                support = true, viewer = true, organization_viewer = true }
local FIELDS = { "email", "first_name", "last_name", "role", "account_scopes", "organization_scopes" }
local KNOWN = {}
for _, k in ipairs(FIELDS) do KNOWN[k] = true end

-- One field of the PATCH body against its schema: an Ajv message or nil.
local function check_field(k, v)
  local at = "body/" .. k
  if k == "first_name" or k == "last_name" then
    if v == json.null then return nil end
    if type(v) ~= "string" then return at .. " must be string" end
    local n = common.ulen(v)
    if n < 1 then return at .. " must NOT have fewer than 1 characters" end
    if n > 100 then return at .. " must NOT have more than 100 characters" end
  elseif k == "email" then
    if type(v) ~= "string" then return at .. " must be string" end
    if common.ulen(v) > 255 then return at .. " must NOT have more than 255 characters" end
    if not common.is_email(v) then return at .. ' must match format "email"' end
  elseif k == "role" then
    if type(v) ~= "string" then return at .. " must be string" end
    if not ROLES[v] then return at .. " must be equal to one of the allowed values" end
  else -- account_scopes, organization_scopes
    if not json.is_array(v) then return at .. " must be array" end
    for i, item in ipairs(v) do
      if type(item) ~= "string" then return at .. "/" .. (i - 1) .. " must be string" end
      if item ~= "*" and not common.is_uuid(item) then
        return at .. "/" .. (i - 1) .. " must match exactly one schema in oneOf"
      end
    end
  end
end

-- The whole body, in Ajv's order; the first error wins, as Fastify reports it.
local function validate(body)
  for k in pairs(body) do
    if not KNOWN[k] then return "body must NOT have additional properties" end
  end
  for _, k in ipairs(FIELDS) do
    local err = body[k] ~= nil and check_field(k, body[k])
    if err then return err end
  end
end

local function update_user(req, id)
  if not valid_token(common.bearer(req)) then
    return fail(401, "Unauthorized", "UNAUTHORIZED", "Bearer token is missing, invalid or expired")
  end
  check_account(req)
  if not common.is_uuid(id) then return invalid('params/id must match format "uuid"') end
  local body = json_object(req)
  local err = validate(body)
  if err then return invalid(err) end
  if id:lower() == M.MISSING_USER then
    return fail(404, "User not found", "NOT_FOUND", "No user " .. id .. " in this account")
  end
  local function pick(k, default)
    if body[k] == nil then return default end
    return body[k]
  end
  return common.send(200, {
    id = id:lower(), account_id = M.ACCOUNT,
    email = pick("email", "user@example.com"), role = pick("role", "viewer"),
    first_name = pick("first_name", "Test"), last_name = pick("last_name", "User"),
    account_scopes = json.array(pick("account_scopes", { M.ACCOUNT })),
    organization_scopes = json.array(pick("organization_scopes", {})),
    external_ids = {},
    created_at = "2024-01-01T00:00:00.000Z", updated_at = common.iso_now(true),
    created_by = M.KEY_ID, updated_by = M.KEY_ID, deleted_at = json.null,
  })
end

function M.handle(req)
  if req.path == "/v1/auth/token" then
    if req.method ~= "POST" then
      return fail(404, "Route " .. req.method .. ":/v1/auth/token not found", "NOT_FOUND")
    end
    return token_endpoint(req)
  end
  local id = req.path:match("^/v1/users/([^/]+)$")
  if not id or req.method ~= "PATCH" then
    return fail(404, "Route " .. req.method .. ":" .. req.path .. " not found", "NOT_FOUND")
  end
  return update_user(req, ngx.unescape_uri(id))
end

return M
