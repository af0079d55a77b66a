-- A bare loop over our libcurl engine, as a process of its own for figure 7:
-- N requests prepared once, C in flight, nothing validated, decoded or
-- counted. Its CPU is what any client on libcurl's multi interface pays.
--   LUA_USERS_CPATH=build/jit/?.so luajit bench/peers/bare.lua BASE N C
package.path = "lua/?.lua;./?.lua;" .. package.path
package.cpath = (os.getenv("LUA_USERS_CPATH") or "build/jit/?.so") .. ";" .. package.cpath
local users = require "users"
local core = require "users.core"

local base, N, C = arg[1], tonumber(arg[2]), tonumber(arg[3])
local req = users.prepare("generic", "usr_1", { email = "jane@example.com", role = "member" },
                          { base_url = base, token = "bench-token" })
local lines = require("users.transport.curl").lines(req.headers)
local e = core.engine { max_host_connections = C }
local sent, done = 0, 0
for _ = 1, C do e:add(req, lines); sent = sent + 1 end
while done < N do
  for _, t in ipairs(e:wait()) do
    assert(t:result())
    done = done + 1
    if sent < N then e:add(req, lines); sent = sent + 1 end
  end
end
e:close()
