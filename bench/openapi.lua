-- make bench's figures of providers compiled from OpenAPI documents (called
-- by bench/run.lua; `lua5.4 bench/openapi.lua` prints them alone):
--   16 compile     each seed provider made from its vendor's document at
--                  first use (the file read, YAML, the compiler, the core's
--                  compile), vs 5 ms
--   17 compiled    validate + encode with the four compiled seed providers,
--                  vs the hand-written declarations they replaced
--                  (spec/fixtures/handwritten/), on the same updates
-- Each returns text, ratio, target, met, as bench/run.lua's figure() takes them.
local standalone = arg and arg[0] and arg[0]:match("bench/openapi%.lua$")
if standalone then
  package.path = "lua/?.lua;./?.lua;" .. package.path
  package.cpath = (os.getenv("LUA_USERS_CPATH") or "build/5.4/?.so") .. ";" .. package.cpath
end
local core = require "users.core"
local users = require "users"

local M = {}

local SEEDS = { "lancepilot", "lexful", "activepieces", "paradigm" }
local UUID = "5f0c2c1e-8f5d-4c8e-9d6a-0a1b2c3d4e5f"
local PNG = "\137PNG\r\n\26\n\0\0\0\rIHDR\0\0\0\1\0\0\0\1\8\6\0\0\0\31\21\196\137"

local function provider_file(name)
  for template in package.path:gmatch("[^;]+") do
    local file = template:gsub("%?", "users/providers/" .. name)
    local f = io.open(file, "r")
    if f then f:close() return file end
  end
  error("no provider file for " .. name)
end

-- CPU seconds of the best of `rounds` runs of f, `n` calls each.
local function best(rounds, n, f)
  local t = math.huge
  for _ = 1, rounds do
    local t0 = os.clock()
    for _ = 1, n do f() end
    t = math.min(t, (os.clock() - t0) / n)
  end
  return t
end

function M.compile()
  require "users.timezones" -- a module every run loads once, not the compiler's work
  local worst, parts = 0, {}
  for _, name in ipairs(SEEDS) do
    local file = provider_file(name)
    local t = best(5, 20, function() core.compile(dofile(file)) end)
    worst = math.max(worst, t)
    parts[#parts + 1] = ("%s %.2f ms"):format(name, t * 1000)
  end
  local ratio = worst / 0.005
  return "a seed provider from its document at first use: " .. table.concat(parts, ", "),
    ratio, "<= 1.0, slowest/5 ms", ratio <= 1.0
end

-- One update per seed provider, valid, its encoder.
local UPDATES = {
  lancepilot = { fields = { name = "Jane Doe", email = "jane@example.com", timezone = "Europe/Paris",
                            status = true, client = false, password = "secret1", confirm_password = "secret1",
                            avatar = users.blob(PNG, "a.png", "image/png") }, multipart = true },
  lexful = { fields = { email = "jane@example.com", first_name = "Jane", last_name = users.null, role = "admin",
                        account_scopes = { UUID, "*" }, organization_scopes = { "*" } } },
  activepieces = { fields = { status = "ACTIVE", platformRole = "MEMBER", externalId = "ext-1" } },
  paradigm = { fields = { workspaces = { 1, 2, 3 } } },
}

local function encoder(c, u)
  if u.multipart then
    return function()
      if core.validate(c, u.fields) then error("invalid") end
      return core.encode_multipart(c, u.fields)
    end
  end
  return function() if not core.marshal_json(c, u.fields) then error("invalid") end end
end

function M.marshal()
  local ours, theirs = 0, 0
  for _, name in ipairs(SEEDS) do
    local u = UPDATES[name]
    local compiled = require("users.registry").get(name).compiled
    local handwritten = core.compile(dofile("spec/fixtures/handwritten/" .. name .. ".lua"))
    local a, b = encoder(compiled, u), encoder(handwritten, u)
    local ta, tb = math.huge, math.huge
    for _ = 1, 30 do -- in turn, the best of each: a drifting clock slows both alike
      ta = math.min(ta, best(1, 2000, a))
      tb = math.min(tb, best(1, 2000, b))
    end
    ours, theirs = ours + ta, theirs + tb
  end
  local ratio = ours / theirs
  return ("validate + encode an update of each seed provider: compiled %.2f us, hand-written %.2f us"):format(
    ours * 1e6, theirs * 1e6), ratio, "<= 1.05, compiled/hand-written", ratio <= 1.05
end

if standalone then
  for i, f in ipairs { { "compile", M.compile }, { "compiled", M.marshal } } do
    local text, ratio, target, ok = f[2]()
    print(("%d %-13s %s\n  ratio %.3f  (target %s)  %s"):format(15 + i, f[1], text, ratio, target,
                                                                  ok and "met" or "MISSED"))
  end
end

return M
