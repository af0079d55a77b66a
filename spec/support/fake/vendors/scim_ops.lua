-- What the fake SCIM servers do to a user: PATCH operations (RFC 7644
-- section 3.5.2: add, replace, remove, with or without a path, value paths
-- with filters), and the check of a resulting user against what RFC 7643
-- says of the User. Written apart from the client's own SCIM modules, so
-- that a mistake there is not mirrored here.
-- Failures are raised as { status, scimType, detail } and caught by the
-- caller (vendors/scim.lua), which answers them as SCIM error bodies.
local json = require "json"
local filter = require "vendors.scim_filter"

local M = {}

M.CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
M.ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

local MULTI = { emails = true, phonenumbers = true, ims = true, photos = true, addresses = true,
                entitlements = true, roles = true, x509certificates = true, groups = true }
local READ_ONLY = { id = true, meta = true, groups = true }
local KNOWN = { username = true, name = true, displayname = true, nickname = true, profileurl = true,
                title = true, usertype = true, preferredlanguage = true, locale = true, timezone = true,
                active = true, password = true, externalid = true, schemas = true }
for k in pairs(MULTI) do KNOWN[k] = true end
for k in pairs(READ_ONLY) do KNOWN[k] = true end

local function fail(status, scim_type, detail)
  error({ status = status, scimType = scim_type, detail = detail }, 0)
end
M.fail = fail

--- The key of `t` that is `name` in any case, or nil.
function M.find(t, name)
  local l = name:lower()
  for k in pairs(t) do
    if type(k) == "string" and k:lower() == l then return k end
  end
  return nil
end
local find = M.find

local function is_urn(s) return s:lower():sub(1, 4) == "urn:" end

--- A path: { urn, attr, sub, filter } (RFC 7644 section 3.5.2's PATH), or raises invalidPath.
function M.parse_path(path, dialect)
  if type(path) ~= "string" or path == "" then fail(400, "invalidPath", "the path is not a string") end
  local head, flt, tail = path:match("^([^%[]+)%[(.*)%](.*)$")
  if not head then head, tail = path, "" end
  if flt and not dialect.filters then
    fail(400, "invalidPath", "filters in a path are not supported: " .. path)
  end
  local urn
  if is_urn(head) then
    urn, head = head:match("^(.+):([^:]+)$")
    if not urn then fail(400, "invalidPath", "no attribute after the URN: " .. path) end
    if urn:lower() == M.CORE:lower() then urn = nil end
  end
  local attr, sub = head:match("^([%a$][%w_$-]*)%.([%a$][%w_$-]*)$")
  if not attr then attr = head:match("^[%a$][%w_$-]*$") end
  if not attr then fail(400, "invalidPath", "not an attribute path: " .. path) end
  if tail ~= "" then
    if sub then fail(400, "invalidPath", "not an attribute path: " .. path) end
    sub = tail:match("^%.([%a$][%w_$-]*)$")
    if not sub then fail(400, "invalidPath", "not an attribute path: " .. path) end
  end
  local p = { urn = urn, attr = attr, sub = sub }
  if flt then
    local tree, why = filter.parse(flt, dialect.filter_ops)
    if not tree then fail(400, "invalidFilter", why) end
    p.filter = tree
  end
  return p
end

-- The table an attribute of `urn` lives in (the user, or its extension's).
local function container(user, urn, create)
  if not urn then return user end
  local k = find(user, urn)
  if k then return user[k] end
  if not create then return nil end
  user[urn] = {}
  return user[urn]
end

local function guard(p)
  if not p.urn and READ_ONLY[p.attr:lower()] then
    fail(400, "mutability", "the attribute " .. p.attr .. " is read-only")
  end
  if not p.urn and not KNOWN[p.attr:lower()] then
    fail(400, "invalidPath", "no attribute " .. p.attr .. " in the User schema")
  end
end

-- Sets (replace) or merges in (add) one attribute of a container.
local function set(c, name, value, op, urn)
  local k = find(c, name) or name
  local multi = not urn and MULTI[name:lower()]
  if multi and op == "add" and json.is_array(c[k]) and json.is_array(value) then
    for _, e in ipairs(value) do table.insert(c[k], e) end
  elseif json.is_object(value) and json.is_object(c[k]) then
    for sk, sv in pairs(value) do -- sub-attributes not given are left as they are
      c[k][find(c[k], sk) or sk] = sv
    end
  else
    c[k] = value
  end
end

-- An operation on the elements of a multi-valued attribute that a filter picks.
local function on_filtered(c, p, op, value)
  local k = find(c, p.attr)
  local list = k and c[k]
  local hits = {}
  for i, e in ipairs(json.is_array(list) and list or {}) do
    if filter.match(p.filter, e) then hits[#hits + 1] = i end
  end
  if #hits == 0 then fail(400, "noTarget", "the filter matched no value of " .. p.attr) end
  for n = #hits, 1, -1 do
    local i = hits[n]
    if op == "remove" and not p.sub then
      table.remove(list, i)
    elseif p.sub then
      list[i][find(list[i], p.sub) or p.sub] = (op ~= "remove") and value or nil
    else
      list[i] = value
    end
  end
  if #list == 0 then c[k] = nil end
end

local function with_path(user, o, dialect)
  local p = M.parse_path(o.path, dialect)
  guard(p)
  local c = container(user, p.urn, o.op ~= "remove")
  if not c then fail(400, "noTarget", "no such extension: " .. p.urn) end
  if p.filter then
    if p.urn or not MULTI[p.attr:lower()] then fail(400, "invalidPath", p.attr .. " is not multi-valued") end
    return on_filtered(c, p, o.op, o.value)
  end
  if p.sub then
    if not p.urn and MULTI[p.attr:lower()] then
      fail(400, "invalidPath", p.attr .. " is multi-valued: a sub-attribute needs a filter")
    end
    local k = find(c, p.attr) or p.attr
    if o.op == "remove" then
      if json.is_object(c[k]) then c[k][find(c[k], p.sub) or p.sub] = nil end
      return
    end
    if not json.is_object(c[k]) then c[k] = {} end
    c[k][find(c[k], p.sub) or p.sub] = o.value
    return
  end
  if o.op == "remove" then
    if dialect.keep_on_remove and dialect.keep_on_remove[p.attr:lower()] then
      fail(400, "invalidValue", "the attribute " .. p.attr .. " cannot be removed")
    end
    local k = find(c, p.attr)
    if k then c[k] = nil end
    return
  end
  set(c, p.attr, o.value, o.op, p.urn)
end

local function without_path(user, o)
  if o.op == "remove" then fail(400, "noTarget", "a remove operation needs a path") end
  if not json.is_object(o.value) then fail(400, "invalidSyntax", "an operation without a path needs an object value") end
  for k, v in pairs(o.value) do
    if is_urn(k) and json.is_object(v) then
      for ak, av in pairs(v) do set(container(user, k, true), ak, av, o.op, k) end
    else
      guard({ attr = k })
      set(user, k, v, o.op)
    end
  end
end

--- Applies a PatchOp body to `user` (in place). `dialect.filters`: value
-- paths taken; `dialect.filter_ops`: operators taken;
-- `dialect.keep_on_remove`: attributes that cannot be removed.
function M.patch(user, body, dialect)
  if not json.is_object(body) then fail(400, "invalidSyntax", "the body is not a JSON object") end
  local schemas = body[find(body, "schemas") or "schemas"]
  local ok = false
  for _, s in ipairs(json.is_array(schemas) and schemas or {}) do
    if type(s) == "string" and s:lower() == "urn:ietf:params:scim:api:messages:2.0:patchop" then ok = true end
  end
  if not ok then fail(400, "invalidSyntax", "schemas must hold urn:ietf:params:scim:api:messages:2.0:PatchOp") end
  local ops = body[find(body, "Operations") or "Operations"]
  if not json.is_array(ops) or #ops == 0 then fail(400, "invalidSyntax", "Operations must be a non-empty array") end
  for _, o in ipairs(ops) do
    if not json.is_object(o) then fail(400, "invalidSyntax", "an operation is not an object") end
    local op = type(o.op) == "string" and o.op:lower()
    if op ~= "add" and op ~= "replace" and op ~= "remove" then
      fail(400, "invalidSyntax", "op must be add, replace or remove: " .. tostring(o.op))
    end
    local n = { op = op, path = o.path, value = o.value }
    if n.value == json.null then n.value = nil end
    if op ~= "remove" and n.value == nil then fail(400, "invalidSyntax", "an " .. op .. " needs a value") end
    if n.path ~= nil then with_path(user, n, dialect) else without_path(user, n) end
  end
end

--- Checks a user as a server would keep it (after a PATCH, for a PUT or a
-- POST), dropping nulls (the same as unassigned, RFC 7643 section 2.5).
-- `dialect.single_values`: one value per multi-valued attribute (AWS).
function M.validate(user, dialect)
  for k, v in pairs(user) do
    if v == json.null or (json.is_array(v) and #v == 0) then user[k] = nil end
  end
  local un = user[find(user, "userName") or "userName"]
  if type(un) ~= "string" or un == "" then fail(400, "invalidValue", "userName is required: a non-empty string") end
  for k, v in pairs(user) do
    local l = k:lower()
    if is_urn(k) then
      if not json.is_object(v) then fail(400, "invalidSyntax", k .. " must be an object") end
    elseif not KNOWN[l] then
      fail(400, "invalidSyntax", "no attribute " .. k .. " in the User schema")
    elseif l == "active" and type(v) ~= "boolean" then
      fail(400, "invalidValue", "active must be a boolean")
    elseif l == "name" then
      if not json.is_object(v) then fail(400, "invalidValue", "name must be an object") end
    elseif MULTI[l] then
      if not json.is_array(v) then fail(400, "invalidValue", k .. " must be an array") end
      for _, e in ipairs(v) do
        if not json.is_object(e) then fail(400, "invalidValue", k .. " must hold objects") end
      end
      if dialect.single_values and #v > 1 then
        fail(400, "invalidValue", k .. ": only one value is supported")
      end
    elseif l ~= "schemas" and type(v) == "table" then
      fail(400, "invalidValue", k .. " must be a single value")
    end
  end
end

return M
