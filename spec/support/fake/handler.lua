-- Entry points of the fake vendors inside nginx: routing by path prefix,
-- recording of every request into the prefix directory, behaviours, and the
-- control calls of the controller (spec/support/fake_providers.lua).
local serialize = require "serialize"
local behave = require "behave"
local common = require "common"

local M = {}

local PREFIXES = {
  { "/lancepilot/api/v3", "lancepilot" },
  { "/lexful", "lexful" },
  { "/generic", "generic" },
  { "/activepieces/api", "activepieces" },
  { "/paradigm", "paradigm" },
  { "/openapi", "openapi" }, -- any OpenAPI operation, as the controller configures it
  -- SCIM 2.0, one server per dialect (vendors/scim.lua)
  { "/scim-rfc/v2", "scim_rfc" },
  { "/scim-put/v2", "scim_put" },
  { "/scim-github/v2", "scim_github" },
  { "/scim-nodisco/v2", "scim_nodisco" },
  { "/scim-unique/v2", "scim_unique" },
}

local config -- { prefix = the temp dir of this instance }
local vendors = {}

function M.init(cfg)
  config = cfg
  for _, p in ipairs(PREFIXES) do vendors[p[2]] = require("vendors." .. p[2]) end
end

function M.init_worker()
  math.randomseed(math.floor(ngx.now() * 1000) + ngx.worker.pid())
end

local function read_body()
  ngx.req.read_body()
  local body = ngx.req.get_body_data()
  if body then return body end
  local file = ngx.req.get_body_file() -- only if larger than client_body_buffer_size
  if not file then return "" end
  local f = assert(io.open(file, "rb"))
  body = f:read("*a")
  f:close()
  return body
end

local function write(path, data)
  local f = assert(io.open(path, "wb"))
  assert(f:write(data))
  assert(f:close())
end

-- One request = rec/req-NNNNNNNN.body (raw bytes) + rec/req-NNNNNNNN.lua
-- (metadata, serialized). The .lua file is renamed into place last, so the
-- controller never reads half a record.
local function record(req)
  local n = ngx.shared.fake_seq:incr("n", 1, 0)
  local base = string.format("%s/rec/req-%08d", config.prefix, n)
  local headers = {}
  for k, v in pairs(req.headers) do
    headers[k] = type(v) == "table" and table.concat(v, ", ") or v
  end
  write(base .. ".body", req.body)
  write(base .. ".tmp", serialize.encode({
    seq = n, method = req.method, uri = req.uri, headers = headers,
    provider = req.provider, at = req.at, conn = req.conn, tls = req.tls,
    protocol = req.protocol, resumed = req.resumed, port = req.port, client = req.client,
  }))
  assert(os.rename(base .. ".tmp", base .. ".lua"))
end

local function route(path)
  for _, p in ipairs(PREFIXES) do
    local prefix = p[1]
    if path:sub(1, #prefix + 1) == prefix .. "/" then
      return p[2], path:sub(#prefix + 1)
    end
  end
end

--- location /: every vendor request.
function M.serve()
  ngx.update_time()
  behave.arrived()
  local uri = ngx.var.request_uri -- as received: not decoded, not normalised
  local path, query = uri:match("^([^?]*)%??(.*)$")
  local name, rest = route(path)
  local req = {
    method = ngx.req.get_method(), uri = uri, path = rest, query = query,
    headers = ngx.req.get_headers(0), provider = name, at = ngx.now(),
    conn = tonumber(ngx.var.connection), tls = ngx.var.https == "on",
    protocol = ngx.var.server_protocol, resumed = ngx.var.ssl_session_reused == "r",
    port = tonumber(ngx.var.server_port),
    client = ngx.var.ssl_client_verify == "SUCCESS" and ngx.var.ssl_client_s_dn or nil,
  }
  req.body = read_body()
  -- Long runs (bulk specs of 100 000 items) only count: records cost files.
  if ngx.shared.fake_state:get("no_record") then
    ngx.shared.fake_seq:incr("n", 1, 0)
  else
    record(req)
  end
  if not name then
    return common.send(404, { error = "not_found", message = "no fake provider at " .. path })
  end
  local vendor = vendors[name]
  behave.apply(name, vendor)
  return vendor.handle(req)
end

-- How many URIs the seeded faults let through to the vendor (behave.lua).
local function applied()
  local n = 0
  for _, k in ipairs(ngx.shared.fake_state:get_keys(0)) do
    if k:sub(1, 8) == "applied:" then n = n + 1 end
  end
  return n
end

-- The ledger's account (behave.lua): { [path] = applications } of every
-- item applied, and the drops (on reused connections apart).
local function ledger()
  local state, apps = ngx.shared.fake_state, {}
  for _, k in ipairs(state:get_keys(0)) do
    if k:sub(1, 5) == "apps:" then apps[k:sub(6)] = state:get(k) end
  end
  return { applications = apps, drops = state:get("drops") or 0, drops_reused = state:get("drops_reused") or 0 }
end

--- location /_control/: calls from the controller, never recorded.
function M.control()
  local action = ngx.var.uri:match("^/_control/(%w+)$")
  local text = { ["Content-Type"] = "text/plain" }
  if action == "ping" then
    return common.send(200, config.prefix, text) -- proves it is this instance
  elseif action == "behave" then
    local msg, err = serialize.decode(read_body())
    if type(msg) ~= "table" or type(msg.name) ~= "string" then
      return common.send(400, "bad behave message: " .. tostring(err), text)
    end
    behave.set(msg.name, msg.spec)
    return common.send(200, "ok", text)
  elseif action == "openapi" then
    local msg, err = serialize.decode(read_body())
    if type(msg) ~= "table" or type(msg.mount) ~= "string" then
      return common.send(400, "bad openapi message: " .. tostring(err), text)
    end
    vendors.openapi.configure(msg)
    return common.send(200, "ok", text)
  elseif action == "record" then
    ngx.shared.fake_state:set("no_record", read_body() == "off" or nil)
    return common.send(200, "ok", text)
  elseif action == "reset" then
    behave.reset()
    return common.send(200, "ok", text)
  elseif action == "ledger" then
    return common.send(200, serialize.encode(ledger()), text)
  elseif action == "stats" then
    return common.send(200, serialize.encode({
      requests = ngx.shared.fake_seq:get("n") or 0,
      tokens_issued = ngx.shared.fake_state:get("lexful:tokens_issued") or 0,
      applied = applied(),
    }), text)
  end
  return common.send(404, "unknown control action", text)
end

return M
