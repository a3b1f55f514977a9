# make demo: the project's main job at a size that runs in minutes on two
# cores — a stochastic-closure model (seed 000) and a Predictor-Driven
# Diffusion model on Lorenz-96 (seed 001) — and one report with their tables
# and figures.
#
#   make demo                      (from the top-level Makefile)
#   make -f pipelines/demo.mk OUT=out/demo
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
OUT ?= out/demo
BIN ?= bin

all: $(OUT)/report.md

$(OUT)/closure/results.md:
	$(MAKE) --no-print-directory -f pipelines/closure.mk SCALE=demo OUT=$(OUT)/closure BIN=$(BIN)
$(OUT)/pdd-l96/results.md:
	$(MAKE) --no-print-directory -f pipelines/pdd-l96.mk SCALE=demo OUT=$(OUT)/pdd-l96 BIN=$(BIN)

# Each part's figures stay in its folder; their links are rewritten to match.
$(OUT)/report.md: $(OUT)/closure/results.md $(OUT)/pdd-l96/results.md
	@{ echo "# eddy demo report"; echo; \
	   echo "Made by \`make demo\` on $$(date -u +%Y-%m-%d) in $(OUT). Small models trained for minutes:"; \
	   echo "the numbers show the workflow, not the papers' accuracy (see README, 'The science')."; \
	   for part in closure pdd-l96; do echo; \
	     echo "(Figures of this part are in $$part/.)"; echo; \
	     sed -e 's/^#/##/' -e "s#](\([^/):][^):]*\))#]($$part/\1)#g" $(OUT)/$$part/results.md; done; } > $@.tmp
	@mv $@.tmp $@
	@echo "demo: report written to $(abspath $@)"

.PHONY: all
