#!/bin/sh
# Installs the Debian 12 packages lua-users needs, when any is missing.
# Needs root (apt-get) only when something has to be installed.
set -e
PACKAGES="make gcc pkg-config ca-certificates curl openssl tzdata
lua5.4 liblua5.4-dev lua5.3 liblua5.3-dev lua5.2 liblua5.2-dev lua5.1 liblua5.1-0-dev
luajit2 libluajit2-5.1-dev libcurl4-openssl-dev libyaml-dev lua-cjson lua-busted luarocks
nginx-light libnginx-mod-http-lua lua-check lua-ldoc lua-markdown valgrind wrk lua-http lua-cqueues nghttp2-client tmux
clang libclang-rt-14-dev llvm
redis-server redis-tools lua-redis lua-socket lua-nginx-redis lua-luaossl
libpcre2-dev"

missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# node (>= 18.20) and npm for Prism, the specs' OpenAPI validator (scripts/prism.sh):
# Debian's, unless a node with its npm is there already.
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
[ -z "$missing" ] && exit 0

echo "installing:$missing" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# clang and libclang-rt-14-dev: make asan and make fuzz (libFuzzer, ASan, UBSan);
# llvm: llvm-symbolizer, which names the lines of a sanitizer's report.
# wrk, lua-http, lua-cqueues and nghttp2-client (h2load): make bench's peers.
# libpcre2-dev: the C core's patterns (ECMA-262 regular expressions, src/pattern.c).
# luajit2 is OpenResty's LuaJIT, the one nginx's Lua module links; Debian's plain
# luajit conflicts with it and must not be installed.
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
