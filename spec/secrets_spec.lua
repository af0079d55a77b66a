-- Secrets (issue 9): one spec that looks for every secret a run used in
-- every channel it has: err (keys and values, at any depth), tostring(err),
-- res.headers, progress output, the journal, the failures file, --verbose
-- lines, and the command's stdout and stderr. The fake echoes the bearer
-- token back in bodies (keys and values) and in response headers.
local users = require "users"
local env = require "spec.support.env"
local cli = require "spec.support.cli"

local ECHO_BODY = '{"error":"validation_error","message":"bad token @BEARER@",'
  .. '"details":{"@BEARER@":["is @BEARER@"]},"deep":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":"@BEARER@"}}}}}}}}}}'
local ECHO_HEADERS = { ["Content-Type"] = "application/json", ["X-Echo"] = "Bearer @BEARER@",
                       ["X-@BEARER@"] = "1" }

local contains = env.contains

describe("secrets never leave", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)
  before_each(function() env.fake:reset() end)

  it("the library: err at any depth, tostring(err), res.headers, progress, the journal", function()
    local token = "s3cr3t-T0KEN-xyz"
    env.fake:behave("generic", { respond = { status = 422, headers = ECHO_HEADERS, body = ECHO_BODY }, times = 1 })
    local user, err = users.update("generic", "u1", { role = "x" }, env.opts("generic", { token = token }))
    assert.is_nil(user)
    assert.is_false(contains(err, token))
    assert.is_nil(tostring(err):find(token, 1, true))
    env.fake:behave("generic", { respond = { status = 200, headers = ECHO_HEADERS, body = '{"id":"u1"}' }, times = 1 })
    local ok, res = users.update("generic", "u1", { role = "x" }, env.opts("generic", { token = token }))
    assert.is_table(ok)
    assert.is_false(contains(res, token))
    local journal, shown = os.tmpname(), {}
    env.fake:behave("generic", { respond = { status = 422, headers = ECHO_HEADERS, body = ECHO_BODY }, times = 3 })
    local report = users.bulk_update("generic", { { id = "a", fields = { role = "x" } }, { id = "b", fields = { role = "x" } },
                                                  { id = "c", fields = { role = "x" } } },
      env.opts("generic", { token = token, journal = journal,
        progress = function(done, total, r) shown[#shown + 1] = { done, total, r } end,
        on_result = function(_, _, e) shown[#shown + 1] = e end }))
    assert.equal(3, report.failed)
    assert.is_false(contains(report, token))
    assert.is_false(contains(shown, token))
    assert.is_nil((env.read(journal) or ""):find(token, 1, true))
    os.remove(journal)
  end)

  -- The text of an error refused before sending, made with `token`.
  local function refused(token)
    local _, err = users.update("generic", "u1", { email = 5, role = "x" }, env.opts("generic", { token = token }))
    return err
  end

  it("never changes an error's keys, codes or the module's own words, whatever the token holds", function()
    local plain = refused("zzzz-unrelated")
    for _, token in ipairs { "able", "tion", "alid", "rror", "err", "t", "ok" } do
      local err = refused(token) -- the module's words only: nothing to scrub
      assert.equal("validation_error", err.code)
      assert.equal("invalid", err.kind)
      assert.is_false(err.retryable)
      assert.equal(plain.message, err.message)
      assert.same(plain.fields, err.fields)
      env.fake:behave("generic", { respond = { status = 422, body = ECHO_BODY }, times = 1 })
      local _, e = users.update("generic", "u1", { role = "x" }, env.opts("generic", { token = token }))
      assert.equal("validation_error", e.code, token)
      assert.equal("http", e.kind)
      assert.equal(422, e.status)
      assert.is_false(e.retryable) -- "retryable" holds "able": a key is never renamed
      assert.equal("generic", e.provider)
      if #token >= 3 then -- the server's words are scrubbed, and only they
        assert.equal("bad token [REDACTED]", e.message)
        assert.is_false(env.contains(e.body, token))
      else -- too short to tell from text: left alone (and said once: below)
        assert.equal("bad token " .. token, e.message)
      end
    end
  end)

  it("says once that a credential under 3 characters is not scrubbed", function()
    local out = env.run_lua(([[
      local users = require "users"
      for _ = 1, 3 do users.update("generic", "u1", { role = "x" }, { base_url = %q, token = "t" }) end
      print("done")
    ]]):format(env.fake:base_url("generic")))
    assert.matches("done", out)
    local _, n = out:gsub("shorter than 3 characters", "")
    assert.equal(1, n, out)
  end)

  it("scrubs an echo of the token's first 8 characters or more, in the message and the body", function()
    local token = "tok-SECRET-0123456789"
    env.fake:behave("generic", { respond = { status = 401, headers = { ["X-Seen"] = "tok-SECRET-01..." },
      body = '{"error":"unauthorized","message":"invalid token tok-SECRET-01...","seen":{"tok-SECR":"tok-SECRE"}}' },
      times = 1 })
    local _, err = users.update("generic", "u1", { role = "x" }, env.opts("generic", { token = token }))
    assert.equal("unauthorized", err.code)
    assert.equal("invalid token [REDACTED]...", err.message)
    assert.same({ ["[REDACTED]"] = "[REDACTED]" }, err.body.seen)
    assert.is_false(env.contains(err, "tok-SECR"))
    assert.is_nil(tostring(err):find("tok-SECR", 1, true))
    env.fake:behave("generic", { respond = { status = 200, headers = { ["X-Seen"] = "tok-SECRET-01..." },
      body = '{"id":"u1"}' }, times = 1 })
    local _, res = users.update("generic", "u1", { role = "x" }, env.opts("generic", { token = token }))
    assert.equal("[REDACTED]...", res.headers["x-seen"])
    -- seven characters are no echo: text that merely starts the same stays
    env.fake:behave("generic", { respond = { status = 401, body = '{"message":"tok-SEC is not a token"}' }, times = 1 })
    _, err = users.update("generic", "u1", { role = "x" }, env.opts("generic", { token = token }))
    assert.equal("tok-SEC is not a token", err.message)
  end)

  it("the command: stdout, stderr, --verbose, the journal and the failures file", function()
    local token = "cli-S3CRET-token"
    local dir = cli.dir()
    env.write(dir .. "/users.csv", "id,role\na,x\nb,y\nc,z\n")
    env.fake:behave("generic", { respond = { status = 422, headers = ECHO_HEADERS, body = ECHO_BODY }, times = 2 })
    local vars = cli.vars("generic", { GENERIC_TOKEN = token })
    local out, err = cli.run("bulk generic users.csv --verbose --journal users.journal --failures users.failures.csv",
      vars, dir)
    assert.matches("failed", out .. err)
    local out2, err2 = cli.run("update generic u1 role=x --verbose", vars, dir)
    local out3, err3 = cli.run("update generic u1 role=x --dry-run", vars, dir)
    for _, text in ipairs { out, err, out2, err2, out3, err3,
                            env.read(dir .. "/users.journal") or "", env.read(dir .. "/users.failures.csv") or "" } do
      assert.is_nil(text:find(token, 1, true), text)
    end
    assert.matches("REDACTED", (env.read(dir .. "/users.failures.csv") or "") .. out .. err)
    cli.rm(dir)
  end)
end)
