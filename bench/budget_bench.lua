--- The nginx side of make bench's budget figures (bench/budget.conf.in).
local users = require "users"
local budget = require "users.budget"
local registry = require "users.registry"

local ngx = ngx -- luacheck: ignore 113
local _M = {}

local port
local FIELDS = { email = "jane@example.com", role = "member" }

local function store(name)
  if name == "dict" then return { shared_dict = "users_budget" } end
  if name == "redis" then return os.getenv("REDIS_URL") end
  return "local"
end

--- GET /seq?store=&n=: microseconds per users.update, one after another.
function _M.seq()
  local n = tonumber(ngx.var.arg_n) or 1000
  local o = { base_url = "http://127.0.0.1:" .. port .. "/fast", token = "bench-token",
              rate = 1e6, budget = store(ngx.var.arg_store) }
  for i = 1, 100 do assert(users.update("generic", "usr_" .. i, FIELDS, o)) end
  ngx.update_time()
  local t0 = ngx.now()
  for i = 1, n do
    local user, err = users.update("generic", "usr_" .. i, FIELDS, o)
    if not user then return ngx.say("error ", tostring(err)) end
  end
  ngx.update_time()
  ngx.say(("%.3f"):format((ngx.now() - t0) / n * 1e6))
end

--- GET /ping?n=: microseconds per Redis PING through resty.redis, one
-- after another on a kept connection: the round trip a decision rides on.
function _M.ping()
  local ok, redis = pcall(require, "resty.redis")
  if not ok then redis = require "nginx.redis" end
  local url = os.getenv("REDIS_URL")
  local host, p = url:match("^redis://([^:/]+):(%d+)")
  local n = tonumber(ngx.var.arg_n) or 1000
  local red = redis:new()
  assert(red:connect(host, tonumber(p)))
  for _ = 1, 100 do red:ping() end
  ngx.update_time()
  local t0 = ngx.now()
  for _ = 1, n do red:ping() end
  ngx.update_time()
  ngx.say(("%.3f"):format((ngx.now() - t0) / n * 1e6))
  red:set_keepalive()
end

-- Each worker polls for a job; a job is every worker (or the first alone:
-- `workers` 1) taking slots from one budget for `secs` seconds with
-- `threads` light threads.
local function run_job(gen, job)
  local entry = registry.get("generic")
  local o = { base_url = "http://bench.invalid/rate" .. gen, token = "bench-token",
              rate = job.rate, budget = store(job.store) }
  local count, stop = 0, ngx.now() + job.secs
  -- A slot as users.update takes one (users/lifecycle.lua): take it, wait
  -- for it, and go unless a 429 elsewhere voided it meanwhile.
  local function slot(g)
    while true do
      local wait = g:take(10)
      if not wait then return false end
      if wait == 0 then return true end
      ngx.sleep(wait)
      local void = g:void()
      if void ~= true then return void == false end
    end
  end
  local function taker()
    local g = budget.gate(entry, o)
    while ngx.now() < stop do
      if slot(g) then count = count + 1 else ngx.sleep(0.001) end
    end
  end
  local threads = {}
  for i = 1, job.threads do threads[i] = ngx.thread.spawn(taker) end
  for i = 1, #threads do ngx.thread.wait(threads[i]) end
  ngx.shared.bench:incr("count:" .. gen, count, 0)
  ngx.shared.bench:incr("done:" .. gen, 1, 0)
end

local function poll(premature, seen)
  if premature or ngx.worker.exiting() then return end
  local gen = ngx.shared.bench:get("gen") or 0
  if gen ~= seen then
    local job = ngx.shared.bench:get("job")
    local rate, secs, threads, name, workers = job:match("^(%S+) (%S+) (%S+) (%S+) (%S+)$")
    if workers ~= "1" or ngx.worker.id() == 0 then
      run_job(gen, { rate = tonumber(rate), secs = tonumber(secs), threads = tonumber(threads), store = name })
    end
  end
  ngx.timer.at(0.005, poll, gen)
end

function _M.init_worker(p)
  port = p
  ngx.timer.at(0, poll, ngx.shared.bench:get("gen") or 0)
end

--- GET /rate?store=&rate=&secs=&threads=&workers=: slots granted per
-- second, by all 4 workers together, or by the first alone (workers=1).
function _M.rate()
  local secs = tonumber(ngx.var.arg_secs) or 1
  local workers = ngx.var.arg_workers == "1" and 1 or 4
  ngx.shared.bench:set("job", ("%s %s %s %s %d"):format(ngx.var.arg_rate, secs, ngx.var.arg_threads or 50,
                                                         ngx.var.arg_store or "dict", workers))
  local gen = ngx.shared.bench:incr("gen", 1, 0)
  for _ = 1, (secs + 5) * 100 do
    ngx.sleep(0.01)
    if (ngx.shared.bench:get("done:" .. gen) or 0) >= workers then break end
  end
  ngx.say(("%d %d"):format(ngx.shared.bench:get("count:" .. gen) or 0, ngx.shared.bench:get("done:" .. gen) or 0))
end

return _M
