-- The files a bulk run writes (issue 19): every path checked before
-- anything is sent, every write and close checked (a full disk, /dev/full),
-- a run whose files could not be written is not complete and says what was
-- lost, a clean rerun leaves no old failures file; the journal counts past
-- 255, is locked against a second run, and is refused when it cannot be read.
local env = require "spec.support.env"
local cli = require "spec.support.cli"

local run, vars, write, read, q = cli.run, cli.vars, env.write, env.read, cli.q

local function csv(header, list)
  return header .. "\n" .. table.concat(list, "\n") .. "\n"
end

-- The whole lines of confirmed updates in a journal (a line cut short by a
-- full disk is not one).
local function confirmed(path)
  return select(2, (read(path) or ""):gsub("ok " .. ("%x"):rep(16) .. "\t[^\n]*\n", ""))
end

local function is_root()
  return (env.sh("id -u"):match("^%s*(%d+)")) == "0"
end

-- Runs test(disk, prefix) with a directory whose files cannot grow past
-- about 64 KB: a small tmpfs when one can be mounted, else the command's
-- RLIMIT_FSIZE (its writes past the limit fail with EFBIG, SIGXFSZ
-- ignored): `prefix` is then the shell words to put before the command.
local function on_small_disk(dir, test)
  local disk = dir .. "/disk"
  os.execute("mkdir -p " .. q(disk))
  local mounted = os.execute("mount -t tmpfs -o size=64k tmpfs " .. q(disk) .. " 2>/dev/null")
  mounted = mounted == true or mounted == 0
  local ok, e = pcall(test, disk, not mounted and "ulimit -f 128; trap '' XFSZ; " or nil)
  if mounted then os.execute("umount " .. q(disk)) end
  assert(ok, e)
end

describe("lua-users bulk files", function()
  local dir
  cli.fakes_and_dirs(function(d) dir = d end)

  describe("failures and journal writes, checked", function()
    it("--failures /dev/full: the run stops, keeps its journal, and says which failed rows are lost", function()
      local list = {}
      for i = 1, 40 do list[#list + 1] = ("u%d,%s"):format(i, i % 2 == 0 and "taken" or "free") end
      write(dir .. "/u.csv", csv("id,username", list))
      local out, err, code = run("bulk generic u.csv --concurrency 1 --failures /dev/full", vars("generic"), dir)
      assert.equal(1, code, err)
      assert.matches("^lua%-users: cannot write the failures file /dev/full %(No space left on device%): it holds 0 of"
        .. " the 1 failed rows %(the last maybe cut short%); not in it: line 3\n", err)
      assert.matches("generic: 40 items, 1 succeeded, 1 failed, 0 skipped %(done before%), 38 not attempted", out)
      assert.matches("\nstopped: 38 items not attempted. Free space for /dev/full (or give --failures FILE), then resume:"
        .. " lua-users bulk generic u.csv --concurrency 1 --failures /dev/full\n", out, 1, true)
      assert.is_nil(out:find("failures: ", 1, true), "no failures file is claimed")
      assert.equal(1, confirmed(dir .. "/u.csv.journal"), "the journal is kept, with what was confirmed")
    end)

    it("on a full disk: the failures file holds what it could, and the summary says what is not in it", function()
      on_small_disk(dir, function(disk, prefix)
        local list = {}
        for i = 1, 1500 do list[#list + 1] = ("u%d,taken,%s"):format(i, ("long name "):rep(10)) end
        write(dir .. "/u.csv", csv("id,username,first_name", list))
        local out, err, code = run("bulk generic u.csv --concurrency 4 --failures disk/f.csv", vars("generic"), dir, nil, prefix)
        assert.equal(1, code, err)
        local held, failed = err:match("cannot write the failures file disk/f%.csv %([^)]+%): it holds (%d+) of the (%d+)"
          .. " failed rows %(the last maybe cut short%); not in it: lines? [%d%-, and]+\n")
        assert.truthy(held, err)
        held, failed = tonumber(held), tonumber(failed)
        assert.is_true(held > 10 and held < failed, err)
        local rows = select(2, read(disk .. "/f.csv"):gsub("\nu%d+,taken", ""))
        assert.is_true(rows == held or rows == held + 1, rows .. " rows, " .. held .. " said")
        assert.matches("stopped: %d+ items not attempted%. Free space for disk/f%.csv", out)
        assert.truthy(read(dir .. "/u.csv.journal"), "the journal is kept")
      end)
    end)

    it("on a full disk: a journal that cannot be written stops the run, and the resume sends what it lost", function()
      on_small_disk(dir, function(disk, prefix)
        local list = {}
        for i = 1, 1500 do list[#list + 1] = ("u%d%s,member"):format(i, ("x"):rep(100)) end
        write(dir .. "/u.csv", csv("id,role", list))
        local out, err, code = run("bulk generic u.csv --concurrency 4 --journal disk/j", vars("generic"), dir, nil, prefix)
        assert.equal(1, code, err)
        local lost = tonumber(err:match("lua%-users: cannot write the journal disk/j: [^:]+: (%d+) confirmed updates are not"
          .. " in it %(lines? [%d%-, and]+%): a resume sends them again\n"))
        assert.truthy(lost and lost >= 1 and lost <= 4, err)
        assert.matches("\nstopped: %d+ items not attempted%. Free space for the journal, then resume: lua%-users bulk", out)
        local kept = confirmed(disk .. "/j")
        assert.is_true(kept > 100 and kept < 1500, kept)
        -- the resume, with room: exactly what the journal does not hold is sent
        os.execute(("cp %s %s"):format(q(disk .. "/j"), q(dir .. "/j")))
        env.fake:reset()
        out, err, code = run("bulk generic u.csv --journal j", vars("generic"), dir)
        assert.equal(0, code, err)
        assert.matches(("1500 items, %d succeeded, 0 failed, %d skipped"):format(1500 - kept, kept), out)
      end)
    end)

    it("checks every path it will write before anything is sent: exit 2, nothing sent", function()
      write(dir .. "/u.csv", csv("id,role", { "u1,admin", "missing,admin" }))
      for _, c in ipairs {
        { "--failures /nonexistent/dir/f.csv", "^lua%-users: cannot write the failures file /nonexistent/dir/f%.csv: No such file" },
        { "--journal /nonexistent/dir/j", "^lua%-users: cannot write the journal /nonexistent/dir/j: No such file" },
        { "--journal .", "^lua%-users: the journal %. is not a regular file %(it is a directory%)" },
        { "--failures u.csv.journal --journal u.csv.journal", "the failures file must not be the input or the journal" },
        { "--failures ./u.csv", "the failures file must not be the input or the journal: %./u%.csv" },
      } do
        local out, err, code = run("bulk generic u.csv " .. c[1], vars("generic"), dir)
        assert.equal(2, code, c[1] .. ": " .. out .. err)
        assert.matches(c[2], err)
        assert.equal("", out)
      end
      assert.same({}, env.fake:requests())
      assert.equal("id,role\nu1,admin\nmissing,admin\n", read(dir .. "/u.csv"))
    end)

    it("a clean rerun removes the previous run's failures file", function()
      write(dir .. "/u.csv", csv("id,role", { "u1,admin", "u2,admin", "u3,admin" }))
      env.fake:behave("generic", { respond = { status = 500, body = "{}" }, times = 2 })
      local out, err, code = run("bulk generic u.csv --concurrency 1 --retries 0", vars("generic"), dir)
      assert.equal(1, code, err)
      assert.matches("failures: 2 rows in u.failures.csv", out, 1, true)
      assert.truthy(read(dir .. "/u.failures.csv"))
      out, err, code = run("bulk generic u.csv", vars("generic"), dir)
      assert.equal(0, code, err)
      assert.matches("3 items, 3 succeeded", out)
      assert.is_nil(read(dir .. "/u.failures.csv"), "the old failures are gone")
    end)
  end)

  describe("the journal", function()
    it("counts confirmations past 255: 300 identical updates confirmed skip 300 copies", function()
      local list = {}
      for i = 1, 300 do list[i] = "u1,member" end
      write(dir .. "/a.csv", csv("id,role", list))
      local out, err, code = run("bulk generic a.csv --journal j --concurrency 16", vars("generic"), dir)
      assert.equal(0, code, err)
      assert.matches("300 items, 300 succeeded", out)
      list[301] = "u1,member"
      write(dir .. "/b.csv", csv("id,role", list))
      env.fake:reset()
      out, err, code = run("bulk generic b.csv --journal j", vars("generic"), dir)
      assert.equal(0, code, err)
      assert.matches("301 items, 1 succeeded, 0 failed, 300 skipped", out)
      assert.equal(1, #env.fake:requests())
    end)

    it("is locked against a second run at once, which is refused; a run that died leaves no lock", function()
      local list = {}
      for i = 1, 20 do list[#list + 1] = "u" .. i .. ",member" end
      write(dir .. "/a.csv", csv("id,role", list))
      write(dir .. "/b.csv", csv("id,role", { "v1,member", "v2,member" }))
      env.fake:behave("generic", { delay = 0.2 })
      local pid, finish = cli.start("bulk generic a.csv --journal j --concurrency 1", vars("generic"), dir, "a")
      for _ = 1, 6000 do -- (a cap only: under valgrind the first confirmation takes a while)
        if confirmed(dir .. "/j") >= 1 then break end
        os.execute("sleep 0.01")
      end
      assert.is_true(confirmed(dir .. "/j") >= 1, "the first run confirms an update")
      env.fake:behave("generic", { delay = 60 }) -- the first run's next request holds it, and its lock, for long
      local out, err, code = run("bulk generic b.csv --journal j", vars("generic"), dir)
      assert.equal(2, code, out .. err)
      assert.matches("^lua%-users: the journal j is in use by another run %(lua%-users bulk or bulk_update", err)
      assert.is_nil(read(dir .. "/b.failures.csv"))
      os.execute("kill -KILL " .. pid)
      finish()
      for _, id in ipairs(cli.sent_ids("generic")) do assert.is_nil(id:match("^v"), "the second run sent " .. id) end
      env.fake:behave("generic", false)
      local done = confirmed(dir .. "/j")
      out, err, code = run("bulk generic a.csv --journal j", vars("generic"), dir)
      assert.equal(0, code, err)
      assert.matches(("20 items, %d succeeded, 0 failed, %d skipped"):format(20 - done, done), out)
    end)

    it("refuses a journal it cannot read, and never starts over without it", function()
      write(dir .. "/u.csv", csv("id,role", { "u1,member", "u2,member" }))
      local _, err, code = run("bulk generic u.csv --journal j", vars("generic"), dir)
      assert.equal(0, code, err)
      env.fake:reset()
      write(dir .. "/u.csv.journal", read(dir .. "/j")) -- the automatic one, left by a run that stopped
      local before = read(dir .. "/j")
      os.execute("chmod 000 " .. q(dir .. "/j") .. " " .. q(dir .. "/u.csv.journal"))
      -- root reads any file: the command runs as nobody then
      local prefix = is_root() and "setpriv --reuid=65534 --regid=65534 --clear-groups " or nil
      os.execute("chmod 755 " .. q(dir))
      for _, c in ipairs { { "--journal j", "j" }, { "", "u.csv.journal" } } do
        local out, err2, code2 = run("bulk generic u.csv " .. c[1], vars("generic"), dir, nil, prefix)
        assert.equal(2, code2, out .. err2)
        assert.matches("^lua%-users: cannot use the journal " .. c[2]:gsub("%.", "%%.") .. ": Permission denied: it may hold"
          .. " confirmed updates, so the run does not start over without it", err2)
      end
      os.execute("chmod 644 " .. q(dir .. "/j") .. " " .. q(dir .. "/u.csv.journal"))
      assert.equal(before, read(dir .. "/j"))
      assert.equal(before, read(dir .. "/u.csv.journal"))
      assert.same({}, env.fake:requests())
    end)

    -- The interleavings of two runs, driven in this process: the command's
    -- modules, and "another run" that opens the journal as bulk_update does.
    describe("and another run at the same moment", function()
      local cli_core = require "users.cli_core"
      local journal = require "users.journal"
      local paths = require "users.cli.paths"
      local failures = require "users.cli.failures"
      local scope = { provider = "generic", base_url = "http://x" }

      it("a run that found the journal absent, as another created and locked it, is refused and removes nothing", function()
        local path = dir .. "/j"
        write(dir .. "/u.csv", "id,role\nu1,member\n")
        local real, other, started = cli_core.kind, nil, false
        cli_core.kind = function(p) -- the other run starts between this one's look at the path and its next step
          local k, id = real(p)
          if p == path and not started then
            started = true
            other = assert(journal.open(path, scope))
          end
          return k, id
        end
        local ok, e = pcall(paths.plan, { journal = path, failures = dir .. "/f.csv" }, { path = dir .. "/u.csv", format = "csv" })
        cli_core.kind = real
        assert.is_false(ok)
        assert.truthy(tostring(e):find("the journal " .. path .. " is in use by another run", 1, true), tostring(e))
        other:record(journal.key("u1", {}), "u1")
        assert.is_true(other:close())
        assert.equal(1, confirmed(path), "the other run's journal is still at its path")
        assert.is_nil(read(dir .. "/f.csv"))
      end)

      it("checking a failures file that was absent removes nothing another run made there meanwhile", function()
        local path = dir .. "/f.csv"
        write(path, "id,_error\nu1,taken\n") -- another run's, written since this one found nothing there
        assert(failures.new(path, { format = "csv" }, "absent"))
        assert.equal("id,_error\nu1,taken\n", read(path))
        os.remove(path)
        assert(failures.new(path, { format = "csv" }, "absent"))
        assert.is_nil(read(path), "the check leaves nothing behind")
        local none, err = failures.new(dir .. "/none/f.csv", { format = "csv" }, "absent")
        assert.is_nil(none)
        assert.equal("cannot write the failures file " .. dir .. "/none/f.csv: No such file or directory", err)
      end)

      it("the journal is locked from the plan to the summary, and a finished run's is removed before the lock goes", function()
        write(dir .. "/u.csv", "id,role\nu1,member\n")
        local input = { path = dir .. "/u.csv", format = "csv" }
        local path = dir .. "/u.csv.journal"
        local plan = paths.plan({}, input)
        assert.equal(path, plan.journal)
        assert.equal("busy", select(3, cli_core.lock(path)), "locked from the plan on")
        local j = assert(journal.open(path, scope)) -- the run (bulk_update) uses the plan's lock
        j:record(journal.key("u1", {}), "u1")
        assert.is_true(j:close())
        -- Between the run's end and its summary another run (a lock of its
        -- own) cannot take the journal up, to have it removed under it.
        assert.equal("busy", select(3, cli_core.lock(path)), "still locked after the run")
        plan.failures:close()
        assert.is_true(paths.release(plan, true))
        assert.equal("absent", cli_core.kind(path))
        -- A run that does not start (its failures file is a directory) leaves
        -- no journal of its own making, and no lock.
        os.execute("mkdir " .. q(dir .. "/fdir"))
        local ok, e = pcall(paths.plan, { failures = dir .. "/fdir" }, input)
        assert.is_false(ok)
        assert.matches("is a directory", tostring(e))
        assert.equal("absent", cli_core.kind(path))
        -- Nor does one that opened it and then failed (nothing in it).
        plan = paths.plan({}, input)
        assert(journal.open(path, scope)):close()
        plan.failures:close(true)
        assert.is_true(paths.release(plan, "unstarted"))
        assert.equal("absent", cli_core.kind(path))
      end)
    end)

    it("refuses a journal holding a state it does not know, naming it", function()
      write(dir .. "/u.csv", csv("id,role", { "u1,member" }))
      write(dir .. "/j", '# lua-users journal 2 {"provider":"generic","base_url":"' .. env.fake:base_url("generic") .. '"}\n'
        .. "ok 0123456789abcdef\tu0\nreverted 3f2a9c0e1b7d4a55\tu1\n")
      local out, err, code = run("bulk generic u.csv --journal j", vars("generic"), dir)
      assert.equal(2, code, out .. err)
      assert.matches("the journal j holds a state this lua%-users does not know %('reverted', line 3%): a newer version", err)
      assert.same({}, env.fake:requests())
    end)
  end)
end)
