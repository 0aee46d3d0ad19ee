# schedfeed: plain Makefile. Every directory under cmd/ is one program.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
LIBEXECDIR ?= $(PREFIX)/lib/schedfeed
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
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
LIBS = -lcsv -lsybdb -lmariadb -lssh2 -lcurl -ljansson -lcrypto -lssl -lm

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
# The last line counts the TAP report: "check: N passed, N failed, N skipped";
# the line before, the tests that ran on Babelfish (tests/babelfish.bash).
check: deps all
	@mkdir -p $(BUILD)/report
	@rm -f $(BUILD)/report/babelfish.tests
	@rc=0; PATH="$(CURDIR)/$(BUILD)/bin:$$PATH" TDSD="$(CURDIR)/$(BUILD)/bin/tdsd" \
	SCHEDFEED_BABELFISH_LOG="$(CURDIR)/$(BUILD)/report/babelfish.tests" \
	SCHEDFEED_TOP="$(CURDIR)" bats --report-formatter tap -o $(BUILD)/report \
		$(BATS_FLAGS) $(BATS_FILES) || rc=$$?; \
	echo "babelfish: $$(sort -u $(BUILD)/report/babelfish.tests 2>/dev/null | wc -l) tests ran on Babelfish"; \
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

# libFuzzer targets, tests/fuzz/*.c (fuzz.c is their shared part), built
# with Debian's clang under ASan and UBSan. The code under test gets
# -Dexit=fuzz_exit: a die() on bad input returns to the target, and its
# fopen and fclose are fuzz.c's, which closes what a die() left open. make fuzz
# runs each for FUZZ_SECONDS on a corpus seeded from the fixtures and
# prints executions and findings per target (tests/fuzz/run.sh).
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_BUILD = build-fuzz
FUZZ_FLAGS = -g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
	-fsanitize=fuzzer-no-link,address,undefined
FUZZ_TARGETS := $(filter-out fuzz,$(basename $(notdir $(wildcard tests/fuzz/*.c))))
FUZZ_LIB_OBJ := $(patsubst lib/%.c,$(FUZZ_BUILD)/lib/%.o,$(LIB_SRC))
# what each target needs beside lib/ (a cmd's main file it #includes)
FUZZ_EXTRA_schema = cmd/csv-shape/schema.c
FUZZ_EXTRA_policy = cmd/phi-redact/policy.c
FUZZ_EXTRA_tdsd_packet = tests/tdsd/proto.c

$(FUZZ_BUILD)/%.o: %.c $(wildcard lib/*.h) $(wildcard tests/fuzz/*.h) $(wildcard cmd/*/*.h) $(wildcard tests/tdsd/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(SF_CFLAGS) $(FUZZ_FLAGS) -Dexit=fuzz_exit \
		-Dfopen=fuzz_fopen -Dfclose=fuzz_fclose -c -o $@ $<

$(FUZZ_BUILD)/tests/fuzz/fuzz.o: tests/fuzz/fuzz.c tests/fuzz/fuzz.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(SF_CFLAGS) $(FUZZ_FLAGS) -c -o $@ $<

$(FUZZ_BUILD)/libschedfeed.a: $(FUZZ_LIB_OBJ)
	rm -f $@
	ar rcs $@ $(FUZZ_LIB_OBJ)

define FUZZ_template
$(FUZZ_BUILD)/bin/$(1): $(FUZZ_BUILD)/tests/fuzz/$(1).o $(FUZZ_BUILD)/tests/fuzz/fuzz.o $(patsubst %.c,$(FUZZ_BUILD)/%.o,$(FUZZ_EXTRA_$(1))) $(FUZZ_BUILD)/libschedfeed.a
	@mkdir -p $$(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $$@ $$^ $(LIBS) -lpthread
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_template,$(t))))

fuzz-build: $(addprefix $(FUZZ_BUILD)/bin/,$(FUZZ_TARGETS))

fuzz: fuzz-build
	@sh tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

demo: deps all
	sh tests/fixtures/demo.sh

# every job once against every partner on loopback (tdsd, MariaDB, sshd,
# SMTP, the Box emulator), then what each partner received and the ledgers
demo-all: deps all
	bash tests/fixtures/demo-all.sh
.PHONY: demo-all

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(MAN7) $(DESTDIR)$(MANDIR)/man7
	# the jobs, with their queries, shapes and the job library beside them
	install -d $(DESTDIR)$(LIBEXECDIR)
	cp -R pipelines $(DESTDIR)$(LIBEXECDIR)/
	# every job executable whatever the checkout's modes; the units apart
	chmod 755 $(DESTDIR)$(LIBEXECDIR)/pipelines/*.sh
	rm -rf $(DESTDIR)$(LIBEXECDIR)/pipelines/systemd
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	for u in pipelines/systemd/*.service pipelines/systemd/*.timer; do \
		sed 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' $$u > $(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/} && \
		chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/$${u##*/} || exit 1; \
	done

# The Debian package, BUILD/schedfeed_VERSION_ARCH.deb (docker/debian/).
deb: all
	sh docker/debian/build-deb.sh $(BUILD)

# The package installed into a fresh debootstrapped Debian 12 root, and the
# iQueue job run there on the demo database (a few minutes; CI runs it).
deb-test: all
	SCHEDFEED_DEB_TEST=1 PATH="$(CURDIR)/$(BUILD)/bin:$$PATH" \
	TDSD="$(CURDIR)/$(BUILD)/bin/tdsd" SCHEDFEED_TOP="$(CURDIR)" \
	BUILD=$(BUILD) bats tests/deb-install.bats

lint-man:
	mandoc -Tlint -Wwarning $(MAN1) $(MAN7)

clean:
	rm -rf build build-san $(FUZZ_BUILD) tests/tdsd/tdsd demo-out

.PHONY: all deps check sanitize fuzz fuzz-build torture demo install deb deb-test lint-man clean
