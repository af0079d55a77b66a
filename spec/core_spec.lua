-- The C core's edges: inputs that once broke it, each held to the right
-- answer (found by review, reproduced under ASan and valgrind).
local core = require "users.core"
local users = require "users"
local env = require "spec.support.env"

local function compile(fields)
  return core.compile { name = "edge", fields = fields }
end

describe("the C core at its edges", function()
  it("refuses rules nested deeper than 64 (they would overrun the C stacks); 64 work", function()
    local function nested(n)
      local s = { type = "integer" }
      for _ = 1, n do s = { type = "array", items = s } end
      s[1] = "a"
      return s
    end
    local ok, msg = pcall(core.compile, { name = "deep", fields = { nested(300) } })
    assert.is_false(ok)
    assert.matches("nested deeper than 64", msg)
    local p = core.compile { name = "deep", fields = { nested(64) } }
    local v = 1
    for _ = 1, 64 do v = { v } end
    local want = ("["):rep(64) .. "1" .. ("]"):rep(64)
    assert.is_nil(core.validate(p, { a = v }))
    assert.equal('{"a":' .. want .. '}', core.encode_json(p, { a = v }))
    assert.equal('{"a":' .. want .. '}', core.marshal_json(p, { a = v }))
  end)

  it("refuses a declaration of more than 100 000 schemas and enum values at compile, however it is built", function()
    -- (the largest operation of GitHub's whole API, bench/data, compiles to 259)
    local function too_large(fields)
      local ok, msg = pcall(compile, fields)
      assert.is_false(ok, "expected the declaration refused")
      assert.matches("more than 100000 schemas and enum values in one declaration: refused as too large", msg)
      return msg
    end
    -- one Lua table reached from many places: a small declaration that
    -- would unfold into 10 + 100 + ... + 10^5 schemas (counted first, read only)
    local function fan(levels)
      local list = { { "leaf", type = "integer" } }
      for _ = 1, levels do
        local shared, next_list = list, {}
        for i = 1, 10 do next_list[i] = { "p" .. i, type = "object", properties = shared } end
        list = next_list
      end
      return { { "root", type = "object", properties = list } }
    end
    too_large(fan(5))
    compile(fan(3)) -- 1 111 schemas: fine
    local wide, values, entry = {}, {}, { "k" } -- (one entry: refused before names are compared)
    for i = 1, 100001 do wide[i], values[i] = entry, i end
    too_large { { "o", type = "object", properties = wide } }
    too_large { { "e", enum = values } }
    too_large { { "a", any_of = wide } }
    -- a long list still finds a name declared twice
    local twice = {}
    for i = 1, 40 do twice[i] = { "k" .. (i == 40 and 7 or i) } end
    local ok, msg = pcall(compile, { { "o", type = "object", properties = twice } })
    assert.is_false(ok)
    assert.matches("property k7 is declared twice", msg)
  end)

  it("keeps each enum value and pattern it points into alive, whatever happens to the declaration", function()
    -- Strings over 40 bytes are not interned on 5.2-5.4: two equal ones are
    -- two objects (as a YAML document makes them), and the second once was
    -- held by nothing but the declaration, dropped here.
    local A, P = ("a"):rep(60), "^" .. ("x"):rep(60) .. "$"
    local p = core.compile { name = "t", fields = {
      { "a", type = "string", enum = { A } },
      { "b", type = "string", enum = { ("a"):rep(30) .. ("a"):rep(30), "zz" } },
      { "c", type = "string", pattern = P },
      { "d", type = "string", pattern = "^" .. ("x"):rep(30) .. ("x"):rep(30) .. "$" },
      { "e", type = "boolean" },
    }, form_booleans = { ("t"):rep(30) .. ("t"):rep(30), ("f"):rep(60) } }
    collectgarbage(); collectgarbage()
    local junk = {} -- the freed blocks taken again, by other text
    for i = 1, 20000 do junk[i] = string.char(65 + i % 26):rep(60) .. i end
    assert.is_nil(core.validate(p, { b = ("a"):rep(60) }))
    assert.same({ b = { "must be one of: " .. A .. ", zz" } }, core.validate(p, { b = junk[49] }))
    assert.same({ d = { "must match the pattern " .. P } }, core.validate(p, { d = "y" }))
    assert.is_nil(core.validate(p, { d = ("x"):rep(60) }))
    assert.equal("e=" .. ("t"):rep(60), core.encode_form(p, { e = true }))
    assert.equal(20000, #junk)
  end)

  it("costs a long enum value or pattern once however often a declaration lists it, and bounds the text it copies", function()
    local function rss_mb() -- what the process holds (C allocations included), in MB
      for line in io.lines("/proc/self/status") do
        local kb = line:match("^VmRSS:%s+(%d+)")
        if kb then return tonumber(kb) / 1024 end
      end
    end
    -- 40 copies of one 1 MB string: each was copied (40 MB); now the Lua string is kept
    local big, values = ("x"):rep(1024 * 1024), {}
    for i = 1, 40 do values[i] = big end
    local before = rss_mb()
    local e = compile { { "e", enum = values } }
    assert.is_true(rss_mb() - before < 20, "the enum value was copied for each place")
    assert.is_nil(core.validate(e, { e = big }))
    assert.equal("is not one of the 40 allowed values", core.validate(e, { e = "y" }).e[1])
    -- one 1 KB pattern table in 2000 alternatives: compiled (twice, with the JIT) 2000 times, ~80 MB
    local pattern = "^(" .. ("ab|"):rep(340) .. "c)$"
    local shared, alternatives = { pattern = pattern }, {}
    for i = 1, 2000 do alternatives[i] = shared end
    before = rss_mb()
    local p = compile { { "x", any_of = alternatives } }
    assert.is_true(rss_mb() - before < 20, "the pattern was compiled for each place")
    assert.is_nil(core.validate(p, { x = "ab" }))
    assert.matches("must be text matching %^%(ab|ab", core.validate(p, { x = "abc" }).x[1])
    -- names, content types and same_as are copied per place: at most 64 MB of them
    local long = { { ("n"):rep(1024 * 1024), type = "string" } }
    local objects = {}
    for i = 1, 65 do objects[i] = { type = "object", properties = long } end
    local ok, msg = pcall(compile, { { "o", any_of = objects } })
    assert.is_false(ok)
    assert.matches("more than 64 MB of names and types in one declaration: refused as too large", msg)
    for i = 9, 65 do objects[i] = nil end
    compile { { "o", any_of = objects } } -- 8 MB: taken
  end)

  it("refuses object keys that are not UTF-8, or two keys with one text (1 and \"1\")", function()
    local ok, msg = pcall(core.json_encode, { ["\255"] = 1 })
    assert.is_false(ok)
    assert.matches("not UTF%-8", msg)
    ok, msg = pcall(core.json_encode, { [1] = "a", ["1"] = "b", x = 1 })
    assert.is_false(ok)
    assert.matches('two keys JSON writes as "1"', msg)
    assert.equal('{"1":"a","x":1}', core.json_encode { [1] = "a", x = 1 })
    assert.equal('{"a":1}', core.json_encode { a = 1 }) -- the scratch buffer came back
  end)

  -- What a sleeping child process asked the kernel for: the seconds of the
  -- timespec its clock_nanosleep (or nanosleep) call points at, read from
  -- /proc while it sleeps (the child is killed after).
  local function slept_for(seconds)
    local script = os.tmpname()
    env.write(script, ("package.cpath = %q .. package.cpath\nrequire('users.core').sleep(%s)\n")
      :format(package.cpath:match("^[^;]+") .. ";", seconds))
    local pid = env.sh(("%s %s >/dev/null 2>&1 & echo $!"):format(env.lua_bin(), script)):match("%d+")
    local asked
    for _ = 1, 600 do -- a child under valgrind takes a while to get there
      local call = env.read("/proc/" .. pid .. "/syscall") or ""
      -- x86-64: clock_nanosleep (230: clock, flags, request) or nanosleep (35: request)
      local nr = call:match("^(%d+) ")
      local at = nr == "230" and call:match("^%d+ 0x%x+ 0x%x+ (0x%x+)") or nr == "35" and call:match("^%d+ (0x%x+)")
      if at then
        local mem = assert(io.open("/proc/" .. pid .. "/mem", "rb"))
        mem:seek("set", tonumber(at))
        local b = { mem:read(8):byte(1, 8) }
        mem:close()
        asked = 0
        for i = 8, 1, -1 do asked = asked * 256 + b[i] end
        break
      end
      core.sleep(0.05)
    end
    os.execute("kill " .. pid .. " 2>/dev/null")
    os.remove(script)
    return asked
  end

  it("sleeps at most a year, and not at all for NaN or a negative", function()
    local t0 = core.now()
    core.sleep(0 / 0)
    core.sleep(-math.huge)
    assert.is_true(core.now() - t0 < 5)
    -- infinity would overflow time_t: it is a year, as 1e300 and 2^63 are
    for _, s in ipairs { "math.huge", "1e300", "2^63", "400 * 86400" } do
      assert.equal(365 * 86400, slept_for(s), s)
    end
    assert.equal(3600, slept_for("3600.5"))
  end)

  it("encodes tables nested up to 64 deep, and refuses deeper with an error", function()
    local t = {}
    for _ = 1, 60 do t = { a = t } end
    assert.matches('^{"a":{"a":', core.json_encode(t))
    for _ = 1, 10 do t = { t } end
    assert.has_error(function() core.json_encode(t) end)
  end)

  it("encodes mixed and numeric-keyed tables as objects, losing nothing", function()
    assert.equal('{"1":1,"2":2,"x":3}', core.json_encode { 1, 2, x = 3 })
    assert.equal('{"0.33333333333333":1}', core.json_encode { [1 / 3] = 1 })
    assert.equal("[1,2]", core.json_encode { 1, 2 })
  end)

  it("refuses to encode text that is not UTF-8, or a non-integer as an integer", function()
    assert.has_error(function() core.json_encode("\255") end)
    local p = compile { { "n", type = "integer" } }
    assert.has_error(function() core.encode_json(p, { n = '1,"admin":true' }) end)
    assert.equal('{"n":12}', core.encode_json(p, { n = "12" }))
  end)

  it("refuses integers beyond 64 bits and emails with a NUL", function()
    local p = compile { { "n", type = "integer" }, { "e", type = "string", format = "email" } }
    assert.is_nil(core.validate(p, { n = "9223372036854775807" }))
    assert.is_table(core.validate(p, { n = "9223372036854775808" }))
    assert.is_nil(core.validate(p, { n = "-9223372036854775808" }))
    assert.is_table(core.validate(p, { n = "9999999999999999999" }))
    assert.is_table(core.validate(p, { e = "a\0b@example.com" }))
  end)

  it("refuses at compile time a pattern PCRE2 cannot compile, naming the field", function()
    for _, pattern in ipairs { "^a{9223372036854775808}b$", "^a{3,1}$", "(", "[z-a]" } do
      local ok, msg = pcall(compile, { { "x", type = "string", pattern = pattern } })
      assert.is_false(ok)
      assert.matches("fields%[1%] %(x%): pattern .* cannot be compiled: ", msg)
    end
    local p = compile { { "x", type = "string", pattern = "^.{1,3}$" } } -- characters, not bytes
    assert.is_nil(core.validate(p, { x = "ééé" }))
    assert.matches("must match the pattern", core.validate(p, { x = "éééé" }).x[1])
  end)

  it("refuses a table for a path parameter, and a table anywhere in a parameter's schema", function()
    -- an object alternative of a parameter was once walked without the names
    -- table: a crash in check_param
    for _, alternatives in ipairs {
      { any_of = { { type = "object", properties = { { "x", type = "string" } } } } },
      { one_of = { { type = "string" }, { type = "array", items = { type = "string" } } } },
      { any_of = { { type = "string" }, { one_of = { { type = "file" } } } } },
    } do
      alternatives[1] = "id"
      local ok, msg = pcall(core.compile, { name = "p", params = { alternatives } })
      assert.is_false(ok)
      assert.matches("params%[1%] %(id%)%.[%w_]+%[%d%].*: a ", msg)
    end
    for _, schema in ipairs { { "id" }, { "id", any_of = { { type = "string" }, { type = "integer" } } } } do
      local p = core.compile { name = "p", params = { schema } }
      for _, value in ipairs { { x = "a" }, { "a" }, {}, setmetatable({}, users.array_mt) } do
        assert.same({ nil, "must be a string or a number" }, { core.check_param(p, "id", value) })
      end
      assert.equal("42", core.check_param(p, "id", 42))
      assert.equal("abc", core.check_param(p, "id", "abc"))
    end
  end)

  it("takes integer text for a path parameter's integer alternative: in a URL \"123\" and 123 are the same bytes", function()
    local uuid = "123e4567-e89b-12d3-a456-426614174000"
    local p = core.compile { name = "p", params = {
      { "id", one_of = { { type = "integer", minimum = 1 }, { type = "string", format = "uuid" } } },
      { "n", any_of = { { type = "integer" }, { type = "boolean" } } },
      { "k", one_of = { { type = "integer" }, { any_of = { { type = "number", maximum = 9 } } } } },
    } }
    for _, id in ipairs { 123, "123" } do assert.equal("123", core.check_param(p, "id", id)) end
    assert.equal(uuid, core.check_param(p, "id", uuid))
    assert.same({ nil, "must be an integer or a UUID" }, { core.check_param(p, "id", "0") })
    assert.same({ nil, "must be an integer or a UUID" }, { core.check_param(p, "id", "12a") })
    assert.equal("5", core.check_param(p, "n", "5"))
    assert.same({ nil, "must be an integer or a boolean" }, { core.check_param(p, "n", "5.5") })
    -- nested alternatives judge the text the same way: 12 holds for one, 5 for both
    assert.equal("12", core.check_param(p, "k", "12"))
    assert.same({ nil, "matches more than one of its alternatives, and must match exactly one" },
      { core.check_param(p, "k", "5") })
    -- a JSON body keeps the rule: "123" is a string there, and no integer alternative holds for it
    local b = core.compile { name = "b", fields = { { "id", one_of = { { type = "integer" }, { type = "string", format = "uuid" } } } } }
    assert.same({ id = { "must be an integer or a UUID" } }, core.validate(b, { id = "123" }))
    -- one reading is enough: "123" is one string and one integer, the same URL bytes
    local q = core.compile { name = "q", params = { { "s", one_of = { { type = "integer" }, { type = "string" } } } } }
    for _, id in ipairs { 123, "123", "abc" } do assert.equal(tostring(id), core.check_param(q, "s", id)) end
    -- a member whose own schema says integer is written as one ("1" as 1), and an
    -- alternative that says the same takes it
    local o = core.compile { name = "o", fields = { { "o", type = "object", properties = { { "n", type = "integer" } },
      any_of = { { type = "object", properties = { { "n", type = "integer", minimum = 0 } } } } } } }
    assert.is_nil(core.validate(o, { o = { n = "1" } }))
    assert.equal('{"o":{"n":1}}', core.encode_json(o, { o = { n = "1" } }))
  end)

  it("closes a provider twice without harm (5.4 __close, then __gc)", function()
    local p = compile { { "x", type = "string" } }
    local close = getmetatable(p).__close or getmetatable(p).__gc
    close(p)
    close(p)
    assert.has_error(function() core.validate(p, { x = "y" }) end)
    assert.has_error(function() close({}) end) -- not a provider: an error, not a crash
  end)

  it("fails in one shape in every encoder: nil, problems", function()
    local p = compile { { "a", type = "array", items = { type = "integer" } }, { "b" } }
    local want = { a = { "is an empty list, which a form cannot express: use the json encoding" } }
    for _, encode in ipairs { core.encode_form, core.encode_multipart } do
      local results = { encode(p, { a = {}, b = "x" }) }
      assert.is_nil(results[1])
      assert.same(want, results[2])
      assert.is_nil(results[3])
    end
    assert.equal("a=1&a=2&b=x", core.encode_form(p, { a = { 1, 2 }, b = "x" }))
    local segments, length, ctype = core.encode_multipart(p, { b = "x" })
    assert.equal(length, #table.concat(segments))
    assert.matches("^multipart/form%-data; boundary=lua%-users%-%x+$", ctype)
  end)

  it("makes multipart boundaries from the kernel, reading no file per call, and never lets a value hold one", function()
    local p = core.compile { name = "mp", fields = { { "b" }, { "f", type = "file" } } }
    local function boundary() return (select(3, core.encode_multipart(p, { b = "x" })):match("boundary=(.*)$")) end
    local function bytes_read()
      local f = assert(io.open("/proc/self/io", "r")) -- what this process read(2), in bytes
      local n = tonumber(f:read("*a"):match("rchar: (%d+)"))
      f:close()
      return n
    end
    boundary()
    local n = (os.getenv("LUA_USERS_VALGRIND") or os.getenv("LUA_USERS_GC") == "aggressive") and 40 or 200
    local before, seen = bytes_read(), {}
    for _ = 1, n do
      local b = boundary()
      assert.matches("^lua%-users%-%x+$", b)
      assert.equal(42, #b)
      assert.is_nil(seen[b], "a boundary came twice")
      seen[b] = true
    end
    -- /dev/urandom through stdio read a buffer (4 KB) per call
    assert.is_true(bytes_read() - before < n * 1024, "a file was read for each boundary")
    -- a chosen boundary (reproducible bodies): used as it is, and refused when a value holds it
    local segments, _, ctype = core.encode_multipart(p, { b = "x" }, "XyZ-0")
    assert.equal("multipart/form-data; boundary=XyZ-0", ctype)
    assert.equal('--XyZ-0\r\nContent-Disposition: form-data; name="b"\r\n\r\nx\r\n--XyZ-0--\r\n',
      table.concat(segments))
    for _, fields in ipairs { { b = "a\r\n--XyZ-0--\r\n" }, { f = users.blob("..XyZ-0..", "f.txt", "text/plain") } } do
      local ok, msg = pcall(core.encode_multipart, p, fields, "XyZ-0")
      assert.is_false(ok)
      assert.matches("a value holds the multipart boundary XyZ%-0", msg)
    end
    assert.error_matches(function() core.encode_multipart(p, { b = "x" }, "a b") end, "a boundary is 1 to 40")
  end)

  it("takes a chosen multipart boundary Content-Type needs not quote, and looks for it in values, file names and blobs only", function()
    local p = core.compile { name = "mp", fields = { { "name" }, { "f", type = "file" }, { "o", type = "object" } } }
    -- RFC 2045's tspecials would end the boundary parameter unquoted: "a:b" reads as "a"
    for _, b in ipairs { "a:b", "a(b)", "a,b", "a/b", "a=b", "a?b", "a b", "", ("x"):rep(41) } do
      assert.error_matches(function() core.encode_multipart(p, { name = "x" }, b) end,
        "a boundary is 1 to 40 letters, digits or '%+_%-%.")
    end
    local _, _, ctype = core.encode_multipart(p, { name = "x" }, "A'z+0_-.9")
    assert.equal("multipart/form-data; boundary=A'z+0_-.9", ctype)
    -- the encoder's own header text holds "form", "name", "Content": no value does
    for _, b in ipairs { "name", "form", "Content", "data", "filename", "Type", "plain" } do
      local segments = core.encode_multipart(p, { name = "x", f = users.blob("..", "f.txt", "text/plain") }, b)
      assert.matches("^%-%-" .. b .. "\r\n", table.concat(segments))
    end
    -- a value, a JSON part, a file name or a blob that holds it is refused
    for _, fields in ipairs {
      { name = "my name" }, { o = { k = "a name" } }, { f = users.blob("..", "name.txt", "text/plain") },
      { f = users.blob("..name..", "f.txt", "text/plain") },
    } do
      assert.error_matches(function() core.encode_multipart(p, fields, "name") end,
        "a value holds the multipart boundary name")
    end
  end)

  -- A call that finds the state's scratch buffer lent takes a box instead:
  -- a new userdata on every call (some 60 bytes). So what a run of calls
  -- that allocate nothing else costs tells which of the two they used.
  local function kb_per_1000(f)
    f()
    collectgarbage()
    collectgarbage("stop")
    local before = collectgarbage("count")
    for _ = 1, 1000 do f() end
    local kb = collectgarbage("count") - before
    collectgarbage("restart")
    return kb
  end

  it("gives the scratch buffer back before an encoder raises: later calls still use it", function()
    local p = compile { { "n", type = "integer" }, { "x" }, { "f", type = "file" } }
    local fine = { n = 12 }
    local function probe() return core.json_encode("x") end -- allocates nothing with the scratch
    local cases = {
      json_encode = { function() return core.json_encode(print) end, probe },
      encode_json = { function() return core.encode_json(p, { n = '1,"admin":true' }) end,
                      function() return core.encode_json(p, fine) end },
      marshal_json = { function() return core.marshal_json(p, { x = { [1] = 1, ["1"] = 2 } }) end, -- valid, not encodable
                       function() return core.marshal_json(p, fine) end },
      encode_form = { function() return core.encode_form(p, { x = print }) end,
                      function() return core.encode_form(p, fine) end },
      encode_multipart = { function() return core.encode_multipart(p, { f = users.file("/nonexistent") }) end,
                           function() return core.encode_multipart(p, fine) end },
    }
    for name, case in pairs(cases) do
      local raise, succeed = case[1], case[2]
      for _ = 1, 3 do
        assert.is_false(pcall(raise), name)
        assert.truthy(succeed(), name)
      end
      assert.is_true(kb_per_1000(probe) < 16, "the scratch is left lent after " .. name .. " raised")
    end
    assert.equal('{"n":12}', core.encode_json(p, fine))
    assert.equal('{"n":12}', core.marshal_json(p, fine))
    assert.equal("n=12", core.encode_form(p, fine))
  end)

  describe("transfers", function()
    setup(function() env.start() end)
    teardown(function() env.stop() end)
    before_each(function() env.fake:reset() end)

    it("keep their own copy of the body: the caller may drop it", function()
      local e = core.engine()
      local req = {
        method = "PATCH", url = env.fake:base_url("generic") .. "/v1/users/u1",
        headers = { "Authorization: Bearer test-token", "Content-Type: application/json" },
        body = '{"role":"' .. ("x"):rep(100) .. '"}',
      }
      e:add(req)
      req.body = nil
      req = nil -- luacheck: ignore 311
      collectgarbage()
      collectgarbage()
      local done = e:wait(5)
      assert.equal(1, #done)
      assert.equal(200, done[1]:result().status)
      assert.equal('{"role":"' .. ("x"):rep(100) .. '"}', env.fake:last().body)
      e:close()
    end)

    it("take max_body as a positive number of bytes", function()
      local e = core.engine()
      local req = { method = "PATCH", url = env.fake:base_url("generic") .. "/v1/users/u1",
                    headers = { "Authorization: Bearer test-token", "Content-Type: application/json" },
                    body = '{"role":"admin"}' }
      for _, bad in ipairs { 0, -1, 0.5, "many" } do
        req.max_body = bad
        local ok, err = pcall(e.perform, e, req)
        assert.is_false(ok)
        assert.matches("'max_body' must be a positive number of bytes", err)
      end
      env.fake:behave("generic", { huge = 5000, times = 1 })
      req.max_body = 1000
      assert.same({ nil, "response body larger than 1000 bytes", "too_large", true }, { e:perform(req) })
      e:close()
    end)

    it("close once or twice (__close on 5.4, __gc): a running one ends, the engine goes on", function()
      local e = core.engine()
      local req = { method = "PATCH", url = env.fake:base_url("generic") .. "/v1/users/u1",
                    headers = { "Authorization: Bearer test-token", "Content-Type: application/json" },
                    body = '{"role":"admin"}' }
      local t = e:add(req)
      local mt = getmetatable(t)
      assert.is_function(mt.__index.result)
      local close = mt.__close or mt.__gc
      close(t)
      close(t)
      assert.equal(0, e:running())
      assert.has_error(function() t:result() end)
      if _VERSION == "Lua 5.4" then -- the syntax itself only parses on 5.4
        assert(load([[
          local e, req = ...
          do local t <close> = e:add(req) end
          assert(e:running() == 0)
          do local e2 <close> = require("users.core").engine() end
        ]]))(e, req)
      end
      assert.equal(200, e:perform(req).status)
      local done = e:add(req)
      assert.same({ done }, e:wait(5))
      assert.equal(200, done:result().status)
      close(done)
      close(done)
      assert.has_error(function() close({}) end)
      e:close()
      e:close()
      assert.has_error(function() e.close({}) end)
    end)

    it("carry nothing of one request into the next on the same handle: method, body, headers", function()
      local e = core.engine()
      local url = env.fake:base_url("generic") .. "/v1/users/u1"
      local auth = "Authorization: Bearer test-token"
      local path = env.tmpfile("from-a-file")
      finally(function() os.remove(path) end)
      local sent = {
        { method = "PATCH", body = '{"a":1}', headers = { auth, "Content-Type: application/json", "X-One: 1" } },
        { method = "PUT", segments = { "head-", { path = path, size = 11 }, "-tail" }, headers = { auth } },
        { method = "POST", headers = { auth } },
        { method = "GET", headers = { auth } },
        { method = "HEAD", headers = { auth } },
        { method = "PATCH", body = '{"b":2}', headers = { auth, "Content-Type: application/json" } },
      }
      for _, req in ipairs(sent) do
        req.url = url
        assert.is_table(e:perform(req))
      end
      assert.matches("table expected, got string", select(2, pcall(e.perform, e, sent[1], "X-Not: lines")))
      local got = env.fake:requests()
      assert.equal(#sent, #got)
      local bodies = { '{"a":1}', "head-from-a-file-tail", "", "", "", '{"b":2}' }
      for i, r in ipairs(got) do
        assert.equal(sent[i].method, r.method)
        assert.equal(bodies[i], r.body)
        if i > 1 then assert.is_nil(r.headers["x-one"]) end
      end
      assert.equal("21", got[2].headers["content-length"])
      assert.equal("0", got[3].headers["content-length"])
      assert.is_nil(got[4].headers["content-length"])
      e:close()
    end)

    it("resend on a new connection each time a server drops a kept-alive one, however often", function()
      env.fake:behave("generic", { drop_reused = true })
      local e = core.engine()
      local req = { method = "PATCH", url = env.fake:base_url("generic") .. "/v1/users/u1",
                    headers = { "Authorization: Bearer test-token", "Content-Type: application/json" },
                    body = '{"role":"admin"}' }
      for i = 1, 12 do -- libcurl gives up after 5 resends of one handle, unless each transfer starts at 0
        local res, msg, code = e:perform(req)
        assert.is_table(res, ("request %d: %s: %s"):format(i, tostring(code), tostring(msg)))
        assert.equal(200, res.status)
      end
      e:close()
    end)

    it("send an empty body when none is given, never stdin", function()
      local e = core.engine()
      local res = e:perform { method = "POST", url = env.fake:base_url("generic") .. "/v1/users/u1",
                              headers = { "Authorization: Bearer test-token" } }
      assert.is_table(res)
      local req = env.fake:last()
      assert.equal("", req.body)
      assert.equal("0", req.headers["content-length"])
      e:close()
    end)
  end)

  it("holds every function its C files register, and nothing else", function()
    local names = {}
    for k, v in pairs(core) do names[#names + 1] = k .. ":" .. type(v) end
    table.sort(names)
    assert.same({ "array_mt:table", "check_param:function", "compile:function",
                  "curl_version:function", "encode_form:function", "encode_json:function",
                  "encode_multipart:function", "engine:function", "escape:function", "file_info:function",
                  "isatty:function", "json_decode:function", "json_encode:function", "list_dir:function",
                  "marshal_json:function", "mentions:function", "now:function", "null:userdata",
                  "sleep:function", "validate:function", "yaml_decode:function" }, names)
  end)

  it("is built by luarocks from exactly the C files in src/", function()
    local rockspec = assert(io.open("lua-users-" .. require("users.version") .. "-1.rockspec")):read("*a")
    local listed, present = {}, {}
    for path in rockspec:match("sources = (%b{})"):gmatch('"(src/[^"]+)"') do listed[#listed + 1] = path end
    local ls = assert(io.popen("ls src/*.c"))
    for path in ls:lines() do present[#present + 1] = path end
    ls:close()
    table.sort(listed)
    table.sort(present)
    assert.same(present, listed)
  end)

  it("keeps its C files in the layers of src/README: each includes only its layer or below", function()
    local layer, current = {}, nil
    for line in io.lines("src/README") do
      local num, file = line:match("^(%d)%s+([%w_]+)%.c%s")
      if num then current = tonumber(num) else file = line:match("^   ([%w_]+)%.c%s") end
      if file then layer[file] = current end
    end
    local ls = assert(io.popen("ls src/*.c src/*.h"))
    for path in ls:lines() do
      local name = path:match("^src/([%w_]+)%.[ch]$")
      assert.is_number(layer[name], name .. " is in no layer of src/README")
      for header in io.open(path):read("*a"):gmatch('#include "([%w_]+)%.h"') do
        assert.is_true(layer[header] <= layer[name], path .. " includes " .. header .. ".h, a layer above")
      end
    end
    ls:close()
  end)

  it("users.null is what the decoder gives for null", function()
    assert.equal(users.null, core.json_decode("null"))
  end)
end)
