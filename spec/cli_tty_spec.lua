-- lua-users bulk in a terminal: tmux runs the command in pseudo-terminals
-- 40, 80 and 200 columns wide, and the screen is read back. The bar must
-- fit (never wrap, so never scroll) and show done/total, percent, rate,
-- ETA and failures where there is room.
local env = require "spec.support.env"
local cli = require "spec.support.cli"

local q = cli.q
local has_tmux = os.execute("command -v tmux >/dev/null 2>&1")
has_tmux = has_tmux == true or has_tmux == 0

describe("lua-users bulk in a terminal", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)

  local it_tmux = has_tmux and it or pending

  it_tmux("draws one bar that fits 40, 80 and 200 columns", function()
    local dir = cli.dir()
    local lines = { "id,role" }
    for i = 1, 29 do lines[#lines + 1] = "u" .. i .. ",member" end
    lines[#lines + 1] = "missing,member"
    env.write(dir .. "/u.csv", table.concat(lines, "\n") .. "\n")
    env.fake:behave("generic", { delay = 0.05 })
    local sock = dir .. "/tmux.sock"
    local tmux = "tmux -S " .. q(sock) .. " -f /dev/null "
    local widths = { 40, 80, 200 }
    for _, w in ipairs(widths) do
      local cmd = ("cd %s && %s bulk generic u.csv --concurrency 2 --no-journal; echo EXIT:$?; sleep 60")
        :format(q(dir), cli.command(cli.vars("generic")))
      assert(os.execute(tmux .. ("new-session -d -s w%d -x %d -y 20 %s"):format(w, w, q(cmd))))
    end
    local screens = {}
    for _ = 1, 150 do
      local all = true
      for _, w in ipairs(widths) do
        local s = env.sh(tmux .. "capture-pane -p -t w" .. w)
        screens[w] = s
        if not s:find("EXIT:", 1, true) then all = false end
      end
      if all then break end
      os.execute("sleep 0.1")
    end
    os.execute(tmux .. "kill-server 2>/dev/null")
    env.fake:behave("generic", false)
    cli.rm(dir)

    for _, w in ipairs(widths) do
      local s = screens[w]
      local rows = {}
      for row in (s .. "\n"):gmatch("(.-)\n") do rows[#rows + 1] = row end
      assert.matches("EXIT:1", s, 1, true)
      -- The bar is the first row, the summary right below it: a bar that
      -- wrapped would have left its pieces on rows of their own.
      local bar = rows[1]
      assert.is_true(#bar <= w - 1, ("%d columns: a bar of %d: %q"):format(w, #bar, bar))
      assert.matches("30/30", bar)
      assert.matches("1 failed", bar)
      assert.matches("^generic: 30 items, 29 succeeded", rows[2])
      if w >= 80 then
        assert.matches("^%[#+%]  30/30  100%%  %d+/s  ETA 0:00  1 failed$", bar)
      else
        assert.matches("^%[#+%] 30/30 ", bar)
      end
    end
  end)
end)
