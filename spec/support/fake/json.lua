-- Small JSON codec for the fake vendors. Debian's lua-cjson decodes [] and {}
-- to the same empty table and encodes an empty table as {}; the fakes must
-- tell them apart (lexful scopes are arrays), so decoded arrays carry the
-- ARRAY metatable, json.array() marks arrays to encode, and JSON null is the
-- json.null sentinel.
local M = {}

local ARRAY = {}
M.null = setmetatable({}, { __tostring = function() return "null" end })

function M.array(t) return setmetatable(t or {}, ARRAY) end
function M.is_array(v) return type(v) == "table" and getmetatable(v) == ARRAY end
function M.is_object(v)
  return type(v) == "table" and v ~= M.null and getmetatable(v) ~= ARRAY
end

---------------------------------------------------------------- decode

local escapes = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b",
                  f = "\f", n = "\n", r = "\r", t = "\t" }

local function fail(pos, msg)
  error({ json = msg .. " at position " .. (pos - 1) }, 0)
end

local function utf8_char(cp)
  if cp < 0x80 then return string.char(cp) end
  if cp < 0x800 then
    return string.char(0xC0 + math.floor(cp / 0x40), 0x80 + cp % 0x40)
  end
  if cp < 0x10000 then
    return string.char(0xE0 + math.floor(cp / 0x1000),
      0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
  end
  return string.char(0xF0 + math.floor(cp / 0x40000),
    0x80 + math.floor(cp / 0x1000) % 0x40,
    0x80 + math.floor(cp / 0x40) % 0x40, 0x80 + cp % 0x40)
end

local function skip(s, i)
  return s:find("[^ \t\r\n]", i) or #s + 1
end

local value

local function str(s, i)
  local out, j = {}, i + 1
  while true do
    local k = s:find('[%z\1-\31"\\]', j)
    if not k then fail(i, "unterminated string") end
    out[#out + 1] = s:sub(j, k - 1)
    local c = s:sub(k, k)
    if c == '"' then return table.concat(out), k + 1 end
    if c ~= "\\" then fail(k, "control character in string") end
    local e = s:sub(k + 1, k + 1)
    if e == "u" then
      local hex = s:match("^%x%x%x%x", k + 2)
      if not hex then fail(k, "bad \\u escape") end
      local cp, nxt = tonumber(hex, 16), k + 6
      if cp >= 0xD800 and cp < 0xDC00 then -- surrogate pair
        local lo = s:match("^\\u([dD][c-fC-F]%x%x)", nxt)
        if not lo then fail(k, "lone surrogate") end
        cp = 0x10000 + (cp - 0xD800) * 0x400 + (tonumber(lo, 16) - 0xDC00)
        nxt = nxt + 6
      end
      out[#out + 1], j = utf8_char(cp), nxt
    elseif escapes[e] then
      out[#out + 1], j = escapes[e], k + 2
    else
      fail(k, "bad escape")
    end
  end
end

local function num(s, i)
  local j = i
  if s:sub(j, j) == "-" then j = j + 1 end
  if s:sub(j, j) == "0" then
    j = j + 1
  else
    local _, b = s:find("^[1-9]%d*", j)
    if not b then fail(i, "unexpected character") end
    j = b + 1
  end
  local _, b = s:find("^%.%d+", j)
  if b then j = b + 1 end
  _, b = s:find("^[eE][-+]?%d+", j)
  if b then j = b + 1 end
  return tonumber(s:sub(i, j - 1)), j
end

local literals = { t = { "true", true }, f = { "false", false }, n = { "null", M.null } }

function value(s, i, depth)
  if depth > 64 then fail(i, "too deep") end
  i = skip(s, i)
  local c = s:sub(i, i)
  if c == "{" then
    local obj = {}
    i = skip(s, i + 1)
    if s:sub(i, i) == "}" then return obj, i + 1 end
    while true do
      if s:sub(i, i) ~= '"' then fail(i, "expected a key") end
      local k
      k, i = str(s, i)
      i = skip(s, i)
      if s:sub(i, i) ~= ":" then fail(i, "expected ':'") end
      obj[k], i = value(s, i + 1, depth + 1)
      i = skip(s, i)
      c = s:sub(i, i)
      if c == "}" then return obj, i + 1 end
      if c ~= "," then fail(i, "expected ',' or '}'") end
      i = skip(s, i + 1)
    end
  elseif c == "[" then
    local arr = M.array()
    i = skip(s, i + 1)
    if s:sub(i, i) == "]" then return arr, i + 1 end
    while true do
      arr[#arr + 1], i = value(s, i, depth + 1)
      i = skip(s, i)
      c = s:sub(i, i)
      if c == "]" then return arr, i + 1 end
      if c ~= "," then fail(i, "expected ',' or ']'") end
      i = i + 1
    end
  elseif c == '"' then
    return str(s, i)
  elseif literals[c] then
    local word, v = literals[c][1], literals[c][2]
    if s:sub(i, i + #word - 1) ~= word then fail(i, "unexpected character") end
    return v, i + #word
  elseif c == "" then
    fail(i, "unexpected end of input")
  end
  return num(s, i)
end

--- Decode a JSON text. Returns the value, or nil and a message.
function M.decode(s)
  local ok, v, i = pcall(value, s, 1, 0)
  if not ok then
    if type(v) == "table" then return nil, v.json end
    error(v, 0)
  end
  i = skip(s, i)
  if i <= #s then return nil, "trailing data at position " .. (i - 1) end
  return v
end

---------------------------------------------------------------- encode

local function quote(s)
  return '"' .. s:gsub('[%z\1-\31"\\]', function(c)
    local e = ({ ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n",
                 ["\r"] = "\\r", ["\t"] = "\\t" })[c]
    return e or string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function encode(v, out)
  local t = type(v)
  if v == M.null or v == nil then
    out[#out + 1] = "null"
  elseif t == "boolean" then
    out[#out + 1] = tostring(v)
  elseif t == "number" then
    if v == math.floor(v) and v > -2^53 and v < 2^53 then
      out[#out + 1] = string.format("%d", v)
    else
      out[#out + 1] = string.format("%.17g", v)
    end
  elseif t == "string" then
    out[#out + 1] = quote(v)
  elseif M.is_array(v) or v[1] ~= nil then
    out[#out + 1] = "["
    for i = 1, #v do
      if i > 1 then out[#out + 1] = "," end
      encode(v[i], out)
    end
    out[#out + 1] = "]"
  else
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    out[#out + 1] = "{"
    for i, k in ipairs(keys) do
      if i > 1 then out[#out + 1] = "," end
      out[#out + 1] = quote(k) .. ":"
      encode(v[k], out)
    end
    out[#out + 1] = "}"
  end
end

--- Encode a value; tables with a [1] or made by json.array() are arrays.
function M.encode(v)
  local out = {}
  encode(v, out)
  return table.concat(out)
end

return M
