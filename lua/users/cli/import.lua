--- `lua-users import DOCUMENT OPERATION [--name NAME]`: a provider file
-- compiled from an operation of a vendor's OpenAPI document, printed on
-- stdout; and `--openapi DOCUMENT --operation OP [--name NAME]` on
-- describe, update and bulk, which compiles the operation in place of a
-- provider name.
local users = require "users"
local args = require "users.cli.args"

local _M = {}

local type, pairs, ipairs, tostring = type, pairs, ipairs, tostring
local concat, sort, format = table.concat, table.sort, string.format

_M.USAGE = "usage: lua-users import DOCUMENT OPERATION [--name NAME]"

_M.HELP = _M.USAGE .. [[


Compiles one operation of a vendor's OpenAPI 3.0 or 3.1 document (a .yaml,
.yml or .json file) into a provider file, printed on stdout. OPERATION is
the operation's operationId, or 'METHOD /path' as the document writes it.
Save the file as NAME.lua in ~/.config/lua-users/providers/ (or in a
directory of LUA_USERS_PROVIDERS, separated by ':'): NAME is then a
provider like the built-in ones, for describe, update and bulk, and for
require "users" in Lua. Edit it to add what the document does not say.

Without a file: describe, update and bulk take --openapi DOCUMENT
--operation OP [--name NAME] in place of the provider's name.

options:
  --name NAME   the provider's name (default: from the document's title);
                its credentials come from NAME_TOKEN, NAME_BASE_URL, ...
  -h, --help    this text

exit codes:
  0    printed
  2    usage error, or a document the compiler cannot read (the message
       names the JSON pointer of the problem)
]]

-- Keys in the order a provider file lists them.
local ORDER = { "name", "title", "method", "idempotent", "idempotency_key", "base_url", "path", "params", "encodings", "content_types",
                "form_booleans", "options", "headers", "required_headers", "security", "additional_fields",
                "fields", "source" }
local RANK = {}
for i, k in ipairs(ORDER) do RANK[k] = i end

local function is_list(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

local function key_text(k)
  if type(k) == "string" and k:match("^[%a_][%w_]*$") then return k end
  return "[" .. format("%q", k) .. "]"
end

local serialize

local function scalar(v)
  if type(v) == "string" then return (format("%q", v):gsub("\\\n", "\\n")) end
  if type(v) == "number" then
    if v ~= v then error("NaN cannot be written", 0) end
    if v == math.huge or v == -math.huge then return v > 0 and "math.huge" or "-math.huge" end
    if v % 1 == 0 and v > -2 ^ 53 and v < 2 ^ 53 then return format("%d", v) end
    return format("%.17g", v)
  end
  if v == users.null then return "require(\"users\").null" end
  return tostring(v)
end

-- A field or a schema on one line when it is short, else one key a line.
serialize = function(v, indent)
  if type(v) ~= "table" then return scalar(v) end
  local keys, parts = {}, {}
  for k in pairs(v) do keys[#keys + 1] = k end
  sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta == "number" end
    if ta == "number" then return a < b end
    local ra, rb = RANK[a] or 100, RANK[b] or 100
    if ra ~= rb then return ra < rb end
    return a < b
  end)
  local list = is_list(v)
  for _, k in ipairs(keys) do
    local text = serialize(v[k], indent .. "  ")
    parts[#parts + 1] = (list or type(k) == "number" and k <= #v) and text or (key_text(k) .. " = " .. text)
  end
  local one = "{ " .. concat(parts, ", ") .. " }"
  if #parts == 0 then return "{}" end
  if #one + #indent <= 100 and not one:find("\n", 1, true) then return one end
  return "{\n" .. indent .. "  " .. concat(parts, ",\n" .. indent .. "  ") .. ",\n" .. indent .. "}"
end

--- The provider file's text for a compiled declaration.
function _M.provider_file(decl, document, operation)
  local d = {}
  for k, v in pairs(decl) do if k ~= "error" then d[k] = v end end
  local body = serialize(d, "")
  body = body:sub(1, -2) .. "  -- the error body's message and field errors, read the common ways\n"
    .. "  error = require(\"users.openapi\").read_error,\n}"
  return concat({
    format("-- %s: %s %s, compiled by `lua-users import` from %s (operation %s).",
           decl.name, decl.method, decl.source and decl.source.operation:match("%S+$") or decl.path,
           tostring(document), tostring(operation)),
    format("-- Save it as %s.lua in ~/.config/lua-users/providers/ (or a directory of", decl.name),
    "-- LUA_USERS_PROVIDERS): the provider's rules as the document gives them; add",
    "-- what the document does not say (lua/users/providers/README.md).",
    "return " .. body, "",
  }, "\n")
end

local function compile(document, operation, name)
  local decl, err = users.openapi(document, operation, name and { name = name } or nil)
  if not decl then args.fail(err.message) end
  return decl
end

--- `lua-users import`: prints the provider file; returns the exit code.
function _M.run(argv)
  local spec = { ["--help"] = { "flag" }, ["-h"] = { "flag", key = "help" }, ["--name"] = { "string" } }
  local o, pos = args.parse(argv, 2, spec, "import")
  if o.help then io.stdout:write(_M.HELP) return 0 end
  if #pos ~= 2 then args.fail("import takes a document and an operation", { usage = "import" }) end
  if o.name and not o.name:match("^[%l][%l%d_]*$") then
    args.fail("--name must be lower case letters, digits and _ (got '" .. o.name .. "')", { usage = "import" })
  end
  io.stdout:write(_M.provider_file(compile(pos[1], pos[2], o.name), pos[1], pos[2]))
  return 0
end

--- describe, update and bulk with `--openapi DOCUMENT --operation OP
-- [--name NAME]`: the operation compiled and registered, its name put in
-- the provider's place. Other commands' arguments are returned as they are.
function _M.openapi_args(argv)
  local cmd = argv[1]
  if cmd ~= "describe" and cmd ~= "update" and cmd ~= "bulk" then return argv end
  local rest, found = { cmd }, {}
  local i = 2
  while argv[i] ~= nil do
    local a = argv[i]
    local flag, inline = a:match("^(%-%-[%a]+)=(.*)$")
    flag = flag or a
    if a == "--" then -- the rest is positional
      for j = i, #argv do rest[#rest + 1] = argv[j] end
      break
    elseif flag == "--openapi" or flag == "--operation" or flag == "--name" then
      local v = inline
      if v == nil then i = i + 1; v = argv[i] end
      if v == nil then args.fail(flag .. " needs a value", { usage = cmd }) end
      found[flag:sub(3)] = v
    else
      rest[#rest + 1] = a
    end
    i = i + 1
  end
  if not (found.openapi or found.operation or found.name) then return argv end
  if not (found.openapi and found.operation) then
    args.fail("--openapi DOCUMENT and --operation OP go together", { usage = cmd })
  end
  local decl = compile(found.openapi, found.operation, found.name)
  decl.replace = true
  users.register(decl)
  table.insert(rest, 2, decl.name)
  return rest
end

return _M
