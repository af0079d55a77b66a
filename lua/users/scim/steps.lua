--- One SCIM update as the requests it takes, decided answer by answer, in
-- the shape of a provider's `plan` hook (the request lifecycle's steps,
-- lua/README): no I/O here. The lifecycle sends each request (budget slot,
-- retries, token, deadline, events) and hands back `user, res` for a 2xx
-- (`user` the decoded body, `{}` when empty) or `nil, err` for a failure
-- it judged final.
--
--   local plan = steps.new(attrs, { method = opts.scim_method,
--                                   config = discovery.recall(base),
--                                   error = function(t) return call:error(t) end })
--   local what, x = plan:first()            -- "send", request
--   what, x = plan:answer(user, res_or_err) -- "send", request | "done", user | "fail", err
--
-- A request: `{ step, method, template, headers, json, content_type,
-- idempotent }`: `template` is the path under the base URL
-- ("/Users/{id}", "/ServiceProviderConfig") that the wiring turns into the
-- URL (and that events name as url.template); `json` a table to encode.
-- Steps: "discover" (auto, nothing remembered for the base URL), then
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
local SCIM_JSON = "application/scim+json"
-- RFC 7644 section 3.8: a client asks for application/scim+json; some
-- servers only ever answer application/json.
local ACCEPT = "application/scim+json, application/json"

local function default_error(t)
  t.kind = t.kind or "http"
  t.provider = t.provider or "scim"
  if t.retryable == nil then t.retryable = false end
  return errors.new(t)
end

local Plan = {}
Plan.__index = Plan

--- A plan for checked attributes (users/scim/check.lua). `o.method`:
-- "auto" (nil), "patch" or "put"; `o.config`: a remembered discovery;
-- `o.refetches`: how many times a 412 sends us back to the GET (2);
-- `o.error`: makes this provider's errors (the lifecycle's `call:error`);
-- `o.dry`: nothing will be sent (a dry run, users.prepare): no discovery,
-- the first request is the one that updates as far as is known (a PATCH,
-- unless `config` or `method` says PUT: then the GET before it).
function _M.new(attrs, o)
  o = o or {}
  return setmetatable({ attrs = attrs, choice = o.method or "auto", config = o.config,
                        refetches = o.refetches or 2, refetched = 0, dry = o.dry or false,
                        error = o.error or default_error }, Plan)
end

local function get(step, template)
  return { step = step, method = "GET", template = template, headers = { Accept = ACCEPT }, idempotent = true }
end

-- The request that updates, once the method is known.
function Plan:_start()
  if discovery.method(self.choice, self.config) == "patch" then
    -- replace and remove operations with paths, no add: sent twice, the
    -- user ends as after once (a remove of what is gone removes nothing)
    self.req = { step = "patch", method = "PATCH", template = USER, headers = { Accept = ACCEPT },
                 json = patch.body(self.attrs), content_type = SCIM_JSON, idempotent = true }
  else
    self.req = get("get", USER)
  end
  return self.req
end

--- The first request: "send", request.
function Plan:first()
  if not self.dry and discovery.needed(self.choice, self.config) then
    self.req = get("discover", SPC)
    return "send", self.req
  end
  return "send", self:_start()
end

function Plan:_put(current, res)
  local headers = { Accept = ACCEPT }
  -- The version the user had when we read it: a PUT over someone else's
  -- change is refused (412) instead of silently undoing it.
  headers["If-Match"] = version.of(res.headers, current)
  -- idempotent: the same whole user sent twice leaves it as once (with
  -- If-Match the second is a 412, and back to the GET)
  self.req = { step = "put", method = "PUT", template = USER, headers = headers,
               json = merge.resource(current, self.attrs), content_type = SCIM_JSON, idempotent = true }
  return "send", self.req
end

function Plan:_stale(err)
  if self.refetched >= self.refetches then
    return "fail", self.error {
      code = "conflict", status = err.status, body = err.body,
      message = ("the user changed on the server between our GET and our PUT, %d times:"
        .. " nothing was written (If-Match failed with HTTP 412)"):format(self.refetched + 1),
    }
  end
  self.refetched = self.refetched + 1
  self.req = get("get", USER)
  return "send", self.req
end

--- What comes after the answer to the last request: `user, res` on a 2xx,
-- `nil, err` on a failure. Returns "send", request; "done", user; or
-- "fail", err.
function Plan:answer(user, res)
  local step = self.req.step
  if step == "discover" then
    if not res.status then return "fail", res end -- no answer at all (a transport error)
    local cfg, why = discovery.read(res.status, user)
    if not cfg then
      if user == nil then return "fail", res end -- an error answer: its own error
      return "fail", self.error { kind = "decode", code = "bad_response", status = res.status, message = why }
    end
    self.config = cfg
    return "send", self:_start()
  end
  if user == nil then
    if step == "put" and res.status == 412 then return self:_stale(res) end
    return "fail", res
  end
  if step == "get" then
    if type(user) ~= "table" or user[1] ~= nil then
      return "fail", self.error { kind = "decode", code = "bad_response", status = res.status,
                                  message = "the GET of the user answered no JSON object" }
    end
    return self:_put(user, res)
  end
  return "done", user -- patch or put: the resource of a 200, {} for a 204
end

return _M
