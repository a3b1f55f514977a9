// Neural-network layers in float32 as forward/backward pairs (the llm.c
// pattern): forward(out, in, weights, dims), backward(din, dweights, dout,
// saved, weights, dims).  Every backward ACCUMULATES (+=) into its gradient
// outputs, so a caller zeroes them once per step.  Channels are last: a
// field of N points with C channels is (N, C) row-major.
//
// lib/fno.c assembles these into the FNO; tests check each one on its own.
#ifndef EDDY_NN_H
#define EDDY_NN_H

#include <stddef.h>

#include "err.h"

// ---- pointwise linear (a 1×1 convolution): out = in · Wᵀ + b.
// ldi / ldo are the row strides of in / out (≥ cin / cout), so a layer can
// read or write a channel slice of a wider (concatenated) array.
// accumulate = 1 adds to out instead of overwriting it.
void nn_linear_forward(float *out, int ldo,             // (N, cout) stride ldo
                       const float *in, int ldi,        // (N, cin) stride ldi
                       const float *w, const float *b,  // (cout, cin), (cout) or NULL
                       size_t N, int cin, int cout, int accumulate);
// din (may be NULL) += dout · W; dw += doutᵀ · in; db (may be NULL) += Σ_rows dout.
void nn_linear_backward(float *din, int lddi,           // (N, cin)
                        float *dw, float *db,           // (cout, cin), (cout)
                        const float *dout, int lddo,    // (N, cout)
                        const float *in, int ldi,       // (N, cin)
                        const float *w, size_t N, int cin, int cout);

// ---- activations (GELU: x·Φ(x) with erf; SiLU: x·sigmoid(x))
void nn_act_forward(float *out, const float *in, size_t n, int act);           // (n)
// din += dout · act'(in)  (accumulate = 1), or din = dout · act'(in)  (0)
void nn_act_backward(float *din, const float *dout, const float *in, size_t n, int act,
                     int accumulate);
// Linear then activation, block by block while the block is in cache:
// pre (N, cout) = [pre +] in · Wᵀ [+ b]  (accumulate 1 / 0; b may be NULL),
// out (N, cout) = act(pre).  pre and out are contiguous (stride cout).
void nn_linear_act_forward(float *pre, float *out, const float *in, int ldi, const float *w,
                           const float *b, size_t N, int cin, int cout, int accumulate, int act);
// Scalar reference versions (libm), for tests.
double nn_act_ref(double x, int act);
double nn_act_dref(double x, int act);

// ---- conditioning: per (batch, channel) FiLM or bias over N points each.
// ss is (B, 2C): scale in [0, C), shift in [C, 2C) (FiLM), or (B, C) shift
// only (bias, film = 0).  out = in·(1 + scale) + shift.  out may equal in.
void nn_film_forward(float *out, const float *in, const float *ss, int B, size_t N, int C,
                     int film);
// din += dout·(1+scale); dss += Σ_points [dout·in | dout].  din ≠ dout.
void nn_film_backward(float *din, float *dss, const float *dout, const float *in,
                      const float *ss, int B, size_t N, int C, int film);

// ---- scalar embedding: e (B, E) from s (B): [sin(2π f s) | cos(2π f s)]
// (gaussian, f (E/2) given) or [sin(f_i s) | cos(f_i s)], f_i = exp(−ln P · i/(E/2)).
void nn_embed(float *e, const float *s, int B, int E, const float *freq, double period);

// ---- spectral convolution over the spatial axes of (B, H, W, C) fields
// (1-D: H = 1).  Keeps the modes k_y ∈ {0..my−1, −my..−1} (2-D) × k_x ∈
// {0..mx−1}: nm = (2-D ? 2·my : 1)·mx modes, ordered (row block, row, column).
// Weights w are complex (nm, cin, cout) as interleaved float pairs.
// The transforms are truncated DFTs done as matrix products (only the kept
// modes are ever computed), y = Σ_q mult(kx)·Re(Y_q e^{+iθ})/(H·W) exactly,
// mult = 1 for kx = 0 and the Nyquist column, 2 otherwise.
typedef struct {
    int dims, H, W, my, mx, nm;
} nn_spec_dims;
int nn_spec_dims_set(nn_spec_dims *d, int dims, int H, int W, int my, int mx, eddy_err *e);

// Scratch size in floats for a batch of B with C channels (max of in/out)
// at the current OpenMP thread count (omp_get_max_threads()): ask again
// after raising it.
size_t nn_spec_scratch_floats(const nn_spec_dims *d, int B, int C);

// y (B,H,W,cout) = irfft(W · rfft(x)[kept]) / (H·W) + bias, overwriting y
// (accumulate = 0) or added to it (1); bias (cout) may be NULL.  (The bias
// rides along in the last matrix product: cheaper than a pass of its own.)
// xk (B, nm, 2, cin) receives the kept input modes, real parts then
// imaginary parts per mode (saved for backward; nm·B·cin·2 floats); spec
// is scratch of nspec ≥ nn_spec_scratch_floats floats (checked); x is not
// modified.
int nn_spec_forward(float *y, int accumulate, const float *bias, float *xk, const float *x,
                    const float *w, float *spec, size_t nspec, const nn_spec_dims *d, int B,
                    int cin, int cout, eddy_err *e);
// dx (may be NULL) = adjoint (accumulate = 0) or += adjoint (1);
// dw (may be NULL) += Σ_b conj(xk)·dyk.  dy is not modified.  spec is
// scratch as above.
int nn_spec_backward(float *dx, int accumulate, float *dw, const float *dy, const float *xk,
                     const float *w, float *spec, size_t nspec, const nn_spec_dims *d, int B,
                     int cin, int cout, eddy_err *e);

#endif
