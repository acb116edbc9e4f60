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

# CFLAGS, CPPFLAGS, LDFLAGS and LDLIBS are the user's (`make CFLAGS=-O3`
# replaces only the optimisation and debug flags); what the build needs is in
# the TFS_ variables, which come first and are always used.  SAN is set by
# the sanitizer build of `make check`.
CFLAGS   ?= -O2 -g
SAN      ?=
TFS_CPPFLAGS := -Ilib -D_GNU_SOURCE -DTFS_DATADIR='"$(DATADIR)"'
TFS_CFLAGS    = -std=c11 -Wall -Wextra -Werror -fopenmp -MMD -MP $(SAN)
TFS_LDFLAGS   = -fopenmp $(SAN)
TFS_LDLIBS   := -lcurl -ljansson -lpcre2-8 -lzstd -lsnappy -llz4 -lz $(BLAS_LIB) -lm -lpthread
# MPI (lib/core/comm.c, for tfs-train under mpirun): OpenMPI's flags from
# pkg-config.  --as-needed: only the programs that use comm.c (tfs-train,
# tfs-eval) load libmpi; it costs them about 1 ms at start and nothing else
# unless mpirun started them (comm.h).
MPI_CFLAGS ?= $(shell pkg-config --cflags ompi-c 2>/dev/null)
MPI_LIBS   ?= $(shell pkg-config --libs ompi-c 2>/dev/null)
TFS_CPPFLAGS += $(MPI_CFLAGS)
TFS_LDLIBS   += -Wl,--as-needed $(MPI_LIBS) -Wl,--no-as-needed
# `make NATIVE=1`: everything for this machine's CPU (-march=native), for
# local builds only: the programs may not run on an older CPU.
ifeq ($(NATIVE),1)
TFS_CFLAGS += -march=native
endif
COMPILE = $(CC) $(TFS_CPPFLAGS) $(CPPFLAGS) $(TFS_CFLAGS) $(CFLAGS)
LINK    = $(CC) $(TFS_LDFLAGS) $(LDFLAGS)
LIBS    = $(TFS_LDLIBS) $(LDLIBS)

LIB_SRC  := $(wildcard lib/*/*.c)
BIN_SRC  := $(wildcard bin/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
# Test and benchmark drivers: C programs that tests/*.bats or tests/bench/
# scripts run (not installed, no man page).
DRV_SRC  := $(wildcard tests/torch/*.c tests/bench/*.c)
TOOLS    := $(notdir $(BIN_SRC:.c=))
# The kernels' loops, built twice more for wider vectors (lib/kernels/isa.h):
# each object's global names get the level's suffix (objcopy), and the plain
# build's ISA_DISPATCH picks one at run time.
ISA_SRC  := lib/kernels/attention.c lib/kernels/ops_embed.c lib/kernels/ops_linear.c lib/kernels/ops_loss.c \
	    lib/kernels/ops_norm.c lib/kernels/ops_pointwise.c lib/kernels/optim.c lib/llama/llama_ops.c
# -ffp-contract=fast lets these two fuse a * b + c into one FMA (one
# rounding instead of two; -std=c11 turns that off by default): still one
# fixed order, so a run repeats bit for bit at one level, and about 2% less
# CPU per tiny-model step (issue 13).
ISA_FLAGS_avx2   := -mavx2 -mfma -ffp-contract=fast
ISA_FLAGS_avx512 := -mavx2 -mfma -mavx512f -mavx512bw -mavx512dq -mavx512vl -mprefer-vector-width=512 -ffp-contract=fast
ISA_OBJ  := $(foreach i,avx2 avx512,$(ISA_SRC:%.c=$(BUILD)/isa-$(i)/%.o))
NM      ?= nm
OBJCOPY ?= objcopy
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(ISA_OBJ)
PROGS    := $(TOOLS:%=$(BUILD)/bin/%)
UNITS    := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
DRIVERS  := $(DRV_SRC:%.c=$(BUILD)/%)
MAN_SRC  := $(wildcard man/*.[157])
# Fuzz harnesses (tests/fuzz/README): libFuzzer programs in $(BUILD)/fuzz/
# (`make fuzz`), and replay programs that `make check` builds with the
# sanitizer build in $(BUILD)/asan/fuzz/.  --wrap lets the harness release
# what a parse that died held open (tests/fuzz/fuzz.h).
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ     := $(notdir $(FUZZ_SRC:.c=))
FUZZ_WRAP = -Wl,--wrap=fopen,--wrap=fclose,--wrap=open,--wrap=close,--wrap=mmap,--wrap=munmap

.PHONY: all check check-unit check-asan bench demo install uninstall clean help deps lint-man fuzz
.DELETE_ON_ERROR:

## all: build the library, every program in bin/ and the C unit tests (default)
all: $(BUILD)/libtfs.a $(PROGS) $(UNITS) $(DRIVERS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(COMPILE) -c -o $@ $<

# $(1): avx2 or avx512.  Compile, then suffix every global name the object
# defines (and the calls inside it to those names).
define ISA_RULE
$(BUILD)/isa-$(1)/%.o: %.c
	@mkdir -p $$(dir $$@)
	$$(COMPILE) $$(ISA_FLAGS_$(1)) -DTFS_ISA_VARIANT=$(1) -MF $$(@:.o=.d) -MT $$@ -c -o $$@.tmp $$<
	$$(NM) --defined-only -g $$@.tmp | awk 'NF == 3 { print $$$$3, $$$$3 "_$(1)" }' > $$@.syms
	$$(OBJCOPY) --redefine-syms=$$@.syms $$@.tmp $$@
	rm -f $$@.tmp $$@.syms
endef
$(foreach i,avx2 avx512,$(eval $(call ISA_RULE,$(i))))

$(BUILD)/libtfs.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(PROGS): $(BUILD)/bin/%: $(BUILD)/bin/%.o $(BUILD)/libtfs.a
	$(LINK) -o $@ $^ $(LIBS)

$(UNITS): $(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libtfs.a
	@mkdir -p $(dir $@)
	$(LINK) -o $@ $^ $(LIBS)

$(DRIVERS): $(BUILD)/%: $(BUILD)/%.o $(BUILD)/libtfs.a
	$(LINK) -o $@ $^ $(LIBS)

$(FUZZ:%=$(BUILD)/fuzz/%): $(BUILD)/fuzz/%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/fuzz.o $(BUILD)/libtfs.a
	@mkdir -p $(dir $@)
	$(LINK) -fsanitize=fuzzer $(FUZZ_WRAP) -o $@ $^ $(LIBS)

$(FUZZ:fuzz_%=$(BUILD)/fuzz/replay_%): $(BUILD)/fuzz/replay_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/fuzz.o \
		$(BUILD)/tests/fuzz/replay.o $(BUILD)/libtfs.a
	@mkdir -p $(dir $@)
	$(LINK) $(FUZZ_WRAP) -o $@ $^ $(LIBS)

## deps: install the Debian packages of every job (as root), or print the apt-get line
deps:
	@tests/deps bench

# The sanitizer build: the library, programs and unit tests again with
# AddressSanitizer and UndefinedBehaviorSanitizer, in $(BUILD)/asan.
ASAN_MAKE = $(MAKE) --no-print-directory BUILD=$(BUILD)/asan CFLAGS="-O1 -g" \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
ASAN_TARGETS = $(BUILD)/asan/libtfs.a $(PROGS:$(BUILD)/%=$(BUILD)/asan/%) $(UNITS:$(BUILD)/%=$(BUILD)/asan/%) \
	       $(DRIVERS:$(BUILD)/%=$(BUILD)/asan/%) $(FUZZ:fuzz_%=$(BUILD)/asan/fuzz/replay_%)

## check: every test: C unit tests, the same under ASan+UBSan, man pages, bats suites (also on the ASan programs)
check:
	@tests/deps check
	@$(MAKE) --no-print-directory all
	@$(ASAN_MAKE) $(ASAN_TARGETS)
	@BUILD=$(BUILD) tests/run-all

## check-unit: only the C unit tests (normal build)
check-unit: all
	@BUILD=$(BUILD) TFS_SUITES=unit tests/run-all

## check-asan: only the sanitizer suites: unit tests and the bats suites on the ASan+UBSan programs
check-asan: all
	@$(ASAN_MAKE) $(ASAN_TARGETS)
	@BUILD=$(BUILD) TFS_SUITES="asan bats-asan" tests/run-all

## fuzz: the libFuzzer harnesses (clang, ASan+UBSan) in $(BUILD)/fuzz/fuzz/; tests/fuzz/README runs them
# (-Wno-pass-failed: under the sanitizers clang cannot vectorize the `omp simd` loops)
fuzz:
	@tests/deps fuzz
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/fuzz CC=clang CFLAGS="-O1 -g -Wno-pass-failed" \
	    SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    $(FUZZ:%=$(BUILD)/fuzz/fuzz/%)

## bench: benchmarks, JSON results in $(BUILD)/bench/ (ratios against references run alongside);
## BENCH="10 20" runs only the scripts of those numbers
bench:
	@tests/deps bench
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) tests/bench/run $(BENCH)

## demo: the whole pipeline on the built-in default data (see pipelines/demo.mk)
demo:
	@tests/deps demo
	@$(MAKE) --no-print-directory all
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

-include $(wildcard $(BUILD)/lib/*/*.d $(BUILD)/isa-*/lib/*/*.d $(BUILD)/bin/*.d $(BUILD)/tests/unit/*.d $(BUILD)/tests/torch/*.d $(BUILD)/tests/bench/*.d $(BUILD)/tests/fuzz/*.d)
