--- The one argument checker (Penlight's `utils.assert_arg` is the model):
-- misuse raises `bad argument #N to 'fname' (problem)` at the caller's
-- line, as Lua's own libraries do. A rule is a function of the value (and
-- a context) returning nil when the value may be used, else the problem in
-- words; positional arguments, options and a bulk run's options are all
-- checked with rules of that one shape.
local _M = {}

local type, pairs, tostring, error = type, pairs, tostring, error
local format = string.format

--- Raises the misuse of argument `n` of `fname`. `level` 1 blames the
-- caller of the function that calls `fail` (the public function's caller
-- when a public function calls it), 2 the one above, ...
function _M.fail(n, fname, problem, level)
  error(format("bad argument #%d to '%s' (%s)", n, fname, problem), (level or 1) + 2)
end

--- Checks argument `n` of `fname` with `rule`; returns the value.
function _M.arg(n, fname, v, rule, level)
  local problem = rule(v)
  if problem then _M.fail(n, fname, problem, (level or 1) + 1) end
  return v
end

--- A rule: the value's type is one of `types` (a string "string|number"),
-- else "<what> expected, got <type>".
function _M.is(types, what)
  local set = {}
  for t in types:gmatch("[^|]+") do set[t] = true end
  return function(v)
    if not set[type(v)] then return (what or types) .. " expected, got " .. type(v) end
  end
end

--- Checks an options table against `rules` (key -> rule(v, ctx, fname)):
-- nil is no options; an unknown key, or a value its rule refuses, raises.
function _M.options(n, fname, opts, rules, ctx, level)
  if opts == nil then return end
  level = (level or 1) + 1
  if type(opts) ~= "table" then _M.fail(n, fname, "table expected, got " .. type(opts), level) end
  for k, v in pairs(opts) do
    local rule = rules[k]
    if not rule then _M.fail(n, fname, "unknown option '" .. tostring(k) .. "'", level) end
    local problem = rule(v, ctx, fname)
    if problem then _M.fail(n, fname, "option '" .. k .. "' " .. problem, level) end
  end
end

---------------------------------------------------------------- rules

--- A number above `lo`, at most `hi` (a whole one if `integer`); NaN and
-- infinities never pass (a C cast of them is undefined).
function _M.number_in(lo, hi, integer)
  return function(v)
    if type(v) ~= "number" or v ~= v or v <= lo or v > hi or (integer and v % 1 ~= 0) then
      return format("must be a %s above %s and at most %s",
                    integer and "whole number" or "number", tostring(lo), tostring(hi))
    end
  end
end

--- A number from `lo` to `hi`, both included (a whole one if `integer`).
function _M.number_from(lo, hi, integer)
  local kind = integer and "whole number" or "number"
  local problem = hi == math.huge and format("must be a %s of at least %s", kind, tostring(lo))
    or format("must be a %s from %s to %s", kind, tostring(lo), tostring(hi))
  return function(v)
    if type(v) ~= "number" or not (v >= lo and v <= hi) or (integer and v % 1 ~= 0) then return problem end
  end
end

--- A value of Lua type `t`.
function _M.of(t)
  local problem = "must be a " .. t
  return function(v) if type(v) ~= t then return problem end end
end

--- One of the listed values (strings or booleans): `one_of("auto", "1.1")`.
function _M.one_of(...)
  local set, names = {}, {}
  for i, v in ipairs { ... } do
    set[v] = true
    names[i] = type(v) == "string" and ('"' .. v .. '"') or tostring(v)
  end
  local problem = "must be " .. (#names > 1 and (table.concat(names, ", ", 1, #names - 1) .. " or " .. names[#names])
                                   or names[1])
  return function(v) if not set[v] then return problem end end
end

return _M
