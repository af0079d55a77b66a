--- `lua-users describe PROVIDER` and `lua-users providers`: a provider's
-- contract for people, from users.describe: its request, id, fields and
-- rules, and the environment variables it reads.
local secrets = require "users.secrets"

local _M = {}

local ipairs, pairs, tostring, type = ipairs, pairs, tostring, type
local concat, sort = table.concat, table.sort
local format = string.format

local FORMATS = { uuid = "a UUID", email = "an email address" }

local function quoted_list(values)
  local out = {}
  for i, v in ipairs(values) do out[i] = type(v) == "string" and v or tostring(v) end
  return concat(out, ", ")
end

-- What a value must be, in words: "string, an email address, at most 255 characters".
local function rule_text(r)
  local parts = {}
  if r.enum then
    if #r.enum > 12 then
      parts[#parts + 1] = format("one of %d values", #r.enum)
    else
      parts[#parts + 1] = "one of: " .. quoted_list(r.enum)
    end
  elseif r.any_of or r.one_of then
    local alts = {}
    for _, a in ipairs(r.any_of or r.one_of) do
      if a.enum then
        local q = {}
        for i, v in ipairs(a.enum) do q[i] = '"' .. tostring(v) .. '"' end
        alts[#alts + 1] = concat(q, " or ")
      else
        alts[#alts + 1] = FORMATS[a.format] or (a.pattern and ("text matching " .. a.pattern)) or a.type or "any"
      end
    end
    parts[#parts + 1] = concat(alts, " or ")
  else
    local items = r.items and rule_text(r.items)
    local simple = items == "integer" or items == "string" or items == "boolean"
    parts[#parts + 1] = r.type == "array" and (simple and ("array of " .. items .. "s")
        or items and ("array, each item " .. items) or "array")
      or r.type == "file" and "a file (a path)" or r.type or "any"
  end
  if r.format and not (r.any_of or r.one_of) then parts[#parts + 1] = FORMATS[r.format] or r.format end
  if r.format_hint then parts[#parts + 1] = "format " .. r.format_hint .. " (not checked)" end
  if r.pattern then parts[#parts + 1] = "matching " .. r.pattern end
  if r.min_length and r.max_length then
    parts[#parts + 1] = format("%d to %d characters", r.min_length, r.max_length)
  elseif r.max_length then
    parts[#parts + 1] = format("at most %d characters", r.max_length)
  elseif r.min_length then
    parts[#parts + 1] = format("at least %d characters", r.min_length)
  end
  if r.content_type then parts[#parts + 1] = r.content_type end
  if r.max_bytes and not r.description then
    parts[#parts + 1] = r.max_bytes % 1048576 == 0 and format("at most %d MB", r.max_bytes / 1048576)
      or format("at most %d bytes", r.max_bytes)
  end
  if r.same_as and not r.description then parts[#parts + 1] = "equal to " .. r.same_as end
  return concat(parts, ", ")
end

--- The id's format in words: "a UUID", "an integer", "21 letters and digits".
function _M.id_text(d)
  local out = {}
  local single = #d.params == 1
  for _, p in ipairs(d.params) do
    local what
    if p.format then what = FORMATS[p.format] or p.format
    elseif p.pattern then what = "text matching " .. p.pattern
    elseif p.type == "integer" then what = "an integer"
    else what = "text" .. (p.max_length and format(" of %d to %d characters", p.min_length or 1, p.max_length) or "") end
    if p.option then
      out[#out + 1] = format("%s: %s, from %s_%s (or a %s column)", p.name, what, d.name:upper(),
                             p.option:upper(), p.name)
    elseif single then
      out[#out + 1] = what
    else
      out[#out + 1] = format("%s: %s", p.name, what)
    end
  end
  return concat(out, "; ")
end

--- The variable the command reads a header's value from:
-- PROVIDER_HEADER_NAME (Api-Key: DISCOURSE_HEADER_API_KEY).
function _M.header_variable(provider, header)
  return provider:upper() .. "_HEADER_" .. (header:upper():gsub("[^%w]", "_"))
end

-- Whether every alternative of d's credentials has a requirement for
-- which want(r) holds.
local function every(d, want)
  for _, alt in ipairs(d.credentials) do
    local found = false
    for _, r in ipairs(alt) do found = found or want(r) end
    if not found then return false end
  end
  return #d.credentials > 0
end

local function some(d, want)
  for _, alt in ipairs(d.credentials) do
    for _, r in ipairs(alt) do if want(r) then return true end end
  end
  return false
end

--- The headers a provider needs that neither its token nor an option of
-- its own fills: the document's required header parameters, and the API
-- key headers of a security scheme beside the token. `{ { header,
-- required = true|false }, ... }`, each once.
function _M.headers_needed(d)
  local list, seen = {}, {}
  for header in pairs(d.headers or {}) do seen[header:lower()] = true end -- an option fills it
  for _, alt in ipairs(d.credentials) do
    for _, r in ipairs(alt) do if r.kind == "header" and r.token then seen[r.header:lower()] = true end end
  end
  for _, h in ipairs(d.required_headers or {}) do
    if not seen[h:lower()] then seen[h:lower()] = true; list[#list + 1] = { h, required = true } end
  end
  for _, alt in ipairs(d.credentials) do
    for _, r in ipairs(alt) do
      if r.kind == "header" and not r.token and not seen[r.header:lower()] then
        seen[r.header:lower()] = true
        local h = r.header
        list[#list + 1] = { h, required = every(d, function(x) return x.header == h end) }
      end
    end
  end
  return list
end

-- What the token is, in words: "the bearer token", "the API key (sent as X-API-Key)".
local function token_text(d)
  local kinds = {}
  for _, alt in ipairs(d.credentials) do
    for _, r in ipairs(alt) do
      if r.token then
        local what = r.kind == "bearer" and "a bearer token" or ("the API key, sent as " .. r.header)
        if not kinds[what] then kinds[#kinds + 1], kinds[what] = what, true end
      end
    end
  end
  return concat(kinds, " or ")
end

-- The credentials' variables: the token and HTTP basic's username and
-- password, each with what it serves and whether it is required.
local function credential_variables(d, env, P)
  if d.fetches_token then
    env[#env + 1] = { P .. "TOKEN", "a bearer token; or, instead of it:" }
    env[#env + 1] = { P .. "KEY_ID, " .. P .. "KEY_SECRET", "a key pair: the token is fetched and refreshed" }
    return
  end
  local is_token = function(r) return r.token end
  local is_basic = function(r) return r.kind == "basic" end
  local basic = some(d, is_basic)
  if some(d, is_token) then
    local text = token_text(d)
    if every(d, is_token) then text = text .. " (required)"
    elseif basic then text = text .. "; or, instead of it:"
    else text = text .. ", if you have one (the API also takes requests without)" end
    env[#env + 1] = { P .. "TOKEN", text }
  end
  if basic then
    env[#env + 1] = { P .. "USERNAME, " .. P .. "PASSWORD",
                      "HTTP basic credentials" .. (every(d, is_basic) and " (required)" or "") }
  end
end

--- The environment variables a provider reads: { { name, what }, ... }.
function _M.environment(d)
  local P = d.name:upper() .. "_"
  local env = {}
  credential_variables(d, env, P)
  local header_of = {}
  for header, option in pairs(d.headers or {}) do header_of[option] = header end
  local param_of = {}
  for _, p in ipairs(d.params) do if p.option then param_of[p.option] = p end end
  local credential = { key_id = true, key_secret = true, username = true, password = true }
  for _, option in ipairs(d.options or {}) do
    if not credential[option] then
      local fmt = d.option_formats and d.option_formats[option]
      local what
      if header_of[option] then
        what = format("required: sent as %s%s", header_of[option], fmt and (" (" .. (FORMATS[fmt] or fmt) .. ")") or "")
      elseif param_of[option] then
        what = format("the %s in the path, unless the input gives it", option)
      else
        what = option
      end
      env[#env + 1] = { P .. option:upper(), what }
    end
  end
  for _, h in ipairs(_M.headers_needed(d)) do
    env[#env + 1] = { _M.header_variable(d.name, h[1]), (h.required and "required: " or "")
      .. "sent as the " .. h[1] .. " header" .. (secrets.secret_name(h[1]) and " (a secret)"
        or (" (or --header '" .. h[1] .. ": VALUE')")) }
  end
  env[#env + 1] = { P .. "BASE_URL", d.base_url and ("default " .. d.base_url) or "required: the API's base URL" }
  return env
end

--- Whether an update is sent again after a failure that left its outcome
-- unknown (sent, no answer), in words.
function _M.resent_text(d)
  if d.idempotency_key then
    return "after no answer, yes: each update carries an idempotency key (" .. d.idempotency_key .. ")"
  end
  if d.idempotent == true then return "after no answer, yes: the update is idempotent" end
  local once = "sent once, and without an answer it fails as unknown_outcome (--retry-ambiguous resends it)"
  if d.idempotent == false then return "after no answer, no: " .. once end
  return "after no answer, as the fields say: an update that is not idempotent is " .. once
end

--- The whole description, as lines of text.
function _M.text(d)
  local lines = {}
  local function add(s) lines[#lines + 1] = s end
  add(d.title and d.title ~= d.name and format("%s - %s", d.name, d.title) or d.name)
  local bodies = { json = "JSON", form = "form-urlencoded", multipart = "multipart/form-data" }
  local encs = {}
  for i, e in ipairs(d.encodings) do encs[i] = bodies[e] or e end
  add(format("  request:  %s {base}%s, body %s", d.method, d.path, concat(encs, " or ")))
  add("  id:       " .. _M.id_text(d))
  add("  base URL: " .. (d.base_url or "none: set " .. d.name:upper() .. "_BASE_URL or give --base-url"))
  add("  resent:   " .. _M.resent_text(d))
  for _, note in ipairs(d.notes or {}) do add("  note:     " .. note) end
  add("")
  add("fields (an update needs at least one; unknown names are refused):")
  local names = {}
  for name in pairs(d.fields) do names[#names + 1] = name end
  sort(names, function(a, b) return d.fields[a].order < d.fields[b].order end)
  local width = 0
  for _, n in ipairs(names) do if #n > width then width = #n end end
  for _, n in ipairs(names) do
    local f = d.fields[n]
    local text = rule_text(f)
    if f.required then text = "required; " .. text end
    if f.nullable then text = text .. "; may be null" end
    if f.description then text = text .. " (" .. f.description .. ")" end
    add(format("  %-" .. width .. "s  %s", n, text))
  end
  add("")
  add("environment:")
  local env = _M.environment(d)
  local ew = 0
  for _, e in ipairs(env) do if #e[1] > ew then ew = #e[1] end end
  for _, e in ipairs(env) do add(format("  %-" .. ew .. "s  %s", e[1], e[2])) end
  add("")
  add("in a CSV cell: empty = leave the field alone; null = null; booleans true/false, 1/0, yes/no;")
  add("  arrays a;b;c or a JSON array (quoted in CSV: \"[1,2]\"; [] is empty); an object a JSON object;")
  add("  a file is its path")
  return lines
end

return _M
