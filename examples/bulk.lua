-- Many updates from Lua: users.bulk_update with an iterator (the input is
-- streamed), a journal (a rerun skips the updates already confirmed, in
-- whatever order they come), and a callback per result.
--   GENERIC_BASE_URL=https://api.example.com GENERIC_TOKEN=... lua5.4 examples/bulk.lua 500
-- From a shell, with a CSV file, the command does the same: lua-users bulk.
local users = require "users"

local n, i = tonumber(arg[1]) or 100, 0
local report = users.bulk_update("generic", function()
  i = i + 1
  if i > n then return nil end
  return { id = "usr_" .. i, fields = { role = "member" } }
end, {
  concurrency = 16, rate = 100, journal = "bulk-example.journal", total = n,
  on_result = function(item, _, err)
    if err then io.stderr:write(item.id, ": ", tostring(err), "\n") end
  end,
})
print(("%d items: %d succeeded, %d failed, %d skipped (journal), %d not attempted%s"):format(
  report.total, report.succeeded, report.failed, report.skipped, report.not_attempted,
  report.error and (" (" .. report.error .. ")") or ""))
os.exit((report.failed == 0 and report.not_attempted == 0) and 0 or 1) -- a number: Lua 5.1 takes no boolean
