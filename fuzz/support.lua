-- The harnesses' Lua side, loaded once per fuzzer as the global `fz` (see
-- fuzz/fuzz.c): the providers they run against, file fixtures, and the
-- oracles, which raise when an answer is wrong (the harness then aborts,
-- and libFuzzer keeps the input). `core` is the global users.core.
local core = core

local fz = {}

-- Every field type, format and rule a declaration can hold, and a path
-- parameter of each kind.
local scope = { type = "string", any_of = { { format = "uuid" }, { enum = { "*" } } } }
fz.decls = {
  every = {
    name = "every",
    fields = {
      { "s", type = "string", min_length = 1, max_length = 8 },
      { "email", type = "string", format = "email", max_length = 40 },
      { "uuid", type = "string", format = "uuid", nullable = true },
      { "pat", type = "string", pattern = "^[a-z]{2,4}[0-9]?$" },
      { "enum", type = "string", enum = { "a", "b", "admin", "é" } },
      { "i", type = "integer", nullable = true },
      { "b", type = "boolean" },
      { "strings", type = "array", items = { type = "string", max_length = 3 }, max_items = 3 },
      { "ints", type = "array", items = { type = "integer" }, min_items = 1 },
      { "scopes", type = "array", items = scope },
      { "any" },
      { "alt", any_of = { { type = "integer" }, { type = "boolean" }, { format = "email" } } },
      { "password", type = "string", min_length = 2 },
      { "confirm", type = "string", same_as = "password" },
      { "avatar", type = "file", nullable = true, content_type = "image/*", max_bytes = 100 },
      { "doc", type = "file" },
      { "nested", type = "array", items = { type = "array", items = { type = "integer" } } },
      -- Stripe's anyOf [object, enum [""]] and its arrays, in style deepObject
      { "deep", style = "deepObject", any_of = {
          { type = "object", properties = { { "s", type = "string" }, { "i", type = "integer" } } },
          { type = "string", enum = { "" } } } },
      { "deeplist", type = "array", style = "deepObject", items = { type = "string" } },
    },
    params = {
      { "id", type = "string" },
      { "n", type = "integer" },
      { "uuid", type = "string", format = "uuid" },
      { "slug", type = "string", pattern = "^[a-z0-9-]+$", max_length = 20 },
      { "any" },
    },
  },
  lexful = require "users.providers.lexful",
  lancepilot = require "users.providers.lancepilot",
}

fz.compiled, fz.names, fz.params, fz.field = {}, {}, {}, {}
for name, decl in pairs(fz.decls) do
  fz.compiled[name] = core.compile(decl)
  local names, params, field = {}, {}, {}
  for i, f in ipairs(decl.fields) do names[i], field[f[1]] = f[1], f end
  for i, p in ipairs(decl.params or {}) do params[i] = p[1] end
  fz.names[name], fz.params[name], fz.field[name] = names, params, field
end

-- Files the generator points at (fz.file): an image, images beyond 100
-- bytes and beyond 1 MB (sparse), no image, an empty file, a directory
-- and a path that is not there.
local PNG = "\137PNG\r\n\26\n\0\0\0\rIHDR\0\0\0\1\0\0\0\1\8\6\0\0\0\31\21\196\137"
local dir = "build/fuzz/files"
os.execute("mkdir -p " .. dir)
local function put(name, bytes, size)
  local f = assert(io.open(dir .. "/" .. name, "wb"))
  f:write(bytes)
  if size then f:seek("set", size - 1) f:write("x") end
  f:close()
  return dir .. "/" .. name
end
local fixtures = { put("a.png", PNG), put("b.png", PNG .. ("p"):rep(120)),
                put("big.png", PNG, 1024 * 1024 + 1), put("a.gif", "GIF89a..."),
                put("a.txt", "just text"), put("empty", ""), dir, dir .. "/nothing-here" }
function fz.file(k) return fixtures[k % #fixtures + 1] end

-- Gives raw an __index whose first read of key k answers answers[k][1],
-- and every later one answers[k][2]: harmless to a first look.
function fz.shifty(raw, answers)
  local reads = {}
  setmetatable(raw, { __index = function(_, k)
    local a = answers[k]
    if not a then return nil end
    reads[k] = (reads[k] or 0) + 1
    return a[reads[k] == 1 and 1 or 2]
  end })
end

local function same(a, b, seen)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then
    return a ~= a and b ~= b -- NaN
  end
  if getmetatable(a) ~= getmetatable(b) then return false end
  seen = seen or {}
  if seen[a] == b then return true end
  seen[a] = b
  for k, v in pairs(a) do
    if not same(v, rawget(b, k), seen) then return false end
  end
  for k in pairs(b) do
    if rawget(a, k) == nil then return false end
  end
  return true
end
fz.same = same

local function show(v)
  local ok, text = pcall(core.json_encode, v)
  return ok and text or tostring(v)
end

-- json_decode's answer v for some text: what json_encode makes of it reads
-- back as v, and encodes as the same text again. json_encode may refuse v
-- only for what JSON text decodes to but JSON cannot hold again.
local REFUSALS = { "not UTF%-8", "nested deeper than 64", "NaN or infinity" }
function fz.json_roundtrip(v)
  local ok, text = pcall(core.json_encode, v)
  if not ok then
    for _, why in ipairs(REFUSALS) do
      if tostring(text):find(why) then return end
    end
    error("json_encode refused a decoded value: " .. tostring(text))
  end
  assert(utf8.len(text), "json_encode wrote text that is not UTF-8: " .. text)
  local w, err = core.json_decode(text)
  assert(err == nil, "json_encode wrote what json_decode refuses: " .. tostring(err) .. " in " .. text)
  assert(same(v, w), "a round trip changed the value: " .. text)
  assert(core.json_encode(w) == text, "the same value encoded twice differently: " .. text)
end

-- A second opinion on decoding: lua-cjson, a private instance without its
-- extensions (hex, inf, nan). Where both decode a text they must agree on
-- the value; which texts each refuses is not compared (nesting limits and
-- edge cases differ). cjson's numbers are doubles: ours are compared as
-- doubles too, and integers beyond 64 bits we give as their digits.
local cjson = require("cjson").new()
cjson.decode_invalid_numbers(false)

local function agree(ours, theirs)
  local t = type(ours)
  if t == "number" and type(theirs) == "number" then
    return (math.type(ours) == "integer" and ours + 0.0 or ours) == theirs or (ours ~= ours and theirs ~= theirs)
  end
  if t == "string" and type(theirs) == "number" then return tonumber(ours) == theirs end
  if t ~= "table" or type(theirs) ~= "table" then return ours == theirs end
  for k, v in pairs(ours) do
    if not agree(v, rawget(theirs, k)) then return false end
  end
  for k in pairs(theirs) do
    if rawget(ours, k) == nil then return false end
  end
  return true
end

function fz.json_differential(text, v)
  local ok, theirs = pcall(cjson.decode, text)
  fz.count(ok and "decode: both" or "decode: ours only")
  assert(not ok or agree(v, theirs), "json_decode and cjson read different values: " .. show(v))
end

-- marshal_json (the one pass) against validate + encode_json (the
-- reference): the same bytes, the same problems, or the same error. m, v,
-- e are packed results ({ ok = pcall's status, n = count, ... }).
function fz.same_writers(name, m, v, e)
  assert(v.ok, "validate raised: " .. tostring(v[1]))
  fz.count(v.n ~= 0 and "writers: invalid" or e.ok and "writers: encoded" or "writers: raised")
  if v.n ~= 0 then -- invalid, or empty: marshal_json answers nil and the same
    assert(m.ok, "marshal_json raised on an invalid update: " .. tostring(m[1]))
    assert(m[1] == nil, "marshal_json encoded an update validate refuses: " .. tostring(m[1]))
    assert(same(m[2], v[1]) and m[3] == v[2], "marshal_json's problems differ from validate's: "
      .. show(m[2]) .. " / " .. show(v[1]))
    return
  end
  if not e.ok then
    assert(not m.ok and m[1] == e[1], "encode_json raised '" .. tostring(e[1])
      .. "', marshal_json answered " .. tostring(m[1]))
    return
  end
  assert(m.ok, "marshal_json raised where encode_json did not: " .. tostring(m[1]))
  assert(m[1] == e[1], "marshal_json and encode_json wrote different bytes:\n" .. tostring(m[1])
    .. "\n" .. tostring(e[1]))
  assert(utf8.len(e[1]), "the body is not UTF-8: " .. e[1])
  local body, err = core.json_decode(e[1])
  assert(type(body) == "table", "the body is not a JSON object: " .. tostring(err))
  local declared = fz.field[name]
  for k in pairs(body) do assert(declared[k], "the body has an undeclared key " .. tostring(k)) end
end

-- --- forms --------------------------------------------------------------

-- What a form writes for a scalar value (nil for a table: none): a
-- double in the fewest of 15, 16 or 17 digits that read back the same.
local function text_of(v)
  if v == core.null then return "" end
  local t = type(v)
  if t == "boolean" then return v and "1" or "0" end
  if t == "string" then return v end
  if t == "number" then
    local i = math.tointeger(v)
    if i then return string.format("%d", i) end
    for digits = 15, 17 do
      local text = string.format("%." .. digits .. "g", v)
      if tonumber(text) == v or digits == 17 then return text end
    end
  end
  return nil
end

local EMPTY_LIST = "is an empty list, which a form cannot express: use the json encoding"
local EMPTY_OBJECT = "is an empty object, which a form cannot express: use the json encoding"
local TABLE_IN_LIST = "is a list or an object inside a list, which a form cannot express: use the json encoding"
local OBJECT_IN_OBJECT = "is an object inside an object, which this form style cannot express: "
  .. "use style deepObject or the json encoding"

-- The rules a table under f is written by: f, or the one alternative of
-- a typeless f that holds tables.
local function table_rule(f)
  if not f or f.type then return f end
  local found
  for _, list in ipairs { f.any_of or {}, f.one_of or {} } do
    for _, a in ipairs(list) do
      if a.type == nil or a.type == "object" or a.type == "array" then
        if found then return f end
        found = a
      end
    end
  end
  return found and found.type and found or f
end

-- A table written as an array: its type says, or its keys are exactly
-- 1..n (an empty one when it carries array_mt).
local function as_array(f, v)
  f = table_rule(f)
  if f and f.type == "array" then return true end
  if f and f.type == "object" then return false end
  local n = 0
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 then return false end
    n = n + 1
  end
  if n == 0 then return getmetatable(v) == core.array_mt end
  for i = 1, n do if rawget(v, i) == nil then return false end end
  return true
end

-- The keys of a free-form object in the order the encoders write them
-- (their text's bytes).
local function sorted_keys(v)
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = { k = k, text = type(k) == "number" and tostring(k) or k } end
  table.sort(keys, function(a, b) return a.text < b.text end)
  return keys
end

-- The keys of an object under f in the order the encoders write them:
-- its declared properties, then the others sorted.
local function ordered_keys(f, v)
  f = table_rule(f)
  local keys, declared = {}, {}
  for _, p in ipairs(f and f.properties or {}) do
    declared[p[1]] = p
    if rawget(v, p[1]) ~= nil then keys[#keys + 1] = { k = p[1], text = p[1], rule = p } end
  end
  for _, key in ipairs(sorted_keys(v)) do
    if not declared[key.k] then
      local a = f and f.additional_properties
      keys[#keys + 1] = { k = key.k, text = key.text, rule = type(a) == "table" and a or nil }
    end
  end
  return keys
end

-- deepObject's pairs for v (named name, its problems' key path) appended
-- to out; or the refusal that stops it.
local function deep(out, name, path, v, f)
  if type(v) ~= "table" then out[#out + 1] = { name, text_of(v) } return end
  if as_array(f, v) then
    if #v == 0 then return { path, EMPTY_LIST } end
    for i = 1, #v do
      if type(v[i]) == "table" then return { path, "item " .. i .. " " .. TABLE_IN_LIST } end
      out[#out + 1] = { name .. "[]", text_of(v[i]) }
    end
    return
  end
  local keys = ordered_keys(f, v)
  if #keys == 0 then return { path, EMPTY_OBJECT } end
  for _, key in ipairs(keys) do
    local stop = deep(out, name .. "[" .. key.text .. "]", path .. "." .. key.text, v[key.k], key.rule)
    if stop then return stop end
  end
end

-- What a form of fields must hold, in order: { name, text } pairs, or
-- multipart's parts ({ name, text } or { name, json = value } or
-- { name, file = value, rule = f }); and what must stop it first: a
-- refusal { key, message } (a value a form cannot spell) or a raise.
local function expected(name, fields, multipart)
  local out = {}
  for _, f in ipairs(fz.decls[name].fields) do
    local v = rawget(fields, f[1])
    if v == nil then -- absent
    elseif f.type == "file" and v ~= core.null then
      if not multipart then return out, { raise = f[1] .. ": a file cannot be sent in a form (the multipart encoding can)" } end
      out[#out + 1] = { f[1], file = v, rule = f }
    elseif f.style == "deepObject" and not multipart then
      fz.count("form: deepObject " .. type(v))
      local stop = deep(out, f[1], f[1], v, f)
      if stop then return out, stop end
    elseif type(v) ~= "table" then
      out[#out + 1] = { f[1], text_of(v) }
    elseif as_array(f, v) then
      if #v == 0 then return out, { f[1], EMPTY_LIST } end
      for i = 1, #v do
        if type(v[i]) ~= "table" then out[#out + 1] = { f[1], text_of(v[i]) }
        elseif multipart then out[#out + 1] = { f[1], json = v[i], schema = f.items }
        else return out, { f[1], "item " .. i .. " " .. TABLE_IN_LIST } end
      end
    elseif multipart then
      out[#out + 1] = { f[1], json = v }
    else -- style form, explode: each key a pair of its own
      local keys = sorted_keys(v)
      if #keys == 0 then return out, { f[1], EMPTY_OBJECT } end
      for _, key in ipairs(keys) do
        local x, path = v[key.k], f[1] .. "." .. key.text
        if type(x) ~= "table" then out[#out + 1] = { key.text, text_of(x) }
        elseif not as_array(nil, x) then return out, { path, OBJECT_IN_OBJECT }
        elseif #x == 0 then return out, { path, EMPTY_LIST }
        else
          for i = 1, #x do
            if type(x[i]) == "table" then return out, { path, "item " .. i .. " " .. TABLE_IN_LIST } end
            out[#out + 1] = { key.text, text_of(x[i]) }
          end
        end
      end
    end
  end
  return out
end

-- brackets: a deepObject's name, whose [ and ] are the structure's.
local function unescape(s, brackets)
  assert(not s:find(brackets and "[^%w%-%._~%%+%[%]]" or "[^%w%-%._~%%+]"), "a form byte left unescaped in " .. s)
  assert(not s:gsub("%%[0-9A-F][0-9A-F]", ""):find("%", 1, true), "a bad %XX in " .. s)
  return (s:gsub("+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- The answer is the refusal or the raise the update must meet, if any.
local function stopped(r, stop, what)
  if not stop then
    assert(r.ok, what .. " raised on a valid update: " .. tostring(r[1]))
    assert(r[1] ~= nil, what .. " refused a valid update: " .. show(r[2]))
    return false
  end
  if stop.raise then
    assert(not r.ok and tostring(r[1]):find(stop.raise, 1, true), what .. " answered "
      .. tostring(r[1]) .. " where it should raise " .. stop.raise)
    return true
  end
  assert(r.ok and r[1] == nil, what .. " encoded what it should refuse: " .. show(stop))
  assert(same(r[2], { [stop[1]] = { stop[2] } }), what .. " refused it for the wrong reason: "
    .. show(r[2]) .. ", not " .. show(stop))
  return true
end

-- encode_form's body for fields validate accepted: only unreserved bytes,
-- %XX, '+', '=' and '&', and it decodes to the fields' pairs.
function fz.check_form(name, fields, r)
  local list, stop = expected(name, fields, false)
  fz.count("form: " .. name .. (r.ok and (r[1] and " body" or " problems") or " raised"))
  if stopped(r, stop, "encode_form") then return end
  local body, i = r[1], 0
  if body == "" then assert(#list == 0, "an empty form for " .. #list .. " values") return end
  for pair in (body .. "&"):gmatch("([^&]*)&") do
    i = i + 1
    local k, v = pair:match("^([^=]*)=(.*)$")
    assert(k, "a pair without '=': " .. pair)
    local p = list[i]
    assert(p, "more pairs than values in " .. body)
    assert(unescape(k, true) == p[1], "pair " .. i .. " names " .. unescape(k, true) .. ", not " .. p[1])
    assert(unescape(v) == p[2], "pair " .. i .. " holds " .. unescape(v))
  end
  assert(i == #list, i .. " pairs for " .. #list .. " values")
end

-- A file part's bytes and headers: within its field's rules, nothing
-- injected.
local function check_file_part(i, p, fname, ftype, content, files)
  local rule = p.rule
  fz.count("multipart: file part " .. (getmetatable(p.file) and "with __index" or "raw"))
  assert(fname, "file part " .. i .. " has no file name")
  local raw = function(k) local x = rawget(p.file, k) return type(x) == "string" and x or nil end
  local size, sniffed
  if raw("data") then
    assert(content == raw("data"), "file part " .. i .. " is not the blob's bytes")
    size, sniffed = core.file_info({ data = content })
  else
    local k = tonumber(content:match("^\0FILE(%d+)\0$"))
    assert(k and files[k].path == raw("path"), "file part " .. i .. " is not its file's segment")
    size, sniffed = core.file_info({ path = files[k].path })
    assert(size == files[k].size, "the segment's size is not the file's")
  end
  assert(fname == (raw("filename") or "upload"), "file part " .. i .. " has the name " .. fname)
  assert(ftype == (raw("content_type") or sniffed or "application/octet-stream"), "type " .. ftype)
  assert(not rule.max_bytes or size <= rule.max_bytes, "a file of " .. size .. " bytes sent")
  if rule.content_type == "image/*" then
    assert(sniffed and ftype:find("^image/"), "a file that is no image sent")
  end
end

-- encode_multipart's segments for fields validate accepted: parts in order,
-- each with exactly the headers it should have (nothing injected), a
-- file's bytes within its field's rules, a table's JSON, the length their
-- sum.
function fz.check_multipart(name, fields, r)
  local list, stop = expected(name, fields, true)
  fz.count("multipart: " .. name .. (r.ok and (r[1] and " segments" or " problems") or " raised"))
  if stopped(r, stop, "encode_multipart") then return end
  local segments, length, ctype = r[1], r[2], r[3]
  local boundary = ctype:match("^multipart/form%-data; boundary=(lua%-users%-%x+)$")
  assert(boundary and #boundary == 42, "content type " .. ctype)
  local parts, total, files = {}, 0, {}
  for i, s in ipairs(segments) do
    if type(s) == "string" then
      parts[#parts + 1] = s
      total = total + #s
    else
      assert(type(s.path) == "string" and s.size >= 0, "segment " .. i)
      files[#files + 1] = s
      parts[#parts + 1] = "\0FILE" .. #files .. "\0"
      total = total + s.size
    end
  end
  assert(total == length, "length " .. length .. " for segments of " .. total .. " bytes")
  local body, pos = table.concat(parts), 1
  local dash = "--" .. boundary
  for i, p in ipairs(list) do
    assert(body:sub(pos, pos + #dash + 1) == dash .. "\r\n", "part " .. i .. " does not start")
    pos = pos + #dash + 2
    local head_end = assert(body:find("\r\n\r\n", pos, true), "part " .. i .. " has no end of headers")
    local head, stop_at = body:sub(pos, head_end - 1), body:find("\r\n" .. dash, head_end + 4, true)
    local content = body:sub(head_end + 4, assert(stop_at, "part " .. i .. " does not end") - 1)
    pos = stop_at + 2
    local n, fname, ftype = head:match('^Content%-Disposition: form%-data; name="([^"\r\n]*)"'
      .. '; filename="([^"\r\n]*)"\r\nContent%-Type: ([^\r\n]*)$')
    local json = false
    if not n then
      n, json = head:match('^Content%-Disposition: form%-data; name="([^"\r\n]*)"()\r\nContent%-Type: application/json$')
    end
    if not n then n = head:match('^Content%-Disposition: form%-data; name="([^"\r\n]*)"$') end
    assert(n == p[1], "part " .. i .. " has the headers " .. ("%q"):format(head))
    if p.file then
      check_file_part(i, p, fname, ftype, content, files)
    elseif p.json ~= nil then
      assert(json and not fname, "part " .. i .. " is no JSON part: " .. ("%q"):format(head))
      -- an empty table is "[]" where its schema says array (an item of an array of arrays)
      local want = next(p.json) == nil and as_array(p.schema, p.json) and "[]" or core.json_encode(p.json)
      assert(content == want, "JSON part " .. i .. " holds " .. ("%q"):format(content))
    else
      assert(not fname and not json, "part " .. i .. " is a file or JSON part")
      assert(content == p[2], "part " .. i .. " holds " .. ("%q"):format(content))
    end
  end
  assert(body:sub(pos) == dash .. "--\r\n", "the body does not end with its boundary")
end

-- --- response headers ---------------------------------------------------

-- headers.h's rules, written again another way: the reference the C
-- parser is compared with.
function fz.headers_reference(text)
  local t = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    local colon = line:find(":", 1, true)
    if colon and line:sub(1, 5) ~= "HTTP/" and colon > 1 and colon <= 128 then
      local name = line:sub(1, colon - 1):gsub("%u", string.lower)
      local value = line:sub(colon + 1):match("^[ \t]*(.-)[\r \t]*$")
      t[name] = t[name] and (t[name] .. ", " .. value) or value
    end
  end
  return t
end

-- yaml_decode's answer for any bytes (fuzz/yaml.c). Values are trees
-- unless the text has an alias (a '*'): then tables may be shared.
local function yaml_shape(v, order, seen)
  if type(v) ~= "table" then return end
  if seen[v] then return end
  seen[v] = true
  if getmetatable(v) == core.array_mt then
    local n = 0
    for k in pairs(v) do
      assert(math.type(k) == "integer" and k >= 1, "a sequence with a key that is no index")
      n = n + 1
    end
    assert(n == #v, "a sequence with holes")
    assert(order[v] == nil, "a sequence with a key list")
  else
    assert(getmetatable(v) == nil, "a mapping with a metatable")
    local keys, n = assert(order[v], "a mapping without its key list"), 0
    local listed = {}
    for _, k in ipairs(keys) do
      assert(type(k) == "string", "a key that is not a string")
      assert(not listed[k], "a key listed twice")
      assert(rawget(v, k) ~= nil, "a listed key without its value")
      listed[k], n = true, n + 1
    end
    for k in pairs(v) do assert(listed[k], "a key not listed") end
  end
  for _, x in pairs(v) do yaml_shape(x, order, seen) end
end

-- json_decode's ordered mode on text its plain mode read as v: the same
-- value, every object with the list of its keys, each once.
function fz.json_ordered(text, v)
  local ok, w, order = pcall(core.json_decode, text, true)
  assert(ok, "json_decode(text, true) raised: " .. tostring(w))
  assert(same(v, w), "ordered and plain reads differ")
  assert(type(order) == "table", "no order from an ordered read")
  yaml_shape(w, order, {})
  fz.count("decode: ordered")
end

-- libyaml's own limits on what it reads back: C1 controls and BOMs
-- written raw, simple keys longer than 1024 characters.
local YAML_REFUSALS = { "control characters are not allowed", "could not find expected ':'",
                        "nested too deeply", "larger than" }
function fz.yaml_check(text)
  local ok, v, order = pcall(core.yaml_decode, text, true)
  assert(ok, "yaml_decode raised: " .. tostring(v))
  if v == nil then
    assert(type(order) == "string" and (order:find("^invalid YAML") or order:find("^YAML text")),
           "yaml_decode failed in no documented shape")
    fz.count("yaml: refused")
    return
  end
  local plain, err = core.yaml_decode(text)
  assert(err == nil and same(v, plain), "ordered and plain reads differ")
  yaml_shape(v, order, {})
  if text:find("*", 1, true) then fz.count("yaml: aliases"); return end
  local eok, json = pcall(core.json_encode, v)
  if not eok then
    for _, why in ipairs(REFUSALS) do
      if tostring(json):find(why) then fz.count("yaml: not JSON"); return end
    end
    error("json_encode refused a YAML value: " .. tostring(json))
  end
  -- YAML 1.1 reads NEL, LS and PS as line breaks, even inside quotes: JSON
  -- text holding them raw means something else to libyaml.
  if json:find("\194\133") or json:find("\226\128[\168\169]") then
    fz.count("yaml: line breaks of YAML 1.1")
    return
  end
  local w, werr = core.yaml_decode(json)
  if w == nil then
    for _, why in ipairs(YAML_REFUSALS) do
      if werr:find(why, 1, true) then fz.count("yaml: libyaml limit"); return end
    end
    error("yaml_decode refused JSON text: " .. werr .. " in " .. json)
  end
  assert(same(v, w), "a round trip through JSON changed the value: " .. json)
  fz.count("yaml: round trip")
end

-- FUZZ_STATS=1: each oracle's outcome on stderr ("fz: what"), to see what
-- a corpus exercises: build/fuzz/TARGET -runs=0 CORPUS 2>&1 | grep '^fz:' | sort | uniq -c
if os.getenv("FUZZ_STATS") then
  function fz.count(what) io.stderr:write("fz: ", what, "\n") end
else
  function fz.count() end
end

-- The schema harness (fuzz/schema.c): its generator and oracles.
fz.schema_case = require("schema_fuzz")(core, fz)

return fz
