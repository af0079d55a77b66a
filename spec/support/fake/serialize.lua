-- Lua-literal serializer shared by the fake server (LuaJIT, inside nginx) and
-- its controller (any Lua 5.1-5.4). Used for recorded requests and control
-- messages: unlike JSON it carries any byte string unchanged and needs no C
-- module on the controller side.
local M = {}

local function quote(s)
  -- Printable ASCII stays as is; every other byte becomes a 3-digit \ddd escape,
  -- which every Lua version reads back the same way.
  return '"' .. s:gsub('[^ !#-%[%]-~]', function(c)
    return string.format("\\%03d", c:byte())
  end) .. '"'
end

local function number(n)
  if n ~= n or n == math.huge or n == -math.huge then
    error("cannot serialize " .. tostring(n), 0)
  end
  if n == math.floor(n) and n > -2^53 and n < 2^53 then
    return string.format("%d", n)
  end
  return string.format("%.17g", n)
end

local function encode(v, seen)
  local t = type(v)
  if t == "string" then return quote(v) end
  if t == "number" then return number(v) end
  if t == "boolean" then return tostring(v) end
  if t ~= "table" then error("cannot serialize a " .. t, 0) end
  if seen[v] then error("cannot serialize a cycle", 0) end
  seen[v] = true
  local out = {}
  for k, x in pairs(v) do
    local kt = type(k)
    if kt ~= "string" and kt ~= "number" then
      error("cannot serialize a " .. kt .. " key", 0)
    end
    out[#out + 1] = "[" .. encode(k, seen) .. "]=" .. encode(x, seen)
  end
  seen[v] = nil
  table.sort(out) -- stable output makes files and diffs readable
  return "{" .. table.concat(out, ",") .. "}"
end

--- Serialize strings, numbers, booleans and tables of them.
function M.encode(v)
  return encode(v, {})
end

--- Read back what encode wrote, in an empty environment.
function M.decode(s)
  local chunk, err
  if setfenv then
    chunk, err = loadstring("return " .. s, "=serialized")
    if chunk then setfenv(chunk, {}) end
  else
    chunk, err = load("return " .. s, "=serialized", "t", {})
  end
  if not chunk then return nil, err end
  local ok, v = pcall(chunk)
  if not ok then return nil, v end
  return v
end

return M
