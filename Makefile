# sheepmesh: one Makefile for everything. `make help` lists the targets.
#
# Variants build into their own directory: build/release (default) and
# build/asan (AddressSanitizer + UndefinedBehaviorSanitizer).

PREFIX  ?= /usr/local
DESTDIR ?=
VARIANT ?= release
BUILDDIR ?= build/$(VARIANT)
B       := $(BUILDDIR)
JOBS    ?= 2

CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -MMD -MP -D_GNU_SOURCE -pthread -Iinclude -I.
LDLIBS_STORE := -llmdb -lmsgpackc -lsodium -lpthread
LDLIBS_NODE  := -lev
LDLIBS_TEST  := -lcmocka

ifeq ($(VARIANT),asan)
CFLAGS  += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
endif

ifneq ($(V),1)
Q = @
quiet = @printf '  %-6s %s\n' $(1) $(2);
endif

STORE_SRC   := $(wildcard store/*.c)
CORE_SRC    := $(wildcard gossip/*.c)
NODE_SRC    := $(wildcard node/*.c)
CLIENT_SRC  := tools/sdclient.c
TOOL_SRC    := $(filter-out $(CLIENT_SRC),$(wildcard tools/*.c))
UNIT_SRC    := $(wildcard tests/unit/test_*.c)
INTEG_SRC   := $(wildcard tests/integration/test_*.c)
BENCH_SRC   := $(wildcard bench/*.c)
SIM_SRC     := $(wildcard sim/*.c)

obj = $(patsubst %.c,$(B)/%.o,$(1))

LIBSTORE  := $(B)/libsheepstore.a
LIBCORE   := $(B)/libsheepcore.a
LIBCLIENT := $(B)/libsheepclient.a
LIBNODE   := $(B)/libsheepnode.a
CORELIB   := $(if $(CORE_SRC),$(LIBCORE))
SHEEPNODE := $(B)/sheepnode
SHEEPTOOL := $(if $(TOOL_SRC),$(B)/sheeptool)
UNIT_BIN  := $(patsubst %.c,$(B)/%,$(UNIT_SRC))
INTEG_BIN := $(patsubst %.c,$(B)/%,$(INTEG_SRC))
BENCH_BIN := $(patsubst %.c,$(B)/%,$(BENCH_SRC))
LIBSIM    := $(B)/libsheepsim.a
SHEEPSIM  := $(if $(SIM_SRC),$(B)/sheepsim)
LDLIBS_SIM := -lsodium -lmsgpackc -lm

.PHONY: all help deps run check check-unit check-qemu qemu bench test clean install tests check-globals man

# build the daemon, tools, tests and benchmarks (release variant)
all: $(SHEEPNODE) $(SHEEPTOOL) tests $(BENCH_BIN) $(SHEEPSIM)

help:
	@echo "make            build everything (build/release)"
	@echo "make deps       install the Debian packages this needs (apt-get)"
	@echo "make run        deps + build + start sheepnode (port 7000, dir ./data)"
	@echo "make check      unit + integration tests, then again under ASan+UBSan"
	@echo "make check-qemu build QEMU 5.2's sheepdog client if needed, run it against sheepnode;"
	@echo "                then QEMU 7.2 with our driver (qemu-block/), if built"
	@echo "make qemu       build QEMU 7.2 with our sheepdog driver (cached in /var/cache/sheepmesh)"
	@echo "make test       deps + check + check-qemu, one closing 'N passed, N failed'"
	@echo "make bench      benchmarks against a plain file in the same directory"
	@echo "make install    install binaries under \$$PREFIX (default /usr/local)"
	@echo "make man        regenerate doc/sheepnode.8, doc/sheeptool.8, doc/sheepsim.1 from --help"

# install the Debian packages needed to build and test (no-op when present)
deps:
	$(Q)./tests/deps.sh

# deps, build, then start a sheepnode in the foreground on port 7000 with ./data
run: deps
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) $(SHEEPNODE)
	exec $(SHEEPNODE) --dir ./data

tests: $(UNIT_BIN) $(INTEG_BIN) $(SHEEPNODE) $(SHEEPTOOL) $(SHEEPSIM)

# unit + integration tests in release and asan variants; one closing line
check:
	$(Q)rm -f build/results.txt; mkdir -p build
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) VARIANT=release all || echo "release-build 0 1 0" >> build/results.txt
	$(Q)./tests/run.sh build/release build/results.txt || true
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) VARIANT=asan tests || echo "asan-build 0 1 0" >> build/results.txt
	$(Q)./tests/run.sh build/asan build/results.txt || true
	$(Q)./tests/summary.sh build/results.txt

# only the release variant (quick loop while developing)
check-unit:
	$(Q)rm -f build/results.txt
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) VARIANT=release all
	$(Q)./tests/run.sh build/release build/results.txt || true
	$(Q)./tests/summary.sh build/results.txt

# QEMU 5.2 (the real client) against a live sheepnode
# and our own driver in QEMU 7.2 (qemu-block/) when `make qemu` has built it
check-qemu:
	$(Q)rm -f build/results-qemu.txt; mkdir -p build
	$(Q)$(MAKE) --no-print-directory -j$(JOBS) VARIANT=release $(SHEEPNODE)
	$(Q)./tests/qemu/run.sh build/release build/results-qemu.txt || true
	$(Q)./tests/qemu72/run.sh build/release build/results-qemu.txt || true
	$(Q)./tests/summary.sh build/results-qemu.txt

# QEMU 7.2 (Debian's source) with our sheepdog driver, plus the tiny test
# guest; cached in /var/cache/sheepmesh, keyed by the driver's hash, so an
# unchanged driver never rebuilds (first build: about 20 minutes on 2 cores)
qemu:
	$(Q)bash qemu-block/build.sh
	$(Q)bash qemu-block/guest.sh

# README's test command: everything, one closing line for all of it
test: deps
	$(Q)rm -f build/results-all.txt
	$(Q)$(MAKE) --no-print-directory check || true
	$(Q)cat build/results.txt >> build/results-all.txt || echo "check 0 1 0" >> build/results-all.txt
	$(Q)$(MAKE) --no-print-directory qemu || echo "qemu72-build 0 1 0" >> build/results-all.txt
	$(Q)$(MAKE) --no-print-directory check-qemu || true
	$(Q)cat build/results-qemu.txt >> build/results-all.txt || echo "check-qemu 0 1 0" >> build/results-all.txt
	$(Q)echo "== all suites =="
	$(Q)./tests/summary.sh build/results-all.txt

# benchmarks (figures as ratios against a plain file measured in the same run)
bench: all
	$(Q)./bench/run.sh $(B)

# fail if gossip/ objects hold writable global or static state
check-globals: $(LIBCORE)
	$(Q)! nm $(call obj,$(CORE_SRC)) | grep -E ' [bBdD] ' || { echo "writable globals in gossip/"; exit 1; }

# man pages generated from the programs' --help text (doc/mkman.sh); the
# pages are checked in, so run this after changing any help text
man: $(SHEEPNODE) $(SHEEPTOOL) $(SHEEPSIM)
	$(Q)sh doc/mkman.sh $(B) doc

install: $(SHEEPNODE) $(SHEEPTOOL)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(SHEEPNODE) $(SHEEPTOOL) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 doc/sheepnode.8 doc/sheeptool.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 644 doc/sheepsim.1 $(DESTDIR)$(PREFIX)/share/man/man1/

clean:
	rm -rf build

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call quiet,CC,$<)$(CC) $(CFLAGS) -c -o $@ $<

$(LIBSTORE): $(call obj,$(STORE_SRC))
	$(call quiet,AR,$@)rm -f $@ && ar rcs $@ $^

$(LIBCORE): $(call obj,$(CORE_SRC))
	$(call quiet,AR,$@)rm -f $@ && ar rcs $@ $^

$(LIBCLIENT): $(call obj,$(CLIENT_SRC))
	$(call quiet,AR,$@)rm -f $@ && ar rcs $@ $^

$(LIBNODE): $(call obj,$(filter-out node/main.c,$(NODE_SRC)))
	$(call quiet,AR,$@)rm -f $@ && ar rcs $@ $^

$(SHEEPNODE): $(B)/node/main.o $(LIBNODE) $(LIBSTORE) $(CORELIB) $(LIBCLIENT)
	$(call quiet,LD,$@)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_NODE) $(LDLIBS_STORE)

$(B)/sheeptool: $(call obj,$(TOOL_SRC)) $(LIBCLIENT) $(CORELIB)
	$(call quiet,LD,$@)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_STORE)

# the simulator links the same gossip/ring objects as sheepnode (libsheepcore.a)
$(LIBSIM): $(call obj,$(filter-out sim/main.c,$(SIM_SRC)))
	$(call quiet,AR,$@)rm -f $@ && ar rcs $@ $^

$(B)/sheepsim: $(B)/sim/main.o $(LIBSIM) $(LIBCORE)
	$(call quiet,LD,$@)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_SIM)

$(B)/tests/unit/test_sim: $(B)/tests/unit/test_sim.o $(LIBSIM) $(LIBCORE)
	$(call quiet,LD,$@)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_TEST) $(LDLIBS_SIM)

$(B)/tests/unit/test_node_%: $(B)/tests/unit/test_node_%.o $(LIBNODE) $(LIBSTORE) $(CORELIB) $(LIBCLIENT)
	$(call quiet,LD,$@)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_TEST) $(LDLIBS_NODE) $(LDLIBS_STORE)

$(B)/tests/unit/%: $(B)/tests/unit/%.o $(LIBSTORE) $(CORELIB) $(LIBCLIENT)
	$(call quiet,LD,$@)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_TEST) $(LDLIBS_STORE)

$(B)/tests/integration/%: $(B)/tests/integration/%.o $(LIBCLIENT)
	$(call quiet,LD,$@)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_TEST) $(LDLIBS_STORE)

$(B)/bench/%: $(B)/bench/%.o $(CORELIB) $(LIBCLIENT)
	$(call quiet,LD,$@)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS_STORE)

.SECONDARY:

-include $(shell find $(B) -name '*.d' 2>/dev/null)
