--- The journal of a bulk run: an append-only file with one line per item the
-- provider confirmed, so that a rerun skips them. Lines are flushed one by one:
-- after a crash or SIGKILL at most the items in flight are sent again.
-- Memory stays small on a million-line journal: the items done without a gap
-- from the first one are kept as one number (the watermark), the rest as a
-- set, which stays about as large as the run's concurrency.
local _M = {}

local Journal = {}
Journal.__index = Journal

function _M.open(path)
  local j = setmetatable({ path = path, mark = 0, above = {} }, Journal)
  local f = io.open(path, "r")
  if f then
    for line in f:lines() do
      local index = line:match("^ok (%d+)\t") -- a torn last line does not match
      if index then j:_add(tonumber(index)) end
    end
    f:close()
  end
  local out, err = io.open(path, "a")
  if not out then return nil, "cannot open the journal " .. path .. ": " .. tostring(err) end
  out:setvbuf("no")
  j.file = out
  return j
end

function Journal:_add(index)
  if index <= self.mark then return end
  self.above[index] = true
  while self.above[self.mark + 1] do
    self.mark = self.mark + 1
    self.above[self.mark] = nil
  end
end

function Journal:is_done(index)
  return index <= self.mark or self.above[index] == true
end

--- Records a confirmed item (its index in the input, and its id for people).
function Journal:record(index, id)
  self.file:write("ok ", index, "\t", (tostring(id):gsub("[\r\n\t]", " ")), "\n")
  self:_add(index)
end

function Journal:close()
  if self.file then self.file:close() end
  self.file = nil
end

return _M
