// The renormalisation-group (RG) coarse-graining operator of Predictor-Driven
// Diffusion (Yasuda & Bischoff, "Predictor-Driven Diffusion for Spatiotemporal
// Generation", A.2): the heat semigroup with additive noise in the scale λ,
//
//     ∂_λ u = α Δu + β η   ⇒   per spatial Fourier mode k ≠ 0
//     C_λ(k) = exp(−α|k|²λ),   Σ_λ(k) = β² (1 − exp(−2α|k|²λ)) / (2α|k|²),
//     u_λ = C_λ u_0 + sqrt(Σ_λ) ε,   ε white in real space,
//
// applied to every frame of a path independently (never along time).  Σ_λ is
// diagonal in the orthonormal DFT basis, so the noise is
// ifft_ortho(sqrt(Σ_λ(k)) · fft_ortho(ε)) and its variance per grid point is
// tr(Σ_λ)/D.  The k = 0 mode is left untouched (C = 1, Σ = 0): the data are
// standardised to zero mean, and a Brownian mean mode (what the reference code
// does) would drift the mean.
//
// |k|² is either the spectral symbol (2πn/L)² or the second-order
// finite-difference symbol 4 sin²(πn/N)/h², h = L/N, that the reference code
// uses; in 2-D the symbols of the two axes add.
//
// Layout: a "field" is one channel of one frame on the grid, (N) in 1-D or
// (Ny, Nx) in 2-D, contiguous.  A "frame" is C consecutive fields.  Spectral
// tables are on the half spectrum of the real FFT: (N/2+1) in 1-D,
// (Ny, Nx/2+1) in 2-D, row-major.
//
// Noise is reproducible: frame f of a batch draws its C·D normals, channel by
// channel, from rng_init(seed, record, frame0 + f, purpose), so the result
// never depends on threads or on how frames are batched.
#ifndef EDDY_RG_H
#define EDDY_RG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "rng.h"

typedef enum { RG_LAP_SPECTRAL, RG_LAP_FD } rg_laplacian;

// Defaults of the paper (A.2; its dλ = 1e-3 floor).
#define RG_LAMBDA_FLOOR 1e-3          // Σ_λ is floored at Σ_{Δλ}, Δλ = 1e-3
#define RG_PURPOSE 0x52474e4fULL      // "RGNO": the rng purpose word of RG noise

typedef struct {
    int ndim;            // spatial dimensions: 1 or 2
    int n[2];            // points per axis: {N} in 1-D, {Ny, Nx} in 2-D
    double L[2];         // periodic lengths of the axes, same order (2π in the seeds)
    rg_laplacian lap;
} rg_grid;

typedef struct {
    double alpha;        // diffusion coefficient α ≥ 0
    double beta;         // noise amplitude β ≥ 0
    double lambda;       // scale λ ≥ 0
    double lambda_floor; // Σ uses max(λ, lambda_floor); 0 disables (RG_LAMBDA_FLOOR, the paper's dλ)
} rg_params;

typedef struct {
    uint64_t seed;
    uint64_t record;     // e.g. record index in the stream, or sample index
    uint64_t frame0;     // key of the first frame of the batch; frame f uses frame0 + f
    uint64_t purpose;    // RG_PURPOSE unless a caller needs independent streams
} rg_noise;

// Precomputed symbols and FFT plans for one grid.  Immutable once made, so
// one op may be used from many threads at once.
typedef struct rg_op rg_op;

rg_op *rg_op_new(const rg_grid *g, eddy_err *e);
void rg_op_free(rg_op *op);
const rg_grid *rg_op_grid(const rg_op *op);
size_t rg_npoints(const rg_op *op);      // D per channel: N or Ny·Nx
size_t rg_nmodes(const rg_op *op);       // half-spectrum size: N/2+1 or Ny·(Nx/2+1)
// |k|² per half-spectrum mode (0 at k = 0).                      // (nmodes)
const double *rg_ksq(const rg_op *op);
// How many modes of the full spectrum each half-spectrum mode stands for
// (1 or 2), so that Σ over the full spectrum = Σ w·(half).      // (nmodes)
const double *rg_mode_weight(const rg_op *op);

// ---- scalar formulas
// C_λ(k) and Σ_λ(k) for one |k|² (ksq = 0 gives 1 and 0).  Σ uses
// max(λ, lambda_floor) and is accurate for small α|k|²λ (expm1); α = 0 gives
// the limit β²λ.
double rg_C(const rg_params *p, double ksq);
double rg_Sigma(const rg_params *p, double ksq);
// tr(Σ_λ)/D: the mean of Σ_λ(k) over the full spectrum (k = 0 counts as 0);
// the variance per grid point of the added noise, and σ_λ²·Δt.  D counts
// channels too, but every channel has the same Σ, so C drops out.
double rg_trace_per_point(const rg_op *op, const rg_params *p);
// σ_λ² = tr(Σ_λ)/(Δt·D) (Yasuda & Bischoff eq. 58), Δt the time between frames.
double rg_sigma2(const rg_op *op, const rg_params *p, double dt);

// ---- applying the operator, in place
// u ← C_λ u + sqrt(Σ_λ) ε for nframes frames of nchan fields.  noise == NULL
// gives the deterministic reference C_λ u.  Parallel over frames (OpenMP).
int rg_apply(const rg_op *op, const rg_params *p, double *u /* (nframes, nchan, D) */,
             size_t nframes, int nchan, const rg_noise *noise, eddy_err *e);
int rg_apply_f(const rg_op *op, const rg_params *p, float *u /* (nframes, nchan, D) */,
               size_t nframes, int nchan, const rg_noise *noise, eddy_err *e);
// The same with caller-supplied white noise eps (unit variance per point; may
// be NULL for none), e.g. when a loss needs the realisation.  eps is not
// modified.
int rg_apply_eps(const rg_op *op, const rg_params *p, double *u /* (nfields, D) */,
                 const double *eps /* (nfields, D) or NULL */, size_t nfields, eddy_err *e);

// u ← ifft(m(k) · fft(u)) for nfields fields, m real per half-spectrum mode:
// any function of |k|² (an ETD factor, Σ^{1/2}, Σ^{-1}, ...) built from
// rg_ksq.  Parallel over fields.
int rg_multiply(const rg_op *op, const double *m /* (nmodes) */, double *u /* (nfields, D) */,
                size_t nfields, eddy_err *e);
int rg_multiply_f(const rg_op *op, const double *m /* (nmodes) */, float *u /* (nfields, D) */,
                  size_t nfields, eddy_err *e);

// Fills the noise a frame would get: (nchan, D) normals from the rng_noise
// key of frame f.  Exposed so tests and callers can reproduce rg_apply.
void rg_noise_fill(const rg_noise *noise, size_t f, double *eps /* (nchan, D) */, size_t n);

#endif
