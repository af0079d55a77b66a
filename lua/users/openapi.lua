--- Provider declarations compiled from a vendor's OpenAPI 3.0 or 3.1
-- document: `users.openapi` and the seed providers (a document shipped
-- beside their file, plus an overlay). The steps, one file each under
-- users/openapi/: read (YAML or JSON), context (errors, key order),
-- pointer ($ref), flatten and schema (JSON Schema into the declaration's
-- words), body, operation (lookup, servers, parameters), security,
-- overlay.
local core = require "users.core"
local errors = require "users.errors"
local read = require "users.openapi.read"
local context = require "users.openapi.context"
local operation = require "users.openapi.operation"
local body = require "users.openapi.body"
local security = require "users.openapi.security"
local overlay_of = require "users.openapi.overlay"
local registry = require "users.registry"

local _M = {}

local type, pcall, error, tostring, ipairs = type, pcall, error, tostring, ipairs

--- Reads an error body of a common shape: a `message` (or `detail`,
-- `error_description`, `title`, `error` as text or as `{ message }`) and
-- `errors` as a map of field names to messages. The `error` of a compiled
-- declaration unless its overlay gives one.
function _M.read_error(_, body_)
  local e = body_.error
  local message = body_.message or body_.detail or body_.error_description or body_.title
    or (type(e) == "string" and e) or (type(e) == "table" and e.message) or nil
  local fields = body_.errors
  if type(fields) ~= "table" or fields[1] ~= nil or next(fields) == nil then fields = nil end
  return { message = type(message) == "string" and message or nil, fields = fields }
end

-- A provider name from the document's title: "Paradigm API" -> "paradigm_api".
local function name_from(doc)
  local title = type(doc.info) == "table" and doc.info.title
  local name = type(title) == "string" and title:lower():gsub("[^%w]+", "_"):gsub("^[_%d]+", ""):gsub("_+$", "")
  if not name or name == "" then return "openapi" end
  return name:sub(1, 40)
end

local function build(doc, order, op_name, overlay)
  local ctx = context.new(doc, order)
  local op, path, method, item, at = operation.find(ctx, op_name)
  local params, template, required_headers = operation.params(ctx, op, item, path, at)
  local info = type(doc.info) == "table" and doc.info or {}
  local decl = {
    name = name_from(doc),
    title = type(info.title) == "string" and info.title or nil,
    method = method, path = template, params = params,
    idempotent = registry.IDEMPOTENT_METHODS[method] == true, -- by method, unless the overlay says
    base_url = operation.base_url(ctx, op, item),
    error = _M.read_error,
    source = { operation = method .. " " .. path, operation_id = op.operationId, pointer = at },
  }
  if #required_headers > 0 then decl.required_headers = required_headers end
  body.compile(ctx, decl, op, at)
  local basic
  decl.security, basic = security.compile(ctx, op, at)
  if basic then decl.options = { "username", "password" } end
  for _, e in ipairs(decl.encodings) do
    if e ~= "json" then decl.form_booleans = { "true", "false" } end
  end
  return overlay_of.apply(decl, overlay)
end

local function failed(name, message, pointer)
  local err = errors.config(name, "OpenAPI: " .. message .. (pointer and (" (at " .. pointer .. ")") or ""))
  err.pointer = pointer
  return err
end

--- The declaration for one operation of an OpenAPI document, as the
-- compiler writes it, before the C core has seen it; or nil and a config
-- error whose message (and `pointer`) names where in the document the
-- problem is. Raises on misuse (an overlay key that does not exist).
function _M.declaration(document, op_name, overlay)
  local problem = overlay_of.problem(overlay)
  if problem then error(problem, 2) end
  local name = overlay and overlay.name
  local doc, order = read.document(document)
  if doc == nil then return nil, failed(name, order) end
  local ok, decl = pcall(build, doc, order, op_name, overlay)
  if not ok then
    if context.is_failure(decl) then return nil, failed(name, decl.message, decl.pointer) end
    error(decl, 0)
  end
  return decl
end

--- `users.openapi`: the declaration, checked by the C core too (what it
-- refuses, a pattern PCRE2 cannot compile, is said now, not at the first
-- update); or nil and a config error.
function _M.compile(document, op_name, overlay)
  local decl, err = _M.declaration(document, op_name, overlay)
  if not decl then return nil, err end
  local ok, cerr = pcall(core.compile, decl)
  if not ok then return nil, failed(decl.name, tostring(cerr), decl.source.pointer) end
  return decl
end

--- Where a seed provider's document is: `users/providers/NAME/openapi.yaml`
-- beside the provider file that `require` finds (the first on package.path).
function _M.document_of(name)
  for template in package.path:gmatch("[^;]+") do
    local file = template:gsub("%?", "users/providers/" .. name)
    local f = file:match("%.lua$") and io.open(file, "r")
    if f then
      f:close()
      return (file:gsub("%.lua$", "/openapi.yaml"))
    end
  end
end

--- A seed provider's declaration: its document compiled with its overlay.
-- A failure raises: the module's own files must compile.
function _M.seed(op_name, overlay)
  local path = _M.document_of(overlay.name)
  if not path then error("no document for the provider " .. overlay.name .. " on package.path", 2) end
  local decl, err = _M.compile(path, op_name, overlay)
  if not decl then error(tostring(err), 2) end
  return decl
end

return _M
