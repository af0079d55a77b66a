--- Where an account's budget lives: the `budget` option read, and the
-- store it names, made once per Lua state (a store holds its connections).
--   "local" (the default)        this Lua state            users/budget/local.lua
--   { shared_dict = "NAME" }     every worker of one nginx users/budget/shdict.lua
--   "redis://HOST:PORT[/DB]"     every host                 users/budget/redis.lua
-- Each follows the store contract written in users/budget.lua.
local account = require "users.account"
local LOCAL = require "users.budget.local"

local _M = {}

local type, pairs, tostring, tonumber, rawget, require = type, pairs, tostring, tonumber, rawget, require
local format = string.format

local SHAPE = 'must be "local", { shared_dict = "NAME" } or "redis://HOST:PORT[/DB]"'
_M.LOCAL_SPEC = { kind = "local", id = "local", tokens = true }

local function parse_redis(text)
  local rest = text:match("^redis://(.+)$")
  if not rest then return nil end
  local query
  rest, query = rest:match("^([^?]*)%??(.*)$")
  -- user information up to the last @; its %XX decoded (RFC 3986: a password
  -- holding @, ? or / is written %40, %3F, %2F)
  local password, hostport = rest:match("^:?(.*)@([^@]*)$")
  if not hostport then hostport = rest end
  password = password and password:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
  local authority, path = hostport:match("^([^/]+)(.*)$")
  if not authority then return nil end
  local host, port = authority:match("^%[([%x:]+)%]:?(%d*)$")
  if not host then host, port = authority:match("^([%w%.%-]+):?(%d*)$") end
  if not host then return nil end
  port = port == "" and 6379 or tonumber(port)
  if not port or port < 1 or port > 65535 then return nil end
  local db = 0
  if path ~= "" and path ~= "/" then
    db = tonumber(path:match("^/(%d+)$"))
    if not db then return nil end
  end
  local tokens = true
  for k, v in query:gmatch("([^&=]+)=([^&]*)") do
    if k == "tokens" and (v == "local" or v == "shared") then tokens = v == "shared"
    else return nil end
  end
  local url = format("redis://%s:%d/%d", authority:match("^%[") and "[" .. host .. "]" or host, port, db)
  return { kind = "redis", host = host, port = port, db = db, url = url, tokens = tokens,
           password = password ~= "" and password or nil,
           id = url .. (password and ("#" .. password) or "") }
end

-- The stores made, by spec id, and the specs of the option strings read
-- (an option string always names the same store: nothing goes stale; a
-- program that makes up URLs empties the second past 64).
local stores, by_text, n_text = {}, {}, 0

--- The budget option read: a spec `{ kind, id, tokens, ... }`, or nil and
-- what is wrong with it.
function _M.parse(v)
  if v == nil or v == "local" then return _M.LOCAL_SPEC end
  if type(v) == "string" then
    local spec = by_text[v]
    if spec then return spec end
    spec = parse_redis(v)
    if not spec then return nil, SHAPE end
    if n_text >= 64 then by_text, n_text = {}, 0 end
    by_text[v], n_text = spec, n_text + 1
    return spec
  end
  if type(v) ~= "table" then return nil, SHAPE end
  for k in pairs(v) do
    if k ~= "shared_dict" and k ~= "tokens" then return nil, "has an unknown key '" .. tostring(k) .. "'" end
  end
  if type(v.shared_dict) ~= "string" or v.shared_dict == "" then return nil, SHAPE end
  if v.tokens ~= nil and v.tokens ~= "local" and v.tokens ~= "shared" then
    return nil, 'has tokens = "local" or "shared"'
  end
  return { kind = "shared_dict", name = v.shared_dict, id = "shared_dict:" .. v.shared_dict,
           tokens = v.tokens ~= "local" }
end

--- What is wrong with a budget option, or nil. `fname` is the function it
-- was given to: the store must exist where it is used (not in prepare,
-- which ignores it).
function _M.problem(v, fname)
  local spec, problem = _M.parse(v)
  if not spec then return problem end
  if spec.kind == "shared_dict" and fname ~= "prepare" then
    local ngx = rawget(_G, "ngx")
    if not (ngx and ngx.shared) then return "{ shared_dict = ... } works inside nginx only" end
    if not ngx.shared[spec.name] then
      return "names a shared dict that nginx.conf does not declare (lua_shared_dict " .. spec.name .. " 1m;)"
    end
  end
end

--- The store of a spec, or nil and why it cannot be had.
function _M.store(spec)
  if spec.kind == "local" then return LOCAL end
  local store = stores[spec.id]
  if store then return store end
  if not account.sha1 then
    return nil, "a shared budget needs SHA-1 to name accounts: install lua-luaossl"
  end
  local err
  if spec.kind == "shared_dict" then
    store, err = require("users.budget.shdict").new(spec.name)
  else
    store, err = require("users.budget.redis").new(spec, account.sha1)
  end
  if store then stores[spec.id] = store end
  return store, err
end

return _M
