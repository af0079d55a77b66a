--- A Redis that lies, for the budget specs: it answers AUTH, SELECT and
-- anything else "+OK", and every script (EVALSHA, EVAL) with the one raw
-- reply it is given (":-5000000000000": a wait of 58 days), or, given
-- "silent", never answers a script at all (a store that hangs). A LuaSocket
-- server in a child interpreter, on a free port, under spec.support.proc's
-- guard: it never outlives its tests.
--
--   local liar = require("spec.support.hostile_redis").start(":-5000000000000")
--   liar.url   liar:stop()
local proc = require "spec.support.proc"

local M = {}

local SERVER = [[
local socket = require "socket"
local port, reply = tonumber(arg[1]), arg[2]
local server = assert(socket.bind("127.0.0.1", port))
while true do
  local c = server:accept()
  c:settimeout(10)
  while true do
    local head = c:receive("*l")
    if not head then break end
    local n, words = tonumber(head:match("^%*(%d+)")) or 0, {}
    for i = 1, n do
      c:receive("*l") -- $length
      words[i] = c:receive("*l")
    end
    local cmd = (words[1] or ""):upper()
    local script = cmd == "EVALSHA" or cmd == "EVAL"
    if not (script and reply == "silent") then c:send((script and reply or "+OK") .. "\r\n") end
  end
  c:close()
end
]]

local Liar = {}
Liar.__index = Liar

function Liar:stop()
  if self.handle then self.handle:close() end
  self.handle = nil
  proc.sh("rm -rf " .. proc.q(self.dir))
end

--- A lying Redis answering every script with `reply` (RESP, without CRLF).
function M.start(reply, lua_bin)
  local dir = proc.sh('mktemp -d "${TMPDIR:-/tmp}/lua-users-liar.XXXXXX"'):gsub("%s+$", "")
  local script = dir .. "/liar.lua"
  local f = assert(io.open(script, "w"))
  f:write(SERVER)
  f:close()
  local port = proc.free_port()
  local self = setmetatable({ dir = dir, port = port, url = ("redis://127.0.0.1:%d/0"):format(port) }, Liar)
  self.handle = proc.guarded(dir, proc.q(lua_bin) .. " " .. proc.q(script) .. " " .. port .. " " .. proc.q(reply),
                             false)
  for _ = 1, 100 do -- until it listens
    if proc.sh("redis-cli -h 127.0.0.1 -p " .. port .. " ping 2>&1"):match("OK") then return self end
    proc.sh("sleep 0.05")
  end
  self:stop()
  error("the lying Redis did not start: " .. (proc.read(dir .. "/stdout.log") or "no log"), 2)
end

return M
