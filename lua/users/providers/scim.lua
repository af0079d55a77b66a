-- SCIM 2.0 (RFC 7643, RFC 7644): PATCH {base}/Users/{id}, or GET + PUT
-- with If-Match where the server has no PATCH. No default base URL: set
-- base_url or SCIM_BASE_URL (Slack, GitHub Enterprise, AWS IAM Identity
-- Center: README, "SCIM 2.0"). The update is a plan of requests
-- (lua/README, "A provider's update as steps"): users/scim/steps.lua
-- decides them; this file wires it to the lifecycle and keeps what a
-- server's ServiceProviderConfig said, once per base URL (per process;
-- per worker inside nginx).
local check = require "users.scim.check"
local steps = require "users.scim.steps"
local discovery = require "users.scim.discovery"
local scim_errors = require "users.scim.errors"
local fields = require "users.scim.fields"

-- How often an item waits for another's discovery of the same base URL
-- to answer (a bulk run's first window sends one GET, not one per item).
local POLL = 0.05

-- The request of a step, for the lifecycle: its URL from the template.
local function send(call, what, req)
  if what ~= "send" then return what, req end
  local url, err = call:url(req.template)
  if not url then return "fail", err end
  return "send", { method = req.method, url = url, template = req.template, headers = req.headers,
                   json = req.json, content_type = req.content_type, idempotent = req.idempotent }
end

-- The first request, once this base URL's configuration is known, or this
-- item may discover it: a wait while another item discovers it.
local function start(call, s)
  local config = discovery.recall(s.base)
  if not call.dry and discovery.needed(call.opts.scim_method, config) then
    -- held at most one attempt's time: an owner gone silent delays no one longer
    if not discovery.claim(s.base, s, call.opts.transport.now(), call.opts.timeout) then
      return "wait", POLL, "discovery"
    end
    call.on_end = function() discovery.release(s.base, s) end
  end
  s.plan = steps.new(s.attrs, { method = call.opts.scim_method, config = config, dry = call.dry,
                                error = function(t) return call:error(t) end })
  return send(call, s.plan:first())
end

local function plan(call, user, res)
  local s = call.state
  if call.step == 1 then
    local attrs, err = check.attrs(call.fields)
    if not attrs then return "fail", err end
    local base, uerr = call:url("") -- the base URL as the lifecycle trims it: the memory's key
    if not base then return "fail", uerr end
    s.attrs, s.base = attrs, base
  end
  if not s.plan then return start(call, s) end
  local known = s.plan.config
  local what, x = s.plan:answer(user, res)
  if s.plan.config ~= known then
    discovery.remember(s.base, s.plan.config)
    discovery.release(s.base, s)
  end
  return send(call, what, x)
end

return {
  name = "scim",
  title = "SCIM 2.0 (RFC 7643, RFC 7644)",
  method = "PATCH",
  path = "/Users/{id}",
  params = { { "id", type = "string", min_length = 1, max_length = 1024 } },
  encodings = { "json" },
  -- The core attributes and the enterprise extension's, for describe and
  -- the command's columns. The check is users/scim/check.lua's, run by the
  -- plan: names in any case, attributes under an unknown URN let through.
  fields = fields.list(),
  notes = {
    "attribute names match in any case (RFC 7643); attributes under a schema URN not listed here"
      .. " (a server's own extension) pass unchecked",
    "PATCH with one replace per attribute; GET + PUT with If-Match where the server's"
      .. " ServiceProviderConfig says patch.supported false (option scim_method: auto, patch, put)",
  },
  error = scim_errors.read, -- a SCIM error body: scimType -> code and err.scim_type, detail -> message
  plan = plan,
  -- Idempotent, so retried after an ambiguous failure: a PUT sends the whole
  -- user (twice leaves it as once; its If-Match makes a second one a 412,
  -- and the plan reads the user again), a PATCH only replace and remove
  -- operations with paths (never add, which would append to a multi-valued
  -- attribute twice), a GET changes nothing.
  idempotent = true,
}
