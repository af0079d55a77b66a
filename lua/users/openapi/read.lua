--- Reading an OpenAPI document: a file (.yaml, .yml, .json), YAML or JSON
-- text, or a table already decoded. YAML goes through libyaml
-- (core.yaml_decode), JSON through the core's JSON decoder, each in its
-- ordered mode. Returns the document and, when it was text, the order of
-- each mapping's keys: the wire order of a body's properties follows the
-- document's (a table has none: its keys go sorted).
local core = require "users.core"

local _M = {}

local type, tostring = type, tostring

-- The largest document read from a file or a string (a vendor's whole API
-- is a few MB; a bound keeps a wrong path from reading a disk image).
_M.MAX_BYTES = 64 * 1024 * 1024

local function read_file(path)
  local f, why = io.open(path, "rb")
  if not f then return nil, "cannot open the document: " .. tostring(why) end
  local size = f:seek("end")
  if not size or size > _M.MAX_BYTES then
    f:close()
    return nil, ("the document %s is larger than %d bytes"):format(path, _M.MAX_BYTES)
  end
  f:seek("set", 0)
  local text = f:read("*a")
  f:close()
  if not text then return nil, "cannot read the document " .. path end
  return text
end

local function is_path(s)
  return not s:find("[\r\n]") and (s:lower():match("%.ya?ml$") or s:lower():match("%.json$")) ~= nil
end

local function decode_yaml(text)
  local doc, order = core.yaml_decode(text, true)
  if doc == nil then return nil, order end
  return doc, order
end

-- Text that starts with { or [ is JSON, unless JSON cannot read it and
-- YAML's flow style can ({openapi: 3.1.0, ...}).
local function decode_text(text)
  if text:match("^%s*[{%[]") then
    local doc, order = core.json_decode(text, true)
    if doc ~= nil then return doc, order end
    local ydoc, yorder = decode_yaml(text)
    if ydoc ~= nil then return ydoc, yorder end
    return nil, order -- JSON's message
  end
  return decode_yaml(text)
end

--- The document, its key order (or nil), and a name for it in messages;
-- or nil and a message.
function _M.document(document)
  if type(document) == "table" then return document, nil, "(a table)" end
  if type(document) ~= "string" then
    return nil, "the document must be a path, YAML or JSON text, or a table"
  end
  if #document > _M.MAX_BYTES then
    return nil, ("the document is larger than %d bytes"):format(_M.MAX_BYTES)
  end
  if is_path(document) then
    local text, err = read_file(document)
    if not text then return nil, err end
    local doc, order
    if document:lower():match("%.json$") then
      doc, order = core.json_decode(text, true)
    else
      doc, order = decode_yaml(text)
    end
    if doc == nil then return nil, document .. ": " .. tostring(order) end
    return doc, order, document
  end
  local doc, order = decode_text(document)
  if doc == nil then return nil, "cannot read the document: " .. tostring(order) end
  return doc, order, "(text)"
end

return _M
