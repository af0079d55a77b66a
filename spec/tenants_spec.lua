-- Tenants: a client's own credential (a token, or a lexful key pair) always
-- wins over users.configure and the environment, and is never mixed with
-- another source's; a client made without one falls back to them. Run in
-- child interpreters, so that the environment is real.
local env = require "spec.support.env"

local function lua(code, vars)
  return env.run_lua(([[
    local users = require "users"
    local BASE, ACCOUNT, ID = %q, %q, %q
    local FIELDS = { role = "admin" }
    local function say(user, err) io.write(user and "ok " or ("fail " .. tostring(err and err.code)), "\n") end
  ]]):format(env.fake:base_url("lexful"), env.ACCOUNT, env.USER_UUID) .. code, vars)
end

-- The bearer token of each request the fake saw, and how many token requests.
local function seen()
  local bearers, fetched = {}, 0
  for _, r in ipairs(env.fake:requests("lexful")) do
    if r.uri:match("/v1/auth/token$") then
      fetched = fetched + 1
    else
      bearers[#bearers + 1] = (r.headers.authorization or ""):match("Bearer (%S+)")
    end
  end
  return bearers, fetched
end

describe("tenants", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)
  before_each(function() env.fake:reset() end)

  it("a client's key pair beats LEXFUL_TOKEN in the environment, in update and bulk", function()
    local out = lua([[
      local c = users.new("lexful", { base_url = BASE, account_id = ACCOUNT,
                                       key_id = "test-key-id", key_secret = "test-key-secret" })
      say(c:update(ID, FIELDS))
      local r = c:bulk_update({ { id = ID, fields = FIELDS } })
      io.write("bulk ", r.succeeded, "\n")
    ]], "LEXFUL_TOKEN=stale-env-token")
    assert.equal("ok \nbulk 1\n", out)
    local bearers, fetched = seen()
    assert.equal(1, fetched)
    for _, b in ipairs(bearers) do assert.are_not.equal("stale-env-token", b) end
  end)

  it("a client's token beats a key pair from configure and the environment", function()
    local out = lua([[
      users.configure("lexful", { key_id = "nope", key_secret = "nope" })
      local c = users.new("lexful", { base_url = BASE, account_id = ACCOUNT, token = "test-token" })
      say(c:update(ID, FIELDS))
      say(c:bulk_update({ { id = ID, fields = FIELDS } }).succeeded == 1 or nil)
    ]], "LEXFUL_KEY_ID=env-id LEXFUL_KEY_SECRET=env-secret")
    assert.equal("ok \nok \n", out)
    local bearers, fetched = seen()
    assert.equal(0, fetched)
    assert.same({ "test-token", "test-token" }, bearers)
  end)

  it("a client with a credential never falls back: a wrong key fails, though the environment has a good token", function()
    local out = lua([[
      local c = users.new("lexful", { base_url = BASE, account_id = ACCOUNT, key_id = "test-key-id", key_secret = "wrong" })
      say(c:update(ID, FIELDS))
    ]], "LEXFUL_TOKEN=test-token")
    assert.equal("fail unauthorized\n", out)
    local bearers = seen()
    assert.same({}, bearers)
  end)

  it("a client without a credential falls back to configure, then the environment", function()
    local out = lua([[
      local c = users.new("lexful", { base_url = BASE, account_id = ACCOUNT })
      say(c:update(ID, FIELDS))
      users.configure("lexful", { key_id = "test-key-id", key_secret = "test-key-secret" })
      say(c:update(ID, FIELDS))
    ]], "LEXFUL_TOKEN=test-token")
    assert.equal("ok \nok \n", out)
    local bearers, fetched = seen()
    assert.equal(1, fetched)
    assert.equal("test-token", bearers[1])
    assert.are_not.equal("test-token", bearers[2])
  end)
end)
