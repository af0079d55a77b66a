-- lexful's key id + secret: the client fetches its JWT, reuses it, refreshes
-- it before expiry and after a 401, and never shows a secret.
local users = require "users"
local env = require "spec.support.env"
local fake = require "spec.support.fake_providers"

local function key_opts(extra)
  local o = env.opts("lexful", { key_id = fake.LEXFUL.key_id, key_secret = fake.LEXFUL.key_secret })
  o.token = nil
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

describe("lexful credentials", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)
  before_each(function() env.fake:reset() end)

  local v = env.valid.lexful

  it("fetches a token with the key, then updates with it", function()
    local client = users.new("lexful", key_opts { account_id = env.ACCOUNT })
    local user, res = client:update(v.id, v.fields)
    assert.is_table(user, res and tostring(res))
    local reqs = env.fake:requests("lexful")
    assert.equal(2, #reqs)
    assert.equal("POST", reqs[1].method)
    assert.equal("/lexful/v1/auth/token", reqs[1].uri)
    assert.equal(env.ACCOUNT, reqs[1].headers["x-account-id"])
    assert.equal('{"id":"test-key-id","secret":"test-key-secret"}', reqs[1].body)
    assert.matches("^Bearer [%w_-]+%.[%w_-]+%.[%w_-]+$", reqs[2].headers["authorization"])
    assert.equal(env.ACCOUNT, reqs[2].headers["x-account-id"])
  end)

  it("reuses the token while it is valid", function()
    for _ = 1, 3 do assert.is_table(users.update("lexful", v.id, v.fields, key_opts())) end
    assert.equal(1, env.fake:stats().tokens_issued)
  end)

  it("refreshes the token before it expires", function()
    env.fake:behave("lexful", { token_ttl = 2 })
    local o = key_opts { key_id = fake.LEXFUL.key_id } -- same key: a fresh cache entry is not needed
    o.base_url = env.fake:base_url("lexful") .. "/" -- another cache key than the specs above
    assert.is_table(users.update("lexful", v.id, v.fields, o))
    assert.equal(1, env.fake:stats().tokens_issued)
    require("users.core").sleep(2)
    assert.is_table(users.update("lexful", v.id, v.fields, o))
    assert.equal(2, env.fake:stats().tokens_issued)
    -- Fetched before the old one expired: no PATCH was refused with a 401.
    local uris = {}
    for _, r in ipairs(env.fake:requests("lexful")) do uris[#uris + 1] = r.method end
    assert.same({ "POST", "PATCH", "POST", "PATCH" }, uris)
  end)

  it("fetches a new token after a 401, once", function()
    assert.is_table(users.update("lexful", v.id, v.fields, key_opts()))
    env.fake:reset() -- the server forgets every token it issued
    local user, res = users.update("lexful", v.id, v.fields, key_opts())
    assert.is_table(user, res and tostring(res))
    assert.equal(1, res.attempts)
    local uris = {}
    for _, r in ipairs(env.fake:requests("lexful")) do uris[#uris + 1] = r.method .. " " .. r.uri end
    assert.same({ "PATCH /lexful/v1/users/" .. v.id, "POST /lexful/v1/auth/token",
                  "PATCH /lexful/v1/users/" .. v.id }, uris)
  end)

  it("reports a refused key without the secret", function()
    local o = key_opts { key_secret = "wrong-secret-value" }
    o.base_url = env.fake:base_url("lexful") .. "//"
    local user, err = users.update("lexful", v.id, v.fields, o)
    assert.is_nil(user)
    assert.equal("http", err.kind)
    assert.equal(401, err.status)
    assert.matches("token request failed", err.message)
    assert.is_nil(tostring(err):find("wrong-secret-value", 1, true))
    assert.equal(1, #env.fake:requests("lexful"))
  end)

  it("needs the account id, from opts or LEXFUL_ACCOUNT_ID", function()
    local o = env.opts("lexful")
    o.account_id = nil
    local _, err = users.update("lexful", v.id, v.fields, o)
    assert.equal("config", err.kind)
    assert.matches("LEXFUL_ACCOUNT_ID", err.message)
  end)
end)
