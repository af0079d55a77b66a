-- Update a user on a generic REST API (PATCH /v1/users/{user_id}).
--   GENERIC_BASE_URL=https://api.example.com GENERIC_TOKEN=... lua5.4 examples/generic.lua usr_123
local users = require "users"

local id = arg[1] or error("usage: generic.lua USER_ID")
local user, err = users.update("generic", id, { email = "jane@example.com", role = "admin" })
if not user then
  -- One error shape: err.kind, err.code ("conflict", "not_found", ...), err.fields
  io.stderr:write("generic: ", tostring(err), "\n")
  os.exit(1)
end
print(("generic: %s <%s> is %s"):format(user.id, user.email, user.role))
