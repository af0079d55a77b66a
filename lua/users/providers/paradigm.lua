-- Paradigm (LightOn): PUT {base}/api/v2/users/{id}/workspaces/update/ with the
-- trailing slash (Django). The list replaces the member's workspaces: [] removes
-- them all. JSON by default; form and multipart when asked (opts.encoding).
return {
  name = "paradigm",
  title = "Paradigm (LightOn)",
  method = "PUT",
  base_url = "https://paradigm.lighton.ai",
  path = "/api/v2/users/{id}/workspaces/update/",
  params = { { "id", type = "integer" } },
  encodings = { "json", "form", "multipart" },
  fields = {
    { "workspaces", type = "array", items = { type = "integer" },
      description = "workspace ids; replaces the whole list" },
  },

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
}
