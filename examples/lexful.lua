-- Update a Lexful user.
--   LEXFUL_ACCOUNT_ID=<uuid> LEXFUL_TOKEN=<jwt> lua5.4 examples/lexful.lua <user uuid>
-- or, instead of a token, LEXFUL_KEY_ID and LEXFUL_KEY_SECRET: the client
-- fetches the JWT itself and refreshes it before it expires.
local users = require "users"

local id = arg[1] or error("usage: lexful.lua USER_UUID")
local user, err = users.update("lexful", id, {
  first_name = "Jane",
  last_name = users.null,      -- JSON null clears it
  role = "viewer",
  account_scopes = {},         -- sent as [], never {}
  organization_scopes = { "*" },
})
if not user then
  io.stderr:write("lexful: ", tostring(err), "\n")
  os.exit(1)
end
print(("lexful: %s is now %s (%d account scopes)"):format(user.email, user.role, #user.account_scopes))
