--- `lua-users update PROVIDER ID field=value ...`: one users.update, its
-- user printed as JSON; or, with --dry-run, the request users.prepare makes.
local core = require "users.core"
local users = require "users"
local args = require "users.cli.args"
local config = require "users.cli.config"
local convert = require "users.cli.convert"
local help = require "users.cli.help"
local hints = require "users.cli.hints"
local request = require "users.cli.request"

local _M = {}

local ipairs, pairs, type, next = ipairs, pairs, type, next

local out, err_out = io.stdout, io.stderr

local function spec()
  local s = {
    ["--help"] = { "flag" }, ["-h"] = { "flag", key = "help" },
    ["--json"] = { "string" },
    ["--base-url"] = { "string" },
    ["--retries"] = { "number", integer = true, min = 0, max = 100 },
    ["--rate"] = { "number", above = 0 },
    ["--timeout"] = { "number", above = 0, max = 86400 },
    ["--http"] = { "choice", choices = { "auto", "1.1", "h2c" } },
    ["--dry-run"] = { "flag" },
    ["--verbose"] = { "flag" }, ["-v"] = { "flag", key = "verbose" },
  }
  for k, v in pairs(config.SPEC) do s[k] = v end
  return s
end

-- The fields of field=value words (pos[3] on) and --json: a name that is a
-- path parameter taken from an option (workspace=...) goes into parts.
local function fields_of(d, pos, json)
  local params, fields, parts = {}, {}, nil
  for _, p in ipairs(d.params) do params[p.name] = p end
  local function put(name, value)
    if fields[name] ~= nil then args.fail("the field " .. name .. " is given twice", { usage = "update" }) end
    fields[name] = value
  end
  for i = 3, #pos do
    local name, text = pos[i]:match("^([^=]+)=(.*)$")
    if not name then args.fail(("'%s' is not field=value"):format(pos[i]), { usage = "update" }) end
    if params[name] and params[name].option then
      parts = parts or {}
      parts[name] = text
    elseif text ~= "" then
      put(name, convert.field(d.fields[name], text))
    end
  end
  if json then
    local obj, msg = core.json_decode(json)
    if type(obj) ~= "table" or obj[1] ~= nil then
      args.fail("--json needs a JSON object of fields" .. (msg and (": " .. msg) or ""), { usage = "update" })
    end
    for k, v in pairs(obj) do
      local rule = d.fields[k]
      if rule and rule.type == "file" and type(v) == "string" then v = users.file(v) end
      put(k, v)
    end
  end
  return fields, parts
end

-- The id and fields of `update`: ID, then field=value words, then --json.
local function item(d, pos, json)
  local id_param = convert.params(d)
  local id = pos[2]
  if id == nil then args.fail("which user? give the id after the provider", { usage = "update" }) end
  if id_param and id_param.type == "integer" then id = convert.exact_integer(id) or id end
  local fields, parts = fields_of(d, pos, json)
  if next(fields) == nil then
    args.fail("no field to update: give field=value (see lua-users describe " .. d.name .. ")", { usage = "update" })
  end
  if parts then
    for _, p in ipairs(d.params) do if not p.option then parts[p.name] = id end end
    id = parts
  end
  return id, fields
end

local function failed(e)
  err_out:write("lua-users: ", hints.error_text(e), "\n")
  return e.kind == "config" and 2 or 1
end

--- Runs `update` with argv; returns the exit code.
function _M.run(argv)
  local o, pos = args.parse(argv, 2, spec(), "update")
  if o.help then
    out:write(help.update)
    return 0
  end
  local d = config.provider(pos[1], "update")
  local id, fields = item(d, pos, o.json)
  local opts = config.options(o, d)
  local resolved = config.check(d.name, opts, function(name) return type(id) == "table" and id[name] ~= nil end)
  if o.dry_run then
    opts.fetch_token = false
    local req, e = users.prepare(d.name, id, fields, opts)
    if not req then return failed(e) end
    out:write(request.full(req, request.secret(d, resolved)), "\n(dry run: nothing was sent)\n")
    return 0
  end
  if o.verbose then
    opts.on_event = request.on_event(function(line) err_out:write(line, "\n") end)
  end
  local user, e = users.update(d.name, id, fields, opts)
  if user == nil then return failed(e) end
  out:write(core.json_encode(user), "\n")
  return 0
end

return _M
