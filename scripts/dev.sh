#!/bin/sh
# The README's commands: installs what is missing (Debian packages), builds,
# then runs the demo or the tests.
#   sh scripts/dev.sh demo          updates a user on every provider (fake servers)
#   sh scripts/dev.sh test          luacheck and the API reference (LDoc, warnings fail),
#                                   then the suite on Lua 5.4, Prism's judgement of the
#                                   requests built for OpenAPI documents (once, on 5.4),
#                                   the suite on 5.3, 5.2, 5.1 and LuaJIT,
#                                   on ASan + UBSan (and the core's specs again with the
#                                   collector at its most aggressive), then under valgrind,
#                                   then each fuzzer of fuzz/ for FUZZ_TIME seconds (5)
#   sh scripts/dev.sh test 5.4      the suite on one Lua (5.4, 5.3, 5.2, 5.1, jit), or
#                                   one of prism, asan, valgrind, fuzz
set -e
cd "$(dirname "$0")/.."
sh scripts/deps.sh
target=${1:-test}

if [ "$target" != test ]; then
  exec make -s "$target" LUA="${2:-5.4}"
fi

# Every run ends with "N passed, N failed[, N skipped]"; the last line adds
# them up, skipped specs included (a skipped spec never counts as passed).
log=$(mktemp)
trap 'rm -f "$log" "$log.prism"' EXIT
runs=${2:-"5.4 prism 5.3 5.2 5.1 jit asan valgrind fuzz"}
# Prism's install (npm ci, a first time only) waits on the network, not on
# the cores: it runs beside luacheck, LDoc and the runs before the prism
# run, which waits for it.
prism_pid=""
case " $runs " in
*" prism "*) scripts/prism.sh >"$log.prism" 2>&1 & prism_pid=$! ;;
esac

luacheck --no-color --quiet lua spec examples bench bin
make -s doc >/dev/null

# The specs that drive the C core hardest, for the pass with the collector at
# its most aggressive (the whole suite so would take too long for CI).
GC_SPECS="spec/core_spec.lua spec/json_spec.lua spec/validation_spec.lua spec/wire_spec.lua spec/lent_body_spec.lua"
for run in $runs; do
  echo "== $run"
  case $run in
  valgrind) { make -s valgrind LUA=5.4 || echo "0 passed, 1 failed"; } | tee -a "$log" ;;
  prism)
    # a failed install is tried again, and reported, by make prism
    if [ -n "$prism_pid" ] && ! wait "$prism_pid"; then cat "$log.prism"; fi
    { make -s prism LUA=5.4 || echo "0 passed, 1 failed"; } | tee -a "$log" ;;
  asan)
    { make -s asan ASAN_GC=normal || echo "0 passed, 1 failed"; } | tee -a "$log"
    { make -s asan SPECS="$GC_SPECS" || echo "0 passed, 1 failed"; } | tee -a "$log" ;;
  # one "N passed, N failed" line per fuzzer
  fuzz) { make -s fuzz FUZZ_TIME="${FUZZ_TIME:-5}" || echo "0 passed, 1 failed"; } | tee -a "$log" ;;
  *) { make -s test LUA="$run" || echo "0 passed, 1 failed"; } | tee -a "$log" ;;
  esac
done
# A run that broke before its summary counts as one failure (echo above).
awk '/^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$/ { p += $1; f += $3; s += $5 }
     END { print p " passed, " f " failed, " s " skipped"; exit (f > 0 || p == 0) }' "$log"
