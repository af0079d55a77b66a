--- The handler behind examples/nginx/nginx.conf.
local users = require "users"
local core = require "users.core"

local ngx = ngx -- luacheck: ignore 113
local _M = {}

local function reply(status, value)
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.print(core.json_encode(value))
  return ngx.exit(ngx.HTTP_OK)
end

local function error_reply(err)
  local status = err.kind == "invalid" and 422 or err.kind == "config" and 500
    or err.kind == "http" and err.status or 502
  return reply(status, { error = { kind = err.kind, code = err.code, message = err.message,
                                   fields = err.fields, status = err.status } })
end

-- Each account's budget (rate, 429 pauses, token): Redis when USERS_BUDGET
-- names one, else the shared dict of nginx.conf, shared by every worker.
local BUDGET = os.getenv("USERS_BUDGET") or (ngx.shared.users_budget and { shared_dict = "users_budget" }) or nil
local FALLBACK = os.getenv("USERS_BUDGET_FALLBACK")
local RATE = tonumber(os.getenv("USERS_RATE") or "")

-- A client for this request only: its credentials never outlive it.
local function client_for(provider)
  local ok, client = pcall(users.new, provider, {
    token = ngx.var.http_x_provider_token,
    account_id = ngx.var.http_x_account_id,
    budget = BUDGET, budget_fallback = FALLBACK, rate = RATE,
  })
  if not ok then return nil end
  return client
end

local function json_body()
  ngx.req.read_body()
  return core.json_decode(ngx.req.get_body_data() or "")
end

--- PATCH /users/<provider>/<id>
function _M.update()
  local provider, id = ngx.var.uri:match("^/users/([%w_]+)/([^/]+)$")
  local client = provider and client_for(provider)
  if not client then return reply(404, { error = { message = "unknown provider" } }) end
  local fields = json_body()
  if type(fields) ~= "table" then
    return reply(400, { error = { message = "the body must be a JSON object of fields" } })
  end
  local user, err = client:update(ngx.unescape_uri(id), fields)
  if not user then return error_reply(err) end
  return reply(200, user)
end

--- POST /bulk/<provider>: runs the whole bulk update inside this request.
function _M.bulk()
  local provider = ngx.var.uri:match("^/bulk/([%w_]+)$")
  local client = provider and client_for(provider)
  if not client then return reply(404, { error = { message = "unknown provider" } }) end
  local items = json_body()
  if type(items) ~= "table" then
    return reply(400, { error = { message = "the body must be a JSON array of items" } })
  end
  local report = client:bulk_update(items, { concurrency = tonumber(ngx.var.arg_concurrency) or 8 })
  for _, f in ipairs(report.failures) do f.err = tostring(f.err) end
  return reply(200, report)
end

--- GET /metrics: every worker's counts, in Prometheus's text format.
function _M.metrics()
  ngx.header["Content-Type"] = "text/plain; version=0.0.4"
  ngx.print(users.metrics("prometheus"))
end

return _M
