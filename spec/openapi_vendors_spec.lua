-- Documents nobody here wrote (spec/fixtures/openapi/SOURCES.md): for each
-- vendor's user-update operation, users.openapi compiles it, describe lists
-- its fields, valid updates reach the OpenAPI fake with the document's
-- method, path, media type, credentials and body, and invalid ones are
-- refused before anything is sent, every offender named. The cases are
-- read off the documents by hand (spec/fixtures/openapi/cases.lua);
-- spec/openapi_prism.lua sends the same valid updates through Prism.
local users = require "users"
local env = require "spec.support.env"
local cjson = require "cjson.safe"
local json = dofile("spec/support/fake/json.lua") -- tells [] from {}, has null

local fixtures = dofile("spec/fixtures/openapi/cases.lua")
local cases, merged = fixtures.load(users), fixtures.merged


local function overlay_of(c) return merged({ name = c.name }, c.overlay) end

-- JSON text with its members in sorted order: what a server reads of it,
-- whatever order they came in ([] and {} kept apart).
local function canonical(text)
  local function walk(v)
    if v == json.null then return "null" end
    if json.is_array(v) then
      local out = {}
      for i, x in ipairs(v) do out[i] = walk(x) end
      return "[" .. table.concat(out, ",") .. "]"
    end
    if type(v) == "table" then
      local names, out = {}, {}
      for k in pairs(v) do names[#names + 1] = k end
      table.sort(names)
      for i, k in ipairs(names) do out[i] = ("%q:%s"):format(k, walk(v[k])) end
      return "{" .. table.concat(out, ",") .. "}"
    end
    return type(v) == "string" and ("%q"):format(v) or tostring(v)
  end
  local ok, v = pcall(json.decode, text)
  return ok and walk(v) or ("not JSON: " .. text)
end

-- application/x-www-form-urlencoded -> { { name, value }, ... }, sorted:
-- a server reads pairs, not their order
local function form_pairs(body)
  local function unescape(s)
    return (s:gsub("%+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
  end
  local list = {}
  for pair in body:gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    list[#list + 1] = { unescape(k), unescape(v) }
  end
  table.sort(list, function(a, b) return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2]) end)
  return list
end

-- multipart/form-data -> { { name, filename, content_type, data }, ... }
local function parts_of(req)
  local boundary = assert(req.headers["content-type"]:match("boundary=\"?([^\";]+)"), "no boundary")
  local list = {}
  local body = req.body
  local delimiter = "--" .. boundary
  local pos = assert(body:find(delimiter, 1, true), "no first boundary")
  while true do
    local after = pos + #delimiter
    if body:sub(after, after + 1) == "--" then break end
    local head_end = assert(body:find("\r\n\r\n", after, true), "a part without headers")
    local next_at = assert(body:find("\r\n" .. delimiter, head_end, true), "an unterminated part")
    local head = body:sub(after + 2, head_end - 1)
    list[#list + 1] = {
      name = head:match('name="([^"]*)"'), filename = head:match('filename="([^"]*)"'),
      content_type = head:match("[Cc]ontent%-[Tt]ype: *([^\r\n]+)"),
      data = body:sub(head_end + 4, next_at - 1),
    }
    pos = next_at + 2
  end
  return list
end

-- Whether err.fields names `name`: the key itself, or a path under it
-- (`roles[2]`, `profile.email`).
local function names(fields, name)
  for key in pairs(fields or {}) do
    if key == name or key:sub(1, #name + 1) == name .. "." or key:sub(1, #name + 1) == name .. "[" then
      return true
    end
  end
  return false
end

local function keys(t)
  local list = {}
  for k in pairs(t or {}) do list[#list + 1] = k end
  table.sort(list)
  return table.concat(list, ", ")
end

describe("vendor OpenAPI documents", function()
  local f
  setup(function() f = env.start() end)
  teardown(function() env.stop() end)

  for _, c in ipairs(cases) do
    describe(c.name .. ": " .. c.operation .. " (OpenAPI " .. c.version .. ")", function()
      local decl, base
      -- Each control call is a process: counted requests tell what was
      -- sent, with no reset between tests (valgrind makes forks dear).
      setup(function()
        local err
        decl, err = users.openapi(c.document, c.operation, overlay_of(c))
        assert(decl, "does not compile: " .. tostring(err))
        decl.replace = true
        users.register(decl)
        f:reset()
        base = f:openapi(c.name, { { method = c.method, path = c.path, media_type = c.media_type,
                                     credentials = c.credentials, body = '{"id":"1"}' } })
      end)
      local function opts(extra) return merged(c.opts, { base_url = base, timeout = 10 }, extra) end

      it("compiles to the document's method and path", function()
        assert.equal(c.name, decl.name)
        assert.equal(c.method, decl.method)
        assert.equal(c.path, decl.path)
      end)

      it("describe lists the request body's fields, and the base URL of its servers", function()
        local d = users.describe(c.name)
        local want, got = {}, {}
        for _, name in ipairs(c.fields) do want[name] = true end
        for name in pairs(d.fields) do got[name] = true end
        assert.same(want, got)
        assert.equal(c.base_url, d.base_url)
        for name, hint in pairs(c.format_hints or {}) do assert.equal(hint, d.fields[name].format_hint) end
      end)

      for i, v in ipairs(c.valid) do
        it("sends valid update " .. i .. " as the document says", function()
          local before = f:stats().requests
          local user, err = users.update(c.name, v.id, v.fields, opts())
          assert(user, tostring(err))
          assert.same({ id = "1" }, user)
          local r = f:last("openapi")
          assert.equal(before + 1, r.seq) -- one request, this one
          assert.equal(c.method, r.method)
          assert.equal("/openapi/" .. c.name .. v.path, r.uri)
          assert.equal(c.media_type, (r.headers["content-type"] or ""):match("^[^;]+"))
          for _, need in ipairs(c.credentials[1]) do assert.equal(need.value, r.headers[need.header]) end
          if v.body then assert.equal(canonical(v.body), canonical(r.body)) end
          -- the same members and pairs, and in the document's order (its
          -- properties', YAML and JSON alike; the caller's extra keys sorted)
          if v.body then assert.equal(v.body, r.body) end
          if v.form then assert.same(form_pairs(v.form), form_pairs(r.body)) end
          if v.form then assert.equal(v.form, r.body) end
          if v.parts then assert.same(v.parts, parts_of(r)) end
        end)
      end

      for _, v in ipairs(c.invalid) do
        it("refuses " .. v.why .. " before sending, naming " .. table.concat(v.named, ", "), function()
          local before = f:stats().requests
          local user, err = users.update(c.name, v.id or c.valid[1].id, v.fields, opts())
          assert.is_nil(user)
          assert.equal("invalid", err.kind, tostring(err))
          for _, name in ipairs(v.named) do
            assert(names(err.fields, name), name .. " not named; err.fields: " .. keys(err.fields))
          end
          for key in pairs(err.fields) do -- and nothing that is not wrong
            local expected = false
            for _, name in ipairs(v.named) do expected = expected or names({ [key] = true }, name) end
            assert(expected, "named without a reason: " .. key .. " (" .. tostring(err) .. ")")
          end
          if v.says then
            local messages = {}
            for _, list in pairs(err.fields) do
              for _, m in ipairs(list) do messages[#messages + 1] = m end
            end
            assert.truthy(table.concat(messages, "\n"):find(v.says, 1, true), tostring(err))
          end
          assert.equal(before, f:stats().requests)
        end)
      end

      for _, v in ipairs(c.config or {}) do
        it("is a configuration error when " .. v.why .. ", naming " .. v.names, function()
          local before = f:stats().requests
          local user, err = users.update(c.name, v.id, v.fields, merged({ base_url = base }, v.opts))
          assert.is_nil(user)
          assert.equal("config", err.kind, tostring(err))
          assert.truthy(tostring(err):find(v.names, 1, true), tostring(err))
          assert.equal(before, f:stats().requests)
        end)
      end
    end)
  end

  it("a document without servers compiles; an update without a base URL is a configuration error", function()
    local decl = assert(users.openapi("spec/fixtures/openapi/kratos.json", "updateIdentity", { name = "kratos_bare" }))
    assert.is_nil(decl.base_url)
    decl.replace = true
    users.register(decl)
    local before = f:stats().requests
    local user, err = users.update("kratos_bare", "i1", { schema_id = "default", traits = { email = "a@b.co" }, state = "active" },
      { token = "Bearer ory_pat_test" })
    assert.is_nil(user)
    assert.equal("config", err.kind, tostring(err))
    assert.truthy(tostring(err):find("base URL", 1, true), tostring(err))
    assert.equal(before, f:stats().requests)
  end)

  describe("a document given as", function()
    local path = "spec/fixtures/openapi/discord.json"
    local function shape(decl)
      local list = {}
      for _, field in ipairs(decl.fields) do list[#list + 1] = field[1] end
      table.sort(list)
      return { method = decl.method, path = decl.path, fields = list }
    end
    local from_path
    setup(function()
      from_path = shape(assert(users.openapi(path, "update_guild_member", { name = "discord" })))
    end)

    it("a JSON string compiles as its file does", function()
      local text = env.read(path)
      assert.same(from_path, shape(assert(users.openapi(text, "update_guild_member", { name = "discord" }))))
    end)

    it("a decoded table compiles as its file does", function()
      local doc = assert(cjson.decode(env.read(path)))
      assert.same(from_path, shape(assert(users.openapi(doc, "update_guild_member", { name = "discord" }))))
    end)

    it("a YAML string compiles as its file does", function()
      local yaml_path = "spec/fixtures/openapi/okta.yaml"
      local a = shape(assert(users.openapi(yaml_path, "updateUser", { name = "okta" })))
      local b = shape(assert(users.openapi(env.read(yaml_path), "updateUser", { name = "okta" })))
      assert.same(a, b)
      assert.equal("/api/v1/users/{id}", b.path)
    end)

    it("an operation named by method and path compiles as by its operationId", function()
      assert.same(from_path, shape(assert(users.openapi(path, "PATCH /guilds/{guild_id}/members/{user_id}",
        { name = "discord" }))))
    end)
  end)
end)
