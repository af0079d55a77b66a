-- A response's header block as the C core reads it (src/headers.c), over
-- the network from the hostile fake: blocks that end exactly where the
-- client's buffer does (read within their bytes: make asan checks that),
-- and a header repeated 60 000 times, joined in linear time.
local core = require "users.core"
local env = require "spec.support.env"

local function get(case)
  local e = core.engine()
  local t0 = core.now()
  local res, msg, code = e:perform { url = env.fake.url .. "/hostile/" .. case, timeout = 20 }
  local took = core.now() - t0
  e:close()
  assert.is_table(res, tostring(code) .. ": " .. tostring(msg))
  return res, took
end

-- The fastest of a few runs: the machine's load only ever adds time.
local function fastest(case, runs)
  local best, res = math.huge, nil
  for _ = 1, runs do
    local r, took = get(case)
    res = r
    if took < best then best = took end
  end
  return best, res
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

  it("60 000 repeats of one header are joined with ', ' in linear time", function()
    local small, res15 = fastest("repeats-15000", 3)
    local large, res60 = fastest("repeats-60000", 3)
    assert.equal(15000 * 3 - 2, #res15.headers.a)
    assert.equal(60000 * 3 - 2, #res60.headers.a)
    assert.equal(("1, "):rep(59999) .. "1", res60.headers.a)
    assert.equal("2", res60.headers["content-length"])
    -- Four times the lines: linear is about four times the time (less,
    -- with the fixed cost of a request); quadratic, sixteen.
    assert.is_true(large < 8 * small + 0.05,
      ("15 000 repeats in %.3f s, 60 000 in %.3f s"):format(small, large))
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
