--- Command-line arguments: long options (`--name value`, `--name=value`),
-- flags, `--` to end the options, and positional arguments. A mistake
-- raises a usage error (users.cli.fail) that names the option.
local suggest = require "users.suggest"

local _M = {}

local tonumber, ipairs, pairs, error, setmetatable, getmetatable = tonumber, ipairs, pairs, error, setmetatable, getmetatable
local floor = math.floor

--- A usage or configuration error: the command prints its message (one
-- line) and, for usage errors, the usage; it exits with `code` (2).
local Failure = {}
Failure.__index = Failure
Failure.__tostring = function(f) return f.message end
_M.Failure = Failure

function _M.fail(message, opts)
  opts = opts or {}
  error(setmetatable({ message = message, code = opts.code or 2, usage = opts.usage }, Failure), 0)
end

function _M.is_failure(e) return getmetatable(e) == Failure end

-- Checks of option values: the value, or nil and what is wrong.
local kinds = {}

function kinds.string(v) return v end

function kinds.number(v, o)
  local n = tonumber(v)
  if not n or n ~= n or n == math.huge or n == -math.huge then return nil, "needs a number" end
  if o.integer and n ~= floor(n) then return nil, "needs a whole number" end
  if o.min and n < o.min or o.above and n <= o.above or o.max and n > o.max then
    local range
    if o.above then range = "above " .. o.above
    elseif o.max then range = "from " .. o.min .. " to " .. o.max
    else range = "of at least " .. o.min end
    return nil, ("needs a %s %s"):format(o.integer and "whole number" or "number", range)
  end
  return math.tointeger and math.tointeger(n) or n
end

function kinds.choice(v, o)
  for _, c in ipairs(o.choices) do if v == c then return v end end
  return nil, "is one of: " .. table.concat(o.choices, ", ")
end

--- Parses argv from position `first` against `spec`:
--   { ["--concurrency"] = { "number", integer = true, min = 1 },
--     ["--dry-run"] = { "flag" }, ["-h"] = { "flag", key = "help" }, ... }
-- Keys in the result drop the dashes ("dry_run"), or use spec.key.
-- Returns options, positionals. `usage` names the subcommand for errors.
function _M.parse(argv, first, spec, usage)
  local opts, positionals, i = {}, {}, first
  local names = {}
  for name in pairs(spec) do names[#names + 1] = name end
  table.sort(names)
  local function key(name, s) return s.key or name:gsub("^%-+", ""):gsub("%-", "_") end
  local only_positionals = false
  while argv[i] ~= nil do
    local a = argv[i]
    if only_positionals or a == "-" or a:sub(1, 1) ~= "-" then
      positionals[#positionals + 1] = a
    elseif a == "--" then
      only_positionals = true
    else
      local name, inline = a:match("^(%-%-[^=]+)=(.*)$")
      name = name or a
      local s = spec[name]
      if not s then
        local hint = suggest.closest(name, names)
        _M.fail("unknown option " .. name .. (hint and (" (did you mean " .. hint .. "?)") or ""), { usage = usage })
      end
      if s[1] == "flag" then
        if inline then _M.fail(name .. " takes no value", { usage = usage }) end
        opts[key(name, s)] = true
      else
        local v = inline
        if v == nil then
          i = i + 1
          v = argv[i]
          if v == nil then _M.fail(name .. " needs a value", { usage = usage }) end
        end
        local value, problem = kinds[s[1]](v, s)
        if value == nil then _M.fail(("%s %s (got '%s')"):format(name, problem, v), { usage = usage }) end
        local k = key(name, s)
        if s.many then
          opts[k] = opts[k] or {}
          opts[k][#opts[k] + 1] = value
        else
          opts[k] = value
        end
      end
    end
    i = i + 1
  end
  return opts, positionals
end

--- A word quoted for sh when it needs it: for commands printed to be run.
function _M.quote(word)
  word = tostring(word)
  if word ~= "" and not word:find("[^%w%-%._/:=@+,]") then return word end
  return "'" .. word:gsub("'", [['\'']]) .. "'"
end

return _M
