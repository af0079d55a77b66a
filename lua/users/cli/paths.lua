--- The files a bulk run writes, named and checked before anything is sent:
-- the journal (given, none, or FILE.journal kept while a run is
-- unfinished) and the failures file. A path the run could not write is a
-- usage error now (exit 2, nothing sent), not a surprise after the updates.
-- An input that is not a regular file (`-`, a pipe) names its files after
-- "stdin" (or its own name) in the current directory.
--
-- The journal is locked from here to the run's end (users.journal.hold),
-- before the failures file is looked at: a second run on the same files is
-- refused before it touches either, and a finished run's journal is
-- removed while still locked (release), so no other run takes it up in
-- between. Nothing here creates and removes a path another run may be
-- using.
local cli_core = require "users.cli_core"
local args = require "users.cli.args"
local failures = require "users.cli.failures"
local journal = require "users.journal"
local source = require "users.cli.source"

local _M = {}

local tostring = tostring

-- What a path names, and which file it is; a failure when it cannot be told.
local function kind(path)
  local k, id = cli_core.kind(path)
  if not k then args.fail("cannot use " .. tostring(id)) end
  return k, id
end

-- The name the default files are made from: the input's path without its
-- extension, or "stdin" (a pipe's own name) in the current directory.
local function base_of(path, regular)
  if regular then return (path:gsub("%.[%w]+$", "")), path end
  if path == "-" or path:match("^/dev/stdin$") or path:match("/fd/0$") then return "stdin", "stdin" end
  local name = path:match("([^/]+)$") or "stdin"
  return (name:gsub("%.[%w]+$", "")), name
end

-- The journal's lock, held until release(plan): the hold, or nil and a
-- warning when an automatic journal cannot be created.
local function hold(path, auto, created, notes)
  local h, err, code = journal.hold(path)
  if h then return h end
  if not (auto and created and code == "error") then args.fail(err) end
  notes[#notes + 1] = "lua-users: warning: cannot write " .. path .. ": an interrupted run could not be resumed"
    .. " exactly (give --journal FILE)"
end

-- The journal: its path (nil: none), whether it is the automatic one, its
-- hold (nil for a dry run) and whether this run created it.
local function journal_of(o, input_name, notes)
  local path, auto = o.journal, false
  if not path and not o.no_journal then path, auto = input_name .. ".journal", true end
  if not path then return nil, false end
  local k = kind(path)
  if k == "absent" then
    if o.dry_run then return nil, auto end -- nothing to read, and a dry run writes none
    local h = hold(path, auto, true, notes)
    if not h then return nil, false end
    return path, auto, h, true
  end
  if k ~= "file" then args.fail(("the journal %s is not a regular file (it is a %s)"):format(path, k)) end
  local f, err = source.open(path, o.dry_run and "rb" or "r+b")
  if not f then
    args.fail(("cannot %s the journal %s: it may hold confirmed updates, so the run does not start over"
      .. " without it; make it readable and writable, or move it away"):format(o.dry_run and "read" or "use",
      tostring(err)))
  end
  f:close()
  local h = not o.dry_run and hold(path, auto, false, notes)
  if auto then
    notes[#notes + 1] = "lua-users: resuming: " .. path .. " holds the updates an unfinished run confirmed;"
      .. " they are skipped (--no-journal sends every row)"
  end
  return path, auto, h or nil, false
end

--- Releases the journal's lock (once; nothing without a journal). With
-- remove (a finished run's automatic journal), the file is removed first,
-- still locked. With "unstarted" (a run that sent nothing), a journal this
-- run created is removed when it holds no confirmation: such a run leaves
-- none behind. Returns true, or nil and a message.
function _M.release(plan, remove)
  local h = plan.hold
  if not h then return true end
  plan.hold = nil
  if remove == "unstarted" then
    local a = h.account -- the journal's, once the run opened it
    remove = plan.created and (not a and "if empty" or (a.loaded == 0 and a.recorded == 0 and a.unrecorded == 0))
  end
  return h:release(remove)
end

-- The failures file: its path, checked (neither the input nor the
-- journal), and its writer, into plan.
local function failures_of(plan, o, input, input_id, base)
  local fpath = o.failures or (base .. (o.dry_run and ".dry-run" or "") .. ".failures."
    .. (input.format == "csv" and "csv" or "jsonl"))
  local fkind, fid = kind(fpath)
  local jpath = plan.journal
  local jid = jpath and select(2, kind(jpath))
  if fpath == input.path or fpath == jpath or (fid and (fid == input_id or fid == jid)) then
    args.fail("the failures file must not be the input or the journal: " .. fpath, { usage = "bulk" })
  end
  local writer, ferr = failures.new(fpath, input, fkind)
  if not writer then args.fail(ferr) end
  plan.failures, plan.failures_path = writer, fpath
end

--- The run's files for input (users.cli.input) and the parsed options o:
-- { journal = path | nil, auto = bool, hold = lock | nil, created = bool,
--   failures = writer, failures_path = path, notes = { line } }. The
-- journal stays locked until release(plan).
function _M.plan(o, input)
  local input_kind, input_id = "absent", nil
  if input.path ~= "-" then input_kind, input_id = kind(input.path) end
  local base, name = base_of(input.path, input_kind == "file")
  local plan = { notes = {} }
  plan.journal, plan.auto, plan.hold, plan.created = journal_of(o, name, plan.notes)
  local ok, err = pcall(failures_of, plan, o, input, input_id, base)
  if not ok then
    _M.release(plan, "unstarted")
    error(err, 0)
  end
  return plan
end

return _M
