-- core.yaml_decode: YAML text read with libyaml into the values
-- core.json_decode gives, scalars by YAML 1.2's core schema.
local core = require "users.core"

local null, array_mt = core.null, core.array_mt
local is_integer = math.type and function(v) return math.type(v) == "integer" end
  or function(v) return type(v) == "number" and v % 1 == 0 end

local function read(text) return assert(core.yaml_decode(text)) end

local function refused(text, pattern)
  local v, err = core.yaml_decode(text)
  assert.is_nil(v)
  assert.matches(pattern, err)
  return err
end

describe("core.yaml_decode", function()
  it("reads mappings, sequences (with array_mt) and nested flow and block styles", function()
    local v = read("a:\n  - 1\n  - {b: [x, y]}\nc: {}\nd: []\n")
    assert.same({ a = { 1, { b = { "x", "y" } } }, c = {}, d = {} }, v)
    assert.equal(array_mt, getmetatable(v.a))
    assert.equal(array_mt, getmetatable(v.d))
    assert.is_nil(getmetatable(v.c))
    assert.is_nil(getmetatable(v.a[2]))
  end)

  it("resolves plain scalars by the core schema: null, booleans, integers, floats", function()
    local v = read("[~, null, Null, NULL, !!null , true, True, TRUE, false, FALSE, 0, -12, +7, 0o17, 0x1F, "
                   .. "0777, 2.5, -.5, 1e3, 1., .inf, -.Inf]")
    local want = { null, null, null, null, null, true, true, true, false, false, 0, -12, 7, 15, 31,
                   777, 2.5, -0.5, 1000, 1, math.huge, -math.huge }
    for i, w in ipairs(want) do assert.equal(w, v[i], "item " .. i) end
    assert.is_true(is_integer(v[11]) and is_integer(v[15]))
    assert.equal(null, read("x:\n").x)
    local nan = read("x: .nan").x
    assert.is_true(nan ~= nan)
  end)

  it("keeps as strings what YAML 1.1 would have read otherwise, and whatever is quoted", function()
    local v = read("[yes, no, on, off, y, n, 1_000, 0b1, 12:30, '200', \"true\", '~', '*', -0x1, 0x]")
    assert.same({ "yes", "no", "on", "off", "y", "n", "1_000", "0b1", "12:30", "200", "true", "~", "*",
                  "-0x1", "0x" }, v)
  end)

  it("makes every key a string, as written: an unquoted 200 is \"200\"", function()
    local v = read("200: a\n'404': b\ntrue: c\nnull: d\n1.5: e\n")
    assert.same({ ["200"] = "a", ["404"] = "b", ["true"] = "c", ["null"] = "d", ["1.5"] = "e" }, v)
  end)

  it("reads integers up to 64 bits exactly (5.3 and later), larger ones as floats", function()
    local v = read("[9223372036854775807, -9223372036854775808, 9223372036854775808]")
    if math.type then
      assert.equal(math.maxinteger, v[1])
      assert.equal(math.mininteger, v[2])
      assert.equal("float", math.type(v[3]))
    end
    assert.equal(2 ^ 63, v[3])
  end)

  it("honours YAML's own tags on scalars, and refuses other tags", function()
    local v = read("a: !!str 12\nb: !!int '7'\nc: !!float 3\nd: !!null ''\ne: !!bool false\nf: ! 12\n")
    assert.same({ a = "12", b = 7, c = 3, d = null, e = false, f = "12" }, v)
    refused("a: !Ref x", "line 1, column 4: unsupported tag or value '!Ref'")
    refused("a: !!int x", "unsupported tag or value")
    refused("a: !!binary aGk=", "unsupported tag")
    refused("a: !!set {x}", "unsupported tag")
  end)

  it("keeps quoted, literal and folded scalars as they are written, NUL bytes too", function()
    local v = read("a: |\n  one\n   two\nb: >-\n  folded\n  text\nc: \"tab\\tnul\\0end\"\nd: 'it''s'\n")
    assert.same({ a = "one\n two\n", b = "folded text", c = "tab\tnul\0end", d = "it's" }, v)
  end)

  it("shares an anchored value with its aliases, and refuses an alias inside its own node", function()
    local v = read("base: &b {type: string}\nx: *b\nname: &n bob\ny: *n\n")
    assert.equal(v.base, v.x)
    assert.equal("bob", v.y)
    refused("a: &x [1, *x]", "line 1, column 11: an alias inside the node of its own anchor 'x'")
    refused("a: &x {b: *x}", "an alias inside the node of its own anchor")
    refused("a: *nope", "unknown anchor")
  end)

  it("refuses what OpenAPI documents never need: merge keys, complex keys, duplicates, streams", function()
    refused("a: &a {x: 1}\nb:\n  <<: *a\n", "line 3, column 3: merge keys %(<<%) are not supported")
    refused("? [a, b]\n: 1\n", "a mapping key must be a scalar")
    refused("a: 1\nb: 2\na: 3\n", "line 3, column 1: duplicate key 'a'")
    refused("200: a\n'200': b\n", "duplicate key '200'")
    refused("--- 1\n--- 2\n", "line 2, column 1: more than one document")
    refused("", "no document")
    refused("# only a comment\n", "no document")
  end)

  it("says where libyaml found the text broken", function()
    refused("a: [1, 2\nb: 3", "^invalid YAML: line %d+, column %d+: ")
    refused("a: b: c", "^invalid YAML: line 1, column 5: mapping values are not allowed")
    refused("a: \"\255\"", "^invalid YAML: byte 5: invalid leading UTF%-8 octet")
  end)

  it("bounds the nesting and the size of what it reads", function()
    refused(("["):rep(300), "nested too deeply")
    assert.equal(1, #read(("["):rep(200) .. ("]"):rep(200)))
    local huge = ("x"):rep(64 * 1024 * 1024 + 1)
    refused(huge, "^YAML text larger than")
  end)

  it("reads JSON text too (JSON is YAML), to the same value as json_decode", function()
    local text = '{"a": [1, 2.5, "x", null, true], "b": {"c": {}}, "d": []}'
    assert.same(core.json_decode(text), read(text))
  end)

  it("gives each mapping's keys in the order of the text when asked", function()
    local v, order = core.yaml_decode("z: 1\na: {q: 1, b: 2, m: 3}\nm: [{y: 1, x: 2}]\n", true)
    assert.same({ "z", "a", "m" }, order[v])
    assert.same({ "q", "b", "m" }, order[v.a])
    assert.same({ "y", "x" }, order[v.m[1]])
    assert.is_nil(order[v.m])
    assert.equal(1, select("#", core.yaml_decode("a: 1")))
  end)

  it("raises only on misuse", function()
    assert.has_error(function() core.yaml_decode() end)
    assert.has_error(function() core.yaml_decode({}) end)
  end)

  it("reads the vendors' documents shipped with the module", function()
    for _, name in ipairs { "activepieces", "lancepilot", "lexful", "paradigm" } do
      local f = assert(io.open("lua/users/providers/" .. name .. "/openapi.yaml"))
      local doc = read(f:read("*a"))
      f:close()
      assert.is_table(doc.paths, name)
      assert.is_table(doc.components.securitySchemes, name)
    end
  end)
end)
