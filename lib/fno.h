// Fourier Neural Operator (1-D and 2-D) in float32: model assembly, the one
// contiguous parameter buffer, forward, backward (every parameter gradient and
// the gradient with respect to the inputs from the same pass).  Li et al.,
// "Fourier Neural Operator for Parametric Partial Differential Equations".
//
// A model is one or more FNO branches whose outputs are concatenated along
// channels and fused by a pointwise MLP; a single FNO is the 1-branch case
// (no fusion).  A branch is
//
//     [grid coordinates appended] → lifting MLP → L Fourier layers → projection MLP
//     Fourier layer l:  z = SpectralConv(x) + W x + b;  z = cond(z);  x = act(z)
//                       (no activation after the last layer)
//     cond(z) = z·(1 + scale) + shift   (FiLM)  or  z + shift  (bias)  or  z
//
// where (scale, shift) per layer, branch and batch item come from a shared
// scalar embedding: s ↦ emb(s) (sinusoidal or Gaussian Fourier features) →
// Linear → act_emb → h;  per layer: Linear(h) → shift (bias) or [scale | shift]
// (FiLM).  MLPs apply the activation between their linear layers, never after
// the last one.
//
// DATA LAYOUT: channels last, (B, H, W, C) row-major, for every input, output
// and gradient.  1-D fields use H = 1: (B, 1, W, C) ≡ (B, W, C).  Channels last
// makes every pointwise layer one GEMM over B·H·W rows, and each row of a
// field a (W, C) matrix that the truncated DFT along x multiplies directly.
//
// Spectral convolution: X = rfft(x) over the spatial axes (unnormalised),
// keep the modes k_y ∈ {0..m_y−1} ∪ {−m_y..−1} (2-D only) × k_x ∈ {0..m_x−1},
// Y_k = X_k · W_k (channels in × channels out, complex), zero the rest,
// y = irfft(Y) / (H·W).  Needs 2·m_y ≤ H and m_x ≤ W/2 + 1; the model is
// resolution-free: any grid meeting that can be used with the same weights.
// Grid coordinate channels are x_j = j·Lx/W (and y_i = i·Ly/H) in physical
// units, so a field sampled on a finer grid sees the same coordinates.
//
// Training: lib/adam.h (Adam on m->params / m->grads); checkpoints:
// lib/checkpoint.h (formats/checkpoint.md).
//
// Threads: OpenMP (omp_set_num_threads / cli_threads) governs everything:
// the batch, row-block and mode loops.  OpenBLAS is held to one thread inside
// the layers (two spinning thread pools on the same cores fight).  Work is
// split in fixed blocks, so the results are bitwise the same at any thread
// count.
#ifndef EDDY_FNO_H
#define EDDY_FNO_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define FNO_MAX_BRANCH 4
#define FNO_MAX_MLP 8          // hidden layers of one MLP
#define FNO_MAX_LAYERS 16      // Fourier layers of one branch
#define FNO_MAX_TENSORS 256

enum { FNO_GELU = 0, FNO_SILU = 1 };                       // activations (GELU: exact erf form)
enum { FNO_EMB_NONE = 0, FNO_EMB_SINUSOIDAL = 1, FNO_EMB_GAUSSIAN = 2 };
enum { FNO_COND_NONE = 0, FNO_COND_BIAS = 1, FNO_COND_FILM = 2 };

typedef struct {
    int in;                    // data channels given by the caller (grid channels come on top)
    int width;                 // channels of the Fourier layers
    int layers;                // number of Fourier layers (≥ 1)
    int modes[2];              // 2-D: {m_y, m_x}; 1-D: {m_x, unused}
    int nlift, lift[FNO_MAX_MLP];   // hidden widths of the lifting MLP (nlift = 0: one Linear in→width)
    int nproj, proj[FNO_MAX_MLP];   // hidden widths of the projection MLP
    int out;                   // output channels; 0 = no projection, the branch outputs `width`
    int grid;                  // 1: append the coordinate channels (y, x) (2-D) or (x) (1-D)
    int cond;                  // FNO_COND_*: how this branch uses the scalar embedding
} fno_branch_cfg;

typedef struct {
    int dims;                  // 1 or 2
    double length[2];          // physical domain length per axis {Ly, Lx} (2-D) or {Lx, -} (1-D)
    int act;                   // activation of lifting, Fourier layers, projection and fusion
    int nbranch;
    fno_branch_cfg branch[FNO_MAX_BRANCH];
    int nfuse, fuse[FNO_MAX_MLP];   // fusion MLP hidden widths (nbranch > 1 only)
    int out;                   // model output channels when nbranch > 1
    // scalar conditioning (the noise level t, or the scale λ), shared by branches
    int emb;                   // FNO_EMB_*
    int emb_size;              // number of features (even): sin half then cos half
    double emb_scale;          // GAUSSIAN: std of the frequencies W ~ N(0, scale²), features
                               //   sin(2π W s), cos(2π W s);  SINUSOIDAL: the max period P,
                               //   frequencies exp(−ln P · i/(E/2)), features sin(f s), cos(f s)
    int emb_hidden;            // width of the embedding MLP output h
    int emb_act;               // activation after the embedding Linear (FNO_SILU in the reference)
} fno_config;

// One named tensor of the model.  Real tensors are float32; complex ones are
// complex64 stored as interleaved (re, im) float pairs, their last shape entry
// counting complex numbers.  Trainable tensors live in params/grads at
// `offset`; frozen ones (the Gaussian Fourier frequencies) in a side buffer
// (grad == NULL).  formats/checkpoint.md describes every name and layout.
typedef struct {
    char name[64];             // e.g. "b0.layer2.spec.w", "fuse.1.b", "emb.freq"
    int rank;
    int shape[6];
    int is_complex;
    int trainable;
    size_t offset;             // trainable: index into params (floats)
    size_t count;              // floats (a complex number counts 2)
    float *data;               // points into params (trainable) or the frozen buffer
    float *grad;               // points into grads, NULL when frozen
} fno_tensor;

typedef struct fno_work fno_work;    // activations and scratch, private

typedef struct {
    fno_config cfg;
    size_t nparams;            // trainable floats
    float *params;             // (nparams) all trainable parameters, contiguous
    float *grads;              // (nparams) same layout; backward accumulates here
    int ntensors;
    fno_tensor tensors[FNO_MAX_TENSORS];
    float *frozen;             // non-trainable tensors
    size_t nfrozen;
    fno_work *work;
} fno;

// Fills cfg with a 2-D, 1-branch FNO: GELU, width 32, 4 layers, 12 modes,
// lifting Linear, projection width→128→1, grid channels on L = 2π, no conditioning.
void fno_config_default(fno_config *cfg);
// Checks a configuration (channels, modes, widths, embedding) and says what is wrong.
int fno_config_check(const fno_config *cfg, eddy_err *e);

// Allocates the model and initialises every parameter deterministically from
// seed (lib/rng.h keys): Linear W ~ U(±1/√fan_in), b ~ U(±1/√fan_in);
// spectral W: re, im ~ U(0, 1)/(c_in·c_out) (the original FNO); Gaussian
// Fourier frequencies ~ N(0, emb_scale²).  Grads are zero.
int fno_create(fno *m, const fno_config *cfg, uint64_t seed, eddy_err *e);
void fno_free(fno *m);
// The tensor of that name, or NULL.
fno_tensor *fno_find(fno *m, const char *name);
// Largest grid usable along each spatial axis is unbounded; the smallest is
// set by the modes: 2-D needs H ≥ 2 m_y and W ≥ 2 (m_x − 1); 1-D W ≥ 2 (m_x − 1).
int fno_grid_ok(const fno_config *cfg, int H, int W, eddy_err *e);

// Forward on a batch.  in[k] is branch k's input (B, H, W, cfg.branch[k].in);
// cond is (B) scalars (NULL when cfg.emb == NONE); out is (B, H, W, out_ch)
// with out_ch = fno_out_channels(cfg).  H = 1 for 1-D.  Saves what backward
// needs; the workspace grows to the largest (B, H, W) seen and is reused.
// The inputs in[k] are referenced, not copied: keep them unchanged until the
// matching fno_backward.
int fno_forward(fno *m, const float *const *in, const float *cond, int B, int H, int W,
                float *out, eddy_err *e);
int fno_out_channels(const fno_config *cfg);

enum { FNO_GRAD_PARAMS = 1, FNO_GRAD_INPUT = 2 };
// Backward through the last forward.  dout (B, H, W, out_ch) is dLoss/dout.
// With FNO_GRAD_PARAMS, accumulates (+=) every trainable parameter gradient
// into m->grads.  With FNO_GRAD_INPUT, writes (overwrites) dLoss/din[k] into
// din[k] (B, H, W, cfg.branch[k].in) for each k with din[k] != NULL.  The
// gradient with respect to the scalar cond is not computed.
int fno_backward(fno *m, const float *dout, float *const *din, int flags, eddy_err *e);

void fno_zero_grad(fno *m);
// Euclidean norm of m->grads (double accumulation).
double fno_grad_norm(const fno *m);
// Scales grads so their norm is at most max_norm; returns the norm before.
double fno_clip_grad(fno *m, double max_norm);

// Floating-point operations of one forward pass at (B, H, W) (GEMMs, mode
// mixing, and the transforms counted as an FFT would be, 2.5 N log2 N per real
// transform, whatever the method), for GFLOP/s reports comparable with FFT codes.
double fno_forward_flops(const fno_config *cfg, int B, int H, int W);

#endif
