-- The exact request each provider receives from users.update, over real
-- HTTP to the loopback fakes, and the decoded answer that comes back.
local users = require "users"
local env = require "spec.support.env"

-- The multipart body we expect, with the boundary the request used.
local function multipart(boundary, parts)
  local out = {}
  for _, p in ipairs(parts) do
    local name, value, file = p[1], p[2], p[3]
    out[#out + 1] = "--" .. boundary .. "\r\nContent-Disposition: form-data; name=\"" .. name .. "\""
    if file then
      out[#out + 1] = "; filename=\"" .. file.filename .. "\"\r\nContent-Type: " .. file.type
    end
    out[#out + 1] = "\r\n\r\n" .. value .. "\r\n"
  end
  out[#out + 1] = "--" .. boundary .. "--\r\n"
  return table.concat(out)
end

local function boundary_of(req)
  return assert(req.headers["content-type"]:match("^multipart/form%-data; boundary=(.+)$"))
end

describe("on the wire", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)
  before_each(function() env.fake:reset() end)

  it("sends Accept, User-Agent and no Expect to every provider", function()
    for _, name in ipairs(env.names) do
      local v = env.valid[name]
      local user, res = users.update(name, v.id, v.fields, env.opts(name))
      assert.is_table(user, res and tostring(res))
      local req = env.fake:last(name)
      assert.equal("application/json", req.headers["accept"])
      assert.matches("^lua%-users/%d", req.headers["user-agent"])
      assert.is_nil(req.headers["expect"])
    end
  end)

  it("lancepilot: multipart POST, booleans as 1/0, null as an empty part", function()
    local user, res = users.update("lancepilot", { workspace = env.WORKSPACE, user = 42 }, {
      name = "Jane Doé", email = "jane@example.com", timezone = "Europe/Paris",
      status = true, client = false, avatar = users.null,
    }, env.opts("lancepilot"))
    assert.is_table(user, res and tostring(res))
    local req = env.fake:last()
    assert.equal("POST", req.method)
    assert.equal("/lancepilot/api/v3/workspaces/" .. env.WORKSPACE .. "/users/42", req.uri)
    assert.equal("Bearer test-token", req.headers["authorization"])
    assert.equal(multipart(boundary_of(req), {
      { "name", "Jane Doé" }, { "email", "jane@example.com" }, { "timezone", "Europe/Paris" },
      { "status", "1" }, { "client", "0" }, { "avatar", "" },
    }), req.body)
    assert.equal(tostring(#req.body), req.headers["content-length"])
    assert.equal(200, res.status)
    assert.equal("Resource updated successfully.", user.message)
    assert.equal(42, user.data.id)
  end)

  it("lancepilot: the workspace from opts, the avatar streamed from its file", function()
    local png = env.tmpfile(env.PNG)
    local user, res = users.update("lancepilot", 42, {
      name = "Jane", email = "jane@example.com", timezone = "UTC", status = false,
      password = "secret1", confirm_password = "secret1", avatar = users.file(png),
    }, env.opts("lancepilot"))
    assert.is_table(user, res and tostring(res))
    local req = env.fake:last()
    local filename = png:match("[^/]+$")
    assert.equal(multipart(boundary_of(req), {
      { "name", "Jane" }, { "email", "jane@example.com" }, { "password", "secret1" },
      { "confirm_password", "secret1" }, { "timezone", "UTC" }, { "status", "0" },
      { "avatar", env.PNG, { filename = filename, type = "image/png" } },
    }), req.body)
    os.remove(png)
  end)

  it("lancepilot: a blob goes as a file part with its name and type", function()
    local user = users.update("lancepilot", 42, {
      name = "Jane", email = "jane@example.com", timezone = "UTC", status = true,
      avatar = users.blob(env.PNG, "me.png", "image/png"),
    }, env.opts("lancepilot"))
    assert.is_table(user)
    local req = env.fake:last()
    assert.truthy(req.body:find('name="avatar"; filename="me.png"\r\nContent-Type: image/png\r\n\r\n'
                                .. env.PNG .. "\r\n", 1, true))
  end)

  it("lexful: JSON PATCH with X-Account-ID, [] and null exactly", function()
    local user, res = users.update("lexful", env.USER_UUID, {
      first_name = "Zoë", last_name = users.null, account_scopes = {},
      organization_scopes = { "*" }, role = "viewer",
    }, env.opts("lexful"))
    assert.is_table(user, res and tostring(res))
    local req = env.fake:last()
    assert.equal("PATCH", req.method)
    assert.equal("/lexful/v1/users/" .. env.USER_UUID, req.uri)
    assert.equal(env.ACCOUNT, req.headers["x-account-id"])
    assert.equal("application/json", req.headers["content-type"])
    assert.equal('{"first_name":"Zoë","last_name":null,"role":"viewer","account_scopes":[],"organization_scopes":["*"]}',
                 req.body)
    assert.equal(users.null, user.last_name)
    assert.equal(users.array_mt, getmetatable(user.account_scopes))
  end)

  it("generic: JSON PATCH to the base URL the user set", function()
    local user = users.update("generic", "usr_1", { email = "a/b@example.com", username = "jane" },
                              env.opts("generic"))
    assert.equal("usr_1", user.id)
    local req = env.fake:last()
    assert.equal("PATCH", req.method)
    assert.equal("/generic/v1/users/usr_1", req.uri)
    assert.equal('{"email":"a/b@example.com","username":"jane"}', req.body)
  end)

  it("generic: an id with reserved characters stays one path segment", function()
    users.update("generic", "a b/../c?d#e", { role = "x" }, env.opts("generic"))
    assert.equal("/generic/v1/users/a%20b%2F..%2Fc%3Fd%23e", env.fake:last().uri)
  end)

  it("activepieces: JSON POST, camelCase fields, the user comes back", function()
    local user = users.update("activepieces", env.AP_ID, { platformRole = "ADMIN", externalId = "e-1" },
                              env.opts("activepieces"))
    local req = env.fake:last()
    assert.equal("POST", req.method)
    assert.equal("/activepieces/api/v1/users/" .. env.AP_ID, req.uri)
    assert.equal("Bearer sk-test-token", req.headers["authorization"])
    assert.equal('{"platformRole":"ADMIN","externalId":"e-1"}', req.body)
    assert.equal("ADMIN", user.platformRole)
  end)

  it("paradigm: PUT with the trailing slash, JSON by default", function()
    local user = users.update("paradigm", 7, { workspaces = { 3, 1 } }, env.opts("paradigm"))
    local req = env.fake:last()
    assert.equal("PUT", req.method)
    assert.equal("/paradigm/api/v2/users/7/workspaces/update/", req.uri)
    assert.equal('{"workspaces":[3,1]}', req.body)
    assert.equal(7, user.id)
    users.update("paradigm", 7, { workspaces = {} }, env.opts("paradigm"))
    assert.equal('{"workspaces":[]}', env.fake:last().body)
  end)

  it("paradigm: form-urlencoded and multipart when asked", function()
    assert.is_table(users.update("paradigm", 7, { workspaces = { 3, 1 } }, env.opts("paradigm", { encoding = "form" })))
    local req = env.fake:last()
    assert.equal("application/x-www-form-urlencoded", req.headers["content-type"])
    assert.equal("workspaces=3&workspaces=1", req.body)
    assert.is_table(users.update("paradigm", 7, { workspaces = { 3 } }, env.opts("paradigm", { encoding = "multipart" })))
    req = env.fake:last()
    assert.equal(multipart(boundary_of(req), { { "workspaces", "3" } }), req.body)
  end)

  it("refuses an encoding the provider does not have, as a misuse", function()
    assert.has_error(function()
      users.update("lexful", env.USER_UUID, { role = "admin" }, env.opts("lexful", { encoding = "form" }))
    end)
  end)

  it("returns status, lower-case headers, attempts and elapsed time", function()
    local _, res = users.update("generic", "u1", { role = "admin" }, env.opts("generic"))
    assert.equal(200, res.status)
    assert.matches("application/json", res.headers["content-type"])
    assert.equal(1, res.attempts)
    assert.is_number(res.elapsed)
    assert.is_true(res.elapsed >= 0 and res.elapsed < 60)
  end)

  it("reuses one kept-alive connection across calls", function()
    for i = 1, 5 do
      assert.is_table(users.update("generic", "u" .. i, { role = "admin" }, env.opts("generic")))
    end
    local reqs = env.fake:requests()
    assert.equal(5, #reqs)
    for i = 2, 5 do assert.equal(reqs[1].conn, reqs[i].conn) end
  end)

  it("prepare gives the same request without sending it", function()
    local req = users.prepare("paradigm", 7, { workspaces = { 1 } }, env.opts("paradigm"))
    assert.equal("PUT", req.method)
    assert.equal(env.fake:base_url("paradigm") .. "/api/v2/users/7/workspaces/update/", req.url)
    assert.equal('{"workspaces":[1]}', req.body)
    assert.equal("Bearer test-token", req.headers["Authorization"])
    assert.same({}, env.fake:requests())
  end)

  it("prepare streams an attached file through a chunk iterator", function()
    local png = env.tmpfile(env.PNG)
    local req = users.prepare("lancepilot", 42, { name = "J", email = "j@example.com", timezone = "UTC",
                                                  status = true, avatar = users.file(png) }, env.opts("lancepilot"))
    assert.is_function(req.body)
    local chunks = {}
    for chunk in req.body do chunks[#chunks + 1] = chunk end
    local body = table.concat(chunks)
    assert.equal(req.body_length, #body)
    assert.truthy(body:find(env.PNG, 1, true))
    os.remove(png)
  end)
end)
