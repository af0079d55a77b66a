-- Paradigm (LightOn): PUT {base}/api/v2/users/{id}/workspaces/update/ with the
-- trailing slash (Django), from the vendor's OpenAPI document
-- (paradigm/openapi.yaml), which offers JSON, form and multipart bodies
-- (opts.encoding; JSON by default). The list replaces the member's
-- workspaces: [] removes them all. The overlay reads Django REST
-- Framework's error bodies.
local openapi = require "users.openapi"

return openapi.seed("api_v2_users_workspaces_update_update", {
  name = "paradigm",
  title = "Paradigm (LightOn)",
  idempotent = true, -- PUT of the whole list (the compiler's default for PUT, said here)
  -- Django REST Framework: {"detail": "..."} or {"field": ["...", ...]}
  error = function(_, body)
    local fields
    for k, v in pairs(body) do
      if k ~= "detail" and type(v) == "table" then
        fields = fields or {}
        fields[k] = v
      end
    end
    local message = body.detail
    if not message and fields and fields.non_field_errors then
      message = fields.non_field_errors[1]
    end
    return { message = message, fields = fields }
  end,
})
