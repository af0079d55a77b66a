-- The lua-users command, run as a child process on real files against the
-- loopback fakes: its subcommands, help and mistakes, update, and bulk
-- runs from CSV and JSON lines with their failures files.
local env = require "spec.support.env"
local cli = require "spec.support.cli"

local run, vars, write, read = cli.run, cli.vars, env.write, env.read

local function no_traceback(s)
  assert.is_nil(s:find("traceback", 1, true), s)
  assert.is_nil(s:find("%.lua:%d+:"), s)
end

describe("lua-users", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)
  before_each(function() env.fake:reset() end)

  describe("providers, describe and help", function()
    it("lists the providers and describes one: fields, rules, id format, environment", function()
      local out, _, code = run("providers")
      assert.equal(0, code)
      assert.matches("^activepieces +Activepieces\ngeneric +Generic REST API\nlancepilot", out)
      out, _, code = run("describe lexful")
      assert.equal(0, code)
      assert.matches("PATCH {base}/v1/users/{id}", out, 1, true)
      assert.matches("id: +a UUID", out)
      assert.matches("\n  first_name +string, 1 to 100 characters; may be null[^\n]*\n", out) -- (its description)
      assert.matches("role +one of: system_admin, system_support, admin", out)
      assert.matches('account_scopes +array, each item a UUID or "%*"', out)
      for _, var in ipairs { "LEXFUL_TOKEN", "LEXFUL_KEY_ID, LEXFUL_KEY_SECRET", "LEXFUL_ACCOUNT_ID", "LEXFUL_BASE_URL" } do
        assert.matches("\n  " .. var:gsub("%p", "%%%0"), out)
      end
      out = run("describe lancepilot")
      assert.matches("workspace: a UUID, from LANCEPILOT_WORKSPACE", out, 1, true)
      assert.matches("\n  status +required; boolean\n", out)
      assert.matches("timezone +required; one of %d+ values", out)
      assert.matches("arrays a;b;c or a JSON array", out, 1, true)
    end)

    it("has --help for every subcommand: options, input, environment, exit codes", function()
      for _, c in ipairs { "", "providers ", "describe ", "update ", "bulk " } do
        local out, err, code = run(c .. "--help")
        assert.equal(0, code, err)
        assert.matches("^usage: lua%-users", out)
        assert.matches("130 +interrupted", out)
        assert.matches("2 +usage or configuration error", out)
      end
      local out = run("bulk --help")
      for _, opt in ipairs { "--format csv|jsonl", "--concurrency N", "--rate R", "--retries N", "--journal FILE",
                             "--failures FILE", "--dry-run", "--verbose", "--max-auth-failures N", "--base-url URL" } do
        assert.matches(opt, out, 1, true)
      end
      assert.matches("UTF-8 BOM", out, 1, true)
      assert.matches("JSON lines", out, 1, true)
      assert.matches("GENERIC_BASE_URL", out, 1, true)
      assert.matches("LANCEPILOT_WORKSPACE", out, 1, true)
      out = run("help update")
      assert.matches("--json OBJECT", out, 1, true)
      out = run("--version")
      assert.matches("^lua%-users %d+%.%d+%.%d+\n$", out)
    end)

    it("answers a mistake with one line and the usage, exit 2, never a traceback", function()
      local dir = cli.dir()
      write(dir .. "/x.csv", "id,role\nu1,admin\n")
      local cases = {
        { "", "^usage: lua%-users" },
        { "frobnicate", "^lua%-users: unknown command 'frobnicate'\nusage:" },
        { "updte generic u1", "did you mean update%?" },
        { "describe genric", "^lua%-users: unknown provider 'genric', did you mean generic%?" },
        { "bulk generic " .. dir .. "/missing.csv", "^lua%-users: cannot open .*missing%.csv: No such file or directory\n$" },
        { "bulk generic " .. dir .. "/x.csv --concurrency 0",
          "^lua%-users: %-%-concurrency needs a whole number from 1 to 1000 %(got '0'%)\nusage: lua%-users bulk" },
        { "bulk generic " .. dir .. "/x.csv --concurency 2", "unknown option %-%-concurency %(did you mean %-%-concurrency%?%)" },
        { "bulk generic " .. dir .. "/x.csv --rate", "%-%-rate needs a value" },
        { "bulk generic " .. dir .. "/x.csv --format xml", "%-%-format is one of: csv, jsonl" },
        { "bulk generic", "which file%?" },
        { "update generic", "which user%?" },
        { "update generic u1 role", "'role' is not field=value" },
        { "update generic u1 --json '[1]'", "%-%-json needs a JSON object" },
      }
      for _, c in ipairs(cases) do
        local out, err, code = run(c[1], vars("generic"))
        assert.equal(2, code, c[1] .. ": " .. err)
        assert.equal("", out)
        assert.matches(c[2], err)
        no_traceback(err)
        assert.is_true(select(2, err:gsub("\n", "")) <= 3, err) -- one line, the usage, where to read more
      end
      assert.same({}, env.fake:requests())
      cli.rm(dir)
    end)
  end)

  describe("update", function()
    it("converts field=value by the declared types and prints the user as JSON", function()
      local out, err, code = run(("update lexful %s role=admin first_name=null account_scopes='*;%s' organization_scopes='[]'")
        :format(env.USER_UUID, env.ACCOUNT), vars("lexful"))
      assert.equal(0, code, err)
      assert.matches('^{.*"role":"admin".*}\n$', out)
      assert.equal(('{"first_name":null,"role":"admin","account_scopes":["*","%s"],"organization_scopes":[]}')
        :format(env.ACCOUNT), env.fake:last("lexful").body)
      env.fake:reset()
      out, err, code = run("update paradigm 007 'workspaces=3;5'", vars("paradigm"))
      assert.matches('"id":7', out, 1, true)
      assert.equal(0, code, err)
      local r = env.fake:last("paradigm")
      assert.equal("/paradigm/api/v2/users/7/workspaces/update/", r.uri)
      assert.equal('{"workspaces":[3,5]}', r.body)
      env.fake:reset()
      local _
      _, err, code = run(("update lancepilot 42 name=Jane email=jane@example.com timezone=Europe/Paris status=yes"
        .. " --json '{\"client\": false}'"), vars("lancepilot"))
      assert.equal(0, code, err)
      r = env.fake:last("lancepilot")
      assert.equal("/lancepilot/api/v3/workspaces/" .. env.WORKSPACE .. "/users/42", r.uri)
      assert.matches('name="status"\r\n\r\n1\r\n', r.body, 1, true)
      assert.matches('name="client"\r\n\r\n0\r\n', r.body, 1, true)
    end)

    it("refuses a misspelt field with 'did you mean', exit 1, nothing sent", function()
      local _, err, code = run("update generic u1 emial=jane@example.com", vars("generic"))
      assert.equal(1, code)
      assert.equal("lua-users: generic: invalid update: 1 field is not valid (emial is not a field of generic:"
        .. " did you mean 'email'?)\n", err)
      _, err, code = run("update generic missing role=x", vars("generic"))
      assert.equal(1, code)
      assert.equal("lua-users: generic: User not found\n", err)
      assert.equal(1, #env.fake:requests())
    end)

    it("stops at a configuration error naming the variable to set, exit 2, nothing sent", function()
      local cases = {
        { "generic", { GENERIC_TOKEN = false }, "^lua%-users: no token for generic: set GENERIC_TOKEN\n$" },
        { "generic", { GENERIC_BASE_URL = false }, "no base URL for generic: set GENERIC_BASE_URL, or give %-%-base%-url URL" },
        { "lexful", { LEXFUL_TOKEN = false }, "no credentials for lexful: set LEXFUL_TOKEN, or LEXFUL_KEY_ID and LEXFUL_KEY_SECRET" },
        { "lexful", { LEXFUL_ACCOUNT_ID = false }, "no account id for lexful: set LEXFUL_ACCOUNT_ID %(sent as X%-Account%-ID%)" },
        { "lexful", { LEXFUL_ACCOUNT_ID = "acme" }, "LEXFUL_ACCOUNT_ID is not a UUID %(it is 'acme'%)" },
        { "lancepilot", { LANCEPILOT_WORKSPACE = false }, "no workspace for lancepilot: set LANCEPILOT_WORKSPACE" },
        { "lancepilot", { LANCEPILOT_WORKSPACE = "ws1" }, "LANCEPILOT_WORKSPACE is not valid: workspace" },
      }
      for _, c in ipairs(cases) do
        local v = env.valid[c[1]]
        local _, err, code = run(("update %s %s %s=x"):format(c[1], tostring(v.id), next(v.fields)), vars(c[1], c[2]))
        assert.equal(2, code, err)
        assert.matches(c[3], err)
        assert.equal(1, select(2, err:gsub("\n", "")), err)
      end
      assert.same({}, env.fake:requests())
    end)

    it("--dry-run prints the request, credentials redacted, and sends nothing, not even a token request", function()
      local out, err, code = run("update generic u1 role=admin --dry-run", vars("generic"))
      assert.equal(0, code, err)
      assert.matches("^PATCH " .. env.fake:base_url("generic"):gsub("%p", "%%%0") .. "/v1/users/u1\n", out)
      assert.matches("\nAuthorization: Bearer %[REDACTED%]\n", out)
      assert.matches('\n\n{"role":"admin"}\n', out, 1, true)
      assert.is_nil(out:find("test-token", 1, true))
      local v = vars("lexful", { LEXFUL_TOKEN = false, LEXFUL_KEY_ID = "test-key-id", LEXFUL_KEY_SECRET = "test-key-secret" })
      out, err, code = run(("update lexful %s role=admin --dry-run"):format(env.USER_UUID), v)
      assert.equal(0, code, err)
      assert.matches("\nAuthorization: Bearer %[token fetched at run time%]\n", out)
      assert.matches("\nX%-Account%-ID: " .. env.ACCOUNT:gsub("%-", "%%-") .. "\n", out)
      assert.is_nil(out:find("test-key-secret", 1, true))
      assert.same({}, env.fake:requests())
      assert.equal(0, env.fake:stats().tokens_issued)
    end)

    it("--verbose prints one line per request, the token fetch included, secrets redacted", function()
      local v = vars("lexful", { LEXFUL_TOKEN = false, LEXFUL_KEY_ID = "test-key-id", LEXFUL_KEY_SECRET = "test-key-secret" })
      env.fake:behave("lexful", { script = { { pass = true }, { status = 503, body = "{}" } } })
      local out, err, code = run(("update lexful %s role=admin --verbose --retries 1"):format(env.USER_UUID), v)
      assert.equal(0, code, err)
      assert.matches("^{", out)
      local lines = {}
      for l in err:gmatch("[^\n]+") do lines[#lines + 1] = l end
      assert.equal(3, #lines, err)
      assert.matches("^POST /lexful/v1/auth/token %-> 200 HTTP/1%.1, attempt 1, %d+%.%d+ s$", lines[1])
      local id = env.USER_UUID:gsub("%-", "%%-")
      assert.matches("^PATCH /lexful/v1/users/" .. id .. " %-> 503 HTTP/1%.1, attempt 1, %d+%.%d+ s$", lines[2])
      assert.matches("%-> 200 HTTP/1%.1, attempt 2, ", lines[3])
      assert.is_nil(err:find("test-key-secret", 1, true))
    end)

    it("a --budget it cannot use is a usage error, before anything is sent", function()
      for _, cmd in ipairs { "update generic u1 role=admin --budget nonsense", "update generic u1 role=admin --budget redis://" } do
        local out, err, code = run(cmd, vars("generic"))
        assert.equal(2, code, err)
        assert.equal("", out)
        assert.matches("^lua%-users: %-%-budget must be ", err)
        assert.is_nil(err:find("internal error", 1, true))
      end
      assert.same({}, env.fake:requests())
    end)

    it("--http h2c speaks HTTP/2 without TLS, and --verbose says so", function()
      local v = vars("generic", { GENERIC_BASE_URL = env.fake:h2c_base_url("generic") })
      local out, err, code = run("update generic u1 role=admin --http h2c --verbose", v)
      assert.equal(0, code, err)
      assert.matches("^{", out)
      assert.matches("^PATCH /generic/v1/users/u1 %-> 200 HTTP/2, attempt 1, ", err)
      assert.equal("HTTP/2.0", env.fake:last("generic").protocol)
      local _, err2, code2 = run("update generic u1 role=admin --http 2", v)
      assert.equal(2, code2)
      assert.matches("%-%-http is one of: auto, 1%.1, h2c", err2)
    end)
  end)

  describe("bulk", function()
    local dir
    before_each(function() dir = cli.dir() end)
    after_each(function() cli.rm(dir) end)

    it("reads a spreadsheet's CSV: BOM, CRLF, quotes; ids exactly as written; failures back as CSV", function()
      write(dir .. "/people.csv", "\239\187\191" .. table.concat({
        "id,email,first_name,role",
        '00123,a@example.com,"Jane, ""JJ""",admin',
        "u2,not-an-email,Bob,member",
        'missing,c@example.com,"Two\r\nlines",member',
        "u4,,Dee,",                   -- empty cells: fields left alone
        "u5,e@example.com,Eve,admin,extra",
        "u6,f@example.com",
        "123456789012345678901,,Big,",
      }, "\r\n") .. "\r\n")
      local out, err, code = run("bulk generic people.csv --concurrency 2", vars("generic"), dir)
      assert.equal(1, code, err)
      no_traceback(err)
      assert.matches("generic: 7 items, 3 succeeded, 4 failed, 0 skipped", out)
      local bodies = {}
      for _, r in ipairs(env.fake:requests()) do bodies[r.uri:match("[^/]+$")] = r.body end
      assert.equal('{"email":"a@example.com","first_name":"Jane, \\"JJ\\"","role":"admin"}', bodies["00123"])
      -- a quoted cell is kept byte for byte: the CRLF the user wrote in it is sent as CRLF
      assert.equal('{"email":"c@example.com","first_name":"Two\\r\\nlines","role":"member"}', bodies.missing)
      assert.equal('{"first_name":"Dee"}', bodies.u4)
      assert.equal('{"first_name":"Big"}', bodies["123456789012345678901"])
      assert.is_nil(bodies.u2) -- refused before sending
      assert.is_nil(bodies.u5)
      -- line numbers count the file's lines (the quoted cell of line 4 runs over two)
      assert.matches("line 7: 5 cells, but the header has 4 columns", out, 1, true)
      assert.matches("line 8: 2 cells, but the header has 4 columns", out, 1, true)
      -- The failures file: the input's BOM, line ends and original text, and an _error column.
      local failures = read(dir .. "/people.failures.csv")
      assert.matches("^\239\187\191id,email,first_name,role,_error\r\n", failures)
      assert.matches('\r\nmissing,c@example.com,"Two\r\nlines",member,generic: User not found\r\n', failures, 1, true)
      assert.matches("\r\nu2,not%-an%-email,Bob,member,generic: invalid update", failures)
      assert.matches('\r\nu5,e@example.com,Eve,admin,extra,"generic: line 7: 5 cells, but the header has 4 columns"\r\n', failures, 1, true)
      assert.matches("failures: 4 rows in people.failures.csv", out, 1, true)
      -- Fed back in: the _error column is ignored and rewritten, the same four fail again.
      env.fake:reset()
      out = run("bulk generic people.failures.csv", vars("generic"), dir)
      assert.matches("4 items, 0 succeeded, 4 failed", out)
      assert.equal(1, #env.fake:requests())
      local again = read(dir .. "/people.failures.failures.csv")
      assert.matches("\r\nu2,not%-an%-email,Bob,member,generic: invalid update[^\r\n,]*\r\n", again)
    end)

    it("refuses a header without id, or with a column that is no field: one error, line 1, exit 2", function()
      write(dir .. "/a.csv", "\239\187\191ID,email\r\nu1,a@example.com\r\n")
      local out, err, code = run("bulk generic a.csv", vars("generic"), dir)
      assert.equal(2, code)
      assert.equal("", out)
      assert.matches("^lua%-users: a%.csv: line 1: the header names no `id` column", err)
      assert.matches("(the header: ID,email)", err, 1, true)
      write(dir .. "/b.csv", "id,emial,_note\nu1,a@example.com,x\n")
      out, err, code = run("bulk generic b.csv", vars("generic"), dir)
      assert.equal(2, code)
      assert.equal("", out)
      assert.matches("line 1: the header's column 'emial' is not a field of generic %- did you mean 'email'%?", err)
      assert.same({}, env.fake:requests())
    end)

    it("converts cells by the provider's types: integers, booleans, arrays quoted or not", function()
      write(dir .. "/p.csv", 'id,workspaces\n7,1;2\n8,"[3, 4]"\n9,[]\n10," 5 ; 6 "\n11,[12]\n')
      local _, err, code = run("bulk paradigm p.csv --concurrency 1", vars("paradigm"), dir)
      assert.equal(0, code, err)
      local got = {}
      for _, r in ipairs(env.fake:requests()) do got[#got + 1] = r.uri:match("users/(%d+)/") .. " " .. r.body end
      assert.same({ '7 {"workspaces":[1,2]}', '8 {"workspaces":[3,4]}', '9 {"workspaces":[]}',
                    '10 {"workspaces":[5,6]}', '11 {"workspaces":[12]}' }, got)
      env.fake:reset()
      write(dir .. "/l.csv", "workspace,id,name,email,timezone,status,client\n"
        .. env.WORKSPACE .. ",42,Jane,jane@example.com,UTC,TRUE,no\n"
        .. ",43,Joe,joe@example.com,Europe/Paris,0,1\n")
      _, err, code = run("bulk lancepilot l.csv --concurrency 1", vars("lancepilot"), dir)
      assert.equal(0, code, err)
      local reqs = env.fake:requests()
      assert.equal(2, #reqs)
      assert.matches('name="status"\r\n\r\n1\r\n', reqs[1].body, 1, true)
      assert.matches('name="client"\r\n\r\n0\r\n', reqs[1].body, 1, true)
      assert.matches("/users/43$", reqs[2].uri) -- the workspace of LANCEPILOT_WORKSPACE
      -- without LANCEPILOT_WORKSPACE, the row without a workspace is refused, the others go
      env.fake:reset()
      local out
      out, err, code = run("bulk lancepilot l.csv", vars("lancepilot", { LANCEPILOT_WORKSPACE = false }), dir)
      assert.equal(1, code, err)
      assert.matches("2 items, 1 succeeded, 1 failed", out)
      assert.matches("line 3: no workspace: its cell is empty and LANCEPILOT_WORKSPACE is not set", out, 1, true)
      assert.equal(1, #env.fake:requests())
    end)

    it("reads JSON lines: errors name their line, a line that is not JSON is kept verbatim", function()
      write(dir .. "/p.jsonl", table.concat({
        '{"id":7,"fields":{"workspaces":[1,2]}}',
        "",
        '{"id":8,"workspaces":[]}',
        '{"id":404,"workspaces":[3]}',
        '{"id": 9, "workspaces": [1,',
        '["an", "array"]',
        '{"workspaces":[1]}',
      }, "\n") .. "\n")
      local out, err, code = run("bulk paradigm p.jsonl", vars("paradigm"), dir)
      assert.equal(1, code, err)
      assert.matches("6 items, 2 succeeded, 4 failed", out)
      assert.matches("line 5: not valid JSON", out, 1, true)
      assert.matches("line 6: not a JSON object", out, 1, true)
      assert.matches('line 7: no "id"', out, 1, true)
      local failures = read(dir .. "/p.failures.jsonl")
      assert.matches('\n{"id": 9, "workspaces": %[1,\n', failures)          -- verbatim, after its note
      assert.matches('^{"_error":"paradigm: line 5: not valid JSON', failures)
      assert.matches('{"id":404,"workspaces":[3],"_error":"paradigm: Not found."}\n', failures, 1, true)
      -- fed back: notes are skipped, the old _error replaced, not repeated
      env.fake:reset()
      out = run("bulk paradigm p.failures.jsonl", vars("paradigm"), dir)
      assert.matches("4 items, 0 succeeded, 4 failed", out)
      local again = read(dir .. "/p.failures.failures.jsonl")
      assert.matches('{"id":404,"workspaces":[3],"_error":"paradigm: Not found."}\n', again, 1, true)
      assert.equal(1, select(2, again:gsub('"_error"', "")) - 3)
    end)

    it("stops at a configuration error before sending anything: one error, exit 2, no failures file", function()
      local lines = { "id,role" }
      for i = 1, 300 do lines[#lines + 1] = "u" .. i .. ",admin" end
      write(dir .. "/u.csv", table.concat(lines, "\n") .. "\n")
      local out, err, code = run("bulk generic u.csv", vars("generic", { GENERIC_TOKEN = false }), dir)
      assert.equal(2, code)
      assert.equal("", out)
      assert.equal("lua-users: no token for generic: set GENERIC_TOKEN\n", err)
      assert.is_nil(read(dir .. "/u.failures.csv"))
      assert.same({}, env.fake:requests())
      -- a base URL the library refuses: caught when the first item is prepared
      out, err, code = run("bulk generic u.csv", vars("generic", { GENERIC_BASE_URL = "http://u:p@127.0.0.1:1/x" }), dir)
      assert.equal(2, code, out)
      assert.matches("base URL must not hold user information", err)
      assert.is_nil(read(dir .. "/u.failures.csv"))
    end)

    it("stops after --max-auth-failures answers 401 in a row, says what to fix, resumes with the journal", function()
      local lines = { "id,role" }
      for i = 1, 40 do lines[#lines + 1] = "u" .. i .. ",admin" end
      write(dir .. "/u.csv", table.concat(lines, "\n") .. "\n")
      local out, err, code = run("bulk generic u.csv --concurrency 2 --max-auth-failures 3",
                                 vars("generic", { GENERIC_TOKEN = "expired" }), dir)
      assert.equal(1, code, err)
      assert.matches("lua%-users: stopped after 3 authentication failures in a row", err)
      local n = #env.fake:requests()
      assert.is_true(n >= 3 and n <= 4, n .. " requests")
      assert.matches(("40 items, 0 succeeded, %d failed, 0 skipped %%(done before%%), %d not attempted"):format(n, 40 - n), out)
      assert.matches("Fix the credentials (GENERIC_TOKEN), then resume: lua-users bulk generic u.csv", out, 1, true)
      assert.truthy(read(dir .. "/u.csv.journal"), "the journal is kept for the resume")
      env.fake:reset()
      out, err, code = run("bulk generic u.csv --concurrency 2 --max-auth-failures 3", vars("generic"), dir)
      assert.equal(0, code, err)
      assert.matches("40 items, 40 succeeded, 0 failed", out)
      assert.is_nil(read(dir .. "/u.csv.journal"), "a complete run removes its own journal")
    end)

    it("a dry run sends nothing, fetches no token, and never overwrites the real run's failures", function()
      write(dir .. "/u.csv", "id,role,email\n" .. env.USER_UUID .. ",admin,\n" .. "00000000-0000-4000-8000-000000000404,root,\n")
      local v = vars("lexful", { LEXFUL_TOKEN = false, LEXFUL_KEY_ID = "test-key-id", LEXFUL_KEY_SECRET = "test-key-secret" })
      write(dir .. "/u.failures.csv", "real run's failures\n")
      local out, err, code = run("bulk lexful u.csv --dry-run", v, dir)
      assert.equal(1, code, err)
      assert.matches("^PATCH [^\n]*/v1/users/" .. env.USER_UUID:gsub("%-", "%%-") .. ' {"role":"admin"}\n', out)
      assert.matches("2 items, 1 succeeded, 1 failed.*dry run: nothing sent", out)
      assert.same({}, env.fake:requests())
      assert.equal(0, env.fake:stats().tokens_issued)
      assert.equal("real run's failures\n", read(dir .. "/u.failures.csv"))
      assert.matches("role must be one of", read(dir .. "/u.dry-run.failures.csv"))
      assert.is_nil(read(dir .. "/u.csv.journal"))
      -- --verbose: each request whole
      out = run("bulk lexful u.csv --dry-run --verbose", v, dir)
      assert.matches("\nAuthorization: Bearer %[token fetched at run time%]\n", out)
    end)

    it("--verbose prints a line per request; without a terminal, progress is a plain line every few seconds", function()
      write(dir .. "/u.csv", "id,role\nu1,a\nu2,b\nu3,c\nu4,d\nu5,e\nu6,f\n")
      env.fake:behave("generic", { delay = 0.1 })
      local out, err, code = run("bulk generic u.csv --concurrency 1 --verbose --progress-interval 0.25", vars("generic"), dir)
      assert.equal(0, code, err)
      assert.matches("6 items, 6 succeeded", out)
      assert.equal(6, select(2, err:gsub("PATCH /generic/v1/users/u%d %-> 200 HTTP/1%.1, attempt 1, %d%.%d+ s\n", "")), err)
      assert.is_true(select(2, err:gsub("progress: %d/6 %(%d+%%%), %d+/s, ETA %d+:%d%d, 0 failed\n", "")) >= 1, err)
      assert.is_nil(err:find("\27", 1, true)) -- no terminal codes in a log
    end)
  end)

  describe("bulk's journal knows users, not positions", function()
    local dir
    before_each(function() dir = cli.dir() end)
    after_each(function() cli.rm(dir) end)

    local function csv(rows)
      local lines = { "id,role" }
      for _, r in ipairs(rows) do lines[#lines + 1] = r end
      return table.concat(lines, "\n") .. "\n"
    end

    local function rows(from, to, role)
      local t = {}
      for i = from, to do t[#t + 1] = "u" .. i .. "," .. (role or "member") end
      return t
    end

    it("sends the failed users again when their failures file is fed back with the same journal", function()
      write(dir .. "/u.csv", csv(rows(1, 10)))
      env.fake:behave("generic", { respond = { status = 500, body = "{}" }, times = 3 })
      local out, err, code = run("bulk generic u.csv --concurrency 1 --retries 0 --journal j", vars("generic"), dir)
      assert.equal(1, code, err)
      assert.matches("10 items, 7 succeeded, 3 failed", out)
      env.fake:reset()
      out, err, code = run("bulk generic u.failures.csv --journal j", vars("generic"), dir)
      assert.equal(0, code, err)
      assert.matches("3 items, 3 succeeded, 0 failed, 0 skipped", out)
      assert.same({ "u1", "u2", "u3" }, (function() local t = cli.sent_ids("generic") table.sort(t) return t end)())
      env.fake:reset()
      out = run("bulk generic u.csv --journal j", vars("generic"), dir)
      assert.matches("10 items, 0 succeeded, 0 failed, 10 skipped", out)
      assert.same({}, env.fake:requests())
    end)

    it("skips exactly what was confirmed in a reordered, shortened, grown or edited input", function()
      write(dir .. "/a.csv", csv(rows(1, 6)))
      local out = run("bulk generic a.csv --journal j", vars("generic"), dir)
      assert.matches("6 items, 6 succeeded", out)
      env.fake:reset()
      -- u6 gone, u1..u4 reversed, u5 edited, u7 new
      write(dir .. "/b.csv", csv { "u4,member", "u7,member", "u3,member", "u5,admin", "u2,member", "u1,member" })
      out = run("bulk generic b.csv --journal j", vars("generic"), dir)
      assert.matches("6 items, 2 succeeded, 0 failed, 4 skipped", out)
      local sent = cli.sent_ids("generic")
      table.sort(sent)
      assert.same({ "u5", "u7" }, sent)
      for _, r in ipairs(env.fake:requests()) do
        if r.uri:match("/u5$") then assert.equal('{"role":"admin"}', r.body) end
      end
      -- the same user updated twice the same way: both confirmations count
      env.fake:reset()
      write(dir .. "/c.csv", csv { "u8,member", "u8,member" })
      run("bulk generic c.csv --journal j", vars("generic"), dir)
      env.fake:reset()
      write(dir .. "/d.csv", csv { "u8,member", "u8,member", "u8,member" })
      out = run("bulk generic d.csv --journal j", vars("generic"), dir)
      assert.matches("3 items, 1 succeeded, 0 failed, 2 skipped", out)
    end)

    it("refuses a journal written for another base URL, provider, or by position", function()
      write(dir .. "/a.csv", csv(rows(1, 2)))
      run("bulk generic a.csv --journal j", vars("generic"), dir)
      env.fake:reset()
      local other = env.fake:base_url("generic") .. "/v2"
      local out, err, code = run("bulk generic a.csv --journal j --base-url " .. other, vars("generic"), dir)
      assert.equal(2, code)
      assert.equal("", out)
      assert.matches("^lua%-users: the journal j was written for generic at http://127%.0%.0%.1:%d+/generic, not for"
        .. " generic at http://127%.0%.0%.1:%d+/generic/v2: give another journal file, or move this one away", err)
      write(dir .. "/p.csv", "id,workspaces\n7,1\n")
      out, err, code = run("bulk paradigm p.csv --journal j", vars("paradigm"), dir)
      assert.equal(2, code)
      assert.equal("", out)
      assert.matches("written for generic at .*, not for paradigm at", err)
      write(dir .. "/old", "ok 1\tu1\nok 2\tu2\n")
      out, err, code = run("bulk generic a.csv --journal old", vars("generic"), dir)
      assert.equal(2, code)
      assert.equal("", out)
      assert.matches("recorded items by their position in the input", err, 1, true)
      assert.same({}, env.fake:requests())
    end)
  end)

  describe("bulk interrupted", function()
    local dir
    before_each(function() dir = cli.dir() end)
    after_each(function() cli.rm(dir) end)

    local function start(argline, v) return cli.start(argline, v, dir) end

    local function confirmed(path)
      return select(2, (read(path) or ""):gsub("\nok ", ""))
    end

    -- Polls until check() holds; the cap (60 s) is only there so that a
    -- command that never gets there fails the spec instead of hanging it.
    local function wait_for(check)
      for _ = 1, 6000 do
        if check() then return true end
        os.execute("sleep 0.01")
      end
    end

    it("on SIGINT finishes what is in flight, keeps the journal, prints how to resume; the resume sends each user once", function()
      local lines = { "id,role" }
      for i = 1, 30 do lines[#lines + 1] = "u" .. i .. ",member" end
      write(dir .. "/u.csv", table.concat(lines, "\n") .. "\n")
      env.fake:behave("generic", { delay = 0.3 })
      local pid, finish = start("bulk generic u.csv --concurrency 2", vars("generic"))
      assert.is_true(wait_for(function() return confirmed(dir .. "/u.csv.journal") >= 2 end))
      os.execute("kill -INT " .. pid)
      local out, err, code = finish()
      assert.equal(130, code, err)
      no_traceback(err)
      assert.matches("lua%-users: SIGINT: finishing the requests in flight", err)
      local done = confirmed(dir .. "/u.csv.journal")
      assert.matches(("generic: 30 items, %d succeeded, 0 failed, 0 skipped %%(done before%%), %d not attempted"):format(
        done, 30 - done), out)
      assert.matches("interrupted: " .. (30 - done) .. " items not attempted; resume with: lua-users bulk generic u.csv"
        .. " --concurrency 2\n", out, 1, true)
      -- the same command resumes: every user is sent exactly once over both runs
      env.fake:behave("generic", false)
      local out2, err2, code2 = run("bulk generic u.csv --concurrency 2", vars("generic"), dir)
      assert.equal(0, code2, err2)
      assert.matches("resuming: u.csv.journal", err2, 1, true)
      assert.matches(("30 items, %d succeeded, 0 failed, %d skipped"):format(30 - done, done), out2)
      local count = {}
      for _, id in ipairs(cli.sent_ids("generic")) do count[id] = (count[id] or 0) + 1 end
      for i = 1, 30 do assert.equal(1, count["u" .. i], "u" .. i) end
      assert.is_nil(read(dir .. "/u.csv.journal"))
    end)

    local function in_flight(n) return #env.fake:requests() >= n end

    -- (Synchronised on what the fake received and what the command said, never on a sleep:
    -- the fake holds each request 30 s, so a command that waited for it would succeed.)
    it("ends an update at once on Ctrl-C: exit 130, no traceback", function()
      env.fake:behave("generic", { delay = 30 })
      local pid, finish = start("update generic u1 role=admin", vars("generic"))
      assert.is_true(wait_for(function() return in_flight(1) end))
      os.execute("kill -INT " .. pid)
      local out, err, code = finish()
      assert.equal(130, code)
      assert.equal("", out)
      assert.equal("", err)
      env.fake:behave("generic", false)
    end)

    it("on SIGTERM then a second signal abandons the requests in flight and exits at once", function()
      write(dir .. "/u.csv", "id,role\nu1,a\nu2,b\nu3,c\nu4,d\n")
      env.fake:behave("generic", { delay = 30 })
      local pid, finish = start("bulk generic u.csv --concurrency 2", vars("generic"))
      assert.is_true(wait_for(function() return in_flight(2) end)) -- two requests in flight, for 30 s each
      os.execute("kill -TERM " .. pid)
      assert.is_true(wait_for(function() return (read(dir .. "/err") or ""):find("finishing the requests", 1, true) end))
      os.execute("kill -INT " .. pid)
      local out, err, code = finish()
      assert.equal(130, code, err)
      assert.matches("SIGTERM: finishing the requests in flight", err, 1, true)
      assert.matches("abandoning the requests in flight", err, 1, true)
      -- abandoned rows are counted and listed apart from failed ones: they may have been applied
      assert.matches("4 items, 0 succeeded, 0 failed, 2 abandoned in flight, 0 skipped %(done before%), 2 not attempted", out)
      assert.matches("\nabandoned in flight %(they may have been applied; the journal does not hold them%): lines 2%-3\n", out)
      -- one next step: the resume (which sends the abandoned rows again), not the failures file as well
      assert.matches("\ninterrupted: 2 items not attempted; resume with: lua%-users bulk generic u%.csv %-%-concurrency 2\n$", out)
      assert.is_nil(out:find("fix them, then", 1, true))
      env.fake:behave("generic", false)
    end)
  end)
end)
