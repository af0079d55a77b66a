-- A bare loop over our libcurl engine: N requests prepared once, C in
-- flight, nothing validated, decoded or counted. What it takes is what the
-- server, the kernel and libcurl take: figure 2 times it in bench/run.lua,
-- figure 7 runs it as a process of its own for its CPU.
--   LUA_USERS_CPATH=build/jit/?.so luajit bench/peers/bare.lua BASE N C
local function bare(base, N, C)
  local users = require "users"
  local core = require "users.core"
  local req = users.prepare("generic", "usr_1", { email = "jane@example.com", role = "member" },
                            { base_url = base, token = "bench-token" })
  local lines = require("users.transport.curl").lines(req.headers)
  local e = core.engine { max_host_connections = C }
  local t0, sent, done = core.now(), 0, 0
  for _ = 1, C do e:add(req, lines); sent = sent + 1 end
  while done < N do
    for _, t in ipairs(e:wait()) do
      assert(t:result())
      done = done + 1
      if sent < N then e:add(req, lines); sent = sent + 1 end
    end
  end
  local took = core.now() - t0
  e:close()
  return took
end

if arg and arg[0] and arg[0]:match("bare%.lua$") then -- run as a script
  package.path = "lua/?.lua;./?.lua;" .. package.path
  package.cpath = (os.getenv("LUA_USERS_CPATH") or "build/jit/?.so") .. ";" .. package.cpath
  bare(arg[1], tonumber(arg[2]), tonumber(arg[3]))
end
return bare
