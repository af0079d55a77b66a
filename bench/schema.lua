-- make bench's figures 14 and 15 (bench/run.lua calls this file; it also
-- runs on its own: lua5.4 bench/schema.lua):
--  14 compiled        validating + encoding the same updates with each seed provider's
--                     declaration as the OpenAPI compiler writes it (one_of, annotations,
--                     form_booleans spelt out), vs the hand-written one (target <= 1.05)
--  15 nested update   validating + encoding a realistic 12-field nested update in the
--                     new vocabulary (core.marshal_json), vs cjson.encode of the same table
--  21 pattern growth  a value checked against a pattern that does not anchor itself, at 4x
--                     the length: the time's growth (linear: about 4; quadratic: 16)
package.path = "lua/?.lua;./?.lua;" .. package.path
package.cpath = (os.getenv("LUA_USERS_CPATH") or "build/5.4/?.so") .. ";" .. package.cpath

local core = require "users.core"
local cjson = require "cjson"

local NULL = core.null
local UUID, UUID2 = "5f0c2c1e-8f5d-4c8e-9d6a-0a1b2c3d4e5f", "11111111-1111-4111-8111-111111111111"

-- The seed providers as their documents say, written the way the OpenAPI
-- compiler writes a declaration (lua/users/providers/README.md, "What the
-- compiler turns into what"): oneOf kept as one_of, annotations kept.
local scope = { one_of = { { type = "string", format = "uuid" }, { type = "string", enum = { "*" } } } }
local compiled = {
  lexful = { name = "lexful_doc", fields = {
    { "email", type = "string", format = "email", max_length = 255, description = "The user's email" },
    { "first_name", type = "string", nullable = true, min_length = 1, max_length = 100, title = "First name" },
    { "last_name", type = "string", nullable = true, min_length = 1, max_length = 100, title = "Last name" },
    { "role", type = "string", enum = { "system_admin", "system_support", "admin", "support", "viewer",
                                        "organization_viewer" }, description = "The user's role" },
    { "account_scopes", type = "array", items = scope, description = "account UUIDs, or \"*\"" },
    { "organization_scopes", type = "array", items = scope, description = "organization UUIDs, or \"*\"" },
  } },
  activepieces = { name = "activepieces_doc", fields = {
    { "status", type = "string", enum = { "ACTIVE", "INACTIVE" } },
    { "platformRole", type = "string", enum = { "ADMIN", "MEMBER", "OPERATOR" } },
    { "externalId", type = "string", format_hint = "external-id" },
  } },
  paradigm = { name = "paradigm_doc", fields = {
    { "workspaces", type = "array", items = { type = "integer", format_hint = "int64" },
      description = "workspace ids; replaces the whole list" },
  } },
  lancepilot = { name = "lancepilot_doc", form_booleans = { "1", "0" }, fields = {
    { "name", type = "string", required = true, max_length = 50 },
    { "email", type = "string", required = true, format = "email" },
    { "password", type = "string", min_length = 6, max_length = 255, write_only = true },
    { "confirm_password", type = "string", same_as = "password", write_only = true },
    { "timezone", type = "string", required = true, enum = require "users.timezones" },
    { "status", type = "boolean", required = true },
    { "client", type = "boolean" },
    { "avatar", type = "file", nullable = true, content_type = "image/*", max_bytes = 1024 * 1024 },
  } },
}

local updates = {
  lexful = { email = "jane@example.com", first_name = "Jane", last_name = NULL, role = "admin",
             account_scopes = { UUID, UUID2 }, organization_scopes = { "*" } },
  activepieces = { status = "ACTIVE", platformRole = "MEMBER", externalId = "ext-1" },
  paradigm = { workspaces = { 1, 2, 3 } },
  lancepilot = { name = "Jane", email = "jane@example.com", timezone = "Europe/Paris", status = true, client = false },
}

-- What each provider's update runs: JSON in one pass, multipart after validation.
local function encoder(name)
  if name == "lancepilot" then
    local validate, multipart = core.validate, core.encode_multipart
    return function(p, u)
      if validate(p, u) then error("invalid") end
      return multipart(p, u)
    end
  end
  local marshal = core.marshal_json
  return function(p, u) return marshal(p, u) or error("invalid") end
end

-- Rounds of m calls of a and of b in turn, the best of each: a clock that
-- drifts during the run slows both alike.
local function best_of(rounds, m, a, b)
  local ta, tb = math.huge, math.huge
  for _ = 1, rounds do
    local t0 = os.clock()
    for _ = 1, m do a() end
    ta = math.min(ta, os.clock() - t0)
    t0 = os.clock()
    for _ = 1, m do b() end
    tb = math.min(tb, os.clock() - t0)
  end
  return ta / m * 1e6, tb / m * 1e6
end

-- A 12-field update of a user with everything the vocabulary has: nested
-- objects, arrays of objects, unique items, numbers, formats, a pattern,
-- an enum, a nullable field and an object of free keys.
local nested = core.compile { name = "nested", fields = {
  { "email", type = "string", format = "email", max_length = 254 },
  { "given_name", type = "string", min_length = 1, max_length = 100 },
  { "family_name", type = "string", nullable = true, max_length = 100 },
  { "locale", type = "string", enum = { "en-US", "en-GB", "fr-FR", "de-DE", "ja-JP" } },
  { "active", type = "boolean" },
  { "employee_number", type = "integer", minimum = 1, maximum = 99999999 },
  { "start_date", type = "string", format = "date" },
  { "phone", type = "string", pattern = "^\\+[1-9][0-9]{6,14}$" },
  { "address", type = "object", additional_properties = false, properties = {
    { "street", type = "string", max_length = 200 }, { "city", type = "string", required = true },
    { "postal_code", type = "string", max_length = 16 }, { "country", type = "string", pattern = "^[A-Z]{2}$" } } },
  { "emails", type = "array", max_items = 5, items = { type = "object", properties = {
    { "value", type = "string", format = "email", required = true },
    { "type", type = "string", enum = { "work", "home", "other" } }, { "primary", type = "boolean" } } } },
  { "groups", type = "array", unique_items = true, items = { type = "string", format = "uuid" } },
  { "metadata", type = "object", max_properties = 20, additional_properties = { type = "string", max_length = 64 } },
} }
local nested_update = {
  email = "jane.doe@example.com", given_name = "Jane", family_name = NULL, locale = "fr-FR", active = true,
  employee_number = 4711, start_date = "2024-02-29", phone = "+33612345678",
  address = { street = "1 rue de Rivoli", city = "Paris", postal_code = "75001", country = "FR" },
  emails = { { value = "jane.doe@example.com", type = "work", primary = true }, { value = "jane@example.org", type = "home" } },
  groups = { UUID, UUID2 },
  metadata = { department = "R&D", cost_center = "4200" },
}

-- Patterns whose search from each start runs over the rest of the value:
-- PCRE2's search skips the starts a failed repeat already covered, where a
-- start at a time would make the check quadratic. The worst growth of three.
-- 4 000 characters: such a pattern is not run over a value longer than
-- 4096 bytes (src/pattern.c).
local function pattern_growth(figure)
  local worst, parts = 0, {}
  for _, case in ipairs { { "[a-z]+[0-9]", "a", "" }, { "\\w+\\s", "a", "" }, { "[^@\\s]+$", "x", " y" } } do
    local p = core.compile { name = "growth", fields = { { "f", type = "string", pattern = case[1] } } }
    local small, large = { f = case[2]:rep(1000) .. case[3] }, { f = case[2]:rep(4000) .. case[3] }
    for _, v in ipairs { small, large } do
      assert((core.validate(p, v) == nil) == (case[3] ~= ""), case[1] .. ": not the expected answer")
    end
    local ts, tl = best_of(5, 20, function() return core.validate(p, small) end,
                           function() return core.validate(p, large) end)
    worst = math.max(worst, tl / ts)
    parts[#parts + 1] = ("%s %.1f/%.1f"):format(case[1], ts, tl)
  end
  figure(21, "pattern growth", ("an unanchored pattern on 1 000 and 4 000 characters, us: %s"):format(
    table.concat(parts, ", ")), worst, "<= 8, the time at 4x the length (linear: 4)", worst <= 8)
end

return function(figure)
  local rounds, m = 40, 10000
  local product, count = 1, 0
  local parts = {}
  for _, name in ipairs { "lexful", "activepieces", "paradigm", "lancepilot" } do
    local h = core.compile(dofile("lua/users/providers/" .. name .. ".lua"))
    local c = core.compile(compiled[name])
    local u, encode = updates[name], encoder(name)
    local bh, bc = encode(h, u), encode(c, u)
    assert(type(bh) ~= "string" or bh == bc, name .. ": the two declarations write different bodies")
    local th, tc = best_of(rounds, m, function() return encode(h, u) end, function() return encode(c, u) end)
    product, count = product * tc / th, count + 1
    parts[#parts + 1] = ("%s %.2f/%.2f"):format(name, tc, th)
  end
  local ratio = product ^ (1 / count) -- each provider counts alike, whatever its update costs
  figure(14, "compiled", ("validate + encode, as compiled from the documents/hand-written, us: %s"):format(
    table.concat(parts, ", ")), ratio, "<= 1.05, compiled/hand-written (geometric mean)", ratio <= 1.05)

  local marshal, encode = core.marshal_json, cjson.encode
  assert(marshal(nested, nested_update) == core.encode_json(nested, nested_update), "marshal_json differs")
  local ours, theirs = best_of(rounds, m, function() return marshal(nested, nested_update) or error("invalid") end,
                               function() return encode(nested_update) end)
  figure(15, "nested update", ("a 12-field nested update, validate + encode: %.2f us, cjson.encode alone: %.2f us"):format(
    ours, theirs), ours / theirs, "<= 1.5, ours/cjson", ours / theirs <= 1.5)
  pattern_growth(figure)
end
