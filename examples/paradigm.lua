-- Replace the workspaces of a Paradigm company member.
--   PARADIGM_TOKEN=... lua5.4 examples/paradigm.lua 42 3 5 8
-- The list replaces the whole membership: no workspace ids removes them all.
local users = require "users"

local id = tonumber(arg[1]) or error("usage: paradigm.lua USER_ID [WORKSPACE_ID ...]")
local workspaces = {}
for i = 2, #arg do workspaces[#workspaces + 1] = tonumber(arg[i]) end

local user, err = users.update("paradigm", id, { workspaces = workspaces })
if not user then
  io.stderr:write("paradigm: ", tostring(err), "\n")
  os.exit(1)
end
local names = {}
for _, g in ipairs(user.groups) do names[#names + 1] = g.name end
print(("paradigm: %s is in %d workspace(s): %s"):format(user.username, #names, table.concat(names, ", ")))
