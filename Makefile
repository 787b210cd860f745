# shanhai: settlement daemon for Mountain-Sea enclave parks.
#
#   make            build build/shanhaid and build/shanhai
#   make check      the whole test suite (unit + integration), ends "N passed, N failed"
#   make demo       the main job end to end on the sample agreements
#   make bench      benchmarks (print figures; not tests)
#   make fuzz       libFuzzer targets, each run for FUZZ_SECONDS
#   make valgrind   the unit tests under valgrind memcheck
#   make install    PREFIX=/usr/local DESTDIR=
#   ASAN=1          AddressSanitizer + UndefinedBehaviorSanitizer (objects in build/asan)
#   TSAN=1          ThreadSanitizer (objects in build/tsan; .ci/run runs the
#                   tests of the threaded journal with it)
#   V=1             show the commands
#
# The tree (doc/DESIGN.md opens with its map):
#   core/     the pure modules: money, rules, settle, replay, statement,
#             canon, merkle, note, cosig, daxie, textbuf, errbuf: bytes in,
#             bytes out, no file, socket, clock or database. `make` proves
#             it: the core links alone with only its libraries (core-check),
#             and none of its objects calls a file or socket function.
#   lib/      what the daemon and the tool share that does I/O: config,
#             store (SQLite), tls, client, log, pagefile, tiles, documents,
#             rule and key files.
#   daemon/   shanhaid: server, http, ingest, journal, metrics, notify, ...
#   tool/     shanhai: its verbs (cmd_*.c), the audit, the witness.
# Modules are discovered: every .c of the four folders except the two mains
# goes into libshanhai.a; every tests/test_*.c is a cmocka binary linked
# against it.

CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
CFLAGS  ?= -O2 -g
LDFLAGS ?=
PKG_CONFIG ?= pkg-config

PKGS      = libevent libevent_openssl openssl libsodium sqlite3 libconfig jansson libsystemd \
            cairo pangocairo xlsxwriter
TEST_PKGS = cmocka

ifeq ($(ASAN),1)
BUILD    ?= build/asan
SANFLAGS  = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else ifeq ($(TSAN),1)
BUILD    ?= build/tsan
SANFLAGS  = -fsanitize=thread -fno-omit-frame-pointer
else
BUILD    ?= build
SANFLAGS  =
endif

WARN     = -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-unused-parameter
# Missing Debian packages are installed (.ci/deps) only for the goals that
# run tests or tools: demo, check, bench, fuzz (before pkg-config below,
# which needs them). Any other goal (all, install in a packaging chroot,
# clean) never runs apt-get; without the libraries it says what is missing.
DEPS_GOALS = demo check bench fuzz
ifneq ($(filter $(DEPS_GOALS),$(MAKECMDGOALS)),)
DEPS_OK := $(shell sh .ci/deps >&2; echo $$?)
ifneq ($(DEPS_OK),0)
$(error missing packages; see the message above)
endif
else ifeq ($(filter-out clean install,$(or $(MAKECMDGOALS),all)),)
else ifneq ($(shell $(PKG_CONFIG) --exists $(PKGS) 2>/dev/null && echo ok),ok)
$(error pkg-config finds not all of $(PKGS); as root, sh .ci/deps installs them)
endif
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS))
TEST_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(TEST_PKGS))
TEST_LIBS   := $(shell $(PKG_CONFIG) --libs $(TEST_PKGS))

ALL_CFLAGS  = $(WARN) -D_GNU_SOURCE -Iinclude $(PKG_CFLAGS) $(SANFLAGS) $(CFLAGS) -MMD -MP
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)
LIBS        = $(PKG_LIBS) -lm
# The daemon's allocator, and the bare TLS server's it is compared with
# (doc/DESIGN.md, Benchmark). Not under a sanitizer: each brings its own.
ifneq ($(ASAN),1)
ifneq ($(TSAN),1)
MALLOC_LIBS := $(shell $(PKG_CONFIG) --libs libtcmalloc_minimal)
endif
endif
$(BUILD)/shanhaid $(BUILD)/bench/bare_tls: LIBS += $(MALLOC_LIBS)
# The console's default folder is where `make install` puts it.
$(BUILD)/obj/config.o: ALL_CFLAGS += -DSHANHAI_CONSOLE_DIR='"$(DATADIR)/console"'

DIRS      = core lib daemon tool
MAINS     = daemon/shanhaid.c tool/shanhai.c
CORE_SRCS = $(wildcard core/*.c)
LIB_SRCS  = $(filter-out $(MAINS),$(foreach d,$(DIRS),$(wildcard $(d)/*.c)))
LIB_OBJS  = $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CORE_OBJS = $(CORE_SRCS:%.c=$(BUILD)/obj/%.o)
# What the core may link with, and the calls none of its objects may make.
CORE_PKGS = openssl libsodium libconfig jansson
empty :=
space := $(empty) $(empty)
CORE_FORBIDDEN = open openat fopen fdopen freopen opendir readdir fread \
    fwrite fgets getline unlink rename mkdir stat fstat lstat socket connect \
    bind accept time clock_gettime gettimeofday
TEST_SRCS = $(wildcard tests/test_*.c)
TESTS     = $(TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
BENCH_SRCS = $(wildcard bench/*.c)
BENCHES   = $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)
# Each fuzz target also builds with the ordinary compiler as a replayer of
# its corpus and past crashes (tests/it/fuzz_replay.sh).
REPLAYS   = $(wildcard fuzz/fuzz_*.c)
REPLAYS  := $(REPLAYS:fuzz/fuzz_%.c=$(BUILD)/fuzz/replay_%)

ifeq ($(V),1)
Q =
msg = @true
else
Q = @
msg = @printf '  %-6s %s\n' $(1) $(2)
endif

.PHONY: all check valgrind demo bench fuzz install clean console
.SECONDARY:
all: $(BUILD)/shanhaid $(BUILD)/shanhai $(BUILD)/core-check

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(call msg,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The core alone: a program that uses it, linked with nothing but the
# core's own libraries (no libevent, no SQLite: an undefined reference fails
# the build), and a look at every core object's calls.
$(BUILD)/libshanhai-core.a: $(CORE_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/core-check: tests/core_check.c $(BUILD)/libshanhai-core.a
	$(call msg,CORE,$@)
	$(Q)bad=$$(nm -u $(CORE_OBJS) | awk '{ print $$2 }' | \
	    grep -xE '$(subst $(space),|,$(strip $(CORE_FORBIDDEN)))(@.*)?' | \
	    sort -u | tr '\n' ' '); \
	if [ -n "$$bad" ]; then \
	    echo "core/ calls what it must not (files, sockets, clocks): $$bad" >&2; \
	    nm -A -u $(CORE_OBJS) | grep -wE "$$(echo $$bad | tr ' ' '|')" >&2; \
	    exit 1; fi
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -o $@ $< \
	    $(BUILD)/libshanhai-core.a \
	    $(shell $(PKG_CONFIG) --libs $(CORE_PKGS)) -lm
	$(Q)$@

$(BUILD)/libshanhai.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/shanhaid: $(BUILD)/obj/daemon/shanhaid.o $(BUILD)/libshanhai.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/shanhai: $(BUILD)/obj/tool/shanhai.o $(BUILD)/libshanhai.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(call msg,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) -Wno-missing-prototypes -c -o $@ $<

# Link-time seams: a test that stands in for the disk wraps the calls it fails.
$(BUILD)/tests/test_journal: ALL_LDFLAGS += -Wl,--wrap=store_commit
# test_settle_oom fails the engine's allocations one by one.
$(BUILD)/tests/test_settle_oom: ALL_LDFLAGS += -Wl,--wrap=malloc \
    -Wl,--wrap=calloc -Wl,--wrap=realloc -Wl,--wrap=strdup

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/libshanhai.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(TEST_LIBS)

# Seams of issue 13: the journal's log sync held or failed, a thread that
# does not start, the busy wait each connection gets; a report body that
# finds no memory; store_sync()'s own fdatasync.
$(BUILD)/tests/test_journal: ALL_LDFLAGS += -Wl,--wrap=store_sync \
    -Wl,--wrap=pthread_create -Wl,--wrap=sqlite3_busy_timeout
$(BUILD)/tests/test_server: ALL_LDFLAGS += -Wl,--wrap=malloc
$(BUILD)/tests/test_store: ALL_LDFLAGS += -Wl,--wrap=fdatasync

$(BUILD)/fuzz/replay_%: fuzz/fuzz_%.c fuzz/replay.c fuzz/fuzz.h $(BUILD)/libshanhai.a
	@mkdir -p $(@D)
	$(call msg,LD,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes -o $@ $< fuzz/replay.c \
	    $(BUILD)/libshanhai.a $(LIBS)

$(BUILD)/bench/%.o: bench/%.c
	@mkdir -p $(@D)
	$(call msg,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BUILD)/libshanhai.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# The web console (console/, issue 16): npm ci from the committed lockfile,
# then esbuild into $(BUILD)/console with content-hashed names. `make all`
# does not need it (nor node); `make check` builds it for the browser test.
CONSOLE_SRCS = $(wildcard console/src/*.js console/src/*/*.js console/src/*.css \
    console/src/*.html) console/build.mjs
console: $(BUILD)/console/index.html

console/node_modules/.package-lock.json: console/package.json console/package-lock.json
	$(call msg,NPM,console)
	$(Q)cd console && npm ci --no-audit --no-fund --loglevel=error
	$(Q)touch $@

$(BUILD)/console/index.html: $(CONSOLE_SRCS) console/node_modules/.package-lock.json
	$(call msg,ESBUILD,$(BUILD)/console)
	$(Q)node console/build.mjs $(BUILD)/console

check: all $(TESTS) $(REPLAYS) console
	@BUILD=$(BUILD) ASAN=$(ASAN) TSAN=$(TSAN) sh tests/run.sh 2>&1

# The unit binaries under valgrind's memcheck (not with ASAN=1: they clash).
valgrind: all $(TESTS)
	@test "$(ASAN)" != 1 && test "$(TSAN)" != 1 || { echo "make valgrind: not with a sanitizer" >&2; exit 2; }
	@BUILD=$(BUILD) VALGRIND=1 sh tests/run.sh 2>&1

demo: all
	@BUILD=$(BUILD) sh tests/demo.sh
	@if ls $(BUILD)/console-shots/console-*.png >/dev/null 2>&1; then \
	    echo "web console screenshots (from make check): $(BUILD)/console-shots/"; \
	    ls $(BUILD)/console-shots/console-*.png | sed 's/^/  /'; \
	else echo "web console screenshots: none yet; CHECK_ONLY=console make check" \
	    "puts them in $(BUILD)/console-shots/"; fi

bench: all $(BENCHES) console
	@BUILD=$(BUILD) sh bench/run.sh

# libFuzzer: every fuzz/fuzz_*.c is a target linked against the library
# sources rebuilt with clang under ASan+UBSan and coverage (build/fuzz).
# -Werror stays on for the targets but not for the library under clang,
# whose warnings can differ from gcc's (gcc's build is the one that gates).
FUZZ_CC    ?= clang
FUZZ_BUILD  = build/fuzz
FUZZ_SAN    = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS = $(filter-out -Werror,$(WARN)) -D_GNU_SOURCE -Iinclude $(PKG_CFLAGS) -g -O1 -MMD -MP
FUZZ_SRCS   = $(wildcard fuzz/fuzz_*.c)
FUZZERS     = $(FUZZ_SRCS:fuzz/%.c=$(FUZZ_BUILD)/%)
FUZZ_OBJS   = $(LIB_SRCS:%.c=$(FUZZ_BUILD)/obj/%.o)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(call msg,FUZZCC,$<)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(FUZZ_SAN) -c -o $@ $<

$(FUZZ_BUILD)/libshanhai.a: $(FUZZ_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $(FUZZ_BUILD)/libshanhai.a
	@mkdir -p $(@D)
	$(call msg,FUZZLD,$@)
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -Wno-missing-prototypes -fsanitize=fuzzer $(FUZZ_SAN) \
	    -o $@ $< $(FUZZ_BUILD)/libshanhai.a $(LIBS)

fuzz: $(FUZZERS)
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60) sh fuzz/run.sh

# Where `make install` puts things; each can be overridden on its own.
SBINDIR        ?= $(PREFIX)/sbin
BINDIR         ?= $(PREFIX)/bin
MANDIR         ?= $(PREFIX)/share/man
DATADIR        ?= $(PREFIX)/share/shanhai
DOCDIR         ?= $(PREFIX)/share/doc/shanhai
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR    ?= $(PREFIX)/lib/sysusers.d
UNITS     = $(wildcard systemd/*.service systemd/*.socket)
MANPAGES  = $(wildcard man/*.[1578])
# The documents the manual pages cite, under DOCDIR.
DOCS      = doc/AUDIT.md doc/DESIGN.md
# The units are installed with ExecStart= naming the daemon (or, for the
# witness, the tool) where it goes, the manual pages naming the documents
# where they go.

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(DATADIR)/rules $(DESTDIR)$(DOCDIR) \
	    $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 0755 $(BUILD)/shanhaid $(DESTDIR)$(SBINDIR)/shanhaid
	install -m 0755 $(BUILD)/shanhai $(DESTDIR)$(BINDIR)/shanhai
	for p in $(MANPAGES); do \
	    sed 's|/usr/share/doc/shanhai/|$(DOCDIR)/|g' $$p \
	        > $(DESTDIR)$(MANDIR)/man$${p##*.}/$${p##*/} && \
	    chmod 0644 $(DESTDIR)$(MANDIR)/man$${p##*.}/$${p##*/} || exit 1; \
	done
	install -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/
	for u in $(UNITS); do \
	    sed -e 's|/usr/sbin/shanhaid|$(SBINDIR)/shanhaid|g' \
	        -e 's|/usr/bin/shanhai |$(BINDIR)/shanhai |g' $$u \
	        > $(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/} && \
	    chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/} || exit 1; \
	done
	install -m 0644 systemd/shanhaid.sysusers $(DESTDIR)$(SYSUSERSDIR)/shanhai.conf
	install -m 0644 doc/shanhaid.conf.example $(DESTDIR)$(DATADIR)/
	install -m 0644 rules/*.conf $(DESTDIR)$(DATADIR)/rules/
	# The console, where console_dir points by default (when it is built).
	if [ -f $(BUILD)/console/index.html ]; then \
	    install -d $(DESTDIR)$(DATADIR)/console && \
	    install -m 0644 $(BUILD)/console/*.html $(BUILD)/console/*.js \
	        $(BUILD)/console/*.css $(DESTDIR)$(DATADIR)/console/; \
	else echo "make install: the console is not built (make console); not installed"; fi

clean:
	rm -rf build

-include $(wildcard $(BUILD)/obj/*/*.d $(BUILD)/tests/*.d $(BUILD)/bench/*.d $(BUILD)/fuzz/*.d \
    $(FUZZ_BUILD)/obj/*/*.d $(FUZZ_BUILD)/*.d)
