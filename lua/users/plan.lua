--- A provider's update as steps (lua/README, "A provider's update as
-- steps"): the `call` a plan is given, one per item, with the helpers a
-- plan uses, and the default plan (what users/lifecycle.lua runs, inline,
-- for a declaration without `plan`). A plan is called once per step:
--   plan(call) first, then plan(call, user, res) or plan(call, nil, err)
--   after each request it asked for; it returns "send", request |
--   "done", user [, res] | "fail", err | "wait", seconds [, what].
local errors = require "users.errors"
local client = require "users.client"

local _M = {}

local setmetatable, type, tostring = setmetatable, type, tostring
local huge = math.huge

local Call = {}
Call.__index = Call

--- A call for a plan of `entry`'s (the `plan` function given) for one
-- item: `entry`, `id`, `fields`, `opts` (read only), `provider`, `state`
-- (the plan's own), `step` and `attempts` (kept by the lifecycle), `dry`
-- (nothing will be sent: a dry run or users.prepare shows the first
-- request the plan gives).
function _M.call(entry, o, id, fields, plan, dry)
  return setmetatable({ entry = entry, id = id, fields = fields, opts = o, provider = entry.decl.name,
                        step = 0, attempts = 0, plan = plan, state = {}, dry = dry or false }, Call)
end

--- The declaration's own request for the item (validated, encoded), or nil, err.
function Call:request() return client.request(self.entry, self.id, self.fields, self.opts) end

--- The base URL + path, `{param}` the id's validated, percent-encoded
-- values, or nil, err (kept: a request without a URL fails with it).
function Call:url(path)
  local url, err = client.url(self.entry, self.id, self.opts, path)
  if not url then self.url_error = err end
  return url, err
end

--- An error of this provider (kind "http" and not retryable unless said).
function Call:error(t)
  t.kind, t.provider = t.kind or "http", self.provider
  if t.retryable == nil then t.retryable = false end
  return errors.new(t)
end

---------------------------------------------------------------- moves

-- What is wrong with a request a plan asked for (lua/README, the hook's
-- `request`), or nil. Only what the transport and the headers would trip
-- on later, or send where they should not.
local function bad_request(call, req)
  if type(req) ~= "table" then return "a request that is a " .. type(req) end
  local method, url, path = req.method, req.url, req.path
  if type(method) ~= "string" or not method:find("^[%w!#$%%&'*+.^_`|~-]+$") then
    return "a request without a method (a token such as \"GET\")"
  end
  if url == nil and path == nil then return call.url_error or "a request without url or path" end
  local authority = type(url) == "string" and url:match("^[hH][tT][tT][pP][sS]?://([^/?#]*)")
  if url ~= nil and (not authority or authority == "" or authority:find("@", 1, true) or url:find("[%s%c]")) then
    return "a url that is not an absolute http(s) URL without user information, spaces or controls"
  end
  if path ~= nil and (type(path) ~= "string" or path:sub(1, 1) ~= "/" or path:find("[%s%c]")) then
    return "a path that is not /... without spaces or controls"
  end
  local body = req.body
  if body ~= nil and type(body) ~= "string" and not (type(body) == "function" and type(req.segments) == "table") then
    return "a body that is not a string (json = value encodes one)"
  end
  local ct = req.content_type
  if ct ~= nil and (type(ct) ~= "string" or ct:find("[%c]")) then return "a bad content_type" end
  if req.headers and type(req.headers) ~= "table" then return "headers that are not a table" end
  if req.template ~= nil and type(req.template) ~= "string" then return "a template that is not a string" end
end

-- A plan's move as the lifecycle can carry it out: verb, a, b as given, or
-- "fail", err (kind "invalid", or the error call:url gave) naming what is wrong.
function _M.move(call, verb, a, b)
  local problem
  if verb == "send" then
    if a == nil then return "fail", b end -- call:request() failed
    problem = bad_request(call, a)
    if errors.is_error(problem) then return "fail", problem end
  elseif verb == "wait" then
    if type(a) ~= "number" or a ~= a or a < 0 or a == huge then
      problem = "asked to wait without a number of seconds"
    elseif b ~= nil and type(b) ~= "string" then
      problem = "asked to wait with a name that is not a string"
    end
  elseif verb == "done" then
    if a == nil then problem = "said done without a user"
    elseif b ~= nil and type(b) ~= "table" then problem = "said done with a response that is a " .. type(b) end
  elseif verb ~= "fail" then
    problem = "returned '" .. tostring(verb) .. "', which is none of send, done, fail, wait"
  end
  if not problem then return verb, a, b end
  if verb == "send" then problem = "asked to send " .. problem end
  return "fail", errors.invalid(call.provider, {}, "the update's plan " .. problem)
end

--- The plan of a declaration without one: its own request, its outcome.
function _M.default(call, user, res)
  if call.step == 1 then return "send", call:request() end
  if user == nil then return "fail", res end
  return "done", user, res
end

return _M
