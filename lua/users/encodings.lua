--- Request body encodings: a name to its encoder. Each encoder takes the
-- compiled provider and the caller's fields and returns the body and its
-- content type, `"...", content_type` (or `segments, content_type, length`
-- when a file streams from disk: no table made for a request), or fails in the
-- module's one internal shape, `nil, message, code, problems`: code
-- "invalid" (problems is `{ field = { "message", ... } }`) or "empty" (an
-- update without fields). The C encoders keep their own returns (nil,
-- problems, reason); this file translates. Adding an encoding is one entry
-- here plus its C encoder.
local core = require "users.core"

local type, ipairs, pairs = type, ipairs, pairs
local concat, floor = table.concat, math.floor

local _M = {}

-- The C encoders' failure (problems, reason) in the internal shape.
local function failed(problems, reason)
  if reason == "empty" then return nil, "an update needs at least one field", "empty" end
  local n = 0
  for _ in pairs(problems or {}) do n = n + 1 end
  return nil, n == 1 and "invalid update: 1 field is not valid" or ("invalid update: " .. n .. " fields are not valid"),
         "invalid", problems or {}
end

-- JSON takes one pass in C: validation and encoding together.
function _M.json(c, fields)
  local body, problems, reason = core.marshal_json(c, fields)
  if not body then return failed(problems, reason) end
  return body, "application/json"
end

function _M.form(c, fields)
  local problems, reason = core.validate(c, fields)
  if problems or reason then return failed(problems, reason) end
  local body
  body, problems, reason = core.encode_form(c, fields)
  if not body then return failed(problems, reason) end
  return body, "application/x-www-form-urlencoded"
end

-- What core.encode_multipart gave: segments, length, content type, or
-- nil, problems, reason. The body streams when a segment is a file, else
-- it is one string.
local function multipart(segments, ...)
  if not segments then return failed(...) end
  local length, ctype = ...
  for _, s in ipairs(segments) do
    if type(s) ~= "string" then
      return segments, ctype, length
    end
  end
  return concat(segments), ctype
end

function _M.multipart(c, fields)
  local problems, reason = core.validate(c, fields)
  if problems or reason then return failed(problems, reason) end
  return multipart(core.encode_multipart(c, fields))
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function digit(n) return B64:sub(n + 1, n + 1) end

--- Base64 (RFC 4648), as HTTP's basic scheme writes a credential.
function _M.base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    out[#out + 1] = digit(floor(n / 262144)) .. digit(floor(n / 4096) % 64)
      .. (b and digit(floor(n / 64) % 64) or "=") .. (c and digit(n % 64) or "=")
  end
  return concat(out)
end

return _M
