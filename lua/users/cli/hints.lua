--- What the command says about an error beyond the library's sentence: a
-- TLS failure's likely cause and the option that fixes it, and what a
-- server said when its answer was not JSON (an HTML error page from a
-- proxy), as a short, clean excerpt.
local _M = {}

local type, tostring = type, tostring
local find, sub, byte, gsub, format = string.find, string.sub, string.byte, string.gsub, string.format

-- The library's own TLS hint speaks of opts.ca_file: the command says more.
local LIBRARY_TLS_HINT = "%s*%(the server's certificate was not verified: set opts%.ca_file to the CA that signs it%)$"

local TLS = {
  { { "wrong version number", "packet length too long", "unknown protocol", "http request" },
    "the server does not speak TLS there: is the base URL http:// rather than https://?" },
  { { "error setting certificate", "cafile", "ca certificate" },
    "the CA file cannot be used: give --ca-file a PEM bundle of CA certificates" },
  { { "client certificate", "private key", "client cert", "could not load pem" },
    "the client certificate or key cannot be used: check --client-cert and --client-key (PEM, the key not encrypted)" },
  { { "certificate required", "bad certificate", "handshake failure", "unknown ca" },
    "the server refused the handshake: it may require a client certificate (--client-cert, --client-key)" },
  { { "subject name", "does not match", "hostname" },
    "the server's certificate is for another name than the base URL's host" },
  { { "expired", "not yet valid" }, "the server's certificate is out of its dates (or this machine's clock is)" },
  { { "certificate" },
    "the server's certificate is not trusted here: give the CA that signs it with --ca-file FILE (or set"
      .. " CURL_CA_BUNDLE or SSL_CERT_FILE)" },
}

--- The hint for a TLS failure's message: its likely cause and what to do.
function _M.tls(message)
  local m = tostring(message):lower()
  for _, rule in ipairs(TLS) do
    for _, word in ipairs(rule[1]) do
      if find(m, word, 1, true) then return rule[2] end
    end
  end
  return "check the base URL, and --ca-file"
end

local ENTITIES = { amp = "&", lt = "<", gt = ">", quot = '"', apos = "'", nbsp = " ", ["#39"] = "'" }

-- A pattern matching name in any case: "script" -> "[sS][cC]...".
local function anycase(name)
  return (gsub(name, "%a", function(c) return "[" .. c:lower() .. c:upper() .. "]" end))
end
local SCRIPT, STYLE = anycase("script"), anycase("style")

--- The text of a body that is not JSON, cleaned for one line: tags,
-- scripts, styles and comments out, entities decoded, white space and
-- control characters folded, cut at about `max` bytes on a character's
-- boundary. nil when nothing is left.
function _M.excerpt(body, max)
  if type(body) ~= "string" then return nil end
  max = max or 160
  local t = sub(body, 1, 65536)
  t = gsub(t, "<" .. SCRIPT .. ".-</" .. SCRIPT .. "%s*>", " ")
  t = gsub(t, "<" .. STYLE .. ".-</" .. STYLE .. "%s*>", " ")
  t = gsub(t, "<!%-%-.-%-%->", " ")
  t = gsub(t, "<[^>]*>", " ")
  t = gsub(t, "&(#?%w+);", function(e) return ENTITIES[e:lower()] end)
  t = gsub(t, "%c", " ")
  t = gsub(t, "%s+", " "):match("^%s*(.-)%s*$")
  if t == "" then return nil end
  if #t > max then
    local cut = max
    while cut > 1 and (byte(t, cut + 1) or 0) >= 0x80 and (byte(t, cut + 1) or 0) < 0xC0 do cut = cut - 1 end
    t = sub(t, 1, cut) .. "..."
  end
  return t
end

--- An error for people: the library's sentence, a TLS failure's hint in
-- place of the library's, and what a server said that was not JSON.
function _M.error_text(e)
  local text = tostring(e)
  if type(e) ~= "table" then return text end
  if e.code == "tls" then
    text = gsub(text, LIBRARY_TLS_HINT, "") .. " (" .. _M.tls(e.message) .. ")"
  elseif e.kind == "http" and type(e.body) == "string" and find(tostring(e.message), "^HTTP %d") then
    local said = _M.excerpt(e.body)
    if said then text = text .. format(' (the server said: "%s")', said) end
  end
  return text
end

return _M
