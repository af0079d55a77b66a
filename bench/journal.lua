-- A bulk run against a journal of N confirmed items (written by
-- bench/run.lua: the first 1 000 are this run's own items); prints the
-- peak resident set size (VmHWM, kB) and how many items were skipped.
-- A dry run: the journal is read and checked, nothing is sent.
package.path = "lua/?.lua;" .. package.path
package.cpath = (os.getenv("LUA_USERS_CPATH") or "build/5.4/?.so") .. ";" .. package.cpath
local users = require "users"
local core = require "users.core"

local path, base_url = arg[1], arg[2]
local t0 = core.now()
local i = 0
local report = users.bulk_update("generic", function()
  i = i + 1
  if i > 1000 then return nil end
  return { id = "usr_" .. i, fields = { role = "member" } }
end, { base_url = base_url, token = "bench-token", journal = path, dry_run = true })
local seconds = core.now() - t0
for line in io.lines("/proc/self/status") do
  local kb = line:match("^VmHWM:%s*(%d+) kB")
  if kb then print(kb, report.skipped, ("%.2f"):format(seconds)) end
end
