// The U-Net predictor of "Predictor-Driven Diffusion" (seed 001 §4.1 and
// appendix B.2), 1-D (Lorenz-96) and 2-D (Kolmogorov flow), in float32: model
// assembly, one contiguous parameter buffer, forward, backward (every
// parameter gradient and the input gradient from the same pass), and the
// parameters as named tensor records.
//
//     x = conv3(in) → base channels                               ("stem")
//     level i = 0..L (grid halved i times, channels c_i; c_0 = base):
//         i > 0: x = conv3 stride 2 (c_{i−1} → c_i)               ("down<i>")
//         nres residual blocks at c_i; skip_i = x                 ("enc<i>.<r>")
//     bottleneck: res, self-attention, res at c_L                 ("mid.res1", "mid.attn", "mid.res2")
//     level i = L..0:
//         x = concat(x, skip_i) (2·c_i channels: x first)
//         nres residual blocks, the first 2·c_i → c_i              ("dec<i>.<r>")
//         i > 0: x = transposed conv3 stride 2 (c_i → c_{i−1})   ("up<i>")
//     out = conv3(swish(GN(x))) → out channels                    ("out.gn", "out.conv")
//
//     residual block (cin → cout), Ho et al. (DDPM) with FiLM for λ:
//         h = conv3(swish(GN1(x)));  h = GN2(h)·(1 + scale) + shift;
//         h = conv3(swish(h));  y = shortcut(x) + h,
//         shortcut = x (cin = cout) or a 1×1 linear; (scale, shift) = Linear(e)
//     attention block: y = x + Linear(attn(Linear_qkv(GN(x))))   (lib/unet_layers.h)
//     embedding: e = swish(Linear(emb(s))), emb the sinusoidal features of
//         lib/nn.h nn_embed (the FNO's, lib/fno.h), s the caller's scalar (the
//         PDD predictor passes 1000·λ, as it does to the FNO).
//
// Convolutions are periodic (lib/conv.h): both domains are periodic.  Swish
// (SiLU) is the only activation.  B.2 fixes the stem width (32), the channels
// per halving (L96: 64, 128, 128, 192 over four halvings to 1/16; KF: 64, 128,
// 192 over three to 1/8), attention at the bottleneck, Swish and FiLM.  Where
// it is silent this model takes the common defaults of the DDPM U-Net (Ho et
// al.): nres = 2 residual blocks per level on both sides, GroupNorm with 8
// groups (DDPM's 32 would leave one channel per group at width 32; 8 divides
// every width), 4 attention heads (head width 48 at 192 channels), embedding
// of 32 sinusoidal features (period 1000) into 128, no dropout.
//
// DATA LAYOUT: channels last, (B, H, W, C) row-major, as lib/fno.h; 1-D uses
// H = 1.  Input channels: the current and 4 previous frames stacked on
// channels (5·C, frame-major: whatever order the caller stacks, the network
// just sees in = 5·C channels); output: the increment (C channels).  The grid
// must be divisible by 2^L along every spatial axis (clear error otherwise).
//
// PARAMETER BUFFER: params (nparams floats) holds every trainable tensor
// back to back, in the order of m->tensors (creation order: emb, stem, enc,
// down, mid, dec, up, out), each at tensors[k].offset; grads and the Adam
// moments share the layout.  Tensor shapes (channels last):
//     conv weight (cout, 3, 3, cin) 2-D, (cout, 3, cin) 1-D;  bias (cout)
//     transposed conv weight (3, 3, cout, cin) / (3, cout, cin);  bias (cout)
//     linear weight (cout, cin), bias (cout);  GroupNorm gamma, beta (C)
// Names: "emb.lin.w|b", "stem.w|b", "enc<i>.<r>.{gn1,gn2}.g|b",
// "enc<i>.<r>.{conv1,conv2}.w|b", "enc<i>.<r>.film.w|b" (2·cout, hidden):
// scale rows first, then shift), "enc<i>.<r>.skip.w|b" (only when cin ≠ cout),
// "down<i>.w|b", "mid.res1.*", "mid.attn.gn.g|b", "mid.attn.qkv.w|b" (3C, C),
// "mid.attn.proj.w|b" (C, C), "mid.res2.*", "dec<i>.<r>.*", "up<i>.w|b",
// "out.gn.g|b", "out.conv.w|b".
//
// Threads: OpenMP as lib/fno.h (OpenBLAS held to one thread inside layers).
#ifndef EDDY_UNET_H
#define EDDY_UNET_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "tsr.h"

#define UNET_MAX_LEVELS 6
#define UNET_MAX_RES 4
#define UNET_MAX_TENSORS 512

enum { UNET_PRESET_L96 = 0, UNET_PRESET_KF = 1 };

typedef struct {
    int dims;                        // 1 or 2
    int in, out;                     // input channels (5·C), output channels (C)
    int base;                        // channels after the stem (32)
    int levels;                      // number of halvings L
    int ch[UNET_MAX_LEVELS];         // channels after halving i+1 (c_1..c_L)
    int nres;                        // residual blocks per level and side
    int groups;                      // GroupNorm groups
    int heads;                       // attention heads at the bottleneck
    int emb_size;                    // sinusoidal features (even)
    double emb_period;               // their max period
    int emb_hidden;                  // width of the embedding (FiLM input)
} unet_config;

typedef struct {
    char name[64];
    int rank;
    int shape[6];
    size_t offset;                   // index into params (floats)
    size_t count;
    float *data;                     // params + offset
    float *grad;                     // grads + offset
} unet_tensor;

typedef struct unet_work unet_work;

typedef struct {
    unet_config cfg;
    size_t nparams;
    float *params;                   // (nparams) all trainable parameters, contiguous
    float *grads;                    // (nparams) same layout; backward accumulates here
    int ntensors;
    unet_tensor tensors[UNET_MAX_TENSORS];
    unet_work *work;
} unet;

// The seed's configurations (B.2): UNET_PRESET_L96 (1-D, in 10, out 2,
// 32 → 64, 128, 128, 192) and UNET_PRESET_KF (2-D, in 5, out 1, 32 → 64, 128,
// 192), with the defaults above.
int unet_config_preset(unet_config *c, int preset, eddy_err *e);
int unet_config_check(const unet_config *c, eddy_err *e);
// The grid (H, W) (H = 1 in 1-D) must be divisible by 2^levels per axis.
int unet_grid_ok(const unet_config *c, int H, int W, eddy_err *e);

// Allocates and initialises deterministically from seed (lib/rng.h):
// conv / linear W, b ~ U(±1/√fan_in) (torch's default), GroupNorm gamma 1,
// beta 0.  Grads zero.
int unet_create(unet *m, const unet_config *c, uint64_t seed, eddy_err *e);
void unet_free(unet *m);
unet_tensor *unet_find(unet *m, const char *name);

// Forward on a batch: in (B, H, W, cfg.in), cond (B) scalars, out (B, H, W,
// cfg.out).  Saves what backward needs; in is referenced, not copied (keep it
// unchanged until the matching unet_backward).
int unet_forward(unet *m, int B, int H, int W, const float *in, const float *cond, float *out,
                 eddy_err *e);
enum { UNET_GRAD_PARAMS = 1, UNET_GRAD_INPUT = 2 };
// Backward through the last forward: dout (B, H, W, cfg.out).  PARAMS: +=
// into m->grads.  INPUT: din (B, H, W, cfg.in) overwritten with dLoss/din.
int unet_backward(unet *m, const float *dout, float *din, int flags, eddy_err *e);
void unet_zero_grad(unet *m);
// Floating-point operations of one forward at (B, H, W): GEMMs and attention.
double unet_forward_flops(const unet_config *c, int B, int H, int W);

// ---- parameters as records: a header record "unet" (i4 [version]) whose
// attributes carry the architecture (unet.dims, unet.in, unet.out, unet.base,
// unet.channels "c1,c2,...", unet.nres, unet.groups, unet.heads,
// unet.emb_size, unet.emb_period, unet.emb_hidden, unet.nparams) plus the
// attributes of extra (may be NULL; keys "unet.*" reserved), then one f4
// record per tensor, named and shaped as above.  unet_write writes the
// records only (the caller owns the writer); unet_read reads records up to the
// end of the stream, creating *m.  extra (may be NULL) receives the header.
int unet_write(tsr_writer *w, const unet *m, const tsr_record *extra, eddy_err *e);
int unet_read(tsr_reader *r, unet *m, tsr_record *extra, eddy_err *e);
// Whether a header record is a U-Net's (name "unet").
int unet_is_header(const tsr_record *r);
// Creates *m from an already read header record (for a caller that reads the
// stream itself); then unet_read_tensor for each following record.
int unet_from_header(const tsr_record *h, unet *m, eddy_err *e);
int unet_read_tensor(unet *m, const tsr_record *r, eddy_err *e);
int unet_save(const char *path, const unet *m, const tsr_record *extra, eddy_err *e);
int unet_load(const char *path, unet *m, tsr_record *extra, eddy_err *e);

#endif
