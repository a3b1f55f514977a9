// Convolutions with kernel 3 (1-D: 3 taps, 2-D: 3×3) and PERIODIC padding, in
// float32, as forward/backward pairs in the style of lib/nn.h: every backward
// ACCUMULATES (+=) into its gradients, the input gradient included.  Both
// domains of the project are periodic (the Lorenz-96 ring and the doubly
// periodic Kolmogorov box), so a kernel that runs off one edge reads the other:
// there is no zero padding and no boundary effect.
//
// DATA LAYOUT: channels last, (B, H, W, C) row-major as in lib/fno.h; 1-D
// fields use H = 1.  Taps t are numbered (dy + 1)·3 + (dx + 1) in 2-D and
// dx + 1 in 1-D, dy, dx ∈ {−1, 0, 1}.
//
//   conv, stride s ∈ {1, 2}:   out[o] = b + Σ_t W[:, t, :] · in[(s·o + d_t) mod N]
//       W (cout, taps, cin); output grid (H/s, W/s) (2-D) or W/s (1-D).  Stride 2
//       downsamples: output point o is centred on input point 2o.
//   transposed conv, stride 2: the adjoint of a stride-2 conv (upsampling),
//       out[(2i + d_t) mod 2N] += Wt[t, :, :] · in[i], then + b
//       Wt (taps, cout, cin); output grid (2H, 2W) (2-D) or 2W (1-D).
//   (PyTorch: conv2d on a circularly padded input with weight W permuted to
//   (cout, cin, 3, 3); conv_transpose2d(stride 2, padding 0) with Wt permuted to
//   (cin, cout, 3, 3), its (2N + 1)-point output folded periodically, point q
//   landing on (q − 1) mod 2N.  bench/unet_torch.py does exactly this.)
//
// Each is a GEMM on OpenBLAS over an im2col buffer: the conv gathers its
// (taps·cin)-wide rows and multiplies by Wᵀ; the transposed conv multiplies
// first and scatters (col2im).  Work is split in fixed chunks of whole batch
// items (a periodic scatter never crosses an item), OpenMP over chunks with
// OpenBLAS held to one thread, and weight gradients summed in a fixed number
// of partial sums: the bits do not depend on the thread count.
#ifndef EDDY_CONV_H
#define EDDY_CONV_H

#include <stddef.h>

#include "err.h"

typedef struct {
    int dims;          // 1 or 2
    int B, H, W;       // input grid (H = 1 in 1-D)
    int cin, cout;
    int stride;        // 1 or 2 (conv); 2 (transposed)
    int transposed;    // 0: conv, 1: transposed conv
    int Ho, Wo;        // output grid
    int taps;          // 3 (1-D) or 9 (2-D)
} conv_dims;

// Checks and fills d.  A stride-2 conv needs even grid sides (the halving
// must divide the grid); every side must be ≥ 1 and channels ≥ 1.
int conv_dims_set(conv_dims *d, int dims, int B, int H, int W, int cin, int cout, int stride,
                  int transposed, eddy_err *e);
// Number of weight floats (cout·taps·cin).
size_t conv_weight_count(const conv_dims *d);
// Scratch floats needed by conv_forward / conv_backward at the current
// OpenMP thread count (ask again after raising it).
size_t conv_scratch_floats(const conv_dims *d);

// out (B, Ho, Wo, cout) = conv(in) (accumulate 0) or += conv(in) (1).
// in (B, H, W, cin); w as above; b (cout) may be NULL.
int conv_forward(float *out, int accumulate, const float *in, const float *w, const float *b,
                 const conv_dims *d, float *scratch, size_t nscratch, eddy_err *e);
// din (may be NULL) += ∂/∂in; dw (may be NULL) += ∂/∂w; db (may be NULL) += Σ dout.
// in is the input of the forward (needed for dw only; may be NULL without dw).
int conv_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                  const float *w, const conv_dims *d, float *scratch, size_t nscratch,
                  eddy_err *e);

#endif
