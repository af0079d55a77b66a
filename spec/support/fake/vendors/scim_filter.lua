-- SCIM filters (RFC 7644 section 3.4.2.2) for the fake SCIM servers: the
-- `?filter=` of GET /Users and the `[...]` of a PATCH value path.
--   attrPath pr | attrPath op value, joined by and / or, grouped by ( ),
--   negated by not ( ); op: eq ne co sw ew gt lt ge le; value: "string",
--   true, false, null or a number. Strings compare case-insensitively
--   (every attribute the fakes hold has caseExact false but id).
-- `ops` limits the operators a dialect takes (AWS: eq only).
local json = require "json"

local M = {}

local OPS = { eq = true, ne = true, co = true, sw = true, ew = true, gt = true, lt = true, ge = true, le = true }

local function tokens(s)
  local out, i = {}, 1
  while i <= #s do
    local c = s:sub(i, i)
    if c:match("%s") then
      i = i + 1
    elseif c == "(" or c == ")" then
      out[#out + 1] = { kind = c }; i = i + 1
    elseif c == '"' then
      local j, buf = i + 1, {}
      while true do
        local d = s:sub(j, j)
        if d == "" then return nil, "unterminated string" end
        if d == '"' then break end
        if d == "\\" then j = j + 1; d = s:sub(j, j) end
        buf[#buf + 1] = d
        j = j + 1
      end
      out[#out + 1] = { kind = "value", value = table.concat(buf) }
      i = j + 1
    else
      local word = s:match("^[^%s()\"]+", i)
      out[#out + 1] = { kind = "word", text = word }
      i = i + #word
    end
  end
  return out
end

local function literal(t)
  if not t then return nil, false end
  if t.kind == "value" then return t.value, true end
  if t.kind ~= "word" then return nil, false end
  local w = t.text:lower()
  if w == "true" then return true, true end
  if w == "false" then return false, true end
  if w == "null" then return json.null, true end
  local n = tonumber(t.text)
  if n then return n, true end
  return nil, false
end

--- Parses a filter into a tree, or nil and why (an invalidFilter).
function M.parse(s, ops)
  local toks, err = tokens(s)
  if not toks then return nil, err end
  local pos = 1
  local function peek_word(w)
    local t = toks[pos]
    return t and t.kind == "word" and t.text:lower() == w
  end
  local expr
  local function unary()
    if peek_word("not") then
      pos = pos + 1
      if not (toks[pos] and toks[pos].kind == "(") then error("not without (", 0) end
      pos = pos + 1
      local e = expr()
      if not (toks[pos] and toks[pos].kind == ")") then error("missing )", 0) end
      pos = pos + 1
      return { "not", e }
    end
    local t = toks[pos]
    if t and t.kind == "(" then
      pos = pos + 1
      local e = expr()
      if not (toks[pos] and toks[pos].kind == ")") then error("missing )", 0) end
      pos = pos + 1
      return e
    end
    if not (t and t.kind == "word") then error("an attribute path expected", 0) end
    local op = toks[pos + 1] and toks[pos + 1].kind == "word" and toks[pos + 1].text:lower()
    if op == "pr" then pos = pos + 2; return { "pr", t.text } end
    if not OPS[op] then error("an operator expected after " .. t.text, 0) end
    if ops and not ops[op] then error("the operator " .. op .. " is not supported", 0) end
    local v, ok = literal(toks[pos + 2])
    if not ok then error("a value expected after " .. op, 0) end
    pos = pos + 3
    return { op, t.text, v }
  end
  local function conj()
    local e = unary()
    while peek_word("and") do pos = pos + 1; e = { "and", e, unary() } end
    return e
  end
  function expr()
    local e = conj()
    while peek_word("or") do
      if ops and not ops["or"] then error("or is not supported", 0) end
      pos = pos + 1; e = { "or", e, conj() }
    end
    return e
  end
  local ok, tree = pcall(expr)
  if not ok then return nil, tree end
  if pos <= #toks then return nil, "unexpected " .. (toks[pos].text or toks[pos].kind) end
  return tree
end

-- The values at a dotted path of a resource or element (case-insensitive
-- names; multi-valued attributes give every element's value).
local function values(obj, path)
  local list = { obj }
  for name in path:gmatch("[^.]+") do
    local nxt = {}
    for _, o in ipairs(list) do
      if json.is_object(o) then
        for k, v in pairs(o) do
          if k:lower() == name:lower() then
            if json.is_array(v) then
              for _, e in ipairs(v) do nxt[#nxt + 1] = e end
            else
              nxt[#nxt + 1] = v
            end
          end
        end
      end
    end
    list = nxt
  end
  return list
end

local function compare(op, a, b)
  if type(a) == "string" and type(b) == "string" then a, b = a:lower(), b:lower() end
  if op == "eq" then return a == b end
  if op == "ne" then return a ~= b end
  if type(a) ~= type(b) or (type(a) ~= "string" and type(a) ~= "number") then return false end
  if op == "co" then return type(a) == "string" and a:find(b, 1, true) ~= nil end
  if op == "sw" then return type(a) == "string" and a:sub(1, #b) == b end
  if op == "ew" then return type(a) == "string" and (b == "" or a:sub(-#b) == b) end
  if op == "gt" then return a > b end
  if op == "lt" then return a < b end
  if op == "ge" then return a >= b end
  return a <= b
end

--- Whether `obj` matches the tree.
function M.match(tree, obj)
  local k = tree[1]
  if k == "and" then return M.match(tree[2], obj) and M.match(tree[3], obj) end
  if k == "or" then return M.match(tree[2], obj) or M.match(tree[3], obj) end
  if k == "not" then return not M.match(tree[2], obj) end
  local found = values(obj, tree[2])
  if k == "pr" then
    for _, v in ipairs(found) do if v ~= json.null then return true end end
    return false
  end
  if k == "ne" and #found == 0 then return tree[3] ~= json.null end
  for _, v in ipairs(found) do
    if compare(k, v, tree[3]) then return true end
  end
  return false
end

return M
