# tfs - transformers from scratch, in C, as Unix filters.
# `make help` lists the targets.  Build outputs go to $(BUILD) (default build/).

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share/tfs
DESTDIR ?=
BUILD   ?= build

CC      ?= cc
# One OpenMP runtime for our loops and OpenBLAS's GEMMs: we link Debian's
# OpenMP build of OpenBLAS (libopenblas0-openmp) by its path, so OpenBLAS and
# our `#pragma omp` regions share libgomp's thread team instead of two pools
# spinning against each other on the same cores (see README, Performance).
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
BLAS_DIR  ?= /usr/lib/$(MULTIARCH)/openblas-openmp
BLAS_LIB  ?= $(BLAS_DIR)/libopenblas.so.0 -Wl,-rpath,$(BLAS_DIR)

OPT      ?= -O2
SAN      ?=
CPPFLAGS += -Ilib -D_GNU_SOURCE -DTFS_DATADIR='"$(DATADIR)"'
CFLAGS   += -std=c11 $(OPT) -g -Wall -Wextra -Werror -fopenmp -MMD -MP $(SAN)
LDFLAGS  += -fopenmp $(SAN)
LDLIBS   += -lcurl -ljansson -lpcre2-8 -lzstd $(BLAS_LIB) -lm -lpthread

LIB_SRC  := $(wildcard lib/*.c)
BIN_SRC  := $(wildcard bin/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
# Test and benchmark drivers: C programs that tests/*.bats or tests/bench/
# scripts run (not installed, no man page).
DRV_SRC  := $(wildcard tests/torch/*.c tests/bench/*.c)
TOOLS    := $(notdir $(BIN_SRC:.c=))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
PROGS    := $(TOOLS:%=$(BUILD)/bin/%)
UNITS    := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
DRIVERS  := $(DRV_SRC:%.c=$(BUILD)/%)
MAN_SRC  := $(wildcard man/*.[157])

.PHONY: all check check-unit check-asan bench demo install uninstall clean help deps lint-man
.DELETE_ON_ERROR:

## all: build the library, every program in bin/ and the C unit tests (default)
all: $(BUILD)/libtfs.a $(PROGS) $(UNITS) $(DRIVERS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/libtfs.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(PROGS): $(BUILD)/bin/%: $(BUILD)/bin/%.o $(BUILD)/libtfs.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(UNITS): $(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libtfs.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(DRIVERS): $(BUILD)/%: $(BUILD)/%.o $(BUILD)/libtfs.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

## deps: install the Debian packages tfs needs (as root), or print the apt-get line
deps:
	@tests/deps

## check: every test: C unit tests, the same under ASan+UBSan, man pages, bats suites
check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/asan OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    $(BUILD)/asan/libtfs.a $(PROGS:$(BUILD)/%=$(BUILD)/asan/%) $(UNITS:$(BUILD)/%=$(BUILD)/asan/%)
	@BUILD=$(BUILD) tests/run-all

## check-unit: only the C unit tests (normal build)
check-unit: all
	@BUILD=$(BUILD) TFS_SUITES=unit tests/run-all

## bench: benchmarks, JSON results in $(BUILD)/bench/ (ratios against references run alongside)
bench: deps all
	@BUILD=$(BUILD) tests/bench/run

## demo: the whole pipeline on the built-in default data (see pipelines/demo.mk)
demo: deps all
	@$(MAKE) --no-print-directory -f pipelines/demo.mk BIN=$(abspath $(BUILD)/bin) OUT=demo

## lint-man: check every man page with groff -ww
lint-man:
	@for m in $(MAN_SRC); do groff -man -ww -z $$m || exit 1; done

## install: install programs, man pages and assets under $(DESTDIR)$(PREFIX)
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(DATADIR)
	$(if $(PROGS),install -m 755 $(PROGS) $(DESTDIR)$(BINDIR))
	for m in $(MAN_SRC); do s=$${m##*.}; install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s; done
	cp -R assets/. $(DESTDIR)$(DATADIR)/

## uninstall: remove what install installed
uninstall:
	rm -f $(TOOLS:%=$(DESTDIR)$(BINDIR)/%)
	for m in $(MAN_SRC); do s=$${m##*.}; rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done
	rm -rf $(DESTDIR)$(DATADIR)

## clean: remove build outputs and the demo folder
clean:
	rm -rf $(BUILD) demo

## help: list the targets
help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)

-include $(wildcard $(BUILD)/lib/*.d $(BUILD)/bin/*.d $(BUILD)/tests/unit/*.d $(BUILD)/tests/torch/*.d $(BUILD)/tests/bench/*.d)
