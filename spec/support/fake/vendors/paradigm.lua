-- Fake Paradigm (LightOn): Django REST Framework.
-- PUT /api/v2/users/{id}/workspaces/update/ with {"workspaces": [int, ...]}
-- as JSON, x-www-form-urlencoded or multipart/form-data.
--
-- Form bodies: repeated `workspaces=1&workspaces=2`, or indexed
-- `workspaces[0]=1&workspaces[1]=2`, as DRF reads them. Unlike DRF, a single
-- empty `workspaces=` is read as the empty list (DRF would refuse "" as an
-- integer and a form has no other way to say []).
local common = require "common"
local json = require "json"
local multipart = require "multipart"

local M = {}

M.MISSING_USER = "404"

function M.throttled(wait)
  return { detail = "Request was throttled. Expected available in " .. wait
    .. " second" .. (wait == 1 and "" or "s") .. "." }
end

local function detail(status, text, headers)
  return common.send(status, { detail = text }, headers)
end

-- Form fields as name -> array of values, in body order.
local function form_values(req, media)
  local values = {}
  local function add(name, v)
    values[name] = values[name] or {}
    table.insert(values[name], v)
  end
  if media == "multipart/form-data" then
    local boundary = multipart.boundary(common.header(req, "content-type"))
    local parts, err
    if boundary then parts, err = multipart.parse(req.body, boundary) end
    if not parts then
      return nil, "Multipart form parse error - " .. (err or "Invalid boundary in multipart: None")
    end
    for _, p in ipairs(parts) do add(p.name, p.value) end
  else
    for pair in req.body:gmatch("[^&]+") do
      local k, v = pair:match("^([^=]*)=?(.*)$")
      add(ngx.unescape_uri((k:gsub("%+", " "))), ngx.unescape_uri((v:gsub("%+", " "))))
    end
  end
  return values
end

-- request.data["workspaces"], or nil when absent.
local function workspaces_of(req)
  local media = common.media_type(req)
  if req.body == "" then return nil end
  if media == "application/json" then
    local body, err = json.decode(req.body)
    if body == nil then return nil, nil, "JSON parse error - " .. err end
    if not json.is_object(body) then
      return nil, nil, 'Invalid data. Expected a dictionary, but got ' .. common.json_type(body) .. '.'
    end
    return body.workspaces
  end
  if media == "application/x-www-form-urlencoded" or media == "multipart/form-data" then
    local values, err = form_values(req, media)
    if not values then return nil, nil, err end
    local list = values.workspaces
    if list then
      if #list == 1 and list[1] == "" then return json.array() end
      return json.array(list)
    end
    local indexed = {}
    for name, v in pairs(values) do
      local i = name:match("^workspaces%[(%d+)%]$")
      if i then indexed[#indexed + 1] = { tonumber(i), v[#v] } end
    end
    if #indexed == 0 then return nil end
    table.sort(indexed, function(a, b) return a[1] < b[1] end)
    list = json.array()
    for _, e in ipairs(indexed) do list[#list + 1] = e[2] end
    return list
  end
  return nil, 415
end

-- DRF IntegerField: integers, integral floats, and strings such as "7" or "7.0".
local function to_int(v)
  if type(v) == "number" then return v == math.floor(v) and v or nil end
  if type(v) == "string" then
    local digits = v:match("^%s*([+-]?%d+)%.?0*%s*$")
    return digits and tonumber(digits)
  end
end

function M.handle(req)
  local id, slash = req.path:match("^/api/v2/users/(%d+)/workspaces/update(/?)$")
  if not id then return detail(404, "Not found.") end
  if slash == "" then
    -- Django's APPEND_SLASH, before any view code runs.
    local location = "/paradigm" .. req.path .. "/" .. (req.query ~= "" and "?" .. req.query or "")
    return common.send(301, "", { Location = location, ["Content-Type"] = "text/html; charset=utf-8" })
  end
  local token = common.bearer(req)
  if not token then
    return detail(401, "Authentication credentials were not provided.", { ["WWW-Authenticate"] = 'Bearer realm="api"' })
  elseif token ~= common.TOKEN then
    return detail(401, "Invalid token.", { ["WWW-Authenticate"] = 'Bearer realm="api"' })
  end
  if req.method ~= "PUT" and req.method ~= "PATCH" then
    return detail(405, 'Method "' .. req.method .. '" not allowed.', { Allow = "PUT, PATCH, OPTIONS" })
  end
  if id == M.MISSING_USER then return detail(404, "Not found.") end

  local list, unsupported, parse_error = workspaces_of(req)
  if unsupported then
    return detail(415, 'Unsupported media type "' .. (common.header(req, "content-type") or "") .. '" in request.')
  end
  if parse_error then return detail(400, parse_error) end
  local message
  if list == nil then
    if req.method == "PUT" then message = "This field is required." end
  elseif list == json.null then
    message = "This field may not be null."
  elseif not json.is_array(list) then
    local names = { string = "str", number = "int", boolean = "bool", object = "dict", integer = "int" }
    message = 'Expected a list of items but got type "' .. names[common.json_type(list)] .. '".'
  else
    for i, v in ipairs(list) do
      local n = to_int(v)
      if not n then
        message = v == json.null and "This field may not be null." or "A valid integer is required."
        break
      end
      list[i] = n
    end
  end
  if message then return common.send(400, { workspaces = json.array({ message }) }) end

  local groups, seen = json.array(), {}
  for _, ws in ipairs(list or {}) do
    if not seen[ws] then
      seen[ws] = true
      groups[#groups + 1] = {
        id = ws, name = "Workspace " .. ws, description = "", role = "member",
        category = "workspace", created_at = "2024-01-01T00:00:00Z",
      }
    end
  end
  return common.send(200, {
    id = tonumber(id), username = "user" .. id, first_name = "Test", last_name = "User",
    email = "user" .. id .. "@example.com", is_active = true,
    date_joined = "2024-01-01T00:00:00Z", account_expiration_date = "2099-12-31T00:00:00Z",
    last_login = common.iso_now(), invitation_status = "accepted", language = "en",
    company = { id = 1, name = "Fake Company" }, roles = json.array(), groups = groups,
  })
end

return M
