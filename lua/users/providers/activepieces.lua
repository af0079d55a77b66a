-- Activepieces: POST {base}/v1/users/{id}, JSON. The server silently drops
-- unknown fields, so refusing them here is what catches a typo.
local codes = {
  ENTITY_NOT_FOUND = "not_found",
  AUTHENTICATION = "unauthorized",
  AUTHORIZATION = "forbidden",
  PERMISSION_DENIED = "forbidden",
  VALIDATION = "validation_error",
  FST_ERR_VALIDATION = "validation_error",
}

return {
  name = "activepieces",
  title = "Activepieces",
  method = "POST",
  base_url = "https://cloud.activepieces.com/api",
  path = "/v1/users/{id}",
  params = { { "id", type = "string", pattern = "^[0-9a-zA-Z]{21}$" } },
  encodings = { "json" },
  fields = {
    { "status", type = "string", enum = { "ACTIVE", "INACTIVE" } },
    { "platformRole", type = "string", enum = { "ADMIN", "MEMBER", "OPERATOR" } },
    { "externalId", type = "string" },
  },

  -- {"statusCode", "code": "FST_ERR_VALIDATION", "message"} or
  -- {"code": "ENTITY_NOT_FOUND", "params": {...}}
  error = function(_, body)
    local params = type(body.params) == "table" and body.params or {}
    return {
      code = codes[body.code],
      message = body.message or params.message or body.code,
    }
  end,
}
