--- Request body encodings: a name to its encoder. Each encoder takes the
-- compiled provider and the caller's fields and returns the body
-- `{ body = "...", content_type = ... }` (or `{ segments = {...}, length = n,
-- content_type = ... }` when a file streams from disk), or nil, problems,
-- reason: the one shape every C encoder fails in (problems is
-- `{ field = { "message", ... } }`, reason "empty" for an update without
-- fields). Adding an encoding is one entry here plus its C encoder.
local core = require "users.core"

local type, ipairs = type, ipairs
local concat = table.concat

local _M = {}

-- JSON takes one pass in C: validation and encoding together.
function _M.json(c, fields)
  local body, problems, reason = core.marshal_json(c, fields)
  if not body then return nil, problems, reason end
  return { body = body, content_type = "application/json" }
end

function _M.form(c, fields)
  local problems, reason = core.validate(c, fields)
  if problems or reason then return nil, problems, reason end
  local body
  body, problems, reason = core.encode_form(c, fields)
  if not body then return nil, problems, reason end
  return { body = body, content_type = "application/x-www-form-urlencoded" }
end

-- What core.encode_multipart gave: segments, length, content type, or
-- nil, problems, reason (passed on as they came). The body streams when a
-- segment is a file, else it is one string.
local function multipart(segments, ...)
  if not segments then return nil, ... end
  local length, ctype = ...
  for _, s in ipairs(segments) do
    if type(s) ~= "string" then
      return { segments = segments, length = length, content_type = ctype }
    end
  end
  return { body = concat(segments), content_type = ctype }
end

function _M.multipart(c, fields)
  local problems, reason = core.validate(c, fields)
  if problems or reason then return nil, problems, reason end
  return multipart(core.encode_multipart(c, fields))
end

return _M
