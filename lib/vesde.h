// The variance-exploding SDE of the stochastic closure (Dong, Chen & Wu,
// "Data-driven stochastic closure modeling via conditional diffusion model and
// neural operator"; README.md, fno-train):
//
//     dU = g(t) dW,   g(t) = σ₀^t,   σ_t² = ∫₀ᵗ g² = (σ₀^{2t} − 1) / (2 ln σ₀)
//
// with σ₀ = 26 by default.  This file holds the pieces the trainer needs
// (noise level draw, perturbation, the denoising score-matching loss and its
// gradient), the reverse-time schedules, and two samplers: Euler–Maruyama on
// the reverse SDE (the reference's sampler, the last step returning the
// mean) and a deterministic probability-flow Heun sampler in the EDM style.
//
// The samplers take the score as a callback so that they can be checked with
// an exact score (Gaussian data) and driven by the FNO in the tools alike.
// Every random number a sample sees is keyed by (seed, condition, sample,
// step), never by its position in a batch or by the thread that computes it.
#ifndef EDDY_VESDE_H
#define EDDY_VESDE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "rng.h"

#define VESDE_SIGMA0 26.0

// ---- the SDE
double vesde_g(double sigma0, double t);          // diffusion coefficient σ₀^t
double vesde_std(double sigma0, double t);        // marginal std σ_t (σ_0 = 0)
// The time at which the marginal std equals s (inverse of vesde_std).
double vesde_time_of_std(double sigma0, double s);

// ---- training
// t ~ U(t_min, t_max), the reference's ε·2 = 2e-5 and 2.
double vesde_draw_t(eddy_rng *r, double t_min, double t_max);
// x_t = x0 + σ z with z ~ N(0, I) from r; z is kept for the loss.
void vesde_perturb(eddy_rng *r, double sigma, const float *x0, float *z, float *xt,
                   size_t n);                         // each (n)
// Denoising score matching with weight λ(t) = σ_t²: for one sample,
// Σ_i (σ s_i + z_i)², the reference's sum over grid points.  Returns the
// loss times `scale` (1/B for a batch mean) and, when ds is non-NULL, adds
// d(scale·loss)/ds into ds.
double vesde_dsm_loss(double sigma, const float *s, const float *z, size_t n, double scale,
                      float *ds);                     // s, z, ds: (n)

// ---- schedules: ts[0] = T > ts[1] > ... > ts[nsteps] = 0, nsteps + 1 entries
typedef enum { VESDE_SCHED_KARRAS, VESDE_SCHED_UNIFORM } vesde_schedule;
// Karras ρ-schedule applied to the diffusion time (as the reference does):
// t_i = (T^{1/ρ} + i/(N−1) (t_min^{1/ρ} − T^{1/ρ}))^ρ for i < N, then 0.
// Uniform: t_i = T (1 − i/N).  ts must hold nsteps + 1 doubles.
int vesde_schedule_fill(vesde_schedule kind, double T, double t_min, double rho, int nsteps,
                        double *ts, eddy_err *e);
int vesde_schedule_parse(const char *name, vesde_schedule *kind);
// The samplers' defaults (ve-sample, closure-run) where *T or *nsteps is 0:
// Karras T = 0.1, 10 steps (the accelerated sampler); uniform T = 1, 1000.
void vesde_schedule_defaults(vesde_schedule kind, double *T, int *nsteps);
const char *vesde_schedule_name(vesde_schedule kind);

// ---- sampling
// The score of the noisy law at time t for a batch of B states, each of
// size D.  Returns 0 or -1 with e filled.
typedef int (*vesde_score_fn)(void *ctx, const float *x, int B, double t, float *out,
                              eddy_err *e);           // x, out: (B, D)

typedef enum { VESDE_EM, VESDE_HEUN } vesde_sampler;
int vesde_sampler_parse(const char *name, vesde_sampler *kind);
const char *vesde_sampler_name(vesde_sampler kind);

typedef struct {
    double sigma0;
    const double *ts;       // (nsteps + 1) schedule, decreasing to 0
    int nsteps;
    uint64_t seed;
    vesde_sampler kind;
} vesde_sample_opts;

// Number of score evaluations one sample costs: N for EM, 2N − 1 for Heun
// (no correction on the step that lands on t = 0).
long vesde_nfe(vesde_sampler kind, int nsteps);

// Draws x ~ N(0, σ_T² I) and integrates back to t = 0.  cond[b] and
// sample[b] key the noise of batch element b: the result of element b does
// not depend on B or on the other elements.
//   EM:   x ← x + g_i² s(x, t_i) Δt_i + g_i √Δt_i z   (no z on the last step)
//   Heun: dx/dσ = −σ s(x, t(σ)), second order in σ, Euler on the last step;
//         random only through the initial draw.
int vesde_sample(const vesde_sample_opts *o, vesde_score_fn score, void *ctx, int B, size_t D,
                 const uint64_t *cond, const uint64_t *sample, float *x,
                 eddy_err *e);                        // cond, sample: (B); x: (B, D) out

#endif
