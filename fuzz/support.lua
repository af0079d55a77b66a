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

-- What a form writes for a scalar value (nil for a table: none).
local function text_of(v)
  if v == core.null then return "" end
  local t = type(v)
  if t == "boolean" then return v and "1" or "0" end
  if t == "string" then return v end
  if t == "number" then
    local i = math.tointeger(v)
    return i and string.format("%d", i) or tostring(v)
  end
  return nil
end

-- The (field, value) pairs a form of fields holds, in declaration order,
-- arrays expanded; and the first field holding an empty array.
local function pairs_of(name, fields)
  local out, empty = {}, nil
  for _, f in ipairs(fz.decls[name].fields) do
    local v = rawget(fields, f[1])
    if v ~= nil then
      if f.type == "array" and type(v) == "table" then
        if #v == 0 then empty = empty or f[1] end
        for i = 1, #v do out[#out + 1] = { f = f, v = v[i] } end
      else
        out[#out + 1] = { f = f, v = v }
      end
    end
  end
  return out, empty
end

local function unescape(s)
  assert(not s:find("[^%w%-%._~%%+]"), "a form byte left unescaped in " .. s)
  assert(not s:gsub("%%[0-9A-F][0-9A-F]", ""):find("%", 1, true), "a bad %XX in " .. s)
  return (s:gsub("+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- The refusals a valid update may still meet: an empty array (no form
-- spelling), a value that is no scalar where a scalar goes (files are
-- parts of their own in multipart).
local function allowed(r, list, empty, what, multipart)
  if r.ok and r[1] == nil then
    assert(empty, what .. " refused a valid update: " .. show(r[2]))
    assert(same(r[2], { [empty] = { "is an empty list, which a form cannot express: use the json encoding" } }),
      what .. " refused it for the wrong reason: " .. show(r[2]))
    return true
  end
  if not r.ok then
    local scalar = true
    for _, p in ipairs(list) do
      if not (multipart and p.f.type == "file") and text_of(p.v) == nil then scalar = false end
    end
    assert(not scalar and tostring(r[1]):find("^cannot encode a %a+ in a form$"),
      what .. " raised on a valid update: " .. tostring(r[1]))
    return true
  end
end

-- encode_form's body for fields validate accepted: only unreserved bytes,
-- %XX, '+', '=' and '&', and it decodes to the fields' pairs.
function fz.check_form(name, fields, r)
  local list, empty = pairs_of(name, fields)
  fz.count("form: " .. name .. (r.ok and (r[1] and " body" or " problems") or " raised"))
  if allowed(r, list, empty, "encode_form") then return end
  local body, i = r[1], 0
  if body == "" then assert(#list == 0, "an empty form for " .. #list .. " values") return end
  for pair in (body .. "&"):gmatch("([^&]*)&") do
    i = i + 1
    local k, v = pair:match("^([^=]*)=(.*)$")
    assert(k, "a pair without '=': " .. pair)
    local p = list[i]
    assert(p, "more pairs than values in " .. body)
    assert(unescape(k) == p.f[1], "pair " .. i .. " names " .. unescape(k) .. ", not " .. p.f[1])
    assert(unescape(v) == text_of(p.v), "pair " .. i .. " holds " .. unescape(v))
  end
  assert(i == #list, i .. " pairs for " .. #list .. " values")
end

-- encode_multipart's segments for fields validate accepted: parts in order,
-- each with exactly the headers it should have (nothing injected), a
-- file's bytes within its field's rules, the length their sum.
function fz.check_multipart(name, fields, r)
  local list, empty = pairs_of(name, fields)
  fz.count("multipart: " .. name .. (r.ok and (r[1] and " segments" or " problems") or " raised"))
  if allowed(r, list, empty, "encode_multipart", true) then return end
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
    local head, stop = body:sub(pos, head_end - 1), body:find("\r\n" .. dash, head_end + 4, true)
    local content = body:sub(head_end + 4, assert(stop, "part " .. i .. " does not end") - 1)
    pos = stop + 2
    local n, fname, ftype = head:match('^Content%-Disposition: form%-data; name="([^"\r\n]*)"'
      .. '; filename="([^"\r\n]*)"\r\nContent%-Type: ([^\r\n]*)$')
    if not n then n = head:match('^Content%-Disposition: form%-data; name="([^"\r\n]*)"$') end
    assert(n == p.f[1], "part " .. i .. " has the headers " .. ("%q"):format(head))
    local rule = p.f
    if rule.type == "file" and p.v ~= core.null then
      fz.count("multipart: file part " .. (getmetatable(p.v) and "with __index" or "raw"))
      assert(fname, "file part " .. i .. " has no file name")
      local raw = function(k) local x = rawget(p.v, k) return type(x) == "string" and x or nil end
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
    else
      assert(not fname, "part " .. i .. " is a file part")
      assert(content == text_of(p.v), "part " .. i .. " holds " .. ("%q"):format(content))
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

return fz
