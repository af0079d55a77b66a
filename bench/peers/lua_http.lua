-- The lua-http peer of figure 7 (Debian's lua-http and lua-cqueues):
-- N PATCHes of the benchmark's update, C coroutines, each on one kept-alive
-- HTTP/1.1 connection of its own, the answer read whole.
--   luajit bench/peers/lua_http.lua http://127.0.0.1:PORT/fast N C
local cqueues = require "cqueues"
local client = require "http.client"
local new_headers = require("http.headers").new

local base, N, C = arg[1], tonumber(arg[2]), tonumber(arg[3])
local host, port, prefix = base:match("^http://([^:/]+):(%d+)(.*)$")
local BODY = '{"email":"jane@example.com","role":"member"}'

local q = cqueues.new()
local next_id, done = 0, 0
for _ = 1, C do
  q:wrap(function()
    local conn = assert(client.connect { host = host, port = tonumber(port), tls = false, version = 1.1 })
    while next_id < N do
      next_id = next_id + 1
      local h = new_headers()
      h:append(":method", "PATCH")
      h:append(":scheme", "http")
      h:append(":authority", host .. ":" .. port)
      h:append(":path", prefix .. "/v1/users/usr_" .. next_id)
      h:append("content-type", "application/json")
      h:append("accept", "application/json")
      h:append("authorization", "Bearer bench-token")
      h:append("content-length", tostring(#BODY))
      local stream = assert(conn:new_stream())
      assert(stream:write_headers(h, false))
      assert(stream:write_chunk(BODY, true))
      local got = assert(stream:get_headers())
      assert(got:get(":status") == "200", got:get(":status"))
      assert(stream:get_body_as_string())
      done = done + 1
    end
    conn:close()
  end)
end
assert(q:loop())
assert(done == N, done .. " of " .. N)
