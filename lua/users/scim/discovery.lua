--- What a SCIM server says it supports, from `GET {base}/ServiceProviderConfig`
-- (RFC 7643 section 5), read once per base URL, and the update method it
-- leads to.
--
--   local cfg, why = discovery.read(status, body)  -- body decoded
--   cfg.patch, cfg.etag, cfg.found
--   discovery.method(opts.scim_method, cfg)         -- "patch" | "put"
--   discovery.remember(base_url, cfg); discovery.recall(base_url)
--   discovery.claim(base_url, owner, now, hold); discovery.release(base_url, owner)
--
-- `patch.supported` false means GET + PUT; true, or no discovery document
-- at all (404, and 405 or 501 from servers that route nothing there), means
-- PATCH. Any other answer is no answer: the caller fails or retries as for
-- any request, and nothing is remembered. The memory is this Lua state's
-- (a process; one worker inside nginx), and bounded.
local schema = require "users.scim.schema"

local _M = {}

local type, tostring = type, tostring

_M.METHODS = { auto = true, patch = true, put = true }

local ABSENT = { [404] = true, [405] = true, [501] = true }

local get = schema.get

local function supported(body, feature)
  local v = get(get(body, feature), "supported")
  if v == true or v == false then return v end
  if v == "true" or v == "false" then return v == "true" end -- servers that quote their booleans
  return nil
end

--- The configuration an answer gives: `{ found, patch, etag }` (`patch`
-- true unless the document says false; `etag` true only where it says so),
-- or nil and why when the answer says nothing either way.
function _M.read(status, body)
  if ABSENT[status] then
    return { found = false, patch = true, etag = false }
  end
  if status < 200 or status > 299 then
    return nil, "GET ServiceProviderConfig answered HTTP " .. tostring(status)
  end
  if type(body) ~= "table" then
    return nil, "GET ServiceProviderConfig answered a body that is not a JSON object"
  end
  return { found = true, patch = supported(body, "patch") ~= false, etag = supported(body, "etag") == true }
end

--- The method of an update: "patch" or "put". `choice` is opts.scim_method
-- ("auto" when nil); `cfg` what read() gave (needed for "auto" only).
function _M.method(choice, cfg)
  if choice == "patch" or choice == "put" then return choice end
  return (cfg and cfg.patch == false) and "put" or "patch"
end

--- Whether an update needs the discovery document first.
function _M.needed(choice, cfg)
  return (choice == nil or choice == "auto") and cfg == nil
end

-- Remembered configurations by base URL, at most LIMIT (then forgotten
-- all at once: a program uses a few base URLs; one that makes them up
-- must not grow the table without bound).
local LIMIT = 64
local memory, count = {}, 0
-- Discoveries under way, by base URL: `{ owner, expires }`, so that the
-- items a bulk run starts at once send one GET, not one each (the others
-- wait for its answer). Emptied with the memory.
local claims = {}

function _M.remember(base, cfg)
  if memory[base] == nil then
    if count >= LIMIT then memory, count, claims = {}, 0, {} end
    count = count + 1
  end
  memory[base] = cfg
end

function _M.recall(base)
  return memory[base]
end

--- Claims the discovery of `base` for `owner` (any value) until `now +
-- hold` seconds: true when it is owner's now (free, expired, or owner's
-- already), false while another holds it. An owner that never answers
-- (its item abandoned) holds it `hold` seconds at most.
function _M.claim(base, owner, now, hold)
  local c = claims[base]
  if c and c.owner ~= owner and now < c.expires then return false end
  claims[base] = { owner = owner, expires = now + hold }
  return true
end

--- Gives a claim up (owner's only: another's is left alone).
function _M.release(base, owner)
  local c = claims[base]
  if c and c.owner == owner then claims[base] = nil end
end

--- Forgets every remembered configuration (specs; a host that knows a
-- server changed).
function _M.forget()
  memory, count, claims = {}, 0, {}
end

return _M
