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
local client = require "users.client"
local options = require "users.options"
local auth = require "users.auth"
local bulk = require "users.bulk"
local suggest = require "users.suggest"
local headers = require "users.headers"

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

local type, error, setmetatable, pairs = type, error, setmetatable, pairs

local defaults = {}  -- users.configure(provider, opts)

local function bad(n, fname, msg)
  return ("bad argument #%d to '%s' (%s)"):format(n, fname, msg)
end

local Client = {}
Client.__index = Client

-- provider: a name or a client. Returns entry, the client's options; or
-- nil, the message of a misuse.
local function resolve_provider(provider, fname)
  if getmetatable(provider) == Client then return provider.entry, provider.opts end
  if type(provider) ~= "string" then
    return nil, bad(1, fname, "provider name or client expected, got " .. type(provider))
  end
  local entry, msg = registry.get(provider)
  if not entry then return nil, bad(1, fname, msg) end
  return entry
end

-- Everything update and prepare share: misuse raises at the caller's line
-- (level 3: the public function's caller), data problems return nil, err.
-- offline: a token that would be fetched is not (prepare's fetch_token = false).
local function prepare(fname, provider, id, fields, opts, offline)
  local entry, own = resolve_provider(provider, fname)
  if not entry then error(own, 3) end
  local tid = type(id)
  if not (tid == "string" or tid == "number" or tid == "table") then
    error(bad(2, fname, "user id expected (string, integer or table), got " .. tid), 3)
  end
  if type(fields) ~= "table" then
    error(bad(3, fname, "table of fields expected, got " .. type(fields)), 3)
  end
  local misuse = options.check(entry, opts, fname, 4)
  if misuse then error(misuse, 3) end
  local o = options.resolve(entry, defaults[entry.decl.name], own, opts)
  if fname == "prepare" then o.budget, o.rate, o._deadline = nil, nil, nil end -- it sends nothing
  if offline and not o.token and auth.can_refresh(entry, o) then o.token = bulk.PLACEHOLDER_TOKEN end
  local req, err = client.prepare(entry, id, fields, o)
  if not req then err = suggest.fields(entry, err) end
  return entry, o, req, err
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
  local entry, o, req, err = prepare("update", provider, id, fields, opts)
  if not req then return nil, auth.redact(err, o) end
  return client.send(entry, req, o)
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
--   connect_timeout, ca_file, max_body, http_version }`; `body` is a string, or a chunk
--   iterator when a file is attached
-- @return[2] nil, and an `Error`
-- @raise on misuse, as `update`
function _M.prepare(provider, id, fields, opts)
  local offline = false
  if type(opts) == "table" and opts.fetch_token ~= nil then
    if type(opts.fetch_token) ~= "boolean" then
      error(bad(4, "prepare", "option 'fetch_token' must be a boolean"), 2)
    end
    offline = opts.fetch_token == false
    local rest = {}
    for k, v in pairs(opts) do if k ~= "fetch_token" then rest[k] = v end end
    opts = rest
  end
  local _, o, req, err = prepare("prepare", provider, id, fields, opts, offline)
  if not req then return nil, auth.redact(err, o) end
  req.headers = headers.copy(req.headers) -- the caller's own map, to change
  return req
end

local function entry_or_raise(provider, fname)
  local entry, msg = resolve_provider(provider, fname)
  if not entry then error(msg, 3) end
  return entry
end

--- Updates many users concurrently, under a rate ceiling, retried,
-- resumable through a journal, with progress. Every input item is
-- accounted for exactly once in the `Report`.
-- @param provider a provider name or a client
-- @param items an array of `{ id = ..., fields = { ... } }`, or a function
--   returning one such item per call and nil at the end (streamed: a
--   million items are never held in memory)
-- @tparam[opt] BulkOptions opts run options, and any `Options` key
-- @treturn Report the report (also when a callback raised: see `Report.error`)
-- @raise on misuse, as `update`, and when the journal cannot be opened
-- @usage local report = users.bulk_update("generic", items, { concurrency = 16, rate = 50 })
function _M.bulk_update(provider, items, opts)
  local entry, own = resolve_provider(provider, "bulk_update")
  if not entry then error(own, 2) end
  if type(items) ~= "table" and type(items) ~= "function" then
    error(bad(2, "bulk_update", "array or iterator function expected, got " .. type(items)), 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(bad(3, "bulk_update", "table expected, got " .. type(opts)), 2)
  end
  local run, update_opts = {}, {}
  for k, v in pairs(opts or {}) do
    local check = bulk.KEYS[k]
    if check then
      if not check(v) then error(bad(3, "bulk_update", "option '" .. k .. "' has a wrong type or value"), 2) end
      run[k] = v
    else
      update_opts[k] = v
    end
  end
  local misuse = options.check(entry, update_opts, "bulk_update", 3)
  if misuse then error(misuse, 2) end
  local o = options.resolve(entry, defaults[entry.decl.name], own, update_opts)
  if o.retries == 0 and update_opts.retries == nil and not (own and own.retries)
     and not (defaults[entry.decl.name] or {}).retries then
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
  local entry = entry_or_raise(provider, "configure")
  local misuse = options.check(entry, opts, "configure", 2)
  if misuse then error(misuse, 2) end
  local d = defaults[entry.decl.name] or {}
  for k, v in pairs(opts or {}) do d[k] = v end
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
  local entry = entry_or_raise(provider, "new")
  local misuse = options.check(entry, opts, "new", 2)
  if misuse then error(misuse, 2) end
  local own = {}
  for k, v in pairs(opts or {}) do own[k] = v end
  return setmetatable({ entry = entry, opts = own, provider = entry.decl.name }, Client)
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
  if type(path) ~= "string" or path == "" then error(bad(1, "file", "path expected"), 2) end
  if content_type ~= nil and type(content_type) ~= "string" then
    error(bad(2, "file", "content type string expected"), 2)
  end
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
  if type(bytes) ~= "string" then error(bad(1, "blob", "string expected"), 2) end
  if type(filename) ~= "string" then error(bad(2, "blob", "file name expected"), 2) end
  if content_type ~= nil and type(content_type) ~= "string" then
    error(bad(3, "blob", "content type string expected"), 2)
  end
  return setmetatable({ data = bytes, filename = filename, content_type = content_type }, File)
end

--- Names of the providers that can be used, sorted.
-- @return `{ "activepieces", "generic", ... }`
function _M.providers() return registry.names() end

--- A provider's contract, for help texts and command lines (a copy):
-- `{ name, title, method, path, base_url, encodings, options, params = { ... },
-- fields = { name = { type, required, nullable, enum, min_length, max_length,
-- format, pattern, items, description, ... } } }`.
-- @param provider a provider name or a client
-- @return the contract, the table above
-- @raise on misuse
function _M.describe(provider)
  local entry = entry_or_raise(provider, "describe")
  return registry.describe(entry)
end

--- The options a call would use: `opts` over the client's, `configure`'s,
-- the environment's and the provider's own, resolved as `update` resolves
-- them; for a command line or a start-up check that names what is missing
-- before anything is sent (the `lua-users` command uses it). Each option
-- that gives a path parameter (lancepilot's `workspace`) is checked against
-- the provider's rules too.
-- @param provider a provider name or a client
-- @tparam[opt] Options opts
-- @return the options (a copy; it holds the credentials: never show it)
-- @return nil, or `{ [option] = message }`: the path parameters refused
-- @raise on misuse, as `update`
function _M.settings(provider, opts)
  local entry, own = resolve_provider(provider, "settings")
  if not entry then error(own, 2) end
  local misuse = options.check(entry, opts, "settings", 2)
  if misuse then error(misuse, 2) end
  local o, copy, problems = options.resolve(entry, defaults[entry.decl.name], own, opts), {}, nil
  for k, v in pairs(o) do if k:sub(1, 1) ~= "_" then copy[k] = v end end
  for _, p in ipairs(entry.decl.params or {}) do
    local ok, msg = true, nil
    if p.option and o[p.option] ~= nil then ok, msg = core.check_param(entry.compiled, p[1], o[p.option]) end
    if not ok then problems = problems or {}; problems[p.option] = msg end
  end
  return copy, problems
end

-- For the bulk helpers and tests: the low layers, not part of the contract.
_M._options, _M._registry = options, registry

--- Options of `update`, `prepare`, `new`, `configure` and `bulk_update`.
-- Missing values fall back to the environment: `<PROVIDER>_TOKEN`,
-- `<PROVIDER>_BASE_URL`, `LEXFUL_ACCOUNT_ID`, `LEXFUL_KEY_ID`,
-- `LEXFUL_KEY_SECRET`, `LANCEPILOT_WORKSPACE`. An unknown key, a wrong type
-- or a value out of range raises.
-- @table Options
-- @field token the bearer token
-- @field base_url `http(s)://host[/path]`, without query or user information
-- @field account_id lexful: the X-Account-ID
-- @field workspace lancepilot: the workspace UUID, when the id is an integer
-- @field key_id lexful: with key_secret, the token is fetched and refreshed
-- @field key_secret lexful: the key's secret (never shown in errors)
-- @field timeout seconds for the whole transfer (default 30, at most 86400)
-- @field connect_timeout seconds to connect (default 10, at most 86400)
-- @field ca_file a CA bundle to verify the server with (libcurl)
-- @field headers extra request headers; one of ours of the same name, in
--   any case, is replaced; Content-Length, Transfer-Encoding, Connection,
--   Expect, TE and Upgrade are the transport's and refused
-- @field retries retries of transport errors, 429 and 5xx (default 0;
--   3 in bulk runs; at most 100)
-- @field backoff seconds before the first retry, doubled each time with
--   jitter, at most 30 (default 0.5)
-- @field max_retry_after the longest Retry-After honoured, in seconds
--   (default 300): past it the request fails as `rate_limited`, with
--   `err.retry_after` set, and the caller decides
-- @field user_agent the User-Agent (default `lua-users/<version>`)
-- @field encoding paradigm: `"json"` (default), `"form"` or `"multipart"`
-- @field max_body the largest response accepted, in bytes (default 8 MiB,
--   at most 1 GiB)
-- @field http_version `"auto"` (default: HTTP/2 where the server offers it
--   over TLS, multiplexed, a bulk run's requests sharing one connection;
--   HTTP/1.1 elsewhere), `"1.1"` (never HTTP/2), or `"h2c"` (HTTP/2 from
--   the first byte, without TLS too: gateways that speak it; libcurl only,
--   the nginx transport speaks HTTP/1.1). `Response.protocol` says which
--   was used
-- @field rate requests per second for the account, never exceeded (paced
--   5% under it, so that a request that leaves late never makes the
--   provider count one too many in a second); in `update` as in
--   `bulk_update`. `update` waits for its slot (`ngx.sleep` inside nginx),
--   at most until its `deadline`, or `timeout` seconds without one; a slot
--   further away fails at once with `kind = "budget"`,
--   `code = "rate_limited"` and `retry_after` set, and nothing is sent.
--   Ignored by `prepare`.
-- @field burst requests that may leave at once after a quiet spell (default
--   1: none closer than the rate's interval)
-- @field budget where each account's budget lives: its rate, the pause a
--   429 asked for (every sharer waits until its Retry-After, or for its
--   back-off when it gave none), and a token fetched with a key pair (one
--   fetch for everyone, refreshed before it expires and once after a 401).
--   `"local"` (the default: this Lua state, one nginx worker), `{
--   shared_dict = "NAME" }` (every worker of one nginx: a `lua_shared_dict`),
--   or `"redis://[:PASSWORD@]HOST:PORT[/DB]"` (every host). A shared budget
--   keeps the token in the store too; `tokens = "local"` in the table, or
--   `?tokens=local` after the URL, keeps it in the Lua state. Without
--   `rate` and `budget` nothing is kept between calls. Accounts are keyed
--   by provider, base URL (as given) and account id, or else a SHA-1 of
--   the credential, never the secret itself. Ignored by `prepare`.
-- @field budget_fallback `"fail"` (default): a shared budget that cannot be
--   reached fails the call with `kind = "budget"`,
--   `code = "budget_unavailable"` (retryable; each Redis operation is
--   bounded by 0.5 s, and a store that failed is tried again after a
--   second). `"local"`: the local budget stands in, with a warning in
--   nginx's error log or on stderr, until the store answers again.
-- @field deadline seconds for the whole call (default: none beyond each
--   transfer's timeouts): its token request, its waits for a budget slot,
--   its retries and back-offs. Transfers are cut to what is left, a retry
--   that would start past it is not waited for, and the call returns
--   `nil, err` with `code = "timeout"` and `err.waiting_for` (`"answer"`,
--   `"retry"`, `"budget"` or `"token"`) said in its message. In a bulk run
--   it counts for each item from when the item is taken. Ignored by `prepare`.
-- @field transport a table following `users.transport`'s contract

--- Run options of `bulk_update`, beside any `Options` key.
-- @table BulkOptions
-- @field concurrency requests in flight (default 8); at most that many
--   connections
-- @field rate requests per second for the account (an `Options` key, here
--   as everywhere): the run's requests take their slots from the account's
--   budget, with every other caller that shares it
-- @field on_result `function(item, user, err, res)` after each item (`res`,
--   the `Response`, for a success)
-- @field progress `true` (a bar on stderr when it is a terminal) or
--   `function(done, total, report)`
-- @field journal a file: confirmed items are recorded, a rerun skips them
-- @field dry_run validate and prepare every item, send nothing
-- @field total the number of items, for progress over an iterator
-- @field max_auth_failures stop after this many answers 401/403 in a row
--   (default 5; 0 or false: never): `Report.stopped` is then `"auth"`
-- @field should_stop `function()`, asked between waits: true stops taking
--   items (`Report.stopped` is then `"interrupted"`); `"abandon"` drops the
--   requests in flight too, which fail as `aborted`
-- @field max_failures failures kept in `Report.failures` (default 1000)

--- What `update` returns beside the user.
-- @table Response
-- @field status the HTTP status
-- @field protocol `"HTTP/1.1"`, `"HTTP/2"` (or `"HTTP/1.0"`): what the
--   answer came over
-- @field headers the response headers, names in lower case
-- @field attempts how many requests were made
-- @field elapsed seconds, retries included

--- The one error shape (a table with `__tostring`). No secret (token, key
-- secret) ever appears in it, at any depth, nor in `tostring(err)`.
-- @table Error
-- @field kind `"invalid"` (refused before sending), `"http"` (non-2xx),
--   `"transport"`, `"decode"` (not the JSON promised), `"config"`,
--   `"budget"` (the account's budget refused or could not be reached:
--   nothing was sent)
-- @field code one word across providers: `validation_error` (every
--   provider's validation answer, lexful's 400 included), `unauthorized`,
--   `forbidden`, `not_found`, `conflict`, `rate_limited`, `server_error`,
--   `redirect`, `bad_request`, `method_not_allowed`, `too_large`,
--   `http_error`, `bad_response`, `config_error`; transport: `timeout`,
--   `connect`, `dns`, `tls`, `reset`, `too_large`, `bad_url`, `aborted`,
--   `file_changed`, `transport`; budget: `rate_limited` (no slot in time),
--   `budget_unavailable` (the shared store cannot be reached)
-- @field status the HTTP status, for `kind == "http"`
-- @field message one sentence
-- @field fields `{ field = { "message", ... } }` for validation errors
-- @field retry_after seconds the server asked to wait (both Retry-After forms)
-- @field retryable whether a retry may help
-- @field attempts how many requests were made
-- @field waiting_for for a deadline's `timeout`: what the call was waiting
--   for when it ran out (`"answer"`, `"retry"`, `"budget"`, `"token"`)
-- @field provider the provider's name
-- @field body the provider's decoded (or raw) body

--- What `bulk_update` returns.
-- @table Report
-- @field total items taken from the input
-- @field succeeded items the provider confirmed
-- @field failed items that failed (after their retries)
-- @field skipped items the journal had confirmed already
-- @field retried retries made
-- @field elapsed seconds
-- @field failures the first `max_failures` failures, `{ index, id, err }`,
--   each err without the provider's body (on_result gets it whole)
-- @field failures_dropped failures beyond `max_failures`
-- @field dry_run true for a dry run
-- @field not_attempted items never sent because the run stopped first:
--   `total = succeeded + failed + skipped + not_attempted`
-- @field stopped why the run stopped taking items early, or nil: `"config"`
--   (nothing could be sent: see `config_error`), `"auth"`
--   (`max_auth_failures`), `"interrupted"` (`should_stop`) or `"error"`
-- @field error for a stop, one line saying why: the configuration error,
--   the authentication failures, or what a callback (on_result, progress,
--   the items iterator) or a value's metamethod raised. What was in flight
--   finished and is counted.
-- @field config_error the `Error` of a `"config"` stop

return _M
