--- Prism (@stoplight/prism-cli), the OpenAPI validator the specs trust
-- instead of our own code: `prism mock --errors` on a document, on a free
-- port of 127.0.0.1, under spec.support.proc's guard (so Prism never
-- outlives its tests), ready once it says it listens. Prism takes seconds
-- to start: a document's Prism starts once per process and is shared.
--
--   local prism = require "spec.support.prism"
--   prism.start_all({ doc1, doc2 })       -- side by side; waits for each
--   local p = prism.get(doc1)             -- the running one (started if not)
--   p.url                                 -- "http://127.0.0.1:PORT"
--   prism.request_violations(res)         -- what Prism found wrong in the
--                                         -- request it answered with res
--   prism.stop_all()
--
-- The prism command: $LUA_USERS_PRISM, else what scripts/prism.sh installs
-- (and prints). Prism that cannot be installed or started is an error,
-- never a skip.
local proc = require "spec.support.proc"
local cjson = require "cjson.safe"

local M = {}
local q, sh = proc.q, proc.sh

-- How long a Prism may take to say it listens: generous, as only a start
-- that never ends reaches it (a loaded machine, valgrind beside it).
M.START_TIMEOUT = 180

local ROOT = (function()
  local dir = debug.getinfo(1, "S").source:match("^@(.*)/spec/support/[^/]*$")
  if not dir or dir == "" then dir = "." end
  return dir
end)()

local command -- the prism command, found once

--- The prism command's path (installs Prism on first use).
function M.command()
  if command then return command end
  command = os.getenv("LUA_USERS_PRISM")
  if not command or command == "" then
    local out = sh("sh " .. q(ROOT .. "/scripts/prism.sh"))
    command = out:match("([^\n]*/prism)%s*$")
    if not command then error("Prism could not be installed (scripts/prism.sh):\n" .. out, 2) end
  end
  return command
end

local Server = {}
Server.__index = Server

local running = {} -- document path -> Server

local function launch(document)
  local dir = sh('mktemp -d "${TMPDIR:-/tmp}/lua-users-prism.XXXXXX"'):gsub("%s+$", "")
  local self = setmetatable({ document = document, dir = dir, port = proc.free_port() }, Server)
  self.url = "http://127.0.0.1:" .. self.port
  self.handle = proc.guarded(dir, q(M.command()) .. " mock --errors -h 127.0.0.1 -p " .. self.port
    .. " " .. q(document), true)
  return self
end

--- Prism's own output so far.
function Server:log()
  return proc.read(self.dir .. "/stdout.log") or ""
end

-- "up", "busy" (its port was taken: start again on another), or nil and why.
function Server:wait(deadline)
  local ready = "Prism is listening on " .. self.url
  while true do
    local log = self:log()
    if log:find(ready, 1, true) then return "up" end
    if log:find("EADDRINUSE", 1, true) then return "busy" end
    if log:find("fatal", 1, true) or log:find("Error:", 1, true) then return nil, log end
    if os.time() > deadline then
      return nil, "no 'listening' after " .. M.START_TIMEOUT .. " s:\n" .. log
    end
    sh("sleep 0.1")
  end
end

--- Stops this Prism; returns once it has exited (its temp dir removed).
function Server:stop()
  if self.handle then
    self.handle:close()
    self.handle = nil
  end
  if running[self.document] == self then running[self.document] = nil end
end

--- Starts a Prism for each document not running yet, all at once, and
-- waits until each listens. Raises, naming the document, if one cannot.
function M.start_all(documents)
  local pending, seen = {}, {}
  for _, doc in ipairs(documents) do
    if not running[doc] and not seen[doc] then
      seen[doc] = true
      pending[#pending + 1] = launch(doc)
    end
  end
  for _, s in ipairs(pending) do
    local state, why
    for _ = 1, 5 do
      state, why = s:wait(os.time() + M.START_TIMEOUT)
      if state ~= "busy" then break end
      s:stop()
      s = launch(s.document)
    end
    if state ~= "up" then
      s:stop()
      for _, other in ipairs(pending) do other:stop() end
      error("Prism did not start on " .. s.document .. ": " .. tostring(why or "its port stayed taken"), 2)
    end
    running[s.document] = s
  end
end

--- The running Prism of a document, started if it is not.
function M.get(document)
  if not running[document] then M.start_all({ document }) end
  return running[document]
end

--- Stops every Prism this process started.
function M.stop_all()
  for _, s in pairs(running) do s:stop() end
end

--- What Prism found wrong in the request it answered with `res` (a
-- transport's response: headers with lower-case names), as a list of
-- { at = "body.nick", message = "..." }; empty when it accepted it. Prism
-- says it in its sl-violations header (--errors), or, where the document
-- has no answer for an invalid request, in a 422 problem+json body.
-- Violations of Prism's own mocked answer are not the request's.
function M.request_violations(res)
  local found = {}
  local function add(location, message, first)
    if type(location) ~= "table" or location[1] == "response" then return end
    found[#found + 1] = { at = table.concat(location, ".", first), message = tostring(message) }
  end
  local header = cjson.decode(res.headers["sl-violations"] or "[]")
  for _, v in ipairs(type(header) == "table" and header or {}) do
    if type(v.location) == "table" and v.location[1] == "request" then add(v.location, v.message, 2) end
  end
  if res.status == 422 and (res.headers["content-type"] or ""):find("problem+json", 1, true) then
    local body = cjson.decode(res.body or "")
    for _, v in ipairs(type(body) == "table" and type(body.validation) == "table" and body.validation or {}) do
      add(v.location, v.message, 1)
    end
  end
  return found
end

--- nil when Prism accepted the request it answered with `res`, else why
-- not. `known`: { ["body.field"] = "words of the message" }, violations
-- that are expected (a known Prism defect, a server convention the
-- document does not say), each with its reason in the caller's words.
-- Prism's own mocked answer may break its document (it says so in a 500
-- whose violations are all of the response): no fault of the request. Any
-- other non-2xx (no such path or method, a media type it does not take)
-- is.
function M.verdict(res, known)
  local found, left = M.request_violations(res), {}
  for _, v in ipairs(found) do
    local words = known and known[v.at]
    if not (words and v.message:find(words, 1, true)) then left[#left + 1] = v.at .. ": " .. v.message end
  end
  if #left > 0 then return table.concat(left, "\n") end
  if #found > 0 and res.status == 422 then return nil end -- only what was expected
  if res.status >= 200 and res.status < 300 then return nil end
  if res.status == 500 and res.headers["sl-violations"] then return nil end
  return "Prism answered " .. tostring(res.status) .. ": " .. tostring(res.body)
end

-- Every Prism stops when this module is collected or the Lua state closes
-- (busted ends with os.exit(code, true)).
if newproxy then -- Lua 5.1 and LuaJIT: only userdata have __gc
  M._sentinel = newproxy(true)
  getmetatable(M._sentinel).__gc = function() pcall(M.stop_all) end
else
  M._sentinel = setmetatable({}, { __gc = function() pcall(M.stop_all) end })
end

return M
