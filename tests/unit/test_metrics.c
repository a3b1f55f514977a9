// Metrics on hand-computed cases and the CRPS of known distributions.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "metrics.h"

static void test_hand_cases(void)
{
    double u[2] = { 3, 4 }, v[2] = { 3, 0 };
    CHECK_CLOSE(met_rel_l2(u, v, 2), 0.8, 1e-15, "rel L2 = 4/5");
    CHECK_CLOSE(met_rel_max(u, v, 2), 1.0, 1e-15, "rel max = 4/4");
    double w[2] = { 3.3, 4.4 };
    CHECK_CLOSE(met_rel_l2(u, w, 2), 0.1, 1e-14, "1.1 x gives 0.1");
    CHECK_CLOSE(met_rel_l2(u, u, 2), 0.0, 0, "x vs x");
    double z[2] = { 0, 0 };
    CHECK(isnan(met_rel_l2(z, u, 2)), "zero truth is undefined");
    met_acc a = { 0 };
    met_acc_add(&a, u, v, 1);        // frame 1: no error, |u| = 3
    met_acc_add(&a, u + 1, v + 1, 1); // frame 2: error 4, |u| = 4
    CHECK_CLOSE(met_acc_rel_l2(&a), 0.8, 1e-15, "pooled");
    double P[3] = { 1, 2, 1 }, Q[3] = { 1, 1, 2 };
    CHECK_CLOSE(met_spec_err(P, Q, 3), 0.5, 1e-15, "spectral error 2/4");
    double ens[4] = { 1, 10, 3, 14 }, m[2];   // members (1,10) and (3,14)
    met_ens_mean(ens, 2, 2, m);
    CHECK(m[0] == 2 && m[1] == 12, "ensemble mean");
    CHECK_CLOSE(met_ens_var_sum(ens, 2, 2, m), 2 + 8, 1e-14, "unbiased variance sum");
}

static void test_crps_small(void)
{
    double work[4];
    double ens[2] = { 0, 2 }, y = 0;
    // (|0| + |2|)/2 − (|0−2| + |2−0|)/(2·4) = 1 − 0.5
    CHECK_CLOSE(met_crps_sum(ens, 2, &y, 1, work), 0.5, 1e-15, "two members");
    double one = 1.5;
    CHECK_CLOSE(met_crps_sum(&one, 1, &y, 1, work), 1.5, 1e-15, "one member is MAE");
    double e3[3] = { 2, -1, 0.5 }, y3 = 0.2;
    // direct double sum
    double mae = (1.8 + 1.2 + 0.3) / 3, pair = 0;
    for (int j = 0; j < 3; j++)
        for (int k = 0; k < 3; k++) pair += fabs(e3[j] - e3[k]);
    CHECK_CLOSE(met_crps_sum(e3, 3, &y3, 1, work), mae - pair / 18, 1e-15, "three members, direct sum");
}

static double Phi(double x) { return 0.5 * erfc(-x / sqrt(2)); }
static double Phi_inv(double p)
{
    double lo = -40, hi = 40;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        if (Phi(mid) < p) lo = mid; else hi = mid;
    }
    return 0.5 * (lo + hi);
}

// An ensemble at the quantiles (k + ½)/K of N(μ, σ²) has the CRPS of the
// normal distribution, σ[z(2Φ(z) − 1) + 2φ(z) − 1/√π], up to O(1/K).
static void test_crps_normal(void)
{
    int K = 4000;
    double mu = 0.5, sg = 2.0;
    double *ens = malloc(K * sizeof *ens), *work = malloc(K * sizeof *work);
    for (int k = 0; k < K; k++) ens[k] = mu + sg * Phi_inv((k + 0.5) / K);
    double ys[3] = { 0.5, 2.5, -3.0 };
    for (int i = 0; i < 3; i++) {
        double z = (ys[i] - mu) / sg;
        double want = sg * (z * (2 * Phi(z) - 1) + 2 * exp(-z * z / 2) / sqrt(2 * M_PI) - 1 / sqrt(M_PI));
        double got = met_crps_sum(ens, K, &ys[i], 1, work);
        CHECK_CLOSE(got, want, 2e-3, "CRPS of a normal");
    }
    free(ens); free(work);
}

// Moments merged batch by batch equal the two-pass values, with a large
// offset that would ruin Σu² − n·mean².
static void test_moments(void)
{
    double u[7] = { 1e8 + 1, 1e8 + 2, 1e8 + 4, 1e8 + 8, 1e8 + 16, 1e8 + 32, 1e8 + 64 };
    met_moments m = { 0 };
    met_moments_add(&m, u, 3);
    met_moments_add(&m, u + 3, 0);
    met_moments_add(&m, u + 3, 4);
    double mean = 0, v = 0;
    for (int i = 0; i < 7; i++) mean += (u[i] - 1e8) / 7;
    for (int i = 0; i < 7; i++) v += (u[i] - 1e8 - mean) * (u[i] - 1e8 - mean) / 7;
    CHECK_CLOSE(m.mean - 1e8, mean, 1e-7, "merged mean");
    CHECK_CLOSE(met_moments_std(&m), sqrt(v), 1e-7, "merged population std");
    met_moments z = { 0 };
    CHECK(isnan(met_moments_std(&z)), "empty std is NaN");
}

static void test_bootstrap_tools(void)
{
    double c1[50], c2[50], c3[50];
    met_bootstrap_counts(7, 3, 50, c1);
    met_bootstrap_counts(7, 3, 50, c2);
    met_bootstrap_counts(7, 4, 50, c3);
    double s = 0, same = 1, diff = 0, zeros = 0;
    for (int i = 0; i < 50; i++) {
        s += c1[i];
        same = same && c1[i] == c2[i];
        diff += c1[i] != c3[i];
        zeros += c1[i] == 0;
    }
    CHECK(s == 50, "n draws");
    CHECK(same, "replicate depends on (seed, replicate) alone");
    CHECK(diff > 0, "replicates differ");
    CHECK(zeros > 5 && zeros < 35, "about a share 1/e of the units left out");
    double x[5] = { 5, 1, 4, 2, 3 };
    CHECK_CLOSE(met_quantile(x, 5, 0.5), 3, 0, "median");
    CHECK_CLOSE(met_quantile(x, 5, 0.025), 1.1, 1e-15, "2.5 % by linear interpolation (numpy)");
    CHECK_CLOSE(met_quantile(x, 5, 1), 5, 0, "maximum");
    double X[6] = { 1, 2, 3, 4, 5, 6 }, w[3] = { 2, 0, 1 }, o[2];
    met_weighted_rows(X, w, 3, 2, o);
    CHECK(o[0] == 7 && o[1] == 10, "weighted rows");
}

// One unit of T = 2 frames, C = 1, D = 2 and K = 2 members, every slot
// against a direct computation; a zero truth frame is refused by name; the
// estimate of two units is the plain mean of their sums and with the
// bootstrap brackets it.
static void test_unit_sums(void)
{
    met_slots s;
    met_slots_init(&s, 2, 1, 2, 2);
    CHECK(s.nslots == 2 + 1 + 3 + 2 + 2 + 3, "slot count: T rel_l2, mean, dfro/rmax/se, ens, spread, 3 means");
    double u[4] = { 3, 4, 1, 0 }, v[8] = { 3, 4, 1, 1,   0, 0, 2, 0 };
    double S[16] = { 0 }, dfro[2], rmax[2], *scr = malloc(met_unit_scratch(&s) * sizeof(double));
    eddy_err e;
    CHECK(met_unit_sums(&s, u, v, S, dfro, rmax, scr, &e) == 0, "sums");
    // member 0: frame 0 exact, frame 1 off by (0, 1) against |u| = 1; member 1: 1 and 1.
    CHECK_CLOSE(S[s.relt + 0], 0 + 1, 1e-15, "rel_l2 frame 0, both members");
    CHECK_CLOSE(S[s.relt + 1], 1 + 1, 1e-15, "rel_l2 frame 1, both members");
    CHECK_CLOSE(dfro[0], sqrt(1.0 / 26), 1e-15, "D_Fro member 0");
    CHECK_CLOSE(dfro[1], 1, 1e-15, "D_Fro member 1");
    CHECK_CLOSE(rmax[0], 0.25, 1e-15, "rel max member 0");
    CHECK_CLOSE(S[s.se], 1 + 26, 1e-15, "squared error summed");
    // ensemble mean of frame 0: (1.5, 2) against (3, 4): rel 0.5.
    CHECK_CLOSE(S[s.ens + 0], 0.5, 1e-15, "ensemble-mean error frame 0");
    CHECK_CLOSE(S[s.spread + 0], sqrt(4.5 + 8) / 5, 1e-15, "spread frame 0");
    double z[4] = { 0, 0, 1, 0 };
    CHECK(met_unit_sums(&s, z, v, S, dfro, rmax, scr, &e) != 0 && strstr(e.msg, "frame 0"), "zero truth frame named");
    free(scr);

    double S2[2 * 1] = { 1, 3 }, P[2] = { 1, 1 }, Q[2] = { 1, 2 };
    met_units U = { 2, 1, 1, 1, 2, S2, P, Q, 1 };
    size_t slot[1] = { 0 };
    double denom[1] = { 2 }, est[2], lo[2], hi[2];
    CHECK(met_units_estimate(&U, slot, denom, 1, 0, 0, est, lo, hi, &e) == 0, "estimate");
    CHECK_CLOSE(est[0], (1 + 3) / (2.0 * 2), 1e-15, "mean row");
    CHECK_CLOSE(est[1], fabs(1 - 0.75) / 1, 1e-15, "spectral error of the averages (Q over K members)");
    CHECK(met_units_estimate(&U, slot, denom, 1, 200, 7, est, lo, hi, &e) == 0, "bootstrap");
    CHECK(lo[0] <= est[0] && est[0] <= hi[0] && lo[0] >= 0.5 && hi[0] <= 1.5, "interval within the unit values");
    U.per_unit = 0;
    CHECK(met_units_estimate(&U, slot, denom, 1, 10, 7, est, lo, hi, &e) != 0, "no bootstrap on summed spectra");
}

int main(void)
{
    RUN(test_hand_cases);
    RUN(test_crps_small);
    RUN(test_crps_normal);
    RUN(test_moments);
    RUN(test_bootstrap_tools);
    RUN(test_unit_sums);
    return check_done();
}
