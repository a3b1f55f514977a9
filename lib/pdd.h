// Predictor-Driven Diffusion (Yasuda & Bischoff, "Predictor-Driven Diffusion for
// Spatiotemporal Generation"): the mathematics around a
// learned increment predictor, with the predictor and the path score passed
// in as callbacks so that every piece can be tested without a network.
//
// A path is (T, C, S): T frames, C channels, S = N (1-D) or Ny*Nx (2-D)
// points, in standardised units; a batch of paths is (B, T, C, S).  The
// predictor sees, for frame n, a window of frames n-W+1..n (oldest first,
// zeros before the start) and returns the predicted increment u_{n+1} - u_n.
// Everything here works with increments, so the physical Δt cancels: the
// loss weight and the path density use v_λ = σ_λ²Δt = tr(Σ_λ)/D, the noise
// variance per point of one increment.
//
// Two forward processes in λ share the sampler:
//   RG (PDD):  ∂_λ u = α Δu + β η,  per spatial mode C = e^{-α|k|²λ},
//              Σ = β²(1 - e^{-2α|k|²λ})/(2α|k|²); the k = 0 mode is frozen
//              (C = 1, Σ = 0; lib/rg.h), so the sampler never moves it.
//   VP (DDPM baseline, γ): ∂_λ u = -γ u + √(2γ) η, the same for every mode.
#ifndef EDDY_PDD_H
#define EDDY_PDD_H

#include <stdint.h>

#include "err.h"
#include "rg.h"

typedef struct {
    int T;          // frames per path
    int C;          // channels
    int dims;       // 1 or 2
    int n[2];       // grid: n[0] = N (1-D) or Ny, n[1] = Nx (2-D)
    double L;       // domain length of every axis
    int W;          // window: the current frame and W-1 before it (5)
} pdd_geom;

long pdd_geom_points(const pdd_geom *g);                 // S
int pdd_geom_check(const pdd_geom *g, eddy_err *e);

typedef enum { PDD_PROC_RG = 0, PDD_PROC_VP = 1 } pdd_proc_kind;

typedef struct {
    pdd_proc_kind kind;
    double alpha, beta;   // RG
    double gamma;         // VP (β² = 2γ)
    int fd_laplacian;     // RG: symbol 4 sin²(πn/N)/h² (reference code) instead of |k|²
    double dlam;          // Σ_λ floor for the loss weight and score: Σ_λ ≥ Σ_dlam (1e-3)
} pdd_process;

// The process defaults of the paper: RG with (α, β) given, dlam = 1e-3.
pdd_process pdd_process_rg(double alpha, double beta);
pdd_process pdd_process_vp(double gamma);

// The lib/rg.h parameters of the RG process at λ, Σ floored at λ = floor
// (0: no floor).
rg_params pdd_rg_params(const pdd_process *p, double lam, double floor);
// The lib/rg.h grid of a geometry (the RG operator does every spectral step).
int pdd_rg_grid(const pdd_geom *g, const pdd_process *p, rg_grid *rgg);

// Per-mode damping and variance at λ (no floor) for a mode of symbol k2
// (RG; lib/rg.h's formulas) — for VP, k2 is ignored.  Σ at the frozen
// k = 0 mode of RG is 0.
double pdd_proc_c(const pdd_process *p, double k2, double lam);
double pdd_proc_sigma(const pdd_process *p, double k2, double lam);

// v_λ = σ_λ²Δt = tr(Σ_λ)/D with the floor λ ≥ dlam: the variance per point
// of one increment's noise, the weight of the loss and of the path density.
// op: an RG operator on the path's grid (may be NULL for VP).
double pdd_point_var(const rg_op *op, const pdd_process *p, double lam);

// ---- windows
// Gathers the windows of frames 0..nw-1 of each of B paths:
// u (B, T, C, S) → win (B, nw, C*W, S), channel index c*W + w with w = W-1
// the current frame; frames before 0 are zero.  nw ≤ T.
void pdd_windows(const pdd_geom *g, int B, int nw, const double *u, double *win);
// The adjoint: accumulates gwin (B, nw, C*W, S) into gu (B, T, C, S).
void pdd_windows_adjoint(const pdd_geom *g, int B, int nw, const double *gwin, double *gu);

// ---- the predictor as callbacks
typedef struct {
    void *ctx;
    // out (nb, C, S) = f(win (nb, C*W, S), λ); keeps what input_grad needs.
    int (*forward)(void *ctx, int nb, const double *win, double lam, double *out, eddy_err *e);
    // gwin (nb, C*W, S) = (∂f/∂win)ᵀ gout (nb, C, S) at the last forward's input.
    int (*input_grad)(void *ctx, int nb, const double *gout, double *gwin, eddy_err *e);
    int max_batch;   // windows per forward call (0: no limit), bounding activation memory
} pdd_predictor;

// ---- training losses (the paper's Alg. 1; the DDPM baselines of its B.4)
// Over nw windows j of `frame` values each, r = target - f:
//   v != NULL (PDD):  Σ_j Σ_i r² / (2 v_j) / count, target the increment Δu of
//                     window j, f the predicted one, v_j its point variance v_λ;
//   v == NULL (DDPM): Σ_j Σ_i r² / count, target the noise ε, f the network's ε̂.
// count is the number of values of the whole batch (the loss is the batch
// mean; a share of a batch gives its contribution).  When gf is not NULL it
// receives ∂loss/∂f (nw, frame).
double pdd_window_loss(long nw, long frame, const double *target, const double *f,
                       const double *v, double count, double *gf);
// ---- the path score
// ln p_λ(path) = -Σ_n ‖Δu_n - f(window_n)‖² / (2 v) (the initial density
// r_λ left out) and its gradient s over the whole path (B, T, C, S), by one
// forward and one input-gradient of the predictor over the B*(T-1) windows.
// logp (B) may be NULL.
int pdd_path_score(const pdd_geom *g, const pdd_predictor *pr, int B, const double *u,
                   double lam, double v, double *s, double *logp, eddy_err *e);

// The same with the increment noise coloured: ln p = -Σ_n ½ r_nᵀ W r_n,
// r_n = Δu_n - f(window_n), W diagonal in the spatial Fourier basis with
// w (rg_nmodes(op)) per mode of op (the path's grid); w = NULL gives W = 1/v.
// With w = 1/Σ_λ(k) the transition density has the forward process's own
// noise covariance, and the score of a noise-dominated mode is -u/Σ_λ(k)
// rather than the scalar model's -u/v (too weak where Σ_λ(k) << v).
int pdd_path_score_w(const pdd_geom *g, const pdd_predictor *pr, int B, const double *u,
                     double lam, double v, const rg_op *op, const double *w, double *s,
                     double *logp, eddy_err *e);

// ---- simulation in t at fixed λ (the paper's Alg. 2)
// Frames 0..n0-1 of u (B, T, C, S) are given; fills n0..T-1 by
// u_{n+1} = u_n + f(window_n) + sqrt(v) z; v = 0 is deterministic.  With sd
// (rg_nmodes(op) values) the noise is coloured instead: z is multiplied per
// spatial mode by sd, e.g. sqrt(Σ_λ(k)), the increment covariance of the
// coloured path score, and v is ignored.  The noise of path b comes from
// (seed, sample0 + b, frame, 0).
int pdd_simulate(const pdd_geom *g, const pdd_predictor *pr, int B, double *u, int n0,
                 double lam, double v, const rg_op *op, const double *sd, uint64_t seed,
                 uint64_t sample0, eddy_err *e);
// The same on a piece of a longer rollout (lib/pdd_sample.h streams one so):
// frame 0 of u is frame frame0 of the path, which keys the noise and names
// frames in messages, so that pieces continue one rollout exactly.
int pdd_simulate_at(const pdd_geom *g, const pdd_predictor *pr, int B, double *u, int n0,
                    double lam, double v, const rg_op *op, const double *sd, uint64_t seed,
                    uint64_t sample0, long frame0, eddy_err *e);

// ---- λ grids (decreasing, nsteps+1 values, lams[nsteps] = lmin)
// The paper's: uniform steps.
int pdd_grid_uniform(double lmax, double lmin, int nsteps, double *lams, eddy_err *e);
// Seed 000's ρ-schedule: nsteps-1 steps from lmax to lfloor on
// (lmax^{1/ρ} + i/(nsteps-1)(lfloor^{1/ρ} - lmax^{1/ρ}))^ρ, then one to lmin.
int pdd_grid_rho(double lmax, double lfloor, double lmin, int nsteps, double rho,
                 double *lams, eddy_err *e);

// ---- reverse-λ sampling (the paper's Alg. 3)
// score: s (B, T, C, S) = ∇ ln p_λ at u (B, T, C, S).
typedef int (*pdd_score_fn)(void *ctx, int B, const double *u, double lam, double *s,
                            eddy_err *e);

typedef enum {
    PDD_STEP_ETD = 0,     // the paper's Eq. 66: ETD on the score, Euler–Maruyama white noise
    PDD_STEP_EXACT = 1    // ours: the exact Gaussian posterior step per mode (see pdd.c)
} pdd_step_kind;

typedef struct {
    pdd_step_kind step;
    double kappa;         // Langevin signal-to-noise ratio (0.7 L96, 0.3 KF)
    int ncorr;            // corrector steps per predictor step (3)
    int extrapolate;      // overwrite frame 0 by 2u_1 - u_2 after each update (1)
    int final_noise;      // add noise on the last predictor step (paper: 1)
    int remove_mean;      // reference-code extra: subtract the (t, x) mean per (b, c) (0)
    double clamp;         // clamp to ±clamp each update (reference code: 3); 0 = off
    double max_clamped;   // a path with a larger fraction of values clamped in one update
                          // has diverged: an error (1: never)
    double guard;         // EXACT step: modes with a·Δλ above this ignore the score (3)
    double blowup;        // a path whose rms (standardised units) exceeds this is an error (0: off)
    uint64_t seed;
    uint64_t sample0;     // sample index of path 0: noise keyed (seed, sample, step, purpose)
    // Optional: called after every reverse step (predictor + correctors) with
    // the rms of each path, rms (B), of its score at the step's start, srms
    // (B), and the largest fraction of its values clamped by one update,
    // clamped (B); non-zero stops.
    int (*monitor)(void *ctx, int step, double lam, int B, const double *rms,
                   const double *srms, const double *clamped);
    void *monitor_ctx;
} pdd_pc_opts;

pdd_pc_opts pdd_pc_defaults(void);

typedef struct pdd_sampler pdd_sampler;
// A sampler for batches of up to Bmax paths of geometry g (owns FFT buffers).
pdd_sampler *pdd_sampler_new(const pdd_geom *g, const pdd_process *p, int Bmax, eddy_err *e);
void pdd_sampler_free(pdd_sampler *s);
// The sampler's RG operator (its grid and symbols).
const rg_op *pdd_sampler_rg(const pdd_sampler *s);
// The data's variance per real-FFT mode and channel, P (C, M) with M =
// rg_nmodes, in the
// unitary DFT (the training set's mean |û|²).  With it, the EXACT step's
// noise has the variance V'Σ_Δ/V (V = C²P + Σ), exact for Gaussian data at
// any step size; without it, Σ_{λ'}Σ_Δ/Σ_λ (DDPM's β̃), which is exact only
// in the small-step limit and under-disperses large steps.
int pdd_sampler_set_spectrum(pdd_sampler *s, const double *P, eddy_err *e);

// Draws u (B, T, C, S) ~ N(0, Σ_λ) per frame (RG: spectral colouring of
// white noise, k = 0 zero; VP: white of variance 1 - e^{-2γλ}), keyed by
// (seed, sample0 + b, 0, 7).
int pdd_prior_sample(pdd_sampler *s, int B, double lam, uint64_t seed, uint64_t sample0,
                     double *u, eddy_err *e);

// Integrates u (B, T, C, S) from lams[0] down to lams[nlam-1] in place.
// *nfe (may be NULL) is increased by the number of score evaluations.
// A path that turns non-finite or whose rms exceeds o->blowup fails the
// call with a message naming its sample index (sample0 + b) and λ.
int pdd_reverse(pdd_sampler *s, const pdd_pc_opts *o, const double *lams, int nlam,
                pdd_score_fn score, void *ctx, int B, double *u, long *nfe, eddy_err *e);

#endif
