# The system-independent half of the Predictor-Driven Diffusion pipelines
# (seed 001, Tables 1-3): included by pdd-l96.mk and pdd-kf.mk, which define
# the figures ($(FIGS)) and these variables:
#   DATA                   generator command of the paths (recursive: it may name $(T)),
#                          run with --count --seed -j -q -o for train.tsr and test.tsr
#   NTRAIN NTEST           paths in train.tsr and test.tsr
#   SYS PRESET CH          title, rg-coarsen preset, channel indices ("0 1")
#   ARCH STEPS BATCH       pd-train network and optimisation
#   NGEN                   generated paths (a multiple of the test paths: relerr pairs them)
#   NPAPER                 paths for the paper's (costly) sampler; ours is compared on the same
#   SAMPLER                options of every reverse-lambda run
#   GEN GEN_PAPER          generation: accelerated (ours) and the paper's sampler
#   SR SR_PAPER            super-resolution from lambda 0.2: the same two
#   DDPMSIM                reverse sampler of the DDPM-cond simulation baseline
#   LAMS                   lambdas of the simulation lambda-dependence (with 0 and 0.2)
#   PAPER_*                the seed's numbers for the table
#
# data -> train (PDD, DDPM-cond, DDPM-gen) -> simulate at every lambda of LAMS
# -> generate -> super-resolve from lambda 0.2 -> evaluate -> $(OUT)/results.md.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
BIN ?= bin
J ?= 2
# Steps share the cores (with each other, with make -j, with other work), and
# an OpenMP thread that spins while it waits steals a core from a step that
# has work (the first small PDD run, beside the closure pipeline, spent 0.77 s
# on a training step that takes 0.055 s alone).  Waiting threads sleep unless
# the caller says otherwise.
export OMP_WAIT_POLICY ?= passive
T := $(BIN)

all: $(OUT)/results.md

$(OUT)/train.tsr:
	@mkdir -p $(@D)
	$(DATA) --count $(NTRAIN) --seed 1 -j $(J) -q -o $@
$(OUT)/test.tsr:
	@mkdir -p $(@D)
	$(DATA) --count $(NTEST) --seed 2 -j $(J) -q -o $@

$(OUT)/pdd.model: $(OUT)/train.tsr
	$(T)/pd-train $(ARCH) --steps $(STEPS) --batch $(BATCH) --seed 11 -j $(J) -q --log $(OUT)/pdd.loss.tsv -o $@ $<
$(OUT)/ddpm-cond.model: $(OUT)/train.tsr
	$(T)/pd-train --objective ddpm-cond $(ARCH) --steps $(STEPS) --batch $(BATCH) --seed 12 -j $(J) -q --log $(OUT)/ddpm-cond.loss.tsv -o $@ $<
$(OUT)/ddpm-gen.model: $(OUT)/train.tsr
	$(T)/pd-train --objective ddpm-gen $(ARCH) --steps $(STEPS) --batch $(BATCH) --seed 13 -j $(J) -q --log $(OUT)/ddpm-gen.loss.tsv -o $@ $<

# Simulation at each lambda from coarse-grained true frames (sigma = 0), and
# its reference C_lambda u (no noise).
$(OUT)/ref-0.tsr: $(OUT)/test.tsr
	cp $< $@
$(OUT)/ref-%.tsr: $(OUT)/test.tsr
	$(T)/rg-coarsen --preset $(PRESET) --lambda $* --no-noise -o $@ $<
$(OUT)/sim-%.tsr: $(OUT)/pdd.model $(OUT)/test.tsr
	$(T)/pd-sample -m $< simulate --lambda $* -j $(J) -q -o $@ $(OUT)/test.tsr
# The super-resolution input: a noisy rollout at lambda 0.2, its increment
# noise the coloured Sigma_lambda(k) of the path score (L96 small: the
# paper's white sigma_lambda gives X five times the power above k = 16, 76
# times an exact lambda-0.2 sample's, and takes the SR spectral error from
# 0.41/0.55 to 0.56/0.65).  And, to tell the sampler from its input, an exact
# lambda-0.2 sample of the test paths (C u + noise).
$(OUT)/lr.tsr: $(OUT)/pdd.model $(OUT)/test.tsr
	$(T)/pd-sample -m $< simulate --lambda 0.2 --noise sigma --seed 5 -j $(J) -q -o $@ $(OUT)/test.tsr
$(OUT)/q.tsr: $(OUT)/test.tsr
	$(T)/rg-coarsen --preset $(PRESET) --lambda 0.2 --seed 3 -o $@ $<
$(OUT)/ddpm-sim.tsr: $(OUT)/ddpm-cond.model $(OUT)/test.tsr
	$(T)/pd-sample -m $< simulate --lambda 0 $(SAMPLER) $(DDPMSIM) --seed 6 -j $(J) -o $@ $(OUT)/test.tsr 2> $(OUT)/ddpm-sim.cost
$(OUT)/gen.tsr: $(OUT)/pdd.model
	$(T)/pd-sample -m $< generate -n $(NGEN) $(SAMPLER) $(GEN) --seed 7 -j $(J) -o $@ 2> $(OUT)/gen.cost
$(OUT)/gen-paper.tsr: $(OUT)/pdd.model
	$(T)/pd-sample -m $< generate -n $(NPAPER) $(SAMPLER) $(GEN_PAPER) --seed 7 -j $(J) -o $@ 2> $(OUT)/gen-paper.cost
$(OUT)/ddpm-gen.tsr: $(OUT)/ddpm-gen.model
	$(T)/pd-sample -m $< generate -n $(NGEN) $(SAMPLER) $(GEN) --seed 8 -j $(J) -o $@ 2> $(OUT)/ddpm-gen.cost
# Super-resolution subtracts each path's (t, x) mean per channel after every
# update, as the reference code does: the rg process freezes the mean mode, so
# it would keep the LR rollout's, which drifts (L96 small: the X mean square
# falls from 6.7 to 4.8 over 64 frames at lambda 0.2; SR 0.41 -> 0.32).
SR_MEAN := --remove-mean
$(OUT)/sr.tsr: $(OUT)/pdd.model $(OUT)/lr.tsr
	$(T)/pd-sample -m $< super-resolve --lambda 0.2 $(SAMPLER) $(SR) $(SR_MEAN) --seed 9 -j $(J) -o $@ $(OUT)/lr.tsr 2> $(OUT)/sr.cost
$(OUT)/sr-q.tsr: $(OUT)/pdd.model $(OUT)/q.tsr
	$(T)/pd-sample -m $< super-resolve --lambda 0.2 $(SAMPLER) $(SR) $(SR_MEAN) --seed 9 -j $(J) -q -o $@ $(OUT)/q.tsr
$(OUT)/sr-paper.tsr: $(OUT)/pdd.model $(OUT)/lr-p.tsr
	$(T)/pd-sample -m $< super-resolve --lambda 0.2 $(SAMPLER) $(SR_PAPER) $(SR_MEAN) --seed 9 -j $(J) -o $@ $(OUT)/lr-p.tsr 2> $(OUT)/sr-paper.cost
# The first NPAPER paths of a stream (sample keys are per path, so these are
# what a run with NPAPER paths would give).
$(OUT)/%-p.tsr: $(OUT)/%.tsr
	$(T)/tsr-cat -r :$(NPAPER) -o $@ $<

# PSDs (space, averaged over frames and paths) of every stream, one table.
PSD_SRC := test sim-0 ddpm-sim gen ddpm-gen lr sr
$(OUT)/psd.tsv: $(foreach s,$(PSD_SRC),$(OUT)/$(s).tsr)
	@{ printf 'source\tc\twavenumber\tvalue\tsid\n'; i=0; for s in $(PSD_SRC); do \
	  $(T)/spectrum --mean --tsv $(OUT)/$$s.tsr | awk -F'\t' -v s=$$s -v i=$$i 'NR > 1 { print s "\t" $$2 "\t" $$4 "\t" $$5 "\t" i }'; \
	  i=$$((i + 1)); done; } > $@.tmp && mv $@.tmp $@
$(OUT)/psd-c%.png: $(OUT)/psd.tsv
	$(T)/tsv-plot --where c=$* --x wavenumber --y value --by source --logx --logy --legend "stream" \
	  --xlabel "wavenumber k" --ylabel "power spectral density E(k), channel $*" \
	  --title "Spatial spectra of every stream, channel $* (mean over frames and paths)" -q -o $@ $<
$(OUT)/lambda.tsv: $(foreach l,$(LAMS),$(OUT)/sim-$(l).tsr $(OUT)/ref-$(l).tsr)
	@{ printf 'lambda\tmetric\tkey\tvalue\n'; for l in $(LAMS); do \
	  $(T)/relerr $(OUT)/ref-$$l.tsr $(OUT)/sim-$$l.tsr | awk -F'\t' -v l=$$l \
	    '$$1 == "rel_l2" && $$2 == "t=5" || $$1 == "spec_err" { print l "\t" $$1 "\t" $$2 "\t" $$3 }'; \
	  $(T)/relerr $(OUT)/test.tsr $(OUT)/sim-$$l.tsr | awk -F'\t' -v l=$$l \
	    '$$1 == "spec_err" { print l "\tspec_err_vs_0\t" $$2 "\t" $$3 }'; done; } > $@.tmp && mv $@.tmp $@
$(OUT)/lambda-l2.png: $(OUT)/lambda.tsv
	$(T)/tsv-plot --where metric=rel_l2 --x lambda --y value --xlabel "λ (RG scale of the sampled path)" \
	  --ylabel "relative L2 error at t=5 (vs. the λ-reference)" --title "Simulation error against λ" -q -o $@ $<

# The report: every number below comes from relerr on the streams above.
REPORT_SH = m() { $(T)/relerr "$$1" "$$2" | awk -F'\t' -v k="$$3" -v key="$$4" '$$1 == k && $$2 == key { printf "%.3g", $$3 }'; }; \
  spec() { local out= c; for c in $(CH); do out+=$${out:+/}$$(m "$$1" "$$2" spec_err c=$$c); done; echo "$$out"; }; \
  cost() { sed -n 's/^pd-sample: [a-z-]*: nfe \([0-9]*\), \([0-9.e+-]*\) s per sample$$/\1 | \2/p' "$$1" | tail -n 1; }; \
  O=$(OUT)

PSD_PNG := $(foreach c,$(CH),$(OUT)/psd-c$(c).png)
$(OUT)/results.md: $(OUT)/lambda.tsv $(OUT)/psd.tsv $(FIGS) $(PSD_PNG) $(OUT)/lambda-l2.png \
                   $(OUT)/gen-paper.tsr $(OUT)/sr-paper.tsr $(OUT)/test-p.tsr $(OUT)/gen-p.tsr $(OUT)/sr-p.tsr \
                   $(OUT)/sr-q.tsr
	@$(REPORT_SH); { \
	echo "# Predictor-Driven Diffusion on $(SYS), SCALE=$(SCALE)"; echo; \
	echo "Every number of ours is measured by this pipeline (relerr). L2: relative L2 at frame index 5,"; \
	echo "the first predicted frame after the 5 given (seed 001's 'sixth step'). Spectral error: PSD over"; \
	echo "space and time per path, averaged over paths, sum|P - Q|/sum|P|, per channel ($(CH) joined by /)."; \
	echo "Paper: seed 001 Tables 1-3 (mean of 5 trainings). Training: $(STEPS) steps of batch $(BATCH), $(ARCH)."; echo; \
	echo "| Table | metric | ours PDD | ours DDPM | paper PDD | paper DDPM |"; \
	echo "|---|---|---|---|---|---|"; \
	echo "| 1 | simulation L2 (step 6), lambda 0 | $$(m $$O/test.tsr $$O/sim-0.tsr rel_l2 t=5) | $$(m $$O/test.tsr $$O/ddpm-sim.tsr rel_l2 t=5) | $(PAPER_SIM_L2) |"; \
	echo "| 1 | simulation spectral error, lambda 0 | $$(spec $$O/test.tsr $$O/sim-0.tsr) | $$(spec $$O/test.tsr $$O/ddpm-sim.tsr) | $(PAPER_SIM_SPEC) |"; \
	echo "| 2 | generation spectral error | $$(spec $$O/test.tsr $$O/gen.tsr) | $$(spec $$O/test.tsr $$O/ddpm-gen.tsr) | $(PAPER_GEN) |"; \
	echo; echo "| Table 3 | ours SR | ours LR input (lambda 0.2 rollout) | paper SR | paper LR |"; echo "|---|---|---|---|---|"; \
	echo "| super-resolution spectral error vs lambda-0 truth | $$(spec $$O/test.tsr $$O/sr.tsr) | $$(spec $$O/test.tsr $$O/lr.tsr) | $(PAPER_SR) | $(PAPER_LR) |"; \
	echo "| the same from an exact lambda-0.2 sample (C u + noise) instead of the rollout | $$(spec $$O/test.tsr $$O/sr-q.tsr) | $$(spec $$O/test.tsr $$O/q.tsr) | | |"; \
	echo; echo "Super-resolution options: $(SR) $(SR_MEAN); the LR rollout's spectral error against an exact lambda-0.2 sample: $$(spec $$O/q.tsr $$O/lr.tsr)."; \
	echo; echo "Simulation against lambda (seed 001 Fig. 7): reference C_lambda u (no noise), sigma = 0."; echo; \
	echo "| lambda | L2 (step 6) vs C_lambda u | spectral error vs C_lambda u | spectral error vs lambda-0 truth |"; echo "|---|---|---|---|"; \
	for l in $(LAMS); do \
	  echo "| $$l | $$(m $$O/ref-$$l.tsr $$O/sim-$$l.tsr rel_l2 t=5) | $$(spec $$O/ref-$$l.tsr $$O/sim-$$l.tsr) | $$(spec $$O/test.tsr $$O/sim-$$l.tsr) |"; done; \
	echo; echo "Sampler cost and accuracy: the paper's sampler (uniform lambda grid, 1e-3 apart, ETD predictor)"; \
	echo "against ours (rho schedule, exact per-mode Gaussian step); both with the score options below."; \
	echo "NFE = score evaluations per batch of paths; seconds per sample path on this (shared) machine."; echo; \
	echo "| task | sampler | options | spectral error | NFE | s per sample |"; echo "|---|---|---|---|---|---|"; \
	echo "| generation, $(NPAPER) paths | paper | $(GEN_PAPER) | $$(spec $$O/test-p.tsr $$O/gen-paper.tsr) | $$(cost $$O/gen-paper.cost) |"; \
	echo "| generation, $(NPAPER) paths | ours | $(GEN) | $$(spec $$O/test-p.tsr $$O/gen-p.tsr) | $$(cost $$O/gen.cost) |"; \
	echo "| super-resolution, $(NPAPER) paths | paper | $(SR_PAPER) $(SR_MEAN) | $$(spec $$O/test-p.tsr $$O/sr-paper.tsr) | $$(cost $$O/sr-paper.cost) |"; \
	echo "| super-resolution, $(NPAPER) paths | ours | $(SR) $(SR_MEAN) | $$(spec $$O/test-p.tsr $$O/sr-p.tsr) | $$(cost $$O/sr.cost) |"; \
	echo "| DDPM generation | ours | $(GEN) | $$(spec $$O/test.tsr $$O/ddpm-gen.tsr) | $$(cost $$O/ddpm-gen.cost) |"; \
	echo "| DDPM simulation | ours | $(DDPMSIM) | $$(spec $$O/test.tsr $$O/ddpm-sim.tsr) | $$(cost $$O/ddpm-sim.cost) |"; \
	echo; echo "Common sampler options: $(or $(SAMPLER),none (the defaults: --score coloured --gauss-below 0.1 --clamp 5 --max-clamped 0.01))."; echo; \
	echo "Figures: $(notdir $(FIGS) $(PSD_PNG)) lambda-l2.png; PSD series in order: $(PSD_SRC)."; \
	} > $@.tmp && mv $@.tmp $@
	@cat $@

.PHONY: all
