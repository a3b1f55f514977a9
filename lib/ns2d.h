// Pseudo-spectral solver for 2-D incompressible Navier–Stokes in vorticity
// form on the periodic square [0, L)^2 (README.md, ns-gen):
//
//     ∂ω/∂t + u·∇ω = ν Δω − μ ω + f(x) + ext(x) + β ξ(x,t),
//     −Δψ = ω,  u = (∂ψ/∂y, −∂ψ/∂x),  k = 2π n / L.
//
// Grids are (n, n) arrays indexed [y][x] (row = y, column = x), the point
// (j, i) at (y, x) = (j L/n, i L/n).  The state is ω̂ = rfft2(ω), unnormalised
// (FFTW and numpy convention: ω̂ = Σ ω e^{−ik·x}), laid out (n, n/2+1) with the
// half axis along x.  Only the 2/3-rule modes |n_x|, |n_y| ≤ (n−1)/3 are
// ever non-zero (|n| ≤ n/3 as the reference codes have it, except that when 3
// divides n the modes at exactly n/3 go too: they would alias), and the mean
// mode is kept at 0.
//
// The advection is computed in the Basdevant form
//     u·∇ω = (∂x² − ∂y²)(uv) + ∂x∂y(v² − u²),
// which equals the dealiased u·∇ω of the reference codes up to rounding but
// needs 2 inverse + 2 forward transforms per right-hand side instead of 4 + 1.
// The 2-D transforms are done as 1-D passes that skip the columns the 2/3
// rule zeroes; with threads > 1 the two independent transforms of each pass
// run on separate threads, each with the same single-threaded plan, so the
// bytes do not depend on the thread count.
//
// ξ is a Q-Wiener forcing, white in time: over one step the noise increment
// is dW(x) = Σ_n exp(−a|k|²/2) L⁻¹ e^{ik·x} √dt ζ_n with ζ_n complex standard
// normal (Hermitian), i.e. Cov dW(x), dW(y) = dt L⁻² Σ_n e^{−a|k|²} e^{ik·(x−y)}
// over the retained modes n ≠ 0 (the eigenfunctions of Q are orthonormal on
// the domain, as in Lord–Powell–Shardlow Alg. 10.6).  Each step adds β dW; the
// noise of step s is keyed by (seed, sample, s), so ξ at a frame (for G and H)
// is the very noise the next step uses.
//
// Change of units (README.md, ns-gen): a run with L = 1 maps onto L' = 2π with
// t' = (2π)² t, ω' = ω/(2π)², ν' = ν, dt' = (2π)² dt, f' = f/(2π)⁴,
// β' = β/(2π)², a' = (2π)² a.  The reference's κ = 10 noise has variance 10
// per mode: its β corresponds to β √10 here.
#ifndef EDDY_NS2D_H
#define EDDY_NS2D_H

#include <complex.h>
#include <stdint.h>

#include "err.h"

typedef enum {
    NS2D_RK2,   // explicit midpoint for every term (the Kolmogorov reference)
    NS2D_CN     // Crank–Nicolson for ν Δω, forward Euler for the rest (the closure reference)
} ns2d_scheme;

typedef enum {
    NS2D_FORCE_NONE,
    NS2D_FORCE_KOLMOGOROV,  // −famp cos(k y), k = 2π kf / L
    NS2D_FORCE_CLOSURE      // famp (sin(k(x+y)) + cos(k(x+y))), k = 2π kf / L
} ns2d_forcing;

// Terms that a coupled closure run removes from the right-hand side.
enum {
    NS2D_DROP_VISC = 1,           // ν Δω entirely (explicit and implicit parts)
    NS2D_DROP_VISC_EXPLICIT = 2,  // CN only: the explicit half ½dt νΔω, keeping the
                                  // implicit denominator (the reference's G coupling);
                                  // under RK2 the same as NS2D_DROP_VISC
    NS2D_DROP_ADV = 4             // −u·∇ω
};

typedef struct {
    int n;               // grid points per axis: even, ≥ 4
    double L;            // domain length
    double nu, mu;       // viscosity (≥ 0), linear drag (≥ 0)
    double dt;           // time step (> 0)
    ns2d_scheme scheme;
    ns2d_forcing forcing;
    int kf;              // forcing wavenumber index
    double famp;         // forcing amplitude
    double beta;         // Q-Wiener amplitude (0: deterministic)
    double noise_a;      // spectral decay a of the noise (units of length²)
    double cfl_max;      // blow-up bound on max(|u|+|v|) dt n / L (≤ 0: no check)
    uint64_t seed, sample;   // key of every random stream of this run
    int threads;         // threads inside one right-hand side (≤ 0: 1; only n ≥ 128 uses 2)
} ns2d_params;

typedef struct ns2d ns2d;

// Sensible defaults (the Kolmogorov preset at n = 64) to modify field by field.
void ns2d_params_default(ns2d_params *p);

// Checks p and makes the plans; the state starts at ω = 0, t = 0.
ns2d *ns2d_create(const ns2d_params *p, eddy_err *e);
void ns2d_free(ns2d *s);
const ns2d_params *ns2d_get_params(const ns2d *s);

// ---- initial states (keyed by (seed, sample), so any shard reproduces them)
// Gaussian random field of the FNO benchmark, written for any L:
// ω(x) = L⁻² g(x/L) with g ~ N(0, σ²(−Δ + τ²)^(−α)) on the unit torus
// (reference: α = 2.5, τ = 7, σ = τ^(α−1)); mean 0, dealiased.
int ns2d_init_grf(ns2d *s, double alpha, double tau, double sigma, eddy_err *e);
// The Kolmogorov reference: ω = f + amp·U(0,1) per grid point, then dealiased
// and with its mean removed.
int ns2d_init_forcing_noise(ns2d *s, double amp, eddy_err *e);
// ω from a grid (n, n); projected onto the retained modes, mean removed.
void ns2d_set_omega(ns2d *s, const double *omega);           // (n, n)
void ns2d_get_omega(ns2d *s, double *omega);                 // (n, n)
// The state itself, (n, n/2+1); writable, but keep it dealiased.
double complex *ns2d_hat(ns2d *s);
double ns2d_time(const ns2d *s);
long ns2d_steps(const ns2d *s);
void ns2d_set_time(ns2d *s, double t, long steps);

// ---- coupling hooks for a-posteriori closure runs
// ext (n, n) is added to ∂ω/∂t, held constant over each step, until the next
// call (NULL clears it); it is projected onto the retained modes, mean removed.
// Under CN it enters explicitly: ω̂ ← (… + dt·ext̂) / (1 + ½dt ν|k|²).
void ns2d_set_external(ns2d *s, const double *ext);         // (n, n) or NULL
void ns2d_set_drop(ns2d *s, int drop_flags);                // NS2D_DROP_* ored

// ---- time stepping
// Advances nsteps steps; a NaN/Inf state or a CFL number past cfl_max fails
// with a message naming the time ("blow-up at t=..."), leaving the state at
// the failing step.
int ns2d_advance(ns2d *s, long nsteps, eddy_err *e);
// Largest CFL number max(|u|+|v|) dt n / L seen in the last step.
double ns2d_last_cfl(const ns2d *s);
// For benchmarks: runs only the FFTs that nsteps steps would run (same
// plans, same threads), on whatever the buffers hold; the state is untouched.
void ns2d_transforms_only(ns2d *s, long nsteps);

// ---- diagnostics and closure terms (evaluated at the current state)
// The right-hand side F(ω̂) of the deterministic part (dealiased, no noise),
// honouring the drop flags and ext: in and out (n, n/2+1), may not alias.
void ns2d_rhs(ns2d *s, const double complex *in, double complex *out);
// Dealiased u·∇ω of a grid field.
void ns2d_advection(ns2d *s, const double *omega, double *out);   // (n, n) → (n, n)
void ns2d_velocity(ns2d *s, double *u, double *v);               // (n, n) each
// G = ν Δω + β ξ and H = −u·∇ω + β ξ on the grid (either may be NULL), with ξ
// the noise of the step that starts now (dW/dt).
void ns2d_closure_terms(ns2d *s, double *G, double *H);          // (n, n) each
// The noise increment dŴ (β not applied) of step `step`: (n, n/2+1).
void ns2d_noise_hat(ns2d *s, long step, double complex *out);
// Grid field ↔ spectral coefficients of this solver (unnormalised, dealiased
// projection on the way in; c2r of the retained modes on the way out).
void ns2d_to_hat(ns2d *s, const double *grid, double complex *hat);   // (n,n) → (n,n/2+1)
void ns2d_to_grid(ns2d *s, const double complex *hat, double *grid);  // (n,n/2+1) → (n,n)
// Domain mean of a·b for two real fields given by their coefficients (Parseval).
double ns2d_mean_product(const ns2d *s, const double complex *a, const double complex *b);
// Energy ½⟨|u|²⟩, enstrophy ½⟨ω²⟩, palinstrophy ½⟨|∇ω|²⟩ of a state.
void ns2d_invariants(const ns2d *s, const double complex *w, double *E, double *Z, double *P);
// The forcing's coefficients (n, n/2+1), read-only.
const double complex *ns2d_forcing_hat(const ns2d *s);

#endif
