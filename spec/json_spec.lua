-- The C core's JSON codec: what goes on the wire and what comes back.
local core = require "users.core"
local users = require "users"

describe("JSON decoding", function()
  it("decodes objects, arrays, strings, numbers, booleans and null", function()
    local v = assert(core.json_decode('{"a":[1,2,3],"b":{"c":"d"},"t":true,"f":false,"n":null,"x":1.5}'))
    assert.same({ 1, 2, 3 }, { v.a[1], v.a[2], v.a[3] })
    assert.equal("d", v.b.c)
    assert.is_true(v.t)
    assert.is_false(v.f)
    assert.equal(users.null, v.n)
    assert.equal(1.5, v.x)
  end)

  it("keeps integers integers, and 64-bit ids exact", function()
    local v = assert(core.json_decode('{"id":42,"big":9007199254740993,"huge":123456789012345678901234}'))
    assert.equal(42, v.id)
    if math.type then
      assert.equal("integer", math.type(v.id))
      assert.equal(9007199254740993, v.big)
    else
      assert.equal("9007199254740993", v.big) -- beyond 2^53 on 5.1: text, not a rounded double
    end
    assert.equal("123456789012345678901234", v.huge)
  end)

  it("decodes escapes and surrogate pairs into UTF-8", function()
    local v = assert(core.json_decode('"a\\"b\\\\c\\/d\\n\\u00e9\\ud83d\\ude00"'))
    assert.equal('a"b\\c/d\né😀', v)
  end)

  it("marks arrays so they encode back as arrays, even empty", function()
    local v = assert(core.json_decode('{"list":[],"obj":{}}'))
    assert.equal(users.array_mt, getmetatable(v.list))
    assert.equal('{"list":[]}', core.json_encode({ list = v.list }))
    assert.equal('{}', core.json_encode(v.obj))
  end)

  it("returns nil and a message for bad JSON, never raises", function()
    for _, text in ipairs { "", "{", "[1,]", '{"a" 1}', "tru", '"\\ud800"', '"abc', "01", "1 2",
                            string.rep("[", 500) .. string.rep("]", 500) } do
      local v, msg = core.json_decode(text)
      assert.is_nil(v, text)
      assert.matches("invalid JSON at byte %d+", msg)
    end
  end)

  it("with ordered, also gives each object's keys in the text's order, each once", function()
    local v, order = core.json_decode('{"b":1,"a":{"z":[{"y":1,"x":2}],"c":{}},"b":3,"é":null}', true)
    assert.equal(3, v.b) -- a repeated key: the last value, the first place
    assert.same({ "b", "a", "é" }, order[v])
    assert.same({ "z", "c" }, order[v.a])
    assert.same({ "y", "x" }, order[v.a.z[1]])
    assert.same({}, order[v.a.c])
    assert.is_nil(order[v.a.z]) -- arrays have no key list
    local plain, none = core.json_decode('{"b":1,"a":2}')
    assert.is_nil(none)
    assert.same({ b = 1, a = 2 }, plain)
    local bad, msg = core.json_decode('{"a":1,', true)
    assert.is_nil(bad)
    assert.matches("invalid JSON at byte 8", msg)
    local _, top = core.json_decode("[1]", true)
    assert.same({}, top)
  end)
end)

describe("JSON encoding", function()
  it("writes strings exactly: no escaped slash, control characters as \\u", function()
    assert.equal('"a/b \\"q\\" \\\\ \\n\\u0001é"', core.json_encode('a/b "q" \\ \n\1é'))
  end)

  it("writes integers as integers and null as null", function()
    assert.equal("[1,-2,3]", core.json_encode(setmetatable({ 1, -2, 3.0 }, users.array_mt)))
    assert.equal("null", core.json_encode(users.null))
  end)

  it("refuses NaN, infinity and functions with an error", function()
    assert.has_error(function() core.json_encode(0 / 0) end)
    assert.has_error(function() core.json_encode(math.huge) end)
    assert.has_error(function() core.json_encode(print) end)
  end)
end)
