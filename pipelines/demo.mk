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

# What the PDD part can show at this scale, said plainly from its report:
# the floor (two disjoint physics sets of the test set's size), and whether
# super-resolution's change of its input's error is resolved at all.
PDD_NOTE_SH = r=$(OUT)/pdd-l96/results.md; \
  n=$$(sed -n 's/^Test paths: \([0-9]*\).*/\1/p' "$$r"); \
  fl=$$(awk -F'|' '/^\| 2 \| generation spectral error/ { gsub(/^ +| +$$/, "", $$6); print $$6 }' "$$r"); \
  srv=$$(sed -n 's/.*Super-resolution against its LR input: \(.*\)\.$$/\1/p' "$$r"); \
  echo "What the PDD part can show at this scale: it evaluates on $$n test paths, where the spectral"; \
  echo "error's noise floor (the same metric between two disjoint sets of $$n physics paths) is $$fl"; \
  echo "(X / Y, with its bootstrap interval); every spectral error below carries its interval and this floor."; \
  echo "Super-resolution against its LR input, per channel: $$srv."; \
  if printf '%s' "$$srv" | grep -q 'cannot be told apart\|LR lower'; then \
    echo "So this demo cannot show super-resolution working: at $$n paths and a model trained for $(PDD_DEMO_STEPS)"; \
    echo "steps, its effect is either inside the intervals and the floor or an increase of the error (the"; \
    echo "model is too weak). The method is measured at SCALE=small (100 test paths, hours of training;"; \
    echo "pipelines/results/pdd-l96-small.md), not here."; \
  else echo "At this count the change is resolved (intervals disjoint, difference above the floor)."; fi
PDD_DEMO_STEPS = $$(sed -n 's/^\([0-9]*\) steps of batch.*/\1/p' "$$r")

# Each part's figures stay in its folder; their links are rewritten to match.
$(OUT)/report.md: $(OUT)/closure/results.md $(OUT)/pdd-l96/results.md
	@{ echo "# eddy demo report"; echo; \
	   echo "Made by \`make demo\` on $$(date -u +%Y-%m-%d) in $(OUT). Small models trained for minutes:"; \
	   echo "the numbers show the workflow, not the papers' accuracy (see README, 'The science')."; \
	   echo; $(PDD_NOTE_SH); \
	   for part in closure pdd-l96; do echo; \
	     echo "(Figures of this part are in $$part/.)"; echo; \
	     sed -e 's/^#/##/' -e "s#](\([^/):][^):]*\))#]($$part/\1)#g" $(OUT)/$$part/results.md; done; } > $@.tmp
	@mv $@.tmp $@
	@echo "demo: report written to $(abspath $@)"

.PHONY: all
