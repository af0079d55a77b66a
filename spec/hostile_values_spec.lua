-- Hostile Lua values (issue 9): random values of every kind fed to
-- update, prepare and bulk_update, as ids, fields, options and items:
-- nested and cyclic tables, metatables whose metamethods raise or yield,
-- huge strings, invalid UTF-8, NaN and infinities, integers past 2^53,
-- functions, userdata, coroutines, re-entrant calls from callbacks.
-- Every call returns a result, returns nil and an err, or raises a
-- string (misuse) or the value a metamethod raised; nothing crashes, and
-- memory stays flat.
local users = require "users"
local env = require "spec.support.env"

local UNDER_VALGRIND = os.getenv("VALGRIND_LUA") ~= nil
local ROUNDS = UNDER_VALGRIND and 150 or 1500

-- What a hostile metamethod raises: told apart from the module's own errors.
local BOOM = setmetatable({}, { __tostring = function() return "BOOM" end })

-- A small, seeded generator (the same sequence on every Lua).
local function rng(seed)
  local state = seed
  return function(n)
    state = (state * 1103515245 + 12345) % 2147483648
    return state % n + 1
  end
end

local FIELD_NAMES = { "email", "role", "first_name", "last_name", "workspaces", "status", "platformRole",
                      "externalId", "name", "timezone", "avatar", "password", "confirm_password",
                      "account_scopes", "username", "client", "nope", "" }
local OPTION_NAMES = { "timeout", "connect_timeout", "retries", "backoff", "headers", "user_agent",
                       "encoding", "max_body", "account_id", "workspace", "ca_file", "max_retry_after" }

local function generator(seed)
  local pick = rng(seed)
  local value

  local function hostile_mt()
    local kinds = {
      { __index = function() error(BOOM) end },
      { __newindex = function() error(BOOM) end },
      { __pairs = function() error(BOOM) end },
      { __pairs = function(t) coroutine.yield("yielded"); return next, t, nil end },
      { __tostring = function() error(BOOM) end },
      { __len = function() error(BOOM) end },
      { __eq = function() error(BOOM) end, __lt = function() error(BOOM) end },
      { __concat = function() error(BOOM) end, __call = function() error(BOOM) end },
      -- a finalizer that uses the core again, whenever the collector runs it
      -- (one that raises would be the caller's own crash on 5.2 and 5.3)
      { __gc = function() require("users.core").json_encode { gc = { 1, 2 } } end },
      { __metatable = "locked" },
      users.array_mt,
    }
    return kinds[pick(#kinds)]
  end

  local scalars = {
    function() return nil end, function() return true end, function() return false end,
    function() return 0 end, function() return -1 end, function() return 42 end,
    function() return 2 ^ 53 + 2 end, function() return 2 ^ 63 end, function() return -2 ^ 63 end,
    function() return math.huge end, function() return -math.huge end, function() return 0 / 0 end,
    function() return 1.5 end, function() return math.maxinteger or 2 ^ 53 end,
    function() return math.mininteger or -2 ^ 53 end,
    function() return "" end, function() return "admin" end, function() return "jane@example.com" end,
    function() return ("x"):rep(pick(3) == 1 and 1024 * 1024 or 300) end,
    function() return "\255\254bad" end, function() return "nul\0inside" end,
    function() return "a\r\nX-Injected: 1" end, function() return "日本語" end,
    function() return "5f0c2c1e-8f5d-4c8e-9d6a-0a1b2c3d4e5f" end, function() return "12" end,
    function() return print end, function() return coroutine.create(function() end) end,
    function() return io.stdout end, function() return users.null end,
    function() return users.file("/nonexistent/file.png") end,
    function() return users.blob("\137PNG\r\n\26\n....", "a\"b.png") end,
  }

  local function tbl(depth)
    local t = {}
    local shape = pick(6)
    if shape == 1 then -- nested deep
      local inner = t
      for _ = 1, pick(100) do inner.a = {}; inner = inner.a end
    elseif shape == 2 then -- cyclic
      t.self = t
      t[1] = t
    elseif shape == 3 then -- an array, maybe with holes
      for i = 1, pick(8) do if pick(4) > 1 then t[i] = value(depth + 1) end end
    else
      for _ = 1, pick(5) do
        local k = pick(3) == 1 and value(depth + 1) or FIELD_NAMES[pick(#FIELD_NAMES)]
        if k ~= nil and k == k then t[k] = value(depth + 1) end
      end
    end
    if pick(3) == 1 then setmetatable(t, hostile_mt()) end
    return t
  end

  value = function(depth)
    depth = depth or 0
    if depth < 3 and pick(4) == 1 then return tbl(depth) end
    return scalars[pick(#scalars)]()
  end

  local function fields()
    if pick(8) == 1 then return value() end
    local t = {}
    for _ = 1, pick(4) do t[FIELD_NAMES[pick(#FIELD_NAMES)]] = value(1) end
    if pick(4) == 1 then setmetatable(t, hostile_mt()) end
    return t
  end

  local function opts(name)
    if pick(10) == 1 then return value() end
    local o = env.opts(name, { timeout = 2, retries = 0 })
    for _ = 1, pick(3) - 1 do o[OPTION_NAMES[pick(#OPTION_NAMES)]] = value(1) end
    local k = pick(12) == 1 and value()
    if k and k == k then o[k] = 1 end
    return o
  end

  return { pick = pick, value = value, fields = fields, opts = opts }
end

local function rss_kb()
  local f = io.open("/proc/self/statm")
  local pages = f and tonumber(f:read("*a"):match("^%d+%s+(%d+)"))
  if f then f:close() end
  return (pages or 0) * 4
end

-- One hostile call, judged. Returns nothing; asserts the outcome's shape.
local function judge(what, ok, a, b)
  if not ok then
    if a == BOOM then return end
    assert(type(a) == "string", what .. " raised a " .. type(a))
    return
  end
  if what == "bulk_update" then
    assert(type(a) == "table" and type(a.total) == "number", "bulk_update returned no report")
    assert(a.total == a.succeeded + a.failed + a.skipped + a.not_attempted, "an item not accounted for")
  elseif a == nil then
    assert(type(b) == "table" and type(b.kind) == "string", what .. " returned nil without an err")
    assert(type(tostring(b)) == "string")
  else
    assert(type(a) == "table", what .. " returned a " .. type(a))
  end
end

describe("hostile Lua values", function()
  setup(function() env.start() end)
  teardown(function() env.stop() end)

  local function round(g)
    local name = env.names[g.pick(#env.names)]
    local v = env.valid[name]
    local id = g.pick(3) == 1 and g.value() or v.id
    local fields = g.pick(4) == 1 and v.fields or g.fields()
    local which = g.pick(3)
    -- in a coroutine, so that a metamethod may yield
    local co = coroutine.create(function()
      if which == 1 then
        return "update", pcall(users.update, name, id, fields, g.opts(name))
      elseif which == 2 then
        return "prepare", pcall(users.prepare, name, id, fields, g.opts(name))
      end
      local items
      if g.pick(3) == 1 then
        local n = 0
        items = function()
          n = n + 1
          if n > 3 then return nil end
          if n == 2 and g.pick(2) == 1 then return g.value() end
          return { id = n == 3 and g.value() or v.id, fields = g.fields() }
        end
      else
        items = { { id = id, fields = fields }, g.value(), { id = v.id, fields = v.fields } }
      end
      local o = g.opts(name)
      if type(o) == "table" and g.pick(2) == 1 then
        -- re-entrant: a nested update, and a nested bulk run, from the callbacks
        rawset(o, "on_result", function() users.update(name, v.id, v.fields, env.opts(name)) end)
        rawset(o, "progress", function(done)
          if done == 1 then users.bulk_update(name, { { id = v.id, fields = v.fields } }, env.opts(name)) end
        end)
      end
      return "bulk_update", pcall(users.bulk_update, name, items, o)
    end)
    local resumed, what, ok, a, b = coroutine.resume(co)
    if resumed and what == "yielded" then return end -- a metamethod yielded: left suspended, collected
    assert(resumed, tostring(what))
    judge(what, ok, a, b)
  end

  it("never crash, answer in the documented shapes, and keep memory flat", function()
    env.fake:record(false)
    local g = generator(20261201)
    for _ = 1, ROUNDS do round(g) end
    collectgarbage()
    collectgarbage()
    local lua_before, rss_before = collectgarbage("count"), rss_kb()
    for _ = 1, ROUNDS do round(g) end
    collectgarbage()
    collectgarbage()
    local lua_grown, rss_grown = collectgarbage("count") - lua_before, rss_kb() - rss_before
    assert.is_true(lua_grown < 2048, ("the Lua heap grew by %.0f KB"):format(lua_grown))
    if not UNDER_VALGRIND then
      assert.is_true(rss_grown < 16 * 1024, ("RSS grew by %d KB"):format(rss_grown))
    end
    env.fake:record(true)
  end)
end)
