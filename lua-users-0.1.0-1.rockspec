rockspec_format = "3.0"
package = "lua-users"
version = "0.1.0-1"
source = {
  url = "git+file:///dev/null", -- built from a checkout (luarocks make); `make pack` packs it
}
description = {
  summary = "Update users on SaaS APIs from Lua: one call, validated, over libcurl",
  detailed = [[
users.update(provider, id, fields) validates fields against the provider's
API contract, encodes them (JSON, multipart with file upload, form), sends
the request with libcurl and returns the decoded answer or one error shape.
Providers: lancepilot, lexful, generic, activepieces, paradigm. The command
lua-users runs the same from a shell: one update, or a bulk run from a CSV
or JSON lines file with a journal, a failures file and a progress bar.
]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.1, < 5.5",
}
build = {
  type = "builtin",
  modules = {
    ["users.core"] = {
      sources = {
        "src/buf.c", "src/compat.c", "src/decode_json.c", "src/encode_form.c",
        "src/encode_json.c", "src/engine.c", "src/formats.c", "src/headers.c", "src/json_write.c",
        "src/marshal.c", "src/provider.c", "src/sys.c", "src/transfer.c", "src/users_core.c",
        "src/validate.c",
      },
      -- libcurl from the system (Debian: libcurl4-openssl-dev, whose header
      -- sits in the multiarch include directory the compiler searches).
      libraries = { "curl" },
    },
    -- The command's C and bulk runs' files: the terminal, signals, the
    -- journal's digests and lock (src/cli/).
    ["users.cli_core"] = {
      sources = { "src/cli/cli_core.c", "src/cli/digest.c", "src/cli/files.c", "src/cli/term.c", "src/compat.c" },
    },
    users = "lua/users.lua",
    ["users.auth"] = "lua/users/auth.lua",
    ["users.bulk"] = "lua/users/bulk.lua",
    ["users.budget"] = "lua/users/budget.lua",
    ["users.budget.local"] = "lua/users/budget/local.lua",
    ["users.budget.shdict"] = "lua/users/budget/shdict.lua",
    ["users.budget.redis"] = "lua/users/budget/redis.lua",
    ["users.cli"] = "lua/users/cli.lua",
    ["users.cli.args"] = "lua/users/cli/args.lua",
    ["users.cli.bulk"] = "lua/users/cli/bulk.lua",
    ["users.cli.config"] = "lua/users/cli/config.lua",
    ["users.cli.convert"] = "lua/users/cli/convert.lua",
    ["users.cli.csv"] = "lua/users/cli/csv.lua",
    ["users.cli.describe"] = "lua/users/cli/describe.lua",
    ["users.cli.failures"] = "lua/users/cli/failures.lua",
    ["users.cli.help"] = "lua/users/cli/help.lua",
    ["users.cli.hints"] = "lua/users/cli/hints.lua",
    ["users.cli.input"] = "lua/users/cli/input.lua",
    ["users.cli.json"] = "lua/users/cli/json.lua",
    ["users.cli.lines"] = "lua/users/cli/lines.lua",
    ["users.cli.paths"] = "lua/users/cli/paths.lua",
    ["users.cli.request"] = "lua/users/cli/request.lua",
    ["users.cli.source"] = "lua/users/cli/source.lua",
    ["users.cli.summary"] = "lua/users/cli/summary.lua",
    ["users.cli.update"] = "lua/users/cli/update.lua",
    ["users.client"] = "lua/users/client.lua",
    ["users.options"] = "lua/users/options.lua",
    ["users.encodings"] = "lua/users/encodings.lua",
    ["users.errors"] = "lua/users/errors.lua",
    ["users.headers"] = "lua/users/headers.lua",
    ["users.journal"] = "lua/users/journal.lua",
    ["users.journal.lock"] = "lua/users/journal/lock.lua",
    ["users.progress"] = "lua/users/progress.lua",
    ["users.suggest"] = "lua/users/suggest.lua",
    ["users.registry"] = "lua/users/registry.lua",
    ["users.response"] = "lua/users/response.lua",
    ["users.timezones"] = "lua/users/timezones.lua",
    ["users.version"] = "lua/users/version.lua",
    ["users.transport"] = "lua/users/transport.lua",
    ["users.transport.curl"] = "lua/users/transport/curl.lua",
    ["users.transport.nginx"] = "lua/users/transport/nginx.lua",
    ["users.providers.activepieces"] = "lua/users/providers/activepieces.lua",
    ["users.providers.generic"] = "lua/users/providers/generic.lua",
    ["users.providers.lancepilot"] = "lua/users/providers/lancepilot.lua",
    ["users.providers.lexful"] = "lua/users/providers/lexful.lua",
    ["users.providers.paradigm"] = "lua/users/providers/paradigm.lua",
  },
  -- The command; luarocks writes its own interpreter into the first line.
  install = {
    bin = { ["lua-users"] = "bin/lua-users" },
  },
}
