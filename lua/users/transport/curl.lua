--- The default transport: libcurl through the C core. One engine (a multi
-- handle with its connection cache and easy-handle pool) per Lua state, so
-- calls reuse kept-alive connections.
local core = require "users.core"

local _M = { name = "curl" }

local engine

function _M.engine()
  if not engine then engine = core.engine() end
  return engine
end

-- The "Name: value" lines of the last header map seen: the requests of a
-- bulk run share one map (users/client.lua keeps it), so they are made once.
local last_map, last_lines

--- A header map as the "Name: value" lines libcurl takes (the engine reads
-- everything else from the request itself).
function _M.lines(headers)
  if headers ~= last_map then
    local lines, n = {}, 0
    for name, value in pairs(headers) do
      n = n + 1
      lines[n] = name .. ": " .. value
    end
    table.sort(lines) -- a stable order on the wire
    last_map, last_lines = headers, lines
  end
  return last_lines
end

--- Sends a prepared request; `res` ({ status, protocol, headers, body, elapsed }) or
-- nil, message, code, sent for a transport failure (users/transport.lua).
function _M.send(req)
  return _M.engine():perform(req, _M.lines(req.headers))
end

--- A bulk session: its own engine, so the run opens at most `concurrency`
-- connections and reuses them all. start(req) -> handle; wait(timeout) ->
-- { { handle, res | nil, message, code, sent }, ... }.
function _M.session(concurrency)
  local e = core.engine { max_host_connections = concurrency }
  local s = {}
  function s.start(req) return e:add(req, _M.lines(req.headers)) end
  function s.wait(timeout)
    local out = {}
    for i, t in ipairs(e:wait(timeout)) do
      out[i] = { t, t:result() }
    end
    return out
  end
  function s.close() e:close() end
  return s
end

_M.sleep = core.sleep
_M.now = core.now

return _M
