-- Ambiguous outcomes in the command (issue 20): a lancepilot avatar upload
-- (not idempotent) whose answer is lost is reported as an unknown outcome,
-- kept in the journal and marked in the failures file; a rerun of either
-- holds it back and says so, until --resend-unknown; --retry-ambiguous
-- sends it again at once.
local env = require "spec.support.env"
local cli = require "spec.support.cli"

local run, vars, write, read = cli.run, cli.vars, env.write, env.read

describe("the command and unknown outcomes", function()
  local dir
  cli.fakes_and_dirs(function(d) dir = d end)

  -- Three lancepilot rows, each uploading an avatar; the first request's
  -- answer is dropped after the server applied it.
  local function input(format)
    write(dir .. "/a.png", env.PNG)
    if format == "jsonl" then
      local rows = {}
      for i = 1, 3 do
        rows[i] = ('{"id": %d, "name": "N %d", "email": "u%d@example.com", "timezone": "UTC", "status": true,'
          .. ' "avatar": "a.png"}'):format(i, i, i)
      end
      write(dir .. "/u.jsonl", table.concat(rows, "\n") .. "\n")
      return "u.jsonl"
    end
    write(dir .. "/u.csv", "id,name,email,timezone,status,avatar\n1,N 1,u1@example.com,UTC,true,a.png\n"
      .. "2,N 2,u2@example.com,UTC,true,a.png\n3,N 3,u3@example.com,UTC,true,a.png\n")
    return "u.csv"
  end

  local function sent() return #env.fake:requests("lancepilot") end

  for _, format in ipairs { "csv", "jsonl" } do
    it("marks the row in the failures file (" .. format .. "); a rerun of it holds the row back until"
      .. " --resend-unknown", function()
      local file = input(format)
      local failures, again = "u.failures." .. format, "u.failures.failures." .. format
      local line = format == "csv" and 2 or 1 -- the first row's
      env.fake:behave("lancepilot", { drop = true, times = 1 })
      local out, err, code = run("bulk lancepilot " .. file .. " --concurrency 1 --retries 3 --no-journal",
                                 vars("lancepilot"), dir)
      assert.equal(1, code, out .. err)
      assert.equal(3, sent())
      assert.matches("3 items, 2 succeeded, 1 failed %(1 outcome unknown%)", out)
      assert.matches("outcome unknown %(sent, but no answer came back: they may have been applied, so they"
        .. " were not sent again%): line " .. line, out)
      assert.matches("1 marked unknown_outcome: a rerun holds them back", out)
      local text = read(dir .. "/" .. failures)
      assert.matches("unknown_outcome: lancepilot: sent, but no answer came back", text)

      env.fake:reset() -- the failures file fed back: held, nothing sent, still marked
      out, err, code = run("bulk lancepilot " .. failures .. " --no-journal", vars("lancepilot"), dir)
      assert.equal(1, code, out .. err)
      assert.equal(0, sent())
      assert.matches("1 items, 0 succeeded, 1 failed %(1 outcome unknown%)", out)
      assert.matches("held back, not sent %(an earlier run sent them without an answer%)", out)
      assert.matches("unknown_outcome: lancepilot: not sent", read(dir .. "/" .. again)) -- marked again

      out, err, code = run("bulk lancepilot " .. failures .. " --no-journal --resend-unknown", vars("lancepilot"), dir)
      assert.equal(0, code, out .. err)
      assert.equal(1, sent())
      assert.is_nil(read(dir .. "/" .. again))
    end)
  end

  it("keeps it in the journal as unknown: a resumed run holds it back, --resend-unknown sends it", function()
    local file = input("csv")
    env.fake:behave("lancepilot", { drop = true, times = 1 })
    local out, err, code = run("bulk lancepilot " .. file .. " --concurrency 1 --journal j", vars("lancepilot"), dir)
    assert.equal(1, code, out .. err)
    assert.matches("\nunknown " .. ("%x"):rep(16) .. "\t", read(dir .. "/j"))
    env.fake:reset()
    out, err, code = run("bulk lancepilot " .. file .. " --journal j", vars("lancepilot"), dir)
    assert.equal(1, code, out .. err)
    assert.equal(0, sent())
    assert.matches("3 items, 0 succeeded, 1 failed %(1 outcome unknown%), 2 skipped", out)
    out, err, code = run("bulk lancepilot " .. file .. " --journal j --resend-unknown", vars("lancepilot"), dir)
    assert.equal(0, code, out .. err)
    assert.equal(1, sent())
  end)

  it("--retry-ambiguous sends it again at once", function()
    local file = input("csv")
    env.fake:behave("lancepilot", { drop = true, times = 1 })
    local out, err, code = run("bulk lancepilot " .. file .. " --concurrency 1 --retries 1 --retry-ambiguous"
      .. " --no-journal", vars("lancepilot"), dir)
    assert.equal(0, code, out .. err)
    assert.equal(4, sent())
    write(dir .. "/one.png", env.PNG)
    env.fake:behave("lancepilot", { drop = true, times = 1 })
    out, err, code = run("update lancepilot 1 name=N email=u@example.com timezone=UTC status=true avatar=one.png"
      .. " --retries 1", vars("lancepilot"), dir)
    assert.equal(1, code, out .. err)
    assert.matches("sent, but no answer came back %(.*%): the update may have been applied", err)
  end)
end)
