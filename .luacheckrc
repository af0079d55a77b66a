-- luacheck: the module, the specs (busted globals), the examples and bench.
std = "max"
max_line_length = 140
files["spec/**/*.lua"] = { std = "+busted" }
files["spec/support/fake/**/*.lua"] = { globals = { "ngx" } }
exclude_files = { "build/**", "lua/users/timezones.lua" }
-- bin/lua-users is a Lua script without the extension.
include_files = { "**/*.lua", "bin/*" }
files["bench/peers/wrk_patch.lua"] = { globals = { "wrk" } } -- wrk's own script global
