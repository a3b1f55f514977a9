// Error metrics of a prediction against the truth (the relative L2 and spectral
// error of Yasuda & Bischoff, "Predictor-Driven Diffusion for Spatiotemporal
// Generation", B.5; the D_Fro of Dong, Chen & Wu, "Data-driven stochastic
// closure modeling via conditional diffusion model and neural operator") and of
// an ensemble against the truth.  Plain arrays in, numbers out; which axes make
// a frame, a sample or a channel is the caller's business (relerr).
#ifndef EDDY_METRICS_H
#define EDDY_METRICS_H

#include <stddef.h>

#include "err.h"

// Sums for relative errors, so that frames, channels or samples can be
// pooled before the ratio is taken.
typedef struct {
    double diff2, ref2;        // Σ (u − v)², Σ u²
    double diffmax, refmax;    // max |u − v|, max |u|
} met_acc;

void met_acc_add(met_acc *a, const double *u /* (n) truth */, const double *v /* (n) */, size_t n);
// ‖u − v‖₂ / ‖u‖₂ and max|u − v| / max|u| of the accumulated data; NaN when
// the truth is identically zero (the ratio is undefined).
double met_acc_rel_l2(const met_acc *a);
double met_acc_rel_max(const met_acc *a);

double met_rel_l2(const double *u /* (n) */, const double *v /* (n) */, size_t n);
double met_rel_max(const double *u /* (n) */, const double *v /* (n) */, size_t n);

// Σ|P − Q| / Σ|P|, the relative L1 distance of two spectra (seed 001 eq. 64).
double met_spec_err(const double *P /* (n) truth */, const double *Q /* (n) */, size_t n);

// Ensemble of K members, member k at ens + k·n.
void met_ens_mean(const double *ens /* (K, n) */, int K, size_t n, double *mean /* (n) */);
// Σ over points of the unbiased ensemble variance (K ≥ 2; 0 for K = 1): its
// square root over ‖truth‖ is the relative spread, to set beside the
// relative error of the ensemble mean (equal for a calibrated ensemble, up to
// a factor sqrt((K+1)/K)).
double met_ens_var_sum(const double *ens /* (K, n) */, int K, size_t n, const double *mean /* (n) */);
// Σ over points of the CRPS of the ensemble's empirical distribution,
//   CRPS(x) = (1/K) Σ_k |x_k − y| − 1/(2K²) Σ_{j,k} |x_j − x_k|,
// in the units of the field.  work holds K doubles.
double met_crps_sum(const double *ens /* (K, n) */, int K, const double *y /* (n) */, size_t n,
                    double *work /* (K) */);

// Mean and second central moment of a growing set of values, merged batch by
// batch (Chan, Golub & LeVeque's pairwise update), so a channel's mean and
// standard deviation over a whole training set come out in one pass without
// the cancellation of Σu² − n·mean².
typedef struct {
    double n, mean, m2;        // count, mean, Σ (u − mean)²
} met_moments;

void met_moments_add(met_moments *m, const double *u /* (n) */, size_t n);
// Population standard deviation sqrt(m2 / n); NaN when empty.
double met_moments_std(const met_moments *m);

// x = (x − mean)/sd, the standardisation of Yasuda & Bischoff B.5 with shared
// per-channel constants.
void met_standardize(double *x /* (n) */, size_t n, double mean, double sd);

// Bootstrap resampling over n units: counts[i] is how often unit i is drawn
// in n draws with replacement, from the stream (seed, replicate) alone, so
// replicate b is the same whatever else is computed.
void met_bootstrap_counts(unsigned long long seed, unsigned long long replicate, size_t n,
                          double *counts /* (n) */);
// The p-quantile (0 ≤ p ≤ 1) of x by linear interpolation between order
// statistics, NumPy's default: x sorted in place.
double met_quantile(double *x /* (n) */, size_t n, double p);
// out = Σ_i w[i] · X[i, :], rows with w[i] = 0 skipped.
void met_weighted_rows(const double *X /* (n, m) */, const double *w /* (n) */, size_t n, size_t m,
                       double *out /* (m) */);

// The sums behind relerr's mean rows, per unit (one truth path with its K
// predicted paths), laid out in slots so that a bootstrap replicate is a
// weighted sum of units: per frame t the relative L2 (pooled over channels,
// and per channel when C > 1) and their frame means, the whole-path D_Fro and
// relative max, the squared error, and for K > 1 the ensemble-mean error and
// spread per frame, their means and the CRPS sum.
typedef struct {
    size_t T, C, D, K;
    size_t relt, relm, relct, relcm, dfro, rmax, se, ens, spread, ensm, spreadm, crps;
    size_t nslots;
} met_slots;

void met_slots_init(met_slots *s, size_t T, size_t C, size_t D, size_t K);
// Scratch doubles met_unit_sums needs.
size_t met_unit_scratch(const met_slots *s);
// S (nslots) += the sums of one unit: truth u (T, C, D), members v (K, T, C, D).
// dfro[k], rmax[k] get member k's whole-path D_Fro and relative max.  Fails,
// naming the frame (and channel), when a truth frame is identically zero.
int met_unit_sums(const met_slots *s, const double *u, const double *v, double *S, double *dfro /* (K) */,
                  double *rmax /* (K) */, double *scratch /* (met_unit_scratch) */, eddy_err *e);

// The units summed by met_unit_sums, ready to report: S (n, nslots) their
// sums; P and Q their spectra of truth and prediction, (n, C, nspec) per
// unit when per_unit, else (C, nspec) sums over all units (then no
// bootstrap); Q sums the K members of a unit.
typedef struct {
    size_t n, nslots, C, nspec, K;
    const double *S, *P, *Q;
    int per_unit;
} met_units;

// est (nrows + C): est[r] = Σ_u S[u][slot[r]] / (n · denom[r]) for r < nrows,
// then the spectral error of each channel between the averaged spectra.
// With nboot > 0, lo and hi (nrows + C) get the 2.5 and 97.5 % quantiles of
// nboot bootstrap replicates over the units (replicate b drawn from (seed, b)
// alone, met_bootstrap_counts), each the same values with the units weighted
// by their counts.
int met_units_estimate(const met_units *U, const size_t *slot /* (nrows) */, const double *denom /* (nrows) */,
                       size_t nrows, long nboot, unsigned long long seed, double *est, double *lo, double *hi,
                       eddy_err *e);

#endif
