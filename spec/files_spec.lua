-- A file value (users.file, users.blob) is read raw: a metatable's __index
-- cannot make a table a file, nor answer validation one thing and the
-- multipart encoder another (a part header injected, 1 MB or the image
-- rule bypassed). The encoder holds a file to the rules by itself too.
local users = require "users"
local core = require "users.core"
local env = require "spec.support.env"

local OPTS = { base_url = "http://127.0.0.1:9", token = "test-token", workspace = env.WORKSPACE }
local BIG = ("x"):rep(2 * 1024 * 1024)

local function fields(avatar)
  return { name = "Jane", email = "jane@example.com", timezone = "UTC", status = true,
           avatar = avatar }
end

-- raw, with an __index whose n-th read of key k answers answers[k][n] (and
-- the last one from then on): the first read looks harmless.
local function shifty(raw, answers)
  local reads = {}
  return setmetatable(raw, { __index = function(_, k)
    local list = answers[k]
    if not list then return nil end
    reads[k] = (reads[k] or 0) + 1
    return list[math.min(reads[k], #list)]
  end })
end

-- prepare: the request, or nil and the avatar's messages joined.
local function prepare(avatar)
  local req, err = users.prepare("lancepilot", 42, fields(avatar), OPTS)
  if req then return req end
  assert.equal("invalid", err.kind, tostring(err))
  return nil, table.concat(err.fields.avatar, "; ")
end

describe("file values", function()
  local png, big

  setup(function()
    png = env.tmpfile(env.PNG)
    big = env.tmpfile(env.PNG .. BIG)
  end)
  teardown(function()
    os.remove(png)
    os.remove(big)
  end)

  it("are tables with their own fields: what only __index gives is not a file", function()
    for _, file in ipairs { users.blob(env.PNG, "a.png", "image/png"), users.file(png) } do
      local req, says = prepare(setmetatable({}, { __index = file }))
      assert.is_nil(req)
      assert.matches("must be a file", says)
      local size, why = core.file_info(setmetatable({}, { __index = file }))
      assert.is_nil(size)
      assert.matches("must be a file", why)
    end
  end)

  it("take no part header from an __index that answers differently each time", function()
    local req = prepare(shifty({ data = env.PNG }, {
      filename = { "a.png", 'a.png"\r\nX-Injected: 1\r\nX-Also: "' },
      content_type = { "image/png", "image/png\r\nX-Injected: 1" },
    }))
    assert.is_table(req)
    assert.is_nil(req.body:find("X-Injected", 1, true))
    -- neither field is the table's own: the defaults, as for a blob without them
    assert.truthy(req.body:find('name="avatar"; filename="upload"\r\nContent-Type: image/png\r\n\r\n'
                                .. env.PNG .. "\r\n", 1, true))
  end)

  it("cannot grow past 1 MB or stop being an image between validation and encoding", function()
    local cases = {
      shifty({ filename = "a.png" }, { data = { env.PNG, env.PNG .. BIG } }),
      shifty({ filename = "a.png" }, { data = { env.PNG, "GIF" } }),
      shifty({ filename = "a.png" }, { path = { png, big } }),
      shifty({ filename = "a.png" }, { path = { png, "/etc/passwd" } }),
    }
    for i, avatar in ipairs(cases) do
      local req, says = prepare(avatar)
      assert.is_nil(req, "case " .. i)
      assert.matches("must be a file", says)
    end
  end)

  it("are held to their field's rules by the multipart encoder itself", function()
    local c = require("users.registry").get("lancepilot").compiled
    local function encode(avatar)
      local segments, problems = core.encode_multipart(c, fields(avatar))
      assert.is_nil(segments)
      return table.concat(problems.avatar, "; ")
    end
    assert.matches("at most 1048576 bytes", encode(users.blob(env.PNG .. BIG, "a.png")))
    assert.matches("at most 1048576 bytes", encode(users.file(big)))
    assert.matches("must be an image", encode(users.blob("GIF", "a.gif")))
    assert.matches("forbidden characters", encode(users.blob(env.PNG, "a.png", "image/png\r\nX: 1")))
    assert.matches("forbidden characters", encode(users.blob(env.PNG, 'a".png')))
    assert.matches("forbidden characters", encode(users.blob(env.PNG, "a.png", "image/png\0X")))
    -- what is no file (or cannot be read) is raised, as before
    assert.has_error(function() core.encode_multipart(c, fields("a.png")) end, "avatar: must be a file (users.file or users.blob)")
  end)

  it("are encoded as validated: a blob's bytes, a file's segment of the size seen", function()
    local req = prepare(users.blob(env.PNG, "me.png", "image/png"))
    assert.truthy(req.body:find('filename="me.png"\r\nContent-Type: image/png\r\n\r\n' .. env.PNG, 1, true))
    local c = require("users.registry").get("lancepilot").compiled
    local segments, length = core.encode_multipart(c, fields(users.file(png)))
    local file
    for _, s in ipairs(segments) do if type(s) == "table" then file = s end end
    assert.same({ path = png, size = #env.PNG }, file)
    local total = 0
    for _, s in ipairs(segments) do total = total + (type(s) == "table" and s.size or #s) end
    assert.equal(total, length)
  end)
end)
