# lua-users: build, test and install the C core and the Lua module.
#   make [LUA=5.4|5.3|5.2|5.1|jit]  build src/ into users/core.so, src/cli/ into users/cli_core.so
#   make test                    busted suite against loopback fake providers
#   make valgrind                the suite under valgrind, but the specs whose C runs outside it
#   make valgrind-full           the whole suite under valgrind
#   make asan                    the same suite on a core built with ASan and UBSan
#   make prism                   Prism (an OpenAPI validator from npm) judges the requests built for
#                                the vendor and seed documents (spec/openapi_prism.lua)
#   make fuzz [FUZZ_TIME=60]     each libFuzzer harness of fuzz/ for FUZZ_TIME seconds
#   make install [PREFIX=...]    install into LUA_CMOD / LUA_LMOD, and PREFIX/bin/lua-users
#   make doc                     the API reference (LDoc) into doc/
LUA ?= 5.4

ifeq ($(LUA),jit)
LUA_BIN ?= luajit
LUA_INC ?= $(shell pkg-config --cflags luajit 2>/dev/null || echo -I/usr/include/luajit-2.1)
LUA_ABI = 5.1
else
LUA_BIN ?= lua$(LUA)
LUA_INC ?= -I/usr/include/lua$(LUA)
LUA_ABI = $(LUA)
endif

PREFIX ?= /usr/local
LUA_CMOD ?= $(PREFIX)/lib/lua/$(LUA_ABI)
LUA_LMOD ?= $(PREFIX)/share/lua/$(LUA_ABI)

CC ?= cc
CFLAGS ?= -O2 -g
# Only luaopen_users_core is exported, and calls into liblua skip the PLT:
# both make the per-request C paths a little shorter.
CODEGEN := -fvisibility=hidden $(shell $(CC) -fno-plt -Werror -x c -c /dev/null -o /dev/null 2>/dev/null && echo -fno-plt)
# getentropy (glibc 2.25, musl 1.1.20, the BSDs, macOS 10.12): where the C
# library lacks it, multipart boundaries read /dev/urandom instead
# (src/encode_multipart.c). A build without this probe (the rockspec)
# assumes it is there.
CODEGEN += $(shell printf '\043define _DEFAULT_SOURCE\n\043include <unistd.h>\nint main(void) { char b[1]; return getentropy(b, 1); }\n' | \
  $(CC) -std=c99 -Werror -x c - -o /dev/null 2>/dev/null || echo -DUSERS_NO_GETENTROPY)
WARN = -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CURL_CFLAGS ?= $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS ?= $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
PCRE2_CFLAGS ?= $(shell pkg-config --cflags libpcre2-8 2>/dev/null)
PCRE2_LIBS ?= $(shell pkg-config --libs libpcre2-8 2>/dev/null || echo -lpcre2-8)
# libyaml reads OpenAPI documents written in YAML (src/yaml.c).
YAML_LIBS ?= $(shell pkg-config --libs yaml-0.1 2>/dev/null || echo -lyaml)
LDFLAGS ?=

BUILD = build/$(LUA)
SRCS = $(wildcard src/*.c)
OBJS = $(SRCS:src/%.c=$(BUILD)/%.o)
CORE = $(BUILD)/users/core.so
# users.cli_core: the C of the command and of bulk runs' files (src/cli/, and src/compat.c), no libcurl.
CLI_SRCS = $(wildcard src/cli/*.c)
CLI_OBJS = $(CLI_SRCS:src/cli/%.c=$(BUILD)/cli/%.o) $(BUILD)/compat.o
CLI_CORE = $(BUILD)/users/cli_core.so

BUSTED_LUA = $(if $(filter jit,$(LUA)),luajit,lua$(LUA))

.PHONY: all test valgrind valgrind-full asan fuzz install clean deps demo bench check timezones doc pack soak prism

all: $(CORE) $(CLI_CORE)

$(BUILD)/%.o: src/%.c src/*.h
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(CODEGEN) $(WARN) -fPIC $(LUA_INC) $(CURL_CFLAGS) $(PCRE2_CFLAGS) -c $< -o $@

$(CORE): $(OBJS)
	@mkdir -p $(BUILD)/users
	$(CC) -shared $(LDFLAGS) -o $@ $(OBJS) $(CURL_LIBS) $(PCRE2_LIBS) $(YAML_LIBS)

$(BUILD)/cli/%.o: src/cli/%.c src/cli/*.h src/compat.h
	@mkdir -p $(BUILD)/cli
	$(CC) $(CFLAGS) $(CODEGEN) $(WARN) -fPIC $(LUA_INC) -c $< -o $@

$(CLI_CORE): $(CLI_OBJS)
	@mkdir -p $(BUILD)/users
	$(CC) -shared $(LDFLAGS) -o $@ $(CLI_OBJS)

# The suite finds the module in the tree: lua/ for Lua, build/$(LUA)/ for C.
TEST_ENV = LUA_USERS_CPATH="$(CURDIR)/$(BUILD)/?.so" LUA_USERS_BUILD="$(CURDIR)/$(BUILD)"

test: deps all
	$(TEST_ENV) scripts/busted.sh --lua=$(BUSTED_LUA) -o utfTerminal spec

# spec/support/valgrind-lua runs the interpreter under valgrind: busted's,
# and the child Luas of spec/examples_spec.lua (LUA_USERS_VALGRIND_CHILDREN:
# every example, the demo with the command's describe, update and bulk runs;
# not the fakes' self-check, plain Lua); the command's own specs start theirs plain (under
# valgrind they would take half an hour), as nginx's LuaJIT, curl and the
# shells run. Each process writes what valgrind finds to build/valgrind/,
# and any error there fails the run. The specs read VALGRIND_LUA and
# LUA_USERS_VALGRIND to make their largest loops smaller.
#
# make valgrind runs every spec but those whose C never runs in a process
# valgrind watches, and whose time there is waiting or plain programs
# (SPECS=... picks others; make valgrind-full runs them all):
VALGRIND_SKIP += spec/install_spec.lua       # luarocks builds and runs a plain rock
VALGRIND_SKIP += spec/cli_ldoc_spec.lua      # LDoc reads the docs: no C
VALGRIND_SKIP += spec/cli_spec.lua           # the command, in plain child Luas (examples_spec runs it under valgrind)
VALGRIND_SKIP += spec/cli_input_spec.lua     # the same: the command's input, in plain child Luas
VALGRIND_SKIP += spec/cli_stops_spec.lua     # the same: the command's stops and messages
VALGRIND_SKIP += spec/cli_tty_spec.lua       # the same, on a terminal
VALGRIND_SKIP += spec/import_spec.lua        # the same: the command's --import
VALGRIND_SKIP += spec/cli_outcomes_spec.lua  # the same: the command's outcomes
VALGRIND_SKIP += spec/nginx_host_spec.lua    # the specs' nginx harness: shells, nginx and curl
VALGRIND_SKIP += spec/budget_nginx_spec.lua  # nginx workers (plain LuaJIT core) waiting on rate limits
VALGRIND_SKIP += spec/observe_nginx_spec.lua # the C core inside nginx, outside valgrind
VALGRIND_SKIP += spec/nginx_transport_spec.lua # the cosocket transport, inside nginx
VALGRIND_SKIP += spec/nginx_spec.lua         # examples/nginx inside nginx (libcurl's side: transport_spec)
VALGRIND_SPECS = $(filter-out $(VALGRIND_SKIP),$(sort $(wildcard spec/*_spec.lua)))
VALGRIND_LOGS = $(CURDIR)/build/valgrind
VALGRIND_ERRORS = '^==[0-9]+== (Invalid |Conditional jump|Use of uninitialised|Syscall param|Mismatched|Source and destination|.* definitely lost)'
valgrind: deps all
	@rm -rf $(VALGRIND_LOGS) && mkdir -p $(VALGRIND_LOGS)
	@status=0; $(TEST_ENV) VALGRIND_LUA=$(BUSTED_LUA) VALGRIND_LOGS=$(VALGRIND_LOGS) LUA_USERS_VALGRIND=1 \
	  LUA_USERS_VALGRIND_CHILDREN=$(CURDIR)/spec/support/valgrind-lua \
	  scripts/busted.sh --lua=spec/support/valgrind-lua -o utfTerminal \
	  $(if $(filter file,$(origin SPECS)),$(VALGRIND_SPECS),$(SPECS)) || status=$$?; \
	if grep -Eq $(VALGRIND_ERRORS) $(VALGRIND_LOGS)/*.log 2>/dev/null; then \
	  grep -El $(VALGRIND_ERRORS) $(VALGRIND_LOGS)/*.log | xargs cat; echo "0 passed, 1 failed"; exit 1; \
	fi; exit $$status

valgrind-full:
	@$(MAKE) -s valgrind SPECS=spec

# Prism (@stoplight/prism-cli, pinned by scripts/prism/package-lock.json and
# installed into build/prism by scripts/prism.sh) mocks each OpenAPI document
# and judges every valid request the specs build for it. Its start-up takes
# seconds a document: this runs once per test command, not in every run
# (spec/openapi_prism.lua does not end in _spec).
prism: deps all
	@scripts/prism.sh >/dev/null
	$(TEST_ENV) scripts/busted.sh --lua=$(BUSTED_LUA) -o utfTerminal --pattern=_prism spec

# The core built with AddressSanitizer and UndefinedBehaviorSanitizer (every
# UB check fatal; ASAN_CC=gcc works too), the suite (SPECS) run on it with
# the collector at its most aggressive (ASAN_GC, read by spec/support/helper.lua).
# The runtime lives only in spec/support/asan_lua.c's interpreter, linked
# against the system's liblua5.4: the specs' child interpreters are that one
# too (LUA_USERS_LUA), their shells, curl and nginx plain programs. Every
# process writes what it finds to build/asan/reports/, and any report fails
# the run: an error in a child whose output no spec reads counts as well.
# Leaks count (spec/support/lsan.supp lists what is not one).
# Without SPECS, every spec but these two, whose time goes to what ASan does
# not watch (SPECS=spec runs them too):
ASAN_SKIP += spec/install_spec.lua      # luarocks builds and runs a plain, uninstrumented rock
ASAN_SKIP += spec/budget_nginx_spec.lua # nginx workers (plain LuaJIT core) waiting on rate limits
ASAN_SPECS = $(filter-out $(ASAN_SKIP),$(sort $(wildcard spec/*_spec.lua)))
ASAN_CC ?= clang
ASAN_GC ?= aggressive
SPECS ?= spec
ASAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
ASAN_BUILD = build/asan
ASAN_LUA = $(ASAN_BUILD)/lua
ASAN_REPORTS = $(CURDIR)/$(ASAN_BUILD)/reports
ASAN_ENV = LUA_USERS_CPATH="$(CURDIR)/$(ASAN_BUILD)/?.so" LUA_USERS_BUILD="$(CURDIR)/$(ASAN_BUILD)" \
  LUA_USERS_LUA="$(CURDIR)/$(ASAN_LUA)" LUA_USERS_GC=$(ASAN_GC) \
  ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:exitcode=86:strict_string_checks=1:quarantine_size_mb=8:detect_stack_use_after_return=0:log_path=$(ASAN_REPORTS)/asan" \
  LSAN_OPTIONS="suppressions=$(CURDIR)/spec/support/lsan.supp:print_suppressions=0" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$(ASAN_REPORTS)/ubsan"

$(ASAN_LUA): spec/support/asan_lua.c
	@mkdir -p $(ASAN_BUILD)
	$(ASAN_CC) -O1 -g $(ASAN_FLAGS) $(WARN) -I/usr/include/lua5.4 $< -o $@ -Wl,--export-dynamic-symbol=dlclose -llua5.4

asan: deps $(ASAN_LUA)
	@$(MAKE) -s LUA=5.4 BUILD=$(ASAN_BUILD) CC=$(ASAN_CC) CFLAGS="-O1 -g $(ASAN_FLAGS)" LDFLAGS="$(ASAN_FLAGS)" all
	@rm -rf $(ASAN_REPORTS) && mkdir -p $(ASAN_REPORTS)
	@status=0; $(ASAN_ENV) scripts/busted.sh --lua=$(CURDIR)/$(ASAN_LUA) -o utfTerminal \
	  $(if $(filter file,$(origin SPECS)),$(ASAN_SPECS),$(SPECS)) || status=$$?; \
	if ls $(ASAN_REPORTS)/* >/dev/null 2>&1; then \
	  cat $(ASAN_REPORTS)/*; echo "sanitizer reports: $$(ls $(ASAN_REPORTS) | wc -l)"; echo "0 passed, 1 failed"; exit 1; \
	fi; exit $$status

# libFuzzer harnesses (fuzz/README): the core's objects built again with
# clang's fuzzer instrumentation, ASan and UBSan, each harness linked with
# them, the system's liblua5.4 and libcurl. Each runs FUZZ_TIME seconds
# (fuzz/run.sh), one after another: the machine's cores are shared.
FUZZ_TIME ?= 60
FUZZ_TARGETS = json_decode json_writers form url headers schema yaml
FUZZ_CC ?= clang
FUZZ_BUILD = build/fuzz
FUZZ_FLAGS = -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_OBJS = $(SRCS:src/%.c=$(FUZZ_BUILD)/obj/%.o)

$(FUZZ_BUILD)/obj/%.o: src/%.c src/*.h
	@mkdir -p $(FUZZ_BUILD)/obj
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(WARN) -I/usr/include/lua5.4 $(CURL_CFLAGS) $(PCRE2_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/%.o: fuzz/%.c fuzz/fuzz.h src/*.h
	@mkdir -p $(FUZZ_BUILD)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(WARN) -Isrc -I/usr/include/lua5.4 -c $< -o $@

$(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%): $(FUZZ_BUILD)/%: $(FUZZ_BUILD)/%.o $(FUZZ_BUILD)/fuzz.o $(FUZZ_OBJS)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $^ -o $@ -llua5.4 $(CURL_LIBS) $(PCRE2_LIBS) $(YAML_LIBS)

fuzz: deps $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%)
	@status=0; for t in $(FUZZ_TARGETS); do fuzz/run.sh $$t $(FUZZ_TIME) || status=1; done; exit $$status

# The fault soak at full size (the suite runs it with 1 000): SOAK=N items.
SOAK ?= 10000
soak: deps all
	$(TEST_ENV) LUA_USERS_SOAK=$(SOAK) scripts/busted.sh --lua=$(BUSTED_LUA) -o utfTerminal spec/soak_spec.lua

# Installs the Debian packages the build, tests and demo need, if missing.
deps:
	@scripts/deps.sh

demo: deps all
	$(TEST_ENV) $(LUA_BIN) examples/demo.lua

# Twenty figures (bench/run.lua), each a ratio against a peer or a limit measured in the same run.
bench: deps all
	$(TEST_ENV) $(LUA_BIN) bench/run.lua

# bin/lua-users gets the interpreter it was built for in its first line, and
# where the module is (LUA_LMOD, LUA_CMOD), which it loads first.
install: all
	install -d $(DESTDIR)$(LUA_CMOD)/users $(DESTDIR)$(LUA_LMOD)/users/providers \
	  $(DESTDIR)$(LUA_LMOD)/users/transport $(DESTDIR)$(LUA_LMOD)/users/budget \
	  $(DESTDIR)$(LUA_LMOD)/users/cli $(DESTDIR)$(LUA_LMOD)/users/openapi $(DESTDIR)$(LUA_LMOD)/users/scim \
	  $(DESTDIR)$(LUA_LMOD)/users/journal $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(CORE) $(DESTDIR)$(LUA_CMOD)/users/core.so
	install -m 755 $(CLI_CORE) $(DESTDIR)$(LUA_CMOD)/users/cli_core.so
	install -m 644 lua/users.lua $(DESTDIR)$(LUA_LMOD)/users.lua
	install -m 644 lua/users/*.lua $(DESTDIR)$(LUA_LMOD)/users/
	install -m 644 lua/users/providers/*.lua $(DESTDIR)$(LUA_LMOD)/users/providers/
	for doc in lua/users/providers/*/openapi.yaml; do \
	  d=$$(dirname $$doc | sed 's|^lua/||'); install -d $(DESTDIR)$(LUA_LMOD)/$$d; \
	  install -m 644 $$doc $(DESTDIR)$(LUA_LMOD)/$$d/; done
	install -m 644 lua/users/transport/*.lua $(DESTDIR)$(LUA_LMOD)/users/transport/
	install -m 644 lua/users/budget/*.lua $(DESTDIR)$(LUA_LMOD)/users/budget/
	install -m 644 lua/users/cli/*.lua $(DESTDIR)$(LUA_LMOD)/users/cli/
	install -m 644 lua/users/openapi/*.lua $(DESTDIR)$(LUA_LMOD)/users/openapi/
	install -m 644 lua/users/scim/*.lua $(DESTDIR)$(LUA_LMOD)/users/scim/
	install -m 644 lua/users/journal/*.lua $(DESTDIR)$(LUA_LMOD)/users/journal/
	sed -e '1s|.*|#!/usr/bin/env $(LUA_BIN)|' \
	  -e 's|^local LMOD, CMOD = nil, nil$$|local LMOD, CMOD = "$(LUA_LMOD)", "$(LUA_CMOD)"|' \
	  bin/lua-users > $(DESTDIR)$(PREFIX)/bin/lua-users
	chmod 755 $(DESTDIR)$(PREFIX)/bin/lua-users

check:
	luacheck lua spec examples bench bin

# A source rock of the checkout's HEAD: the rockspec with its source
# pointed at this clone (luarocks make ignores the source; pack fetches it).
ROCKSPEC = $(wildcard lua-users-*.rockspec)
pack:
	@mkdir -p build/pack
	sed 's|^  url = .*|  url = "git+file://$(CURDIR)",|' $(ROCKSPEC) > build/pack/$(ROCKSPEC)
	cd build/pack && luarocks --lua-version $(LUA_ABI) pack $(ROCKSPEC)

# LDoc runs on Lua 5.1 here: Debian's markdown.lua is packaged for it.
doc: deps
	lua5.1 /usr/bin/ldoc --fatalwarnings .

# lua/users/timezones.lua from tzdata: the zones PHP lists, plus UTC.
timezones:
	{ echo '-- IANA time zone identifiers as PHP lists them (timezone_identifiers_list):'; \
	  echo "-- the zones of tzdata's zone.tab, plus UTC. Generated by"; \
	  echo '-- `make timezones` from /usr/share/zoneinfo/zone.tab; exact, case-sensitive.'; \
	  echo 'return {'; \
	  { grep -v '^#' /usr/share/zoneinfo/zone.tab | cut -f3; echo UTC; } | LC_ALL=C sort -u | sed 's/.*/  "&",/'; \
	  echo '}'; } > lua/users/timezones.lua

clean:
	rm -rf build users src/*.o src/cli/*.o
