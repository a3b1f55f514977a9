# Predictor-Driven Diffusion on two-scale Lorenz-96 (seed 001, Tables 1-3).
#
#   make -f pipelines/pdd-l96.mk SCALE=ci OUT=out/pdd-l96-ci
#
# data (l96-gen) -> pdd-common.mk: train (PDD, DDPM-cond, DDPM-gen) ->
# simulate at each lambda -> generate -> super-resolve from lambda 0.2 ->
# evaluate -> $(OUT)/results.md, Hovmoller diagrams and PSDs.
# SCALE=ci is a smoke run (tiny nets, a few steps: the numbers mean nothing,
# and the samplers may saturate their clamp, so divergence is not an error
# there); demo is make demo's few-minute run; small trains each network
# (a U-Net of base 16, a width-32 FNO) for 2000 steps of batch 8, the rate
# halved every 500, and evaluates on seed 001's 100 test paths (the paper's
# sampler on 16 of them).  Its cost on two cores (2026-12-02): a training
# step 0.19 s (U-Net) and 0.11 s (FNO) alone; a U-Net DDPM simulation 2.3 s
# a path, so its 100 long rollouts (11 sample lengths) are the largest part,
# about 42 min by that rate; SEEDS=3 took 72 min wall in all.  8000 steps
# would add about an hour and a half, by the step times.  paper is the
# seed's setting (days on two cores).  ci and demo evaluate on 2 and 8 test
# paths, which their reports state.
SCALE ?= ci
OUT ?= out/pdd-l96-$(SCALE)
SYS := two-scale Lorenz-96 (channels X and Y)
PRESET := l96
CH := 0 1
PAPER_SIM_L2 := 0.503 | 0.557
PAPER_SIM_SPEC := 0.120 | 0.226
PAPER_GEN := 0.343 | 0.267
PAPER_SR := 0.345
PAPER_LR := 0.873

ifeq ($(SCALE),ci)
  NTRAIN := 8
  NTEST := 2
  BOOT ?= 100
  L96 := --K 8 --J 4 --spinup 2 --frames 16
  UNET := --unet-base 8 --unet-channels 8,16 --unet-res 1 --unet-groups 2 --unet-heads 2 --emb-size 16 --emb-hidden 16
  ARCH := --arch fno --width 8 --layers 1 --modes 8 --emb-size 16 --emb-hidden 16
  STEPS := 6
  BATCH := 2
  NGEN := 2
  NPAPER := 2
  SAMPLER := --max-clamped 1 --blowup 0
  GEN := --schedule rho --steps 6 --correctors 1
  GEN_PAPER := --schedule paper --steps 12 --step etd --correctors 1
  SR := --schedule rho --steps 4 --correctors 1
  SR_PAPER := --schedule paper --steps 8 --step etd --correctors 1
  DDPMSIM := --schedule rho --steps 3 --correctors 0
  LAMS := 0 0.2
else ifeq ($(SCALE),demo)
  NTRAIN := 120
  NTEST := 8
  L96 := --spinup 30
  UNET := --unet-base 16 --unet-channels 16,32,32,48 --unet-res 1 --unet-groups 4 --lr 1e-3 --clip 1 --checkpoint-every 100
  ARCH := --arch fno --width 16 --layers 3 --modes 32 --lr 1e-3 --clip 1 --checkpoint-every 100
  STEPS := 300
  BATCH := 4
  NGEN := 8
  NPAPER := 2
  SAMPLER :=
  GEN := --schedule rho --steps 30 --correctors 1
  GEN_PAPER := --schedule paper --step etd --correctors 1
  SR := --schedule rho --steps 15 --correctors 1
  SR_PAPER := --schedule paper --step etd --correctors 1
  DDPMSIM := --schedule rho --steps 10 --correctors 1 --max-clamped 1
  LAMS := 0 0.1 0.2
else ifeq ($(SCALE),small)
  NTRAIN := 400
  NTEST := 100
  L96 := --spinup 30
  UNET := --unet-base 16 --unet-channels 16,32,32,48 --unet-res 1 --unet-groups 4 --lr 1e-3 --lr-decay-steps 500 --clip 1 --checkpoint-every 500
  ARCH := --arch fno --width 32 --layers 4 --modes 32 --lr 1e-3 --lr-decay-steps 500 --clip 1 --checkpoint-every 500
  STEPS := 2000
  BATCH := 8
  NGEN := 100
  NPAPER := 16
  SAMPLER :=
  GEN := --schedule rho --steps 50 --correctors 1
  GEN_PAPER := --schedule paper --step etd --correctors 1
  SR := --schedule rho --steps 25 --correctors 1
  SR_PAPER := --schedule paper --step etd --correctors 1
  DDPMSIM := --schedule rho --steps 20 --correctors 1 --max-clamped 1
  LAMS := 0 0.05 0.1 0.2
else ifeq ($(SCALE),paper)
  NTRAIN := 3000
  NTEST := 100
  L96 := --spinup 30
  UNET :=
  ARCH := --arch fno --fno-preset d5
  STEPS := 30000
  BATCH := 50
  NGEN := 100
  NPAPER := 100
  SAMPLER :=
  GEN := --schedule rho --steps 100 --correctors 1
  GEN_PAPER := --schedule paper --step etd --correctors 3
  SR := --schedule rho --steps 50 --correctors 1
  SR_PAPER := --schedule paper --step etd --correctors 3
  DDPMSIM := --schedule paper --step etd --correctors 3
  LAMS := 0 0.025 0.05 0.1 0.15 0.2
else
  $(error SCALE must be ci, demo, small or paper)
endif

# Hovmoller diagrams (t down, x across) of path 0 of each stream, X and Y:
# the test paths and the U-Net's streams (hov-unet-*: $(OUT)/unet/*.tsr).
HOV_SRC := test unet-sim-0 unet-ddpm-sim unet-gen unet-ddpm-gen unet-lr unet-sr
FIGS = $(foreach s,$(HOV_SRC),$(OUT)/hov-$(s)-c0.png $(OUT)/hov-$(s)-c1.png)

DATA = $(T)/l96-gen $(L96)

include pipelines/pdd-common.mk

$(OUT)/hov-%-c0.png: $(OUT)/%.tsr
	$(T)/tsr-png -c 0 --label "X (slow variables)" --title "L96 $*: X of path 0, Hovmöller diagram" -q -o $@ $<
$(OUT)/hov-%-c1.png: $(OUT)/%.tsr
	$(T)/tsr-png -c 1 --label "Y (fast variables)" --title "L96 $*: Y of path 0, Hovmöller diagram" -q -o $@ $<
$(OUT)/hov-unet-%-c0.png: $(OUT)/unet/%.tsr
	$(T)/tsr-png -c 0 --label "X (slow variables)" --title "L96 U-Net $*: X of path 0, Hovmöller diagram" -q -o $@ $<
$(OUT)/hov-unet-%-c1.png: $(OUT)/unet/%.tsr
	$(T)/tsr-png -c 1 --label "Y (fast variables)" --title "L96 U-Net $*: Y of path 0, Hovmöller diagram" -q -o $@ $<
