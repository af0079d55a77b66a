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

local setmetatable = setmetatable

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

--- The base URL + path, `{param}` the id's validated, percent-encoded values.
function Call:url(path) return client.url(self.entry, self.id, self.opts, path) end

--- An error of this provider (kind "http" and not retryable unless said).
function Call:error(t)
  t.kind, t.provider = t.kind or "http", self.provider
  if t.retryable == nil then t.retryable = false end
  return errors.new(t)
end

--- The plan of a declaration without one: its own request, its outcome.
function _M.default(call, user, res)
  if call.step == 1 then return "send", call:request() end
  if user == nil then return "fail", res end
  return "done", user, res
end

return _M
