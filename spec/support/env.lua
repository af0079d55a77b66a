-- What the specs share: one fake provider server per spec file, and the
-- options that point each provider at it with valid credentials.
local fake = require "spec.support.fake_providers"

local M = {}

M.ACCOUNT = "11111111-1111-4111-8111-111111111111"
M.WORKSPACE = "22222222-2222-4222-8222-222222222222"
M.USER_UUID = "5f0c2c1e-8f5d-4c8e-9d6a-0a1b2c3d4e5f"
M.AP_ID = "abcdefghijABCDEFGHIJ1"

function M.start()
  M.fake = fake.start()
  return M.fake
end

function M.stop()
  if M.fake then M.fake:stop() end
  M.fake = nil
end

-- Options for provider `name` against the running fake (plus extra).
function M.opts(name, extra)
  local o = { base_url = M.fake:base_url(name), token = "test-token", timeout = 5 }
  if name == "lexful" then o.account_id = M.ACCOUNT end
  if name == "lancepilot" then o.workspace = M.WORKSPACE end
  if name == "activepieces" then o.token = "sk-test-token" end
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

-- A valid update and its id for each provider.
M.valid = {
  lancepilot = { id = 42, fields = { name = "Jane Doe", email = "jane@example.com",
                                    timezone = "Europe/Paris", status = true } },
  lexful = { id = M.USER_UUID, fields = { first_name = "Jane", role = "admin" } },
  generic = { id = "usr_123abc456def", fields = { email = "jane@example.com" } },
  activepieces = { id = M.AP_ID, fields = { status = "ACTIVE" } },
  paradigm = { id = 7, fields = { workspaces = { 1, 2 } } },
}

M.names = { "lancepilot", "lexful", "generic", "activepieces", "paradigm" }

-- A small valid PNG (1x1) written to a temporary file.
M.PNG = "\137PNG\r\n\26\n\0\0\0\rIHDR\0\0\0\1\0\0\0\1\8\6\0\0\0\31\21\196\137"
  .. "\0\0\0\rIDATx\218c\248\255\255?\0\5\254\2\254\167\53\129\132\0\0\0\0IEND\174B`\130"

function M.tmpfile(content)
  local path = os.tmpname()
  local f = assert(io.open(path, "wb"))
  f:write(content)
  f:close()
  return path
end


--- Waits on a transport session (users/transport.lua) until `n` results
-- came; returns them, { handle, res | nil, message, code, sent } each.
function M.drain(s, n)
  local rows = {}
  while #rows < n do
    for _, r in ipairs(s.wait(10)) do rows[#rows + 1] = r end
  end
  return rows
end

--- Output of a shell command (stdout and stderr).
M.sh = require("spec.support.proc").sh

-- read(path) -> contents | nil; write(path, text), raising on failure
M.read, M.write = fake.read_file, fake.write_file

--- Runs Lua code in a child interpreter that finds the module in the tree,
-- with `vars` ("NAME=value ...") in its environment; returns its output.
function M.run_lua(code, vars)
  local script = os.tmpname()
  M.write(script, 'package.path = "lua/?.lua;" .. package.path\n'
    .. 'package.cpath = os.getenv("LUA_USERS_CPATH") .. ";" .. package.cpath\n' .. code)
  local out = M.sh(("%s LUA_USERS_CPATH='%s' %s %s"):format(
    vars or "", package.cpath:match("^[^;]+"), M.lua_bin(), script))
  os.remove(script)
  return out
end

-- The interpreter running the specs, for child processes (LUA_USERS_LUA
-- names it when it is not a system one: make asan's).
function M.lua_bin()
  local own = os.getenv("LUA_USERS_LUA")
  if own and own ~= "" then return own end
  if jit then return "luajit" end
  return "lua" .. _VERSION:match("%d+%.%d+")
end

--- Whether `secret` appears anywhere in v: strings, keys, any depth.
function M.contains(v, secret, seen)
  seen = seen or {}
  if type(v) == "string" then return v:find(secret, 1, true) ~= nil end
  if type(v) ~= "table" or seen[v] then return false end
  seen[v] = true
  for k, x in pairs(v) do
    if M.contains(k, secret, seen) or M.contains(x, secret, seen) then return true end
  end
  return false
end

return M
