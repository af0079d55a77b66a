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
        "src/encode_json.c", "src/encode_multipart.c", "src/engine.c", "src/file_info.c",
        "src/form.c", "src/formats.c", "src/headers.c", "src/json_write.c", "src/marshal.c",
        "src/numbers.c", "src/pattern.c", "src/provider.c", "src/rules.c", "src/schema.c",
        "src/sys.c", "src/transfer.c", "src/users_core.c", "src/validate.c",
        "src/values.c", "src/yaml.c",
      },
      -- libcurl, PCRE2 and libyaml from the system (Debian: libcurl4-openssl-dev,
      -- libpcre2-dev and libyaml-dev, whose headers sit where the compiler
      -- searches); libyaml reads OpenAPI documents written in YAML.
      libraries = { "curl", "pcre2-8", "yaml" },
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
    ["users.budget.stores"] = "lua/users/budget/stores.lua",
    ["users.account"] = "lua/users/account.lua",
    ["users.check"] = "lua/users/check.lua",
    ["users.deadline"] = "lua/users/deadline.lua",
    ["users.events"] = "lua/users/events.lua",
    ["users.lifecycle"] = "lua/users/lifecycle.lua",
    ["users.log"] = "lua/users/log.lua",
    ["users.metrics"] = "lua/users/metrics.lua",
    ["users.plan"] = "lua/users/plan.lua",
    ["users.report"] = "lua/users/report.lua",
    ["users.secrets"] = "lua/users/secrets.lua",
    ["users.ambiguous"] = "lua/users/ambiguous.lua",
    ["users.shapes"] = "lua/users/shapes.lua",
    ["users.tokens"] = "lua/users/tokens.lua",
    ["users.trace"] = "lua/users/trace.lua",
    ["users.cli"] = "lua/users/cli.lua",
    ["users.cli.args"] = "lua/users/cli/args.lua",
    ["users.cli.bulk"] = "lua/users/cli/bulk.lua",
    ["users.cli.config"] = "lua/users/cli/config.lua",
    ["users.cli.convert"] = "lua/users/cli/convert.lua",
    ["users.cli.csv"] = "lua/users/cli/csv.lua",
    ["users.cli.describe"] = "lua/users/cli/describe.lua",
    ["users.cli.import"] = "lua/users/cli/import.lua",
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
    ["users.security"] = "lua/users/security.lua",
    ["users.openapi"] = "lua/users/openapi.lua",
    ["users.openapi.body"] = "lua/users/openapi/body.lua",
    ["users.openapi.context"] = "lua/users/openapi/context.lua",
    ["users.openapi.flatten"] = "lua/users/openapi/flatten.lua",
    ["users.openapi.keywords"] = "lua/users/openapi/keywords.lua",
    ["users.openapi.operation"] = "lua/users/openapi/operation.lua",
    ["users.openapi.overlay"] = "lua/users/openapi/overlay.lua",
    ["users.openapi.pointer"] = "lua/users/openapi/pointer.lua",
    ["users.openapi.read"] = "lua/users/openapi/read.lua",
    ["users.openapi.schema"] = "lua/users/openapi/schema.lua",
    ["users.openapi.security"] = "lua/users/openapi/security.lua",
    ["users.response"] = "lua/users/response.lua",
    ["users.scim.check"] = "lua/users/scim/check.lua",
    ["users.scim.discovery"] = "lua/users/scim/discovery.lua",
    ["users.scim.errors"] = "lua/users/scim/errors.lua",
    ["users.scim.fields"] = "lua/users/scim/fields.lua",
    ["users.scim.merge"] = "lua/users/scim/merge.lua",
    ["users.scim.patch"] = "lua/users/scim/patch.lua",
    ["users.scim.schema"] = "lua/users/scim/schema.lua",
    ["users.scim.steps"] = "lua/users/scim/steps.lua",
    ["users.scim.version"] = "lua/users/scim/version.lua",
    ["users.timezones"] = "lua/users/timezones.lua",
    ["users.version"] = "lua/users/version.lua",
    ["users.transport"] = "lua/users/transport.lua",
    ["users.transport.curl"] = "lua/users/transport/curl.lua",
    ["users.transport.nginx"] = "lua/users/transport/nginx.lua",
    ["users.transport.nginx_read"] = "lua/users/transport/nginx_read.lua",
    ["users.providers.activepieces"] = "lua/users/providers/activepieces.lua",
    ["users.providers.generic"] = "lua/users/providers/generic.lua",
    ["users.providers.lancepilot"] = "lua/users/providers/lancepilot.lua",
    ["users.providers.lexful"] = "lua/users/providers/lexful.lua",
    ["users.providers.paradigm"] = "lua/users/providers/paradigm.lua",
    ["users.providers.scim"] = "lua/users/providers/scim.lua",
  },
  -- The command; luarocks writes its own interpreter into the first line.
  install = {
    bin = { ["lua-users"] = "bin/lua-users" },
    -- The seed providers' vendor documents, each beside its provider file
    -- (users/providers/NAME/openapi.yaml), where it is read at run time.
    lua = {
      ["users.providers.activepieces"] = "lua/users/providers/activepieces/openapi.yaml",
      ["users.providers.lancepilot"] = "lua/users/providers/lancepilot/openapi.yaml",
      ["users.providers.lexful"] = "lua/users/providers/lexful/openapi.yaml",
      ["users.providers.paradigm"] = "lua/users/providers/paradigm/openapi.yaml",
    },
  },
}
