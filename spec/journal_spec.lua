-- The library side of issue 10: bulk_update's journal records updates by
-- what they are; runs stop on a configuration error, on a run of 401/403,
-- or when told to; dry runs fetch no token; the progress line fits; "did
-- you mean" for a misspelt field.
local users = require "users"
local core = require "users.core"
local cli_core = require "users.cli_core"
local journal = require "users.journal"
local progress = require "users.progress"
local suggest = require "users.suggest"
local env = require "spec.support.env"

local function items(n, role, prefix)
  local t = {}
  for i = 1, n do t[i] = { id = (prefix or "u") .. i, fields = { role = role or "member" } } end
  return t
end

local function opts(extra)
  local o = env.opts("generic", { backoff = 0.01 })
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local function sent_ids()
  local ids = {}
  for _, r in ipairs(env.fake:requests()) do ids[#ids + 1] = r.uri:match("/users/([^/?]+)$") end
  table.sort(ids)
  return ids
end

describe("journal", function()
  it("digests an update by its id and fields, whatever the key order or number spelling", function()
    local a = journal.key("u1", { role = "admin", email = "a@example.com", scopes = { 1, 2 } })
    assert.matches("^%x+$", a)
    assert.equal(16, #a)
    assert.equal(a, journal.key("u1", { email = "a@example.com", scopes = { 1.0, 2 }, role = "admin" }))
    assert.not_equal(a, journal.key("u2", { role = "admin", email = "a@example.com", scopes = { 1, 2 } }))
    assert.not_equal(a, journal.key("u1", { role = "admin", email = "a@example.com", scopes = { 2, 1 } }))
    assert.not_equal(journal.key(7, { x = "1" }), journal.key(7, { x = 1 }))
    assert.not_equal(journal.key(7, { x = true }), journal.key(7, { x = "true" }))
    assert.not_equal(journal.key(7, { x = users.null }), journal.key(7, { x = "null" }))
    assert.equal(journal.key({ workspace = "w", user = 4 }, {}), journal.key({ user = 4, workspace = "w" }, {}))
    local path = env.tmpfile(env.PNG)
    local k1 = journal.key(4, { avatar = users.file(path) })
    assert.equal(k1, journal.key(4, { avatar = users.file(path) }))
    env.write(path, env.PNG .. "more")
    assert.not_equal(k1, journal.key(4, { avatar = users.file(path) })) -- the file changed
    os.remove(path)
  end)

  it("is locked while it is open for writing: a second open is refused until the first closes", function()
    local path = os.tmpname()
    os.remove(path)
    local scope = { provider = "generic", base_url = "https://api.example.com" }
    local a = assert(journal.open(path, scope))
    local none, err = journal.open(path, scope)
    assert.is_nil(none)
    assert.matches("^the journal .* is in use by another run %(lua%-users bulk or bulk_update", err)
    assert(journal.open(path, scope, true)):close() -- a dry run reads it, and takes no lock
    a:record(journal.key("u1", {}), "u1")
    assert.is_true(a:close())
    local b = assert(journal.open(path, scope))
    assert.equal(1, b.account.loaded)
    b:close()
    assert.equal(b.account, journal.last(path))
    os.remove(path)
  end)

  it("holds its lock no longer than itself: dropped unclosed, it is collected with it; its account stays", function()
    local path = os.tmpname()
    os.remove(path)
    local scope = { provider = "generic", base_url = "https://api.example.com" }
    local a = assert(journal.open(path, scope))
    a:record(journal.key("u1", {}), "u1")
    a = nil -- luacheck: ignore 311
    collectgarbage()
    collectgarbage()
    local b = assert(journal.open(path, scope))
    assert.equal(1, b.account.loaded)
    assert.is_true(b:close())
    assert.equal(0, journal.last(path).recorded) -- b's account: the last opened
    os.remove(path)
  end)

  it("a raise while it is read (a caller's malformed scope) leaves no lock held", function()
    local path = os.tmpname()
    local header = '# lua-users journal 2 {"provider":"generic","base_url":"https://api.example.com","tenant":{"a":"1"}}\n'
    env.write(path, header)
    collectgarbage("stop") -- what a raise left held stays held until it is collected
    local ok = pcall(journal.open, path, { provider = "generic", base_url = "https://api.example.com", tenant = 5 })
    local j, err = journal.open(path, { provider = "generic", base_url = "https://api.example.com", tenant = { a = "1" } })
    collectgarbage("restart")
    assert.is_false(ok)
    assert.truthy(j, err)
    j:close()
    os.remove(path)
  end)

  it("holds its lock across a run for a caller who removes the file after it, still locked", function()
    local path = os.tmpname()
    os.remove(path)
    local scope = { provider = "generic", base_url = "https://api.example.com" }
    local h = assert(journal.hold(path))
    local a = assert(journal.open(path, scope)) -- the run: it uses the hold's lock
    assert.matches("is in use by another run", select(2, journal.open(path, scope)))
    a:record(journal.key("u1", {}), "u1")
    assert.is_true(a:close())
    -- The run is over, its summary not yet: another run (another process:
    -- a lock of its own) cannot take the journal up now, to lose it at the
    -- removal below.
    assert.equal("busy", select(3, cli_core.lock(path)))
    assert.is_true(h:release(true))
    assert.equal("absent", cli_core.kind(path))
    local b = assert(journal.open(path, scope)) -- nothing held any more
    assert.equal(0, b.account.loaded)
    b:close()
    -- "if empty" keeps a file that holds anything; a second release is harmless.
    h = assert(journal.hold(path))
    assert.is_true(h:release("if empty"))
    assert.equal("file", (cli_core.kind(path)))
    assert.is_true(h:release(true))
    assert.equal("file", (cli_core.kind(path)))
    h = assert(journal.hold(path))
    assert.matches("is in use by another run", select(2, journal.hold(path))) -- a second hold: another lock
    h:release()
    os.remove(path)
  end)

  it("refuses a header of the wrong shape as no journal, and stays free to open", function()
    local scope = { provider = "generic", base_url = "http://x", tenant = {} }
    local path = os.tmpname()
    for _, json in ipairs { '{"provider":"generic","base_url":"http://x","tenant":5}',
                            '{"provider":"generic","base_url":"http://x","tenant":{"a":1}}',
                            '{"provider":"generic","base_url":7}', '{"provider":"generic","base_url":"http://x","tenant":[1]}' } do
      local text = "# lua-users journal 2 " .. json .. "\n"
      env.write(path, text)
      collectgarbage("stop")
      local ok, j, err = pcall(journal.open, path, scope)
      local _, err2 = journal.open(path, scope)
      collectgarbage("restart")
      assert.is_true(ok, j)
      assert.is_nil(j)
      assert.equal(path .. " is not a lua-users journal (its first line is not a journal header)", err)
      assert.equal(err, err2) -- not "in use"
      assert.equal(text, env.read(path))
    end
    os.remove(path)
  end)

  it("refuses what it cannot trust: not a regular file, a state it does not know; a torn line is no confirmation", function()
    local scope = { provider = "generic", base_url = "https://api.example.com" }
    assert.matches("is not a regular file %(it is a directory%)", select(2, journal.open("/tmp", scope)))
    assert.matches("is not a regular file %(it is a char%)", select(2, journal.open("/dev/null", scope)))
    local path = os.tmpname()
    local header = '# lua-users journal 2 {"provider":"generic","base_url":"https://api.example.com"}\n'
    local d1, d2 = journal.key("u1", {}), journal.key("u2", {})
    env.write(path, header .. "ok " .. d1 .. "\tu1\nmaybe " .. d2 .. "\tu2\n")
    local none, err = journal.open(path, scope)
    assert.is_nil(none)
    assert.matches("holds a state this lua%-users does not know %('maybe', line 3%)", err)
    env.write(path, header .. "ok " .. d1 .. "\tu1\nok " .. d2 .. "\tu") -- the last line cut short
    local j = assert(journal.open(path, scope))
    assert.equal(1, j.account.loaded)
    assert.is_true(j:take(d1))
    assert.is_false(j:take(d2))
    j:close()
    os.remove(path)
  end)

  it("keeps digests in a C multiset", function()
    local s = cli_core.digest_set()
    local d = cli_core.digest("x")
    assert.equal(0, s:count(d))
    assert.equal(1, s:add(d))
    assert.equal(2, s:add(d))
    assert.equal(2, s:size())
    assert.is_true(s:take(d))
    assert.is_true(s:take(d))
    assert.is_false(s:take(d))
    assert.equal(0, s:size())
    for i = 1, 5000 do s:add(cli_core.digest(tostring(i))) end -- it grows
    assert.equal(5000, s:size())
    assert.equal(1, s:count(cli_core.digest("4321")))
    assert.has_error(function() s:add("not hex") end)
    assert.not_equal(cli_core.digest("a"), cli_core.digest("a\0"))
  end)
end)

describe("bulk_update", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)
  before_each(function() env.fake:reset() end)

  describe("with a journal", function()
    local path
    before_each(function() path = os.tmpname(); os.remove(path) end)
    after_each(function() os.remove(path) end)

    it("skips exactly the updates confirmed before, in any order; an edited item is sent again", function()
      local report = users.bulk_update("generic", items(5), opts { journal = path })
      assert.equal(5, report.succeeded)
      env.fake:reset()
      local list = items(6)
      list[3].fields.role = "admin" -- edited
      table.sort(list, function(a, b) return a.id > b.id end) -- reordered, and u6 is new
      report = users.bulk_update("generic", list, opts { journal = path })
      assert.equal(4, report.skipped)
      assert.equal(2, report.succeeded)
      assert.same({ "u3", "u6" }, sent_ids())
      assert.matches('^# lua%-users journal 2 {.*"provider":"generic"', env.read(path))
    end)

    it("counts confirmations: an update done once skips one of its copies", function()
      users.bulk_update("generic", { { id = "u1", fields = { role = "a" } } }, opts { journal = path })
      env.fake:reset()
      local list = { { id = "u1", fields = { role = "a" } }, { id = "u1", fields = { role = "b" } },
                     { id = "u1", fields = { role = "a" } } }
      local report = users.bulk_update("generic", list, opts { journal = path, concurrency = 1 })
      assert.equal(1, report.skipped)
      assert.equal(2, report.succeeded)
      local bodies = {}
      for _, r in ipairs(env.fake:requests()) do bodies[#bodies + 1] = r.body end
      assert.same({ '{"role":"b"}', '{"role":"a"}' }, bodies) -- the user ends as the input says
    end)

    it("is closed however the run ends: one that raises (its transport) leaves no lock held", function()
      local curl = require "users.transport.curl"
      local function broken(message)
        return setmetatable({ session = function() error(message, 0) end }, { __index = curl })
      end
      collectgarbage("stop") -- what a raise left held stays held until it is collected
      local ok1, err1 = pcall(users.bulk_update, "generic", items(1), opts { journal = path, transport = broken("broke") })
      local ok2, err2 = pcall(users.bulk_update, "generic", items(1), opts { journal = path, transport = broken("again") })
      collectgarbage("restart")
      assert.is_false(ok1)
      assert.equal("broke", err1)
      assert.is_false(ok2)
      assert.equal("again", err2, "the second run reached its transport")
    end)

    it("refuses a journal of another provider, base URL or tenant, or one by position", function()
      users.bulk_update("generic", items(1), opts { journal = path })
      assert.has_error(function()
        users.bulk_update("generic", items(1), opts { journal = path, base_url = env.fake:base_url("generic") .. "/x" })
      end, ("the journal %s was written for generic at %s, not for generic at %s/x: give another journal file,"
        .. " or move this one away to start over"):format(path, env.fake:base_url("generic"), env.fake:base_url("generic")))
      local ok, err = pcall(users.bulk_update, "paradigm", { { id = 7, fields = { workspaces = {} } } },
                            env.opts("paradigm", { journal = path }))
      assert.is_false(ok)
      assert.matches("not for paradigm at", err)
      local lj = os.tmpname()
      users.bulk_update("lexful", { env.valid.lexful }, env.opts("lexful", { journal = lj }))
      ok, err = pcall(users.bulk_update, "lexful", { env.valid.lexful },
                      env.opts("lexful", { journal = lj, account_id = "22222222-2222-4222-8222-222222222222" }))
      assert.is_false(ok)
      assert.matches("%(account_id 11111111%-1111%-4111%-8111%-111111111111%), not for lexful at .* %(account_id 2222", err)
      env.write(lj, "ok 1\tu1\n")
      ok, err = pcall(users.bulk_update, "generic", items(1), opts { journal = lj })
      assert.is_false(ok)
      assert.matches("recorded items by their position", err, 1, true)
      os.remove(lj)
      assert.equal(2, #env.fake:requests())
    end)

    it("survives a line cut short by a crash, and a dry run reads it without writing", function()
      users.bulk_update("generic", items(2), opts { journal = path })
      env.write(path, env.read(path) .. "ok 0123") -- torn: no digest, no newline
      env.fake:reset()
      local report = users.bulk_update("generic", items(3), opts { journal = path })
      assert.equal(2, report.skipped)
      assert.same({ "u3" }, sent_ids())
      assert.matches("\nok 0123\nok %x+\tu3\n$", env.read(path))
      local before = env.read(path)
      report = users.bulk_update("generic", items(4), opts { journal = path, dry_run = true })
      assert.equal(3, report.skipped)
      assert.equal(1, report.succeeded)
      assert.equal(before, env.read(path))
      local fresh = os.tmpname()
      os.remove(fresh)
      users.bulk_update("generic", items(1), opts { journal = fresh, dry_run = true })
      assert.is_nil(env.read(fresh))
    end)
  end)

  describe("stops early and accounts for every item", function()
    it("at a configuration error: nothing sent, one error, the rest not attempted", function()
      local o = opts()
      o.token = nil
      local calls = 0
      local report = users.bulk_update("generic", items(300), {
        base_url = o.base_url, on_result = function() calls = calls + 1 end })
      -- (GENERIC_TOKEN is not set in the specs' environment)
      assert.equal("config", report.stopped)
      assert.equal("generic: no token for generic: set opts.token or GENERIC_TOKEN", report.error)
      assert.equal("config", report.config_error.kind)
      assert.equal(300, report.total)
      assert.equal(300, report.not_attempted)
      assert.equal(0, report.failed + report.succeeded)
      assert.equal(0, calls)
      assert.same({}, env.fake:requests())
    end)

    it("after max_auth_failures answers 401/403 in a row (5 by default)", function()
      env.fake:behave("generic", { respond = { status = 401, body = '{"error":"unauthorized","message":"bad token"}' } })
      local report = users.bulk_update("generic", items(20), opts { concurrency = 1 })
      assert.equal("auth", report.stopped)
      assert.matches("^stopped after 5 authentication failures in a row %(the last: generic: bad token%)", report.error)
      assert.equal(5, report.failed)
      assert.equal(15, report.not_attempted)
      assert.equal(20, report.total)
      assert.equal(5, #env.fake:requests())
      env.fake:reset()
      env.fake:behave("generic", { respond = { status = 403, body = "{}" } })
      local i = 0
      report = users.bulk_update("generic", function() -- an iterator without a total: counted to its end
        i = i + 1
        if i <= 12 then return { id = "u" .. i, fields = { role = "x" } } end
      end, opts { concurrency = 1, max_auth_failures = 2 })
      assert.equal(2, report.failed)
      assert.equal(10, report.not_attempted)
      assert.equal(12, report.total)
      env.fake:reset()
      env.fake:behave("generic", { respond = { status = 401, body = "{}" } })
      report = users.bulk_update("generic", items(8), opts { concurrency = 2, max_auth_failures = 0 })
      assert.equal(8, report.failed) -- 0: never stop
      assert.is_nil(report.stopped)
    end)

    it("when should_stop says so: in-flight finish, the rest is not attempted; 'abandon' drops them", function()
      local results = 0
      local report = users.bulk_update("generic", items(30), opts {
        concurrency = 2,
        on_result = function() results = results + 1 end,
        should_stop = function() return results >= 4 end,
      })
      assert.equal("interrupted", report.stopped)
      assert.is_nil(report.error)
      assert.is_true(report.succeeded >= 4 and report.succeeded <= 6, report.succeeded)
      assert.equal(30, report.succeeded + report.not_attempted)
      assert.equal(report.succeeded, #env.fake:requests())

      env.fake:reset()
      env.fake:behave("generic", { delay = 20 })
      local t0 = core.now()
      report = users.bulk_update("generic", items(6), opts {
        concurrency = 2,
        should_stop = function() return core.now() - t0 > 0.3 and "abandon" end,
      })
      assert.is_true(core.now() - t0 < 10, "the waits were not capped") -- the answers take 20 s
      assert.equal(2, report.failed)
      assert.equal("aborted", report.failures[1].err.code)
      assert.equal(4, report.not_attempted)
      env.fake:behave("generic", false)
    end)
  end)

  it("counts an item that carries its reader's error as failed, with that message", function()
    local seen
    local report = users.bulk_update("generic", { { error = "line 3: 5 cells, but the header has 4 columns" },
                                                  items(1)[1] }, opts {
      on_result = function(item, _, err) if item.error then seen = err end end })
    assert.equal(1, report.failed)
    assert.equal(1, report.succeeded)
    assert.equal("generic: line 3: 5 cells, but the header has 4 columns", tostring(seen))
    assert.equal(1, #env.fake:requests())
  end)

  it("a dry run with a key pair fetches no token", function()
    local o = env.opts("lexful", { key_id = "test-key-id", key_secret = "test-key-secret", dry_run = true })
    o.token = nil
    local auth
    local report = users.bulk_update("lexful", { env.valid.lexful }, { base_url = o.base_url, account_id = o.account_id,
      key_id = o.key_id, key_secret = o.key_secret, dry_run = true,
      on_result = function(_, req) auth = req.headers.Authorization end })
    assert.equal(1, report.succeeded)
    assert.equal("Bearer [token fetched at run time]", auth)
    assert.same({}, env.fake:requests())
    assert.equal(0, env.fake:stats().tokens_issued)
    -- users.prepare with fetch_token = false, the same
    local req = users.prepare("lexful", env.valid.lexful.id, env.valid.lexful.fields, {
      base_url = o.base_url, account_id = o.account_id, key_id = o.key_id, key_secret = o.key_secret,
      fetch_token = false })
    assert.equal("Bearer [token fetched at run time]", req.headers.Authorization)
    assert.equal(0, env.fake:stats().tokens_issued)
    assert.has_error(function() users.prepare("lexful", env.valid.lexful.id, {}, { fetch_token = "no" }) end)
  end)

  it("suggests the declared field closest to a misspelt one", function()
    local _, err = users.update("generic", "u1", { emial = "a@example.com", rol = "x", zzzzzz = 1 }, opts())
    assert.same({ "is not a field of generic: did you mean 'email'?" }, err.fields.emial)
    assert.same({ "is not a field of generic: did you mean 'role'?" }, err.fields.rol)
    assert.same({ "is not a field of generic" }, err.fields.zzzzzz)
    local report = users.bulk_update("activepieces", { { id = env.AP_ID, fields = { platformrole = "ADMIN" } } },
                                     env.opts("activepieces"))
    assert.matches("did you mean 'platformRole'%?", tostring(report.failures[1].err))
    assert.equal(1, suggest.distance("emial", "email"))
    assert.equal(2, suggest.distance("frist_nme", "first_name"))
    assert.is_nil(suggest.closest("username2x", { "role" }))
    assert.same({}, env.fake:requests())
  end)
end)

describe("the progress line", function()
  local state = { done = 1234, total = 5000, failed = 3, skipped = 0, elapsed = 2 }

  it("fits any width, one column to spare, and drops parts as it shrinks", function()
    for w = 10, 220 do
      local line = progress.line(state, w)
      assert.is_true(#line <= w - 1, ("%d columns: %q"):format(w, line))
    end
    assert.equal("[###############.............................................]  1234/5000  24%  617/s  ETA 0:06  3 failed",
                 progress.line(state, 200))
    assert.matches("^%[#+%.+%]  1234/5000  24%%  617/s  ETA 0:06  3 failed$", progress.line(state, 80))
    assert.matches("^%[#+%.+%] 1234/5000 ETA 0:06 3 failed$", progress.line(state, 40))
    assert.matches("1234/5000", progress.line(state, 20))
  end)

  it("counts the rate of items sent, not of those the journal skipped", function()
    local s = { done = 1100, total = 2000, failed = 0, skipped = 1000, elapsed = 10 }
    assert.matches("  10/s  ", progress.line(s, 120))
    assert.matches("1000 skipped", progress.line(s, 120))
    assert.equal("progress: 1100/2000 (55%), 10/s, ETA 1:30, 0 failed, 1000 skipped", progress.plain(s))
  end)
end)

describe("answers that are not JSON, and a missing workspace", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)

  it("an HTML 200 answer says 'not JSON (text/html)'", function()
    env.fake:behave("generic", { not_json = true })
    local _, err = users.update("generic", "u1", { role = "x" }, env.opts("generic"))
    assert.equal("decode", err.kind)
    assert.equal("generic: the response is not JSON (text/html)", tostring(err))
  end)

  it("a missing lancepilot workspace is a config error naming LANCEPILOT_WORKSPACE", function()
    local _, err = users.prepare("lancepilot", 42, env.valid.lancepilot.fields, { token = "t" })
    assert.equal("config", err.kind)
    assert.matches("LANCEPILOT_WORKSPACE", err.message, 1, true)
  end)
end)
