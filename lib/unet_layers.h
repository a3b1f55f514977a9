// The two U-Net layers that lib/nn.h and lib/conv.h do not have: GroupNorm
// and multi-head self-attention, in float32 as forward/backward pairs (every
// backward ACCUMULATES (+=) into its gradients, the input gradient included).
// Channels last: a batch of B fields of N points and C channels is (B, N, C).
// lib/unet.c assembles them with the convolutions into the U-Net.
#ifndef EDDY_UNET_LAYERS_H
#define EDDY_UNET_LAYERS_H

#include <stddef.h>

#include "err.h"

// ---- GroupNorm (Wu & He): the C channels split into G groups of C/G
// consecutive channels; each (item, group) normalised over its N·C/G values
// with the biased variance, then y = x̂·gamma[c] + beta[c].  eps = 1e-5 (as
// torch.nn.GroupNorm).  mean, rstd (B, G) are saved for backward.
#define UNET_GN_EPS 1e-5
int gn_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
               const float *beta, int B, size_t N, int C, int G, eddy_err *e);
// dx (may be NULL) += ∂/∂x; dgamma, dbeta (may be NULL) += their gradients.
int gn_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                const float *mean, const float *rstd, const float *gamma, int B, size_t N, int C,
                int G, eddy_err *e);

// ---- scaled dot-product self-attention over the N points of each item, with
// `heads` heads of d = C/heads channels.  qkv (B, N, 3C) holds q in channels
// [0, C), k in [C, 2C), v in [2C, 3C); head h uses channels [h·d, (h+1)·d) of
// each.  o (B, N, C) = softmax(q kᵀ/√d) v per head, head h in o's channels
// [h·d, (h+1)·d).  p (B, heads, N, N) receives the attention weights (saved
// for backward).
int attn_forward(float *o, float *p, const float *qkv, int B, int N, int C, int heads,
                 eddy_err *e);
// dqkv += ∂/∂qkv given do (B, N, C).  scratch of attn_scratch_floats floats.
size_t attn_scratch_floats(int N, int C, int heads);
int attn_backward(float *dqkv, const float *dout, const float *p, const float *qkv, int B, int N,
                  int C, int heads, float *scratch, size_t nscratch, eddy_err *e);

#endif
