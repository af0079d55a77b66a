--- A real Redis for the specs: Debian's redis-server on 127.0.0.1, a random
-- free port, its own temp dir, nothing saved. It runs under
-- spec.support.proc's guard, so Redis never outlives its tests.
--
--   local redis = require("spec.support.redis_server").start()
--   redis.url  -- "redis://127.0.0.1:PORT/0"
--   redis:cli("DBSIZE")  redis:stop()  redis:start()  (again, same port)
local M = {}

local Server = {}
Server.__index = Server

local proc = require "spec.support.proc"
local q, sh = proc.q, proc.sh

--- Whether Redis answers PING.
function Server:ping()
  return sh("redis-cli -h 127.0.0.1 -p " .. self.port .. " ping"):match("PONG") ~= nil
end

--- A redis-cli command's output.
function Server:cli(args)
  return (sh("redis-cli -h 127.0.0.1 -p " .. self.port .. " " .. args):gsub("%s+$", ""))
end

--- Starts (or starts again) Redis on its port; waits until it answers.
function Server:start()
  if self.handle then return self end
  -- the dir stays: a Redis stopped may be started again on it (close() removes it)
  self.handle = proc.guarded(self.dir, "redis-server"
    .. " --bind 127.0.0.1 --port " .. self.port .. " --dir " .. q(self.dir)
    .. " --save '' --appendonly no --daemonize no --protected-mode no --loglevel warning", false)
  for _ = 1, 100 do
    if self:ping() then return self end
    sh("sleep 0.05")
  end
  local log = io.open(self.dir .. "/stdout.log")
  error("redis-server did not start: " .. (log and log:read("*a") or "no log"), 2)
end

--- Stops Redis (its data is gone); returns once it has exited.
function Server:stop()
  if not self.handle then return end
  self.handle:close()
  self.handle = nil
end

--- Stops Redis for good and removes its dir.
function Server:close()
  self:stop()
  if self.dir then sh("rm -rf " .. q(self.dir)) end
  self.dir = nil
end

--- A running Redis: { port, url, dir }.
function M.start()
  local dir = sh('mktemp -d "${TMPDIR:-/tmp}/lua-users-redis.XXXXXX"'):gsub("%s+$", "")
  local self = setmetatable({ dir = dir }, Server)
  for _ = 1, 5 do
    self.port = proc.free_port()
    self.url = "redis://127.0.0.1:" .. self.port .. "/0"
    local ok = pcall(self.start, self)
    if ok then break end
    self:stop()
  end
  if not self.handle then self:close() error("redis-server did not start", 2) end
  if newproxy then -- Lua 5.1 and LuaJIT: only userdata have __gc
    self._sentinel = newproxy(true)
    getmetatable(self._sentinel).__gc = function() pcall(Server.close, self) end
  else
    self._sentinel = setmetatable({}, { __gc = function() pcall(Server.close, self) end })
  end
  return self
end

return M
