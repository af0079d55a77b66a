#!/bin/sh
# Installs Prism (@stoplight/prism-cli from npm), the independent OpenAPI
# validator the specs send requests through, into build/prism: the version
# scripts/prism/package.json pins, every dependency as its package-lock.json
# says (npm ci). Does nothing when that install is already there. Prints the
# path of the prism command. Needs node >= 18.20 and npm (scripts/deps.sh
# installs Debian's).
set -e
cd "$(dirname "$0")/.."
dir=build/prism
bin=$dir/node_modules/.bin/prism
if [ -x "$bin" ] && cmp -s scripts/prism/package-lock.json "$dir/installed.lock"; then
  echo "$PWD/$bin"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "prism.sh: npm is missing; sh scripts/deps.sh installs node and npm" >&2
  exit 1
fi
# Installed beside, then moved into place: an interrupted install leaves no
# half a tree that looks whole.
tmp=$dir.tmp.$$
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp" && mkdir -p "$tmp"
cp scripts/prism/package.json scripts/prism/package-lock.json "$tmp/"
echo "installing Prism into $dir (npm ci)" >&2
(cd "$tmp" && npm ci --no-audit --no-fund --loglevel=error >&2)
cp scripts/prism/package-lock.json "$tmp/installed.lock"
rm -rf "$dir"
mv "$tmp" "$dir"
echo "$PWD/$bin"
