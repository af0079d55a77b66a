-- A response's header block as the C core reads it (src/headers.c), over
-- the network from the hostile fake: blocks that end exactly where the
-- client's buffer does (read within their bytes: make asan checks that).
local core = require "users.core"
local env = require "spec.support.env"

local function get(case)
  local e = core.engine()
  local t0 = core.now()
  local res, code, msg = e:perform { url = env.fake.url .. "/hostile/" .. case, timeout = 20 }
  local took = core.now() - t0
  e:close()
  assert.is_table(res, tostring(code) .. ": " .. tostring(msg))
  return res, took
end

describe("response headers", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)

  it("a bare-LF block ending 'x:\\n\\n' exactly at 256 or 512 bytes is read within them", function()
    for _, case in ipairs { "bare-lf", "bare-lf-512" } do
      local res = get(case)
      assert.equal(200, res.status)
      assert.equal("", res.headers.x)
      assert.equal("application/json", res.headers["content-type"])
      assert.equal('{"id":"u1"}', res.body)
    end
  end)
end)
