--- One run at a time on a journal: its exclusive lock (flock, through
-- users.cli_core.lock in src/cli/files.c), taken before the journal is read
-- and held until it is closed (a journal dropped unclosed: until it is
-- collected, or its process ends; nothing here keeps one).
--
-- A caller that decides after the run what becomes of the journal (the
-- command removes a finished run's automatic one) holds the lock across the
-- run: the journal opened at that path in this process uses the hold's
-- lock, its close leaves it held, and the hold removes the file, if asked,
-- before it lets go, so that no other run takes it up in between.
local _M = {}

local setmetatable, tostring = setmetatable, tostring

-- users.cli_core, loaded by the first lock: an nginx worker that keeps no
-- journal never loads it.
local cli_core
local function cc()
  cli_core = cli_core or require "users.cli_core"
  return cli_core
end

-- The holds of this process, by path. Weak: a hold dropped unreleased is
-- collected, and its lock with it.
local holds = setmetatable({}, { __mode = "v" })

local function busy(path)
  return ("the journal %s is in use by another run (lua-users bulk or bulk_update, here or on another"
    .. " machine sharing the file): wait for it to end, or give another journal"):format(path)
end

-- Takes the lock at path: the lock, false on a file system that takes none
-- (some network ones: the journal is then used without one, as before
-- locks), or nil, what to say and "busy" or "error".
local function take(path)
  local held, err, code = cc().lock(path)
  if held then return held end
  if code == "unsupported" then return false end
  if code == "busy" then return nil, busy(path), code end
  return nil, "cannot write the journal " .. tostring(err), "error"
end

--- Locks the path of journal j for writing (with the hold's lock when this
-- process holds it): j.lock, released by release(j), or j.hold. Returns
-- true, or nil and what to say.
function _M.acquire(j, path)
  local h = holds[path]
  if h then
    if h.journal then return nil, busy(path) end
    j.hold, h.journal, h.account = h, j, j.account
    return true
  end
  local held, err = take(path)
  if held == nil then return nil, err end
  j.lock = held or nil
  return true
end

--- Lets go of what acquire took for j (a hold stays held).
function _M.release(j)
  if j.lock then
    j.lock:release()
    j.lock = nil
  end
  if j.hold then
    j.hold.journal = nil
    j.hold = nil
  end
end

local Hold = {}
Hold.__index = Hold

--- Takes the journal's lock at path (an empty file is created if none is
-- there) across a run. Returns the hold, or nil, a message and "busy" or
-- "error". `hold.account` is the account of the journal that used it.
function _M.hold(path)
  local held, err, code = take(path)
  if held == nil then return nil, err, code end
  local h = setmetatable({ path = path, lock = held or nil }, Hold)
  if held then holds[path] = h end
  return h
end

--- Releases the hold. With remove, the file is removed first, still locked
-- ("if empty": only a file that holds nothing). Returns true, or nil and a
-- message.
function Hold:release(remove)
  if self.released then return true end
  local lk, ok, err = self.lock, true, nil
  self.released, self.lock = true, nil
  if holds[self.path] == self then holds[self.path] = nil end
  if remove and lk then
    ok, err = lk:remove(remove == "if empty")
  elseif remove == true then
    ok, err = os.remove(self.path) -- a file system without flock: no lock to hold
  end
  if lk then lk:release() end
  if ok == nil then return nil, "cannot remove the journal " .. tostring(err) end
  return true
end

return _M
