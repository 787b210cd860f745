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
# Modules are discovered: every daemon/*.c except the two mains goes into
# libshanhai.a; every tests/test_*.c is a cmocka binary linked against it.

CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
CFLAGS  ?= -O2 -g
LDFLAGS ?=
PKG_CONFIG ?= pkg-config

PKGS      = libevent libevent_openssl openssl libsodium sqlite3 libconfig jansson libsystemd
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
# The deps stamp comes first: pkg-config below must not run before packages exist.
DEPS_OK := $(shell sh .ci/deps --quiet >&2; echo $$?)
ifneq ($(DEPS_OK),0)
$(error missing packages; see the message above)
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

MAINS     = daemon/shanhaid.c daemon/shanhai.c
LIB_SRCS  = $(filter-out $(MAINS),$(wildcard daemon/*.c))
LIB_OBJS  = $(LIB_SRCS:daemon/%.c=$(BUILD)/obj/%.o)
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

.PHONY: all check valgrind demo bench fuzz install clean
.SECONDARY:
all: $(BUILD)/shanhaid $(BUILD)/shanhai

$(BUILD)/obj/%.o: daemon/%.c
	@mkdir -p $(@D)
	$(call msg,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libshanhai.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/shanhaid: $(BUILD)/obj/shanhaid.o $(BUILD)/libshanhai.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/shanhai: $(BUILD)/obj/shanhai.o $(BUILD)/libshanhai.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(call msg,CC,$<)
	$(Q)$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) -Wno-missing-prototypes -c -o $@ $<

# Link-time seams: a test that stands in for the disk wraps the calls it fails.
$(BUILD)/tests/test_journal: ALL_LDFLAGS += -Wl,--wrap=store_commit

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/libshanhai.a
	$(call msg,LD,$@)
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(TEST_LIBS)

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

check: all $(TESTS) $(REPLAYS)
	@BUILD=$(BUILD) ASAN=$(ASAN) TSAN=$(TSAN) sh tests/run.sh 2>&1

# The unit binaries under valgrind's memcheck (not with ASAN=1: they clash).
valgrind: all $(TESTS)
	@test "$(ASAN)" != 1 && test "$(TSAN)" != 1 || { echo "make valgrind: not with a sanitizer" >&2; exit 2; }
	@BUILD=$(BUILD) VALGRIND=1 sh tests/run.sh 2>&1

demo: all
	@BUILD=$(BUILD) sh tests/demo.sh

bench: all $(BENCHES)
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
FUZZ_OBJS   = $(LIB_SRCS:daemon/%.c=$(FUZZ_BUILD)/obj/%.o)

$(FUZZ_BUILD)/obj/%.o: daemon/%.c
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
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
UNITS     = $(wildcard systemd/*.service systemd/*.socket)
MANPAGES  = $(wildcard man/*.[158])
# The units are installed with ExecStart= naming the daemon (or, for the
# witness, the tool) where it goes.

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DATADIR)/rules \
	    $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0755 $(BUILD)/shanhaid $(DESTDIR)$(SBINDIR)/shanhaid
	install -m 0755 $(BUILD)/shanhai $(DESTDIR)$(BINDIR)/shanhai
	for p in $(MANPAGES); do \
	    install -m 0644 $$p $(DESTDIR)$(MANDIR)/man$${p##*.}/ || exit 1; \
	done
	for u in $(UNITS); do \
	    sed -e 's|/usr/sbin/shanhaid|$(SBINDIR)/shanhaid|g' \
	        -e 's|/usr/bin/shanhai |$(BINDIR)/shanhai |g' $$u \
	        > $(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/} && \
	    chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/} || exit 1; \
	done
	install -m 0644 doc/shanhaid.conf.example $(DESTDIR)$(DATADIR)/
	install -m 0644 rules/*.conf $(DESTDIR)$(DATADIR)/rules/

clean:
	rm -rf build

-include $(wildcard $(BUILD)/obj/*.d $(BUILD)/tests/*.d $(BUILD)/bench/*.d $(BUILD)/fuzz/*.d \
    $(FUZZ_BUILD)/obj/*.d $(FUZZ_BUILD)/*.d)
