-- A response's header block as the C core reads it (src/headers.c), over
-- the network from the hostile fake: blocks that end exactly where the
-- client's buffer does (read within their bytes: make asan checks that),
-- and a header repeated 60 000 times, joined in linear time: shown by the
-- memory a response allocates, never by a clock.
local core = require "users.core"
local env = require "spec.support.env"

-- The response, and the KB of Lua memory the engine allocated for it (the
-- collector stopped meanwhile, so that every byte counts).
local function get(case)
  local e = core.engine()
  collectgarbage()
  collectgarbage("stop")
  local before = collectgarbage("count")
  local res, msg, code = e:perform { url = env.fake.url .. "/hostile/" .. case, timeout = 20 }
  local kb = collectgarbage("count") - before
  collectgarbage("restart")
  e:close()
  assert.is_table(res, tostring(code) .. ": " .. tostring(msg))
  return res, kb
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

  it("60 000 repeats of one header are joined with ', '", function()
    local res60 = get("repeats-60000")
    assert.equal(60000 * 3 - 2, #res60.headers.a)
    assert.equal(("1, "):rep(59999) .. "1", res60.headers.a)
    assert.equal("2", res60.headers["content-length"])
  end)

  it("joins them in linear time: four times the repeats, about four times the memory", function()
    local res5, small = get("repeats-5000")
    local res20, large = get("repeats-20000")
    assert.equal(5000 * 3 - 2, #res5.headers.a)
    assert.equal(20000 * 3 - 2, #res20.headers.a)
    -- quadratic joining would allocate about sixteen times more
    assert.is_true(large < 6 * small, ("5 000 repeats: %.0f KB, 20 000: %.0f KB"):format(small, large))
  end)
end)

describe("core.mentions", function()
  it("finds a secret in a key or a value, anywhere in it, and nothing else", function()
    local h = { server = "nginx", ["x-echo"] = "prefix-aab-tok3n", ["x-tok3n-name"] = "1", n = 5 }
    assert.is_true(core.mentions(h, { "tok3n" }))
    assert.is_true(core.mentions({ ["x-tok3n"] = "v" }, { "tok3n" }))        -- a key
    assert.is_true(core.mentions({ a = "aaab" }, { "aab" }))                  -- after a false start
    assert.is_true(core.mentions({ a = "xx-end" }, { "nope", "end" }))        -- the second secret, at the end
    assert.is_false(core.mentions({ a = "tok3" }, { "tok3n" }))              -- a prefix is not it
    assert.is_false(core.mentions({ a = "value" }, { "" }))                   -- empty secrets never match
    assert.is_false(core.mentions({ [1] = 12345, a = true }, { "123" }))      -- only strings are looked at
    assert.is_false(core.mentions({}, { "x" }))
    assert.is_true(core.mentions({ a = "a\0tok" }, { "\0tok" }))              -- bytes, not C strings
  end)
end)
