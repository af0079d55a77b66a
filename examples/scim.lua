-- Update a user over SCIM 2.0: Slack, GitHub Enterprise, AWS IAM Identity
-- Center and every other service with a SCIM /Users endpoint (README, "SCIM 2.0").
--   SCIM_BASE_URL=https://api.slack.com/scim/v2 SCIM_TOKEN=... lua5.4 examples/scim.lua USER_ID
-- The server's ServiceProviderConfig decides: a PATCH, or GET + PUT with If-Match.
local users = require "users"

local ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

local id = arg[1] or error("usage: scim.lua USER_ID")
local user, err = users.update("scim", id, {
  displayName = "Babs Jensen",
  name = { givenName = "Barbara" },          -- the other parts of the name are kept
  title = "Tour Lead",
  nickName = users.null,                     -- removed
  [ENTERPRISE] = { department = "Tour Operations" },
  -- never active = false on GitHub: it deletes the identity (README)
})
if not user then
  -- err.scim_type: the server's scimType ("uniqueness" is err.code "conflict")
  io.stderr:write("scim: ", tostring(err), "\n")
  os.exit(1)
end
if next(user) == nil then -- a 204: the server sends no user back
  print(("scim: %s updated"):format(id))
else
  print(("scim: %s is now %s, %s in %s"):format(user.userName, user.displayName, user.title,
                                                 (user[ENTERPRISE] or {}).department))
end
