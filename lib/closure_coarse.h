// The closure term a coarse model computes by itself (the closure flow of README.md, ns-gen): G or H
// evaluated from the coarse vorticity V on V's own grid, without noise and
// 2/3-dealiased as the coarse solver would.  For G (νΔω + βξ) it is all that
// V predicts once the fine field is Fourier-truncated, which makes it the
// baseline of V-only closures and the base a residual V-only model starts from.
#ifndef EDDY_CLOSURE_COARSE_H
#define EDDY_CLOSURE_COARSE_H

#include "err.h"

typedef enum { COARSE_G, COARSE_H } coarse_term_kind;   // νΔV or −u·∇V

// Parses "G" or "H"; -1 on anything else.
int coarse_term_parse(const char *name, coarse_term_kind *k);

// The term of each of the T frames of V (T, N, N) into out (T, N, N), on a
// periodic square of side L with viscosity nu.
int coarse_term(const float *V, int T, int N, double L, double nu, coarse_term_kind k, float *out,
                eddy_err *e);

#endif
