-- Ours, as a process of its own for figure 7 (its CPU time is measured as
-- the peers' is): N updates of the benchmark's item through bulk_update,
-- C in flight.
--   LUA_USERS_CPATH=build/jit/?.so luajit bench/peers/ours.lua BASE N C [http_version] [ca_file]
-- OBSERVE=on: an on_event handler (that does nothing) and metrics (the
-- default); OBSERVE=off: neither (figure 14 compares the two).
package.path = "lua/?.lua;./?.lua;" .. package.path
package.cpath = (os.getenv("LUA_USERS_CPATH") or "build/jit/?.so") .. ";" .. package.cpath
local users = require "users"

local base, N, C = arg[1], tonumber(arg[2]), tonumber(arg[3])
local FIELDS = { email = "jane@example.com", role = "member" }
local list = {}
for i = 1, N do list[i] = { id = "usr_" .. i, fields = FIELDS } end
local observe = os.getenv("OBSERVE")
local report = users.bulk_update("generic", list, {
  base_url = base, token = "bench-token", concurrency = C, retries = 0,
  http_version = arg[4], ca_file = arg[5],
  on_event = observe == "on" and function() end or nil, metrics = observe ~= "off" })
assert(report.succeeded == N, report.succeeded .. " of " .. N)
