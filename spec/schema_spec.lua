-- The schema vocabulary of lua/users/providers/README.md, keyword by
-- keyword: what core.compile accepts and refuses, and what core.validate
-- finds, valid and invalid, nested, at the edges (NaN, -0, integers beyond
-- 2^53 on every Lua, invalid UTF-8, deep nesting, tables that hold
-- themselves). The wire is spec/schema_wire_spec.lua's.
local core = require "users.core"
local users = require "users"

local NULL = users.null

local function compile(fields, extra)
  local decl = { name = "t", fields = fields }
  for k, v in pairs(extra or {}) do decl[k] = v end
  return core.compile(decl)
end

-- A provider with one field x under schema s.
local function one(s)
  s[1] = "x"
  return compile { s }
end

local function valid(p, fields)
  local problems, reason = core.validate(p, fields)
  assert.is_nil(problems, problems and core.json_encode(problems))
  assert.is_nil(reason)
  -- the one pass agrees, and writes what the reference writes
  assert.equal(core.encode_json(p, fields), (core.marshal_json(p, fields)))
end

-- The problems, after checking the one pass reports the same.
local function invalid(p, fields)
  local problems = core.validate(p, fields)
  assert.is_table(problems, "expected problems")
  local body, same = core.marshal_json(p, fields)
  assert.is_nil(body)
  assert.same(problems, same)
  return problems
end

local function compile_error(decl_fields, extra)
  local ok, msg = pcall(compile, decl_fields, extra)
  assert.is_false(ok, "expected a compile error")
  return msg
end

describe("the schema vocabulary", function()
  describe("core.compile", function()
    it("refuses a key it does not know, naming it and where it is", function()
      local msg = compile_error { { "address", type = "object", properties = {
        { "city", type = "string", maxLength = 5 } } } }
      assert.matches("fields%[1%] %(address%)%.properties%[1%] %(city%): unknown key 'maxLength'", msg)
      assert.matches("fields%[1%] %(tags%)%.items: unknown key 'minLength'",
        compile_error { { "tags", type = "array", items = { minLength = 1 } } })
      assert.matches("any_of%[2%]: unknown key 'bogus'",
        compile_error { { "a", any_of = { { type = "string" }, { bogus = 1 } } } })
    end)

    it("accepts the annotations and ignores them", function()
      local p = one { type = "string", description = "d", title = "t", example = "e", examples = { "e" },
                      default = "x", deprecated = true, write_only = true, format_hint = "phone" }
      valid(p, { x = "anything" })
    end)

    it("checks each key's value", function()
      for _, case in ipairs {
        { { type = "strng" }, "unknown type 'strng'" },
        { { format = "phone" }, "unknown format 'phone' %(an annotation is written format_hint%)" },
        { { nullable = 1 }, "'nullable' must be true or false" },
        { { max_length = -1 }, "'max_length' must be a whole number from 0" },
        { { max_length = 1.5 }, "'max_length' must be a whole number from 0" },
        { { minimum = 0 / 0 }, "'minimum' must be a finite number" },
        { { maximum = math.huge }, "'maximum' must be a finite number" },
        { { multiple_of = 0 }, "'multiple_of' must be above 0" },
        { { enum = { {} } }, "'enum' values must be strings, finite numbers or booleans" },
        { { enum = { 0 / 0 } }, "'enum' values must be strings, finite numbers or booleans" },
        { { enum = { "a" }, const = "a" }, "'enum' and 'const' cannot be given together" },
        { { properties = {} }, "'properties' needs type = \"object\"" },
        { { additional_properties = false }, "need type = \"object\"" },
        { { type = "string", min_properties = 1 }, "need type = \"object\"" },
        { { items = { type = "string" } }, "need type = \"array\"" },
        { { type = "object", unique_items = true }, "need type = \"array\"" },
        { { type = "string", max_bytes = 10 }, "need type = \"file\"" },
        { { any_of = {} }, "'any_of' must be a list of schemas" },
        { { type = "string", style = "deepObject" }, "style deepObject is for arrays and objects" },
        { { type = "string", style = "pipeDelimited" }, "style pipeDelimited is for arrays and objects" },
        { { any_of = { { type = "string" }, { type = "integer" } }, style = "deepObject" },
          "style deepObject is for arrays and objects %(the type, or one of its alternatives%)" },
        { { style = "matrix" }, "unknown style 'matrix'" },
        { { type = "string", pattern = "(" }, "pattern %( cannot be compiled: missing closing parenthesis" },
        { { type = "string", part_content_type = "a\r\nb" }, "forbidden character" },
      } do
        case[1][1] = "x"
        assert.matches(case[2], compile_error { case[1] })
      end
    end)

    it("keeps form keys, same_as and files to top-level fields", function()
      assert.matches("'style' belongs to a top%-level field", compile_error { { "o", type = "object",
        properties = { { "a", type = "array", items = {}, style = "form" } } } })
      assert.matches("a file is a top%-level field", compile_error { { "o", type = "object",
        properties = { { "f", type = "file" } } } })
      assert.matches("'required' belongs to a field or a property",
        compile_error { { "a", type = "array", items = { required = true } } })
      assert.matches("a path parameter is a single value", compile_error({}, { params = { { "id", type = "array" } } }))
      one { type = "array", items = { type = "file" } } -- files in a top-level array: several uploads
      -- a JSON part would carry the file value itself: its local path, or its bytes
      for _, s in ipairs { { type = "file" }, { type = "array", items = { type = "file" } } } do
        for _, t in ipairs { "application/json", "application/vnd.api+json; charset=utf-8" } do
          s[1], s.part_content_type = "f", t
          assert.matches("fields%[1%] %(f%): a file is sent as a file part: a JSON 'part_content_type' cannot carry it",
            compile_error { s })
        end
      end
      one { type = "file", part_content_type = "image/png" }
      assert.matches("fields%[1%]: a name must be UTF%-8 text without NUL", compile_error { { "\255" } })
    end)

    it("takes additional_fields and form_booleans, and refuses wrong ones", function()
      compile({ { "a" } }, { additional_fields = true, form_booleans = { "true", "false" } })
      compile({ { "a" } }, { additional_fields = { type = "string" } })
      assert.matches("'additional_fields' must be true, false or a schema",
        compile_error({ { "a" } }, { additional_fields = "yes" }))
      assert.matches("'form_booleans' must be", compile_error({ { "a" } }, { form_booleans = { 1, 0 } }))
    end)

    it("refuses a declaration that holds itself, at the depth limit", function()
      local node = { type = "object" }
      node.properties = { { "child" } }
      for k, v in pairs(node) do node.properties[1][k] = v end
      node.properties[1].properties = node.properties
      assert.matches("nested deeper than 64", compile_error { { "tree", type = "object", properties = node.properties } })
    end)
  end)

  describe("numbers", function()
    it("takes finite numbers and integer text as type number, never NaN or infinities", function()
      local p = one { type = "number" }
      for _, v in ipairs { 0, -0.0, 1.5, -1e300, 2 ^ 53, "12", "-9223372036854775808" } do valid(p, { x = v }) end
      for _, v in ipairs { 0 / 0, math.huge, -math.huge } do
        assert.same({ x = { "must be a finite number" } }, invalid(p, { x = v }))
      end
      assert.same({ x = { "must be a number" } }, invalid(p, { x = "1.5" }))
      assert.same({ x = { "must be a number" } }, invalid(p, { x = true }))
      assert.same({ x = { "must be an integer" } }, invalid(one { type = "integer" }, { x = 1.5 }))
      assert.same({ x = { "must be a finite number" } }, invalid(one {}, { x = 0 / 0 }))
    end)

    it("compares bounds exactly, integers and doubles alike, beyond 2^53 as integer text", function()
      local p = one { type = "integer", minimum = "9007199254740993", maximum = "9223372036854775807" }
      valid(p, { x = "9007199254740993" })
      valid(p, { x = "9223372036854775807" })
      assert.same({ x = { "must be at least 9007199254740993" } }, invalid(p, { x = "9007199254740992" }))
      assert.same({ x = { "must be at least 9007199254740993" } }, invalid(p, { x = 2 ^ 53 }))
      local q = one { type = "number", exclusive_minimum = 0, exclusive_maximum = 2 ^ 53 }
      valid(q, { x = 1e-300 })
      assert.same({ x = { "must be greater than 0" } }, invalid(q, { x = -0.0 }))
      assert.same({ x = { "must be less than 9007199254740992" } }, invalid(q, { x = "9007199254740992" }))
      valid(q, { x = "9007199254740991" })
      local r = one { type = "number", minimum = -0.5, maximum = 0 }
      valid(r, { x = -0.0 })
      valid(r, { x = -0.5 })
      assert.same({ x = { "must be at least -0.5" } }, invalid(r, { x = -0.5000000000000001 }))
      assert.same({ x = { "must be at most 0" } }, invalid(r, { x = 5e-324 }))
    end)

    it("takes multiples of 0.1-style steps as a person means them, and integers exactly", function()
      local p = one { type = "number", multiple_of = 0.1 }
      for _, v in ipairs { 0.3, 0.7, 1.1, 19.9, -2.3, 0, 1e10 } do valid(p, { x = v }) end
      for _, v in ipairs { 0.35, 0.01, 1.05 } do
        assert.same({ x = { "must be a multiple of 0.1" } }, invalid(p, { x = v }))
      end
      valid(one { type = "number", multiple_of = 0.01 }, { x = 19.99 })
      local i = one { type = "integer", multiple_of = 3 }
      valid(i, { x = "9223372036854775806" }) -- 3 * 3074457345618258602
      assert.same({ x = { "must be a multiple of 3" } }, invalid(i, { x = "9223372036854775807" }))
      valid(i, { x = -9 })
    end)
  end)

  describe("enum and const", function()
    it("takes strings, numbers and booleans with JSON's equality", function()
      local p = one { enum = { "a", 1, 2.5, true } }
      for _, v in ipairs { "a", 1, 1.0, 2.5, true } do valid(p, { x = v }) end
      for _, v in ipairs { "1", false, 2, "A", {} } do
        assert.same({ x = { "must be one of: a, 1, 2.5, true" } }, invalid(p, { x = v }))
      end
      local i = one { type = "integer", enum = { 1, 7 } }
      valid(i, { x = "1" }) -- integer text is the number it spells
      assert.matches("must be one of", invalid(i, { x = "2" }).x[1])
      if math.type then -- a Lua with integers spells 2^53 + 1 exactly
        local big = one { type = "integer", enum = { 9007199254740993 } }
        valid(big, { x = 9007199254740993 })
        valid(big, { x = "9007199254740993" })
        assert.matches("must be one of", invalid(big, { x = "9007199254740992" }).x[1])
      end
      assert.same({ x = { "can only be null" } }, invalid(one { enum = {}, nullable = true }, { x = "a" }))
    end)

    it("answers the same on every Lua: an integral float is the integer, integer text a string but under its own number type", function()
      -- 2^60 is a float on 5.3/5.4 and a double on 5.1/LuaJIT: the integer 2^60 on all
      local big = 2 ^ 60
      local i = one { type = "integer", enum = { big } }
      valid(i, { x = big })
      assert.equal('{"x":1152921504606846976}', core.encode_json(i, { x = big }))
      assert.same({ x = { "must be one of: 1152921504606846976" } }, invalid(i, { x = big + 256 }))
      valid(one { type = "integer", multiple_of = 2 }, { x = -big })
      assert.same({ x = { "must be an integer" } }, invalid(one { type = "integer" }, { x = 2 ^ 63 }))
      -- "1" is a string on the wire unless the value's own schema says integer or number:
      -- an alternative that says so does not make it one
      local p = one { one_of = { { type = "integer" }, { type = "string" } } }
      valid(p, { x = "123" })
      assert.equal('{"x":"123"}', core.encode_json(p, { x = "123" }))
      valid(p, { x = 123 })
      local alt = one { any_of = { { type = "integer", enum = { 1 } } } }
      valid(alt, { x = 1.0 })
      assert.same({ x = { "must be an integer" } }, invalid(alt, { x = "1" }))
      local list = one { any_of = { { type = "array", items = { type = "integer", enum = { 1 } } } } }
      valid(list, { x = { 1 } })
      assert.same({ x = { "must be an array" } }, invalid(list, { x = { "1" } }))
    end)

    it("keeps the interned fast path for strings, short and long", function()
      local long = ("v"):rep(60)
      local p = one { type = "string", enum = { "a", long } }
      valid(p, { x = ("v"):rep(30) .. ("v"):rep(30) })
      valid(p, { x = "a" })
    end)

    it("takes one value as const", function()
      valid(one { const = "x" }, { x = "x" })
      assert.same({ x = { 'must be "x"' } }, invalid(one { const = "x" }, { x = "y" }))
      assert.same({ x = { "must be 5" } }, invalid(one { const = 5 }, { x = 6 }))
      valid(one { const = 5 }, { x = 5.0 })
      assert.same({ x = { "must be false" } }, invalid(one { const = false }, { x = true }))
    end)
  end)

  describe("formats", function()
    local cases = {
      ["date-time"] = { ok = { "2024-02-29T13:45:00Z", "1998-12-31t23:59:60z", "2024-01-01T00:00:00.123+05:30",
                               "1998-12-31T22:59:60-01:00" },
                        bad = { "2023-02-29T13:45:00Z", "2024-01-01 00:00:00Z", "2024-01-01T24:00:00Z",
                                "2024-01-01T00:00:00", "2024-01-01T00:00:00.Z", "1998-12-31T22:59:60Z",
                                "2024-01-01T00:00:00+24:00" } },
      date = { ok = { "2024-02-29", "2000-02-29", "1999-12-31" }, bad = { "1900-02-29", "2024-13-01", "2024-1-01", "2024-04-31" } },
      uri = { ok = { "https://example.com/a?b=c#d", "urn:isbn:0451450523", "mailto:a@b.c", "http://[::1]:8080/",
                     "file:///etc/hosts", "http://a%20b@host/" },
              bad = { "//example.com", "example.com", "http://exa mple.com", "http://host/%zz", "http://[::1/",
                      "http://host:80a/", "https://exämple.com", "1http://x" } },
      hostname = { ok = { "example.com", "a", "xn--bcher-kva.example", "1host", ("a"):rep(63) .. ".com" },
                   bad = { "", ".", "-a.com", "a-.com", "a..b", "example.com.", ("a"):rep(64) .. ".com", "a_b.com" } },
      ipv4 = { ok = { "127.0.0.1", "255.255.255.255", "0.0.0.0" }, bad = { "256.0.0.1", "1.2.3", "01.2.3.4", "1.2.3.4 " } },
      ipv6 = { ok = { "::1", "2001:db8::8a2e:370:7334", "::ffff:192.0.2.1" }, bad = { "1:2:3", "::1%eth0", "12345::", "::1\0" } },
      email = { ok = { "jane@example.com" }, bad = { "jane@example" } },
      uuid = { ok = { "5f0c2c1e-8f5d-4c8e-9d6a-0a1b2c3d4e5f" }, bad = { "5f0c2c1e8f5d4c8e9d6a0a1b2c3d4e5f" } },
    }
    for format, c in pairs(cases) do
      it("checks " .. format .. ", on strings only", function()
        local p = one { format = format }
        for _, v in ipairs(c.ok) do valid(p, { x = v }) end
        for _, v in ipairs(c.bad) do
          assert.matches("must be a valid", invalid(p, { x = v }).x[1], 1, true)
        end
        valid(p, { x = 12 }) -- a format says nothing about a number
      end)
    end
  end)

  describe("patterns (PCRE2, ECMA-262 semantics)", function()
    it("match anywhere unless anchored, in characters, with ASCII \\d and \\w", function()
      valid(one { pattern = "b+" }, { x = "abbc" })
      valid(one { pattern = "^\\d{3}$" }, { x = "123" })
      assert.matches("must match the pattern", invalid(one { pattern = "^\\d{3}$" }, { x = "١٢٣" }).x[1]) -- Arabic-Indic digits
      valid(one { pattern = "^\\w+$" }, { x = "abc_9" })
      assert.is_table(core.validate(one { pattern = "^\\w+$" }, { x = "é" }))
      valid(one { pattern = "^.$" }, { x = "é" })
      valid(one { pattern = "^\\u00e9$" }, { x = "é" })
      valid(one { pattern = "^\\u{1F600}$" }, { x = "😀" })
      valid(one { pattern = "^[^]$" }, { x = "\n" })
      assert.is_table(core.validate(one { pattern = "^a$" }, { x = "a\n" })) -- $ is the end, not before a newline
      valid(one { pattern = "^(?=.*\\d)(?=.*[a-z]).{8,}$" }, { x = "secret12" })
      valid(one { pattern = "^[a-z]+$" }, { x = ("a"):rep(100000) })
    end)

    it("refuses a value that makes a pattern backtrack without end, quickly, instead of hanging", function()
      local p = one { type = "string", pattern = "^(a+)+$" }
      local problems = invalid(p, { x = ("a"):rep(40) .. "!" })
      assert.same({ "is too costly to check against the pattern ^(a+)+$" }, problems.x)
      valid(p, { x = ("a"):rep(40) })
    end)
  end)

  describe("patterns: PCRE2's search, bounded, then one budget for the whole search", function()
    local COSTLY = "is too costly to check against the pattern "

    it("answers a long valid value whose one start backtracks over all of it", function()
      -- (?s:.*?)(?:P) alone retried the repeat from every start, 8 million
      -- steps for 4 KB: over its budget, a valid value refused as too costly
      local p = one { type = "string", pattern = "[^@\\s]+$" }
      local value = ("x"):rep(4000) .. " y"
      valid(p, { x = value })
      assert.is_string(core.marshal_json(p, { x = value }))
      assert.same({ "must match the pattern [^@\\s]+$" }, invalid(p, { x = ("x"):rep(4000) .. " " }).x)
    end)

    it("bounds the whole search, not each start alone", function()
      local p = one { type = "string", pattern = "(a+)+$" }
      -- from each start (a+)+ tries 2^14 ways: within what a start gets
      -- when the value is short, so the search answers
      assert.same({ "must match the pattern (a+)+$" }, invalid(p, { x = (("a"):rep(14) .. "b"):rep(20) }).x)
      -- 2^18 ways from a start: over what a start gets, the search stops,
      -- and the one budget of the wrapped form runs out
      assert.same({ COSTLY .. "(a+)+$" }, invalid(p, { x = (("a"):rep(18) .. "b"):rep(200) }).x)
      valid(p, { x = ("b"):rep(1000) .. "aaa" })
      -- a value the pattern does not match, up to the limit, is answered
      local q = one { type = "string", pattern = "x|yz" }
      assert.same({ "must match the pattern x|yz" }, invalid(q, { x = ("ab y"):rep(1024) }).x)
      valid(q, { x = ("ab y"):rep(1023) .. "abyz" })
    end)

    it("answers 4 KB valid values a search retries a scan of from every start", function()
      -- an alternative in a group (searched without the JIT), a CRLF in the
      -- value (where PCRE2's search skipped a start); both were refused as
      -- too costly
      valid(one { type = "string", pattern = "[^@\\s]+(?:$|;)" }, { x = ("a"):rep(4000) .. "@b" })
      valid(one { type = "string", pattern = "[^@\\s]+$" }, { x = ("a"):rep(4000) .. "\r\nb" })
      assert.same({ "must match the pattern [^@\\s]+$" },
        invalid(one { type = "string", pattern = "[^@\\s]+$" }, { x = ("a"):rep(4000) .. "\r\n" }).x)
    end)

    it("refuses a value over 4096 bytes for a pattern that does not anchor itself, naming the limit", function()
      local too_long = { "is too long to check against its pattern (over 4096 bytes)" }
      local p = one { type = "string", pattern = "\\S+@\\S+\\.\\S+" }
      assert.same(too_long, invalid(p, { x = ("a@"):rep(20000) .. "." }).x)
      assert.same(too_long, invalid(p, { x = ("a"):rep(4095) .. "@b.c" }).x)
      valid(p, { x = ("a"):rep(4091) .. "@b.c" })
      valid(one { pattern = "^(?:[^<>])*$" }, { x = ("x"):rep(100000) }) -- anchored: one start, no cap
    end)

    it("never runs the pattern over a value that is too long already", function()
      local p = one { type = "string", pattern = "(a+)+$", max_length = 10 }
      assert.same({ "must be at most 10 characters" }, invalid(p, { x = ("a"):rep(5000) .. "b" }).x)
      assert.same({ "must be at most 10 characters" }, invalid(p, { x = ("a"):rep(30) .. "b" }).x)
    end)

    it("keeps a search's answers: anchors, word boundaries and lookbehinds anywhere", function()
      for _, case in ipairs {
        { "^b", "ab", false }, { "b$", "ba", false }, { "a$", "ba", true }, { "^$", "", true },
        { "\\bfoo\\b", "a foo", true }, { "\\bfoo\\b", "afoo", false }, { "\\Boo", "foo", true },
        { "\\b", "", false }, { "(?<=a)b", "ab", true }, { "(?<=a)b", "b", false }, { "(?<!a)b", "ab", false },
        { "(?<!a)b", "cb", true }, { "(?<=^)b", "ab", false }, { "(?<=^a)b", "ab", true },
        { "(?m)^b", "a\nb", true }, { "(?m)a$", "a\nb", true }, { "(?m)^c", "a\nb", false },
        { "(?i)AB", "xab", true }, { "(a)\\1", "xaa", true }, { "(?<n>a)\\k<n>", "ab", false },
        { "x*", "", true }, { "", "abc", true }, { "\\Qa.b", "xa.b", true }, { "\\Qa.b", "xaxb", false },
        { "[(*]", "*", true }, { "\\(*x", "((x", true }, { "[]]", "]", false }, { "[^]", "\n", true },
        -- ECMA-262's answers where PCRE2's search skipped the inside of a CRLF
        { "(?s).b", "a\r\nb", true }, { "\\B", "a\r\nb", true },
        -- and where a search that starts only at line starts stepped over the LF
        { "(?m:^)\\s", "x\r\ny", true }, { "(?m)^$", "x\r\ny", true }, { ".*[\\s]y", "x\r\ny", true },
        { ".*\\n", "x\r\ny", true }, { "(?m)^y", "x\r\ny", true }, { "(?m)^z", "x\r\ny", false },
        -- and where PCRE2 10.42's search misses a match: a first code unit
        -- only looked ahead at, the JIT's early fail after alternatives
        { "(?=b)a*b", "aab", true }, { "(?=b)a?b", "aab", true }, { "(a|)a*a", "a", true },
        { "(a|)a*a", "bab", true }, { "(?:a|)a*(a)", "abab", true },
      } do
        local p = one { type = "string", pattern = case[1] }
        local problems = core.validate(p, { x = case[2] })
        assert.equal(case[3], problems == nil, ("%s against %q"):format(case[1], case[2]))
        assert.equal(problems == nil, core.marshal_json(p, { x = case[2] }) ~= nil)
      end
    end)

    it("refuses what a search anywhere would change, unless the pattern anchors itself", function()
      for _, pattern in ipairs { "a(*PRUNE)b", "(*UTF)a", "a(?R)?b", "a(?0)?b", "a\\g<0>?b", "(?x)a # comment",
                                 "(?ix:a)b", "[]](*SKIP)" } do
        assert.matches("pattern .* cannot be compiled: it .*: not ECMA%-262, and changed by a search anywhere",
          compile_error { { "x", type = "string", pattern = pattern } })
      end
      valid(one { pattern = "^a(*PRUNE)b" }, { x = "ab" })
      valid(one { pattern = "(?i-x)A" }, { x = "a" })
      valid(one { pattern = "[[:alpha:](*]" }, { x = "(" })
    end)

    it("takes long valid values: a repeated group is bounded by memory, not a small depth", function()
      valid(one { pattern = "^(?:a|b)*$" }, { x = ("ab"):rep(50000) })
      valid(one { pattern = "^(a|b)*$" }, { x = ("ab"):rep(50000) })
      valid(one { pattern = "^(?:[^<>])*$" }, { x = ("x"):rep(100000) })
      valid(one { pattern = "^([a-z0-9]+\\.)*[a-z]+$" }, { x = ("abc."):rep(25000) .. "com" })
      -- beyond the JIT's stack and the interpreter's memory: refused, never a crash
      local p = one { type = "string", pattern = "^(?:a|b)*$" }
      assert.same({ COSTLY .. "^(?:a|b)*$" }, invalid(p, { x = ("ab"):rep(200000) }).x)
    end)
  end)

  describe("arrays", function()
    it("keeps items unique with JSON's equality", function()
      local p = one { type = "array", unique_items = true }
      valid(p, { x = { 1, "1", true, { a = 1 }, { 1 }, NULL, 2 } })
      local same = {
        { 1, 1.0 }, { "a", "a" }, { { a = 1, b = { 2 } }, { b = { 2.0 }, a = 1 } }, { { 1, 2 }, { 1, 2 } },
        { NULL, NULL }, { false, false }, { 0, -0.0 },
      }
      for _, pair in ipairs(same) do
        assert.same({ x = { "must not repeat an item: items 2 and 3 are equal" } },
          invalid(p, { x = { "first", pair[1], pair[2] } }))
      end
      local ints = one { type = "array", unique_items = true, items = { type = "integer" } }
      assert.matches("items 1 and 2 are equal", invalid(ints, { x = { "12", 12 } }).x[1])
      valid(ints, { x = { "9007199254740993", "9007199254740992" } })
      valid(one { type = "array", unique_items = true, items = { type = "object" } }, { x = { { a = 1 }, { a = 1, b = 2 } } })
    end)

    it("refuses a free-form item that holds itself, rather than following it for ever", function()
      local loop = {}
      loop.self = loop
      local unique = one { type = "array", unique_items = true }
      assert.matches("nested too deeply %(or holds itself%)", invalid(unique, { x = { loop, 1 } }).x[1])
      assert.matches("nested too deeply %(or holds itself%)", invalid(one {}, { x = loop }).x[1])
    end)
  end)

  describe("objects", function()
    local p = compile { { "address", type = "object", min_properties = 1, max_properties = 4, properties = {
      { "city", type = "string", required = true },
      { "geo", type = "object", additional_properties = false, properties = { { "lat", type = "number" } } },
    } }, { "emails", type = "array", items = { type = "object", properties = {
      { "value", type = "string", format = "email", required = true } } } } }

    it("names nested offenders by path", function()
      local problems = invalid(p, { address = { geo = { lat = "n", lng = 1 } },
                                    emails = { { value = "a@example.com" }, { value = "nope" }, {}, "x" } })
      assert.same({
        ["address.city"] = { "is required" },
        ["address.geo.lat"] = { "must be a number" },
        ["address.geo.lng"] = { "is not a property of address.geo" },
        ["emails[2].value"] = { "must be a valid email address" },
        ["emails[3].value"] = { "is required" },
        emails = { "item 4 must be an object" },
      }, problems)
    end)

    it("lets other keys through by default, counts properties, and wants string keys", function()
      valid(p, { address = { city = "Paris", zip = "75001", extra = { 1, 2 } } })
      assert.same({ address = { "must have at least 1 properties" }, ["address.city"] = { "is required" } },
        invalid(p, { address = {} }))
      assert.same({ address = { "must have at most 4 properties" } },
        invalid(p, { address = { city = "a", b = 1, c = 2, d = 3, e = 4 } }))
      assert.same({ address = { "must be an object (string keys), not an array" } }, invalid(p, { address = { "x" } }))
      assert.same({ address = { "must be an object" } }, invalid(p, { address = "Paris" }))
      assert.same({ address = { "has a key that is not UTF-8" } }, invalid(p, { address = { city = "a", ["\255"] = 1 } }))
      assert.same({ ["address.city"] = { "must be valid UTF-8 text" } }, invalid(p, { address = { city = "\255" } }))
    end)

    it("holds other keys to additional_properties when it is a schema", function()
      local q = one { type = "object", additional_properties = { type = "integer", minimum = 0 } }
      valid(q, { x = { a = 1, b = 2 } })
      assert.same({ ["x.b"] = { "must be at least 0" } }, invalid(q, { x = { a = 1, b = -1 } }))
    end)

    it("nest 32 deep and more, each level named", function()
      local s, v = { type = "string", max_length = 1 }, "xx"
      for _ = 1, 40 do
        s = { type = "object", properties = { { "a", required = true, type = s.type, properties = s.properties,
                                                 max_length = s.max_length } } }
        v = { a = v }
      end
      s[1] = "root"
      local q = compile { s }
      local problems = invalid(q, { root = v })
      assert.same({ "must be at most 1 characters" }, problems["root" .. (".a"):rep(40)])
      v = "x"
      for _ = 1, 40 do v = { a = v } end
      valid(q, { root = v })
    end)
  end)

  describe("the update", function()
    it("refuses fields it does not declare, unless additional_fields lets them through", function()
      assert.same({ y = { "is not a field of t" } }, invalid(compile { { "x" } }, { y = 1 }))
      valid(compile({ { "x" } }, { additional_fields = true }), { y = { 1, 2 }, x = 1 })
      local p = compile({ { "x" } }, { additional_fields = { type = "string" } })
      valid(p, { y = "a" })
      assert.same({ y = { "must be a string" } }, invalid(p, { y = 1 }))
      assert.same({ ["\255"] = { "is not a field name: names are UTF-8 text" } },
        invalid(compile({ { "x" } }, { additional_fields = true }), { ["\255"] = 1 }))
    end)

    it("refuses a read-only field, null included", function()
      local p = compile { { "id", type = "string", read_only = true }, { "name" } }
      for _, v in ipairs { "x", NULL, 1 } do
        assert.same({ id = { "is read-only: it cannot be updated" } }, invalid(p, { id = v, name = "n" }))
      end
      valid(p, { name = "n" })
      local nested = one { type = "object", properties = { { "created", read_only = true } } }
      assert.same({ ["x.created"] = { "is read-only: it cannot be updated" } }, invalid(nested, { x = { created = 1 } }))
    end)
  end)

  it("comes through describe whole, nested rules and the declaration's own keys", function()
    local registry = require "users.registry"
    local decl = { name = "d", additional_fields = { type = "string" }, form_booleans = { "true", "false" }, fields = {
      { "address", type = "object", properties = { { "city", type = "string", required = true, format_hint = "city" } },
        additional_properties = false },
      { "kind", one_of = { { const = "a" }, { type = "integer", minimum = 1 } }, read_only = true },
    } }
    local d = registry.describe { decl = decl, compiled = core.compile(decl) }
    assert.same({ { "city", type = "string", required = true, format_hint = "city" } }, d.fields.address.properties)
    assert.is_false(d.fields.address.additional_properties)
    assert.same({ { const = "a" }, { type = "integer", minimum = 1 } }, d.fields.kind.one_of)
    assert.is_true(d.fields.kind.read_only)
    assert.same({ type = "string" }, d.additional_fields)
    assert.same({ "true", "false" }, d.form_booleans)
    d.fields.address.properties[1].type = "changed" -- a copy: the declaration stays as it was
    assert.equal("string", decl.fields[1].properties[1].type)
  end)

  describe("alternatives", function()
    it("one_of holds when exactly one alternative does", function()
      local p = one { one_of = { { type = "integer" }, { type = "number", minimum = 10 }, { type = "string" } } }
      valid(p, { x = 5 })
      valid(p, { x = 10.5 })
      valid(p, { x = "s" })
      assert.same({ x = { "matches more than one of its alternatives, and must match exactly one" } },
        invalid(p, { x = 12 }))
      assert.same({ x = { "must be an integer or a number or a string" } }, invalid(p, { x = true }))
      local objects = one { one_of = { { type = "object", properties = { { "a", required = true } } },
                                       { type = "object", properties = { { "b", required = true } } } } }
      valid(objects, { x = { a = 1 } })
      assert.matches("more than one", invalid(objects, { x = { a = 1, b = 2 } }).x[1])
    end)

    it("take null where an alternative is nullable, as a compiler writes [S, {type: null}]", function()
      local p = one { any_of = { { type = "string" }, { nullable = true, enum = {} } } }
      valid(p, { x = NULL })
      valid(p, { x = "a" })
      assert.same({ x = { "cannot be null" } }, invalid(one { any_of = { { type = "string" } } }, { x = NULL }))
      assert.same({ x = { "cannot be null" } }, invalid(one { one_of = { { nullable = true }, { nullable = true } } }, { x = NULL }))
    end)

    it("any_of keeps today's words", function()
      local p = one { type = "array", items = { type = "string", any_of = { { format = "uuid" }, { enum = { "*" } } } } }
      assert.same({ x = { 'item 2 must be a UUID or "*"' } }, invalid(p, { x = { "*", "nope" } }))
    end)
  end)
end)
