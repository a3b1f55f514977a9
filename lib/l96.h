// Two-scale Lorenz-96 (the system of Yasuda & Bischoff, "Predictor-Driven
// Diffusion for Spatiotemporal Generation"; README.md, l96-gen):
//
//   dX_k/dt = −X_{k−1}(X_{k−2} − X_{k+1}) − X_k + F − (hc/b) Σ_j Y_{j,k}
//   dY_n/dt = −cb Y_{n+1}(Y_{n+2} − Y_{n−1}) − c Y_n + (hc/b) X_{⌊n/J⌋}
//
// with Y flat on K·J points, n = k·J + j, wrapping across blocks and around
// the ring (Y_{j,k} = Y_{j−J,k+1}).  State arrays: X (K), Y (K·J).
#ifndef EDDY_L96_H
#define EDDY_L96_H

#include <stdint.h>

#include "err.h"

typedef struct {
    int K, J;
    double h, F, b, c;
    int damping;        // 1: the −X_k and −c Y_n terms (0 only for conservation checks)
} l96_params;

typedef enum { L96_EULER, L96_RK4 } l96_scheme;

// K = 32, J = 4, h = 1, F = b = c = 10, damping on.
void l96_params_default(l96_params *p);
int l96_check(const l96_params *p, eddy_err *e);

// Tendencies; dX (K), dY (K·J) must not alias X, Y.
void l96_rhs(const l96_params *p, const double *X, const double *Y, double *dX, double *dY);

// Doubles of scratch l96_step needs: (K + K·J) · 5.
int l96_work_size(const l96_params *p);
// One step in place; work as sized above.
void l96_step(const l96_params *p, l96_scheme s, double dt, double *X, double *Y, double *work);

// The initial state: X_k and Y_n independent U(0,1), keyed by (seed, sample);
// one X per k, unlike the PDD reference code's per-point X.
void l96_init(const l96_params *p, uint64_t seed, uint64_t sample, double *X, double *Y);

// Both channels on the K·J-point grid: out (2, K·J), X_k replicated J times.
void l96_to_grid(const l96_params *p, const double *X, const double *Y, double *out);

#endif
