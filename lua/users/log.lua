--- Where the module's warnings go: nginx's error log inside nginx, stderr
-- elsewhere. Replace `warn` to send them elsewhere.
local _M = {}

local rawget = rawget

function _M.warn(message)
  local ngx = rawget(_G, "ngx")
  if ngx and ngx.log and ngx.WARN then
    ngx.log(ngx.WARN, "lua-users: ", message)
  else
    io.stderr:write("lua-users: ", message, "\n")
  end
end

return _M
