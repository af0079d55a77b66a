-- Lua numbers where the C core makes C integers of them: NaN, infinities
-- and values beyond what the C type holds are clamped or refused, never
-- cast as they are (undefined behaviour; make asan's UBSan says so). The
-- Lua layer range-checks its options first: these call the core directly.
local core = require "users.core"
local env = require "spec.support.env"

local HUGE, NAN = math.huge, 0 / 0

-- Runs code in a child interpreter for at most `limit` seconds: "exit:N",
-- 124 when it was still running (timeout(1)'s status).
local function run_for(limit, code)
  local script = os.tmpname()
  env.write(script, 'package.cpath = os.getenv("LUA_USERS_CPATH") .. ";" .. package.cpath\n' .. code)
  local p = io.popen(("LUA_USERS_CPATH='%s' timeout %s %s %s 2>&1; echo \"exit:$?\""):format(
    package.cpath:match("^[^;]+"), limit, env.lua_bin(), script))
  local out = p:read("*a")
  p:close()
  os.remove(script)
  return out
end

describe("numbers at the C core's edges", function()
  it("sleep returns at once for NaN, zero and negatives", function()
    local t0 = core.now()
    for _, s in ipairs { NAN, 0, -1, -HUGE, -1e300 } do core.sleep(s) end
    assert.is_true(core.now() - t0 < 5)
  end)

  it("sleep takes infinity and 1e300 as the longest sleep, not as none", function()
    for _, s in ipairs { "math.huge", "1e300", "2^63" } do
      local out = run_for(0.5, 'require("users.core").sleep(' .. s .. ')\nprint("returned")')
      assert.truthy(out:find("exit:124", 1, true), s .. ": " .. out)
      assert.is_nil(out:find("returned", 1, true), s)
    end
    assert.matches("exit:0", run_for(60, 'require("users.core").sleep(0.01)'))
  end)

  it("isatty is false for descriptors no int holds", function()
    for _, fd in ipairs { HUGE, -HUGE, NAN, 1e300, -1, 2 ^ 32 + 1, 1.5 } do
      assert.is_false(core.isatty(fd), tostring(fd))
    end
  end)

  it("engine: max_host_connections beyond an int is clamped; NaN and negatives are refused", function()
    for _, n in ipairs { HUGE, 1e300, 2 ^ 40 } do
      local e = core.engine { max_host_connections = n }
      e:close()
    end
    for _, n in ipairs { -1, NAN, -HUGE } do
      assert.has_error(function() core.engine { max_host_connections = n } end,
        "max_host_connections must be a number of connections (0: no limit)")
    end
  end)

  describe("a request", function()
    setup(function() env.start() end)
    teardown(function() env.stop() end)

    local function perform(extra)
      local req = { url = env.fake:base_url("generic") .. "/users/u1", method = "GET",
                    headers = { "Authorization: Bearer test-token" } }
      for k, v in pairs(extra) do req[k] = v end
      local e = core.engine()
      local ok, res, msg, code = pcall(e.perform, e, req)
      e:close()
      if not ok then error(res, 0) end
      return res, msg, code
    end

    it("takes timeouts of infinity or 1e300 seconds as no limit it would meet", function()
      for _, t in ipairs { HUGE, 1e300, 2 ^ 63 } do
        local res, msg, code = perform { timeout = t, connect_timeout = t }
        assert.is_table(res, tostring(code) .. ": " .. tostring(msg))
      end
      assert.has_error(function() perform { timeout = NAN } end, "'timeout' must be a positive number of seconds")
    end)

    it("refuses a file segment whose size is no byte count", function()
      local png = env.tmpfile(env.PNG)
      for _, size in ipairs { -1, NAN, HUGE, 1e300, -HUGE } do
        assert.has_error(function()
          perform { method = "POST", segments = { "a", { path = png, size = size } } }
        end, "segment 2: size must be a byte count")
      end
      os.remove(png)
    end)
  end)
end)
