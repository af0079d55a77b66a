# lua-users: build, test and install the C core and the Lua module.
#   make [LUA=5.4|5.3|5.1|jit]   build src/ into users/core.so
#   make test                    busted suite against loopback fake providers
#   make valgrind                the same suite under valgrind
#   make install [PREFIX=...]    install into LUA_CMOD / LUA_LMOD
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
WARN = -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CURL_CFLAGS ?= $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS ?= $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
LDFLAGS ?=

BUILD = build/$(LUA)
SRCS = $(wildcard src/*.c)
OBJS = $(SRCS:src/%.c=$(BUILD)/%.o)
CORE = $(BUILD)/users/core.so

BUSTED ?= busted
BUSTED_LUA = $(if $(filter jit,$(LUA)),luajit,lua$(LUA))

.PHONY: all test valgrind install clean deps demo bench check

all: $(CORE)

$(BUILD)/%.o: src/%.c src/*.h
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS) $(WARN) -fPIC $(LUA_INC) $(CURL_CFLAGS) -c $< -o $@

$(CORE): $(OBJS)
	@mkdir -p $(BUILD)/users
	$(CC) -shared $(LDFLAGS) -o $@ $(OBJS) $(CURL_LIBS)

# The suite finds the module in the tree: lua/ for Lua, build/$(LUA)/ for C.
TEST_ENV = LUA_USERS_CPATH="$(CURDIR)/$(BUILD)/?.so" LUA_USERS_BUILD="$(CURDIR)/$(BUILD)"

test: $(CORE)
	$(TEST_ENV) $(BUSTED) --lua=$(BUSTED_LUA) -o utfTerminal spec

valgrind: $(CORE)
	$(TEST_ENV) LUA_USERS_VALGRIND=1 $(BUSTED) --lua="$(CURDIR)/spec/support/valgrind-lua $(BUSTED_LUA)" -o utfTerminal spec

demo: $(CORE)
	$(TEST_ENV) $(LUA_BIN) examples/demo.lua

install: $(CORE)
	install -d $(DESTDIR)$(LUA_CMOD)/users $(DESTDIR)$(LUA_LMOD)/users/providers
	install -m 755 $(CORE) $(DESTDIR)$(LUA_CMOD)/users/core.so
	install -m 644 lua/users.lua $(DESTDIR)$(LUA_LMOD)/users.lua
	install -m 644 lua/users/*.lua $(DESTDIR)$(LUA_LMOD)/users/
	install -m 644 lua/users/providers/*.lua $(DESTDIR)$(LUA_LMOD)/users/providers/

check:
	luacheck lua spec examples

clean:
	rm -rf build
