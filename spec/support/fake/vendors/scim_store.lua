-- The users of the fake SCIM servers, one store per dialect (`d`, the
-- dialect's table of vendors/scim.lua), kept in the
-- fake_state shared dict as JSON (so `reset()` empties them, and they hold
-- across connections). Each store starts with two users: RFC 7643's
-- enterprise example (bjensen) and a second one whose userName and email a
-- spec can collide with. Every change bumps the user's version, which the
-- ETag and meta.version carry.
local json = require "json"
local common = require "common"
local examples = require "vendors.scim_examples"

local state = ngx.shared.fake_state

local M = {}

M.BJENSEN = examples.BJENSEN_ID
M.OTHER = "9a8b7c6d-1234-4abc-8def-0123456789ab"
M.OTHER_USERNAME = "jsmith@example.com"
M.OTHER_EMAIL = "jsmith@example.com"

local function key(dialect, what, id)
  return "scim:" .. dialect .. ":" .. what .. (id and (":" .. id) or "")
end

local function other_user()
  return {
    schemas = json.array({ examples.CORE }), id = M.OTHER, userName = M.OTHER_USERNAME,
    name = { givenName = "John", familyName = "Smith" }, displayName = "John Smith", active = true,
    emails = json.array({ { value = M.OTHER_EMAIL, type = "work", primary = true } }),
  }
end

local function put_raw(dialect, user, version, created)
  state:set(key(dialect, "u", user.id), json.encode(user))
  state:set(key(dialect, "v", user.id), version)
  state:set(key(dialect, "c", user.id), created)
end

-- Seeds a dialect's store once after each reset (one value per
-- multi-valued attribute where the dialect takes no more).
local function seed(d)
  if not state:add(key(d.name, "seeded"), true) then return end
  -- through JSON, so that arrays carry json.array's mark as decoded ones do
  local bjensen = json.decode(json.encode(examples.enterprise_user()))
  if d.single_values then
    for k, v in pairs(bjensen) do
      if k ~= "schemas" and json.is_array(v) then bjensen[k] = json.array({ v[1] }) end
    end
  end
  put_raw(d.name, bjensen, 1, "2010-01-23T04:56:22Z")
  put_raw(d.name, other_user(), 1, "2011-05-13T04:42:34Z")
end

--- The user with this id, its version and creation time; nil when none.
function M.get(d, id)
  seed(d)
  local raw = state:get(key(d.name, "u", id))
  if not raw then return nil end
  return json.decode(raw), state:get(key(d.name, "v", id)), state:get(key(d.name, "c", id))
end

--- Stores a user (new or changed); returns its new version.
function M.put(d, user)
  seed(d)
  local created = state:get(key(d.name, "c", user.id)) or common.iso_now()
  local version = (state:get(key(d.name, "v", user.id)) or 0) + 1
  put_raw(d.name, user, version, created)
  return version
end

function M.delete(d, id)
  state:delete(key(d.name, "u", id))
  state:delete(key(d.name, "v", id))
end

--- Every user of a dialect (id order).
function M.all(d)
  seed(d)
  local prefix = key(d.name, "u") .. ":"
  local ids = {}
  for _, k in ipairs(state:get_keys(0)) do
    if k:sub(1, #prefix) == prefix then ids[#ids + 1] = k:sub(#prefix + 1) end
  end
  table.sort(ids)
  local out = {}
  for _, id in ipairs(ids) do
    local u = M.get(d, id)
    if u then out[#out + 1] = u end
  end
  return out
end

return M
