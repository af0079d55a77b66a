#!/bin/sh
# Runs busted with the given arguments and ends with the one summary line
# CI reads, "N passed, N failed". Exits with busted's own status.
out=$(mktemp)
rc=$(mktemp)
trap 'rm -f "$out" "$rc"' EXIT
{ busted "$@" 2>&1; echo $? > "$rc"; } | tee "$out"
status=$(cat "$rc")
line=$(sed 's/\x1b\[[0-9;]*m//g' "$out" | grep -E '[0-9]+ success(es)? / [0-9]+ failures? / [0-9]+ errors?' | tail -n 1)
if [ -n "$line" ]; then
  echo "$line" | awk '{ print $1 " passed, " ($4 + $7) " failed" }'
else
  echo "0 passed, 1 failed"
  [ "$status" = 0 ] && status=1
fi
exit "$status"
