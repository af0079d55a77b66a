--- W3C Trace Context (https://www.w3.org/TR/trace-context/): every attempt
-- of a call that has a parent (`opts.traceparent`; inside nginx, by
-- default, the incoming request's `traceparent` header) sends a child:
-- the same trace id and flags, a new span id of its own.
local _M = {}

local rawget, type, pcall = rawget, type, pcall
local format, byte = string.format, string.byte
local random, floor = math.random, math.floor

local HEX32, HEX16 = ("%x"):rep(32), ("%x"):rep(16)
local SHAPE = "^(%x%x)%-(" .. HEX32 .. ")%-(" .. HEX16 .. ")%-(%x%x)"

--- A traceparent's parts `{ trace_id, span_id, flags }`, or nil when it is
-- not one (upper-case hex, an all-zero id, version ff and a version-00
-- header with more after it are not, as the recommendation says).
function _M.parse(s)
  if type(s) ~= "string" then return nil end
  local version, trace_id, span_id, flags = s:match(SHAPE)
  if not version or s:find("%u") or version == "ff" then return nil end
  if version == "00" and #s ~= 55 then return nil end
  if #s > 55 and s:sub(56, 56) ~= "-" then return nil end
  if not trace_id:find("[^0]") or not span_id:find("[^0]") then return nil end
  return { trace_id = trace_id, span_id = span_id, flags = flags }
end

-- Random bytes for span ids: /dev/urandom, read 4 KiB at a time (never the
-- host's math.random, whose seed is the host's business); math.random
-- where there is no /dev/urandom.
local pool, pos = "", 1
local function bytes8()
  if pos + 7 > #pool then
    local f = io.open("/dev/urandom", "rb")
    pool = f and f:read(4096) or ""
    if f then f:close() end
    pos = 1
    if #pool < 8 then
      return floor(random() * 256), floor(random() * 256), floor(random() * 256), floor(random() * 256),
             floor(random() * 256), floor(random() * 256), floor(random() * 256), floor(random() * 256)
    end
  end
  local p = pos
  pos = pos + 8
  return byte(pool, p, p + 7)
end

--- A new span id: 16 lower-case hex digits, never all zero.
function _M.span_id()
  local id = format("%02x%02x%02x%02x%02x%02x%02x%02x", bytes8())
  if id == "0000000000000000" then return _M.span_id() end
  return id
end

--- The parent of a call's attempts: `opts.traceparent` parsed, or inside
-- nginx (a request phase) the incoming request's header when the option is
-- not set; nil when there is none (nothing is sent then), false the option.
local function incoming(ngx) return ngx.var.http_traceparent end

function _M.parent(o)
  local v = o.traceparent
  if v == false then return nil end
  if v == nil then
    local ngx = rawget(_G, "ngx")
    if not (ngx and ngx.var) then return nil end
    local ok, header = pcall(incoming, ngx) -- not in every phase
    if not ok or not header then return nil end
    v = header
  end
  return _M.parse(v)
end

--- The header of a child of `parent`, and the child's span id.
function _M.child(parent)
  local span = _M.span_id()
  return "00-" .. parent.trace_id .. "-" .. span .. "-" .. parent.flags, span
end

return _M
