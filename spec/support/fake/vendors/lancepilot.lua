-- Fake Lancepilot: a Laravel application.
-- POST /workspaces/{workspace uuid}/users/{user int}, multipart/form-data.
local common = require "common"
local json = require "json"
local multipart = require "multipart"

local M = { rate_limit_headers = true }

-- Laravel's timezone rule: exact match against PHP's identifier list, which
-- is the zone.tab names plus "UTC" (no aliases such as US/Eastern).
local TIMEZONES = { UTC = true }
do
  local f = io.open("/usr/share/zoneinfo/zone.tab")
  if f then
    for line in f:lines() do
      local name = line:match("^[^#]%S*%s+%S+%s+(%S+)")
      if name then TIMEZONES[name] = true end
    end
    f:close()
  else
    for _, z in ipairs({ "Europe/Paris", "Europe/London", "America/New_York", "Asia/Tokyo" }) do
      TIMEZONES[z] = true
    end
  end
end

local MAX_AVATAR = 1024 * 1024

function M.throttled()
  return { message = "Too Many Attempts." }
end

-- Laravel answers JSON only when the client asks for it (expectsJson).
local function wants_json(req)
  local accept = common.header(req, "accept") or ""
  local first = accept:match("^%s*([^,;]*)"):lower()
  if first:find("/json", 1, true) or first:find("+json", 1, true) then return true end
  local ajax = (common.header(req, "x-requested-with") or "") == "XMLHttpRequest"
  return ajax and (first == "" or first == "*/*")
end

-- What PHP and Laravel's middleware make of the body: strings trimmed
-- (TrimStrings) and "" turned into nil (ConvertEmptyStringsToNull); parts with
-- a filename are uploaded files. The last part of a name wins, as in PHP.
local function input(req)
  local boundary = multipart.boundary(common.header(req, "content-type"))
  local parts = boundary and multipart.parse(req.body, boundary) or {}
  local fields = {}
  for _, part in ipairs(parts) do
    if part.filename then
      -- An empty file input (no file chosen) is no upload at all.
      if part.filename ~= "" or part.value ~= "" then
        fields[part.name] = { file = part }
      else
        fields[part.name] = nil
      end
    else
      local v = part.value
      if part.name ~= "password" then v = v:match("^%s*(.-)%s*$") end
      fields[part.name] = v ~= "" and v or nil
    end
  end
  return fields
end

local function label(field) return (field:gsub("_", " ")) end

local function validate(f)
  local errors, order = {}, {}
  local function add(field, msg)
    if not errors[field] then
      errors[field] = json.array()
      order[#order + 1] = field
    end
    table.insert(errors[field], (msg:gsub(":attr", label(field))))
  end
  local function string_field(field, required)
    local v = f[field]
    if v == nil then
      if required then add(field, "The :attr field is required.") end
      return nil
    end
    if type(v) ~= "string" then add(field, "The :attr field must be a string.") return nil end
    return v
  end
  local function boolean(field, required)
    local v = string_field(field, required)
    if v and v ~= "0" and v ~= "1" then add(field, "The :attr field must be true or false.") end
  end

  local name = string_field("name", true)
  if name and common.ulen(name) > 50 then
    add("name", "The :attr field must not be greater than 50 characters.")
  end
  local email = string_field("email", true)
  if email and not email:find("^[^@%s]+@[^@%s]+$") then
    add("email", "The :attr field must be a valid email address.")
  end
  local tz = string_field("timezone", true)
  if tz and not TIMEZONES[tz] then add("timezone", "The :attr field must be a valid timezone.") end
  boolean("status", true)
  local password = string_field("password", false)
  if password then
    local n = common.ulen(password)
    if n < 6 then add("password", "The :attr field must be at least 6 characters.") end
    if n > 255 then add("password", "The :attr field must not be greater than 255 characters.") end
    if f.confirm_password ~= password then
      add("confirm_password", "The :attr field must match password.")
    end
  end
  boolean("client", false)
  local avatar = f.avatar
  if avatar ~= nil then
    local file = type(avatar) == "table" and avatar.file
    local ctype = file and (file.content_type or ""):lower() or ""
    if not file or not ctype:find("^image/") or file.value == "" then
      add("avatar", "The :attr field must be an image.")
    elseif #file.value > MAX_AVATAR then
      add("avatar", "The :attr field must not be greater than 1024 kilobytes.")
    end
  end
  return errors, order
end

local function summary(errors, order)
  local total = 0
  for _, field in ipairs(order) do total = total + #errors[field] end
  local msg = errors[order[1]][1]
  if total > 1 then
    msg = msg .. string.format(" (and %d more error%s)", total - 1, total > 2 and "s" or "")
  end
  return msg
end

local function not_found()
  return common.send(404, { message = "Resource not found.", status = 404 })
end

function M.handle(req)
  local workspace, user = req.path:match("^/workspaces/([^/]+)/users/([^/]+)$")
  if not workspace then return not_found() end
  if req.method ~= "POST" then
    return common.send(405, { message = "The " .. req.method
      .. " method is not supported for route. Supported methods: POST." }, { Allow = "POST" })
  end
  if common.bearer(req) ~= common.TOKEN then
    return common.send(401, { message = "Unauthenticated." })
  end
  if not common.is_uuid(workspace) or not user:find("^%d+$") or user == "404" then
    return not_found()
  end

  local f = input(req)
  local errors, order = validate(f)
  if #order > 0 then
    if not wants_json(req) then
      -- Laravel redirects back with the errors in the session.
      return common.send(302, "", { Location = "/", ["Content-Type"] = "text/html; charset=UTF-8" })
    end
    return common.send(422, { message = summary(errors, order), errors = errors })
  end

  local avatar = json.null
  if type(f.avatar) == "table" then
    avatar = "https://lancepilot.com/storage/avatars/" .. user .. ".png"
  end
  return common.send(200, {
    status = 200,
    message = "Resource updated successfully.",
    data = {
      id = tonumber(user), workspace_id = workspace,
      name = f.name, email = f.email, timezone = f.timezone,
      status = f.status == "1", client = f.client == "1",
      avatar = avatar, updated_at = common.iso_now(true),
    },
  })
end

return M
