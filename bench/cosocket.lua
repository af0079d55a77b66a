-- Figure 14 of make bench, also runnable alone:
--   LUA_RESTY_HTTP=DIR lua5.4 bench/cosocket.lua BASE
-- BASE: the benchmark server's /fast/ (bench/nginx.conf.in). Starts one nginx
-- worker (bench/cosocket.conf.in) that runs 20 000 PATCHes, 50 in flight,
-- through ours (bulk_update), our cosocket transport alone, and
-- lua-resty-http, three rounds each, and prints the median CPU a request of
-- each: "ours US transport US resty US". lua-resty-http's lib/ is found in
-- LUA_RESTY_HTTP, else in ../shared/peers/lua-resty-http/lib beside the
-- checkout (never copied into the project).
package.path = "lua/?.lua;./?.lua;" .. package.path
local proc = require "spec.support.proc"
local sh, q = proc.sh, proc.q

local M = {}

local function resty_http()
  for _, d in ipairs { os.getenv("LUA_RESTY_HTTP") or "", "../shared/peers/lua-resty-http/lib",
                       "../../shared/peers/lua-resty-http/lib" } do
    if d ~= "" and proc.read(d .. "/resty/http.lua") then return (sh("cd " .. q(d) .. " && pwd"):gsub("%s+$", "")) end
  end
  error("lua-resty-http not found: set LUA_RESTY_HTTP to its lib/ directory", 0)
end

local function median(list)
  table.sort(list)
  return list[math.floor((#list + 1) / 2)]
end

--- Runs the figure against `base`; returns the median CPU microseconds a
-- request of ours, of the transport alone, and of lua-resty-http.
function M.measure(base, n, c, rounds)
  n, c, rounds = n or 20000, c or 50, rounds or 3
  local dir = sh('mktemp -d "${TMPDIR:-/tmp}/lua-users-cosocket.XXXXXX"'):gsub("%s+$", "")
  for _, d in ipairs { "body", "proxy", "fastcgi", "uwsgi", "scgi" } do os.execute("mkdir -p " .. q(dir .. "/" .. d)) end
  assert(os.execute("make -s LUA=jit >/dev/null"), "make LUA=jit failed")
  local root = sh("pwd"):gsub("%s+$", "")
  local handle, url
  for _ = 1, 10 do
    local port = 20000 + math.random(0, 12000)
    local conf = proc.read("bench/cosocket.conf.in"):gsub("@DIR@", dir):gsub("@PORT@", port):gsub("@ROOT@", root)
      :gsub("@RESTY_HTTP@", resty_http()):gsub("@USER@", sh("id -u"):match("^0%s") and "user root;" or "")
    local f = assert(io.open(dir .. "/cosocket.conf", "w"))
    f:write(conf)
    f:close()
    handle = proc.guarded(dir, "nginx -p " .. q(dir) .. " -c " .. q(dir .. "/cosocket.conf"), false)
    url = "http://127.0.0.1:" .. port .. "/run"
    for _ = 1, 50 do
      if sh("curl -s -o /dev/null -w '%{http_code}' '" .. url .. "?who=none'") == "500" then break end
      sh("sleep 0.05")
    end
    if not (proc.read(dir .. "/cosocket-error.log") or ""):find("Address already in use", 1, true) then break end
    handle:close()
    handle = nil
  end
  local function run(who, count)
    local out = sh(("curl -s '%s?who=%s&n=%d&c=%d&base=%s'"):format(url, who, count, c, base))
    local us, good = out:match("^([%d.]+) (%d+)")
    if tonumber(good) ~= count then
      error(("%s: %s\n%s"):format(who, out, proc.read(dir .. "/cosocket-error.log") or ""), 0)
    end
    return tonumber(us)
  end
  local ok, result = pcall(function()
    local got = { ours = {}, transport = {}, resty = {} }
    for _, who in ipairs { "ours", "transport", "resty" } do run(who, 2000) end -- warm: code, connections
    for _ = 1, rounds do
      for _, who in ipairs { "ours", "transport", "resty" } do table.insert(got[who], run(who, n)) end
    end
    return { median(got.ours), median(got.transport), median(got.resty) }
  end)
  if handle then handle:close() end
  os.execute("rm -rf " .. q(dir))
  if not ok then error(result, 0) end
  return result[1], result[2], result[3]
end

if arg and arg[0] and arg[0]:match("cosocket%.lua$") then
  local o, t, r = M.measure(arg[1], tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4]))
  print(("ours %.1f transport %.1f resty %.1f"):format(o, t, r))
end

return M
