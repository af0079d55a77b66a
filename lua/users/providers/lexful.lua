-- Lexful: PATCH {base}/v1/users/{id}, JSON, from the vendor's OpenAPI
-- document (lexful/openapi.yaml). Every call carries a bearer JWT and
-- X-Account-ID (the document's apiKey scheme accountId, which the option
-- account_id fills). The overlay adds what the document does not say: with
-- key_id + key_secret the client fetches the JWT from /v1/auth/token itself
-- and refreshes it before it expires or after a 401; and a 400 is the
-- answer to an invalid update.
local openapi = require "users.openapi"

return openapi.seed("PATCH /v1/users/{id}", {
  name = "lexful",
  title = "Lexful",
  idempotent = true, -- PATCH of fields to given values (the compiler's default for PATCH, said here)
  options = { "account_id", "key_id", "key_secret" },
  headers = { ["X-Account-ID"] = "account_id" },
  -- X-Account-ID carries the account's UUID ("X-Account-ID: <account uuid>").
  option_formats = { account_id = "uuid" },

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
})
