--- nginx hosts for the specs, configured by examples/nginx/ (the C core
-- built for LuaJIT, `make LUA=jit`): any number of workers, environment
-- variables for the handler, and extra server-block lines. Each runs under
-- spec.support.proc's guard, so it never outlives its tests.
--
--   local host = require("spec.support.nginx_host").start {
--     workers = 4, env = { USERS_RATE = 20 }, server = "location /x { ... }",
--     trusted_ca = "ca.crt" }
--   host.base  host:curl(args)  host:error_log()  host:stop()
local M = {}

local Host = {}
Host.__index = Host

local proc = require "spec.support.proc"
local q, sh, read = proc.q, proc.sh, proc.read

local built = false

--- Its error log.
function Host:error_log() return read(self.dir .. "/logs/error.log") or "" end

--- Stops nginx (and removes its dir); returns once it has exited.
function Host:stop()
  if self.handle then self.handle:close() end
  self.handle = nil
end

--- Starts nginx with examples/nginx/nginx.conf: opts.workers (default 1),
-- opts.env (variables for nginx, named by `env` in the conf), opts.server
-- (lines added to the server block), opts.trusted_ca (the CA file that TLS
-- to providers is verified with, instead of the system's), opts.port (the
-- port to try first; another when it is taken). Returns a Host: base, dir, port.
function M.start(opts)
  opts = opts or {}
  if not built then
    assert(os.execute("make -s LUA=jit >/dev/null"))
    built = true
  end
  local root = sh("pwd"):gsub("%s+$", "")
  local first_port = opts.port
  local template = assert(read("examples/nginx/nginx.conf"))
  for _ = 1, 10 do
    local dir = sh('mktemp -d "${TMPDIR:-/tmp}/lua-users-nginx.XXXXXX"'):gsub("%s+$", "")
    assert(os.execute("mkdir -p " .. q(dir .. "/logs") .. " " .. q(dir .. "/temp")))
    -- a port nothing listens on now (another start may still take it first:
    -- then nginx says so and the loop tries another); opts.port: the first try
    local port = first_port or proc.free_port()
    first_port = nil
    local conf = template:gsub("@ROOT@", root):gsub("@PORT@", tostring(port))
      :gsub("worker_processes 1;", "worker_processes " .. (opts.workers or 1) .. ";")
      -- several workers: the kernel spreads the connections over them
      -- (without it, one busy worker may accept them all)
      :gsub("listen 127%.0%.0%.1:(%d+);", (opts.workers or 1) > 1 and "listen 127.0.0.1:%1 reuseport;" or "%0")
    if opts.trusted_ca then
      conf = conf:gsub("lua_ssl_trusted_certificate [^;]*;", function()
        return "lua_ssl_trusted_certificate " .. opts.trusted_ca .. ";"
      end)
    end
    if opts.server then
      conf = conf:gsub("(location /users/)", function(l) return opts.server .. "\n        " .. l end, 1)
    end
    -- As root, nginx's workers would run as nobody, who may not read the
    -- checkout (under /root, say): keep them root for the test.
    if sh("id -u"):match("^0%s") then conf = "user root;\n" .. conf end
    local f = assert(io.open(dir .. "/nginx.conf", "w"))
    f:write(conf)
    f:close()
    local vars = {}
    for k, v in pairs(opts.env or {}) do vars[#vars + 1] = k .. "=" .. q(v) end
    local self = setmetatable({ dir = dir, port = port, base = "http://127.0.0.1:" .. port }, Host)
    self.handle = proc.guarded(dir, "env " .. table.concat(vars, " ")
      .. " nginx -p " .. q(dir) .. " -c " .. q(dir .. "/nginx.conf"), true)
    for _ = 1, 100 do
      -- nginx writes its pid file once it holds its port: until then a 404
      -- may come from another server on that port
      if read(dir .. "/logs/nginx.pid")
        and sh("curl -s --noproxy '*' -o /dev/null -w '%{http_code}' " .. self.base .. "/users/nope/1") == "404" then
        return self
      end
      if (read(dir .. "/logs/error.log") or ""):find("[emerg]", 1, true) then break end
      sh("sleep 0.05")
    end
    local log = self:error_log()
    self:stop()
    if not log:find("Address already in use", 1, true) then error("nginx did not start:\n" .. log, 2) end
  end
  error("nginx: no free port found", 2)
end

return M
