-- Helpers shared by the fake vendors: responses, credentials, small validators.
local json = require "json"

local M = {}

M.TOKEN = "test-token"

-- An update applied (a 2xx) under the ledger behaviour (behave.lua):
-- counted for its item, its answer kept for its idempotency key; the first
-- application of an item the ledger picks loses its answer.
local function applied(ledger, status, body)
  local state = ngx.shared.fake_state
  local n = state:incr("apps:" .. ledger.path, 1, 0)
  if ledger.key then
    state:set("k:" .. ledger.key, require("serialize").encode({ status = status, body = body }))
  end
  local item = tonumber(ledger.path:match("(%d+)$"))
  if n == 1 and item and item % ledger.every == 0 then
    state:incr("drops", 1, 0)
    if tonumber(ngx.var.connection_requests) > 1 then state:incr("drops_reused", 1, 0) end
    return ngx.exit(444)
  end
end

--- Send a response and end the request. body: a table (sent as JSON) or a
--  raw string; headers may set Content-Type. Never returns.
function M.send(status, body, headers)
  headers = headers or {}
  if type(body) == "table" then
    body = json.encode(body)
  end
  body = body or ""
  local ledger = ngx.ctx.ledger
  if ledger and status >= 200 and status < 300 then applied(ledger, status, body) end
  ngx.status = status
  local ctype = "application/json"
  for k, v in pairs(headers) do
    if k:lower() == "content-type" then ctype = v end
  end
  ngx.header["Content-Type"] = ctype
  for k, v in pairs(ngx.ctx.extra_headers or {}) do ngx.header[k] = v end
  for k, v in pairs(headers) do
    if k:lower() ~= "content-type" then ngx.header[k] = v end
  end
  ngx.header["Content-Length"] = #body
  ngx.print(body)
  return ngx.exit(ngx.HTTP_OK)
end

--- A request header as one string (repeated headers joined with ", ").
function M.header(req, name)
  local v = req.headers[name:lower()]
  if type(v) == "table" then v = table.concat(v, ", ") end
  return v
end

--- The bearer token of the Authorization header, or nil.
function M.bearer(req)
  local auth = M.header(req, "authorization")
  return auth and auth:match("^%s*[Bb][Ee][Aa][Rr][Ee][Rr]%s+(%S+)%s*$")
end

--- The media type of the request, lower-cased, without parameters.
function M.media_type(req)
  local ct = M.header(req, "content-type")
  return ct and ct:lower():match("^%s*([^;%s]+)")
end

--- Decode a JSON body as the vendors' JSON parsers do. Returns value or nil, err.
function M.json_body(req)
  return json.decode(req.body)
end

function M.is_uuid(s)
  return type(s) == "string"
    and ngx.re.find(s, [[^[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}$]], "joi") ~= nil
end

-- The "email" format of ajv-formats, which the Fastify-based vendors use.
local ATOM = [[[a-z0-9!#$%&'*+/=?^_`{|}~-]+]]
local LABEL = [[[a-z0-9](?:[a-z0-9-]*[a-z0-9])?]]
local EMAIL = "^" .. ATOM .. [[(?:\.]] .. ATOM .. ")*@(?:" .. LABEL .. [[\.)+]] .. LABEL .. "$"

function M.is_email(s)
  return type(s) == "string" and ngx.re.find(s, EMAIL, "joi") ~= nil
end

--- Length in characters (UTF-8 code points), as vendors count maxLength.
function M.ulen(s)
  local _, n = s:gsub("[^\128-\191]", "")
  return n
end

function M.iso_now(millis)
  local now = ngx.now()
  local s = os.date("!%Y-%m-%dT%H:%M:%S", math.floor(now))
  if millis then s = s .. string.format(".%03d", math.floor(now * 1000) % 1000) end
  return s .. "Z"
end

function M.random_hex(n)
  local t = {}
  for i = 1, n do t[i] = string.format("%x", math.random(0, 15)) end
  return table.concat(t)
end

function M.uuid4()
  local h = M.random_hex(32)
  return h:sub(1, 8) .. "-" .. h:sub(9, 12) .. "-4" .. h:sub(14, 16) .. "-"
    .. ({ "8", "9", "a", "b" })[math.random(1, 4)] .. h:sub(18, 20) .. "-" .. h:sub(21, 32)
end

--- The JSON type name a validator reports for a decoded value.
function M.json_type(v)
  if v == json.null then return "null" end
  if json.is_array(v) then return "array" end
  local t = type(v)
  if t == "table" then return "object" end
  if t == "number" then return v == math.floor(v) and "integer" or "number" end
  return t
end

return M
