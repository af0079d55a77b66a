--- Request headers: one map per request, merged case-insensitively (a
-- caller's `authorization` replaces ours instead of travelling beside it,
-- RFC 9110 §5.1: field names are case-insensitive), and every value that
-- becomes a header is checked here, in one place.
local VERSION = require "users.version"

local type, pairs, tostring = type, pairs, tostring
local lower, find = string.lower, string.find

local _M = {}

_M.USER_AGENT = "lua-users/" .. VERSION

-- RFC 9110 §5.1 token characters.
local NAME = "^[%w!#$%%&'*+.^_`|~-]+$"

-- Framing is the transport's: a caller's value could only desynchronise a
-- kept-alive connection (RFC 9112 §6).
local FRAMING = { ["content-length"] = true, ["transfer-encoding"] = true,
                  connection = true, expect = true, te = true, upgrade = true }

--- What is wrong with a header, or nil when it may be sent.
function _M.problem(name, value)
  if type(name) ~= "string" or not name:match(NAME) then
    return "'" .. tostring(name) .. "' is not a header name"
  end
  if FRAMING[lower(name)] then return name .. " is set by the transport, not by a caller" end
  if type(value) ~= "string" then return name .. " must be a string" end
  if find(value, "[\r\n%z]") then return name .. " has CR, LF or NUL" end
  if not find(value, "%S") then return name .. " is empty" end
end

--- Sets name: value in the map h, replacing a header of the same name in
-- any case. Returns nil, or what is wrong.
function _M.set(h, name, value)
  local p = _M.problem(name, value)
  if p then return p end
  local key = lower(name)
  for k in pairs(h) do
    if k ~= name and lower(k) == key then h[k] = nil end
  end
  h[name] = value
end

--- The headers every request starts with: Accept, Content-Type and
-- User-Agent (opts.user_agent, or ours). Returns the map, or nil and what
-- is wrong with the user agent.
function _M.ours(content_type, user_agent)
  local h = { Accept = "application/json", ["Content-Type"] = content_type,
              ["User-Agent"] = _M.USER_AGENT }
  if user_agent then
    local p = _M.problem("User-Agent", user_agent)
    if p then return nil, "opts.user_agent: " .. p end
    h["User-Agent"] = user_agent
  end
  return h
end

--- A copy of a header map, to change: the requests of a run share theirs
-- (users/client.lua), which is never changed.
function _M.copy(h)
  local out = {}
  for k, v in pairs(h) do out[k] = v end
  return out
end

--- The value of a header in any case, or nil.
function _M.get(h, name)
  if h[name] then return h[name] end -- set() leaves one spelling of a name
  local key = lower(name)
  for k, v in pairs(h) do
    if lower(k) == key then return v end
  end
end

return _M
