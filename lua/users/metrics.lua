--- Metrics without code: every attempt of every call is counted in this
-- Lua state (users/lifecycle.lua calls `attempt` and `retry`), unless its
-- options say `metrics = false`. `users.metrics()` gives them as a table,
-- `users.metrics("prometheus")` in Prometheus's text exposition format:
-- the histogram http_client_request_duration_seconds (OpenTelemetry's
-- http.client.request.duration, with its advised buckets) and the counter
-- http_client_retries_total.
--
-- Inside nginx each worker counts in its own tables; with `share(dict)`
-- a timer adds what changed to a lua_shared_dict every `interval` seconds
-- (one `incr` per changed value: no shared-dict lock per request), and
-- reading gives the sums of every worker.
local _M = {}

local pairs, ipairs, tostring, tonumber, rawget, pcall = pairs, ipairs, tostring, tonumber, rawget, pcall
local concat, sort = table.concat, table.sort
local format = string.format

--- OpenTelemetry's advised buckets for http.client.request.duration (s).
_M.BUCKETS = { 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10 }
local BUCKETS, NB = _M.BUCKETS, #_M.BUCKETS

-- Label names, in order: a series' key is its label values joined by \31.
local LABELS = { "provider", "http_request_method", "server_address", "http_response_status_code", "error_type" }
local RETRY_LABELS = { "provider", "http_request_method", "server_address" }

-- Series by provider, method, address, status, error type (nested: no
-- string is made per attempt): { count, sum, [1..NB+1] = per-bucket counts }.
local hist = {}
local retries = {} -- key -> count
local dirty = {}   -- series changed since the last flush (nginx, shared)

local function child(t, k)
  local c = t[k]
  if not c then c = {}; t[k] = c end
  return c
end

--- Counts one attempt: `status` (a number, or "" for a transport failure),
-- `etype` ("" on success, else its error.type), its duration in seconds.
function _M.attempt(provider, method, address, status, etype, seconds)
  local s = hist[provider]
  s = s and s[method]
  s = s and s[address or ""]
  s = s and s[status]
  local series = s and s[etype]
  if not series then
    s = child(child(child(child(hist, provider), method), address or ""), status)
    series = { count = 0, sum = 0, labels = { provider, method, address, tostring(status), etype } }
    for i = 1, NB + 1 do series[i] = 0 end
    s[etype] = series
  end
  local i = 1
  while i <= NB and seconds > BUCKETS[i] do i = i + 1 end
  series[i] = series[i] + 1
  series.count, series.sum = series.count + 1, series.sum + seconds
  dirty[series] = true
end

--- Counts one retry scheduled.
function _M.retry(provider, method, address)
  local key = provider .. "\31" .. method .. "\31" .. (address or "")
  retries[key] = (retries[key] or 0) + 1
end

-- This Lua state's series as { labels = {...}, count, sum, buckets = { cumulative } }.
local function local_table()
  local out = { http_client_request_duration_seconds = {}, http_client_retries_total = {} }
  local function walk(t, depth)
    for _, v in pairs(t) do
      if depth == 5 then
        local cum, buckets = 0, {}
        for i = 1, NB do cum = cum + v[i]; buckets[i] = { le = BUCKETS[i], count = cum } end
        local labels = {}
        for i, name in ipairs(LABELS) do labels[name] = v.labels[i] end
        local d = out.http_client_request_duration_seconds
        d[#d + 1] = { labels = labels, count = v.count, sum = v.sum, buckets = buckets }
      else
        walk(v, depth + 1)
      end
    end
  end
  walk(hist, 1)
  for key, n in pairs(retries) do
    local labels, i = {}, 0
    for part in (key .. "\31"):gmatch("(.-)\31") do i = i + 1; labels[RETRY_LABELS[i]] = part end
    local r = out.http_client_retries_total
    r[#r + 1] = { labels = labels, value = n }
  end
  return out
end

---------------------------------------------------------------- nginx: all workers

local shared -- { dict, flushed = { series -> { count, sum, [i] } }, retries = { key -> n } }

-- Adds what changed since the last flush to the shared dict.
local function flush()
  if not shared then return end
  local dict, done = shared.dict, shared.flushed
  for series in pairs(dirty) do
    local before = done[series]
    if not before then
      before = { count = 0, sum = 0 }
      for i = 1, NB + 1 do before[i] = 0 end
      done[series] = before
    end
    local key = "h\31" .. concat(series.labels, "\31") .. "\31"
    for i = 1, NB + 1 do
      if series[i] ~= before[i] then dict:incr(key .. i, series[i] - before[i], 0); before[i] = series[i] end
    end
    dict:incr(key .. "count", series.count - before.count, 0)
    dict:incr(key .. "sum", series.sum - before.sum, 0)
    before.count, before.sum = series.count, series.sum
  end
  dirty = {}
  for key, n in pairs(retries) do
    local d = n - (shared.retries[key] or 0)
    if d ~= 0 then dict:incr("r\31" .. key, d, 0); shared.retries[key] = n end
  end
end

-- Every worker's sums, read from the shared dict, in local_table's shape.
local function shared_table()
  flush()
  local dict = shared.dict
  local series, order = {}, {}
  local out = { http_client_request_duration_seconds = {}, http_client_retries_total = {} }
  for _, k in ipairs(dict:get_keys(0)) do
    local v = dict:get(k)
    if k:sub(1, 2) == "h\31" then
      local parts = {}
      for part in (k:sub(3) .. "\31"):gmatch("(.-)\31") do parts[#parts + 1] = part end
      local field = parts[#parts]
      parts[#parts] = nil
      local id = concat(parts, "\31")
      local s = series[id]
      if not s then
        s = { labels = {}, count = 0, sum = 0, raw = {} }
        for i, name in ipairs(LABELS) do s.labels[name] = parts[i] end
        series[id], order[#order + 1] = s, id
      end
      if field == "count" or field == "sum" then s[field] = v else s.raw[tonumber(field)] = v end
    elseif k:sub(1, 2) == "r\31" then
      local labels, i = {}, 0
      for part in (k:sub(3) .. "\31"):gmatch("(.-)\31") do i = i + 1; labels[RETRY_LABELS[i]] = part end
      local r = out.http_client_retries_total
      r[#r + 1] = { labels = labels, value = v }
    end
  end
  for _, id in ipairs(order) do
    local s, cum, buckets = series[id], 0, {}
    for i = 1, NB do cum = cum + (s.raw[i] or 0); buckets[i] = { le = BUCKETS[i], count = cum } end
    local d = out.http_client_request_duration_seconds
    d[#d + 1] = { labels = s.labels, count = s.count, sum = s.sum, buckets = buckets }
  end
  return out
end

--- Inside nginx: adds this worker's counts to lua_shared_dict `name` every
-- `interval` seconds (default 1), and makes `table`/`prometheus` read the
-- sums of every worker that does the same. Call it from
-- init_worker_by_lua*. Returns true, or nil and why not.
function _M.share(name, interval)
  local ngx = rawget(_G, "ngx")
  local dict = ngx and ngx.shared and ngx.shared[name]
  if not dict then return nil, "there is no lua_shared_dict " .. tostring(name) .. " in nginx.conf" end
  if shared then -- once per worker: a second timer would flush nothing new, another dict would miss the past
    if shared.name == name then return true end
    return nil, "this worker's metrics go to lua_shared_dict " .. shared.name .. " already"
  end
  shared = { name = name, dict = dict, flushed = setmetatable({}, { __mode = "k" }), retries = {} }
  local function tick(premature)
    if premature then return flush() end
    pcall(flush)
  end
  local ok, err = ngx.timer.every(interval or 1, tick)
  if not ok then return nil, err end
  return true
end

--- The metrics as a table (every worker's sums when shared).
function _M.table()
  if shared then return shared_table() end
  return local_table()
end

local function escape(v) return (tostring(v):gsub("[\\\"\n]", { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" })) end

local function labels_text(labels, names, extra)
  local parts = {}
  for _, name in ipairs(names) do parts[#parts + 1] = name .. '="' .. escape(labels[name] or "") .. '"' end
  if extra then parts[#parts + 1] = extra end
  return "{" .. concat(parts, ",") .. "}"
end

local function number(v)
  if v == math.floor(v) and v < 2 ^ 53 then return format("%d", v) end
  local short = format("%.15g", v) -- 0.005, not 0.0050000000000000001
  if tonumber(short) == v then return short end
  return format("%.17g", v)
end

--- The metrics in Prometheus's text exposition format (version 0.0.4).
function _M.prometheus()
  local t = _M.table()
  local lines = {
    "# HELP http_client_request_duration_seconds Duration of HTTP client requests (each attempt).",
    "# TYPE http_client_request_duration_seconds histogram",
  }
  local hs = t.http_client_request_duration_seconds
  sort(hs, function(a, b) return labels_text(a.labels, LABELS) < labels_text(b.labels, LABELS) end)
  for _, s in ipairs(hs) do
    for _, b in ipairs(s.buckets) do
      lines[#lines + 1] = "http_client_request_duration_seconds_bucket"
        .. labels_text(s.labels, LABELS, 'le="' .. number(b.le) .. '"') .. " " .. number(b.count)
    end
    lines[#lines + 1] = "http_client_request_duration_seconds_bucket"
      .. labels_text(s.labels, LABELS, 'le="+Inf"') .. " " .. number(s.count)
    lines[#lines + 1] = "http_client_request_duration_seconds_sum" .. labels_text(s.labels, LABELS) .. " " .. number(s.sum)
    lines[#lines + 1] = "http_client_request_duration_seconds_count" .. labels_text(s.labels, LABELS) .. " " .. number(s.count)
  end
  lines[#lines + 1] = "# HELP http_client_retries_total Retries scheduled by HTTP clients."
  lines[#lines + 1] = "# TYPE http_client_retries_total counter"
  local rs = t.http_client_retries_total
  sort(rs, function(a, b) return labels_text(a.labels, RETRY_LABELS) < labels_text(b.labels, RETRY_LABELS) end)
  for _, r in ipairs(rs) do
    lines[#lines + 1] = "http_client_retries_total" .. labels_text(r.labels, RETRY_LABELS) .. " " .. number(r.value)
  end
  return concat(lines, "\n") .. "\n"
end

--- Forgets every count of this Lua state (for tests and long-lived hosts
-- that scrape and reset); the shared dict is left as it is.
function _M.reset()
  hist, retries, dirty = {}, {}, {}
  if shared then shared.flushed, shared.retries = setmetatable({}, { __mode = "k" }), {} end
end

return _M
