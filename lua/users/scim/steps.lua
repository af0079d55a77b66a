--- One SCIM update as the requests it takes, decided answer by answer; no
-- I/O here: the request lifecycle sends each request (with its budget slot,
-- retries, deadline and events) and hands the answer back.
--
--   local plan = steps.new(attrs, { method = opts.scim_method,
--                                   config = discovery.recall(base) })
--   local req = plan:first()
--   while true do
--     local res = send(req)             -- { status, headers, body = decoded }
--     local what, x = plan:answer(res)
--     if what == "send" then req = x    -- the next request
--     elseif what == "done" then return x               -- the user ({} on a 204)
--     elseif what == "fail" then return nil, x          -- err (412s exhausted)
--     else --[[ "judge" ]] end          -- an error answer: judged, retried or
--   end                                 -- failed as any provider's
--
-- A request: `{ step, method, path, body, if_match }`; `path` is a template
-- under the base URL ("/Users/{id}", "/ServiceProviderConfig"), `body` a
-- table to encode as application/scim+json, `if_match` an entity tag.
-- Steps: "discover" (auto, nothing remembered for the base URL) then either
-- "patch", or "get" then "put" with If-Match; a 412 to the PUT goes back to
-- "get", at most `refetches` (2) times, then fails with code "conflict".
-- After a discovery, `plan.config` holds what to remember for the base URL.
local errors = require "users.errors"
local discovery = require "users.scim.discovery"
local patch = require "users.scim.patch"
local merge = require "users.scim.merge"
local version = require "users.scim.version"

local _M = {}

local setmetatable, type = setmetatable, type

local USER, SPC = "/Users/{id}", "/ServiceProviderConfig"

local Plan = {}
Plan.__index = Plan

--- A plan for checked attributes (users/scim/check.lua). `o.method`:
-- "auto" (nil), "patch" or "put"; `o.config`: a remembered discovery;
-- `o.refetches`: how many times a 412 sends us back to the GET (2).
function _M.new(attrs, o)
  o = o or {}
  return setmetatable({ attrs = attrs, choice = o.method or "auto", config = o.config,
                        refetches = o.refetches or 2, refetched = 0 }, Plan)
end

-- The request that updates, once the method is known.
function Plan:_start()
  if discovery.method(self.choice, self.config) == "patch" then
    self.req = { step = "patch", method = "PATCH", path = USER, body = patch.body(self.attrs) }
  else
    self.req = { step = "get", method = "GET", path = USER }
  end
  return self.req
end

--- The first request.
function Plan:first()
  if discovery.needed(self.choice, self.config) then
    self.req = { step = "discover", method = "GET", path = SPC }
    return self.req
  end
  return self:_start()
end

local function ok(status) return status >= 200 and status <= 299 end

-- The user a 2xx answer gives: its resource, or {} (a 204, an empty body).
local function user_of(res)
  return type(res.body) == "table" and res.body or {}
end

function Plan:_conflict(res)
  local tries = self.refetched + 1
  return errors.new {
    kind = "http", status = res.status, code = "conflict", provider = "scim",
    message = ("the user changed on the server between our GET and our PUT, %d times:"
      .. " nothing was written (If-Match failed with HTTP 412)"):format(tries),
    body = res.body, retryable = false,
  }
end

--- What to do with the answer to the last request: "send", req; "done",
-- user; "fail", err; or "judge" (the lifecycle's usual judgement: retry
-- the same request, refresh, or fail with the error of that answer).
function Plan:answer(res)
  local step, status = self.req.step, res.status
  if step == "discover" then
    local cfg = discovery.read(status, res.body)
    if not cfg then return "judge" end
    self.config = cfg
    return "send", self:_start()
  elseif step == "get" then
    if not ok(status) then return "judge" end
    if type(res.body) ~= "table" then
      return "fail", errors.new { kind = "decode", code = "bad_response", status = status, provider = "scim",
                                  message = "the GET of the user answered no JSON object", retryable = false }
    end
    self.req = { step = "put", method = "PUT", path = USER,
                 body = merge.resource(res.body, self.attrs),
                 if_match = version.of(res.headers, res.body) }
    return "send", self.req
  elseif step == "put" and status == 412 then
    if self.refetched >= self.refetches then return "fail", self:_conflict(res) end
    self.refetched = self.refetched + 1
    self.req = { step = "get", method = "GET", path = USER }
    return "send", self.req
  end
  if ok(status) then return "done", user_of(res) end -- patch or put
  return "judge"
end

return _M
