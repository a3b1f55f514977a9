// Sparse observations of a closure term (Dong, Chen & Wu, "Data-driven
// stochastic closure modeling via conditional diffusion model and neural
// operator"; README.md, closure-cond): the true U at
// a uniform n×n grid of points (seed: n = 5; reference code: n = 16), turned
// into a full-grid conditioning field for the score network.
//
// Points sit at the physical positions (i L/n, j L/n) at every resolution,
// so a model sees the same observations on 64², 128² and 256².  When n
// divides the grid the values are read off exactly; otherwise they are
// interpolated from the grid by periodic bicubic.
//
// Two fills (the bicubic one is lib/resample.h's):
//   bicubic  periodic bicubic interpolation (Keys, a = −1/2) of the n×n
//            values to the M×M grid points (default).  The reference uses
//            torch's non-periodic bicubic plus replicate padding; on a
//            periodic domain the periodic form has no seam.
//   box      the values placed at their nearest grid points, then a masked
//            average over a periodic w×w box (w = 2⌊M/n⌋ − 1: 7 at 64² with
//            n = 16, the reference's kernel).  The reference instead zero-pads
//            a plain box sum and rescales by min–max; the masked average
//            keeps the observed values' scale without that step.
#ifndef EDDY_CLOSURE_OBS_H
#define EDDY_CLOSURE_OBS_H

#include "err.h"

typedef enum { OBS_FILL_BICUBIC, OBS_FILL_BOX } obs_fill_kind;

int obs_fill_parse(const char *name, obs_fill_kind *k);
const char *obs_fill_name(obs_fill_kind k);

// The values of the periodic field u at the n×n observation points.
int obs_sample(const float *u, int N, int n, float *obs, eddy_err *e);  // u (N, N); obs (n, n)

// The box width used when box <= 0 is passed to obs_fill.
int obs_box_width(int n, int M);

// Fills the n×n observations to the M×M grid (n <= M).
int obs_fill(const float *obs, int n, int M, obs_fill_kind kind, int box, float *out,
             eddy_err *e);                                              // obs (n, n); out (M, M)

#endif
