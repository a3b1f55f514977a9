// The conditional score model of the stochastic closure (Dong, Chen & Wu,
// "Data-driven stochastic closure modeling via conditional diffusion model and
// neural operator"): an FNO
// with one branch per input — the noisy term U_t (with the noise-level
// embedding added after each of its layers), the coarse vorticity V and,
// optionally, the filled sparse observations Y — fused by a pointwise MLP to
// one channel; the score is that output divided by σ_t.  This file builds
// the lib/fno.h configuration, reads condition streams, takes one training
// step of the VE-SDE loss, and exposes the score as a vesde_score_fn.
//
// Condition records ("closure", written by closure-cond): f4 of shape
// (T, H, W, 3) with channels U, V, Y (attribute channels=U,V,Y), one
// record per trajectory; each frame is one condition.
#ifndef EDDY_CLOSURE_SCORE_H
#define EDDY_CLOSURE_SCORE_H

#include <stddef.h>
#include <stdint.h>

#include "adam.h"
#include "closure_obs.h"
#include "err.h"
#include "fno.h"
#include "rng.h"
#include "train.h"
#include "tsr.h"
#include "vesde.h"

#define CS_KIND "closure-score"

typedef struct {
    int with_obs;             // 1: branches U_t, V, Y; 0: U_t, V
    int width, layers, modes; // per branch: 20, 4, 8
    int emb_size;             // Gaussian Fourier features: 256
    double emb_scale;         // 30
    int emb_hidden;           // 256
    int nfuse, fuse[FNO_MAX_MLP];  // fusion hidden widths: 40, 20, 20, 128
    double L;                 // domain length (2π)
} cs_arch;

void cs_arch_default(cs_arch *a);
int cs_config(const cs_arch *a, fno_config *cfg, eddy_err *e);

// ---- condition data, all frames in memory
typedef struct {
    long n;                   // frames
    int H, W;
    float *U, *V, *Y;         // (n, H, W) each
    tsr_record meta;          // attributes of the first record (no data)
    train_first first;        // the first record, every later one is compared with
} cs_data;

// Appends every "closure" record of r to d (other records are skipped).
// Fails on a wrong shape, a non-finite value, or a record of another kind
// than the first one read, from this input or an earlier one: another grid,
// or another term, L, grid, channels, obs_n or obs_fill attribute (G and H
// mixed), naming both records.
int cs_data_read(cs_data *d, tsr_reader *r, const char *label, eddy_err *e);
void cs_data_free(cs_data *d);
// Splits one "closure" record into its frames' U, V, Y (each (T, H, W)).
int cs_record_split(const tsr_record *rec, float *U, float *V, float *Y, eddy_err *e);
int cs_record_check(const tsr_record *rec, eddy_err *e);

// The observations of a condition record: obs_n × obs_n points, filled back
// to the grid (lib/closure_obs.h), box width (0: automatic).
typedef struct {
    int obs_n;
    obs_fill_kind fill;
    int box;
} cs_obs;

// Writes the condition record (the one cs_record_check reads) into o,
// "closure" (T, N, N, 3) with channels U, V, Y, from the vorticity V and the
// term U (f4 frames (T, N, N) or one (N, N) field of the same sample and
// grid): Y is U observed and filled back by ob, or, when yc is not NULL,
// yc's frames (the coarse term; obs_n = 0, obs_fill = coarse).  V's
// attributes are kept (units dropped); field, term, channels, dims, obs_n,
// obs_fill, obs_box and grid are set.  History is the caller's.
int cs_record_make(tsr_record *o, const tsr_record *V, const tsr_record *U, const char *term,
                   const cs_obs *ob, const tsr_record *yc, eddy_err *e);

// ---- the score, as a vesde_score_fn
typedef struct {
    fno *m;
    double sigma0;
    int H, W;
    double sigma_data;        // > 0: the net sees x_t / sqrt(σ_t² + sigma_data²)
    const float *V, *Y;       // (B, H, W) conditions of the batch being sampled
    float *out;               // scratch (B, H, W) of the scaled input; grown by cs_score
    size_t cap;               // floats of out (lib/scratch.h)
} cs_ctx;

// The input scale of the noisy term (EDM's c_in): 1/sqrt(σ² + sigma_data²),
// or 1 when sigma_data is 0 (the reference feeds x_t unscaled).  Without it
// the net must learn out ≈ −x_t/σ_t over σ_t from 0.03 to 10 through an
// additive embedding; with it that is nearly the identity at every level.
double cs_c_in(double sigma_data, double sigma);

int cs_score(void *ctx, const float *x, int B, double t, float *out, eddy_err *e);
void cs_ctx_free(cs_ctx *c);

// ---- training
typedef struct {
    double sigma0, t_min, t_max;
    // With probability focus_frac, t ~ U(t_min, t_focus) instead (t_focus > 0):
    // the accelerated sampler only visits t <= 0.1, the baseline up to 1.
    double t_focus, focus_frac;
    double sigma_data;        // input scaling, as in cs_ctx
    int reduce_mean;          // 0: sum over grid points (reference), 1: mean
} cs_train_opts;

// The training noise level: t ~ U(t_min, t_max), or with probability
// focus_frac (when t_focus > 0) t ~ U(t_min, t_focus).
double cs_draw_t(const cs_train_opts *o, eddy_rng *r);

// The VE-SDE denoising objective (a lib/train.h train_objective_fn): for
// batch positions [b0, b0+nb), t per item (cs_draw_t) and the noise keyed by
// (seed, step, position, purpose), the loss Σ_b ||σ_t s_θ + z||² / B (summed
// over grid points, or their mean with reduce_mean) and its gradient added
// to m->grads.  Scratch grows as needed.
typedef struct {
    float *xt, *z, *V, *Y, *out, *dout, *cond;
    size_t cap[7];            // elements of each buffer, in that order (lib/scratch.h)
} cs_batch;

typedef struct {
    fno *m;
    const cs_data *d;         // frames in the net's units (cs_units_apply)
    cs_train_opts opts;
    cs_batch bt;              // scratch
} cs_objective;

int cs_objective_grad(void *ctx, const train_batch *b, double *loss, eddy_err *e);
void cs_objective_free(cs_objective *ob);

// The model's settings, stored in its header as closure.* attributes.
// The network works in scaled units, U·u_scale and V·v_scale (Y like U):
// fno-train's default is the reference's units (L⁴ for the terms, L² for
// the vorticity, i.e. the unit square), where σ₀ = 26 and T = 0.1 were tuned.
typedef struct {
    double sigma0;
    int with_obs;
    double u_scale, v_scale;  // 0 in cs_header_make: L⁴ and L²
    double sigma_data;        // closure.sigma_data, 0 when absent
    int residual;             // closure.residual: the model samples U − Y; add Y back
    double t_min, t_max;      // training times (closure.t_min, t_max)
    double t_focus, focus_frac;   // closure.t_focus (0: off), closure.focus_frac
    int reduce_mean;          // closure.reduce: 0 sum, 1 mean
    // of the training data (cs_header_check; pointers into the header, NULL when absent)
    const char *term;         // the term sampled (G, H)
    long obs_n;               // observations per axis (5 when absent)
    const char *obs_fill;     // their fill (obs_fill; "coarse": Y is the coarse term)
} cs_info;

// A new model's header: the data's attributes (meta; history, channels and
// dims dropped), kind, and every closure.* setting of info (u_scale and
// v_scale of 0 are set to L⁴ and L² first), the training grid and seed.
int cs_header_make(tsr_record *hdr, const tsr_record *meta, cs_info *info, double L, int H,
                   int W, long seed, eddy_err *e);
// --precond: info->sigma_data = the rms of the net-units training term U
// (n values; its mean is 0 up to sampling), also stored in hdr.
int cs_fit_sigma_data(cs_info *info, tsr_record *hdr, const float *U, size_t n, eddy_err *e);
// Physical units → the net's, in place (any of U, V, Y may be NULL): U and Y
// times u_scale, V times v_scale; for a residual model U becomes U − Y.
void cs_units_to_net(const cs_info *info, float *U, float *V, float *Y, size_t n);
// The opposite for a sample x drawn in net units given the net-units Y (Y
// NULL: x is not a residual sample, e.g. Y itself back to physical units).
void cs_units_from_net(const cs_info *info, float *x, const float *Y, size_t n);
// K samples of U for each of nt condition frames V, Y (H, W each; net units,
// as cs_units_to_net leaves them) of condition indices cbase..cbase+nt-1:
// dst (nt·K, H, W) frame-major (member k of frame f at f·K + k), in physical
// units; batch samples integrated together; the noise of member k of
// condition c is keyed (seed, c, k) by vesde_sample.  progress (may be NULL)
// is told the samples done after every batch.  A non-finite sample is an error.
int cs_sample_frames(fno *m, const cs_info *info, const vesde_sample_opts *so, int H, int W,
                     int nt, const float *V, const float *Y, int K, int batch, long cbase,
                     float *dst, void (*progress)(void *ctx, int done), void *progress_ctx,
                     eddy_err *e);
// The training objective's options from a model's settings.
cs_train_opts cs_train_opts_of(const cs_info *info);

// Checks that a checkpoint header describes a closure score model.
int cs_header_check(const tsr_record *hdr, const fno *m, cs_info *info, eddy_err *e);
// Loads a closure score checkpoint (no optimizer state) and checks its kind;
// hdr receives every header attribute.  Messages start with the path.
int cs_model_load(const char *path, fno *m, tsr_record *hdr, cs_info *info, eddy_err *e);
// Multiplies n values by s (in place).
void cs_scale(float *x, size_t n, double s);

#endif
