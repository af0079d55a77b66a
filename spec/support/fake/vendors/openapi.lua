-- Fake of any operation a vendor documents in OpenAPI. The controller
-- (Fake:openapi in fake_providers.lua) names, for a mount, the operations it
-- answers: method, path template as the document writes it, the credentials
-- that document's security asks for, the media type of the body, and the
-- answer. A request to /openapi/<mount>/<path> is matched against them:
--   no operation at that path         404
--   one, but not with that method     405, Allow: its methods
--   credentials that fit no alternative  401
--   a body of another media type      415
--   else                              the operation's answer (200 {} unless set)
-- Behaviours (respond, script, delay, throttle...) apply first, as for every
-- vendor; the handler records every request. reset() forgets the operations.
local common = require "common"
local serialize = require "serialize"

local state = ngx.shared.fake_state
local M = {}

function M.throttled(wait)
  return { error = "rate_limited", message = "Too many requests, retry in " .. wait .. " seconds" }
end

--- Control message { mount = "name", operations = { { method = "PATCH",
--  path = "/users/{id}", media_type = "application/json", status = 200,
--  body = "raw JSON", headers = { Name = "v" }, credentials = { alternative,
--  ... } }, ... } }: an alternative is a list of { header = "lower-case
--  name", value = "exact value" }, all required; no credentials: any request.
function M.configure(msg)
  state:set("openapi:" .. msg.mount, serialize.encode(msg.operations or {}))
end

-- "/users/{id}/x" -> "^/users/([^/]+)/x$"
local function pattern(template)
  local out, i = { "^" }, 1
  while true do
    local a, b = template:find("{[^}]*}", i)
    local literal = template:sub(i, (a or 0) - 1)
    out[#out + 1] = literal:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0")
    if not a then break end
    out[#out + 1] = "([^/]+)"
    i = b + 1
  end
  out[#out + 1] = "$"
  return table.concat(out)
end

local function satisfied(req, alternative)
  for _, need in ipairs(alternative) do
    if common.header(req, need.header) ~= need.value then return false end
  end
  return true
end

local function authorized(req, op)
  if not op.credentials or #op.credentials == 0 then return true end
  for _, alternative in ipairs(op.credentials) do
    if satisfied(req, alternative) then return true end
  end
  return false
end

function M.handle(req)
  local mount, path = req.path:match("^/([^/]+)(/.*)$")
  local saved = mount and state:get("openapi:" .. mount)
  local operations = saved and serialize.decode(saved) or {}
  local found, allow = nil, {}
  for _, op in ipairs(operations) do
    if path:match(pattern(op.path)) then
      allow[#allow + 1] = op.method
      if op.method == req.method then found = op end
    end
  end
  if #allow == 0 then
    return common.send(404, { error = "not_found", message = "no operation at " .. tostring(path) })
  end
  if not found then
    return common.send(405, { error = "method_not_allowed", message = "use " .. table.concat(allow, ", ") },
      { Allow = table.concat(allow, ", ") })
  end
  if not authorized(req, found) then
    return common.send(401, { error = "unauthorized", message = "missing or wrong credentials" })
  end
  if found.media_type and common.media_type(req) ~= found.media_type then
    return common.send(415, { error = "unsupported_media_type",
                              message = "expected " .. found.media_type .. ", got " .. tostring(common.media_type(req)) })
  end
  return common.send(found.status or 200, found.body or "{}", found.headers)
end

return M
