#include "metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

void met_acc_add(met_acc *a, const double *u, const double *v, size_t n)
{
    double d2 = 0, r2 = 0, dm = a->diffmax, rm = a->refmax;
    for (size_t i = 0; i < n; i++) {
        double d = u[i] - v[i];
        d2 += d * d;
        r2 += u[i] * u[i];
        if (fabs(d) > dm || isnan(d)) dm = isnan(d) ? NAN : fabs(d);
        if (fabs(u[i]) > rm) rm = fabs(u[i]);
    }
    a->diff2 += d2;
    a->ref2 += r2;
    a->diffmax = dm;
    a->refmax = rm;
}

double met_acc_rel_l2(const met_acc *a) { return a->ref2 > 0 ? sqrt(a->diff2 / a->ref2) : NAN; }
double met_acc_rel_max(const met_acc *a) { return a->refmax > 0 ? a->diffmax / a->refmax : NAN; }

double met_rel_l2(const double *u, const double *v, size_t n)
{
    met_acc a = { 0 };
    met_acc_add(&a, u, v, n);
    return met_acc_rel_l2(&a);
}

double met_rel_max(const double *u, const double *v, size_t n)
{
    met_acc a = { 0 };
    met_acc_add(&a, u, v, n);
    return met_acc_rel_max(&a);
}

double met_spec_err(const double *P, const double *Q, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += fabs(P[i] - Q[i]);
        den += fabs(P[i]);
    }
    return den > 0 ? num / den : NAN;
}

void met_ens_mean(const double *ens, int K, size_t n, double *mean)
{
    for (size_t i = 0; i < n; i++) mean[i] = 0;
    for (int k = 0; k < K; k++)
        for (size_t i = 0; i < n; i++) mean[i] += ens[(size_t)k * n + i];
    for (size_t i = 0; i < n; i++) mean[i] /= K;
}

double met_ens_var_sum(const double *ens, int K, size_t n, const double *mean)
{
    if (K < 2) return 0;
    double s = 0;
    for (int k = 0; k < K; k++)
        for (size_t i = 0; i < n; i++) {
            double d = ens[(size_t)k * n + i] - mean[i];
            s += d * d;
        }
    return s / (K - 1);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double met_crps_sum(const double *ens, int K, const double *y, size_t n, double *work)
{
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        double mae = 0;
        for (int k = 0; k < K; k++) {
            work[k] = ens[(size_t)k * n + i];
            mae += fabs(work[k] - y[i]);
        }
        // Σ_{j<k} |x_j − x_k| over sorted members is Σ_k x_(k)(2k − K + 1):
        // O(K log K) instead of O(K²).
        qsort(work, (size_t)K, sizeof(double), cmp_double);
        double pair = 0;
        for (int k = 0; k < K; k++) pair += work[k] * (2.0 * k - K + 1);
        total += mae / K - pair / ((double)K * K);
    }
    return total;
}

void met_moments_add(met_moments *m, const double *u, size_t n)
{
    if (n == 0) return;
    double mb = 0, m2b = 0;
    for (size_t i = 0; i < n; i++) mb += u[i];
    mb /= (double)n;
    for (size_t i = 0; i < n; i++) m2b += (u[i] - mb) * (u[i] - mb);
    double na = m->n, nb = (double)n, nt = na + nb, d = mb - m->mean;
    m->mean += d * nb / nt;
    m->m2 += m2b + d * d * na * nb / nt;
    m->n = nt;
}

double met_moments_std(const met_moments *m) { return m->n > 0 ? sqrt(m->m2 / m->n) : NAN; }

void met_bootstrap_counts(unsigned long long seed, unsigned long long replicate, size_t n, double *counts)
{
    eddy_rng r;
    // The last key word keeps these streams apart from any sampler's.
    rng_init(&r, seed, replicate, 0, 0x626f6f74 /* "boot" */);
    for (size_t i = 0; i < n; i++) counts[i] = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = (size_t)(rng_uniform(&r) * (double)n);
        counts[j < n ? j : n - 1] += 1;
    }
}

double met_quantile(double *x, size_t n, double p)
{
    if (n == 0) return NAN;
    qsort(x, n, sizeof(double), cmp_double);
    double h = p * (double)(n - 1);
    size_t i = (size_t)floor(h);
    if (i + 1 >= n) return x[n - 1];
    return x[i] + (h - (double)i) * (x[i + 1] - x[i]);
}

void met_weighted_rows(const double *X, const double *w, size_t n, size_t m, double *out)
{
    memset(out, 0, m * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        if (w[i] == 0) continue;
        const double *x = X + i * m;
        for (size_t j = 0; j < m; j++) out[j] += w[i] * x[j];
    }
}

void met_slots_init(met_slots *s, size_t T, size_t C, size_t D, size_t K)
{
    memset(s, 0, sizeof *s);
    s->T = T, s->C = C, s->D = D, s->K = K;
    size_t sl = 0;
    s->relt = sl; sl += T;
    s->relm = sl; sl += 1;
    s->relct = sl; sl += C > 1 ? C * T : 0;
    s->relcm = sl; sl += C > 1 ? C : 0;
    s->dfro = sl++; s->rmax = sl++; s->se = sl++;
    if (K > 1) {
        s->ens = sl; sl += T;
        s->spread = sl; sl += T;
        s->ensm = sl++; s->spreadm = sl++; s->crps = sl++;
    }
    s->nslots = sl;
}

size_t met_unit_scratch(const met_slots *s) { return s->K * s->C * s->D + s->C * s->D + s->K; }

int met_unit_sums(const met_slots *s, const double *u, const double *v, double *S, double *dfro, double *rmax,
                  double *scratch, eddy_err *e)
{
    size_t T = s->T, C = s->C, D = s->D, K = s->K, fd = C * D;
    for (size_t k = 0; k < K; k++) {
        const double *w = v + k * T * fd;
        met_acc whole = { 0 };
        for (size_t t = 0; t < T; t++) {
            met_acc fr = { 0 };
            met_acc_add(&fr, u + t * fd, w + t * fd, fd);
            double r = met_acc_rel_l2(&fr);
            if (isnan(r)) return eddy_fail(e, "frame %zu is identically zero: relative L2 undefined", t);
            S[s->relt + t] += r;
            S[s->relm] += r / (double)T;
            if (C > 1)
                for (size_t c = 0; c < C; c++) {
                    double rc = met_rel_l2(u + t * fd + c * D, w + t * fd + c * D, D);
                    if (isnan(rc))
                        return eddy_fail(e, "frame %zu channel %zu is identically zero: relative L2 undefined", t, c);
                    S[s->relct + c * T + t] += rc;
                    S[s->relcm + c] += rc / (double)T;
                }
            met_acc_add(&whole, u + t * fd, w + t * fd, fd);
        }
        S[s->dfro] += dfro[k] = met_acc_rel_l2(&whole);
        S[s->rmax] += rmax[k] = met_acc_rel_max(&whole);
        S[s->se] += whole.diff2;
    }
    if (K > 1) {
        double *ens = scratch, *mean = ens + K * fd, *work = mean + fd;
        for (size_t t = 0; t < T; t++) {
            for (size_t k = 0; k < K; k++) memcpy(ens + k * fd, v + (k * T + t) * fd, fd * sizeof(double));
            met_ens_mean(ens, (int)K, fd, mean);
            double ref = 0;
            for (size_t i = 0; i < fd; i++) ref += u[t * fd + i] * u[t * fd + i];
            double er = met_rel_l2(u + t * fd, mean, fd), sp = sqrt(met_ens_var_sum(ens, (int)K, fd, mean) / ref);
            S[s->ens + t] += er;
            S[s->spread + t] += sp;
            S[s->ensm] += er / (double)T;
            S[s->spreadm] += sp / (double)T;
            S[s->crps] += met_crps_sum(ens, (int)K, u + t * fd, fd, work);
        }
    }
    return 0;
}

// One replicate with unit weights w (Pbar, Qbar (C, nspec) and sums (nslots)
// scratch).
static void units_eval(const met_units *U, const size_t *slot, const double *denom, size_t nrows, const double *w,
                       double *Pbar, double *Qbar, double *sums, double *out)
{
    double wt = 0;
    for (size_t u = 0; u < U->n; u++) wt += w[u];
    met_weighted_rows(U->S, w, U->n, U->nslots, sums);
    for (size_t r = 0; r < nrows; r++) out[r] = sums[slot[r]] / (wt * denom[r]);
    size_t m = U->C * U->nspec;
    if (U->per_unit) {
        met_weighted_rows(U->P, w, U->n, m, Pbar);
        met_weighted_rows(U->Q, w, U->n, m, Qbar);
    } else {
        memcpy(Pbar, U->P, m * sizeof(double));
        memcpy(Qbar, U->Q, m * sizeof(double));
    }
    // Q sums K members per unit: the same division for both leaves the
    // relative difference that of the two averages.
    for (size_t i = 0; i < m; i++) Qbar[i] /= (double)U->K;
    for (size_t c = 0; c < U->C; c++)
        out[nrows + c] = met_spec_err(Pbar + c * U->nspec, Qbar + c * U->nspec, U->nspec);
}

int met_units_estimate(const met_units *U, const size_t *slot, const double *denom, size_t nrows, long nboot,
                       unsigned long long seed, double *est, double *lo, double *hi, eddy_err *e)
{
    size_t nv = nrows + U->C, ms = U->C * U->nspec;
    if (nboot > 0 && !U->per_unit) return eddy_fail(e, "a bootstrap needs the spectra of every unit");
    double *Pbar = malloc(ms * sizeof(double)), *Qbar = malloc(ms * sizeof(double));
    double *sums = malloc(U->nslots * sizeof(double)), *w = malloc(U->n * sizeof(double));
    double *rep = nboot > 0 ? malloc((size_t)nboot * nv * sizeof(double)) : NULL;
    double *col = nboot > 0 ? malloc((size_t)nboot * sizeof(double)) : NULL;
    int rc = 0;
    if (!Pbar || !Qbar || !sums || !w || (nboot > 0 && (!rep || !col))) {
        rc = eddy_fail(e, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < U->n; i++) w[i] = 1;
    units_eval(U, slot, denom, nrows, w, Pbar, Qbar, sums, est);
    for (long b = 0; b < nboot; b++) {
        met_bootstrap_counts(seed, (unsigned long long)b, U->n, w);
        units_eval(U, slot, denom, nrows, w, Pbar, Qbar, sums, rep + (size_t)b * nv);
    }
    for (size_t j = 0; nboot > 0 && j < nv; j++) {
        for (long b = 0; b < nboot; b++) col[b] = rep[(size_t)b * nv + j];
        lo[j] = met_quantile(col, (size_t)nboot, 0.025);
        hi[j] = met_quantile(col, (size_t)nboot, 0.975);
    }
done:
    free(Pbar); free(Qbar); free(sums); free(w); free(rep); free(col);
    return rc;
}

void met_standardize(double *x, size_t n, double mean, double sd)
{
    for (size_t i = 0; i < n; i++) x[i] = (x[i] - mean) / sd;
}
