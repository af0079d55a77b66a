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
  local body, field, msg = core.encode_form(c, fields)
  if not body then return nil, { [field] = { msg } } end
  return { body = body, content_type = "application/x-www-form-urlencoded" }
end

function _M.multipart(c, fields)
  local problems, reason = core.validate(c, fields)
  if problems or reason then return nil, problems, reason end
  local segments, length, ctype = core.encode_multipart(c, fields)
  if not segments then return nil, { [length] = { ctype } } end
  for _, s in ipairs(segments) do
    if type(s) ~= "string" then
      return { segments = segments, length = length, content_type = ctype }
    end
  end
  return { body = concat(segments), content_type = ctype }
end

return _M
