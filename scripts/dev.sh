#!/bin/sh
# The README's commands: installs what is missing (Debian packages), builds,
# then runs the demo or the tests.
#   sh scripts/dev.sh demo          updates a user on every provider (fake servers)
#   sh scripts/dev.sh test [LUA]    the whole busted suite (LUA: 5.4, 5.3, 5.1, jit)
#   sh scripts/dev.sh valgrind      the suite under valgrind
set -e
cd "$(dirname "$0")/.."
sh scripts/deps.sh
target=${1:-test}
lua=${2:-5.4}
exec make -s "$target" LUA="$lua"
