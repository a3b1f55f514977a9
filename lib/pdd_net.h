// The network (U-Net or FNO) behind Predictor-Driven Diffusion and its DDPM baseline (Yasuda &
// Bischoff, "Predictor-Driven Diffusion for Spatiotemporal Generation", §3, B.2, B.4): model configuration and the attributes stored with it,
// per-channel standardisation, one training step of each objective, and the
// network as the callbacks of lib/pdd.h (predictor, path score, DDPM score).
//
// Objectives (attribute pdd.objective):
//   pdd        input: window of the current + W-1 previous frames (C·W
//              channels), output: the standardised increment u_{n+1} - u_n;
//              loss  mean (Δu_λ - f)²/(2 v_λ) over λ ~ U(0, 1) (Alg. 1).
//   ddpm-gen   input: window of NOISY frames, output ε̂ of the current
//              frame; VP process γ; unconditional generation (B.4).
//   ddpm-cond  input: window of CLEAN frames + the noisy standardised
//              residual (C·W + C channels), output ε̂ of the residual; the
//              GenCast-style simulation baseline (B.4).
// λ enters by FiLM through a sinusoidal embedding of 1000·λ (the reference
// feeds the integer λ-index with max period 1000).
#ifndef EDDY_PDD_NET_H
#define EDDY_PDD_NET_H

#include <stdint.h>

#include "adam.h"
#include "err.h"
#include "fno.h"
#include "pdd.h"
#include "rg.h"
#include "train.h"
#include "tsr.h"
#include "unet.h"

#define PDD_KIND "pdd-model"
#define PDD_MAXC 8

typedef enum { PDD_OBJ_PDD = 0, PDD_OBJ_DDPM_GEN = 1, PDD_OBJ_DDPM_COND = 2 } pdd_objective;

// The network behind the predictor (attribute pdd.arch: "unet", or absent
// for "fno", so that FNO models keep their bytes).  Its forward and backward
// are reached only through the static calls at the "network calls" section
// of pdd_net.c; each architecture has its own parameter buffer there, in
// pdd_net_load/_save and in pdd_net_train_model, and nothing else changes
// for the samplers or the trainer.  The U-Net (seed 001 §4.1, B.2: its main
// predictor) is lib/unet.h with the input and output channels of the
// objective; the FNO (their D.5) is lib/fno.h.
typedef enum { PDD_ARCH_FNO = 0, PDD_ARCH_UNET = 1 } pdd_arch_kind;
typedef struct {
    pdd_arch_kind arch;
    fno m;                      // PDD_ARCH_FNO
    unet u;                     // PDD_ARCH_UNET
    pdd_objective obj;
    pdd_geom g;                 // T = frames per training path
    pdd_process proc;           // RG (pdd) or VP (ddpm-*)
    double mean[PDD_MAXC], std[PDD_MAXC];    // standardisation of the data
    double rstd[PDD_MAXC];      // ddpm-cond: std of the standardised increments
    double dt;                  // time between frames (attribute dt of the data)
    double lam_max;             // largest trained λ (1)
    int max_batch;              // windows per network call
    rg_op *op;                  // RG operator of the grid (pdd)
    double *spec;               // (C, M) training spectrum E|û|² (unitary DFT, standardised
                                // units) per channel and rg_nmodes mode, or NULL (older models)
    // scratch, grown on demand
    float *fin, *fout, *fdin, *fdout, *fcond;
    double *dwin, *dtmp;
    size_t cap[5];              // floats of fin, fdin, fout, fdout, fcond (lib/scratch.h)
} pdd_net;

typedef struct {
    pdd_arch_kind kind;         // the network (PDD_ARCH_FNO by pdd_arch_default)
    // FNO
    int width, layers, modes, emb_size, emb_hidden;
    int act;                    // FNO_SILU (the paper) or FNO_GELU
    // U-Net: lib/unet.h's preset of the dimension (1-D UNET_PRESET_L96, 2-D
    // UNET_PRESET_KF) with these overrides where > 0
    int unet_base, unet_levels, unet_ch[UNET_MAX_LEVELS], unet_nres, unet_groups, unet_heads,
        unet_emb_size, unet_emb_hidden;
} pdd_arch;

void pdd_arch_default(pdd_arch *a);
// Seed 001 appendix B.2's FNO (their D.5 results): width 64, 8 Fourier
// layers in 1-D and 6 in 2-D, 56 modes in 1-D and 16 in 2-D, SiLU, FiLM.
void pdd_arch_fno_d5(pdd_arch *a, int dims);
// The U-Net configuration a U-Net pdd_arch gives for geometry g and the
// objective's channels (in, out).
int pdd_arch_unet_config(const pdd_arch *a, const pdd_geom *g, int in, int out, unet_config *c,
                         eddy_err *e);
// Fits the FNO modes to a geometry: modes <= 0 takes the paper's (56 in 1-D, 16
// in 2-D), and modes are capped by what the grid resolves.
void pdd_arch_fit(pdd_arch *a, const pdd_geom *g);
// Creates a new model (weights from seed) for geometry g and process p.
int pdd_net_create(pdd_net *n, pdd_objective obj, const pdd_geom *g, const pdd_process *p,
                   const pdd_arch *a, uint64_t seed, eddy_err *e);
void pdd_net_free(pdd_net *n);
const char *pdd_objective_name(pdd_objective o);

// Header attributes (kind, pdd.*) ↔ model; pdd_net_from_header checks them
// after ckpt_load filled n->m.
int pdd_net_to_header(const pdd_net *n, tsr_record *hdr, eddy_err *e);
int pdd_net_from_header(pdd_net *n, const tsr_record *hdr, eddy_err *e);
// A new model's header: the data's attributes (meta; history and dims
// dropped), pdd_net_to_header's, the seed and the number of training paths.
int pdd_net_header_make(tsr_record *hdr, const pdd_net *n, const tsr_record *meta, long seed,
                        long paths, eddy_err *e);

// Loads a pd-train checkpoint (opt non-NULL: with the Adam state, required)
// and checks its header; hdr receives every attribute.  Messages start with
// the path.
int pdd_net_load(const char *path, pdd_net *n, tsr_record *hdr, adam *opt, eddy_err *e);
// The model and the header it is saved with (lib/train.h's save hook).
typedef struct {
    pdd_net *n;
    const tsr_record *hdr;
} pdd_net_ref;
int pdd_net_save(void *ctx, const char *path, const adam *opt, eddy_err *e);
// ---- data: paths (P, T, C, S) in physical units
// Per-channel mean and std over every value, and (ddpm-cond) the std of the
// standardised increments.  u (P, T, C, S).
void pdd_net_fit_standardisation(pdd_net *n, const double *u, long P);
void pdd_net_standardise(const pdd_net *n, double *u, long nframes);     // (nframes, C, S)
// pdd: n->spec from STANDARDISED paths u (P, T, C, S).
int pdd_net_fit_spectrum(pdd_net *n, const double *u, long P, eddy_err *e);
void pdd_net_unstandardise(const pdd_net *n, double *u, long nframes);   // (nframes, C, S)

// ---- the training objective of n->obj (a lib/train.h train_objective_fn):
// batch positions [b0, b0+nb) of the standardised paths u (P, T, C, S) at
// idx[b]; λ and noise keyed by (seed, step, position of the path, or of the
// window for ddpm-cond, in the whole batch).  The loss (lib/pdd.h
// pdd_window_loss) and its gradient, added to the network's gradient buffer.
typedef struct {
    pdd_net *n;
    const double *u;
} pdd_train_ctx;
int pdd_objective_grad(void *ctx, const train_batch *b, double *loss, eddy_err *e);
// What lib/train.h trains: n's parameter buffer, the objective ob (ob->n = n),
// saved with ref.
train_model pdd_net_train_model(pdd_net *n, pdd_train_ctx *ob, pdd_net_ref *ref);
// ---- the network as lib/pdd.h callbacks (standardised units)
// pdd: the predictor.
pdd_predictor pdd_net_predictor(pdd_net *n);
// A pdd_score_fn context: the path score of pdd (g.T may differ from the
// training T), or the DDPM-gen score -ε̂/σ_λ.
typedef struct {
    pdd_net *n;
    pdd_geom g;                 // geometry of the paths being sampled
    int coloured;               // pdd: increment noise covariance Σ_λ(k) (lib/pdd.h
                                // pdd_path_score_w) instead of the paper's scalar v
    double gauss_below;         // pdd with n->spec: modes whose signal-to-noise C_λ²P/Σ_λ is
                                // below this take the Gaussian score -u/(C_λ²P + Σ_λ) of the
                                // training spectrum, per frame, instead of the network's (0: off)
} pdd_score_ctx;
int pdd_net_score(void *ctx, int B, const double *u, double lam, double *s, eddy_err *e);

// ddpm-cond: simulate frames n0..T-1 of u (B, T, C, S) by sampling each
// residual with the reverse VP sampler (o, lams) given the 5 clean frames.
int pdd_net_ddpm_simulate(pdd_net *n, const pdd_geom *g, const pdd_pc_opts *o,
                          const double *lams, int nlam, int B, double *u, int n0, long *nfe,
                          eddy_err *e);
// The same on a piece of a longer rollout whose frame 0 is the path's frame
// frame0 (it keys the noise: pieces continue one rollout exactly).
int pdd_net_ddpm_simulate_at(pdd_net *n, const pdd_geom *g, const pdd_pc_opts *o,
                             const double *lams, int nlam, int B, double *u, int n0, long frame0,
                             long *nfe, eddy_err *e);

// ---- paths read from tensor streams
// Every float record with a time axis (its `dims`, lib/layout.h: e.g.
// "t,c,x", "t,y,x", "n,t,c,x") contributes its paths; all must agree on
// frames, channels and grid, and be of the first record's kind (lib/train.h
// train_same_kind: its name, and its field, term, units, channels, L,
// interval and dt attributes), so that a closure stream (omega, G, H) is
// refused.  u (P, T, C, S) in physical units.
typedef struct {
    long P;
    int T, C, dims, n[2];
    double L, dt;              // dt: attribute dt (time between frames), 1 if absent
    double *u;
    tsr_record meta;           // attributes of the first record (no data)
    train_first first;         // the first record, every later one is compared with
} pdd_paths;

int pdd_paths_read(pdd_paths *d, tsr_reader *r, const char *label, eddy_err *e);
void pdd_paths_free(pdd_paths *d);
// The geometry of the paths with window W.
pdd_geom pdd_paths_geom(const pdd_paths *d, int W);
// Checks that paths fit a model: dimensionality, grid, channels, window.
int pdd_net_check_paths(const pdd_net *n, const pdd_paths *d, eddy_err *e);

#endif
