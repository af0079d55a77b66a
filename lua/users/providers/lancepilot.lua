-- Lancepilot: POST {base}/workspaces/{workspace}/users/{user}, multipart,
-- from the vendor's OpenAPI document (lancepilot/openapi.yaml, as Lancepilot
-- publishes it). The overlay holds what the document does not say: its
-- server is a Laravel application (booleans are "1"/"0" parts, timezone is
-- an exact IANA name, confirm_password must equal password, the avatar's
-- 1 MB is said in words only), and the workspace may come from an option.
local openapi = require "users.openapi"
local timezones = require "users.timezones"

return openapi.seed("POST /workspaces/{workspace}/users/{user}", {
  name = "lancepilot",
  title = "Lancepilot",
  form_booleans = { "1", "0" }, -- Laravel's boolean rule refuses "true" and "false"
  -- A POST that sets fields: sent again, it changes nothing more; but an
  -- avatar uploaded may become a new image object each time.
  idempotent = function(fields) return type(fields.avatar) ~= "table" end,
  options = { "workspace" },
  params = { workspace = { option = "workspace" } }, -- a plain id is the user
  fields = {
    timezone = { enum = timezones, description = "an IANA time zone identifier, exact case" }, -- PHP's list
    confirm_password = { same_as = "password" },
    avatar = { max_bytes = 1024 * 1024 },  -- "Image file (≤ 1MB)"
  },
  -- 422 {"message", "errors": {field: [...]}}, 401/404 {"message"}
  error = function(_, body)
    return { message = body.message, fields = body.errors }
  end,
})
