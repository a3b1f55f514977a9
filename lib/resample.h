// Resampling a 2-D periodic field from an (ny, nx) grid to an (my, mx) grid,
// both uniform on the same periodic domain with their point 0 at the origin:
//
// - Fourier: evaluates the field's trigonometric interpolant, truncated to the
//   output's band, at the output points.  Each axis keeps |n| ≤ m/2; an even
//   grid's Nyquist coefficient counts half at +n/2 and half at −n/2, and the
//   output's own ±m/2 pair folds onto its Nyquist mode, so a band-limited
//   field comes out exactly sampled, and m = n is the identity.
// - stride: picks every (n/m)-th point; n must be a multiple of m.
// - bicubic: the periodic cubic-convolution (Keys) interpolant evaluated at
//   the output points.  a = −0.5 (Catmull–Rom) is third-order accurate and
//   reproduces quadratics; PyTorch's F.interpolate uses a = −0.75.
//
// Arrays are row-major, (ny, nx) in and (my, mx) out, index [y][x].
#ifndef EDDY_RESAMPLE_H
#define EDDY_RESAMPLE_H

#include <stddef.h>

#include "err.h"

#define RESAMPLE_CUBIC_A (-0.5)

typedef enum { RESAMPLE_FOURIER, RESAMPLE_STRIDE, RESAMPLE_BICUBIC } resample_method;

// "fourier", "stride", "bicubic" → method; 0 ok, -1 unknown (message lists the names).
int resample_method_parse(const char *name, resample_method *m, eddy_err *e);
const char *resample_method_name(resample_method m);

// Whether method can take (ny, nx) to (my, mx): sizes ≥ 1, and divisibility
// for stride.
int resample_check(resample_method m, int ny, int nx, int my, int mx, eddy_err *e);

int resample_fourier(const double *in, int ny, int nx, double *out, int my, int mx, eddy_err *e);
int resample_stride(const double *in, int ny, int nx, double *out, int my, int mx, eddy_err *e);
int resample_bicubic(const double *in, int ny, int nx, double *out, int my, int mx, double a, eddy_err *e);
// Dispatch (bicubic with RESAMPLE_CUBIC_A).
int resample_2d(resample_method m, const double *in, int ny, int nx, double *out, int my, int mx, eddy_err *e);

// The periodic bicubic interpolant of in (ny, nx) at np points given in
// fractional grid-index units (y in [0, ny) wraps, likewise x): out[p] at
// (ys[p], xs[p]).  ys, xs, out: (np).
void resample_bicubic_points(const double *in, int ny, int nx, const double *ys, const double *xs, size_t np,
                             double a, double *out);

#endif
