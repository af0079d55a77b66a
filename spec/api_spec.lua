-- The public surface: names, descriptions, clients, defaults, the
-- environment, misuse, and a sixth provider added by one file.
local users = require "users"
local env = require "spec.support.env"

describe("the users module", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)
  before_each(function() env.fake:reset() end)

  it("lists the five providers", function()
    local names = users.providers()
    for _, n in ipairs(env.names) do
      local found = false
      for _, m in ipairs(names) do found = found or m == n end
      assert.is_true(found, n)
    end
  end)

  it("describes a provider's fields and rules", function()
    local d = users.describe("lancepilot")
    assert.equal("POST", d.method)
    assert.equal("/workspaces/{workspace}/users/{user}", d.path)
    assert.is_true(d.fields.name.required)
    assert.equal(50, d.fields.name.max_length)
    assert.equal("file", d.fields.avatar.type)
    assert.is_true(d.fields.avatar.nullable)
    assert.same({ "multipart" }, d.encodings)
    d.fields.name.max_length = 1 -- a copy: the provider is unchanged
    assert.equal(50, users.describe("lancepilot").fields.name.max_length)
    assert.same({ "json", "form", "multipart" }, users.describe("paradigm").encodings)
  end)

  it("has no back door to its low layers (users._options, users._registry)", function()
    for k in pairs(users) do
      assert.is_nil(k:find("^_%l"), "an internal layer in the public table: users." .. k)
    end
  end)

  it("users.null is cjson.null and ngx.null's value", function()
    local ok, cjson = pcall(require, "cjson")
    if ok then assert.equal(cjson.null, users.null) end
    assert.equal("userdata", type(users.null))
  end)

  it("a client carries its own options", function()
    local a = users.new("generic", env.opts("generic"))
    local b = users.new("generic", env.opts("generic", { token = "wrong" }))
    assert.is_table(a:update("u1", { role = "x" }))
    local _, err = b:update("u1", { role = "x" })
    assert.equal("unauthorized", err.code)
    assert.equal("Bearer test-token", env.fake:requests()[1].headers["authorization"])
    assert.matches("generic", tostring(a))
    assert.equal('{"role":"y"}', a:prepare("u1", { role = "y" }).body)
    assert.is_table(users.update(a, "u2", { role = "z" }))
  end)

  it("configure sets defaults that a call's options override", function()
    users.configure("paradigm", env.opts("paradigm", { token = "wrong" }))
    local _, err = users.update("paradigm", 7, { workspaces = {} })
    assert.equal("unauthorized", err.code)
    assert.is_table(users.update("paradigm", 7, { workspaces = {} }, { token = "test-token" }))
  end)

  it("falls back to <PROVIDER>_TOKEN, _BASE_URL and LANCEPILOT_WORKSPACE", function()
    local out = env.run_lua([[
      local users = require "users"
      local user, err = users.update("lancepilot", 42, { name = "Env", email = "e@example.com",
                                      timezone = "UTC", status = true })
      io.write(user and "ok" or tostring(err))
    ]], ("LANCEPILOT_TOKEN=test-token LANCEPILOT_BASE_URL='%s' LANCEPILOT_WORKSPACE=%s"):format(
      env.fake:base_url("lancepilot"), env.WORKSPACE))
    assert.equal("ok", out)
    assert.equal("/lancepilot/api/v3/workspaces/" .. env.WORKSPACE .. "/users/42", env.fake:last().uri)
  end)

  it("raises on misuse, as Lua's own libraries do", function()
    local cases = {
      { "bad argument #1 to 'update' %(unknown provider 'nope'%)", function() users.update("nope", 1, { a = 1 }) end },
      { "bad argument #1 to 'update'", function() users.update(42, 1, { a = 1 }) end },
      { "bad argument #2 to 'update'", function() users.update("generic", nil, { a = 1 }) end },
      { "bad argument #3 to 'update'", function() users.update("generic", "u", "role=x") end },
      { "bad argument #4 to 'update' %(unknown option 'tokn'%)", function() users.update("generic", "u", {}, { tokn = "x" }) end },
      { "bad argument #4 to 'update' %(option 'timeout'", function() users.update("generic", "u", {}, { timeout = "5" }) end },
      { "bad argument #1 to 'prepare'", function() users.prepare("../x", 1, {}) end },
      { "bad argument #1 to 'new'", function() users.new("nope") end },
      { "bad argument #2 to 'configure'", function() users.configure("generic", { retries = -1 }) end },
      { "bad argument #1 to 'file'", function() users.file(nil) end },
      { "bad argument #2 to 'blob'", function() users.blob("x") end },
      { "bad argument #1 to 'describe'", function() users.describe("nope") end },
    }
    for _, c in ipairs(cases) do
      local ok, msg = pcall(c[2])
      assert.is_false(ok)
      assert.matches(c[1], msg)
    end
  end)

  it("adds a sixth provider with one file and no C", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir .. "/users/providers"))
    local f = assert(io.open(dir .. "/users/providers/sixth.lua", "w"))
    f:write([[
      return {
        name = "sixth", method = "PATCH", path = "/v1/users/{user_id}",
        params = { { "user_id", type = "string", pattern = "^u[0-9]+$" } },
        fields = {
          { "username", type = "string", required = true, pattern = "^[a-z]{3,8}$" },
          { "role", type = "string", enum = { "admin", "member" } },
        },
        error = function(_, body) return { message = body.message, fields = body.details } end,
      }
    ]])
    f:close()
    local saved = package.path
    package.path = dir .. "/?.lua;" .. package.path
    local names = table.concat(users.providers(), ",")
    assert.matches("sixth", names)
    local o = { base_url = env.fake:base_url("generic"), token = "test-token" }
    local _, err = users.update("sixth", "u7", { role = "owner" }, o)
    assert.equal("invalid", err.kind)
    assert.is_table(err.fields.username)
    assert.is_table(err.fields.role)
    _, err = users.update("sixth", "x7", { username = "jane" }, o)
    assert.is_table(err.fields.user_id)
    assert.same({}, env.fake:requests())
    local user = users.update("sixth", "u7", { username = "jane", role = "admin" }, o)
    assert.equal("jane", user.username)
    assert.equal('{"username":"jane","role":"admin"}', env.fake:last().body)
    assert.equal("sixth", users.describe("sixth").name)
    package.path = saved
    os.execute("rm -rf " .. dir)
  end)

  it("reports a broken provider file clearly", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir .. "/users/providers"))
    local f = assert(io.open(dir .. "/users/providers/broken.lua", "w"))
    f:write('return { name = "broken", fields = { { "x", type = "strng" } } }')
    f:close()
    local saved = package.path
    package.path = dir .. "/?.lua;" .. package.path
    local ok, msg = pcall(users.update, "broken", "1", { x = "y" })
    package.path = saved
    os.execute("rm -rf " .. dir)
    assert.is_false(ok)
    assert.matches("unknown type 'strng'", msg)
  end)
end)
