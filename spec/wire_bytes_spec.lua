-- The five hand-written providers send exactly the bytes 0.1.0 sent: for
-- 400 generated updates each (valid and not) and a list of ids, every
-- answer of the JSON, form and multipart encoders (the body, byte for
-- byte, or the problems) and of the path parameters' check is what the
-- 0.1.0 core gave (spec/fixtures/wire_bytes.lua, written by
-- spec/support/wire_corpus.lua with that core).
local core = require "users.core"
local corpus = require "spec.support.wire_corpus"
local want = dofile("spec/fixtures/wire_bytes.lua")

describe("the hand-written providers on the wire", function()
  for _, name in ipairs(corpus.names) do
    it(name .. " sends what 0.1.0 sent, and refuses what it refused, in the same words", function()
      local n = os.getenv("LUA_USERS_VALGRIND") and 60 or 400
      local lines = corpus.run(core, name, n)
      local params = corpus.params(core, name)
      for i, line in ipairs(lines) do
        assert(corpus.digest(line) == want[name][i], ("update %d answers differently now:\n%s"):format(i, line))
      end
      for i, line in ipairs(params) do
        assert(corpus.digest(line) == want[name][400 + i], ("id %d answers differently now:\n%s"):format(i, line))
      end
    end)
  end
end)
