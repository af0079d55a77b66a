--- The journal of a bulk run: an append-only file that records each update
-- the provider confirmed by what it is, not by where it sat in the input.
--
--   # lua-users journal 2 {"provider":"generic","base_url":"https://...","tenant":{}}
--   ok 3f2a9c0e1b7d4a55	usr_123
--   unknown 9b1c44d0e2f3a617	usr_456
--
-- The first line names the scope: the provider, its base URL and the
-- options that choose the tenant (lancepilot's workspace, lexful's account
-- id). A journal of another scope is refused. Each later line is a state
-- (`ok`: confirmed; `unknown`: sent, but no answer came back, and the
-- update may not be sent twice: users/ambiguous.lua), the 64-bit digest of
-- one update (the user's id and the fields sent, in a canonical form: key
-- order and number spelling do not matter), then the id for people to
-- read. A state is a word of lower-case letters: a later version may write
-- others, and a state this one does not know is refused with a message,
-- never skipped over. A rerun holds back an update on record as unknown
-- (a bulk run's `resend_unknown` sends it) until one is on record as ok.
--
-- A rerun skips an item when the journal holds the same update, whatever
-- the item's position: a reordered, shortened or grown input, or a file of
-- failures fed back, do the right thing, and an edited item is sent again.
-- The journal is a multiset: an input that updates a user twice the same
-- way has both confirmations recorded, and a rerun skips as many items as
-- were confirmed (counts do not saturate). Lines are written whole and
-- unbuffered, one per confirmation, and every write is checked: after a
-- crash or SIGKILL at most the items in flight are sent again. The digests
-- are held in C (cli_core.digest_set, 12 bytes a slot): a journal of a
-- million items takes about 25 MB.
--
-- One run at a time: a journal open for writing is locked until it is
-- closed, and a second run on it is refused (users.journal.lock; `hold`
-- keeps the lock across a run). A journal that exists but cannot be read,
-- that is not a regular file or whose header is not one this module
-- writes, is refused too: it may hold confirmed updates, and starting over
-- would send them again.
local core = require "users.core"
local lock = require "users.journal.lock"

local _M = {}

-- users.cli_core (src/cli/), loaded by the first journal: an nginx worker
-- that keeps none never loads it.
local cli_core
local function cc()
  cli_core = cli_core or require "users.cli_core"
  return cli_core
end

local type, pairs, ipairs, tostring, getmetatable, error = type, pairs, ipairs, tostring, getmetatable, error
local format, concat, sort = string.format, table.concat, table.sort
local mtype = math.type -- nil before 5.3

local HEADER = "# lua-users journal 2 "

-- The states a line may hold, and the set of the journal that holds each.
local STATES = { ok = "done", unknown = "unknown" }

-- Canonical text of a value: the same for equal values whatever the key
-- order, and different for values of different types ("1", 1, true).
local canon

local function canon_number(v)
  if mtype then
    if mtype(v) == "integer" then return "i" .. format("%d", v) end
    if v % 1 == 0 and v > -2 ^ 63 and v < 2 ^ 63 then return "i" .. format("%d", v) end
  elseif v % 1 == 0 and v > -2 ^ 53 and v < 2 ^ 53 then
    return "i" .. format("%.0f", v)
  end
  return "n" .. format("%.17g", v)
end

local function canon_table(v, out, depth)
  local mt = getmetatable(v)
  if mt and mt.__name == "users.file" then
    -- A file to upload: its name and size, so a changed file is sent again.
    out[#out + 1] = "f"
    if v.path then
      local size = core.file_info(v)
      canon(v.path, out, depth)
      canon(size or -1, out, depth)
    else
      canon(v.filename or "", out, depth)
      canon(cc().digest(v.data or ""), out, depth)
    end
    canon(v.content_type or "", out, depth)
    return
  end
  local keys, n, array = {}, 0, true
  for k in pairs(v) do
    n = n + 1
    keys[n] = k
    if type(k) ~= "number" then array = false end
  end
  if array then
    for i = 1, n do if v[i] == nil then array = false break end end
  end
  if array and n > 0 then
    out[#out + 1] = "["
    for i = 1, n do canon(v[i], out, depth) end
    out[#out + 1] = "]"
    return
  end
  local texts = {}
  for i, k in ipairs(keys) do
    local t = {}
    canon(k, t, depth)
    texts[i] = { concat(t), k }
  end
  sort(texts, function(a, b) return a[1] < b[1] end)
  out[#out + 1] = "{"
  for _, p in ipairs(texts) do
    out[#out + 1] = p[1]
    canon(v[p[2]], out, depth)
  end
  out[#out + 1] = "}"
end

function canon(v, out, depth)
  local t = type(v)
  if t == "string" then
    out[#out + 1] = "s" .. #v .. ":"
    out[#out + 1] = v
  elseif t == "number" then
    out[#out + 1] = canon_number(v)
  elseif t == "boolean" then
    out[#out + 1] = v and "T" or "F"
  elseif v == core.null then
    out[#out + 1] = "z"
  elseif t == "table" then
    if depth > 64 then error("the update nests more than 64 levels deep", 0) end
    canon_table(v, out, depth + 1)
  else
    out[#out + 1] = "?" .. t
  end
end

--- A 64-bit digest of a string (16 hex digits): users.cli_core's.
function _M.digest(s) return cc().digest(s) end

--- The digest of an update: the user's id and its fields (16 hex digits).
function _M.key(id, fields)
  local out = {}
  canon(id, out, 0)
  out[#out + 1] = "|"
  canon(fields, out, 0)
  return cc().digest(concat(out))
end

--- The scope a journal is written for: provider, base URL and tenant
-- options (those that are path parameters or headers).
function _M.scope(entry, o)
  local decl, tenant = entry.decl, {}
  for _, p in ipairs(decl.params or {}) do
    if p.option and o[p.option] ~= nil then tenant[p.option] = tostring(o[p.option]) end
  end
  for _, option in pairs(decl.headers or {}) do
    if o[option] ~= nil then tenant[option] = tostring(o[option]) end
  end
  return { provider = decl.name, base_url = (tostring(o.base_url or "")):gsub("/+$", ""), tenant = tenant }
end

local function describe_scope(s)
  local parts = {}
  for k, v in pairs(s.tenant or {}) do parts[#parts + 1] = k .. " " .. tostring(v) end
  sort(parts)
  return tostring(s.provider) .. " at " .. tostring(s.base_url)
    .. (#parts > 0 and (" (" .. concat(parts, ", ") .. ")") or "")
end

-- Whether a header's scope has the shape a journal's is written with.
local function valid_scope(s)
  if type(s) ~= "table" or type(s.provider) ~= "string" or type(s.base_url) ~= "string" then return false end
  if s.tenant == nil then return true end
  if type(s.tenant) ~= "table" then return false end
  for k, v in pairs(s.tenant) do
    if type(k) ~= "string" or type(v) ~= "string" then return false end
  end
  return true
end

local function same_scope(a, b)
  if a.provider ~= b.provider or a.base_url ~= b.base_url then return false end
  local ta, tb = a.tenant or {}, b.tenant or {}
  for k, v in pairs(ta) do if tb[k] ~= v then return false end end
  for k, v in pairs(tb) do if ta[k] ~= v then return false end end
  return true
end

-- The id for people, on one line.
local function show_id(id)
  local mt = getmetatable(id)
  if type(id) == "table" and not (mt and mt.__tostring) then
    local parts = {}
    for k, v in pairs(id) do parts[#parts + 1] = tostring(k) .. "=" .. tostring(v) end
    sort(parts)
    id = concat(parts, ",")
  end
  return (tostring(id):gsub("[%c]", " "))
end
_M.show_id = show_id

local Journal = {}
Journal.__index = Journal

-- The account of the journal last opened for writing at each path in this
-- process (_M.last), for the command's account of a run: counts only,
-- never the file or the lock, which live no longer than their journal.
local opened = {}

local function refuse(f, message)
  if f then f:close() end
  return nil, message
end

-- Reads the journal at path into j: nil when it could be read, else what
-- to say. Only a regular file gets here.
local function load(j, path, scope)
  local f, oerr = io.open(path, "rb")
  if not f then return refuse(nil, ("cannot read the journal %s (%s): it may hold confirmed updates, so the run"
    .. " does not start over without it; make it readable, or move it away"):format(path, tostring(oerr))) end
  local first, rerr = f:read("*l")
  while first and first:match("^%s*$") do first, rerr = f:read("*l") end
  if rerr then return refuse(f, ("cannot read the journal %s: %s"):format(path, tostring(rerr))) end
  if not first then f:close() return "fresh" end
  if first:match("^ok %d+\t") then
    return refuse(f, ("the journal %s was written by an older lua-users, which recorded items by their"
      .. " position in the input: it cannot tell which users were done; move it away to start over"):format(path))
  end
  local json = first:sub(1, #HEADER) == HEADER and first:sub(#HEADER + 1)
  local found = json and core.json_decode(json)
  if not valid_scope(found) then
    return refuse(f, ("%s is not a lua-users journal (its first line is not a journal header)"):format(path))
  end
  if not same_scope(found, scope) then
    return refuse(f, ("the journal %s was written for %s, not for %s: give another journal file,"
      .. " or move this one away to start over"):format(path, describe_scope(found), describe_scope(scope)))
  end
  local n, pending, set = 1, nil, nil
  while true do
    local line
    line, rerr = f:read("*l")
    if not line then break end
    n = n + 1
    if pending then set:add(pending) j.account.loaded = j.account.loaded + 1 end
    local state, d = line:match("^(%l+) (%x+)\t")
    set = STATES[state] and j[STATES[state]]
    pending = set and #d == 16 and d or nil
    if state and not set then
      return refuse(f, ("the journal %s holds a state this lua-users does not know ('%s', line %d): a newer"
        .. " version wrote it; run that version, or move the journal away to start over"):format(path, state, n))
    end
  end
  if rerr then return refuse(f, ("cannot read the journal %s: %s"):format(path, tostring(rerr))) end
  -- A line cut short (a crash, a full disk) is no confirmation, and the
  -- next record starts a line of its own.
  if f:seek("end", -1) then j.torn = f:read(1) ~= "\n" end
  if pending and not j.torn then set:add(pending) j.account.loaded = j.account.loaded + 1 end
  f:close()
  return "loaded"
end

-- What path names, or nil and why it cannot be a journal.
local function journal_kind(path)
  local kind, kerr = cc().kind(path)
  if not kind then return nil, "cannot use the journal " .. tostring(kerr) end
  if kind ~= "absent" and kind ~= "file" then
    return nil, ("the journal %s is not a regular file (it is a %s)"):format(path, kind)
  end
  return kind
end

--- Opens (or creates) the journal at path for scope, locked until closed.
-- With read_only (a dry run) nothing is written, nor created, nor locked.
-- Returns the journal, or nil and a message that says what to do.
function _M.open(path, scope, read_only)
  local j = setmetatable({ path = path, done = cc().digest_set(), unknown = cc().digest_set(),
                           account = { loaded = 0, recorded = 0, unrecorded = 0 } }, Journal)
  local kind, kerr = journal_kind(path)
  if not kind then return nil, kerr end
  if read_only and kind == "absent" then return j end
  if not read_only then
    local locked, lerr = lock.acquire(j, path)
    if not locked then return nil, lerr end
  end
  local loaded, state, problem = pcall(load, j, path, scope)
  if not loaded then j:close() error(state, 0) end
  if not state then j:close() return nil, problem end
  if read_only then return j end
  local out, err = io.open(path, "ab")
  if not out then j:close() return nil, "cannot write the journal " .. path .. ": " .. tostring(err) end
  out:setvbuf("no")
  j.file = out
  local ok, werr = true, nil
  if state == "fresh" then
    local s = { provider = scope.provider, base_url = scope.base_url }
    if next(scope.tenant or {}) ~= nil then s.tenant = scope.tenant end
    ok, werr = out:write(HEADER .. core.json_encode(s) .. "\n")
  elseif j.torn then
    ok, werr = out:write("\n")
  end
  if not ok then
    j:close()
    return nil, "cannot write the journal " .. path .. ": " .. tostring(werr)
  end
  opened[path] = j.account
  return j
end

--- Holds the journal's lock at path across a run: users.journal.lock.hold.
_M.hold = lock.hold

--- The account of the journal last opened at path in this process, or nil
-- (a journal's own is `journal.account`): `loaded` (confirmations read),
-- `recorded` and `unrecorded` (confirmations written, and those a failed
-- write lost) and `failed`, the first write or close error, if any.
function _M.last(path)
  return opened[path]
end

--- Whether the same update was confirmed by an earlier run; each
-- confirmation on record skips one item.
function Journal:take(key)
  return self.done:take(key)
end

--- Whether an earlier run sent the same update without an answer (and no
-- run confirmed it since: `take` first); each such record holds back one item.
function Journal:unknown_take(key)
  return self.unknown:take(key)
end

--- Records a confirmed update (`state` "ok", the default), or one sent
-- without an answer ("unknown"): one whole line, written at once. Raises
-- when it cannot be written (the record is then counted in `unrecorded`,
-- and `failed` says why).
function Journal:record(key, id, state)
  if not self.file then return end
  local a = self.account
  local ok, err = self.file:write((state or "ok") .. " " .. key .. "\t" .. show_id(id) .. "\n")
  if not ok then
    a.unrecorded = a.unrecorded + 1
    a.failed = a.failed or ("cannot write the journal " .. self.path .. ": " .. tostring(err))
    error(a.failed, 0)
  end
  a.recorded = a.recorded + 1
end

--- Closes the file and releases the lock (a hold's stays held). Returns
-- true, or nil and the error of the close (kept in the account's `failed`).
function Journal:close()
  local ok, err = true, nil
  if self.file then
    ok, err = self.file:close()
    self.file = nil
    if not ok then
      err = "cannot write the journal " .. self.path .. ": " .. tostring(err)
      self.account.failed = self.account.failed or err
    end
  end
  lock.release(self)
  self.done, self.unknown = nil, nil -- their digests
  if not ok then return nil, err end
  return true
end

return _M
