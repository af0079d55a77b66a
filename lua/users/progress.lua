--- Progress of a bulk run on stderr: a live bar when it is a terminal
-- (redrawn at most ten times a second, always one line shorter than the
-- terminal is wide, so it never wraps), else one plain line every few
-- seconds (a CI log or nohup.out shows the run moving); or a callback
-- `function(done, total, report)`.
--
--   [##########..........]  1234/5000  24%  812/s  ETA 0:04  3 failed
--
-- The rate counts the items sent, not those a journal skipped.
local core = require "users.core"

local _M = {}

local floor, min, max, huge = math.floor, math.min, math.max, math.huge
local concat = table.concat
local type, tonumber, getenv = type, tonumber, os.getenv

--- m:ss, or h:mm:ss; "--:--" when unknown.
function _M.clock(seconds)
  if seconds ~= seconds or seconds == huge or seconds < 0 then return "--:--" end
  seconds = floor(seconds + 0.5)
  if seconds >= 3600 then
    return ("%d:%02d:%02d"):format(floor(seconds / 3600), floor(seconds / 60) % 60, seconds % 60)
  end
  return ("%d:%02d"):format(floor(seconds / 60), seconds % 60)
end
local clock = _M.clock

-- The figures of a state { done, total, failed, skipped, elapsed }.
local function figures(s)
  local sent = s.done - (s.skipped or 0)
  local rate = s.elapsed > 0 and sent / s.elapsed or 0
  local frac = s.total and (s.total > 0 and min(1, s.done / s.total) or 1)
  local eta = s.total and (s.done >= s.total and 0 or (rate > 0 and (s.total - s.done) / rate or huge))
  return rate, frac, eta
end

--- One line of at most width - 1 characters (the last column is never
-- written: a terminal would wrap there). Parts give way as the width
-- shrinks: skipped, then rate, then percent, then ETA, then the bar.
function _M.line(s, width)
  width = max(1, floor(width or 80)) - 1
  local rate, frac, eta = figures(s)
  local count = s.total and ("%d/%d"):format(s.done, s.total) or ("%d done"):format(s.done)
  local parts = {
    { "count", count },
    { "pct", frac and ("%d%%"):format(floor(frac * 100)) },
    { "rate", ("%.0f/s"):format(rate) },
    { "eta", s.total and ("ETA " .. clock(eta)) or clock(s.elapsed) },
    { "failed", ("%d failed"):format(s.failed or 0) },
    { "skipped", (s.skipped or 0) > 0 and ("%d skipped"):format(s.skipped) or nil },
  }
  local drop = { skipped = 1, rate = 2, pct = 3, eta = 4 }
  local sep = width >= 60 and "  " or " "
  local function text(level)
    local out = {}
    for _, p in ipairs(parts) do
      if p[2] and not (drop[p[1]] and drop[p[1]] <= level) then out[#out + 1] = p[2] end
    end
    return concat(out, sep)
  end
  local function with_bar(t, cells)
    local fill = floor(frac * cells + 0.5)
    return "[" .. ("#"):rep(fill) .. ("."):rep(cells - fill) .. "]" .. sep .. t
  end
  if frac then
    for _, least in ipairs({ 8, 4 }) do
      for level = 0, 4 do
        local t = text(level)
        local cells = width - #t - #sep - 2
        if cells >= least then return with_bar(t, min(cells, 60)) end
      end
    end
  end
  for level = 0, 4 do
    local t = text(level)
    if #t <= width then return t end
  end
  return text(4):sub(1, width)
end

--- The plain line for logs: "progress: 1234/5000 (24%), 812/s, ETA 0:04, 3 failed".
function _M.plain(s)
  local rate, frac, eta = figures(s)
  local out = { s.total and ("%d/%d (%d%%)"):format(s.done, s.total, floor(frac * 100)) or ("%d done"):format(s.done),
                ("%.0f/s"):format(rate),
                s.total and ("ETA " .. clock(eta)) or ("elapsed " .. clock(s.elapsed)),
                ("%d failed"):format(s.failed or 0) }
  if (s.skipped or 0) > 0 then out[#out + 1] = ("%d skipped"):format(s.skipped) end
  return "progress: " .. concat(out, ", ")
end

--- The terminal's width on stderr: the terminal's own, else $COLUMNS, else 80.
-- (users.cli_core, loaded only by a bar drawn on a terminal.)
function _M.width()
  return require("users.cli_core").term_width(2) or tonumber(getenv("COLUMNS") or "") or 80
end

local function state(report, total, started)
  return { done = report.done, total = total, failed = report.failed,
           skipped = report.skipped, elapsed = core.now() - started }
end

--- A reporter: :update(report) after each item, :finish(report) at the
-- end, :log(line) for a line of its own above the bar.
-- spec: true (stderr: a bar on a terminal, plain lines otherwise), a
-- function, or false. opts: interval (seconds between plain lines, 5),
-- tty (force one way or the other), out (a file, io.stderr).
function _M.new(spec, total, started, opts)
  opts = opts or {}
  local out = opts.out or io.stderr
  local r = { last = -huge }
  if type(spec) == "function" then
    function r.update(_, report) spec(report.done, total, report) end
    function r.finish() end
    function r.log(_, line) out:write(line, "\n") end
    return r
  end
  if spec ~= true then
    function r.update() end
    function r.finish() end
    function r.log(_, line) out:write(line, "\n") end
    return r
  end
  local tty = opts.tty
  if tty == nil then tty = core.isatty(2) end
  if tty then
    local drawn
    local function draw(report)
      drawn = report
      out:write("\r", _M.line(state(report, total, started), _M.width()), "\27[K")
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
      out:write("\n")
      drawn = nil
    end
    function r.log(_, line)
      out:write("\r\27[K", line, "\n")
      if drawn then draw(drawn) end
    end
  else
    local interval = opts.interval or 5
    r.last = started
    function r.update(self, report)
      local now = core.now()
      if now - self.last >= interval then
        self.last = now
        out:write(_M.plain(state(report, total, started)), "\n")
        if out.flush then out:flush() end
      end
    end
    function r.finish(_, report)
      if not opts.quiet_finish then out:write(_M.plain(state(report, total, started)), "\n") end
    end
    function r.log(_, line) out:write(line, "\n") end
  end
  return r
end

return _M
