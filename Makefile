# eddy — stochastic closures and multiscale generative surrogates of turbulent fields.
#
#   make            build lib (build/libeddy.a) and every tool (bin/)
#   make demo       small closure and PDD models, one report in out/demo
#   make test       unit tests, unit tests under ASan/UBSan, CLI suite, smoke pipelines
#   make test-cluster  the Slurm workflow on a one-node cluster started by the test
#   make bench      benchmarks against the peer scripts, printed as ratios
#   make fuzz       fuzz the stream reader (FUZZ_SECONDS, default 60)
#   make install    PREFIX=/usr/local
#   make deps       install missing Debian packages (run by every target that builds)

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := all
MAKEFLAGS += --no-builtin-rules
# Objects are kept between builds (they are intermediates of pattern rules).
.SECONDARY:

VERSION := 0.1.0
PREFIX  ?= /usr/local
BUILD   ?= build
BIN     ?= bin

# GNU make presets CC to "cc" (origin "default"), so `CC ?= gcc` alone never applies.
ifeq ($(origin CC),default)
CC       := gcc
endif
OPT      ?= -O3 -march=native
SAN      ?=
CFLAGS   := -std=c11 $(OPT) -fopenmp -g -Wall -Wextra -Wno-unused-parameter $(SAN) -MMD -MP
# Include and library paths from the packages' .pc files (the openblas headers
# live in an arch-named folder).
PC_PKGS  := openblas fftw3 libzstd
CPPFLAGS := -D_GNU_SOURCE -DEDDY_VERSION='"$(VERSION)"' -Ilib \
            $(shell pkg-config --cflags $(PC_PKGS) 2>/dev/null)
LDFLAGS  := -fopenmp $(SAN) $(shell pkg-config --libs-only-L $(PC_PKGS) 2>/dev/null)
LDLIBS   := -lfftw3f_omp -lfftw3_omp -lfftw3f -lfftw3 -lopenblas -lzstd -lm -lpthread
# NetCDF (tsr2nc, nc2tsr): Debian's libnetcdf; the fallback is its usual flags.
NC_CFLAGS := $(shell pkg-config --cflags netcdf 2>/dev/null || echo -I/usr/include/hdf5/serial)
NC_LIBS   := $(shell pkg-config --libs netcdf 2>/dev/null || echo -lnetcdf)
CPPFLAGS += $(NC_CFLAGS)
LDLIBS   += $(NC_LIBS)

LIB_SRC  := $(wildcard lib/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIBA     := $(BUILD)/libeddy.a
TOOLS    := $(patsubst tools/%.c,$(BIN)/%,$(wildcard tools/*.c))
UNIT     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
BENCH    := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))

# ---------------------------------------------------------------- dependencies
DEB_PKGS := libfftw3-dev libopenblas-dev libzstd-dev zstd pkg-config \
            bats bats-assert bats-support python3-numpy gnuplot-nox help2man
DEB_PKGS += libnetcdf-dev netcdf-bin python3-zstandard
DEPS_OK  := $(BUILD)/.deps-ok

# $(call install-pkgs,LIST): installs the Debian packages of LIST that are
# missing (as root), or prints the apt-get line and fails.
define install-pkgs
	@missing=$$(for p in $(1); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing" $$missing; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "deps: missing Debian packages; run as root:"; \
	    echo "  apt-get update && apt-get install -y" $$missing; exit 1; \
	  fi; \
	fi
endef

# Open MPI for data-parallel training (lib/dist.c), when mpicc is present; MPI=0 forces the
# serial build.  Only lib/dist.c sees MPI's headers, and binaries link libmpi only if they call
# it (--as-needed), so one binary serves a plain run and mpirun.  $(BUILD)/.mpi holds the
# choice, and rebuilds dist.o when it changes.
DEB_PKGS += libopenmpi-dev openmpi-bin
MPI ?= $(if $(shell command -v mpicc 2>/dev/null),1,0)
ifeq ($(MPI),1)
$(BUILD)/lib/dist.o: CPPFLAGS += -DEDDY_MPI $(shell mpicc --showme:compile)
LDLIBS += -Wl,--as-needed $(shell mpicc --showme:link) -Wl,--no-as-needed
endif
$(BUILD)/lib/dist.o: $(BUILD)/.mpi
$(BUILD)/.mpi: FORCE
	@mkdir -p $(@D) && [ "$$(cat $@ 2>/dev/null)" = $(MPI) ] || echo $(MPI) > $@
FORCE:

deps: $(DEPS_OK)
$(DEPS_OK):
	$(call install-pkgs,$(DEB_PKGS))
	@mkdir -p $(@D) && touch $@
# The stamp is read as a (empty) makefile, so on a fresh machine make installs the packages
# first and then starts again: the flags found by pkg-config and the mpicc test above are
# taken after the install, not before it.
ifeq ($(filter clean,$(MAKECMDGOALS)),)
-include $(DEPS_OK)
endif

# The peers of `make bench` (PyTorch, SciPy) and the fuzzer's clang runtime.
BENCH_PKGS := python3-torch python3-scipy python3-numpy zstd
FUZZ_PKGS  := clang libclang-rt-14-dev
bench-deps:
	$(call install-pkgs,$(BENCH_PKGS))
# What make test uses where it can (PyTorch, for the equivalence tests that otherwise say
# "skipped"), and the one-node Slurm cluster of make test-cluster.
TEST_PKGS    := python3-torch
CLUSTER_PKGS := slurm-wlm munge
test-deps:
	$(call install-pkgs,$(TEST_PKGS)) || echo "deps: without python3-torch the torch equivalence tests are skipped"
cluster-deps:
	$(call install-pkgs,$(CLUSTER_PKGS))
fuzz-deps:
	$(call install-pkgs,$(FUZZ_PKGS))

# ---------------------------------------------------------------- build
all: $(TOOLS)

$(BUILD)/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/%: $(BUILD)/tools/%.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $< $(LIBA) $(LDLIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $< $(LIBA) $(LDLIBS) -o $@

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $< $(LIBA) $(LDLIBS) -o $@

# The compiler writes each .d beside its object: tests' under $(BUILD)/tests/unit/.
-include $(LIB_OBJ:.o=.d) $(TOOLS:$(BIN)/%=$(BUILD)/tools/%.d) \
         $(UNIT:$(BUILD)/tests/%=$(BUILD)/tests/unit/%.d) $(BENCH:%=%.d)

# ---------------------------------------------------------------- tests
ASAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# The C side of the PyTorch equivalence test (tests/cli/python.bats).
PROBE := $(BUILD)/tests/model-probe
$(PROBE): $(BUILD)/tests/python/model_probe.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) $< $(LIBA) $(LDLIBS) -o $@

test: test-deps all $(UNIT) $(PROBE)
	@$(MAKE) --no-print-directory BUILD=build/asan BIN=build/asan/bin OPT=-O1 SAN="$(ASAN)" unit-build
	@tests/run.sh --bin $(BIN) --unit "$(UNIT)" --asan build/asan/tests --cli tests/cli \
	   --smoke "$(wildcard tests/smoke/*.sh)"

unit-build: $(UNIT)

unit: $(UNIT)
	@tests/run.sh --bin $(BIN) --unit "$(UNIT)"

cli: all $(PROBE)
	@tests/run.sh --bin $(BIN) --cli tests/cli

# A one-node Slurm cluster on this machine, started and stopped by the test (tests/cluster/):
# job arrays, --dependency=afterok merges, sbatch + mpirun.  Run by .ci/run after make test.
test-cluster: cluster-deps all $(BUILD)/tests/test_dist
	@tests/cluster/run.sh --bin $(BIN) --build $(BUILD)

# ---------------------------------------------------------------- demo
DEMO_OUT ?= out/demo
demo: all
	@$(MAKE) --no-print-directory -f pipelines/demo.mk OUT=$(DEMO_OUT) BIN=$(BIN)

# ---------------------------------------------------------------- bench, fuzz
bench: all $(BENCH) | bench-deps
	@bench/run.sh $(BUILD)/bench $(BIN)

FUZZ_SECONDS ?= 60
fuzz: | $(DEPS_OK) fuzz-deps
	@tests/fuzz/run.sh $(FUZZ_SECONDS)

# ---------------------------------------------------------------- install
# Man pages are made from each tool's --help, the same text the parser prints.
MANS := $(patsubst $(BIN)/%,$(BUILD)/man/%.1,$(TOOLS))
$(BUILD)/man/%.1: $(BIN)/%
	@mkdir -p $(@D)
	help2man --no-info --no-discard-stderr --version-string=$(VERSION) \
	  --name="$$($< --help | sed -n 2p)" $< > $@

man: $(MANS)

install: all man
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(MANS) $(DESTDIR)$(PREFIX)/share/man/man1

# The Python module (tools/python/eddy: tensor streams, models in PyTorch) goes where
# Debian's python3 looks for site packages of that prefix: PREFIX/lib/python3.X/dist-packages.
PYVER := $(shell /usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
PYDIR ?= $(PREFIX)/lib/python$(PYVER)/dist-packages
install: install-python
install-python:
	install -d $(DESTDIR)$(PYDIR)/eddy
	install -m 644 tools/python/eddy/*.py $(DESTDIR)$(PYDIR)/eddy

clean:
	rm -rf build $(BIN)

.PHONY: all deps bench-deps fuzz-deps demo test unit unit-build cli bench fuzz man install clean
.PHONY: test-cluster FORCE install-python test-deps cluster-deps

# The U-Net's PyTorch agreement test (tests/smoke/unet-torch.sh) runs bench_unet.
test: $(BUILD)/bench/bench_unet
