--- The nginx side of make bench's figure 14 (bench/cosocket.conf.in):
--   GET /run?who=ours|transport|resty&n=N&c=C&base=URL
-- runs N PATCHes of the benchmark's item, C in flight, and answers
-- "<CPU microseconds a request> <answers that were 200 and JSON>":
--   ours       users.bulk_update (validation, the lifecycle, the report)
--   transport  our cosocket transport alone: requests made by users.prepare
--              before the clock, a session that keeps C in flight
--   resty      lua-resty-http, C light threads of request_uri, cjson for the
--              body both ways (what OpenResty users write)
-- The CPU is the process's (CLOCK_PROCESS_CPUTIME_ID: nginx runs without a
-- master, one process, and nothing else runs in it meanwhile).
local ffi = require "ffi"
local users = require "users"

local ngx = ngx -- luacheck: ignore 113
local _M = {}

ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } users_bench_timespec;
  int clock_gettime(int clock, users_bench_timespec *ts);
]]
local ts = ffi.new("users_bench_timespec")
local function cpu()
  ffi.C.clock_gettime(2, ts) -- CLOCK_PROCESS_CPUTIME_ID
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local FIELDS = { email = "jane@example.com", role = "member" }
local TOKEN = "bench-token"

local function ours(base, n, c)
  local list = {}
  for i = 1, n do list[i] = { id = "usr_" .. i, fields = FIELDS } end
  local t0 = cpu()
  local report = users.bulk_update("generic", list, { base_url = base, token = TOKEN, concurrency = c, retries = 0 })
  return cpu() - t0, report.succeeded
end

local function transport(base, n, c)
  local t = require "users.transport.nginx"
  local o = { base_url = base, token = TOKEN }
  local reqs = {}
  for i = 1, n do reqs[i] = assert(users.prepare("generic", "usr_" .. i, FIELDS, o)) end
  local t0 = cpu()
  local s = t.session(c)
  local sent, inflight, good = 0, 0, 0
  while sent < n or inflight > 0 do
    while inflight < c and sent < n do
      sent, inflight = sent + 1, inflight + 1
      s.start(reqs[sent])
    end
    for _, r in ipairs(s.wait()) do
      inflight = inflight - 1
      if r[2] and r[2].status == 200 then good = good + 1 end
    end
  end
  s.close()
  return cpu() - t0, good
end

local function resty(base, n, c)
  local http = require "resty.http"
  local cjson = require "cjson"
  local headers = { ["Content-Type"] = "application/json", Accept = "application/json",
                    Authorization = "Bearer " .. TOKEN, ["User-Agent"] = "bench" }
  local next_i, good = 0, 0
  local function worker()
    while next_i < n do
      next_i = next_i + 1
      local httpc = http.new()
      local res = httpc:request_uri(base .. "/v1/users/usr_" .. next_i,
        { method = "PATCH", body = cjson.encode(FIELDS), headers = headers })
      if res and res.status == 200 and type(cjson.decode(res.body)) == "table" then good = good + 1 end
    end
  end
  local t0 = cpu()
  local threads = {}
  for i = 1, c do threads[i] = ngx.thread.spawn(worker) end
  for i = 1, c do ngx.thread.wait(threads[i]) end
  return cpu() - t0, good
end

local RUN = { ours = ours, transport = transport, resty = resty }

function _M.run()
  local args = ngx.req.get_uri_args()
  local n, c = tonumber(args.n) or 20000, tonumber(args.c) or 50
  local took, good = RUN[args.who](args.base, n, c)
  ngx.say(("%.3f %d"):format(took / n * 1e6, good))
end

return _M
