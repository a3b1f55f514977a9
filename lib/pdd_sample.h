// The three uses of a pd-train model (Yasuda & Bischoff, "Predictor-Driven
// Diffusion for Spatiotemporal Generation", Alg. 2 and 3) and of its
// DDPM baselines (B.4), as pd-sample runs them: simulate in t at a fixed λ,
// generate by reversing λ from the prior, super-resolve by reversing λ from
// coarse-grained paths.  The policies live here: which λ grid, where it ends,
// the Langevin κ by dimension, the noise of a noisy rollout, the divergence
// checks; the tool parses, reads, and writes.
#ifndef EDDY_PDD_SAMPLE_H
#define EDDY_PDD_SAMPLE_H

#include "err.h"
#include "pdd.h"
#include "pdd_net.h"

typedef enum { PDD_MODE_SIMULATE = 0, PDD_MODE_GENERATE = 1, PDD_MODE_SR = 2 } pdd_mode;

typedef struct {
    pdd_mode mode;
    double lam;               // simulate: the scale; super-resolve: the input paths' scale
    double lmax;              // generate: where the reverse integration starts (NaN: the model's λmax)
    int given;                // simulate: frames given
    int noise;                // simulate: 1 draws the increment noise (σ_λ), 0 none
    int coloured;             // path score (and rollout noise) coloured by Σ_λ(k); 0: the paper's white v
    double gauss_below;       // pdd_score_ctx.gauss_below
    int rho_schedule;         // 1: the ρ-schedule (Karras et al.) of Dong, Chen & Wu's sampler (default step EXACT); 0: the paper's uniform grid
    int nsteps;               // reverse steps (0: paper λmax/1e-3, ρ: 40)
    double rho;
    int step;                 // PDD_STEP_*, or -1: EXACT with ρ, ETD otherwise
    pdd_pc_opts pc;           // from pdd_pc_defaults(); kappa NaN: 0.7 in 1-D, 0.3 in 2-D;
                              // seed, clamp, blowup, monitor ... as the caller sets them
    int batch;                // paths per sampler call
    long first;               // the whole run's index of path 0 of u: keys the noise, so that
                              // paths K.. drawn alone are the same as in one run from 0
} pdd_sample_opts;

// Checks o against the model and fills the model-dependent defaults (lmax,
// kappa, step).  The message says which option is wrong.
int pdd_sample_configure(const pdd_net *n, pdd_sample_opts *o, eddy_err *e);

// Runs the mode on the P paths u (P, T, C, S) of geometry g (standardised
// units, in place; generate: overwritten).  *nfe receives the network
// evaluations of the first batch; progress (may be NULL) is told the paths
// done after every batch.
int pdd_sample_run(pdd_net *n, const pdd_sample_opts *o, const pdd_geom *g, long P, double *u,
                   long *nfe, void (*progress)(void *ctx, long done), void *progress_ctx,
                   eddy_err *e);

// ---- long rollouts (seed 001 §4.1 and B.5: the simulation spectral error is
// that of a rollout of at least 11 sample lengths with the first 10 dropped)
// emit receives, path by path in input order, the kept frames of one path:
// segment seg (0, 1, ...) of nframes frames (nframes*C*S values, standardised)
// starting at its frame frame0.
typedef int (*pdd_emit_fn)(void *ctx, long path, int seg, long frame0, int nframes,
                           const double *u, eddy_err *e);

// Simulates each of the P paths u (P, g->T, C, S; standardised, read only:
// its first o->given frames, coarse-grained to o->lam as pdd_sample_run does)
// out to `frames` frames in all, with o's model (pdd or ddpm-cond), and emits
// frames keep_from..frames-1 as (frames - keep_from)/seg_len segments of
// seg_len frames (keep_from ≥ 0; seg_len must divide the kept count).  The
// rollout streams: it holds, per batch of paths, a buffer of the window plus
// g->T frames and the kept frames, so memory does not grow with `frames`.
// Every frame and the noise keyed by it are those of pdd_sample_run on paths
// of `frames` frames (byte-identical when no path diverges).
// A path diverges when a frame turns non-finite, its rms exceeds o->pc.blowup
// (when > 0), a value exceeds 1e30 (beyond the f4 the tools write), or the
// sampler fails on it alone (a failing batch is re-run path by path, so one
// path's divergence does not stop the others).  It is not an error: it is
// left out of what is emitted and diverged[p] (P values) receives the first
// frame found diverged (for a sampler failure, the first frame of the piece
// simulated); the others get -1.  *nfe: network
// evaluations per path of the first batch.
int pdd_sample_rollout(pdd_net *n, const pdd_sample_opts *o, const pdd_geom *g, long P,
                       const double *u, long frames, long keep_from, int seg_len,
                       pdd_emit_fn emit, void *emit_ctx, long *diverged, long *nfe,
                       void (*progress)(void *ctx, long done), void *progress_ctx,
                       eddy_err *e);

// The λ grid of a reverse integration from `top` (decreasing, *nl values,
// malloc'ed into *lams): o's schedule, ending at min(dλ, top/4).
int pdd_sample_lambdas(const pdd_net *n, const pdd_sample_opts *o, double top, double **lams,
                       int *nl, eddy_err *e);

// Fails naming the first path b (sample0 + b) of u (B, T, C, S) whose frame
// t ≥ t0 has an rms above limit (or not finite).
int pdd_frames_check(const pdd_geom *g, int B, const double *u, int t0, double limit, double lam,
                     uint64_t sample0, eddy_err *e);

#endif
