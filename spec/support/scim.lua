-- What the SCIM specs share: the fake servers started for the enclosing
-- describe (reset, with the discovery memory, before each test), options
-- that point the provider `scim` at one dialect, and what a server holds.
local users = require "users"
local core = require "users.core"
local transport = require "users.transport.curl"
local discovery = require "users.scim.discovery"
local fake = require "spec.support.fake_providers"

local M = {}

--- For the enclosing describe: the fakes, started once; `M.f` while it runs.
function M.fakes()
  local busted = require "busted"
  busted.setup(function() M.f = fake.start() end)
  busted.teardown(function() M.f:stop() end)
  busted.before_each(function() M.f:reset(); discovery.forget() end)
end

--- Options pointing `scim` at dialect `name`; each answer goes into
-- `trail` (when given) as "METHOD status" (or "METHOD error-code").
function M.opts(name, trail, extra)
  local o = { base_url = M.f:base_url(name), token = fake.TOKEN, timeout = 10 }
  if trail then
    o.on_event = function(e)
      if e.name == "answer" then
        trail[#trail + 1] = e["http.request.method"] .. " " .. tostring(e["http.response.status_code"] or e["error.type"])
      end
    end
  end
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

--- A request to the server outside the module (over libcurl): its answer.
function M.raw(method, url, body)
  local h = { Authorization = "Bearer " .. fake.TOKEN, Accept = "application/scim+json" }
  local r = { method = method, url = url, headers = h, timeout = 10, connect_timeout = 5 }
  if body then
    h["Content-Type"] = "application/scim+json"
    r.body = core.json_encode(body)
    r.body_length = #r.body
  end
  return assert(transport.send(r))
end

--- What dialect `name` holds for user `id`; nil when it has no such user.
function M.held(name, id)
  local res = M.raw("GET", M.f:base_url(name) .. "/Users/" .. id)
  if res.status == 404 then return nil end
  assert(res.status == 200, res.body)
  return core.json_decode(res.body)
end

function M.array(t) return setmetatable(t, users.array_mt) end

return M
