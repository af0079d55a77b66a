-- Update a Lancepilot workspace member, with an avatar.
--   LANCEPILOT_TOKEN=... LANCEPILOT_WORKSPACE=<uuid> lua5.4 examples/lancepilot.lua 42 [avatar.png]
-- Lancepilot wants the whole profile: name, email, timezone and status.
local users = require "users"

local id = tonumber(arg[1]) or error("usage: lancepilot.lua USER_ID [AVATAR]")
local fields = {
  name = "Jane Doe",
  email = "jane@example.com",
  timezone = "Europe/Paris",    -- an exact IANA name
  status = true,                -- sent as "1"
  client = false,               -- sent as "0"
  avatar = arg[2] and users.file(arg[2]) or users.null, -- streamed from disk; null removes it
}

local user, err = users.update("lancepilot", id, fields, { retries = 2 })
if not user then
  io.stderr:write("lancepilot: ", tostring(err), "\n")
  os.exit(1)
end
print(("lancepilot: %s — %s <%s>, %s"):format(user.message, user.data.name, user.data.email,
                                               user.data.timezone))
