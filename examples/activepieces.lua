-- Deactivate an Activepieces platform user, or change its role.
--   ACTIVEPIECES_TOKEN=sk-... lua5.4 examples/activepieces.lua <21-character id>
-- Activepieces drops unknown fields silently; here a typo is an error.
local users = require "users"

local id = arg[1] or error("usage: activepieces.lua USER_ID")
local user, err = users.update("activepieces", id, { platformRole = "MEMBER", externalId = "hr-4711" })
if not user then
  io.stderr:write("activepieces: ", tostring(err), "\n")
  os.exit(1)
end
print(("activepieces: %s %s is %s, %s"):format(user.firstName, user.lastName, user.platformRole, user.status))
