# schedfeed: plain Makefile. Every directory under cmd/ is one program.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
LIBEXECDIR ?= $(PREFIX)/lib/schedfeed
DESTDIR ?=

CC ?= cc
CFLAGS ?= -O2 -g
LDFLAGS ?=
BUILD ?= build

# Not switch-offable by the user's CFLAGS: standard, warnings, hardening.
SF_CFLAGS = -std=c17 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wno-unused-parameter \
	-D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE -Ilib
SF_LDFLAGS = -pie -Wl,-z,relro,-z,now -Wl,--as-needed
# Each program links only what it uses (--as-needed drops the rest).
LIBS = -lcsv -lsybdb -lssh2 -lcurl -ljansson -lcrypto -lssl -lm

# A program is cmd/NAME/NAME.c (its main) plus any other .c beside it.
PROGS := $(sort $(foreach d,$(patsubst %/,%,$(wildcard cmd/*/)),$(if $(wildcard $(d)/$(notdir $(d)).c),$(notdir $(d)))))
BINS := $(addprefix $(BUILD)/bin/,$(PROGS))
LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(patsubst lib/%.c,$(BUILD)/lib/%.o,$(LIB_SRC))
LIB_A := $(BUILD)/libschedfeed.a
TDSD_SRC := $(wildcard tests/tdsd/*.c)
TDSD := $(if $(TDSD_SRC),$(BUILD)/bin/tdsd)
MAN1 := $(wildcard man/man1/*.1)
MAN7 := $(wildcard man/man7/*.7)
BATS_FILES = $(shell find tests -name '*.bats' | sort)

all: $(BINS) $(TDSD)
	@if [ -n "$(TDSD)" ] && [ "$(BUILD)" = build ]; then cp -f $(TDSD) tests/tdsd/tdsd; fi

$(BUILD)/lib/%.o: lib/%.c $(wildcard lib/*.h)
	@mkdir -p $(@D)
	$(CC) $(SF_CFLAGS) $(CFLAGS) -c -o $@ $<

$(LIB_A): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $(LIB_OBJ)

$(BUILD)/cmd/%.o: cmd/%.c $(wildcard lib/*.h)
	@mkdir -p $(@D)
	$(CC) $(SF_CFLAGS) $(CFLAGS) -c -o $@ $<

define PROG_template
$(BUILD)/bin/$(1): $(patsubst cmd/%.c,$(BUILD)/cmd/%.o,$(wildcard cmd/$(1)/*.c) $(wildcard cmd/$(1)/*.h)) $(LIB_A)
	@mkdir -p $$(@D)
	$$(CC) $$(SF_CFLAGS) $$(CFLAGS) $$(SF_LDFLAGS) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $(LIB_A) $$(LIBS)
endef
$(foreach p,$(PROGS),$(eval $(call PROG_template,$(p))))

$(BUILD)/tests/tdsd/%.o: tests/tdsd/%.c $(wildcard tests/tdsd/*.h) $(wildcard lib/*.h)
	@mkdir -p $(@D)
	$(CC) $(SF_CFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/bin/tdsd: $(patsubst %.c,$(BUILD)/%.o,$(TDSD_SRC)) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(SF_CFLAGS) $(CFLAGS) $(SF_LDFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB_A) -lsqlite3 -lm

deps:
	@sh .ci/deps

# The fresh binaries first on PATH; tests find tdsd through $TDSD.
# The last line counts the TAP report: "check: N passed, N failed, N skipped".
check: deps all
	@mkdir -p $(BUILD)/report
	@rc=0; PATH="$(CURDIR)/$(BUILD)/bin:$$PATH" TDSD="$(CURDIR)/$(BUILD)/bin/tdsd" \
	SCHEDFEED_TOP="$(CURDIR)" bats --report-formatter tap -o $(BUILD)/report \
		$(BATS_FLAGS) $(BATS_FILES) || rc=$$?; \
	awk '/^ok .* # skip/ { s++; next } /^ok / { p++ } /^not ok / { f++ } \
		END { printf "check: %d passed, %d failed, %d skipped\n", p, f, s }' \
		$(BUILD)/report/report.tap; \
	exit $$rc

# The torture suite in full (tests/torture/: every kill point of every
# call, TORTURE_FULL) and TORTURE_N random-time kills a job, then the
# table of those: job, kills, re-runs, duplicates, halves, stuck re-runs.
TORTURE_N ?= 50
torture: deps all
	@rm -f $(BUILD)/torture-table
	@rc=0; PATH="$(CURDIR)/$(BUILD)/bin:$$PATH" TDSD="$(CURDIR)/$(BUILD)/bin/tdsd" \
	SCHEDFEED_TOP="$(CURDIR)" TORTURE_FULL=1 TORTURE_N=$(TORTURE_N) \
	TORTURE_TABLE="$(CURDIR)/$(BUILD)/torture-table" \
	bats $(BATS_FLAGS) $(TORTURE_FILES) || rc=$$?; \
	printf '%-14s %6s %8s %11s %7s %6s\n' job kills re-runs duplicates halves stuck; \
	cat $(BUILD)/torture-table 2>/dev/null; exit $$rc
TORTURE_FILES ?= $(sort $(wildcard tests/torture/*.bats)) tests/torture/random.torture

# AddressSanitizer and UBSan on the whole suite. Leak reports are off: a
# program that dies() exits with its buffers still allocated, by design.
SAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
sanitize:
	SCHEDFEED_SKIP_DOCKER="the image is built from the normal build" SCHEDFEED_SANITIZE=1 \
	ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
	$(MAKE) BUILD=build-san CFLAGS="$(SAN_FLAGS)" LDFLAGS="-fsanitize=address,undefined" check

demo: deps all
	sh tests/fixtures/demo.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(MAN7) $(DESTDIR)$(MANDIR)/man7
	# the jobs, with their queries, shapes and the job library beside them
	install -d $(DESTDIR)$(LIBEXECDIR)
	cp -R pipelines $(DESTDIR)$(LIBEXECDIR)/

lint-man:
	mandoc -Tlint -Wwarning $(MAN1) $(MAN7)

clean:
	rm -rf build build-san tests/tdsd/tdsd demo-out

.PHONY: all deps check sanitize torture demo install lint-man clean
