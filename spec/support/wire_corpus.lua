-- The five hand-written providers' rules as 0.1.0 shipped them (frozen
-- here: the provider files may change, these bytes must not), a
-- deterministic generator of updates for them (valid and invalid, the same
-- on every Lua), and what each C encoder answers, as one line of text.
-- spec/wire_bytes_spec.lua holds today's core to what 0.1.0's wrote
-- (spec/fixtures/wire_bytes.lua); the fixture is written by running this
-- file with the 0.1.0 core first on package.cpath:
--   lua5.4 spec/support/wire_corpus.lua > spec/fixtures/wire_bytes.lua
local _M = {}

local timezones = require "users.timezones"

local scope = { type = "string", any_of = { { format = "uuid" }, { enum = { "*" } } } }
_M.providers = {
  lancepilot = { name = "lancepilot", params = { { "workspace", type = "string", format = "uuid" }, { "user", type = "integer" } },
    fields = {
      { "name", type = "string", required = true, max_length = 50 },
      { "email", type = "string", required = true, format = "email" },
      { "password", type = "string", min_length = 6, max_length = 255 },
      { "confirm_password", type = "string", same_as = "password" },
      { "timezone", type = "string", required = true, enum = timezones },
      { "status", type = "boolean", required = true },
      { "client", type = "boolean" },
      { "avatar", type = "file", nullable = true, content_type = "image/*", max_bytes = 1024 * 1024 },
    } },
  lexful = { name = "lexful", params = { { "id", type = "string", format = "uuid" } }, fields = {
    { "email", type = "string", format = "email", max_length = 255 },
    { "first_name", type = "string", nullable = true, min_length = 1, max_length = 100 },
    { "last_name", type = "string", nullable = true, min_length = 1, max_length = 100 },
    { "role", type = "string", enum = { "system_admin", "system_support", "admin", "support", "viewer", "organization_viewer" } },
    { "account_scopes", type = "array", items = scope },
    { "organization_scopes", type = "array", items = scope },
  } },
  generic = { name = "generic", params = { { "user_id", type = "string", min_length = 1, max_length = 255 } }, fields = {
    { "email", type = "string", format = "email" }, { "username", type = "string" }, { "first_name", type = "string" },
    { "last_name", type = "string" }, { "role", type = "string" },
  } },
  activepieces = { name = "activepieces", params = { { "id", type = "string", pattern = "^[0-9a-zA-Z]{21}$" } }, fields = {
    { "status", type = "string", enum = { "ACTIVE", "INACTIVE" } },
    { "platformRole", type = "string", enum = { "ADMIN", "MEMBER", "OPERATOR" } },
    { "externalId", type = "string" },
  } },
  paradigm = { name = "paradigm", params = { { "id", type = "integer" } }, fields = {
    { "workspaces", type = "array", items = { type = "integer" } },
  } },
}
_M.names = { "lancepilot", "lexful", "generic", "activepieces", "paradigm" }

-- Park-Miller: exact in doubles and in integers, so every Lua draws alike.
local function rng(seed)
  return function(n)
    seed = seed * 16807 % 2147483647
    return seed % n + 1
  end
end

local UUID = "5f0c2c1e-8f5d-4c8e-9d6a-0a1b2c3d4e5f"
local PNG = "\137PNG\r\n\26\n" .. ("\0"):rep(8)

-- Right values by field name, and values of every kind for any field.
local function pools(null, blob)
  local right = {
    name = { "Jane", ("é"):rep(50), "J" }, email = { "jane@example.com", "a.b+c@d-e.example.org" },
    password = { "secret1", ("p"):rep(255) }, confirm_password = { "secret1" },
    timezone = { "UTC", "Europe/Paris", "America/Argentina/Buenos_Aires" }, status = { true, false }, client = { false, true },
    avatar = { blob(PNG, "a.png"), blob(PNG, "b.png", "image/png"), null },
    first_name = { "Jane", "Zoë", null, ("x"):rep(100) }, last_name = { "Doe", null, "日本語" },
    role = { "admin", "viewer", "organization_viewer", "x" }, account_scopes = { {}, { UUID, "*" }, { "*" } },
    organization_scopes = { { "*" }, { UUID } }, username = { "jane", "quote\"back\\slash", "tab\there", "line\nbreak" },
    platformRole = { "ADMIN", "MEMBER", "OPERATOR" }, externalId = { "ext-1", "", "a/b?c=d&e" },
    workspaces = { {}, { 1, 2 }, { 7, "9007199254740993", -3, 0 } },
  }
  right.status_ap = { "ACTIVE", "INACTIVE" }
  local any = {
    "", "x", "Jane", ("a"):rep(256), "jane@", "UTC ", "utc", "*", "**", UUID:upper(), UUID:sub(2), "12", "-7",
    "9223372036854775808", "nul\0byte", "\255bad", "é", 0, 42, -3, 1.5, 2 ^ 53, 0 / 0, math.huge, true, false, null,
    {}, { 1, 2 }, { "*" }, { UUID, "nope" }, { 1, nil, 3 }, { x = 1 }, { { 1 } }, { 1.5 }, { "12" }, { null },
    blob("GIF89a", "a.gif"), blob(PNG, "a\r\n.png"), blob(PNG .. ("\0"):rep(1024 * 1024), "big.png"), blob(PNG, "a.png", "text/plain"),
  }
  return right, any
end

-- A string quoted the same way on every Lua (%q is not: 5.1 writes \r).
local function quote(s)
  return '"' .. s:gsub('[%c"\\\128-\255]', function(c) return ("\\%03d"):format(c:byte()) end) .. '"'
end

-- A line of text for a Lua value: sorted keys, so the same table is the
-- same text on every Lua.
local function show(v, seen)
  local t = type(v)
  if t == "string" then return quote(v) end
  if t ~= "table" then return tostring(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local out = {}
  for _, k in ipairs(keys) do out[#out + 1] = show(k, seen) .. "=" .. show(v[k], seen) end
  return "{" .. table.concat(out, ",") .. "}"
end

-- What each encoder answers for one update, in one line.
local function answers(core, p, fields)
  local out = {}
  local ok, body, problems, reason = pcall(core.marshal_json, p, fields)
  out[1] = "json " .. (ok and (body and quote(body) or show(problems) .. " " .. tostring(reason)) or "raised")
  local vp, vr = core.validate(p, fields)
  if vp or vr then return table.concat(out, "\n") end
  local fok, form, fproblems = pcall(core.encode_form, p, fields)
  out[2] = "form " .. (fok and (form and quote(form) or show(fproblems)) or "raised")
  local mok, segs, length, ctype = pcall(core.encode_multipart, p, fields)
  if mok and segs and type(length) == "number" then
    local boundary = ctype:match("boundary=(.*)$")
    local text = {}
    for i, s in ipairs(segs) do text[i] = type(s) == "string" and s or ("<file " .. s.size .. ">") end
    local joined = table.concat(text)
    local from = 1
    repeat -- the boundary is random: its every occurrence becomes BOUNDARY
      local a, b = joined:find(boundary, from, true)
      if a then joined = joined:sub(1, a - 1) .. "BOUNDARY" .. joined:sub(b + 1); from = a + 8 end
    until not a
    out[3] = "multipart " .. quote(joined)
  else
    out[3] = "multipart " .. (mok and show(length) or "raised")
  end
  return table.concat(out, "\n")
end

-- users.blob's table (the C core reads it raw: its metatable does not count)
local function blob(data, filename, content_type)
  return { data = data, filename = filename, content_type = content_type }
end

-- n updates for provider `name`, each with its answers: a list of lines.
function _M.run(core, name, n)
  local decl = _M.providers[name]
  local p = core.compile(decl)
  local right, any = pools(core.null, blob)
  local random = rng(#name * 7919 + 1)
  local names = {}
  for i, f in ipairs(decl.fields) do names[i] = f[1] end
  names[#names + 1] = "not_a_field"
  local lines = {}
  for i = 1, n do
    local fields = {}
    for _, f in ipairs(decl.fields) do
      if random(10) <= (f.required and 9 or 5) then
        local pool = right[(name == "activepieces" and f[1] == "status") and "status_ap" or f[1]]
        fields[f[1]] = pool[random(#pool)]
      end
    end
    for _ = 1, random(3) - 1 do fields[names[random(#names)]] = any[random(#any)] end
    if random(25) == 1 then fields[1] = "positional" end
    lines[i] = answers(core, p, fields)
  end
  return lines
end

-- A line's digest, the same on every Lua (two 31-bit lanes, exact in
-- doubles and integers alike): 16 hex digits.
function _M.digest(line)
  local a, b = 7, 11
  for i = 1, #line do
    local c = line:byte(i)
    a = (a * 31 + c) % 2147483647
    b = (b * 37 + c) % 2147483629
  end
  return ("%08x%08x"):format(a, b)
end

-- The path parameters' checks, for a list of ids.
function _M.params(core, name)
  local p = core.compile(_M.providers[name])
  local ids = { UUID, "42", 42, 4.5, "", ".", "..", "a/b", ("a"):rep(21), ("a"):rep(22), "abcdefghij-BCDEFGHIJ1",
                "é", "9007199254740993", -1, true }
  local out = {}
  for _, param in ipairs(_M.providers[name].params) do
    for _, id in ipairs(ids) do
      local ok, text, why = pcall(core.check_param, p, param[1], id)
      out[#out + 1] = param[1] .. " " .. show(id) .. " " .. (ok and (show(text) .. " " .. show(why)) or "raised")
    end
  end
  return out
end

-- Run as a script: the fixture, from whichever core comes first on cpath.
if arg and arg[0] and arg[0]:match("wire_corpus%.lua$") then
  local core = require "users.core"
  print("-- What the 0.1.0 core answered for spec/support/wire_corpus.lua's updates and ids, one")
  print("-- digest a line (written by running that file with the 0.1.0 core, commit b0c0f55):")
  print("-- spec/wire_bytes_spec.lua holds today's core to it.")
  print("return {")
  for _, name in ipairs(_M.names) do
    print(("  %s = {"):format(name))
    local lines = _M.run(core, name, 400)
    for _, line in ipairs(_M.params(core, name)) do lines[#lines + 1] = line end
    for i = 1, #lines, 6 do
      local row = {}
      for k = i, math.min(i + 5, #lines) do row[#row + 1] = ('"%s",'):format(_M.digest(lines[k])) end
      print("    " .. table.concat(row, " "))
    end
    print("  },")
  end
  print("}")
end

return _M
