-- Lexful: PATCH {base}/v1/users/{id}, JSON. Every call carries a bearer JWT
-- and X-Account-ID. With key_id + key_secret the client fetches the JWT from
-- /v1/auth/token itself and refreshes it before it expires or after a 401.
local scope = {
  type = "string",
  any_of = { { format = "uuid" }, { enum = { "*" } } },
}

return {
  name = "lexful",
  title = "Lexful",
  method = "PATCH",
  base_url = "https://api.us.lexful.app",
  path = "/v1/users/{id}",
  params = { { "id", type = "string", format = "uuid" } },
  encodings = { "json" },
  options = { "account_id", "key_id", "key_secret" },
  headers = { ["X-Account-ID"] = "account_id" },
  -- X-Account-ID carries the account's UUID ("X-Account-ID: <account uuid>").
  option_formats = { account_id = "uuid" },
  fields = {
    { "email", type = "string", format = "email", max_length = 255 },
    { "first_name", type = "string", nullable = true, min_length = 1, max_length = 100 },
    { "last_name", type = "string", nullable = true, min_length = 1, max_length = 100 },
    { "role", type = "string", enum = { "system_admin", "system_support", "admin",
                                        "support", "viewer", "organization_viewer" } },
    { "account_scopes", type = "array", items = scope,
      description = "account UUIDs, or \"*\" for all" },
    { "organization_scopes", type = "array", items = scope,
      description = "organization UUIDs, or \"*\" for all" },
  },

  -- The token exchange: POST /v1/auth/token {"id", "secret"} -> a JWT valid
  -- for 60 minutes. Returns the request; users.auth does the rest.
  token_request = function(opts)
    if not (opts.key_id and opts.key_secret) then return nil end
    return {
      method = "POST",
      path = "/v1/auth/token",
      headers = { ["X-Account-Id"] = opts.account_id },
      json = { id = opts.key_id, secret = opts.key_secret },
    }
  end,

  -- Its document answers 400 "Bad request - validation error".
  status_codes = { [400] = "validation_error" },

  -- {"status", "message", "error_id", "error_code", "developer_message"}:
  -- the message is the sentence for people; the whole body stays in err.body.
  error = function(_, body)
    return { message = body.message }
  end,
}
