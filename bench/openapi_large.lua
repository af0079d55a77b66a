--- A figure of make bench (bench/run.lua), also a script of its own:
--   LUA_USERS_CPATH=build/5.4/?.so lua5.4 bench/openapi_large.lua
-- A vendor's whole API (bench/data/SOURCES.md: GitHub's, 13 MB of JSON):
-- reading the file and compiling its user-update operation with
-- users.openapi, against lua-cjson reading and decoding the same file.
-- Rounds of each in turn, the best of each (CPU time): a machine that slows
-- during the run then slows both alike.
local M = {}

M.DATA = "bench/data/api.github.com.json.gz"
M.OPERATION = "users/update-authenticated" -- PATCH /user
M.TARGET = 2.0                             -- ours / cjson, at most

local function read(path)
  local f = assert(io.open(path, "rb"))
  local data = f:read("*a")
  f:close()
  return data
end

--- Seconds (CPU) for ours and for cjson, the document's size, the
-- declaration compiled.
function M.measure(rounds)
  local users = require "users"
  local cjson = require("cjson").new()
  local dir = assert(io.popen('mktemp -d "${TMPDIR:-/tmp}/lua-users-bench.XXXXXX"')):read("*l")
  local path = dir .. "/api.github.com.json" -- users.openapi reads a path by its extension
  assert(os.execute("gzip -dc " .. M.DATA .. " > " .. path), "cannot decompress " .. M.DATA)
  local size = #read(path)
  local ours, theirs, decl = math.huge, math.huge, nil
  for _ = 1, rounds or 5 do
    collectgarbage("collect")
    local t0 = os.clock()
    local doc = cjson.decode(read(path))
    theirs = math.min(theirs, os.clock() - t0)
    assert(doc.paths["/user"].patch)
    doc = nil -- luacheck: ignore 311 (let the collector have it before our round)
    collectgarbage("collect")
    t0 = os.clock()
    local err
    decl, err = users.openapi(path, M.OPERATION, { name = "github" })
    ours = math.min(ours, os.clock() - t0)
    if not decl then os.execute("rm -rf " .. dir) error(tostring(err), 0) end
  end
  os.execute("rm -rf " .. dir)
  return ours, theirs, size, decl
end

--- Prints the figure with bench/run.lua's `figure` (number n).
function M.run(figure, n)
  local ours, theirs, size, decl = M.measure(5)
  assert(decl.method == "PATCH" and decl.path == "/user", "not the user-update operation")
  local ratio = ours / theirs
  figure(n, "large doc", ("%.1f MB of JSON (GitHub's API), PATCH /user compiled: ours %.0f ms, "
    .. "cjson.decode alone %.0f ms"):format(size / 1e6, ours * 1e3, theirs * 1e3),
    ratio, "<= " .. M.TARGET .. ", ours/cjson", ratio <= M.TARGET)
end

if arg and arg[0] and arg[0]:match("openapi_large%.lua$") then -- run as a script
  package.path = "lua/?.lua;./?.lua;" .. package.path
  package.cpath = (os.getenv("LUA_USERS_CPATH") or "build/5.4/?.so") .. ";" .. package.cpath
  M.run(function(n, name, text, ratio, target, ok)
    print(("%d %-13s %s\n  ratio %.3f  (target %s)  %s"):format(n, name, text, ratio, target,
                                                               ok and "met" or "MISSED"))
  end, 18)
end

return M
