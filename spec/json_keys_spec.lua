-- The free-form JSON writer (core.json_encode, and any table a field of no
-- type holds) writes only valid JSON: an object key that is not UTF-8, or
-- two keys with one JSON spelling (1 and "1"), is refused, and the refusal
-- is raised after the scratch buffer is given back.
local core = require "users.core"

-- Kilobytes a thousand calls of f allocate, the collector stopped.
local function kb_per_1000(f)
  collectgarbage()
  collectgarbage("stop")
  local before = collectgarbage("count")
  for _ = 1, 1000 do f() end
  local kb = collectgarbage("count") - before
  collectgarbage("restart")
  return kb
end

describe("json_encode's object keys", function()
  it("are UTF-8: a key that is not is refused", function()
    assert.has_error(function() core.json_encode { ["\255"] = 1 } end,
      "cannot encode a table key that is not UTF-8")
    assert.has_error(function() core.json_encode { a = { ["b\192\128"] = true } } end,
      "cannot encode a table key that is not UTF-8")
    assert.equal('{"é":1}', core.json_encode { ["é"] = 1 })
  end)

  it("are one each: a number and a string with one spelling are refused", function()
    assert.has_error(function() core.json_encode { [1] = "a", ["1"] = "b", x = 1 } end,
      'cannot encode a table with two keys JSON writes as "1"')
    assert.has_error(function() core.json_encode { a = { [2.5] = 1, ["2.5"] = 2 } } end,
      'cannot encode a table with two keys JSON writes as "2.5"')
    assert.equal('{"1":"a","3":"b"}', core.json_encode { [1] = "a", [3] = "b" })
    assert.equal('{"1":"a","10":"c","2":"b","x":1}', core.json_encode { "a", "b", [10] = "c", x = 1 })
  end)

  it("are checked in free-form fields of an update too", function()
    local p = core.compile { name = "t", fields = { { "meta" } } }
    assert.has_error(function() core.encode_json(p, { meta = { [1] = 1, ["1"] = 2 } }) end)
    assert.same({ nil, { meta = { "cannot be sent as JSON: it has a key that is not UTF-8" } } },
      { core.marshal_json(p, { meta = { ["\255"] = 1 } }) })
    assert.equal('{"meta":{"1":1,"2":2,"a":3}}', core.marshal_json(p, { meta = { 1, 2, a = 3 } }))
  end)

  it("refuse after the scratch buffer is back: later calls still use it", function()
    for _ = 1, 3 do
      assert.is_false(pcall(core.json_encode, { [1] = 1, ["1"] = 2 }))
      assert.is_false(pcall(core.json_encode, { ["\255"] = 1 }))
    end
    assert.is_true(kb_per_1000(function() return core.json_encode("x") end) < 16)
  end)
end)
