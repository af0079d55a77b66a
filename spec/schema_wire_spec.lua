-- The schema vocabulary on the wire (lua/users/providers/README.md, "On the
-- wire"): JSON in declared order with numbers exact, x-www-form-urlencoded
-- in OpenAPI's styles, multipart with JSON parts and form_booleans; absent,
-- null and value exact in all three; and the one-pass JSON writer agreeing
-- with the reference on generated nested updates.
local core = require "users.core"
local users = require "users"

local NULL = users.null

local function compile(fields, extra)
  local decl = { name = "w", fields = fields }
  for k, v in pairs(extra or {}) do decl[k] = v end
  return core.compile(decl)
end

local function json(p, fields)
  assert.is_nil(core.validate(p, fields))
  local body = core.marshal_json(p, fields)
  assert.equal(core.encode_json(p, fields), body)
  return body
end

-- multipart's parts: { { name =, type =, body = } ... }
local function parts(p, fields)
  assert.is_nil(core.validate(p, fields))
  local segments, length, ctype = core.encode_multipart(p, fields)
  assert.is_table(segments, length)
  local text = table.concat(segments)
  assert.equal(length, #text)
  local boundary = ctype:match("boundary=(.*)$")
  local out = {}
  for part in text:gmatch("%-%-" .. boundary:gsub("%-", "%%-") .. "\r\n(.-)\r\n%f[%-]") do
    local head, body = part:match("^(.-)\r\n\r\n(.*)$")
    out[#out + 1] = { name = head:match('name="([^"]*)"'), type = head:match("Content%-Type: ([^\r]*)"),
                      filename = head:match('filename="([^"]*)"'), body = body }
  end
  return out
end

describe("the schema vocabulary on the wire", function()
  describe("JSON", function()
    it("writes fields and properties in declared order, then the others sorted", function()
      local p = compile({ { "b", type = "object", properties = { { "z" }, { "a" } } }, { "a", type = "integer" } },
                        { additional_fields = true })
      local t = { zz = 1, a = 2, b = { m = 1, a = 2, z = 3, c = { 2, 1 } }, aa = { y = 1, x = NULL } }
      assert.equal('{"b":{"z":3,"a":2,"c":[2,1],"m":1},"a":2,"aa":{"x":null,"y":1},"zz":1}', json(p, t))
    end)

    it("writes numbers exactly: integers as digits, doubles in their shortest exact text", function()
      local p = compile { { "n", type = "number" }, { "i", type = "integer" } }
      local cases = {
        { 0.1, "0.1" }, { 1 / 3, "0.3333333333333333" }, { 1e300, "1e+300" }, { 2 ^ 53, "9007199254740992" },
        { -0.0, "0" }, { 123.0, "123" }, { 5e-324, "4.94065645841247e-324" }, { 0.30000000000000004, "0.30000000000000004" },
        { "9223372036854775807", "9223372036854775807" }, { 1e21, "1e+21" }, { -2.5, "-2.5" },
      }
      for _, c in ipairs(cases) do
        local body = json(p, { n = c[1] })
        assert.equal('{"n":' .. c[2] .. "}", body)
        if type(c[1]) == "number" then assert.equal(c[1], core.json_decode(body).n) end -- reads back the same
      end
      assert.equal('{"i":-9223372036854775808}', json(p, { i = "-9223372036854775808" }))
      if math.type then assert.equal('{"i":9007199254740993}', json(p, { i = 9007199254740993 })) end
    end)

    it("keeps absent, null, [] and {} exact, nested too", function()
      local p = compile { { "o", type = "object", nullable = true, properties = {
        { "a", type = "array", items = { type = "string" } }, { "n", nullable = true }, { "e", type = "object" } } } }
      assert.equal('{"o":null}', json(p, { o = NULL }))
      assert.equal('{"o":{}}', json(p, { o = {} }))
      assert.equal('{"o":{"a":[],"n":null,"e":{}}}', json(p, { o = { a = {}, n = NULL, e = {} } }))
    end)

    it("writes a free table with a hole as an object, the same on every Lua", function()
      -- its key count once equalled #t (which a hole leaves to each Lua): it
      -- validated as an array, then the writers met the nil, or LuaJIT wrote an object
      local p = compile({ { "meta" } }, { additional_fields = true })
      local holes = { 1, nil, 3, a = "x" }
      assert.equal('{"meta":{"1":1,"3":3,"a":"x"}}', json(p, { meta = holes }))
      assert.equal('{"extra":{"1":1,"3":3,"a":"x"}}', json(p, { extra = holes }))
      assert.equal('{"1":1,"3":3,"a":"x"}', core.json_encode(holes))
      assert.equal("1=1&3=3&a=x", core.encode_form(p, { meta = holes }))
      assert.equal('{"1":1,"3":3}', core.json_encode { 1, nil, 3 })
      assert.equal('{"1":1,"2":2,"2.5":3}', core.json_encode { 1, 2, [2.5] = 3 })
      assert.equal('{"0":1,"1":2}', core.json_encode { [0] = 1, 2 })
      assert.equal("[1,2,3]", core.json_encode { 1, 2, 3 })
      local backwards = {}
      backwards[3], backwards[2], backwards[1] = "c", "b", "a"
      assert.equal('["a","b","c"]', core.json_encode(backwards))
      -- unique_items sees it as the writers do: an object, equal to its copy
      local u = compile { { "u", type = "array", unique_items = true } }
      assert.same({ u = { "must not repeat an item: items 1 and 2 are equal" } },
        core.validate(u, { u = { { 1, nil, 3, a = "x" }, { [1] = 1, [3] = 3, a = "x" } } }))
    end)

    it("refuses a file, as the form does: its path or its bytes never go out as JSON", function()
      local p = compile { { "avatar", type = "file" }, { "docs", type = "array", items = { type = "file" } },
                          { "name", type = "string" } }
      for _, fields in ipairs {
        { avatar = users.file("/etc/hostname") }, { avatar = users.blob("secret", "s.txt", "text/plain") },
        { docs = { users.file("/etc/hostname") }, name = "x" }, { docs = {} },
      } do
        assert.is_nil(core.validate(p, fields))
        for _, encode in ipairs { core.encode_json, core.marshal_json } do
          local ok, err = pcall(encode, p, fields)
          assert.is_false(ok)
          assert.matches(": a file cannot be sent as JSON %(the multipart encoding can%)$", err)
          assert.is_nil(err:find("/etc/hostname", 1, true) or err:find("secret", 1, true))
        end
        assert.has_error(function() core.encode_form(p, fields) end)
        if fields.docs and #fields.docs == 0 then
          assert.same({ nil, { docs = { "is an empty list, which a form cannot express: use the json encoding" } } },
            { core.encode_multipart(p, fields) })
        else
          assert.is_table(core.encode_multipart(p, fields))
        end
      end
      assert.equal('{"avatar":null,"name":"x"}', core.encode_json(compile { { "avatar", type = "file", nullable = true },
                                                                           { "name" } }, { avatar = NULL, name = "x" }))
    end)
  end)

  describe("x-www-form-urlencoded", function()
    local function form(field, value, extra)
      field[1] = "n"
      local p = compile({ field }, extra)
      assert.is_nil(core.validate(p, { n = value }))
      return core.encode_form(p, { n = value })
    end
    local list = { "a", "b c" }
    local object = { type = "object", properties = { { "x" }, { "y" } } }
    local function with(t, extra)
      local s = {}
      for k, v in pairs(t) do s[k] = v end
      for k, v in pairs(extra) do s[k] = v end
      return s
    end

    it("spells arrays in each style", function()
      local array = { type = "array", items = { type = "string" } }
      assert.equal("n=a&n=b+c", form(with(array, {}), list))
      assert.equal("n=a,b+c", form(with(array, { explode = false }), list))
      assert.equal("n=a%20b+c", form(with(array, { style = "spaceDelimited" }), list))
      assert.equal("n=a%7Cb+c", form(with(array, { style = "pipeDelimited" }), list))
      assert.equal("n=a&n=b+c", form(with(array, { style = "pipeDelimited", explode = true }), list))
      assert.equal("n=1&n=&n=0", form(with(array, { items = { nullable = true } }), { true, NULL, false }))
    end)

    it("spells objects in each style, declared properties first", function()
      local v = { y = 2, x = "1", w = true }
      assert.equal("x=1&y=2&w=1", form(with(object, {}), v))
      assert.equal("n=x,1,y,2,w,1", form(with(object, { explode = false }), v))
      assert.equal("n=x%201%20y%202%20w%201", form(with(object, { style = "spaceDelimited" }), v))
      assert.equal("n[x]=1&n[y]=2&n[w]=1", form(with(object, { style = "deepObject" }), v))
      assert.equal("n[a][b]=v&n[a][c][]=1&n[a][c][]=2&n[k+1]=x%26y",
        form({ type = "object", style = "deepObject" }, { a = { b = "v", c = { 1, 2 } }, ["k 1"] = "x&y" }))
      assert.equal("x=1&x=2", form(with(object, {}), { x = { 1, 2 } }))
    end)

    it("spells deepObject where the type or an alternative holds tables; a scalar as name=value", function()
      -- Stripe's anyOf [object, enum [""]]: "" unsets, as its clients send it
      local either = { any_of = { { type = "object", properties = { { "y" }, { "x" } } }, { type = "string", enum = { "" } } },
                       style = "deepObject" }
      assert.equal("n[y]=2&n[x]=1&n[w]=1", form(with(either, {}), { x = 1, y = 2, w = true }))
      assert.equal("n=", form(with(either, {}), ""))
      assert.equal("n[]=a&n[]=b+c", form({ type = "array", items = { type = "string" }, style = "deepObject" }, list))
      assert.equal("n[a][]=1&n[b]=x", form({ style = "deepObject" }, { a = { 1 }, b = "x" }))
      assert.equal("n=x", form({ style = "deepObject" }, "x"))
    end)

    it("spells booleans as form_booleans, null as an empty value", function()
      assert.equal("n=true", form({ type = "boolean" }, true, { form_booleans = { "true", "false" } }))
      assert.equal("n=0", form({ type = "boolean" }, false))
      assert.equal("n=", form({ nullable = true }, NULL))
      assert.equal("n=0.1", form({ type = "number" }, 0.1))
    end)

    it("refuses what a form cannot spell, naming it by path", function()
      local p = compile {
        { "a", type = "array" }, { "o", type = "object" }, { "d", type = "object", style = "deepObject" },
        { "j", type = "object", explode = false } }
      local function refused(fields)
        assert.is_nil(core.validate(p, fields))
        local body, problems = core.encode_form(p, fields)
        assert.is_nil(body)
        return problems
      end
      assert.same({ a = { "is an empty list, which a form cannot express: use the json encoding" } }, refused { a = {} })
      assert.same({ o = { "is an empty object, which a form cannot express: use the json encoding" } }, refused { o = {} })
      assert.same({ a = { "item 2 is a list or an object inside a list, which a form cannot express: use the json encoding" } },
        refused { a = { 1, { 2 } } })
      assert.matches("use style deepObject", refused { o = { x = { y = 1 } } }["o.x"][1])
      assert.matches("without explode", refused { j = { x = { 1 } } }["j.x"][1])
      assert.same({ ["d.x"] = { "item 1 is a list or an object inside a list, which a form cannot express: use the json encoding" } },
        refused { d = { x = { { y = 1 } } } })
      local q = compile { { "e", any_of = { { type = "object" }, { type = "string" } }, style = "deepObject" },
                          { "l", type = "array", style = "deepObject" } }
      assert.is_nil(core.validate(q, { e = {}, l = { { 1 } } }))
      local _, problems = core.encode_form(q, { e = {} })
      assert.same({ e = { "is an empty object, which a form cannot express: use the json encoding" } }, problems)
      _, problems = core.encode_form(q, { l = { "a", { 1 } } })
      assert.same({ l = { "item 2 is a list or an object inside a list, which a form cannot express: use the json encoding" } },
        problems)
      assert.equal("a=1", core.encode_form(p, { a = { 1 } })) -- the scratch came back
    end)

    it("stops at a table that holds itself, even when nothing validated it first", function()
      local p = compile { { "d", type = "object", style = "deepObject" } }
      local loop = {}
      loop.next = loop
      assert.matches("nested too deeply", core.validate(p, { d = loop })["d.next"][1])
      assert.has_error(function() core.encode_form(p, { d = loop }) end, "cannot encode a table nested deeper than 64")
      assert.has_error(function() core.encode_multipart(p, { d = loop }) end, "cannot encode a table nested deeper than 64")
      assert.equal("d[a]=1", core.encode_form(p, { d = { a = 1 } }))
    end)
  end)

  describe("multipart", function()
    it("sends an object as one JSON part, an array as parts of one name", function()
      local p = compile({ { "o", type = "object", properties = { { "b" }, { "a" } } },
                          { "l", type = "array", items = { type = "object" } }, { "s", type = "array" },
                          { "j", type = "array", part_content_type = "application/json" },
                          { "t", type = "string", part_content_type = "text/plain; charset=utf-8" },
                          { "f", type = "boolean" } }, { form_booleans = { "true", "false" } })
      local got = parts(p, { o = { a = 1, b = 2 }, l = { { x = 1 } }, s = { "a", 2 }, j = {}, t = "é", f = false })
      assert.same({
        { name = "o", type = "application/json", body = '{"b":2,"a":1}' },
        { name = "l", type = "application/json", body = '{"x":1}' },
        { name = "s", body = "a" }, { name = "s", body = "2" },
        { name = "j", type = "application/json", body = "[]" },
        { name = "t", type = "text/plain; charset=utf-8", body = "é" },
        { name = "f", body = "false" },
      }, got)
    end)

    it("sends null as an empty part, a JSON part_content_type notwithstanding", function()
      local p = compile { { "j", type = "object", nullable = true, part_content_type = "application/json" } }
      assert.same({ { name = "j", body = "" } }, parts(p, { j = NULL }))
      assert.same({ { name = "j", type = "application/json", body = '{"a":1}' } }, parts(p, { j = { a = 1 } }))
    end)

    it("sends several files under one name, each held to the items' rules", function()
      local png = "\137PNG\r\n\26\n...."
      local p = compile { { "photos", type = "array", items = { type = "file", content_type = "image/*", max_bytes = 12 } } }
      local got = parts(p, { photos = { users.blob(png, "a.png"), users.blob(png, "b.png", "image/png") } })
      assert.same({ { name = "photos", type = "image/png", filename = "a.png", body = png },
                    { name = "photos", type = "image/png", filename = "b.png", body = png } }, got)
      assert.same({ photos = { "item 2 must be at most 12 bytes" } },
        core.validate(p, { photos = { users.blob(png, "a.png"), users.blob(png .. "xxxxx", "b.png") } }))
    end)

    it("sends undeclared fields additional_fields lets through, sorted, and refuses a name no header can carry", function()
      local p = compile({ { "a" } }, { additional_fields = true })
      local got = parts(p, { a = 1, zz = "z", b = { 1 } })
      assert.same({ { name = "a", body = "1" }, { name = "b", body = "1" }, { name = "zz", body = "z" } }, got)
      local body, problems = core.encode_multipart(p, { ['x"y'] = 1 })
      assert.is_nil(body)
      assert.same({ ['x"y'] = { "is a name a multipart part cannot have" } }, problems)
    end)
  end)

  it("nests values as deep in every encoder as validation lets them: 65 tables, not 66", function()
    -- the form encoder once stopped one level short of the others, raising
    -- for a deepObject that validated
    local p = compile({ { "d", type = "object", style = "deepObject" }, { "o", type = "object" }, { "a", type = "array" } },
                      { additional_fields = true })
    local function nest(n, key)
      local top = {}
      local at = top
      for _ = 2, n do at[key] = {}; at = at[key] end
      at[key] = 1
      return top
    end
    for _, field in ipairs { "d", "o", "a", "extra" } do
      local fields = { [field] = nest(65, field == "a" and 1 or "k") }
      assert.is_nil(core.validate(p, fields), field)
      json(p, fields)
      assert.is_table(core.encode_multipart(p, fields))
      local body, problems = core.encode_form(p, fields) -- a body, or what a form cannot spell
      assert.is_true(body ~= nil or problems ~= nil)
      fields = { [field] = nest(66, field == "a" and 1 or "k") }
      assert.matches("nested too deeply", select(2, next(core.validate(p, fields)))[1])
      assert.same(core.validate(p, fields), select(2, core.marshal_json(p, fields)))
      for _, encode in ipairs { core.encode_json, core.encode_multipart } do
        assert.has_error(function() encode(p, fields) end, "cannot encode a table nested deeper than 64")
      end
    end
    assert.matches("^d%[k%]", core.encode_form(p, { d = nest(65, "k") }))
    assert.has_error(function() core.encode_form(p, { d = nest(66, "k") }) end, "cannot encode a table nested deeper than 64")
  end)

  it("keeps absent, null and a value apart in all three encodings", function()
    local p = compile { { "a", type = "string", nullable = true }, { "b", type = "integer" } }
    assert.equal('{"b":1}', json(p, { b = 1 }))
    assert.equal('{"a":null,"b":1}', json(p, { a = NULL, b = 1 }))
    assert.equal('{"a":"","b":1}', json(p, { a = "", b = 1 }))
    assert.equal("b=1", core.encode_form(p, { b = 1 }))
    assert.equal("a=&b=1", core.encode_form(p, { a = NULL, b = 1 }))
    assert.same({ { name = "b", body = "1" } }, parts(p, { b = 1 }))
    assert.same({ { name = "a", body = "" }, { name = "b", body = "1" } }, parts(p, { a = NULL, b = 1 }))
  end)

  it("answers in one pass as validate + encode_json do, for generated nested updates", function()
    local p = compile({
      { "name", type = "string", max_length = 8 },
      { "age", type = "integer", minimum = 0 },
      { "score", type = "number", multiple_of = 0.5 },
      { "address", type = "object", nullable = true, properties = {
        { "city", type = "string", required = true }, { "zip", type = "string", pattern = "^\\d{5}$" },
        { "geo", type = "object", additional_properties = false, properties = { { "lat", type = "number" } } } } },
      { "tags", type = "array", unique_items = true, items = { type = "string", enum = { "a", "b", "c" } } },
      { "emails", type = "array", items = { type = "object", properties = { { "value", type = "string", format = "email" } } } },
      { "kind", one_of = { { type = "integer" }, { type = "string", min_length = 2 } } },
      { "flag", type = "boolean", read_only = true },
    }, { additional_fields = { type = "string" } })
    local pool = {
      "x", "Jane", ("long"):rep(3), "12345", "1234", "a", "b", "a@example.com", "nope", 0, 1, -1, 1.5, 2.5, 0.25,
      0 / 0, true, false, NULL, {}, { "a" }, { "a", "a" }, { "b", "c" }, { 1 }, { city = "P" }, { zip = "12345" },
      { city = "P", geo = { lat = 1 } }, { city = "P", geo = { lng = 1 } }, { city = "P", extra = "x" },
      { { value = "a@example.com" } }, { { value = "nope" } }, { { value = "a@example.com" }, "x" }, { x = 1 },
    }
    local names = { "name", "age", "score", "address", "tags", "emails", "kind", "flag", "other", 1 }
    local seed, seen = 7, { valid = 0, invalid = 0 }
    local function random(n) seed = seed * 16807 % 2147483647 return seed % n + 1 end
    local n = (os.getenv("LUA_USERS_VALGRIND") or os.getenv("LUA_USERS_GC")) and 300 or 3000
    for _ = 1, n do
      local fields = {}
      for _ = 1, random(4) do fields[names[random(#names)]] = pool[random(#pool)] end
      local problems, reason = core.validate(p, fields)
      local ok, body, mproblems, mreason = pcall(core.marshal_json, p, fields)
      assert.is_true(ok, body)
      if problems or reason then
        assert.is_nil(body)
        assert.same(problems, mproblems)
        assert.equal(reason, mreason)
        seen.invalid = seen.invalid + 1
      else
        assert.equal(core.encode_json(p, fields), body)
        seen.valid = seen.valid + 1
      end
    end
    assert.is_true(seen.valid > n / 100 and seen.invalid > n / 10, seen.valid .. " valid, " .. seen.invalid .. " invalid")
  end)
end)
