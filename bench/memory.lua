-- One bulk run of N iterator items against URL; prints the process's peak
-- resident set size (VmHWM, in kB). Run by bench/run.lua in a child process.
package.path = "lua/?.lua;" .. package.path
package.cpath = (os.getenv("LUA_USERS_CPATH") or "build/5.4/?.so") .. ";" .. package.cpath
local users = require "users"

local n, url = tonumber(arg[1]), arg[2]
local i = 0
local report = users.bulk_update("generic", function()
  i = i + 1
  if i > n then return nil end
  return { id = "usr_" .. i, fields = { email = "user" .. i .. "@example.com", role = "member" } }
end, { base_url = url, token = "bench-token", concurrency = 50, retries = 0 })
assert(report.succeeded == n, "not every update succeeded")
for line in io.lines("/proc/self/status") do
  local kb = line:match("^VmHWM:%s*(%d+) kB")
  if kb then print(kb) end
end
