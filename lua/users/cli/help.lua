--- The command's usage lines and --help texts, one per subcommand.
local _M = {}

local EXIT_CODES = [[
exit codes:
  0    every item done (or skipped: done by an earlier run)
  1    some items failed, or were not attempted (the run stopped), or a file
       the run writes (failures, journal) could not be written
  2    usage or configuration error: nothing was sent
  130  interrupted (SIGINT, SIGTERM)]]

local ENVIRONMENT = [[
environment (never arguments, which other users can see with ps):
  PROVIDER_TOKEN       the bearer token (GENERIC_TOKEN, PARADIGM_TOKEN, ...)
  PROVIDER_BASE_URL    the API's base URL (GENERIC_BASE_URL has no default)
  LEXFUL_ACCOUNT_ID    lexful's account (X-Account-ID); LEXFUL_KEY_ID and
                       LEXFUL_KEY_SECRET fetch and refresh the token instead of LEXFUL_TOKEN
  LANCEPILOT_WORKSPACE lancepilot's workspace, unless the input gives it
  CURL_CA_BUNDLE, SSL_CERT_FILE
                       the CA bundle that verifies servers, as curl reads them (--ca-file wins)
  LUA_USERS_REDIS_PASSWORD
                       the password of a --budget redis:// store (not in the URL, which ps shows)
  `lua-users describe PROVIDER` lists a provider's own.]]

local AMBIGUOUS = [[
  --retry-ambiguous        send again an update that is not idempotent (describe says which are: a
                           lancepilot avatar upload) after a failure that left its outcome unknown
                           (sent, no answer: a timeout, a reset, a 502/504); by default it is sent
                           once and fails as unknown_outcome: it may have been applied]]

local TLS_OPTIONS = [[
  --ca-file FILE           the CA bundle (PEM) that verifies the server (default: CURL_CA_BUNDLE,
                           else SSL_CERT_FILE, else the system's)
  --client-cert FILE       a client certificate (PEM) for servers that ask for one (mutual TLS)
  --client-key FILE        its private key (PEM, not encrypted), unless the certificate file holds it
  --header 'NAME: VALUE'   a request header (repeatable); --header NAME reads the value from
                           PROVIDER_HEADER_NAME (Api-Key: DISCOURSE_HEADER_API_KEY), as a header
                           the provider's document requires is read when not given]]

_M.USAGE = {
  main = "usage: lua-users providers | describe PROVIDER | update PROVIDER ID field=value... | bulk PROVIDER FILE [options]"
    .. " | import DOCUMENT OPERATION",
  providers = "usage: lua-users providers",
  describe = "usage: lua-users describe PROVIDER",
  update = "usage: lua-users update PROVIDER ID field=value ... [--json '{...}'] [--dry-run] [--verbose] [options]",
  bulk = "usage: lua-users bulk PROVIDER FILE|- [--format csv|jsonl|json] [--delimiter C] [--concurrency N] [--rate R]"
    .. " [--budget URL] [--retries N] [--journal F] [--failures F] [--dry-run] [--verbose] [options]",
}

_M.main = _M.USAGE.main .. [[


Updates users on SaaS platforms: lancepilot, lexful, generic, activepieces, paradigm.

commands:
  providers                           the providers, one a line
  describe PROVIDER                   its fields and rules, id format and environment variables
  update PROVIDER ID field=value ...  updates one user
  bulk PROVIDER FILE                  updates the users of a CSV, JSON lines or JSON array file (- reads stdin)
  import DOCUMENT OPERATION           a provider file from a vendor's OpenAPI document; describe,
                                      update and bulk take --openapi DOCUMENT --operation OP instead
                                      of a provider
  help [COMMAND]                      this text, or a command's (also: COMMAND --help)
  --version                           the version

]] .. ENVIRONMENT .. "\n\n" .. EXIT_CODES .. "\n"

_M.USAGE.import, _M.import = require("users.cli.import").USAGE, require("users.cli.import").HELP

_M.providers = _M.USAGE.providers .. "\n\nThe providers, one a line: name and title.\n\n" .. EXIT_CODES .. "\n"

_M.describe = _M.USAGE.describe .. [[


A provider's request, id format, fields with their rules (types, lengths,
formats, enums, nullability), and the environment variables it reads.

]] .. EXIT_CODES .. "\n"

_M.update = _M.USAGE.update .. [[


Updates one user. Each field=value is converted by the field's declared type,
as a CSV cell is: empty leaves it alone, null is null, booleans true/false,
1/0, yes/no; integers; arrays a;b;c or a JSON array ([1,2]; [] is empty); a
file field is a path. A name that is a path parameter (lancepilot's
workspace=UUID) goes into the id. On success the user as the provider
returned it is printed as JSON on stdout.

options:
  --json OBJECT            fields as a JSON object, e.g. '{"role":"admin","account_scopes":[]}'
  --base-url URL           the provider's base URL (default: PROVIDER_BASE_URL, else the provider's own)
  --retries N              retries of transport errors, 429 and 5xx (default 0)
  --rate R                 the account's ceiling: at most R requests a second, shared
                           through --budget (waits for its slot)
  --budget URL             where the account's budget lives: local (default) or
                           redis://HOST:PORT[/DB], shared by every host that names it
  --timeout S              seconds for the whole request (default 30)
  --http VERSION           auto (default: HTTP/2 where the server offers it over TLS),
                           1.1, or h2c (HTTP/2 without TLS, for gateways that speak it)
]] .. TLS_OPTIONS .. [[

]] .. AMBIGUOUS .. [[

  --dry-run                print the request that would be sent, credentials redacted; send
                           nothing at all (not even a token request)
  --verbose                one line per request on stderr: method, path, status, protocol,
                           attempt, time
  -h, --help               this text

]] .. ENVIRONMENT .. "\n\n" .. [[
exit codes:
  0    updated (or, with --dry-run, valid)
  1    refused (invalid), or failed (HTTP error, network, not JSON)
  2    usage or configuration error: nothing was sent
  130  interrupted (SIGINT, SIGTERM)
]]

_M.bulk = _M.USAGE.bulk .. [[


Updates every user listed in FILE (- reads standard input), concurrently and
under a rate, retrying what may pass on a second try. The rows that fail go
to a failures file in FILE's own format, each with its error, ready to be
fixed and fed back in. A journal records every confirmed update; a rerun
skips exactly those, in any order, so an interrupted run resumes where it
stopped. After a run that stopped early, the one command to run next is
printed.

options:
  --format csv|jsonl|json  the input's format (default: from the name, else its first byte:
                           [ a JSON array, { JSON lines, else CSV)
  --delimiter C            the CSV separator: , ; tab | or any one character (default: a first
                           line sep=C, else the one the header holds most of)
  --concurrency N          requests in flight (default 8)
  --rate R                 at most R requests a second (default: no limit)
  --budget URL             where the account's rate and pauses live: local (default) or
                           redis://HOST:PORT[/DB], shared with every host that names it
  --retries N              retries of transport errors, 429 and 5xx (default 3)
  --journal FILE           the journal (default: FILE.journal, or stdin.journal for -, removed
                           when a run ends with every item attempted and every file written,
                           kept when it stops early); one run at a time: a second is refused
  --no-journal             keep no journal
  --failures FILE          the failed rows (default: FILE without its extension +
                           .failures.csv or .failures.jsonl; .dry-run.failures.* in a dry run;
                           stdin.failures.* for -); a run without failures removes the old one
  --max-auth-failures N    stop after N answers 401/403 in a row (default 5; 0: never)
  --max-connection-failures N
                           stop after N rows in a row that could not reach the server or the
                           budget store (connect, DNS, TLS; default 5; 0: never)
  --base-url URL           the provider's base URL (default: PROVIDER_BASE_URL)
  --timeout S              seconds per request (default 30)
  --http VERSION           auto (default: HTTP/2 where the server offers it over TLS,
                           the run's requests multiplexed on one connection), 1.1, or
                           h2c (HTTP/2 without TLS, for gateways that speak it)
]] .. TLS_OPTIONS .. [[

]] .. AMBIGUOUS .. [[

  --resend-unknown         send the rows an earlier run left with an unknown outcome (its journal
                           holds them as unknown; its failures file marks them unknown_outcome:);
                           by default they are held back, counted as failed, and said
  --dry-run                validate every row and print each request (one line each;
                           with --verbose, whole); send nothing, write no journal
  --verbose                one line per request on stderr: method, path, status, protocol,
                           attempt, time
  --progress-interval S    seconds between progress lines when stderr is not a terminal (default 5)
  -h, --help               this text

input:
  UTF-8 text only (a UTF-8 BOM is ignored): UTF-16, UTF-32 and Windows-1252 or
  Latin-1 files are refused before anything is sent, naming the encoding (from a
  pipe, a line that is not UTF-8 past the first 64 KiB stops the run there).
  A file is read once to count its rows, then again; a pipe or - is read once,
  its rows not counted. A record (a row, a JSON line or element) longer than
  1 MiB is refused with its line numbers, and memory stays flat.
  CSV (RFC 4180, as spreadsheets save it): a header row naming `id` and the
  provider's fields (see describe); columns starting with _ are ignored (the
  failures file's _error), and a path parameter column (lancepilot's workspace)
  joins the id. A row with more or fewer cells than the header is refused with
  its line number. Quoted cells are kept byte for byte (a CRLF in one stays a
  CRLF). Cells are converted by the field's type: empty = leave the field
  alone, null = null, booleans true/false, 1/0, yes/no, integers, arrays a;b;c
  (quoted or not; with the ; separator, quote them) or a JSON array, which CSV
  needs quoted: "[1,2]" ([] is empty), an object a JSON object ({"a":1},
  quoted in CSV), a file is its path. Ids stay exactly as
  written (leading zeros, long digits) unless the provider's id is an integer.
  JSON lines: one object a line, {"id": ..., "fields": {...}} or
  {"id": ..., "field": value, ...}; keys starting with _ are ignored. A line
  that is not JSON is copied to the failures file verbatim, after a note with
  its error. JSON (a .json file or --format json): one array of such objects;
  its failures file is JSON lines.

Ctrl-C (or SIGTERM) stops taking rows, lets the requests in flight finish,
writes the journal and prints the command that resumes; a second Ctrl-C
abandons the requests in flight (listed apart: they may have been applied).

]] .. ENVIRONMENT .. "\n\n" .. EXIT_CODES .. "\n"

return _M
