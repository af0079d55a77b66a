-- A generic REST API: PATCH {base}/v1/users/{user_id}, JSON, every field
-- optional. There is no default base URL: set base_url or GENERIC_BASE_URL.
return {
  name = "generic",
  title = "Generic REST API",
  method = "PATCH",
  idempotent = true, -- it sets fields to given values: sent again, it changes nothing more
  path = "/v1/users/{user_id}",
  params = { { "user_id", type = "string", min_length = 1, max_length = 255 } },
  encodings = { "json" },
  fields = {
    { "email", type = "string", format = "email" },
    { "username", type = "string" },
    { "first_name", type = "string" },
    { "last_name", type = "string" },
    { "role", type = "string" },
  },

  -- {"error": "validation_error", "message", "details": {field: [...]}}
  error = function(_, body)
    return { code = body.error, message = body.message, fields = body.details }
  end,
}
