--- Update a user on any of several SaaS APIs with one call.
--
-- The fields are checked against the provider's own API contract, encoded
-- the way it wants them, sent with libcurl (or nginx cosockets inside
-- OpenResty) and the answer comes back decoded, or as `nil, err` with one
-- error shape for every provider (see `Error`).
--
-- Misuse (wrong argument types, an unknown provider or option) raises, as
-- Lua's own libraries do; everything else returns `nil, err`.
-- @module users
-- @usage
-- local users = require "users"
-- local user, err = users.update("lexful", "5f0c2c1e-8f5d-4c8e-9d6a-0a1b2c3d4e5f",
--                                { first_name = "Jane", role = "admin" })
-- if not user then error(tostring(err)) end
local core = require "users.core"
local registry = require "users.registry"
local check = require "users.check"
local options = require "users.options"
local budget = require "users.budget"
local lifecycle = require "users.lifecycle"
local bulk = require "users.bulk"
local headers = require "users.headers"
local metrics = require "users.metrics"
local security = require "users.security"

local _M = {
  --- The module's version, e.g. "0.1.0".
  _VERSION = require "users.version",
  --- JSON null: send it where a field is nullable; decoded nulls are it.
  -- The same value as `cjson.null` and `ngx.null` (a NULL light userdata).
  null = core.null,
  --- The metatable that marks a table as a JSON array (decoded arrays carry
  -- it, so they encode back as arrays; an empty table with it is `[]`).
  array_mt = core.array_mt,
}

local type, setmetatable, pairs, ipairs, getmetatable = type, setmetatable, pairs, ipairs, getmetatable

local defaults = {}  -- users.configure(provider, opts)

local Client = {}
Client.__index = Client

local ID = check.is("string|number|table", "user id expected (string, integer or table)")
local FIELDS = check.is("table", "table of fields expected")
local ITEMS = check.is("table|function", "array or iterator function expected")
local OPTIONAL_TABLE = check.is("table|nil", "table")
local STRING = check.is("string", "string")
local DOCUMENT = check.is("string|table", "path, text or table")
local DECLARATION = check.is("table", "declaration table")

-- provider: a name or a client. Returns its entry and the client's own
-- options; raises a misuse at the public function's caller (`level` as
-- in check.fail, from the function calling this one).
local function provider_of(provider, fname, level)
  level = (level or 1) + 1
  if getmetatable(provider) == Client then return provider.entry, provider.opts end
  if type(provider) ~= "string" then
    check.fail(1, fname, "provider name or client expected, got " .. type(provider), level)
  end
  local entry, msg = registry.get(provider)
  if not entry then check.fail(1, fname, msg, level) end
  return entry
end

-- What update and prepare share: misuse raises at their caller's line.
-- `fresh`: options of their own, to change (else they may be shared).
local function front_door(fname, provider, id, fields, opts, fresh)
  local entry, own = provider_of(provider, fname, 2)
  check.arg(2, fname, id, ID, 2)
  check.arg(3, fname, fields, FIELDS, 2)
  if fresh then
    options.check(entry, opts, fname, 4, 2)
    return entry, options.resolve(entry, defaults[entry.decl.name], own, opts)
  end
  return entry, options.for_call(entry, defaults[entry.decl.name], own, opts, fname, 4, 2)
end

--- Updates one user.
-- @param provider a provider name (`"lexful"`, ...) or a client from `new`
-- @param id the provider's user id: a string or an integer as the provider
--   has it; lancepilot also takes `{ workspace = "<uuid>", user = 42 }`
-- @param fields the provider's own field names and values (`describe`)
-- @tparam[opt] Options opts
-- @return the decoded user (a table), and `Response`
-- @return[2] nil, and an `Error`
-- @raise on misuse: wrong argument types, an unknown provider or option, an
--   option out of range
-- @usage local user, res = users.update("paradigm", 42, { workspaces = { 3, 5 } })
function _M.update(provider, id, fields, opts)
  local entry, o = front_door("update", provider, id, fields, opts)
  local transport = o.transport
  local now = transport.now()
  -- The item's life (users/lifecycle.lua), run here: each move done as it says.
  local life = lifecycle.new(lifecycle.driver(entry, o, budget.gate(entry, o), o.timeout), id, fields, now)
  local what, a, b = lifecycle.step(life, now)
  while true do
    if what == "send" then
      local res, message, code, sent = transport.send(a)
      what, a, b = lifecycle.answer(life, transport.now(), res, message, code, sent)
    elseif what == "wait" then
      transport.sleep(a)
      what, a, b = lifecycle.step(life, transport.now())
    elseif what == "done" then
      return a, b
    else
      return nil, a
    end
  end
end

-- The fields of a prepared request that are the caller's (a copy).
local function prepared(req)
  return { method = req.method, url = req.url, headers = headers.copy(req.headers), body = req.body,
           segments = req.segments, body_length = req.body_length, timeout = req.timeout,
           connect_timeout = req.connect_timeout, ca_file = req.ca_file, max_body = req.max_body,
           http_version = req.http_version, client_cert = req.client_cert, client_key = req.client_key,
           idempotent = req.idempotent }
end

--- Validates and builds the request without sending it: for dry runs, and
-- hosts that send with their own client. A lexful key pair is exchanged for
-- a token, as for `update`, unless `opts.fetch_token` is false: the request
-- then carries "Authorization: Bearer [token fetched at run time]" and
-- nothing at all is sent (dry runs).
-- @param provider a provider name or a client
-- @param id the user id, as for `update`
-- @param fields the fields, as for `update`
-- @tparam[opt] Options opts
-- @return `{ method, url, headers, body, segments, body_length, timeout,
--   connect_timeout, ca_file, max_body, http_version, client_cert, client_key, idempotent }`; `body` is a
--   string, or a chunk iterator when a file is attached; `headers` is the caller's own map (with the
--   idempotency key, where the provider names one); `idempotent`: whether it may be sent again after a
--   failure that left its outcome unknown (when false, send it on a connection of its own, once)
-- @return[2] nil, and an `Error`
-- @raise on misuse, as `update`
function _M.prepare(provider, id, fields, opts)
  local offline = false
  if type(opts) == "table" and opts.fetch_token ~= nil then
    if type(opts.fetch_token) ~= "boolean" then check.fail(4, "prepare", "option 'fetch_token' must be a boolean") end
    offline = opts.fetch_token == false
    local rest = {}
    for k, v in pairs(opts) do if k ~= "fetch_token" then rest[k] = v end end
    opts = rest
  end
  local entry, o = front_door("prepare", provider, id, fields, opts, true)
  o.budget, o.rate, o.deadline = nil, nil, nil -- it sends nothing (a token request aside)
  local transport = o.transport
  local life = lifecycle.new(lifecycle.driver(entry, o, nil, nil, offline, true), id, fields, transport.now())
  local what, a = lifecycle.step(life, transport.now())
  while true do -- to the item's first request; a token request on the way is sent
    if what == "send" and lifecycle.main(life) then
      return prepared(a)
    elseif what == "send" then
      local res, message, code, sent = transport.send(a)
      what, a = lifecycle.answer(life, transport.now(), res, message, code, sent)
    elseif what == "wait" then
      transport.sleep(a)
      what, a = lifecycle.step(life, transport.now())
    elseif what == "fail" then
      return nil, a
    else
      return a -- a plan that ends without a request
    end
  end
end

--- Updates many users concurrently, under a rate ceiling, retried,
-- resumable through a journal, with progress. Every input item is
-- accounted for exactly once in the `Report`.
-- @param provider a provider name or a client
-- @param items an array of `{ id = ..., fields = { ... } }`, or a function
--   returning one such item per call and nil at the end (streamed: a
--   million items are never held in memory); an item with `unknown = true`
--   is one an earlier run sent without an answer: held back, unless
--   `resend_unknown`
-- @tparam[opt] BulkOptions opts run options, and any `Options` key
-- @treturn Report the report (also when a callback raised: see `Report.error`)
-- @raise on misuse, as `update`, and when the journal cannot be opened
-- @usage local report = users.bulk_update("generic", items, { concurrency = 16, rate = 50 })
function _M.bulk_update(provider, items, opts)
  local entry, own = provider_of(provider, "bulk_update")
  check.arg(2, "bulk_update", items, ITEMS)
  check.arg(3, "bulk_update", opts, OPTIONAL_TABLE)
  local run, update_opts = {}, {}
  for k, v in pairs(opts or {}) do
    if bulk.RULES[k] then run[k] = v else update_opts[k] = v end
  end
  check.options(3, "bulk_update", run, bulk.RULES)
  options.check(entry, update_opts, "bulk_update", 3)
  local d = defaults[entry.decl.name]
  local o = options.resolve(entry, d, own, update_opts)
  if update_opts.retries == nil and not (own and own.retries) and not (d and d.retries) then
    o.retries = 3 -- a bulk run retries what may pass on a second try, unless told otherwise
  end
  return bulk.run(entry, items, run, o)
end

--- Sets process-wide defaults for a provider; a call's and a client's own
-- options win over them, and they win over the environment.
-- @param provider a provider name
-- @tparam Options opts
-- @raise on misuse
function _M.configure(provider, opts)
  local entry = provider_of(provider, "configure")
  options.check(entry, opts, "configure", 2)
  local d = options.copy(defaults[entry.decl.name]) -- a new table: options resolved from the old one are not used again
  for k, v in pairs(options.copy(opts)) do d[k] = v end
  defaults[entry.decl.name] = d
end

--- A client with its own options: credentials per tenant or per request.
-- Its credential (a token, or a key pair) is never mixed with one from
-- `configure` or the environment; a client made without one falls back
-- to them. It shares nothing with other clients but connections. Its
-- methods `:update(id, fields [, opts])`, `:prepare(id, fields [, opts])`
-- and `:bulk_update(items [, opts])` take what the functions of the module
-- take after the provider.
-- @param provider a provider name
-- @tparam[opt] Options opts
-- @return a client, with the methods above
-- @raise on misuse
-- @usage local tenant = users.new("lexful", { account_id = A, key_id = K, key_secret = S })
-- local user, err = tenant:update(id, { role = "admin" })
function _M.new(provider, opts)
  local entry = provider_of(provider, "new")
  options.check(entry, opts, "new", 2)
  return setmetatable({ entry = entry, opts = options.copy(opts), provider = entry.decl.name }, Client)
end

function Client:update(id, fields, opts) return _M.update(self, id, fields, opts) end
function Client:prepare(id, fields, opts) return _M.prepare(self, id, fields, opts) end
function Client:bulk_update(items, opts) return _M.bulk_update(self, items, opts) end
Client.__tostring = function(c) return "users client (" .. c.provider .. ")" end

local File = { __name = "users.file" }

--- A file to upload (lancepilot's avatar), streamed from disk when the
-- request is sent, never read whole into a Lua string.
-- @string path the file
-- @string[opt] content_type its media type (sniffed from its bytes otherwise)
-- @return a file value for a field of type file
-- @raise on misuse
function _M.file(path, content_type)
  check.arg(1, "file", path, function(v) if type(v) ~= "string" or v == "" then return "path expected" end end)
  check.arg(2, "file", content_type, check.is("string|nil", "content type string"))
  return setmetatable({ path = path, filename = path:match("([^/]+)$"),
                        content_type = content_type }, File)
end

--- Bytes to upload as a file.
-- @string bytes the content
-- @string filename the name sent with it
-- @string[opt] content_type its media type
-- @return a file value for a field of type file
-- @raise on misuse
function _M.blob(bytes, filename, content_type)
  check.arg(1, "blob", bytes, STRING)
  check.arg(2, "blob", filename, check.is("string", "file name"))
  check.arg(3, "blob", content_type, check.is("string|nil", "content type string"))
  return setmetatable({ data = bytes, filename = filename, content_type = content_type }, File)
end

--- Names of the providers that can be used, sorted.
-- @return `{ "activepieces", "generic", ... }`
function _M.providers() return registry.names() end

--- A provider's contract, for help texts and command lines (a copy):
-- `{ name, title, method, path, base_url, encodings, options, params = { ... },
-- fields = { name = { type, required, nullable, enum, min_length, max_length,
-- format, pattern, items, description, ... } }, security (in words),
-- credentials (the same alternatives as tables: `{ { { kind, header, token } } }`),
-- required_headers, headers, notes = { "sentence", ... }, ... }`
-- (notes: what the fields do not say, such as scim's name rules).
-- @param provider a provider name or a client
-- @return the contract, the table above
-- @raise on misuse
function _M.describe(provider)
  return registry.describe((provider_of(provider, "describe")))
end

--- A provider declaration compiled from one operation of a vendor's
-- OpenAPI 3.0 or 3.1 document: pass it to `register`, or use it as the
-- hand-written ones are (`lua/users/providers/*.lua`). The fields, their
-- rules, the path and its parameters, the base URL (the first server, its
-- variables at their defaults), the encodings and the credentials
-- (security schemes: a token for bearer, OAuth 2 and OpenID Connect or an
-- API key header; `username` and `password` for basic) all come from the
-- document. What it cannot say goes in the overlay.
-- @param document a path (`.yaml`, `.yml`, `.json`), YAML or JSON text, or
--   a decoded table (text keeps the document's property order on the wire;
--   a table's properties go sorted)
-- @string operation an `operationId`, or `"METHOD /path"` as the document
--   writes it
-- @tparam[opt] table overlay what the document does not say: `name`,
--   `title`, `base_url`, `id` (the path parameter a plain id fills, when
--   there are several), `params` and `fields` (`{ name = { rules } }` added
--   to the document's), `encodings`, `form_booleans`, `error`,
--   `status_codes`, `token_request`, `headers`, `options`, `option_formats`
-- @return the declaration
-- @return[2] nil, and an `Error` with `kind == "config"` whose message
--   names the JSON pointer of the problem (also in `err.pointer`)
-- @raise on misuse: an overlay key that does not exist, or of a wrong type
-- @usage local decl = assert(users.openapi("acme.yaml", "updateUser", { name = "acme" }))
-- users.register(decl)
-- users.update("acme", 42, { display_name = "Jane" }, { token = T })
function _M.openapi(document, operation, overlay)
  check.arg(1, "openapi", document, DOCUMENT)
  check.arg(2, "openapi", operation, STRING)
  check.arg(3, "openapi", overlay, require("users.openapi.overlay").problem)
  return require("users.openapi").compile(document, operation, overlay)
end

--- Makes a declaration usable by its name everywhere a built-in provider's
-- is: `update`, `prepare`, `bulk_update`, `new`, `configure`, `describe`,
-- `providers`. The declaration is copied and compiled now.
-- @tparam table declaration from `openapi`, or written by hand; with
--   `replace = true` it may take the name of an existing provider
-- @raise when the name exists (and `replace` is not true), or the
--   declaration is not valid
function _M.register(declaration)
  check.arg(1, "register", declaration, DECLARATION)
  local ok, err = pcall(registry.register, declaration)
  if not ok then check.fail(1, "register", tostring(err)) end
end

--- The counts of every attempt made in this Lua state (every worker's sums
-- inside nginx, after `share_metrics`): a duration histogram per provider,
-- method, server, status and error type, and the retries, as
-- `{ http_client_request_duration_seconds = { { labels, count, sum,
-- buckets = { { le, count }, ... } }, ... }, http_client_retries_total =
-- { { labels, value }, ... } }`.
-- @string[opt] format `"prometheus"`: Prometheus's text exposition format
-- @return the table above, or the text
-- @raise on misuse
-- @usage ngx.print(users.metrics("prometheus")) -- a location /metrics
function _M.metrics(format)
  check.arg(1, "metrics", format, function(v) if v ~= nil and v ~= "prometheus" then return '"prometheus" or nothing expected' end end)
  if format == "prometheus" then return metrics.prometheus() end
  return metrics.table()
end

--- Inside nginx: every worker that calls it (from init_worker_by_lua*) adds
-- its counts to a lua_shared_dict every `interval` seconds, without a lock
-- per request, and `metrics` then gives the sums of every worker.
-- @string dict the lua_shared_dict's name
-- @number[opt=1] interval seconds between two flushes
-- @return true, or nil and why not (no such dict, not inside nginx)
-- @raise on misuse
function _M.share_metrics(dict, interval)
  check.arg(1, "share_metrics", dict, STRING)
  check.arg(2, "share_metrics", interval, function(v)
    if v ~= nil and (type(v) ~= "number" or not (v > 0 and v <= 3600)) then return "seconds from 0 to 3600 expected" end
  end)
  return metrics.share(dict, interval)
end

--- The options a call would use: `opts` over the client's, `configure`'s,
-- the environment's and the provider's own, resolved as `update` resolves
-- them; for a command line or a start-up check that names what is missing
-- before anything is sent (the `lua-users` command uses it). Each option
-- that gives a path parameter (lancepilot's `workspace`) is checked against
-- the provider's rules too. The problems found are a table, or nil:
-- `{ [option] = message }` for each path parameter refused, and under
-- `credentials` what the credentials lack (a token, a username and
-- password, a header the provider's document requires), with `header`
-- naming that header when it is one.
-- @param provider a provider name or a client
-- @tparam[opt] Options opts
-- @return the options (a copy; it holds the credentials: never show it)
-- @return the problems, or nil
-- @raise on misuse, as `update`
function _M.settings(provider, opts)
  local entry, own = provider_of(provider, "settings")
  options.check(entry, opts, "settings", 2)
  local o, copy, problems = options.resolve(entry, defaults[entry.decl.name], own, opts), {}, nil
  for k, v in pairs(o) do copy[k] = v end
  for _, p in ipairs(entry.decl.params or {}) do
    local ok, msg = true, nil
    if p.option and o[p.option] ~= nil then ok, msg = core.check_param(entry.compiled, p[1], o[p.option]) end
    if not ok then problems = problems or {}; problems[p.option] = msg end
  end
  local lacking, header = security.problem(entry, o)
  if lacking then problems = problems or {}; problems.credentials, problems.header = lacking, header end
  return copy, problems
end

return _M
