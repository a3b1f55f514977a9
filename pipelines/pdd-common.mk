# The system-independent half of the Predictor-Driven Diffusion pipelines
# (seed 001, Tables 1-3): included by pdd-l96.mk and pdd-kf.mk, which define
# the figures ($(FIGS)) and these variables:
#   DATA                   generator command of the paths (recursive: it may name $(T)),
#                          run with --count --seed -j -q -o for train.tsr and test.tsr
#   NTRAIN NTEST           paths in train.tsr and test.tsr (seed 001: 100 test paths; ci and
#                          demo fewer, which their reports state)
#   SYS PRESET CH          title, rg-coarsen preset, channel indices ("0 1")
#   UNET STEPS BATCH       pd-train options of the main rows' U-Net (seed 001 B.2; empty:
#                          the paper's) and the optimisation
#   ARCH                   pd-train options of the FNO row (--arch fno ...; seed 001 D.5's at
#                          SCALE=paper: --fno-preset d5)
#   NGEN                   generated paths (a multiple of the test paths: relerr pairs them;
#                          NTEST for the protocol)
#   NPAPER                 paths for the paper's (costly) sampler; ours is compared on the same
#   SAMPLER                options of every reverse-lambda run
#   GEN GEN_PAPER          generation: accelerated (ours) and the paper's sampler
#   SR SR_PAPER            super-resolution from lambda 0.2: the same two
#   DDPMSIM                reverse sampler of the DDPM-cond simulation baseline
#   DDPMGEN                that of the DDPM-gen baseline (default: GEN, as the PDD's)
#   LAMS                   lambdas of the simulation lambda-dependence (with 0 and 0.2)
#   PAPER_*                the seed's numbers for the table
# and may set on the command line:
#   SEEDS                  trainings with different seeds (default 1): the report gives
#                          mean +- std across them, as seed 001's tables (5 there)
#   BOOT                   bootstrap replicates of every interval (default 1000)
#
# data -> train (PDD, DDPM-cond, DDPM-gen) -> simulate at every lambda of LAMS
# and the long rollout (11 sample lengths, the last kept)
# -> generate -> super-resolve from lambda 0.2 -> evaluate -> $(OUT)/results.md.
# Every training runs twice: with the U-Net (seed 001's predictor, §4.1 and
# B.2: the report's main rows, streams in <training folder>/unet/) and with
# the FNO (their D.5: the report's FNO rows, streams in the training folder
# itself, under the names they had when the FNO was the only network).
#
# Evaluation protocol (seed 001 section 4 and appendix B.5): train, test and
# floor paths come from generator seeds 1, 2 and 4 (each path's initial state
# is drawn from the streams of (seed, path index), so the three sets are
# disjoint); every metric compared with the paper is computed by relerr
# --standardize with the training set's per-channel mean and std (norm.txt),
# with a 2.5-97.5 % bootstrap interval over paths (--bootstrap $(BOOT)) and
# beside its noise floor: the same metric between the test paths and the
# floor paths, two disjoint physics sets of the size compared.
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
SEEDS ?= 1
BOOT ?= 1000
DDPMGEN ?= $(GEN)
ifeq ($(filter-out 0,$(shell [ "$(SEEDS)" -ge 1 ] 2>/dev/null && echo 1 || echo 0)),)
  $(error SEEDS must be a whole number of trainings, at least 1 (got '$(SEEDS)'))
endif
ifeq ($(filter-out 0,$(shell [ "$(BOOT)" -ge 1 ] 2>/dev/null && echo 1 || echo 0)),)
  $(error BOOT must be a whole number of bootstrap replicates, at least 1 (got '$(BOOT)'))
endif
SEED_LIST := $(shell seq 1 $(SEEDS))
# Training k's folder: the first in $(OUT) itself (its streams feed the
# figures and the sampler comparison), the others in $(OUT)/seedK.
sdir = $(if $(filter 1,$(1)),$(OUT),$(OUT)/seed$(1))
SDIRS := $(foreach k,$(SEED_LIST),$(call sdir,$(k)))

all: $(OUT)/results.md

$(OUT)/train.tsr:
	@mkdir -p $(@D)
	$(DATA) --count $(NTRAIN) --seed 1 -j $(J) -q -o $@
$(OUT)/test.tsr:
	@mkdir -p $(@D)
	$(DATA) --count $(NTEST) --seed 2 -j $(J) -q -o $@
# The noise floor's second physics set: as many paths as the test set.
$(OUT)/floor.tsr:
	@mkdir -p $(@D)
	$(DATA) --count $(NTEST) --seed 4 -j $(J) -q -o $@
# Seed 001 B.5's shared normalisation: the training set's per-channel mean
# and std, applied to truth and prediction alike.
$(OUT)/norm.txt: $(OUT)/train.tsr
	$(T)/relerr --stats $< > $@.tmp && mv $@.tmp $@

# Simulation at each lambda from coarse-grained true frames (sigma = 0), and
# its reference C_lambda u (no noise).
$(OUT)/ref-0.tsr: $(OUT)/test.tsr
	cp $< $@
$(OUT)/ref-%.tsr: $(OUT)/test.tsr
	$(T)/rg-coarsen --preset $(PRESET) --lambda $* --no-noise -o $@ $<
$(OUT)/q.tsr: $(OUT)/test.tsr
	$(T)/rg-coarsen --preset $(PRESET) --lambda 0.2 --seed 3 -o $@ $<
# Super-resolution subtracts each path's (t, x) mean per channel after every
# update, as the reference code does: the rg process freezes the mean mode, so
# it would keep the LR rollout's, which drifts (L96 small: the X mean square
# falls from 6.7 to 4.8 over 64 frames at lambda 0.2; SR 0.41 -> 0.32).
SR_MEAN := --remove-mean

# Everything that depends on a training, for training k ($(1)) in folder
# $(2) with the network options of variable $(3) (UNET or ARCH): the PDD
# model (seed 11 for the first, k11 for training k), its simulations,
# generations and super-resolutions, and metrics.tsv, every relerr comparison
# of that training (name, metric, key, value, lo, hi).  With $(4) = base, also
# the DDPM baselines (seeds 12 and 13) and their rows.  SEEDS retrains the
# main rows' model alone, the U-Net's PDD: the baselines and the FNO row are
# trained once, by the first training (two more trainings of all four would
# cost about 80 min more of L96 small's sampling by the measured per-path
# rates, mostly the DDPM long rollouts),
# and the report says of how many trainings each cell is.  The sample seeds
# stay the same across trainings: the spread measured is that of the
# training alone, as seed 001's.
define TRAINING
$(2)/pdd.model: $(OUT)/train.tsr
	@mkdir -p $$(@D)
	$$(T)/pd-train $$($(3)) --steps $$(STEPS) --batch $$(BATCH) --seed $(if $(filter 1,$(1)),11,$(1)11) -j $$(J) -q --log $(2)/pdd.loss.tsv -o $$@ $$<
ifeq ($(4),base)
$(2)/ddpm-cond.model: $(OUT)/train.tsr
	@mkdir -p $$(@D)
	$$(T)/pd-train --objective ddpm-cond $$($(3)) --steps $$(STEPS) --batch $$(BATCH) --seed 12 -j $$(J) -q --log $(2)/ddpm-cond.loss.tsv -o $$@ $$<
$(2)/ddpm-gen.model: $(OUT)/train.tsr
	@mkdir -p $$(@D)
	$$(T)/pd-train --objective ddpm-gen $$($(3)) --steps $$(STEPS) --batch $$(BATCH) --seed 13 -j $$(J) -q --log $(2)/ddpm-gen.loss.tsv -o $$@ $$<
$(2)/ddpm-sim.tsr: $(2)/ddpm-cond.model $(OUT)/test.tsr
	$$(T)/pd-sample -m $$< simulate --lambda 0 $$(SAMPLER) $$(DDPMSIM) --seed 6 -j $$(J) -o $$@ $(OUT)/test.tsr 2> $(2)/ddpm-sim.cost
$(2)/ddpm-gen.tsr: $(2)/ddpm-gen.model
	$$(T)/pd-sample -m $$< generate -n $$(NGEN) $$(SAMPLER) $$(DDPMGEN) --seed 8 -j $$(J) -o $$@ 2> $(2)/ddpm-gen.cost
$(2)/ddpm-long.tsr: $(2)/ddpm-cond.model $(OUT)/test.tsr
	f=$$$$($$(T)/tsr-info $(OUT)/test.tsr | sed -n '1s/.*\t(\([0-9]*\),.*/\1/p'); \
	$$(T)/pd-sample -m $$< simulate --lambda 0 $$(SAMPLER) $$(DDPMSIM) --seed 6 --frames $$$$((11 * f)) --keep-from $$$$((10 * f)) -j $$(J) -o $$@ $(OUT)/test.tsr 2> $(2)/ddpm-long.log
endif
$(2)/sim-%.tsr: $(2)/pdd.model $(OUT)/test.tsr
	$$(T)/pd-sample -m $$< simulate --lambda $$* -j $$(J) -q -o $$@ $(OUT)/test.tsr
# The super-resolution input: a noisy rollout at lambda 0.2, its increment
# noise the coloured Sigma_lambda(k) of the path score (L96 small: the
# paper's white sigma_lambda gives X five times the power above k = 16, 76
# times an exact lambda-0.2 sample's, and takes the SR spectral error from
# 0.41/0.55 to 0.56/0.65).  And, to tell the sampler from its input, an exact
# lambda-0.2 sample of the test paths (C u + noise), q.tsr.
$(2)/lr.tsr: $(2)/pdd.model $(OUT)/test.tsr
	$$(T)/pd-sample -m $$< simulate --lambda 0.2 --noise sigma --seed 5 -j $$(J) -q -o $$@ $(OUT)/test.tsr
$(2)/gen.tsr: $(2)/pdd.model
	$$(T)/pd-sample -m $$< generate -n $$(NGEN) $$(SAMPLER) $$(GEN) --seed 7 -j $$(J) -o $$@ 2> $(2)/gen.cost
$(2)/sr.tsr: $(2)/pdd.model $(2)/lr.tsr
	$$(T)/pd-sample -m $$< super-resolve --lambda 0.2 $$(SAMPLER) $$(SR) $$(SR_MEAN) --seed 9 -j $$(J) -o $$@ $(2)/lr.tsr 2> $(2)/sr.cost
$(2)/sr-q.tsr: $(2)/pdd.model $(OUT)/q.tsr
	$$(T)/pd-sample -m $$< super-resolve --lambda 0.2 $$(SAMPLER) $$(SR) $$(SR_MEAN) --seed 9 -j $$(J) -q -o $$@ $(OUT)/q.tsr
$(2)/metrics.tsv: $(OUT)/norm.txt $(OUT)/test.tsr $(OUT)/q.tsr $(foreach l,$(LAMS),$(OUT)/ref-$(l).tsr $(2)/sim-$(l).tsr) \
                  $(foreach s,gen lr sr sr-q $(if $(filter base,$(4)),ddpm-sim ddpm-gen),$(2)/$(s).tsr)
	@$$(EVAL_SH); { ev sim0 test $(2)/sim-0; ev gen test $(2)/gen; $(if $(filter base,$(4)),ev ddpmsim test $(2)/ddpm-sim; ev ddpmgen test $(2)/ddpm-gen;) \
	  ev sr test $(2)/sr; ev lr test $(2)/lr; ev srq test $(2)/sr-q; ev q test q; \
	  ev lrq q $(2)/lr; for l in $$(LAMS); do ev lam-$$$$l ref-$$$$l $(2)/sim-$$$$l; ev lam0-$$$$l test $(2)/sim-$$$$l; done; \
	  } > $$@.tmp && mv $$@.tmp $$@
# Seed 001's simulation spectral error (section 4.1, appendix B.5): from each
# test path's 5 given frames, a rollout of 11 sample lengths (T, the test
# paths' frame count) with the first 10 dropped, the PSD of the last T frames
# against the test paths' (pd-sample streams it: memory does not grow with the
# rollout).  A path that diverges (pd-sample simulate --frames --help) is left
# out and counted; the log keeps pd-sample's line naming them, and long.tsv
# (LONG_SH) compares the remaining paths' segments with the same test paths,
# beside the count.  A file of its own, so that adding it rebuilds nothing
# else.
$(2)/long.tsr: $(2)/pdd.model $(OUT)/test.tsr
	f=$$$$($$(T)/tsr-info $(OUT)/test.tsr | sed -n '1s/.*\t(\([0-9]*\),.*/\1/p'); \
	$$(T)/pd-sample -m $$< simulate --lambda 0 --frames $$$$((11 * f)) --keep-from $$$$((10 * f)) -j $$(J) -q -o $$@ $(OUT)/test.tsr 2> $(2)/long.log
$(2)/long.tsv: $(OUT)/norm.txt $(OUT)/test.tsr $(2)/long.tsr $(if $(filter base,$(4)),$(2)/ddpm-long.tsr)
	@$$(LONG_SH); { lev long $(2)/long; $(if $(filter base,$(4)),lev ddpmlong $(2)/ddpm-long;) } > $$@.tmp && mv $$@.tmp $$@
endef
$(eval $(call TRAINING,1,$(OUT)/unet,UNET,base))
$(foreach k,$(filter-out 1,$(SEED_LIST)),$(eval $(call TRAINING,$(k),$(call sdir,$(k))/unet,UNET)))
$(eval $(call TRAINING,1,$(OUT),ARCH,base))

# lev NAME STREAM: the long rollout STREAM.tsr (log STREAM.log) against the
# test paths it kept (tsr-cat of their indices; --members when a path has
# more than one segment): rows NAME paths diverged|total D|P, then NAME
# spec_err c=C value lo hi when any path is left (relerr --standardize
# --bootstrap as EVAL_SH).
LONG_SH = lev() { local s=$$2 d p list kept n k; \
  read -r d p < <(sed -n 's/^pd-sample: simulate: \([0-9]*\) of \([0-9]*\) paths diverged.*/\1 \2/p' "$$s.log"); \
  list=$$(sed -n 's/^pd-sample: simulate: [0-9]* of [0-9]* paths diverged (left out): *//p' "$$s.log"); \
  printf '%s\tpaths\tdiverged\t%s\t\t\n%s\tpaths\ttotal\t%s\t\t\n' "$$1" "$$d" "$$1" "$$p"; \
  [ "$$d" -lt "$$p" ] || return 0; \
  kept=$$(awk -v p="$$p" -v l="$$list" 'BEGIN { n = split(l, a, ","); for (i = 1; i <= n; i++) x[a[i]] = 1; \
    for (i = 0; i < p; i++) if (!(i in x)) s = s (s == "" ? "" : ",") i; print s }'); \
  n=$$($(T)/tsr-info "$$s.tsr" | grep -c $$'^[0-9]\+\t'); k=$$((n / (p - d))); \
  $(T)/tsr-cat -r "$$kept" -o "$$s.truth.tsr" $(OUT)/test.tsr; \
  $(T)/relerr --standardize "$$(cat $(OUT)/norm.txt)" --bootstrap $(BOOT) --seed 1 --summary $$([ $$k -gt 1 ] && echo --members $$k) \
    "$$s.truth.tsr" "$$s.tsr" | awk -F'\t' -v n="$$1" -v OFS='\t' 'NR > 1 && $$1 == "spec_err" { print n, $$0 }'; \
  rm -f "$$s.truth.tsr"; }

# The paper's (costly) sampler on the first training's U-Net only, on NPAPER paths.
U := $(OUT)/unet
$(U)/gen-paper.tsr: $(U)/pdd.model
	$(T)/pd-sample -m $< generate -n $(NPAPER) $(SAMPLER) $(GEN_PAPER) --seed 7 -j $(J) -o $@ 2> $(U)/gen-paper.cost
$(U)/sr-paper.tsr: $(U)/pdd.model $(U)/lr-p.tsr
	$(T)/pd-sample -m $< super-resolve --lambda 0.2 $(SAMPLER) $(SR_PAPER) $(SR_MEAN) --seed 9 -j $(J) -o $@ $(U)/lr-p.tsr 2> $(U)/sr-paper.cost
# The floors: the same comparisons between the test paths and the floor
# paths (coarse-grained alike for the lambda table, an exact lambda-0.2
# sample of both for the LR rows), at the test set's size and at NPAPER.
$(OUT)/qfloor.tsr: $(OUT)/floor.tsr
	$(T)/rg-coarsen --preset $(PRESET) --lambda 0.2 --seed 13 -o $@ $<
$(OUT)/floorref-0.tsr: $(OUT)/floor.tsr
	cp $< $@
$(OUT)/floorref-%.tsr: $(OUT)/floor.tsr
	$(T)/rg-coarsen --preset $(PRESET) --lambda $* --no-noise -o $@ $<
$(OUT)/floor.tsv: $(OUT)/norm.txt $(OUT)/test.tsr $(OUT)/floor.tsr $(OUT)/q.tsr $(OUT)/qfloor.tsr $(OUT)/test-p.tsr \
                  $(OUT)/floor-p.tsr $(foreach l,$(LAMS),$(OUT)/ref-$(l).tsr $(OUT)/floorref-$(l).tsr)
	@$(EVAL_SH); { ev floor test floor; ev floorp test-p floor-p; ev qfloor q qfloor; \
	  for l in $(LAMS); do ev lam-$$l ref-$$l floorref-$$l; done; } > $@.tmp && mv $@.tmp $@
# The sampler comparison, first training's U-Net: paper's and ours on the same NPAPER paths.
$(OUT)/sampler.tsv: $(OUT)/norm.txt $(OUT)/test-p.tsr $(U)/gen-paper.tsr $(U)/gen-p.tsr $(U)/sr-paper.tsr $(U)/sr-p.tsr
	@$(EVAL_SH); { ev genpaper test-p $(U)/gen-paper; ev genours test-p $(U)/gen-p; ev srpaper test-p $(U)/sr-paper; \
	  ev srours test-p $(U)/sr-p; } > $@.tmp && mv $@.tmp $@
# The first NPAPER paths of a stream (sample keys are per path, so these are
# what a run with NPAPER paths would give).
$(OUT)/%-p.tsr: $(OUT)/%.tsr
	$(T)/tsr-cat -r :$(NPAPER) -o $@ $<

# PSDs (space, averaged over frames and paths) of every stream, one table:
# the U-Net's (unet/...) and the FNO's simulation, generation and
# super-resolution, named in the legend by network and stream.
PSD_SRC := test unet/sim-0 unet/ddpm-sim unet/gen unet/ddpm-gen unet/lr unet/sr sim-0 gen sr
$(OUT)/psd.tsv: $(foreach s,$(PSD_SRC),$(OUT)/$(s).tsr)
	@{ printf 'source\tc\twavenumber\tvalue\tsid\n'; i=0; for s in $(PSD_SRC); do \
	  case $$s in test) n="truth (test paths)";; unet/*) n="U-Net $${s#unet/}";; *) n="FNO $$s";; esac; \
	  $(T)/spectrum --mean --tsv $(OUT)/$$s.tsr | awk -F'\t' -v s="$$n" -v i=$$i 'NR > 1 { print s "\t" $$2 "\t" $$4 "\t" $$5 "\t" i }'; \
	  i=$$((i + 1)); done; } > $@.tmp && mv $@.tmp $@
$(OUT)/psd-c%.png: $(OUT)/psd.tsv
	$(T)/tsv-plot --where c=$* --x wavenumber --y value --by source --logx --logy --legend "stream" \
	  --xlabel "wavenumber k" --ylabel "power spectral density E(k), channel $*" \
	  --title "Spatial spectra of every stream, channel $* (mean over frames and paths)" -q -o $@ $<
# Seed 001 Fig. 7's curve: the U-Net's L2 at step 6 against its lambda
# reference, per channel, as the report's lambda table (relerr
# --standardize, from unet/metrics.tsv): channel, lambda, value, lo, hi.
$(OUT)/lambda.tsv: $(U)/metrics.tsv
	@{ printf 'channel\tlambda\tvalue\tlo\thi\n'; awk -F'\t' -v OFS='\t' -v multi=$$(($(words $(CH)) > 1)) \
	    '$$1 ~ /^lam-/ && $$2 == "rel_l2" && (multi ? $$3 ~ /^c=[0-9]+,t=5$$/ : $$3 == "t=5") { c = multi ? substr($$3, 3, index($$3, ",") - 3) : 0; \
	      print c, substr($$1, 5), $$4, $$5, $$6 }' $<; } > $@.tmp && mv $@.tmp $@
$(OUT)/lambda-l2.png: $(OUT)/lambda.tsv
	$(T)/tsv-plot --x lambda --y value --by channel --legend "channel" --xlabel "λ (RG scale of the sampled path)" \
	  --ylabel "relative L2 error at step 6 (vs. C_λ u, standardised)" \
	  --title "U-Net simulation error against λ (mean over test paths)" -q -o $@ $<

# relerr on one pair, standardised with the training set's statistics, with
# bootstrap intervals: rows NAME, metric, key, value, lo, hi.  A bare stream
# name is one of $(OUT).
EVAL_SH = ev() { local a=$$2 b=$$3; case $$a in */*) ;; *) a=$(OUT)/$$a ;; esac; case $$b in */*) ;; *) b=$(OUT)/$$b ;; esac; \
  $(T)/relerr --standardize "$$(cat $(OUT)/norm.txt)" --bootstrap $(BOOT) --seed 1 --summary "$$a.tsr" "$$b.tsr" | \
    awk -F'\t' -v n="$$1" -v OFS='\t' 'NR > 1 { print n, $$0 }'; }

# The report: every number below comes from relerr, through metrics.tsv,
# floor.tsv and sampler.tsv.
#   g FILE NAME METRIC KEY COL      one field (4 value, 5 lo, 6 hi)
#   cell NAME METRIC KEY            the trainings' value, mean +- std over them when
#                                   SEEDS > 1, and the first training's interval, from
#                                   each training's $$M (unet/metrics.tsv: the U-Net;
#                                   M=metrics.tsv cell ...: the FNO)
#   fcell / scell NAME METRIC KEY   the same from floor.tsv / sampler.tsv (one value)
#   spec F NAME, l2 F NAME          F per channel, joined by ' / '
#   apart F1 N1 F2 N2 FLOOR METRIC KEY   'lower'/'higher' (the first against the second) when
#                                   their intervals do not overlap and they differ by more
#                                   than the floor at that count, else 'same'
#   verdict ... LABEL1 LABEL2       apart per channel, in words
#   above NAME                      per channel: is the error's interval above the floor's?
#   lcell NAME METRIC KEY           cell from the trainings' $$LT (unet/long.tsv; LT=long.tsv: the
#                                   FNO): over the trainings where some path did not diverge
#                                   ('all paths diverged' if none)
#   ldiv NAME                       the diverged paths of each training, 'D of P' joined by ', '
#   versus NAME [FU FF]             verdict of the first training's U-Net against the FNO
#                                   (files FU, FF under $(OUT): unet/metrics.tsv, metrics.tsv)
REPORT_SH = O=$(OUT); M=unet/metrics.tsv; LT=unet/long.tsv; nch=$(words $(CH)); \
  g() { awk -F'\t' -v n="$$2" -v m="$$3" -v k="$$4" -v c="$$5" '$$1 == n && $$2 == m && $$3 == k { print $$c; f = 1 } END { exit !f }' "$$1" \
        || { echo "results: no $$3 $$4 for $$2 in $$1" >&2; exit 1; }; }; \
  cell() { local d vals=; for d in $(SDIRS); do [ -f $$d/$$M ] || continue; \
      vals+=" $$(awk -F'\t' -v n="$$1" -v m="$$2" -v k="$$3" '$$1 == n && $$2 == m && $$3 == k { print $$4 }' $$d/$$M)"; done; \
    echo $$vals | awk -v s=$(SEEDS) -v lo="$$(g $$O/$$M "$$1" "$$2" "$$3" 5)" -v hi="$$(g $$O/$$M "$$1" "$$2" "$$3" 6)" \
      '{ for (i = 1; i <= NF; i++) sm += $$i; m = sm / NF; sub_ = NF < s ? sprintf(" (%d of %d trainings)", NF, s) : ""; \
         if (NF == 1) { printf "%.3g [%.3g, %.3g]%s", m, lo, hi, sub_; exit } \
         for (i = 1; i <= NF; i++) v += ($$i - m) ^ 2; printf "%.3g ± %.2g [%.3g, %.3g]%s", m, sqrt(v / (NF - 1)), lo, hi, sub_ }'; }; \
  one() { printf '%.3g [%.3g, %.3g]' "$$(g $$1 "$$2" "$$3" "$$4" 4)" "$$(g $$1 "$$2" "$$3" "$$4" 5)" "$$(g $$1 "$$2" "$$3" "$$4" 6)"; }; \
  fcell() { one $$O/floor.tsv "$$@"; }; scell() { one $$O/sampler.tsv "$$@"; }; \
  l2k() { if [ $$nch -gt 1 ]; then echo "c=$$1,t=5"; else echo t=5; fi; }; \
  spec() { local out= c; for c in $(CH); do out+=$${out:+ / }$$($$1 "$$2" spec_err c=$$c); done; echo "$$out"; }; \
  l2() { local out= c; for c in $(CH); do out+=$${out:+ / }$$($$1 "$$2" rel_l2 $$(l2k $$c)); done; echo "$$out"; }; \
  apart() { awk -v a="$$(g $$1 "$$2" "$$6" "$$7" 4)" -v al="$$(g $$1 "$$2" "$$6" "$$7" 5)" -v ah="$$(g $$1 "$$2" "$$6" "$$7" 6)" \
    -v b="$$(g $$3 "$$4" "$$6" "$$7" 4)" -v bl="$$(g $$3 "$$4" "$$6" "$$7" 5)" -v bh="$$(g $$3 "$$4" "$$6" "$$7" 6)" \
    -v f="$$(g $$O/floor.tsv "$$5" "$$6" "$$7" 4)" \
    'BEGIN { d = a - b; if (d < 0) d = -d; print ((al > bh || bl > ah) && d > f) ? (a < b ? "lower" : "higher") : "same" }'; }; \
  verdict() { local out= c w; for c in $(CH); do w=$$(apart "$$1" "$$2" "$$3" "$$4" "$$5" spec_err "c=$$c"); \
    out+="$${out:+; }c$$c: $$(case $$w in lower) echo "$$6 lower";; higher) echo "$$7 lower";; *) echo "cannot be told apart at this count";; esac)"; \
    done; echo "$$out"; }; \
  above() { local out= c; for c in $(CH); do out+="$${out:+; }c$$c: "$$(awk -v l="$$(g $$O/$$M "$$1" spec_err c=$$c 5)" \
    -v v="$$(g $$O/$$M "$$1" spec_err c=$$c 4)" -v f="$$(g $$O/floor.tsv floor spec_err c=$$c 4)" \
    -v fh="$$(g $$O/floor.tsv floor spec_err c=$$c 6)" 'BEGIN { print (v > f && l > fh) ? "above the floor" : "at the floor: this count cannot resolve it" }'); done; echo "$$out"; }; \
  lcell() { local d v vals=; for d in $(SDIRS); do [ -f $$d/$$LT ] || continue; \
      v=$$(awk -F'\t' -v n="$$1" -v m="$$2" -v k="$$3" '$$1 == n && $$2 == m && $$3 == k { print $$4 }' $$d/$$LT); vals+="$${v:+ $$v}"; done; \
    [ -n "$$vals" ] || { echo "all paths diverged"; return 0; }; \
    echo $$vals | awk -v s=$(SEEDS) -v lh="$$(awk -F'\t' -v n="$$1" -v m="$$2" -v k="$$3" '$$1 == n && $$2 == m && $$3 == k { print $$5 " " $$6 }' $$O/$$LT)" \
      '{ for (i = 1; i <= NF; i++) sm += $$i; m = sm / NF; split(lh, b, " "); iv = lh == "" ? "" : sprintf(" [%.3g, %.3g]", b[1], b[2]); \
         sub_ = NF < s ? sprintf(" (%d of %d trainings)", NF, s) : ""; if (NF == 1) { printf "%.3g%s%s", m, iv, sub_; exit } \
         for (i = 1; i <= NF; i++) v += ($$i - m) ^ 2; printf "%.3g ± %.2g%s%s", m, sqrt(v / (NF - 1)), iv, sub_ }'; }; \
  ldiv() { local d out=; for d in $(SDIRS); do [ -f $$d/$$LT ] && awk -F'\t' -v n="$$1" '$$1 == n && $$2 == "paths" { f = 1 } END { exit !f }' $$d/$$LT || continue; \
    out+="$${out:+, }$$(g $$d/$$LT "$$1" paths diverged 4) of $$(g $$d/$$LT "$$1" paths total 4)"; done; echo "$$out"; }; \
  has() { awk -F'\t' -v n="$$2" '$$1 == n && $$2 == "spec_err" { f = 1 } END { exit !f }' "$$1"; }; \
  versus() { local u=$$O/$${2:-unet/metrics.tsv} f=$$O/$${3:-metrics.tsv}; \
    if has $$u "$$1" && has $$f "$$1"; then verdict $$u "$$1" $$f "$$1" floor U-Net FNO; else echo "not compared (every path of one diverged)"; fi; }; \
  cost() { sed -n 's/^pd-sample: [a-z-]*: nfe \([0-9]*\), \([0-9.e+-]*\) s per sample$$/\1 | \2/p' "$$1" | tail -n 1; }

PSD_PNG := $(foreach c,$(CH),$(OUT)/psd-c$(c).png)
$(OUT)/results.md: $(OUT)/lambda.tsv $(OUT)/psd.tsv $(FIGS) $(PSD_PNG) $(OUT)/lambda-l2.png \
                   $(OUT)/metrics.tsv $(OUT)/long.tsv $(foreach d,$(SDIRS),$(d)/unet/metrics.tsv $(d)/unet/long.tsv) \
                   $(OUT)/floor.tsv $(OUT)/sampler.tsv
	@$(REPORT_SH); { \
	echo "# Predictor-Driven Diffusion on $(SYS), SCALE=$(SCALE)"; echo; \
	echo "Every number of ours is measured by this pipeline (relerr --standardize, seed 001 B.5: truth and"; \
	echo "prediction standardised per channel with the training set's mean and std, $$(cat $$O/norm.txt | tr , ' ')"; \
	echo "as mean:std per channel). L2: relative L2 per channel at frame index 5, the first predicted frame"; \
	echo "after the 5 given (seed 001's 'sixth step'), averaged over the $(NTEST) test paths. Spectral error: PSD over"; \
	echo "space and time per path, averaged over paths, sum|P - Q|/sum|P|, per channel ($(CH) joined by /)."; \
	echo "Brackets: 2.5-97.5 % bootstrap interval over paths ($(BOOT) replicates). Floor: the same metric"; \
	echo "between the test paths and $(NTEST) other physics paths (generator seeds 2 and 4; training seed 1),"; \
	echo "the value sampling alone gives at this count; a spectral error at its floor is all the count can"; \
	echo "resolve. The L2 floor is that of unrelated paths (no skill). The bootstrap replicates of a"; \
	echo "spectral error lie above it (resampling adds its own sampling noise), so compare values with the"; \
	echo "floor and with each other's intervals, not a value with its own interval."; \
	echo "Test paths: $(NTEST)$(if $(filter 100,$(NTEST)),, (seed 001 uses 100; SCALE=$(SCALE) shrinks the count))."; \
	echo "Paper: seed 001 Tables 1-3 (mean ± std of 5 trainings). Ours: $(SEEDS) training(s) of the U-Net's PDD model$(if $(filter-out 1,$(SEEDS)), (mean ± std across them; interval of the first). The DDPM baselines and the FNO rows are trained once by the first training; their cells say so); every training:"; \
	echo "$(STEPS) steps of batch $(BATCH). Network: the U-Net of seed 001 B.2 (pd-train --arch unet $(or $(UNET),with the paper's configuration)),"; \
	echo "and in the rows marked FNO the FNO (their D.5; options here: $(ARCH)), trained and sampled alike."; echo; \
	echo "| Table | metric | ours PDD | ours DDPM | floor ($(NTEST) paths) | paper PDD | paper DDPM |"; \
	echo "|---|---|---|---|---|---|---|"; \
	echo "| 1 | simulation L2 (step 6), lambda 0 | $$(l2 cell sim0) | $$(l2 cell ddpmsim) | $$(l2 fcell floor) | $(PAPER_SIM_L2) |"; \
	echo "| 1 | simulation spectral error, long rollout (frames 10T..11T-1, T = one sample length), lambda 0 | $$(spec lcell long) | $$(spec lcell ddpmlong) | $$(spec fcell floor) | $(PAPER_SIM_SPEC) |"; \
	echo "| 1 | short-rollout spectral error (frames 0..T-1 from the true initial frames), lambda 0 | $$(spec cell sim0) | $$(spec cell ddpmsim) | $$(spec fcell floor) | | |"; \
	echo "| 2 | generation spectral error | $$(spec cell gen) | $$(spec cell ddpmgen) | $$(spec fcell floor) | $(PAPER_GEN) |"; \
	echo "| 1 | FNO: simulation L2 (step 6), lambda 0 | $$(M=metrics.tsv l2 cell sim0) | $$(M=metrics.tsv l2 cell ddpmsim) | $$(l2 fcell floor) | | |"; \
	echo "| 1 | FNO: simulation spectral error, long rollout, lambda 0 | $$(LT=long.tsv spec lcell long) | $$(LT=long.tsv spec lcell ddpmlong) | $$(spec fcell floor) | | |"; \
	echo "| 1 | FNO: short-rollout spectral error, lambda 0 | $$(M=metrics.tsv spec cell sim0) | $$(M=metrics.tsv spec cell ddpmsim) | $$(spec fcell floor) | | |"; \
	echo "| 2 | FNO: generation spectral error | $$(M=metrics.tsv spec cell gen) | $$(M=metrics.tsv spec cell ddpmgen) | $$(spec fcell floor) | | |"; \
	echo; echo "Long-rollout spectral error (seed 001 4.1 and B.5, the Table 1 quantity): from the 5 given frames of"; \
	echo "each test path, pd-sample simulate --frames 11T --keep-from 10T rolls the model out 11 sample lengths and"; \
	echo "keeps the last; its spatiotemporal PSD, averaged over paths, against the test paths'. A path that diverges"; \
	echo "(non-finite, standardised rms above --blowup, or its sampler failing) is left out of that row and"; \
	echo "counted; the row compares the remaining paths' segments with the same test paths, and its floor is the"; \
	echo "physics floor at $(NTEST) paths. Diverged paths (per training): PDD $$(ldiv long); DDPM $$(ldiv ddpmlong)."; \
	echo "Diverged paths of the FNO (per training): PDD $$(LT=long.tsv ldiv long); DDPM $$(LT=long.tsv ldiv ddpmlong)."; \
	echo; echo "| Table 3 | ours SR | ours LR input (lambda 0.2 rollout) | floor ($(NTEST) paths) | paper SR | paper LR |"; echo "|---|---|---|---|---|---|"; \
	echo "| super-resolution spectral error vs lambda-0 truth | $$(spec cell sr) | $$(spec cell lr) | $$(spec fcell floor) | $(PAPER_SR) | $(PAPER_LR) |"; \
	echo "| the same from an exact lambda-0.2 sample (C u + noise) instead of the rollout | $$(spec cell srq) | $$(spec cell q) | $$(spec fcell floor) | | |"; \
	echo "| FNO: super-resolution spectral error vs lambda-0 truth | $$(M=metrics.tsv spec cell sr) | $$(M=metrics.tsv spec cell lr) | $$(spec fcell floor) | | |"; \
	echo; echo "Super-resolution options: $(SR) $(SR_MEAN); the LR rollout's spectral error against an exact lambda-0.2"; \
	echo "sample: $$(spec cell lrq) (floor $$(spec fcell qfloor))."; \
	echo; echo "The paper reports no FNO numbers (D.5 shows figures only): its columns stay empty in the FNO rows."; \
	echo; echo "Resolution at this count (first training's U-Net; apart = intervals disjoint and the difference larger than"; \
	echo "the floor). Super-resolution against its LR input: $$(verdict $$O/$$M sr $$O/$$M lr floor SR LR)."; \
	echo "Errors against their floor (the error's interval wholly above the floor's): simulation $$(above sim0);"; \
	echo "generation $$(above gen); super-resolution $$(above sr)."; \
	echo "U-Net against FNO (first trainings, spectral errors): long rollout $$(versus long unet/long.tsv long.tsv);"; \
	echo "short rollout $$(versus sim0); generation $$(versus gen); super-resolution $$(versus sr);"; \
	echo "DDPM long rollout $$(versus ddpmlong unet/long.tsv long.tsv); DDPM generation $$(versus ddpmgen)."; \
	echo; echo "Simulation against lambda (seed 001 Fig. 7), U-Net: reference C_lambda u (no noise), sigma = 0."; echo; \
	echo "| lambda | L2 (step 6) vs C_lambda u | spectral error vs C_lambda u | floor | spectral error vs lambda-0 truth |"; echo "|---|---|---|---|---|"; \
	for l in $(LAMS); do \
	  echo "| $$l | $$(l2 cell lam-$$l) | $$(spec cell lam-$$l) | $$(spec fcell lam-$$l) | $$(spec cell lam0-$$l) |"; done; \
	echo; echo "Sampler cost and accuracy (first training's U-Net): the paper's sampler (uniform lambda grid, 1e-3 apart,"; \
	echo "ETD predictor) against ours (rho schedule, exact per-mode Gaussian step); both with the score options"; \
	echo "below, on the same $(NPAPER) paths (floor at $(NPAPER) paths: $$(spec fcell floorp))."; \
	echo "NFE = score evaluations per batch of paths; seconds per sample path on this (shared) machine."; echo; \
	echo "| task | sampler | options | spectral error | NFE | s per sample |"; echo "|---|---|---|---|---|---|"; \
	echo "| generation, $(NPAPER) paths | paper | $(GEN_PAPER) | $$(spec scell genpaper) | $$(cost $$O/unet/gen-paper.cost) |"; \
	echo "| generation, $(NPAPER) paths | ours | $(GEN) | $$(spec scell genours) | $$(cost $$O/unet/gen.cost) |"; \
	echo "| super-resolution, $(NPAPER) paths | paper | $(SR_PAPER) $(SR_MEAN) | $$(spec scell srpaper) | $$(cost $$O/unet/sr-paper.cost) |"; \
	echo "| super-resolution, $(NPAPER) paths | ours | $(SR) $(SR_MEAN) | $$(spec scell srours) | $$(cost $$O/unet/sr.cost) |"; \
	echo "| DDPM generation, $(NGEN) paths | ours | $(DDPMGEN) | $$(spec cell ddpmgen) | $$(cost $$O/unet/ddpm-gen.cost) |"; \
	echo "| DDPM simulation, $(NTEST) paths | ours | $(DDPMSIM) | $$(spec cell ddpmsim) | $$(cost $$O/unet/ddpm-sim.cost) |"; \
	echo; echo "Paper's sampler against ours, per channel (apart = intervals disjoint and the difference larger than"; \
	echo "the floor at $(NPAPER) paths): generation $$(verdict $$O/sampler.tsv genpaper $$O/sampler.tsv genours floorp paper ours);"; \
	echo "super-resolution $$(verdict $$O/sampler.tsv srpaper $$O/sampler.tsv srours floorp paper ours)."; \
	echo; echo "Common sampler options: $(or $(SAMPLER),none (the defaults: --score coloured --gauss-below 0.1 --clamp 5 --max-clamped 0.01))."; echo; \
	echo "Figures: $(notdir $(FIGS) $(PSD_PNG)) lambda-l2.png; PSD series in order: $(PSD_SRC) (unet/: the U-Net's; the others the FNO's)."; \
	} > $@.tmp && mv $@.tmp $@
	@cat $@

.PHONY: all
