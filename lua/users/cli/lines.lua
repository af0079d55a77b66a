--- Line numbers of rows, for messages that say which rows something
-- happened to ("lines 3-7, 9 and 12"): added in any order (a bulk run
-- finishes rows out of order), told as sorted ranges. At most MAX are
-- kept; past them only the count grows.
local _M = { MAX = 100000 }

local sort, concat = table.sort, table.concat

local Lines = {}
Lines.__index = Lines

function _M.new()
  return setmetatable({ n = 0, list = {} }, Lines)
end

--- Adds a line (nil: a row whose line is not known, counted only).
function Lines:add(line)
  self.n = self.n + 1
  if line and #self.list < _M.MAX then self.list[#self.list + 1] = line end
end

--- "3-7, 9 and 12", at most `most` ranges (then "... and N more lines").
function Lines:text(most)
  most = most or 20
  local l = self.list
  sort(l)
  local ranges, shown, i = {}, 0, 1
  while i <= #l and #ranges < most do
    local j = i
    while j < #l and l[j + 1] <= l[j] + 1 do j = j + 1 end
    ranges[#ranges + 1] = l[i] == l[j] and tostring(l[i]) or (l[i] .. "-" .. l[j])
    for k = i, j do if k == i or l[k] ~= l[k - 1] then shown = shown + 1 end end
    i = j + 1
  end
  local rest = self.n - shown
  if #ranges == 0 then return rest .. (rest == 1 and " row" or " rows") end
  local text = (#l == 1 and "line " or "lines ") .. concat(ranges, ", ")
  if rest > 0 then return text .. (" and %d more"):format(rest) end
  return (text:gsub(", ([^,]+)$", " and %1"))
end

return _M
