// The coupled (a-posteriori) run of a stochastic closure (Dong, Chen & Wu,
// "Data-driven stochastic closure modeling via conditional diffusion model and
// neural operator", its a-posteriori experiment):
// three solvers side by side on one grid from the same vorticity — the
// reference (the full equation with its stochastic forcing), the closure run
// (one term removed and the stochastic forcing off, a fresh sample of the term
// from the score model added every `every` steps and held in between,
// conditioned on the closure run's own vorticity and, for a v+obs model, on
// observations of the reference's true term at that step) and the same run
// with no closure.
#ifndef EDDY_CLOSURE_RUN_H
#define EDDY_CLOSURE_RUN_H

#include <stdint.h>

#include "closure_obs.h"
#include "closure_score.h"
#include "err.h"
#include "ns2d.h"
#include "vesde.h"

typedef struct {
    ns2d_params p;            // the reference run (seed, sample key its noise and initial state)
    int isG;                  // term removed and sampled: G (ν Δω + βξ) or H (−u·∇ω + βξ)
    const double *w0;         // initial vorticity (n²), or NULL: a spin-up of `spinup` time units
    double spinup;            //   from a Gaussian random field
    long nsteps, every, report;
    int obs_n, box;           // observations of the true term (v+obs models)
    obs_fill_kind fill;
    // The model's Y is the coarse term (closure-cond --y-coarse, obs_fill =
    // coarse): Y is computed from the closure run's own vorticity (lib/
    // closure_coarse.h), no observation of the true term is taken.
    int y_coarse;
    // G only: the reference code's coupling (research/closure.md §7) keeps the
    // implicit half of ν Δω in the Crank–Nicolson denominator and replaces
    // the explicit half by half the sample, so the run without closure keeps
    // half its viscosity; otherwise the whole ν Δω is replaced by the sample.
    int cn_half;
    vesde_sample_opts so;     // the sampler (seed keys the samples: condition = step, sample)
    uint64_t sample;
} cr_opts;

// At steps 0, report, 2·report, ... and nsteps: the three vorticities (n²)
// and the relative L2 errors against the reference, err_term that of the
// latest sample against the true term (NaN before the first).  A closure or
// no-closure run that blows up (its solver's CFL or finiteness check) stops
// there while the others go on: its error reads NaN from then on and
// diverged_* holds the step it failed at (0: it has not), why_* the
// solver's reason, and its vorticity is NULL.
typedef struct {
    long step;
    double t, err_closure, err_noclosure, err_term;
    long diverged_closure, diverged_noclosure;
    const char *why_closure, *why_noclosure;
    const double *w_ref, *w_closure, *w_noclosure;
} cr_report;

// Runs the three solvers with the model (m, info).  report is called at
// every report step (non-zero stops with its message in e); progress (may
// be NULL) after every solver step.
int closure_run(const cr_opts *o, fno *m, const cs_info *info,
                int (*report)(void *ctx, const cr_report *r, eddy_err *e), void *report_ctx,
                void (*progress)(void *ctx, long step), void *progress_ctx, eddy_err *e);

#endif
