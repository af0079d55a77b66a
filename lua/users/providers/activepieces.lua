-- Activepieces: POST {base}/v1/users/{id}, JSON, from the vendor's OpenAPI
-- document (activepieces/openapi.yaml). The server silently drops unknown
-- fields, so refusing them here is what catches a typo. The overlay reads
-- its error bodies.
local openapi = require "users.openapi"

local codes = {
  ENTITY_NOT_FOUND = "not_found",
  AUTHENTICATION = "unauthorized",
  AUTHORIZATION = "forbidden",
  PERMISSION_DENIED = "forbidden",
  VALIDATION = "validation_error",
  FST_ERR_VALIDATION = "validation_error",
}

return openapi.seed("POST /v1/users/{id}", {
  name = "activepieces",
  title = "Activepieces",
  idempotent = true, -- a POST that sets fields to given values: sent again, it changes nothing more
  -- {"statusCode", "code": "FST_ERR_VALIDATION", "message"} or
  -- {"code": "ENTITY_NOT_FOUND", "params": {...}}
  error = function(_, body)
    local params = type(body.params) == "table" and body.params or {}
    return {
      code = codes[body.code],
      message = body.message or params.message or body.code,
    }
  end,
})
