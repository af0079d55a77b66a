-- Lancepilot: POST {base}/workspaces/{workspace}/users/{user}, multipart.
-- A Laravel server: booleans are "1"/"0" parts, timezone is an exact IANA
-- name, a nullable field sent empty becomes null.
local timezones = require "users.timezones"

return {
  name = "lancepilot",
  title = "Lancepilot",
  method = "POST",
  base_url = "https://lancepilot.com/api/v3",
  path = "/workspaces/{workspace}/users/{user}",
  params = {
    { "workspace", type = "string", format = "uuid", option = "workspace" },
    { "user", type = "integer" },
  },
  encodings = { "multipart" },
  options = { "workspace" },
  fields = {
    { "name", type = "string", required = true, max_length = 50 },
    { "email", type = "string", required = true, format = "email" },
    { "password", type = "string", min_length = 6, max_length = 255 },
    { "confirm_password", type = "string", same_as = "password",
      description = "must equal password" },
    { "timezone", type = "string", required = true, enum = timezones,
      description = "an IANA time zone identifier, exact case" },
    { "status", type = "boolean", required = true },
    { "client", type = "boolean", description = "required for partner workspaces" },
    { "avatar", type = "file", nullable = true, content_type = "image/*",
      max_bytes = 1024 * 1024, description = "an image of at most 1 MB" },
  },

  -- 422 {"message", "errors": {field: [...]}}, 401/404 {"message"}
  error = function(_, body)
    return { message = body.message, fields = body.errors }
  end,
}
