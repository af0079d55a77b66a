--- The files a bulk run writes, named and checked before anything is sent:
-- the journal (given, none, or FILE.journal kept while a run is
-- unfinished) and the failures file. A path the run could not write is a
-- usage error now (exit 2, nothing sent), not a surprise after the updates.
-- An input that is not a regular file (`-`, a pipe) names its files after
-- "stdin" (or its own name) in the current directory.
local cli_core = require "users.cli_core"
local args = require "users.cli.args"
local failures = require "users.cli.failures"
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

-- Whether a file could be created at path (it is removed again); or nil
-- and why not.
local function creatable(path)
  local f, err = io.open(path, "ab")
  if not f then return nil, err end
  f:close()
  os.remove(path)
  return true
end

-- The journal: its path (nil: none) and whether it is the automatic one.
local function journal(o, input_name, notes)
  local path, auto = o.journal, false
  if not path and not o.no_journal then path, auto = input_name .. ".journal", true end
  if not path then return nil, false end
  local k = kind(path)
  if k == "absent" then
    if o.dry_run then return nil, auto end -- nothing to read, and a dry run writes none
    local ok, err = creatable(path)
    if ok then return path, auto end
    if not auto then args.fail("cannot write the journal " .. tostring(err)) end
    notes[#notes + 1] = "lua-users: warning: cannot write " .. path .. ": an interrupted run could not be resumed"
      .. " exactly (give --journal FILE)"
    return nil, false
  end
  if k ~= "file" then args.fail(("the journal %s is not a regular file (it is a %s)"):format(path, k)) end
  local f, err = source.open(path, o.dry_run and "rb" or "r+b")
  if not f then
    args.fail(("cannot %s the journal %s: it may hold confirmed updates, so the run does not start over"
      .. " without it; make it readable and writable, or move it away"):format(o.dry_run and "read" or "use",
      tostring(err)))
  end
  f:close()
  if auto then
    notes[#notes + 1] = "lua-users: resuming: " .. path .. " holds the updates an unfinished run confirmed;"
      .. " they are skipped (--no-journal sends every row)"
  end
  return path, auto
end

--- The run's files for input (users.cli.input) and the parsed options o:
-- { journal = path | nil, auto = bool, failures = writer, notes = { line } }.
function _M.plan(o, input)
  local input_kind, input_id = "absent", nil
  if input.path ~= "-" then input_kind, input_id = kind(input.path) end
  local base, name = base_of(input.path, input_kind == "file")
  local notes = {}
  local jpath, auto = journal(o, name, notes)
  local fpath = o.failures or (base .. (o.dry_run and ".dry-run" or "") .. ".failures."
    .. (input.format == "csv" and "csv" or "jsonl"))
  local fkind, fid = kind(fpath)
  local jid = jpath and select(2, kind(jpath))
  if fpath == input.path or fpath == jpath or (fid and (fid == input_id or fid == jid)) then
    args.fail("the failures file must not be the input or the journal: " .. fpath, { usage = "bulk" })
  end
  local writer, ferr = failures.new(fpath, input, fkind)
  if not writer then args.fail(ferr) end
  return { journal = jpath, auto = auto, failures = writer, failures_path = fpath, notes = notes }
end

return _M
