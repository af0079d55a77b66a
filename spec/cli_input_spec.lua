-- lua-users bulk on the inputs people really have (issue 19): pipes and
-- standard input read in one pass, a JSON array, semicolon CSV, encodings
-- that are not UTF-8, quoted cells kept byte for byte, and a record of any
-- size read in bounded memory.
local env = require "spec.support.env"
local cli = require "spec.support.cli"

local run, vars, write, read = cli.run, cli.vars, env.write, env.read
local VALGRIND = os.getenv("LUA_USERS_VALGRIND")

local function rows(n, from, role)
  local t = {}
  for i = from or 1, (from or 1) + n - 1 do t[#t + 1] = "u" .. i .. "," .. (role or "member") end
  return t
end

local function csv(list, eol)
  eol = eol or "\n"
  return "id,role" .. eol .. table.concat(list, eol) .. eol
end

-- How many requests the fake got for each id, and how many ids.
local function per_id()
  local count, n = {}, 0
  for _, id in ipairs(cli.sent_ids("generic")) do
    if not count[id] then n = n + 1 end
    count[id] = (count[id] or 0) + 1
  end
  return count, n
end

describe("lua-users bulk input", function()
  local dir
  cli.fakes_and_dirs(function(d) dir = d end)

  describe("from a pipe or standard input", function()
    it("reads all 3000 rows of `-` in one pass and sends each once", function()
      write(dir .. "/users.csv", csv(rows(3000)))
      local out, err, code = run("bulk generic - --concurrency 16", vars("generic"), dir, "cat users.csv")
      assert.equal(0, code, err)
      assert.matches("generic: 3000 items, 3000 succeeded, 0 failed", out)
      local count, n = per_id()
      assert.equal(3000, n)
      for i = 1, 3000 do assert.equal(1, count["u" .. i], "u" .. i) end
      assert.is_nil(read(dir .. "/stdin.journal"), "a complete run removes its journal")
    end)

    it("reads all 3000 rows of /dev/stdin, and the format from the first byte: no second open, no seek", function()
      write(dir .. "/users.csv", csv(rows(3000)))
      local out, err, code = run("bulk generic --format csv /dev/stdin --dry-run", vars("generic"), dir, "cat users.csv")
      assert.equal(0, code, err)
      assert.matches("generic: 3000 items, 3000 succeeded", out)
      assert.equal(3000, select(2, out:gsub("\nPATCH [^\n]*/v1/users/u%d+ ", "")) + (out:find("^PATCH") and 1 or 0))
      -- JSON lines without --format: the first byte says so, and all three are read
      write(dir .. "/p.jsonl", '{"id":"a1","role":"x"}\n{"id":"a2","role":"x"}\n{"id":"a3","role":"x"}\n')
      out, err, code = run("bulk generic /dev/stdin", vars("generic"), dir, "cat p.jsonl")
      assert.equal(0, code, err)
      assert.matches("generic: 3 items, 3 succeeded", out)
      local _, n = per_id()
      assert.equal(3, n)
    end)

    it("writes a pipe's failures and journal after 'stdin' in the current directory", function()
      write(dir .. "/u.csv", csv { "u1,member", "missing,member" })
      local out, err, code = run("bulk generic -", vars("generic"), dir, "cat u.csv")
      assert.equal(1, code, err)
      assert.matches("failures: 1 row in stdin.failures.csv; fix them, then: lua-users bulk generic stdin.failures.csv", out,
                     1, true)
      assert.matches("\nmissing,member,generic: User not found\n", read(dir .. "/stdin.failures.csv"), 1, true)
    end)
  end)

  describe("formats", function()
    it("reads a .json file holding a JSON array as its items, from a file or a pipe", function()
      write(dir .. "/p.json", '[\n  {"id": 7, "workspaces": [1, 2]},\n  {"id": 8,\n   "workspaces": []},\n'
        .. '  {"id": 404, "workspaces": [3]},\n  ["not", "an object"]\n]\n')
      local out, err, code = run("bulk paradigm p.json --concurrency 1", vars("paradigm"), dir)
      assert.equal(1, code, err)
      assert.matches("paradigm: 4 items, 2 succeeded, 2 failed", out)
      assert.matches("line 6: not a JSON object", out, 1, true)
      local got = {}
      for _, r in ipairs(env.fake:requests()) do got[#got + 1] = r.uri:match("users/(%d+)/") .. " " .. r.body end
      assert.same({ '7 {"workspaces":[1,2]}', '8 {"workspaces":[]}', '404 {"workspaces":[3]}' }, got)
      -- its failures are JSON lines, each element on a line of its own, fed back as they are
      local failures = read(dir .. "/p.failures.jsonl")
      assert.matches('{"id": 404, "workspaces": [3],"_error":"paradigm: Not found."}\n', failures, 1, true)
      env.fake:reset()
      out, err, code = run("bulk paradigm - --no-journal", vars("paradigm"), dir, "cat p.json")
      assert.equal(1, code, err)
      assert.matches("paradigm: 4 items, 2 succeeded, 2 failed", out)
      write(dir .. "/bad.json", '[{"id": 7, "workspaces": [1]}, {"id": 8, "workspaces": [2]}')
      out = run("bulk paradigm bad.json --no-journal", vars("paradigm"), dir)
      assert.matches("2 items, 1 succeeded, 1 failed", out)
      assert.matches("the JSON array is not closed before the end of the file", out, 1, true)
    end)

    it("finds a semicolon, tab or sep= separator, or takes --delimiter, and writes failures with it", function()
      write(dir .. "/eu.csv", "id;email;first_name\r\nu1;a@example.com;\"Dupont; Jean\"\r\nmissing;b@example.com;B\r\n")
      local out, err, code = run("bulk generic eu.csv", vars("generic"), dir)
      assert.equal(1, code, err)
      assert.matches("2 items, 1 succeeded, 1 failed", out)
      assert.equal('{"email":"a@example.com","first_name":"Dupont; Jean"}', env.fake:requests()[1].body)
      assert.equal("id;email;first_name;_error\r\nmissing;b@example.com;B;generic: User not found\r\n",
                   read(dir .. "/eu.failures.csv"))
      for _, c in ipairs {
        { "t.tsv", "id\trole\nu1\tadmin\n", "", '{"role":"admin"}' },
        { "s.csv", "sep=|\nid|role\nu1|a,b\n", "", '{"role":"a,b"}' },
        { "one.csv", "id;role\nu1;x\n", "--delimiter ';'", '{"role":"x"}' },
      } do
        env.fake:reset()
        write(dir .. "/" .. c[1], c[2])
        out, err, code = run("bulk generic " .. c[1] .. " " .. c[3], vars("generic"), dir)
        assert.equal(0, code, err)
        assert.matches("1 items, 1 succeeded", out)
        assert.equal(c[4], env.fake:requests()[1].body)
      end
      out, err, code = run("bulk generic one.csv --delimiter ,", vars("generic"), dir) -- told otherwise
      assert.equal(2, code, out)
      assert.matches("names no `id` column .*; read with the separator ',': give another with %-%-delimiter", err)
    end)

    it("keeps a quoted cell byte for byte: a CRLF in it is sent as CRLF, an LF as LF", function()
      write(dir .. "/q.csv", 'id,first_name,last_name\r\nu1,"a\r\nb","c\nd"\r\nu2,"""x""",y\r\n')
      local _, err, code = run("bulk generic q.csv --concurrency 1", vars("generic"), dir)
      assert.equal(0, code, err)
      local reqs = env.fake:requests()
      assert.equal('{"first_name":"a\\r\\nb","last_name":"c\\nd"}', reqs[1].body)
      assert.equal('{"first_name":"\\"x\\"","last_name":"y"}', reqs[2].body)
    end)
  end)

  describe("encodings", function()
    local function nothing_sent(argline, feed, pattern)
      local out, err, code = run(argline, vars("generic"), dir, feed)
      assert.equal(2, code, out .. err)
      assert.equal("", out)
      assert.matches(pattern, err)
      assert.same({}, env.fake:requests())
    end

    it("refuses UTF-16, with or without a byte order mark, naming it, before anything is sent", function()
      local text = "id,role\nu1,admin\n"
      local le = text:gsub(".", "%0\0")
      write(dir .. "/bom.csv", "\255\254" .. le)
      nothing_sent("bulk generic bom.csv", nil,
        "^lua%-users: bom%.csv is UTF%-16LE, not UTF%-8 %(it starts with a UTF%-16LE byte order mark%): convert it first: iconv")
      write(dir .. "/nobom.csv", le)
      nothing_sent("bulk generic nobom.csv", nil, "nobom%.csv is UTF%-16LE, not UTF%-8 %(every other byte is NUL")
      write(dir .. "/be.csv", "\254\255" .. text:gsub(".", "\0%0"))
      nothing_sent("bulk generic - --format csv", "cat be.csv",
        "standard input is UTF%-16BE, not UTF%-8")
    end)

    it("refuses Windows-1252 or Latin-1 before anything is sent, whatever line its accents are on", function()
      local list = rows(2000)
      list[#list + 1] = "u2001,Chef de l'\233quipe" -- é in Windows-1252
      write(dir .. "/w.csv", csv(list, "\r\n"))
      nothing_sent("bulk generic w.csv", nil,
        "^lua%-users: w%.csv is not UTF%-8: line 2002 has the byte 0xE9 %(\195\169 in Windows%-1252 or Latin%-1 %(ISO%-8859%-1%)%)"
        .. ".*iconv %-f WINDOWS%-1252 %-t UTF%-8 w%.csv > utf8%-w%.csv\n$")
      write(dir .. "/q.csv", "id,role\nu1,\147quoted\148\n") -- curly quotes: Windows-1252 only
      nothing_sent("bulk generic q.csv", nil, "line 2 has the byte 0x93 %(\226\128\156 in Windows%-1252%)")
    end)

    it("from a pipe, refuses it before anything is sent in the first block, and stops at the line after it", function()
      write(dir .. "/early.csv", "id,first_name\nu1,Ren\233e\n")
      nothing_sent("bulk generic -", "cat early.csv", "standard input is not UTF%-8: line 2")
      local list = rows(300, 1, ("member"):rep(40)) -- past the first 64 KiB
      list[#list + 1] = "u301,\233"
      list[#list + 1] = "u302,member"
      write(dir .. "/late.csv", csv(list))
      local out, err, code = run("bulk generic - --concurrency 16", vars("generic"), dir, "cat late.csv")
      assert.equal(1, code, err)
      assert.matches("lua%-users: standard input is not UTF%-8: line 302 has the byte 0xE9 .* pipe it through iconv"
        .. " %-f WINDOWS%-1252 %-t UTF%-8\n", err)
      assert.matches("generic: 300 items, 300 succeeded, 0 failed, 0 skipped %(done before%), 0 not attempted, the input"
        .. " from line 302 on not read", out)
      assert.matches("Convert the input to UTF-8, then resume: the same input again, to lua-users bulk generic -", out, 1, true)
      local count, n = per_id()
      assert.equal(300, n)
      assert.is_nil(count.u302)
    end)
  end)

  describe("a record of any size", function()
    -- Runs the command in a Lua that writes its peak RSS (kB) to a file at the end.
    local function peak_rss(argline)
      write(dir .. "/rss.lua", ([[
        package.path = %q .. package.path
        local code = require("users.cli").main(arg)
        local s = io.open("/proc/self/status"):read("*a")
        io.open(%q, "w"):write(s:match("VmHWM:%%s*(%%d+)"))
        os.exit(code)]]):format(cli.ROOT .. "/lua/?.lua;", dir .. "/rss"))
      local cmd = cli.command(vars("generic")):gsub("%S+lua%-users'?$", cli.q(dir .. "/rss.lua"))
      local p = io.popen(("cd %s && %s %s >out 2>err; echo $?"):format(cli.q(dir), cmd, argline))
      local code = tonumber(p:read("*a"):match("(%d+)%s*$"))
      p:close()
      return tonumber(read(dir .. "/rss")), read(dir .. "/out"), read(dir .. "/err"), code
    end

    it("refuses one over 1 MiB with its lines, reads on, and keeps memory flat whatever the file holds", function()
      local mb = VALGRIND and 6 or 24
      -- generous: ASan's allocator keeps what is freed a while (its quarantine), valgrind its own; a
      -- reader that held the record took 20 times its size (4.4 GB for 200 MB)
      local bound = (VALGRIND or os.getenv("LUA_USERS_LUA")) and 64 * 1024 or 24 * 1024
      local filler = ("x"):rep(99) .. "\n"
      local big = { "id,role\nu1,admin\nu2,\"unclosed,admin\n" }
      big[2] = filler:rep(mb * 10486)
      write(dir .. "/big.csv", table.concat(big))
      write(dir .. "/small.csv", "id,role\nu1,admin\nu2,\"unclosed,admin\n" .. filler)
      local base = peak_rss("bulk generic small.csv --no-journal")
      local rss, out, err, code = peak_rss("bulk generic big.csv --no-journal")
      assert.equal(1, code, err)
      assert.matches("generic: 2 items, 1 succeeded, 1 failed", out)
      assert.matches("line 3: a record longer than 1 MiB %(it runs to line %d+: is a quote left open%?%); it was not read", out)
      assert.matches("not copied to big.failures.csv (longer than 1 MiB, not read): line 3 of big.csv", out, 1, true)
      assert.is_true(rss - base < bound, ("%d kB more for a %d MB record"):format(rss - base, mb))
      -- a JSON line of the same size: one error for that line, the next line is read
      write(dir .. "/big.jsonl", '{"id":"u1","role":"' .. filler:sub(1, 99):rep(mb * 10486) .. '"}\n{"id":"u2","role":"x"}\n')
      rss, out = peak_rss("bulk generic big.jsonl --no-journal")
      assert.matches("generic: 2 items, 1 succeeded, 1 failed", out)
      assert.matches("line 1: a line longer than 1 MiB; it was not read", out, 1, true)
      assert.is_true(rss - base < bound, ("%d kB more for a %d MB line"):format(rss - base, mb))
      assert.matches('^{"_error":"generic: line 1: a line longer than 1 MiB; it was not read %(the record is not copied here%)"}\n$',
                     read(dir .. "/big.failures.jsonl"))
    end)
  end)
end)
