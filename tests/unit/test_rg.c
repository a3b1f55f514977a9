// The RG operator against its analytic statistics (lib/rg.h).
//
// Statistical checks: each per-mode estimate from R independent draws is
// turned into a z-score with its exact variance and must satisfy |z| < ZMAX.
// ZMAX = 6 has a two-sided false-alarm rate of 2.0e-9 per mode under the
// normal approximation (R ≥ 1000 makes the Gamma/chi-square sums normal to
// well under that level), so a test over ≤ 600 modes false-alarms with
// probability < 1.2e-6 for a random seed.  The seeds are fixed, so a run is
// deterministic; the rate says how unlikely a pass-to-fail flip on a seed
// change is.
#include <fftw3.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "check.h"
#include "rg.h"

#define ZMAX 6.0

static rg_op *make_op(int ndim, int ny, int nx, double L, rg_laplacian lap)
{
    rg_grid g = { ndim, { ndim == 2 ? ny : nx, nx }, { L, L }, lap };
    eddy_err e;
    rg_op *op = rg_op_new(&g, &e);
    if (!op) printf("# rg_op_new: %s\n", e.msg);
    return op;
}

// Orthonormal DFT coefficient of a 1-D or 2-D real field at integer mode
// (ny, nx), computed directly (O(D) per mode) — independent of FFTW.
static void dft_mode(const double *u, int ndim, int Ny, int Nx, int my, int mx, double *re, double *im)
{
    double sr = 0, si = 0;
    int ny = ndim == 2 ? Ny : 1;
    for (int y = 0; y < ny; y++)
        for (int x = 0; x < Nx; x++) {
            double ph = -2 * M_PI * ((double)mx * x / Nx + (ndim == 2 ? (double)my * y / Ny : 0.0));
            sr += u[y * Nx + x] * cos(ph);
            si += u[y * Nx + x] * sin(ph);
        }
    double s = 1.0 / sqrt((double)Nx * ny);
    *re = sr * s;
    *im = si * s;
}

// A single Fourier mode is multiplied exactly by exp(−α|k|²λ), for both
// symbols, in 1-D and 2-D, and on a domain of length L ≠ 2π.
static void test_single_mode(void)
{
    const double alpha = 0.3, lam = 0.7;
    rg_params p = { alpha, 1.0, lam, 0.0 };
    for (int lap = 0; lap < 2; lap++) {
        for (int ndim = 1; ndim <= 2; ndim++) {
            int N = 32;
            double L = ndim == 1 ? 2 * M_PI : 5.0;
            rg_op *op = make_op(ndim, N, N, L, (rg_laplacian)lap);
            CHECK(op, "op");
            if (!op) return;
            int nx = 3, ny = ndim == 2 ? -5 : 0;
            size_t D = rg_npoints(op);
            double *u = malloc(D * sizeof *u);
            double h = L / N;
            for (size_t i = 0; i < D; i++) {
                int x = (int)(i % N), y = (int)(i / N);
                u[i] = cos(2 * M_PI * (nx * x + ny * y) / (double)N) + 0.25;
            }
            eddy_err e;
            CHECK(rg_apply(op, &p, u, 1, 1, NULL, &e) == 0, "apply: %s", e.msg);
            double ksq;
            if (lap == RG_LAP_SPECTRAL) {
                double kx = 2 * M_PI * nx / L, ky = 2 * M_PI * ny / L;
                ksq = kx * kx + ky * ky;
            } else {
                double sx = sin(M_PI * nx / N), sy = sin(M_PI * ny / N);
                ksq = 4 * (sx * sx + sy * sy) / (h * h);
            }
            double f = exp(-alpha * ksq * lam), maxerr = 0;
            for (size_t i = 0; i < D; i++) {
                int x = (int)(i % N), y = (int)(i / N);
                double want = f * cos(2 * M_PI * (nx * x + ny * y) / (double)N) + 0.25;
                maxerr = fmax(maxerr, fabs(u[i] - want));
            }
            CHECK(maxerr < 1e-13, "lap %d ndim %d: max error %.3g (factor %.6g)", lap, ndim, maxerr, f);
            free(u);
            rg_op_free(op);
        }
    }
}

// The symbol tables agree with the definitions, mode by mode.
static void test_ksq_table(void)
{
    rg_op *op = make_op(2, 6, 8, 3.0, RG_LAP_SPECTRAL);
    const double *k = rg_ksq(op);
    CHECK(rg_nmodes(op) == 6 * 5, "nmodes %zu", rg_nmodes(op));
    // row 4 of Ny = 6 is n_y = −2; column 3 is n_x = 3
    double want = pow(2 * M_PI / 3.0, 2) * (4 + 9);
    CHECK_CLOSE(k[4 * 5 + 3], want, 1e-12, "ksq(-2, 3)");
    const double *w = rg_mode_weight(op);
    double sum = 0;
    for (size_t m = 0; m < rg_nmodes(op); m++) sum += w[m];
    CHECK_CLOSE(sum, 48, 0, "weights cover the full spectrum");
    rg_op_free(op);
}

// Noise alone (u0 = 0): per-mode variance of the orthonormal DFT equals
// Σ_λ(k).  For a complex mode |ŵ|²/Σ ~ Exp(1) (variance 1); for a
// self-conjugate mode (k = 0, Nyquist) ŵ is real and |ŵ|²/Σ ~ χ²₁ (variance 2).
static void noise_variance_case(int ndim, int N, rg_laplacian lap, int R)
{
    rg_op *op = make_op(ndim, N, N, 2 * M_PI, lap);
    rg_params p = { 0.3, sqrt(6.0), 0.2, 0.0 };
    size_t D = rg_npoints(op), M = rg_nmodes(op);
    int hx = N / 2 + 1, ny = ndim == 2 ? N : 1;
    double *u = fftw_malloc(D * sizeof *u);
    fftw_complex *U = fftw_malloc(M * sizeof *U);
    fftw_plan pl = ndim == 1 ? fftw_plan_dft_r2c_1d(N, u, U, FFTW_ESTIMATE)
                             : fftw_plan_dft_r2c_2d(N, N, u, U, FFTW_ESTIMATE);
    double *acc = calloc(M, sizeof *acc);
    double pointvar = 0, maxmean = 0;
    eddy_err e;
    for (int r = 0; r < R; r++) {
        memset(u, 0, D * sizeof *u);
        rg_noise key = { 42, 7, (uint64_t)r, RG_PURPOSE };
        if (rg_apply(op, &p, u, 1, 1, &key, &e)) { CHECK(0, "%s", e.msg); break; }
        double mean = 0;
        for (size_t i = 0; i < D; i++) { pointvar += u[i] * u[i]; mean += u[i]; }
        maxmean = fmax(maxmean, fabs(mean / D));
        fftw_execute(pl);
        for (size_t m = 0; m < M; m++) acc[m] += (U[m][0] * U[m][0] + U[m][1] * U[m][1]) / D;
    }
    double zworst = 0;
    for (int i = 0; i < ny; i++)
        for (int j = 0; j < hx; j++) {
            size_t m = (size_t)i * hx + j;
            if (m == 0) continue;
            double S = rg_Sigma(&p, rg_ksq(op)[m]);
            int selfconj = (j == 0 || j == N / 2) && (ndim == 1 || i == 0 || i == N / 2);
            double v = selfconj ? 2.0 : 1.0;
            double z = (acc[m] / R / S - 1.0) / sqrt(v / R);
            if (fabs(z) > fabs(zworst)) zworst = z;
            CHECK(fabs(z) < ZMAX, "ndim %d mode (%d,%d): var %.6g vs Sigma %.6g, z = %.2f", ndim, i, j,
                  acc[m] / R, S, z);
        }
    CHECK(maxmean < 1e-14, "k = 0 of the noise: mean %.3g", maxmean);
    // Per-point variance: D·R samples (correlated within a field, so only
    // a loose 5% check; the per-mode test above is the sharp one).
    double tr = rg_trace_per_point(op, &p);
    CHECK_REL(pointvar / ((double)D * R), tr, 0.05, "per-point variance = tr(Sigma)/D");
    NOTE("ndim %d lap %d: worst per-mode z = %.2f over %zu modes, R = %d; point var %.5g vs %.5g", ndim,
         (int)lap, zworst, M - 1, R, pointvar / ((double)D * R), tr);
    fftw_destroy_plan(pl);
    fftw_free(u);
    fftw_free(U);
    free(acc);
    rg_op_free(op);
}

static void test_noise_variance(void)
{
    noise_variance_case(1, 64, RG_LAP_SPECTRAL, 4000);
    noise_variance_case(1, 64, RG_LAP_FD, 4000);
    noise_variance_case(2, 16, RG_LAP_SPECTRAL, 2000);
}

// Semigroup: λ₁ then λ₂ equals λ₁ + λ₂.  Means (deterministic parts) agree
// to rounding; the algebraic identity C_{λ₂}²Σ_{λ₁} + Σ_{λ₂} = Σ_{λ₁+λ₂}
// holds per mode; the per-mode variance of the two-step noise matches
// Σ_{λ₁+λ₂} statistically, and its sample mean matches C_{λ₁+λ₂} û₀.
static void test_semigroup(void)
{
    int N = 32, R = 3000;
    rg_op *op = make_op(1, N, N, 2 * M_PI, RG_LAP_SPECTRAL);
    size_t M = rg_nmodes(op);
    rg_params p1 = { 0.1, sqrt(2.0), 0.05, 0.0 }, p2 = p1, p12 = p1;
    p2.lambda = 0.12;
    p12.lambda = 0.17;
    double u0[32], a[32], b[32];
    for (int i = 0; i < N; i++) u0[i] = sin(2 * M_PI * i / N) + 0.5 * cos(6 * M_PI * i / N + 0.3) + 0.1 * (i % 5);
    eddy_err e;
    memcpy(a, u0, sizeof a);
    memcpy(b, u0, sizeof b);
    CHECK(!rg_apply(op, &p1, a, 1, 1, NULL, &e) && !rg_apply(op, &p2, a, 1, 1, NULL, &e), "apply");
    CHECK(!rg_apply(op, &p12, b, 1, 1, NULL, &e), "apply");
    double maxerr = 0;
    for (int i = 0; i < N; i++) maxerr = fmax(maxerr, fabs(a[i] - b[i]));
    CHECK(maxerr < 1e-14, "means: max |two-step - one-step| = %.3g", maxerr);

    for (size_t m = 1; m < M; m++) {
        double k = rg_ksq(op)[m], c2 = rg_C(&p2, k);
        CHECK_REL(c2 * c2 * rg_Sigma(&p1, k) + rg_Sigma(&p2, k), rg_Sigma(&p12, k), 1e-13, "Sigma composition");
        CHECK_REL(rg_C(&p1, k) * rg_C(&p2, k), rg_C(&p12, k), 1e-14, "C composition");
    }

    double *sum_re = calloc(M, sizeof(double)), *sum_im = calloc(M, sizeof(double));
    double *sum2 = calloc(M, sizeof(double));
    double mre[17], mim[17];
    for (size_t m = 0; m < M; m++) dft_mode(b, 1, 1, N, 0, (int)m, &mre[m], &mim[m]);
    for (int r = 0; r < R; r++) {
        memcpy(a, u0, sizeof a);
        rg_noise k1 = { 9, (uint64_t)r, 0, RG_PURPOSE }, k2 = { 9, (uint64_t)r, 1, RG_PURPOSE };
        rg_apply(op, &p1, a, 1, 1, &k1, &e);
        rg_apply(op, &p2, a, 1, 1, &k2, &e);
        for (size_t m = 1; m < M; m++) {
            double re, im;
            dft_mode(a, 1, 1, N, 0, (int)m, &re, &im);
            sum_re[m] += re;
            sum_im[m] += im;
            sum2[m] += (re - mre[m]) * (re - mre[m]) + (im - mim[m]) * (im - mim[m]);
        }
    }
    double zw = 0;
    for (size_t m = 1; m < M; m++) {
        double S = rg_Sigma(&p12, rg_ksq(op)[m]);
        int selfconj = m == (size_t)N / 2;
        double v = selfconj ? 2.0 : 1.0;
        double z = (sum2[m] / R / S - 1.0) / sqrt(v / R);
        CHECK(fabs(z) < ZMAX, "variance mode %zu: %.5g vs %.5g (z %.2f)", m, sum2[m] / R, S, z);
        // Sample mean of the real part: variance S/2 (complex) or S (real) per draw.
        double vre = selfconj ? S : S / 2;
        double zre = (sum_re[m] / R - mre[m]) / sqrt(vre / R);
        CHECK(fabs(zre) < ZMAX, "mean mode %zu: z %.2f", m, zre);
        if (!selfconj) {
            double zim = (sum_im[m] / R - mim[m]) / sqrt(vre / R);
            CHECK(fabs(zim) < ZMAX, "mean mode %zu (imag): z %.2f", m, zim);
        }
        if (fabs(z) > fabs(zw)) zw = z;
    }
    NOTE("semigroup: worst variance z = %.2f over %zu modes, R = %d", zw, M - 1, R);
    free(sum_re); free(sum_im); free(sum2);
    rg_op_free(op);
}

// k = 0 untouched: the mean survives noise and damping to rounding.
static void test_mean_untouched(void)
{
    rg_op *op = make_op(2, 12, 10, 2 * M_PI, RG_LAP_FD);
    size_t D = rg_npoints(op);
    double *u = malloc(3 * D * sizeof *u);
    for (size_t i = 0; i < 3 * D; i++) u[i] = 0.7 + (i / D) + sin(0.37 * i) * 2;
    double mean0[3] = { 0 }, mean1[3] = { 0 };
    for (int c = 0; c < 3; c++)
        for (size_t i = 0; i < D; i++) mean0[c] += u[c * D + i] / D;
    rg_params p = { 0.3, sqrt(6.0), 0.9, RG_LAMBDA_FLOOR };
    rg_noise key = { 1, 2, 3, RG_PURPOSE };
    eddy_err e;
    CHECK(rg_apply(op, &p, u, 1, 3, &key, &e) == 0, "%s", e.msg);
    for (int c = 0; c < 3; c++) {
        for (size_t i = 0; i < D; i++) mean1[c] += u[c * D + i] / D;
        CHECK_CLOSE(mean1[c], mean0[c], 1e-13, "channel mean");
    }
    free(u);
    rg_op_free(op);
}

// λ = 0 without noise is the identity, bit for bit; with α = 0 too.
static void test_identity(void)
{
    rg_op *op = make_op(1, 50, 50, 2 * M_PI, RG_LAP_SPECTRAL);
    double u[100], v[100];
    float uf[100], vf[100];
    for (int i = 0; i < 100; i++) uf[i] = (float)(u[i] = cos(i * 1.3) * 1e3 + i);
    memcpy(v, u, sizeof u);
    memcpy(vf, uf, sizeof uf);
    rg_params p = { 0.3, 2.0, 0.0, RG_LAMBDA_FLOOR };
    eddy_err e;
    CHECK(!rg_apply(op, &p, v, 2, 1, NULL, &e) && !memcmp(u, v, sizeof u), "lambda 0 double");
    CHECK(!rg_apply_f(op, &p, vf, 1, 2, NULL, &e) && !memcmp(uf, vf, sizeof uf), "lambda 0 float");
    p.lambda = 0.5;
    p.alpha = 0;
    CHECK(!rg_apply(op, &p, v, 2, 1, NULL, &e) && !memcmp(u, v, sizeof u), "alpha 0");
    rg_op_free(op);
}

// tr(Σ_λ)/D against a direct sum over the full spectrum, the floor, σ², and
// the PDD reference code's var_t (its printed table: FD symbol, β² = 2,
// k = 0 included there as β²λ) to the table's 3 significant figures.
static double direct_trace(int ndim, int N, double L, int fd, const rg_params *p)
{
    double s = 0, h = L / N;
    int ny = ndim == 2 ? N : 1;
    for (int i = 0; i < ny; i++)
        for (int j = 0; j < N; j++) {
            if (i == 0 && j == 0) continue;
            double ks = 0;
            int n[2] = { i, j };
            for (int a = 2 - ndim; a < 2; a++) {
                int m = n[a] <= N / 2 ? n[a] : n[a] - N;
                ks += fd ? 4 * pow(sin(M_PI * m / N), 2) / (h * h) : pow(2 * M_PI * m / L, 2);
            }
            double lam = fmax(p->lambda, p->lambda_floor);
            s += p->beta * p->beta * (1 - exp(-2 * p->alpha * ks * lam)) / (2 * p->alpha * ks);
        }
    return s / ((double)ny * N);
}

static void test_sigma(void)
{
    rg_params p = { 0.1, sqrt(2.0), 0.37, RG_LAMBDA_FLOOR };
    for (int ndim = 1; ndim <= 2; ndim++)
        for (int fd = 0; fd < 2; fd++) {
            int N = ndim == 1 ? 33 : 20;
            rg_op *op = make_op(ndim, N, N, 3.0, fd ? RG_LAP_FD : RG_LAP_SPECTRAL);
            CHECK_REL(rg_trace_per_point(op, &p), direct_trace(ndim, N, 3.0, fd, &p), 1e-12, "trace");
            CHECK_REL(rg_sigma2(op, &p, 0.05), rg_trace_per_point(op, &p) / 0.05, 1e-15, "sigma2");
            rg_params p0 = p, pf = p;
            p0.lambda = 0;
            pf.lambda = RG_LAMBDA_FLOOR;
            CHECK(rg_trace_per_point(op, &p0) > 0, "floor keeps sigma positive at lambda 0");
            CHECK_REL(rg_trace_per_point(op, &p0), rg_trace_per_point(op, &pf), 1e-15, "floor");
            rg_op_free(op);
        }
    const double lams[5] = { 0.001, 0.01, 0.1, 0.2, 0.999 };
    const double l96[5] = { 0.00185, 0.0113, 0.0389, 0.0552, 0.124 };
    const double kf[5] = { 0.00191, 0.0132, 0.0319, 0.0366, 0.0473 };
    rg_op *o1 = make_op(1, 128, 128, 2 * M_PI, RG_LAP_FD), *o2 = make_op(2, 40, 40, 2 * M_PI, RG_LAP_FD);
    for (int i = 0; i < 5; i++) {
        rg_params a = { 0.1, sqrt(2.0), lams[i], RG_LAMBDA_FLOOR }, b = { 0.3, sqrt(2.0), lams[i], RG_LAMBDA_FLOOR };
        double v1 = rg_trace_per_point(o1, &a) + 2.0 * lams[i] / 128;
        double v2 = rg_trace_per_point(o2, &b) + 2.0 * lams[i] / 1600;
        CHECK_REL(v1, l96[i], 0.005, "L96 var_t vs reference table");
        CHECK_REL(v2, kf[i], 0.005, "KF var_t vs reference table");
    }
    rg_op_free(o1);
    rg_op_free(o2);
}

// Reproducibility: the same bytes at 1 and 2 threads, frames batched or one
// by one, keyed noise equal to rg_apply_eps with rg_noise_fill's noise, and
// rg_multiply with the C table equal to the deterministic apply.  The float
// path agrees with the double path to float rounding.
static void test_reproducible(void)
{
    // Large enough (≥ 2^20 points) for rg_apply to use threads at all.
    int N = 64, F = 128, C = 2;
    rg_op *op = make_op(2, N, N, 2 * M_PI, RG_LAP_SPECTRAL);
    size_t D = rg_npoints(op), n = (size_t)F * C * D;
    double *u0 = malloc(n * sizeof(double)), *a = malloc(n * sizeof(double)), *b = malloc(n * sizeof(double));
    float *fa = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) u0[i] = sin(0.01 * i * i) + cos(0.3 * i);
    rg_params p = { 0.3, sqrt(6.0), 0.25, RG_LAMBDA_FLOOR };
    rg_noise key = { 5, 3, 10, RG_PURPOSE };
    eddy_err e;
    memcpy(a, u0, n * sizeof(double));
    omp_set_num_threads(1);
    rg_apply(op, &p, a, F, C, &key, &e);
    omp_set_num_threads(2);
    memcpy(b, u0, n * sizeof(double));
    rg_apply(op, &p, b, F, C, &key, &e);
    CHECK(!memcmp(a, b, n * sizeof(double)), "1 vs 2 threads");
    memcpy(b, u0, n * sizeof(double));
    for (int f = 0; f < F; f++) {
        rg_noise k1 = key;
        k1.frame0 = key.frame0 + f;
        rg_apply(op, &p, b + (size_t)f * C * D, 1, C, &k1, &e);
    }
    CHECK(!memcmp(a, b, n * sizeof(double)), "batched vs frame by frame");
    double *eps = malloc(n * sizeof(double));
    for (int f = 0; f < F; f++) rg_noise_fill(&key, f, eps + (size_t)f * C * D, C * D);
    memcpy(b, u0, n * sizeof(double));
    rg_apply_eps(op, &p, b, eps, (size_t)F * C, &e);
    CHECK(!memcmp(a, b, n * sizeof(double)), "rg_apply_eps with rg_noise_fill");
    for (size_t i = 0; i < n; i++) fa[i] = (float)u0[i];
    rg_apply_f(op, &p, fa, F, C, &key, &e);
    double maxerr = 0;
    for (size_t i = 0; i < n; i++) maxerr = fmax(maxerr, fabs(fa[i] - a[i]));
    CHECK(maxerr < 1e-5, "float vs double: %.3g", maxerr);

    size_t M = rg_nmodes(op);
    double *m = malloc(M * sizeof(double));
    for (size_t k = 0; k < M; k++) m[k] = rg_C(&p, rg_ksq(op)[k]);
    memcpy(a, u0, n * sizeof(double));
    memcpy(b, u0, n * sizeof(double));
    rg_apply(op, &p, a, F, C, NULL, &e);
    rg_multiply(op, m, b, (size_t)F * C, &e);
    CHECK(!memcmp(a, b, n * sizeof(double)), "rg_multiply with C equals deterministic apply");
    free(m); free(eps); free(u0); free(a); free(b); free(fa);
    rg_op_free(op);
}

static void test_errors(void)
{
    eddy_err e;
    rg_grid g = { 3, { 8, 8 }, { 1, 1 }, RG_LAP_SPECTRAL };
    CHECK(rg_op_new(&g, &e) == NULL && strstr(e.msg, "dimensions"), "ndim 3: %s", e.msg);
    g.ndim = 1;
    g.L[0] = -1;
    CHECK(rg_op_new(&g, &e) == NULL && strstr(e.msg, "length"), "L < 0: %s", e.msg);
    rg_op *op = make_op(1, 8, 8, 1, RG_LAP_FD);
    double u[8] = { 0 };
    rg_params p = { -1, 1, 0.1, 0 };
    CHECK(rg_apply(op, &p, u, 1, 1, NULL, &e) == -1 && strstr(e.msg, "alpha"), "alpha < 0: %s", e.msg);
    p.alpha = 1;
    p.lambda = NAN;
    CHECK(rg_apply(op, &p, u, 1, 1, NULL, &e) == -1 && strstr(e.msg, "lambda"), "lambda NaN: %s", e.msg);
    rg_op_free(op);
}

int main(void)
{
    RUN(test_single_mode);
    RUN(test_ksq_table);
    RUN(test_noise_variance);
    RUN(test_semigroup);
    RUN(test_mean_untouched);
    RUN(test_identity);
    RUN(test_sigma);
    RUN(test_reproducible);
    RUN(test_errors);
    return check_done();
}
