--- What the specs' own servers (spec.support.nginx_host, .redis_server)
-- share: shell quoting, a command's output, a file's bytes, and a command
-- run under a small sh guard fed through a popen pipe. When the pipe closes
-- (stop(), the end of the test process, a crash) the guard stops the
-- command and waits for it, so a server never outlives its tests.
local M = {}

--- s quoted for sh.
function M.q(s) return "'" .. tostring(s):gsub("'", [['\'']]) .. "'" end

--- Output of a shell command (stdout and stderr).
function M.sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("*a")
  p:close()
  return out
end

--- A file's bytes, or nil.
function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local data = f:read("*a")
  f:close()
  return data
end

--- A TCP port of 20000-49999 that nothing on this machine uses now
-- (/proc/net/tcp{,6}), drawn from /dev/urandom so that the caller's
-- math.random is left alone. A start on it may still find it taken: retry.
function M.free_port()
  local used = {}
  for _, file in ipairs { "/proc/net/tcp", "/proc/net/tcp6" } do
    for hex in (M.read(file) or ""):gmatch("\n%s*%d+: %x+:(%x+)") do used[tonumber(hex, 16)] = true end
  end
  local r = assert(io.open("/dev/urandom", "rb"))
  while true do
    local a, b = r:read(2):byte(1, 2)
    local port = 20000 + (a * 256 + b) % 30000
    if not used[port] then r:close() return port end
  end
end

-- Run as: sh -c GUARD sh DIR keep|rm COMMAND...; the command's output goes
-- to DIR/stdout.log, and "rm" removes DIR once it has exited.
local GUARD = [[
dir=$1; then_rm=$2; shift 2
"$@" >"$dir/stdout.log" 2>&1 &
pid=$!
cat >/dev/null
kill -TERM $pid 2>/dev/null
wait $pid 2>/dev/null # a command stopped by TERM is no news: no "Terminated" line
if [ "$then_rm" = rm ]; then rm -rf "$dir"; fi
]]

--- Starts `command` (already quoted for sh) under the guard; returns the
-- pipe whose close stops it (and removes dir when remove is true).
function M.guarded(dir, command, remove)
  return assert(io.popen("sh -c " .. M.q(GUARD) .. " sh " .. M.q(dir) .. " " .. (remove and "rm" or "keep")
    .. " " .. command, "w"))
end

return M
