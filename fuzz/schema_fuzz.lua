-- The schema harness's Lua side (fuzz/schema.c calls schema_case with the
-- input's bytes): a declaration the bytes choose, from the whole
-- vocabulary of lua/users/providers/README.md (nested objects, arrays,
-- alternatives, enums of every kind, bounds, patterns, formats, form
-- styles), compiled; then an update the bytes choose, mostly fitting it,
-- validated and encoded every way. Oracles: core.compile either compiles
-- or raises "provider declaration: ..."; nothing else raises on a
-- validated update; marshal_json agrees with validate + encode_json; a
-- valid update's JSON reads back; the form encoders give a body or
-- problems.
return function(core, fz)
  local NULL = core.null

  local STRINGS = { "", "a", "ab", "Zoë", "日本語", "a@example.com", "nope", "5f0c2c1e-8f5d-4c8e-9d6a-0a1b2c3d4e5f",
    "2024-02-29T13:45:00Z", "2024-02-30", "2024-02-29", "https://example.com/a?b", "example.com", "127.0.0.1",
    "::1", "12", "-9223372036854775808", "9223372036854775808", "\255", "a\0b", ("a"):rep(30) .. "!", "x y&z=1" }
  local NUMBERS = { 0, -0.0, 1, -1, 2.5, 0.1, 0.3, 1e300, 2 ^ 53, 2 ^ 63, -2 ^ 63, math.maxinteger, math.mininteger,
    0 / 0, math.huge, 7, 10, 100 }
  local PATTERNS = { "^[a-z]+$", "b", "^\\d{2,4}$", "^(a+)+$", "^.{1,3}$", "\\u00e9", "^[^]*$", "(?i)^ab$" }
  local FORMATS = { "email", "uuid", "date-time", "date", "uri", "hostname", "ipv4", "ipv6" }
  local TYPES = { "string", "integer", "number", "boolean", "array", "object", "any", "any" }
  local NAMES = { "a", "b", "city", "value", "x y", "é" }

  local function reader(data)
    local pos = 0
    local r = {}
    function r.byte() pos = pos + 1 return data:byte(pos) or 0 end
    function r.pick(list) return list[r.byte() % #list + 1] end
    function r.chance(n) return r.byte() % n == 0 end
    return r
  end

  local function schema(r, depth, top)
    local s = { type = r.pick(TYPES) }
    if s.type == "any" and r.chance(2) then s.type = nil end
    local t = s.type
    if r.chance(4) then s.nullable = true end
    if r.chance(16) then s.read_only = true end
    if (t == "string" or not t) and r.chance(2) then
      local k = r.byte() % 4
      if k == 0 then s.min_length = r.byte() % 4 end
      if k == 1 then s.max_length = r.byte() % 6 end
      if k == 2 then s.format = r.pick(FORMATS) end
      if k == 3 then s.pattern = r.pick(PATTERNS) end
    end
    if (t == "integer" or t == "number" or not t) and r.chance(2) then
      local k = r.byte() % 5
      local n = r.pick { 0, 1, 2, 0.1, 0.5, 3, -5, 2 ^ 53 }
      if k == 0 then s.minimum = n elseif k == 1 then s.maximum = n elseif k == 2 then s.exclusive_minimum = n
      elseif k == 3 then s.exclusive_maximum = n elseif n > 0 then s.multiple_of = n end
    end
    if r.chance(6) then
      s.enum = {}
      for i = 1, r.byte() % 4 do s.enum[i] = r.pick { "a", "b", 1, 2.5, true, false, "12" } end
    elseif r.chance(12) then
      s.const = r.pick { "a", 1, true }
    end
    if t == "array" then
      if depth < 4 and r.chance(2) then s.items = schema(r, depth + 1, false) end
      if r.chance(3) then s.unique_items = true end
      if r.chance(4) then s.min_items = r.byte() % 3 end
      if r.chance(4) then s.max_items = r.byte() % 4 end
    elseif t == "object" then
      s.properties = {}
      for i = 1, depth < 4 and r.byte() % 4 or 0 do
        local p = schema(r, depth + 1, false)
        p[1], p.required = NAMES[i], r.chance(3) or nil
        s.properties[i] = p
      end
      local k = r.byte() % 4
      if k == 0 then s.additional_properties = false
      elseif k == 1 and depth < 4 then s.additional_properties = schema(r, depth + 1, false) end
      if r.chance(6) then s.min_properties = r.byte() % 3 end
      if r.chance(6) then s.max_properties = r.byte() % 3 end
    end
    if depth < 3 and r.chance(8) then
      local key = r.chance(2) and "any_of" or "one_of"
      s[key] = { schema(r, depth + 1, false), schema(r, depth + 1, false) }
    end
    if top and (t == "array" or t == "object") and r.chance(3) then
      s.style = r.pick { "form", "deepObject", "spaceDelimited", "pipeDelimited" }
      if r.chance(2) then s.explode = r.chance(2) end
    end
    if top and r.chance(8) then s.part_content_type = r.pick { "application/json", "text/plain" } end
    if r.chance(64) then s.bogus = 1 end -- a key nobody knows: a compile error
    return s
  end

  -- A value for s: mostly one that fits its type, sometimes anything.
  local function value(r, s, depth)
    local t = s and s.type
    if r.chance(8) or depth > 5 then t = r.pick(TYPES) end
    if r.chance(10) then return NULL end
    if t == "string" then return r.pick(STRINGS)
    elseif t == "integer" then return r.chance(3) and r.pick { "12", "-3", "9007199254740993" } or math.tointeger(r.pick(NUMBERS)) or 5
    elseif t == "number" then return r.pick(NUMBERS)
    elseif t == "boolean" then return r.chance(2)
    elseif t == "array" then
      local a = {}
      for i = 1, r.byte() % 4 do a[i] = value(r, s and s.items, depth + 1) end
      if #a == 0 and r.chance(2) then setmetatable(a, core.array_mt) end
      return a
    elseif t == "object" then
      local o = {}
      for _, p in ipairs(s and s.properties or {}) do
        if r.chance(3) ~= true then o[p[1]] = value(r, p, depth + 1) end
      end
      if r.chance(3) then o[r.pick(NAMES)] = value(r, nil, depth + 1) end
      return o
    end
    return r.chance(2) and r.pick(STRINGS) or r.pick(NUMBERS)
  end

  local function fine_raise(msg)
    return tostring(msg):find("a file cannot be sent in a form", 1, true)
  end

  return function(data)
    local r = reader(data)
    local decl = { name = "fz", fields = {} }
    for i = 1, r.byte() % 4 + 1 do
      local s = schema(r, 0, true)
      s[1] = "f" .. i
      s.required = r.chance(8) or nil
      decl.fields[i] = s
    end
    local k = r.byte() % 4
    if k == 0 then decl.additional_fields = true elseif k == 1 then decl.additional_fields = schema(r, 1, false) end
    if r.chance(3) then decl.form_booleans = { "true", "false" } end
    local ok, p = pcall(core.compile, decl)
    if not ok then
      fz.count("schema: compile error")
      assert(tostring(p):find("^provider declaration"), "core.compile raised something else: " .. tostring(p))
      return
    end
    local fields = {}
    for _, f in ipairs(decl.fields) do
      if r.chance(3) ~= true then fields[f[1]] = value(r, f, 0) end
    end
    if r.chance(4) then fields[r.pick(NAMES)] = value(r, nil, 0) end
    local v = table.pack(pcall(core.validate, p, fields))
    assert(v[1], "validate raised: " .. tostring(v[2]))
    local m = table.pack(pcall(core.marshal_json, p, fields))
    if v[2] ~= nil or v[3] ~= nil then -- invalid: marshal_json says the same
      fz.count("schema: invalid")
      assert(m[1] and m[2] == nil, "marshal_json answered an invalid update with " .. tostring(m[2]))
      assert(fz.same(m[3], v[2]) and m[4] == v[3], "marshal_json's problems differ from validate's")
      return
    end
    fz.count("schema: valid")
    local e = table.pack(pcall(core.encode_json, p, fields))
    assert(e[1], "encode_json raised on a valid update: " .. tostring(e[2]))
    assert(m[1] and m[2] == e[2], "marshal_json and encode_json differ:\n" .. tostring(m[2]) .. "\n" .. tostring(e[2]))
    local body, err = core.json_decode(e[2])
    assert(type(body) == "table", "the body does not read back: " .. tostring(err) .. " in " .. e[2])
    for _, encode in ipairs { core.encode_form, core.encode_multipart } do
      local f = table.pack(pcall(encode, p, fields))
      assert(f[1] or fine_raise(f[2]), "a form encoder raised on a valid update: " .. tostring(f[2]))
      assert(not f[1] or f[2] ~= nil or type(f[3]) == "table", "a form encoder answered nothing")
    end
  end
end
