-- multipart/form-data parser (RFC 7578) for bodies held in memory. Parts keep
-- their raw bytes, so binary uploads can be checked byte for byte.
local M = {}

--- The boundary parameter of a Content-Type value, or nil.
function M.boundary(content_type)
  if not content_type then return nil end
  local ct = content_type:lower()
  if not ct:find("^%s*multipart/form%-data%s*;") then return nil end
  local at = ct:find("boundary=", 1, true)
  if not at then return nil end
  local raw = content_type:sub(at + #"boundary=")
  return raw:match('^"([^"]+)"') or raw:match("^([^;%s]+)")
end

-- Parameters of a Content-Disposition value: form-data; name="a"; filename="b".
-- Quoted strings may hold ';' and backslash-escaped quotes (curl writes \").
local function disposition(value)
  local params, i = {}, (value:find(";", 1, true) or #value) + 1
  while i <= #value do
    local key, eq = value:match("^%s*([%w%*%-_]+)%s*=()", i)
    if not key then break end
    local v
    if value:sub(eq, eq) == '"' then
      local buf, j = {}, eq + 1
      while j <= #value do
        local c = value:sub(j, j)
        if c == "\\" then
          buf[#buf + 1], j = value:sub(j + 1, j + 1), j + 2
        elseif c == '"' then
          break
        else
          buf[#buf + 1], j = c, j + 1
        end
      end
      v, i = table.concat(buf), j + 1
    else
      v = value:match("^[^;]*", eq)
      i = eq + #v
      v = v:match("^%s*(.-)%s*$")
    end
    params[key:lower()] = v
    i = (value:find(";", i, true) or #value) + 1
  end
  return params
end

--- Parse a body. Returns an array of parts
--  { name =, filename = (nil when absent), content_type = (nil when absent),
--    headers = { lower-case-name = value }, value = raw bytes },
--  or nil and a reason.
function M.parse(body, boundary)
  local delim = "--" .. boundary
  local s, e = body:find(delim, 1, true)
  if not s or (s > 1 and body:sub(s - 2, s - 1) ~= "\r\n") then
    return nil, "no opening boundary"
  end
  local parts, pos = {}, e + 1
  while true do
    if body:sub(pos, pos + 1) == "--" then return parts end
    local eol = body:find("\r\n", pos, true)
    if not eol or body:sub(pos, eol - 1):find("[^ \t]") then
      return nil, "bad boundary line"
    end
    pos = eol + 2
    local part = { headers = {} }
    -- Header lines up to an empty line.
    while body:sub(pos, pos + 1) ~= "\r\n" do
      local line_end = body:find("\r\n", pos, true)
      if not line_end then return nil, "truncated part headers" end
      local name, value = body:sub(pos, line_end - 1):match("^([^:]+):%s*(.-)%s*$")
      if not name then return nil, "bad part header" end
      part.headers[name:lower()] = value
      pos = line_end + 2
    end
    pos = pos + 2
    local next_delim = body:find("\r\n" .. delim, pos, true)
    if not next_delim then return nil, "no closing boundary" end
    part.value = body:sub(pos, next_delim - 1)
    pos = next_delim + 2 + #delim

    local cd = part.headers["content-disposition"]
    if not cd or not cd:lower():find("^%s*form%-data") then
      return nil, "part without Content-Disposition: form-data"
    end
    local params = disposition(cd)
    if not params.name then return nil, "part without a name" end
    part.name, part.filename = params.name, params.filename
    part.content_type = part.headers["content-type"]
    parts[#parts + 1] = part
  end
end

return M
