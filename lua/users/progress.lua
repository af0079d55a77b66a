--- Progress of a bulk run: a live bar on stderr when it is a terminal, or a
-- callback `function(done, total, report)`.
local core = require "users.core"

local _M = {}

local floor, min, huge = math.floor, math.min, math.huge

local function clock(seconds)
  if seconds ~= seconds or seconds == huge then return "--:--" end
  seconds = floor(seconds + 0.5)
  if seconds >= 3600 then
    return ("%d:%02d:%02d"):format(floor(seconds / 3600), floor(seconds / 60) % 60, seconds % 60)
  end
  return ("%d:%02d"):format(floor(seconds / 60), seconds % 60)
end

-- One line: [#########.........] 1234/5000  24%  812/s  ETA 0:04  failed 3
function _M.line(done, total, failed, elapsed, width)
  local rate = elapsed > 0 and done / elapsed or 0
  local parts = {}
  if total then
    local frac = total > 0 and min(1, done / total) or 1
    local fill = floor(frac * width + 0.5)
    parts[#parts + 1] = "[" .. ("#"):rep(fill) .. ("."):rep(width - fill) .. "]"
    parts[#parts + 1] = ("%d/%d %3d%%"):format(done, total, floor(frac * 100))
  else
    parts[#parts + 1] = ("%d done"):format(done)
  end
  parts[#parts + 1] = ("%.0f/s"):format(rate)
  if total then
    parts[#parts + 1] = "ETA " .. clock(rate > 0 and (total - done) / rate or huge)
  else
    parts[#parts + 1] = clock(elapsed)
  end
  parts[#parts + 1] = "failed " .. failed
  return table.concat(parts, "  ")
end

--- A reporter: :update(report) after each item, :finish(report) at the end.
function _M.new(spec, total, started)
  local r = { last = -1 }
  if type(spec) == "function" then
    function r.update(_, report) spec(report.done, total, report) end
    function r.finish() end
  elseif spec == true and core.isatty(2) then
    local function draw(report)
      io.stderr:write("\r", _M.line(report.done, total, report.failed, core.now() - started, 30), "\27[K")
    end
    function r.update(self, report)
      local now = core.now()
      if now - self.last >= 0.1 then -- ten frames a second is enough for a person
        self.last = now
        draw(report)
      end
    end
    function r.finish(_, report)
      draw(report)
      io.stderr:write("\n")
    end
  else
    function r.update() end
    function r.finish() end
  end
  return r
end

return _M
