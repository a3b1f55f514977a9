// Power spectra of periodic fields (the spectral error of Yasuda & Bischoff, "Predictor-Driven
// Diffusion for Spatiotemporal Generation", B.5): the one-sided power of a real
// array over all its axes, the radially binned 2-D energy spectrum, and the
// spatial and space–time PSDs built from it.
//
// Normalisation, everywhere: û = FFT/n_total (n_total the number of points),
// P(n) = |û(n)|², folded onto the half spectrum of the last axis (each mode
// and its mirror −n added), so that Σ P = mean(u²) (Parseval) and the mean
// mode P(0) = mean(u)² is kept.  The energy spectrum is
// E(k) = ½ Σ_{round(|n|) = k} |û(n)|², so Σ_k E(k) = ½ mean(u²).
//
// Every function ADDS into its output, so averaging over fields or records is
// a sum followed by one division by the caller.
#ifndef EDDY_SPECTRUM_H
#define EDDY_SPECTRUM_H

#include <stddef.h>

#include "err.h"
#include "layout.h"

// Size of the folded half spectrum of an array of shape n[0..rank):
// n[0]·…·n[rank−2]·(n[rank−1]/2 + 1).
size_t spec_half_size(int rank, const int *n);

// P += folded |FFT(u)/N|² over every axis.  rank 1..3.
int spec_power_acc(const double *u /* (n[0], ..., n[rank-1]) */, int rank, const int *n,
                   double *P /* (spec_half_size) */, eddy_err *e);

// Number of shells of a (ny, nx) grid: round(|n|) for n up to the corner
// (ny/2, nx/2), plus one.
int spec_nshells(int ny, int nx);

// E += radially binned energy spectrum of one (ny, nx) field.
int spec_energy2d_acc(const double *u /* (ny, nx) */, int ny, int nx,
                      double *E /* (spec_nshells) */, eddy_err *e);

// Bins an already computed folded 2-D power spectrum into shells:
// E(k) += ½ Σ_{round(|n|)=k} P(n).
void spec_shell_bin(const double *P /* (ny, nx/2+1) */, int ny, int nx, double *E /* (spec_nshells) */);

// |n| index arrays for labelling output: the signed integer wavenumber of
// row i of an FFT axis of length N.
static inline int spec_signed_index(int i, int N) { return i <= N / 2 ? i : i - N; }

// Spectra of the fields of records, averaged: the spectrum tool's engine.
// Axes from a layout (lib/layout.h); each field (or, for SPEC_SPACETIME, each
// path with its t axis) adds its folded power, and the result divides by the
// number of spectra added.
typedef enum { SPEC_AUTO, SPEC_ENERGY, SPEC_PSD, SPEC_SPACETIME } spec_mode;

typedef struct {
    spec_mode mode;  // never SPEC_AUTO once started
    layout l;
    int rank, n[3];
    size_t M;        // folded power size per channel
    size_t nout;     // output values per channel
    double *P;       // (C, M) power sums
    double *buf;     // (T, D) one gathered field or path
    double count;    // spectra summed per channel
} spec_acc;

// (Re)starts the sums for records of layout l; SPEC_AUTO picks energy for
// 2-D fields, psd for 1-D.  Fails when the mode does not fit the axes.
int spec_acc_start(spec_acc *a, const layout *l, spec_mode mode, eddy_err *e);
// Adds every field (or path) of rec, which has the layout a was started with.
int spec_acc_add(spec_acc *a, const tsr_record *rec, eddy_err *e);
// The average so far per channel, (C, nout), allocated; NULL when out of memory.
double *spec_acc_result(const spec_acc *a);
void spec_acc_free(spec_acc *a);

#endif
